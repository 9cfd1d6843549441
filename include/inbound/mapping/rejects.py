"""Rejected rows: their report shape (`REJECT_COLUMNS`), their reasons, and the fixed kinds
(`REJECT_KINDS`) that lineage, metrics and results group them by.

Each kind is recognised by how its reason begins, so the reason text may name lines and counts.
"""

from __future__ import annotations

import polars as pl

USER_ID = "user_id"  # the attribute set's (and the store's) user column


REJECT_COLUMNS = {"line": pl.Int64, USER_ID: pl.String, "column": pl.String, "value": pl.String, "reason": pl.String}


DUPLICATE_LINES_SHOWN = 10  # a reason names at most this many of a repeated user ID's lines


# Why a row was rejected, as a fixed word (the reason text names lines and counts): what
# lineage and metrics group rejected rows by. Each is recognised by how its reason begins.
EMPTY_ID_REASON = "empty user ID"


DUPLICATE_START = "user ID appears "


RAGGED_START = "row has "


LONG_START = "value longer than "


REJECT_KINDS = ("empty_user_id", "duplicate_user_id", "wrong_field_count", "value_too_long", "invalid_value")


def reject_kind(reason: pl.Expr) -> pl.Expr:
    """The kind (`REJECT_KINDS`) of each rejected row, from its reason; a type misfit is `invalid_value`."""
    return (
        pl.when(reason == EMPTY_ID_REASON)
        .then(pl.lit("empty_user_id"))
        .when(reason.str.starts_with(DUPLICATE_START))
        .then(pl.lit("duplicate_user_id"))
        .when(reason.str.starts_with(LONG_START))
        .then(pl.lit("value_too_long"))
        .when(reason.str.starts_with(RAGGED_START))
        .then(pl.lit("wrong_field_count"))
        .otherwise(pl.lit("invalid_value"))
    )


def rejected_by_kind(rejects: pl.LazyFrame) -> list[tuple[str, str | None, int]]:
    """Rejected rows per (kind, column), in a fixed order: a row rejected twice counts in both."""
    counts = (
        rejects.group_by(reject_kind(pl.col("reason")).alias("kind"), pl.col("column"))
        .agg(pl.col("line").n_unique().alias("rows"))
        .sort("kind", "column", nulls_last=False)
        .collect()
    )
    return [(str(k), c, int(n)) for k, c, n in counts.iter_rows()]


LINES_SHOWN = 20  # line numbers per (kind, column) in a result: enough to find the rows, bounded for XCom


def rejected_lines(
    rejects: pl.LazyFrame, limit: int = LINES_SHOWN
) -> list[tuple[str, str | None, int, tuple[int, ...]]]:
    """`rejected_by_kind` with the first `limit` line numbers of each group: where to look, never the values."""
    groups = (
        rejects.group_by(reject_kind(pl.col("reason")).alias("kind"), pl.col("column"))
        .agg(pl.col("line").n_unique().alias("rows"), pl.col("line").unique().sort().head(limit).alias("lines"))
        .sort("kind", "column", nulls_last=False)
        .collect()
    )
    return [(str(k), c, int(n), tuple(int(x) for x in lines)) for k, c, n, lines in groups.iter_rows()]


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_COLUMNS)


def duplicate_reason(user_id: str, line: str) -> pl.Expr:
    """Why each row of a repeated user ID is rejected: how often it appears, and (the first few of) its lines."""
    lines = pl.col(line).sort().cast(pl.String)
    times = pl.len().over(user_id)
    return pl.format(
        DUPLICATE_START + "{} times in the file (lines {}{}); all its rows are rejected",
        times,
        lines.head(DUPLICATE_LINES_SHOWN).str.join(", ").over(user_id),
        pl.when(times > DUPLICATE_LINES_SHOWN).then(pl.lit(", ...")).otherwise(pl.lit("")),
    )
