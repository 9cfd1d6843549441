"""What a file changes in the store, computed in polars before anything is written.

The store keeps one table per integration with one row per user: a text column per
attribute (canonical text), the import that last changed the row, and, for values set
by an earlier import, that import's id (per-value lineage, JSON). Comparing the
file with the integration's current rows here, vectorized, means the database only ever
receives the rows that change: an unchanged re-import writes nothing, a 1% change writes
1% of the rows. The same code serves `preview` (dry run) and the real write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import polars as pl


class ChangedUser(TypedDict):
    """One user a preview shows: per changed attribute, [old, new] canonical text (None: no value)."""

    user_id: str
    changes: dict[str, list[str | None]]


def state_schema(names: list[str]) -> dict[str, pl.DataType]:
    """The columns of an integration's current rows, as the backends hand them over.

    The bookkeeping columns start with "_", which no attribute name can (an attribute may be
    called `lineage` or `import_id`).
    """
    return {
        "user_id": pl.String(),
        "_import_id": pl.Int64(),
        "_lineage": pl.String(),
        **{n: pl.String() for n in names},
    }


def state_frame(rows: Sequence[Sequence[object]], names: list[str]) -> pl.DataFrame:
    """An integration's current rows (user_id, _import_id, _lineage, a column per name) as a frame."""
    return pl.DataFrame(rows, schema=state_schema(names), orient="row")


def widen(state: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """`state` with an empty column for each name it lacks (an attribute new, or re-typed, in this file)."""
    return state.with_columns(pl.lit(None, pl.String).alias(n) for n in names if n not in state.columns)


def pivot_v1(rows: Sequence[Sequence[object]], names: list[str]) -> pl.DataFrame:
    """Schema v1's rows (user_id, attribute, value) as one row per user with a column per name."""
    long = pl.DataFrame(rows, schema=["user_id", "attribute", "value"], orient="row")
    wide = long.pivot(on="attribute", index="user_id", values="value") if long.height else long.select("user_id")
    return widen(wide, names).select("user_id", *names)


@dataclass(frozen=True)
class Diff:
    upserts: pl.DataFrame  # user_id, _lineage (JSON or null), one column per attribute: rows to write
    deletes: pl.Series  # user IDs whose row of this integration goes
    existing: int  # users the integration had before
    inserted: int
    updated: int
    unchanged: int
    cleared: int  # values removed by empty cells (blank: clear)
    removed: int  # users dropped by mirror mode
    values_written: int
    sample: list[ChangedUser] = field(default_factory=list)


def _decode(state: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Current rows with one `o:<name>` text column and one `l:<name>` lineage column per attribute."""
    lineage_type = pl.Struct({n: pl.Int64 for n in names})
    if state.get_column("_lineage").null_count() == state.height:  # the usual case: one import per row
        lineage = [pl.lit(None, pl.Int64).alias(f"l:{n}") for n in names]
    else:
        lineage = [pl.col("_lineage").str.json_decode(lineage_type).struct.field(n).alias(f"l:{n}") for n in names]
    return state.select(
        pl.col("user_id"),
        pl.col("_import_id").alias("o:import"),
        *[pl.col(n).alias(f"o:{n}") for n in names],
        *lineage,
    )


def compute_diff(
    state: pl.DataFrame,
    new: pl.DataFrame,
    names: list[str],
    *,
    clear_blanks: bool = False,
    mirror: bool = False,
    sample: int = 0,
) -> Diff:
    """Compare a file's attribute set (`user_id` + canonical text per name) with `state`."""
    joined = _compare(state, new, names, clear_blanks)
    counts = joined.select(
        (~pl.col("exists") & ~pl.col("empty")).sum().alias("inserted"),
        (pl.col("exists") & pl.col("changed")).sum().alias("updated"),
        pl.sum_horizontal((pl.col(f"o:{n}").is_not_null() & pl.col(f"m:{n}").is_null()).sum() for n in names).alias(
            "cleared"
        ),
        pl.sum_horizontal((pl.col(f"c:{n}") & pl.col(f"m:{n}").is_not_null()).sum() for n in names).alias("values"),
    ).row(0, named=True)
    changed = joined.filter(pl.col("changed"))
    deletes = changed.filter(pl.col("empty")).get_column("user_id")
    removed = 0
    if mirror:
        gone = state.select("user_id").join(new.select("user_id"), on="user_id", how="anti").get_column("user_id")
        removed = gone.len()
        deletes = pl.concat([deletes, gone])
    return Diff(
        upserts=_upserts(changed, names),
        deletes=deletes,
        existing=state.height,
        inserted=int(counts["inserted"]),
        updated=int(counts["updated"]),
        unchanged=new.height - int(counts["inserted"]) - int(counts["updated"]),
        cleared=int(counts["cleared"]),
        removed=removed,
        values_written=int(counts["values"]),
        sample=_sample(changed, names, sample) if sample else [],
    )


def _compare(state: pl.DataFrame, new: pl.DataFrame, names: list[str], clear_blanks: bool) -> pl.DataFrame:
    """The file's rows beside the stored ones.

    Per name the merged value `m:<name>` and whether it changed `c:<name>`; per row whether
    the user `exists`, ends up `empty` (no value left) and `changed`.
    """
    old = _decode(state, names)
    joined = new.rename({n: f"n:{n}" for n in names}).join(old, on="user_id", how="left")
    merged = {n: (pl.col(f"n:{n}") if clear_blanks else pl.coalesce(pl.col(f"n:{n}"), pl.col(f"o:{n}"))) for n in names}
    joined = joined.with_columns(
        *[merged[n].alias(f"m:{n}") for n in names],
    ).with_columns(
        *[pl.col(f"m:{n}").ne_missing(pl.col(f"o:{n}")).alias(f"c:{n}") for n in names],
        pl.col("o:import").is_not_null().alias("exists"),
        pl.all_horizontal(pl.col(f"m:{n}").is_null() for n in names).alias("empty"),
    )
    return joined.with_columns(
        (pl.any_horizontal(pl.col(f"c:{n}") for n in names) & (pl.col("exists") | ~pl.col("empty"))).alias("changed")
    )


def _upserts(changed: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Rows to write: user_id, _lineage (JSON of the values kept from earlier imports, or null), the values."""
    lineage = {
        n: pl.when(pl.col(f"m:{n}").is_null() | pl.col(f"c:{n}"))
        .then(None)
        .otherwise(pl.coalesce(pl.col(f"l:{n}"), pl.col("o:import")))
        for n in names
    }
    return changed.filter(~pl.col("empty")).select(
        pl.col("user_id"),
        pl.when(pl.any_horizontal(e.is_not_null() for e in lineage.values()))
        .then(pl.struct([e.alias(n) for n, e in lineage.items()]).struct.json_encode())
        .otherwise(None)
        .alias("_lineage"),
        *[pl.col(f"m:{n}").alias(n) for n in names],
    )


def _sample(changed: pl.DataFrame, names: list[str], n: int) -> list[ChangedUser]:
    """A few changed users with old -> new per changed attribute (for previews)."""
    return [
        ChangedUser(
            user_id=row["user_id"],
            changes={k: [row[f"o:{k}"], row[f"m:{k}"]] for k in names if row[f"c:{k}"]},
        )
        for row in changed.head(n).iter_rows(named=True)
    ]
