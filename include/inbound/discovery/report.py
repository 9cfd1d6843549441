"""What `inbound discover` found in a sample, and the two ways it is shown.

`Report` is the finding (format, one `ColumnProfile` per column, user-ID candidates);
`to_yaml` turns it into a config that loads with `inbound.config.catalog.load_file`, `render`
into the text the CLI prints. The report holds sample values of the file (personal
data): it is printed on the user's terminal and never logged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from inbound.discovery.infer import integration_name, key_glob


@dataclass
class ColumnProfile:
    """One column of the sample: its type as the import would cast it, how full and how unique."""

    name: str
    type: str  # boolean | integer | number | date | timestamp | string
    format: str | None  # strftime format for date / timestamp when ISO-8601 does not fit
    samples: list[str]
    empty: float  # share of empty values
    distinct: float  # share of distinct values among all sampled rows
    attribute: str  # the attribute name for the config (the column, or a snake_case rename)
    formats: list[str] = field(default_factory=list)  # every date/timestamp layout that fits, `format` first


@dataclass
class Report:
    bucket: str
    key: str
    aws_conn_id: str
    size: int  # object size in bytes (compressed)
    read_bytes: int  # bytes sampled (after decompression, cut to whole lines)
    complete: bool  # the whole file was sampled
    compressed: bool
    encoding: str  # what the import must be told (format.encoding)
    bom: bool
    encoding_hint: str | None  # set when the file is not UTF-8
    delimiter: str
    decimal: str
    rows: int
    columns: list[ColumnProfile]
    user_id_candidates: list[str]
    notes: list[str] = field(default_factory=list)
    pattern: str | None = None  # the key pattern the user gave (key is its newest file)
    # The sampled bytes (whole records, inflated): to try a config on (`discovery.trial`); never in `to_dict`.
    sample: bytes = field(default=b"", repr=False, compare=False)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def user_id(self) -> str | None:
        """The best user-ID candidate, if any column qualifies."""
        return self.user_id_candidates[0] if self.user_id_candidates else None

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form: the report, its URI and the proposed config."""
        data = asdict(self)
        del data["sample"]
        data["uri"] = self.uri
        data["config"] = to_yaml(self)
        return data


def _quoted(value: str) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def to_yaml(report: Report, name: str | None = None) -> str:
    """A config to commit as dags/integrations/<name>.yaml (loads with `load_file`)."""
    name = name or integration_name(report.key)
    user_id = report.user_id or report.columns[0].name
    glob = report.pattern or key_glob(report.key)
    lines = [
        "# yaml-language-server: $schema=../../integration.schema.json",
        f"# Proposed by `inbound discover {report.uri}` from {report.rows} sampled rows.",
        "# Keep only the attributes people will target with (at most 100 across all integrations).",
        f"name: {name}",
        'schedule: "@daily"',
        "source:",
        f"  bucket: {_quoted(report.bucket)}",
        f"  key: {_quoted(glob)}" + (f"  # sampled: {report.key}" if glob != report.key else ""),
        f"  aws_conn_id: {_quoted(report.aws_conn_id)}",
        "format:",
        f"  delimiter: {_quoted(report.delimiter)}",
        f"  encoding: {report.encoding}",
        f"  decimal: {_quoted(report.decimal)}",
        "user_id:",
        f"  column: {_quoted(user_id)}"
        + ("" if report.user_id else "  # TODO: no column was filled and unique in the sample"),
        "attributes:",
    ]
    for column in report.columns:
        if column.name == user_id:
            continue
        lines.append(f"  - column: {_quoted(column.name)}")
        if column.attribute != column.name:
            lines.append(f"    name: {column.attribute}")
        lines.append(f"    type: {column.type}")
        if column.format:
            lines.append(f"    format: {_quoted(column.format)}")
    return "\n".join(lines) + "\n"


def _percent(share: float) -> str:
    return "<1%" if 0 < share < 0.01 else f"{share * 100:.0f}%"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def _sample_text(samples: list[str], width: int = 60) -> str:
    text = ", ".join(json.dumps(s, ensure_ascii=False)[1:-1] if "\n" in s else s for s in samples)
    return text if len(text) <= width else text[: width - 3] + "..."


def _format_lines(report: Report) -> list[str]:
    delimiter = {"\t": "tab", ",": '","', ";": '";"', "|": '"|"'}.get(report.delimiter, _quoted(report.delimiter))
    encoding = report.encoding + (" (byte-order mark)" if report.bom else "")
    decimal_note = "  (decimal commas such as 1.234,56)" if report.decimal == "," else ""
    return [
        "format",
        f"  encoding   {encoding}" + (f"\n             {report.encoding_hint}" if report.encoding_hint else ""),
        f"  delimiter  {delimiter}",
        f"  gzip       {'yes' if report.compressed else 'no'}",
        f"  decimal    {_quoted(report.decimal)}{decimal_note}",
        f"  rows       {report.rows:,} sampled",
    ]


def _column_lines(report: Report) -> list[str]:
    """The columns as an aligned table; the samples column last and unpadded."""
    headers = ("column", "type", "empty", "distinct", "samples")
    table = [
        (
            c.name + (f" -> {c.attribute}" if c.name not in (c.attribute, report.user_id) else ""),
            c.type + (f" {c.format}" if c.format else ""),
            _percent(c.empty),
            _percent(c.distinct),
            _sample_text(c.samples),
        )
        for c in report.columns
    ]
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(4)]
    return ["  " + "  ".join(v.ljust(w) for v, w in zip(row[:4], widths)) + "  " + row[4] for row in [headers, *table]]


def render(report: Report) -> str:
    """The report as text for the terminal."""
    sampled = "the whole file" if report.complete else f"the first {_size(report.read_bytes)}"
    out = [f"{report.uri}  ({_size(report.size)}{', gzip' if report.compressed else ''}; sampled {sampled})", ""]
    out += [*_format_lines(report), "", "columns", *_column_lines(report), ""]
    if report.user_id_candidates:
        out.append("user ID candidates (filled and unique in the sample): " + ", ".join(report.user_id_candidates))
    else:
        out.append("user ID candidates: none (no column is filled and unique in the sample)")
    out += [f"note: {note}" for note in report.notes]
    name = integration_name(report.key)
    out += [
        "",
        f"config (save as dags/integrations/{name}.yaml, check with `inbound validate`, "
        f"try with `inbound run {name} --key {report.key}`):",
        "",
        to_yaml(report, name).rstrip("\n"),
    ]
    return "\n".join(out) + "\n"
