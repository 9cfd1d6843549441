"""A config tried on a sample: the sampled bytes through the import's own reader and mapping.

What the wizard means by "valid": not that the YAML fits the schema, but that the export it
was made for maps with it. `try_config` reads the sample with the config's format
(`inbound.reading.reader.read_table`) and maps it (`inbound.mapping.mapper.map_table`), exactly as
a run would, and sums up the rejected rows per column and kind: how many, the first lines,
the reason, and (only for a caller who may read the sample) the first values. A file-level
refusal (a column the header lacks, no data rows) is the trial's `error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from inbound.config.model import Integration
from inbound.errors import InboundError
from inbound.mapping.mapper import map_table
from inbound.mapping.rejects import reject_kind
from inbound.reading.reader import read_table

LINES_SHOWN = 10  # line numbers per rejected group
VALUES_SHOWN = 5  # distinct values per rejected group


@dataclass(frozen=True)
class Rejected:
    """The rows of the sample one column rejects for one kind of reason."""

    column: str | None  # the CSV column (None: the row as a whole, e.g. a ragged row)
    attribute: str | None  # the attribute read from that column, if any (None for the user ID)
    kind: str  # inbound.mapping.rejects.REJECT_KINDS
    reason: str  # the first row's reason, as the .rejected.csv report says it
    rows: int
    lines: list[int]  # the first LINES_SHOWN lines, counting the header as line 1
    values: list[str]  # the first distinct values (empty unless values are shown)


@dataclass(frozen=True)
class Trial:
    """What a run would make of the sample with this config."""

    rows: int  # data rows read
    rejected: int  # rows rejected (a row rejected for two reasons counts once)
    max_rejected_ratio: float  # the config's
    groups: list[Rejected] = field(default_factory=list)
    error: str | None = None  # why the whole sample would fail (nothing imported)

    @property
    def ratio(self) -> float:
        return self.rejected / self.rows if self.rows else 0.0

    @property
    def imports(self) -> bool:
        """A run would import this sample: no file-level error, the rejected share within the limit."""
        return self.error is None and self.ratio <= self.max_rejected_ratio


def try_config(sample: bytes, integration: Integration, *, values: bool = True) -> Trial:
    """Read and map `sample` (whole records of an export) with `integration`, as a run would.

    `values`: include the first rejected values of each group (for a caller who may read the sample).
    """
    limit = integration.max_rejected_ratio
    try:
        mapped = map_table(read_table(sample, integration.format), integration)
    except InboundError as exc:
        return Trial(0, 0, limit, error=str(exc))
    columns = {a.column: a.attribute for a in integration.attributes}
    return Trial(mapped.rows_read, mapped.rows_rejected, limit, _groups(mapped.rejects, columns, values))


def _groups(rejects: pl.DataFrame, attributes: dict[str, str], values: bool) -> list[Rejected]:
    """The rejected rows by (column, kind), in the order of their first line."""
    if not rejects.height:
        return []
    groups = (
        rejects.with_columns(reject_kind(pl.col("reason")).alias("kind"))
        .group_by("column", "kind")
        .agg(
            pl.col("line").n_unique().alias("rows"),
            pl.col("line").unique().sort().head(LINES_SHOWN).alias("lines"),
            pl.col("reason").sort_by("line").first().alias("reason"),
            pl.col("value").drop_nulls().unique(maintain_order=True).head(VALUES_SHOWN).alias("values"),
            pl.col("line").min().alias("first"),
        )
        .sort("first", "column", nulls_last=False)
    )
    return [
        Rejected(
            column=column,
            attribute=attributes.get(column) if column is not None else None,
            kind=str(kind),
            reason=str(reason),
            rows=int(rows),
            lines=[int(n) for n in lines],
            values=[str(v) for v in shown] if values else [],
        )
        for column, kind, rows, lines, reason, shown, _ in groups.iter_rows()
    ]
