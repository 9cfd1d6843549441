"""One file read and mapped in bounded batches, spooled on local disk, never held whole.

`inbound.reading.reader.read_batches` cuts the text between records (a quoted value with line
breaks is never split, line numbers are the file's); each batch is mapped on its own
(`inbound.mapping.mapper.map_batch`) and its attribute set and rejected rows go to Parquet parts
in a local folder. What only the whole file can say is settled here, on disk:

- **a user ID in two batches** rejects every row of it, as within one batch. Each batch's
  user IDs are hashed (8 bytes a row) into one spool file; sorted in place, it shows the
  few hashes seen twice, and only the rows with those hashes are read back and compared
  exactly. Memory: 8 bytes a row for the sort (80 MB for 10M rows), whatever the width.
- **counts** (rows read and rejected) are summed over the batches, so the caller decides
  `max_rejected_ratio` over the whole file before anything is staged or written.
- **repeated header lines** (`inbound.mapping.header.repeated_header`: exports joined with `cat`),
  found in whichever batch they land, are counted apart (never rows read or rejected); the
  report's parts list them among the rejected rows, in line order, with their own reason.

The parts are what `inbound.s3.staging` uploads; the store reads them back one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from inbound.config.model import Integration
from inbound.mapping.header import check_header, read_columns
from inbound.mapping.mapper import map_batch, no_data_rows
from inbound.mapping.rejects import (
    LINES_SHOWN,
    REJECT_COLUMNS,
    USER_ID,
    duplicate_reason,
    rejected_by_kind,
    rejected_lines,
)
from inbound.reading.reader import read_batches
from inbound.settings import number_setting

BATCH_MB_ENV = "INBOUND_BATCH_MB"
DEFAULT_BATCH_MB = 8
_HASH_SEED = 0x1B0D
_BATCH = "\x01batch"


def batch_bytes() -> int:
    """`INBOUND_BATCH_MB` (default 8): how much text is parsed and mapped at a time.

    A worker's memory per running import is about twenty times this plus the interpreter, whatever
    the file's size (the store's load of a part included). Larger batches are no faster from 8 MB on
    (32 MB: the same time, 1.6 times the memory); 4 MB costs about 15% more time.
    """
    return int(number_setting(BATCH_MB_ENV, DEFAULT_BATCH_MB, minimum=1 / 1024, whole=False) * 1024 * 1024)


@dataclass(frozen=True)
class Spool:
    """A mapped file on local disk: its attribute set and rejected rows in parts, and its counts."""

    sets: tuple[Path, ...]  # attribute-set parts (Parquet: `user_id` + a typed column per attribute), file order
    # the report's parts (Parquet, REJECT_COLUMNS), in line order: the rejected rows and the
    # repeated header lines (`mapping.REPEATED_HEADER_REASON`, no user ID: mirror mode keeps no one for them)
    rejects: tuple[Path, ...]
    rows_read: int
    rows_rejected: int
    users: int  # rows in the attribute set
    rejected_by: tuple[tuple[str, str | None, int], ...] = ()  # rows per (kind, column): `rejected_by_kind`
    rejected_lines: tuple[tuple[str, str | None, int, tuple[int, ...]], ...] = ()  # and their first lines
    headers_skipped: int = 0  # repeated header lines, neither read nor rejected rows
    header_lines: tuple[int, ...] = ()  # the first `LINES_SHOWN` of them
    header: tuple[str, ...] = ()  # the file's header line, every name (`mapping.drift` keeps what it records)
    filled: tuple[tuple[str, int], ...] = ()  # (attribute, rows of the set with a value): the volume guard's
    deletions: tuple[Path, ...] = ()  # `delete_when`: the users the file deletes (Parquet `user_id`, `line`)
    deletion_rows: int = 0


def map_file(
    pieces: Iterable[bytes],
    integration: Integration,
    folder: Path,
    batch: int | None = None,
    known: Sequence[str] = (),
) -> Spool:
    """Read and map a file (its bytes as they arrive) into parts in `folder`; `BadFile` for a bad file.

    `known`: the header of the integration's last import, for the hint when a read column is missing.
    """
    size = batch_bytes() if batch is None else batch
    hashes, read, skipped, header_lines = folder / "ids.u64", list[int](), list[int](), list[int]()
    header: list[str] = []
    with hashes.open("wb") as spool:
        for table in read_batches(pieces, integration.format, integration.max_bytes, size, read_columns(integration)):
            if not read:
                check_header(table.header, integration, known)
                header = table.header
            mapped = map_batch(table, integration, duplicates=False)
            i = len(read)
            ids = mapped.ids if mapped.ids is not None else pl.DataFrame(schema={USER_ID: pl.String, "line": pl.Int64})
            ids.write_parquet(_part(folder, "ids", i))
            ids.get_column(USER_ID).hash(_HASH_SEED).to_numpy().tofile(spool)
            mapped.frame.write_parquet(_part(folder, "set", i))
            mapped.rejects.write_parquet(_part(folder, "rejects", i))
            if mapped.deletions.height:
                mapped.deletions.write_parquet(_part(folder, "deletions", i))
            if mapped.headers_skipped:
                mapped.skipped.write_parquet(_part(folder, "skipped", i))
                header_lines += mapped.skipped.get_column("line").head(LINES_SHOWN - len(header_lines)).to_list()
            read.append(mapped.rows_read)
            skipped.append(mapped.headers_skipped)
            del table, mapped, ids  # this batch's frames go before the next batch is read
    if not sum(read):
        raise no_data_rows(sum(skipped))
    repeated = _repeated(hashes, folder, len(read))
    if repeated is not None:
        repeated = repeated.with_columns(duplicate_reason(USER_ID, "line").alias("reason"))
        for i in repeated.get_column(_BATCH).unique():
            _reject_repeated(folder, i, repeated.filter(pl.col(_BATCH) == i), integration.user_id.column)
    rejects = [p for p in (_part(folder, "rejects", i) for i in range(len(read))) if _rows(p)]
    rejected_by = tuple(rejected_by_kind(pl.scan_parquet(rejects))) if rejects else ()
    lines = tuple(rejected_lines(pl.scan_parquet(rejects))) if rejects else ()
    rows_rejected = sum(_rows(p, "line") for p in rejects)
    for i in (i for i, n in enumerate(skipped) if n):  # counted: now they join the report
        _report_skipped(folder, i)
    sets = [_part(folder, "set", i) for i in range(len(read))]
    deletions = [p for p in (_part(folder, "deletions", i) for i in range(len(read))) if p.exists() and _rows(p)]
    names = [a.attribute for a in integration.attributes]
    counts = pl.scan_parquet(sets).select(pl.col(n).count() for n in names).collect().row(0)
    return Spool(
        sets=tuple(sets),
        rejects=tuple(p for p in (_part(folder, "rejects", i) for i in range(len(read))) if _rows(p)),
        rejected_by=rejected_by,
        rejected_lines=lines,
        rows_read=sum(read),
        rows_rejected=rows_rejected,
        users=sum(_rows(_part(folder, "set", i)) for i in range(len(read))),
        headers_skipped=sum(skipped),
        header_lines=tuple(header_lines),
        header=tuple(header),
        filled=tuple(zip(names, (int(c) for c in counts))),
        deletions=tuple(deletions),
        deletion_rows=sum(_rows(p) for p in deletions),
    )


def _part(folder: Path, kind: str, i: int) -> Path:
    return folder / f"{kind}-{i:06d}.parquet"


def _rows(path: Path, distinct: str | None = None) -> int:
    """Rows of a Parquet part (with `distinct`: distinct values of that column) from its metadata or one column."""
    count = pl.col(distinct).n_unique() if distinct else pl.len()
    return int(pl.scan_parquet(path).select(count).collect().item())


def _repeated(hashes: Path, folder: Path, count: int) -> pl.DataFrame | None:
    """Every row (`user_id`, `line`, batch) of a user ID the file holds more than once; None if none."""
    spooled = np.fromfile(hashes, dtype=np.uint64)
    hashes.unlink()
    spooled.sort()
    twice = np.unique(spooled[1:][spooled[1:] == spooled[:-1]])
    del spooled
    parts = [_part(folder, "ids", i) for i in range(count)]
    if not twice.size:
        for part in parts:
            part.unlink()
        return None
    candidates = pl.Series(twice)
    rows = pl.concat(
        pl.read_parquet(part)
        .filter(pl.col(USER_ID).hash(_HASH_SEED).is_in(candidates))
        .with_columns(pl.lit(i, pl.Int64).alias(_BATCH))
        for i, part in enumerate(parts)
    )
    for part in parts:
        part.unlink()
    rows = rows.filter(pl.len().over(USER_ID) > 1)
    return rows if rows.height else None


def _reject_repeated(folder: Path, i: int, repeated: pl.DataFrame, id_column: str) -> None:
    """Batch `i` without the rows of repeated user IDs, which join its rejected rows (in line order).

    A user with a deletion row and another row (or two deletion rows) is repeated too: the file says
    two things of it, and we never guess which is right."""
    ids = repeated.select(USER_ID).unique()
    kept = pl.read_parquet(_part(folder, "set", i)).join(ids, on=USER_ID, how="anti")
    kept.write_parquet(_part(folder, "set", i))
    deletions = _part(folder, "deletions", i)
    if deletions.exists():
        pl.read_parquet(deletions).join(ids, on=USER_ID, how="anti").write_parquet(deletions)
    rejected = repeated.select(
        pl.col("line"),
        pl.col(USER_ID),
        pl.lit(id_column, pl.String).alias("column"),
        pl.col(USER_ID).alias("value"),
        pl.col("reason"),
    ).cast(REJECT_COLUMNS)  # type: ignore[arg-type]
    rejects = pl.concat([pl.read_parquet(_part(folder, "rejects", i)), rejected])
    rejects.sort("line", "column", nulls_last=False).write_parquet(_part(folder, "rejects", i))


def _report_skipped(folder: Path, i: int) -> None:
    """Batch `i`'s repeated header lines join its report part (in line order), once its rejected rows are counted."""
    skipped = _part(folder, "skipped", i)
    rejects = pl.concat([pl.read_parquet(_part(folder, "rejects", i)), pl.read_parquet(skipped)])
    rejects.sort("line", "column", nulls_last=False).write_parquet(_part(folder, "rejects", i))
    skipped.unlink()
