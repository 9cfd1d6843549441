"""`inbound discover`: look at the head of an export in S3 and propose its config.

Reads the first bytes of the object (`discovery_s3.fetch_head`: a ranged GET; a gzip file
is inflated up to that many bytes), cuts them back to the last complete record, parses
them with the import's own reader (`inbound.reading.reader.read_table`) and types each column
with the import's own casts (`discovery_infer`), so what discovery proposes is exactly
what the import accepts. The result is a `discovery_report.Report`; `render` prints it,
`to_yaml` gives a config that loads with `inbound.config.catalog.load_file`.

A header cell with no name (a pandas export's index column, `Email,,Plan`, a header line
ending with the delimiter) cannot be mapped: a config names its columns by their header.
Such a column is left out of the profile and the proposal, with a note saying where it is;
the import reads only the columns a config names, so the proposed config takes the file.

The web API's wizard passes `readable` (`inbound.discovery.scope`): a pattern's files and
the keys a missing key's answer suggests are only those the caller may sample.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from inbound.config.names import attribute_names
from inbound.config.sections import Format
from inbound.discovery.infer import (
    decimal_mark,
    fitting_formats,
    guess_encoding,
    id_rank,
    infer_type,
)
from inbound.discovery.report import ColumnProfile, Report
from inbound.discovery.sample import Head, explain, fetch_head
from inbound.errors import BadFile, DiscoveryError
from inbound.reading.reader import Table, read_table
from inbound.reading.records import FIELD_COUNT_COLUMN, SOURCE_LINE_COLUMN
from inbound.s3 import layout
from inbound.s3.source import list_new_files

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

DEFAULT_BYTES = 1024 * 1024
SAMPLES = 3  # sample values shown per column
_ID_TYPES = ("string", "integer")  # numbers, booleans and dates are never proposed as user IDs
_NOT_TEXT = b"\r\n\x00\xff\xfe\xef\xbb\xbf"  # line breaks, NULs and byte-order-mark bytes


def discover(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    max_bytes: int = DEFAULT_BYTES,
    aws_conn_id: str = "aws_default",
    readable: Callable[[str], bool] | None = None,
) -> Report:
    """Sample the head of s3://bucket/key and infer its format, columns and user-ID candidates.

    `key` may be a key pattern: its newest matching file is sampled, and the proposed
    config keeps the pattern. `readable`: the keys of the bucket the caller may sample or
    see named (None: any, the CLI's operator); `key` itself is the caller's to check first.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    pattern = key if layout.has_wildcards(key) else None
    key, head = _fetch(client, bucket, key, max_bytes, aws_conn_id, readable)
    uri = f"s3://{bucket}/{key}"
    sample = head.data if head.complete else _cut_head(head.data)
    if not sample.strip(_NOT_TEXT):
        if not head.data.strip():
            raise DiscoveryError(f"{uri}: the file is empty; expected a header line and data rows")
        raise DiscoveryError(f"{uri}: the first {len(head.data):,} bytes hold no complete line; read more with --bytes")
    encoding, bom, hint = guess_encoding(sample)
    try:
        table = read_table(sample, Format(encoding=encoding))
    except BadFile as exc:
        raise DiscoveryError(f"{uri}: {exc}") from None
    named = [column for column in table.header if column]
    if not named:
        raise DiscoveryError(
            f"{uri}: no column has a name in the header line; the import maps columns by their names, "
            "so the export needs a header line of column names (e.g. Email,Plan)"
        )
    decimal = decimal_mark(table.frame, named, table.delimiter)
    columns = _profile(table, named, decimal)
    candidates = _user_id_candidates(columns, table.rows)
    return Report(
        bucket=bucket,
        key=key,
        pattern=pattern,
        aws_conn_id=aws_conn_id,
        size=head.size,
        read_bytes=len(sample),
        complete=head.complete,
        compressed=head.compressed,
        encoding=encoding,
        bom=bom,
        encoding_hint=hint,
        delimiter=table.delimiter,
        decimal=decimal,
        rows=table.rows,
        columns=columns,
        user_id_candidates=candidates,
        notes=_notes(table, candidates, head.complete, len(sample)),
        sample=sample,
    )


def _fetch(
    client: S3Client, bucket: str, key: str, max_bytes: int, aws_conn_id: str, readable: Callable[[str], bool] | None
) -> tuple[str, Head]:
    """The key sampled (a pattern's newest file) and its head; S3's refusals explained."""
    given = key
    try:
        key = _resolve_key(client, bucket, key, readable)
        return key, fetch_head(client, bucket, key, max_bytes)
    except BadFile as exc:
        raise DiscoveryError(f"s3://{bucket}/{key}: {exc}") from None
    except DiscoveryError:
        raise
    except Exception as exc:
        raise explain(exc, client, bucket, given, aws_conn_id, readable) from None


def _resolve_key(client: S3Client, bucket: str, key: str, readable: Callable[[str], bool] | None) -> str:
    """A key pattern stands for its newest matching file (of those the caller may sample)."""
    if not layout.has_wildcards(key):
        return key
    s3_files = [f for f in list_new_files(client, bucket, key) if readable is None or readable(f.key)]
    if not s3_files:
        raise DiscoveryError(
            f"s3://{bucket}/{key}: no file matches the pattern (listed under {layout.listing_prefix(key)!r}; "
            "`*` and `?` never cross '/')"
        )
    return s3_files[-1].key


def _cut_lines(data: bytes) -> bytes:
    """Up to the last line break that is outside quotes (a quoted field may hold newlines)."""
    total = data.count(b'"')
    end, after = len(data), 0
    pos = data.rfind(b"\n")
    while pos != -1:
        after += data.count(b'"', pos, end)
        if (total - after) % 2 == 0:
            return data[: pos + 1]
        end = pos
        pos = data.rfind(b"\n", 0, pos)
    return b""


def _cut_head(data: bytes) -> bytes:
    """The head cut back to whole records, in the file's own encoding."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data[: len(data) // 2 * 2].decode("utf-16", errors="ignore")
        cut = _cut_lines(text.encode("utf-8")).decode("utf-8")
        return cut.encode("utf-16") if cut else b""
    return _cut_lines(data)


def _profile(table: Table, named: list[str], decimal: str) -> list[ColumnProfile]:
    """Each named column's type, samples, and shares of empty and distinct values."""
    frame, rows = table.frame, table.rows
    names = attribute_names(named)
    profiles = []
    for column in named:
        values = frame.get_column(column).str.strip_chars()
        filled = values.filter(values != "")
        kind, fmt = infer_type(frame, column, decimal)
        profiles.append(
            ColumnProfile(
                name=column,
                type=kind,
                format=fmt,
                samples=filled.unique(maintain_order=True).head(SAMPLES).to_list(),
                empty=(rows - filled.len()) / rows if rows else 0.0,
                distinct=values.n_unique() / rows if rows else 0.0,
                attribute=names[column],
                formats=fitting_formats(frame, column, kind, decimal),
            )
        )
    return profiles


def _user_id_candidates(columns: list[ColumnProfile], rows: int) -> list[str]:
    """Columns filled and unique in every sampled row, the likeliest user-ID names first."""
    if not rows:
        return []
    found = [c.name for c in columns if c.empty == 0 and c.distinct == 1 and c.type in _ID_TYPES]
    return sorted(found, key=id_rank)  # stable: header order within a rank


def _notes(table: Table, candidates: list[str], complete: bool, sampled: int) -> list[str]:
    """What the user should know before trusting the proposal."""
    notes = []
    ragged = table.frame.filter(pl.col(FIELD_COUNT_COLUMN) != len(table.header))
    if ragged.height:
        lines = ", ".join(str(n) for n in ragged.get_column(SOURCE_LINE_COLUMN).head(5).to_list())
        notes.append(
            f"{ragged.height} row(s) have a different number of fields than the header "
            f"(lines {lines}{', ...' if ragged.height > 5 else ''}); the import rejects them"
        )
    unnamed = _unnamed(table.header)
    if unnamed:
        notes.append(unnamed)
    if table.rows == 0:
        notes.append("the sample has a header but no data rows")
    if not candidates:
        notes.append(
            "no column is filled and unique in every sampled row, so none can be the user ID as it is; "
            "the import rejects rows with an empty or repeated user ID"
        )
    if not complete:
        notes.append(
            f"only the first {sampled:,} bytes ({table.rows:,} rows) were sampled; "
            "types, empties and uniqueness may differ further down (read more with --bytes)"
        )
    return notes


def _unnamed(header: list[str]) -> str | None:
    """Where the header has empty cells, the likely reason, and what the proposal does about them."""
    positions = [n for n, column in enumerate(header, 1) if not column]
    if not positions:
        return None
    listed = ", ".join(map(str, positions[:-1])) + f" and {positions[-1]}" if len(positions) > 1 else str(positions[0])
    what = f"columns {listed} have" if len(positions) > 1 else f"column {listed} has"
    causes = []
    if positions[0] == 1:
        causes.append("the first: a pandas index written by `to_csv()`? `to_csv(index=False)` leaves it out")
    if positions[-1] == len(header) > 1:
        causes.append("the last: does the header line end with the delimiter?")
    why = f" ({'; '.join(causes)})" if causes else ""
    return (
        f"{what} no name in the header{why}: left out of the proposed config, since a config names "
        "each column by its header and the import reads only the columns a config names; to import "
        "one, give it a name in the export's header"
    )
