"""`inbound discover`: look at the head of an export in S3 and propose its config.

Reads the first bytes of the object (a ranged GET, cut back to the last complete line; a
gzip file is inflated up to that many bytes), parses them with the import's own reader
(`inbound.reading.read_table`) and types each column with the import's own casts
(`inbound.mapping.cast_series`), so what discovery proposes is exactly what the
import accepts. The result is a `Report`; `render` prints it, `to_yaml` gives a config
that loads with `inbound.config.load_file`.

The report holds sample values of the file (personal data): it is printed on the user's
terminal and never logged.
"""

from __future__ import annotations

import codecs
import difflib
import json
import re
import unicodedata
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from inbound.config import ATTRIBUTE_NAME_PATTERN, NAME_PATTERN, Attribute, Format
from inbound.mapping import cast_series
from inbound.reading import FIELDS, GZIP_MAGIC, LINE, FileRejected, read_table
from inbound.source import is_done, list_new_files, listing_prefix

DEFAULT_BYTES = 1024 * 1024
SAMPLES = 3
# Formats tried after ISO-8601 when a column does not cast as an ISO date / timestamp.
DATE_FORMATS = ("%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y")
TIMESTAMP_FORMATS = tuple(f"{d} {t}" for d in DATE_FORMATS for t in ("%H:%M:%S", "%H:%M"))
_ID_WORDS = {"email": 0, "mail": 0, "user": 1, "username": 1, "userid": 1, "login": 1, "id": 2}
_DATE_IN_NAME = re.compile(
    r"(?<!\d)(?:"
    r"(?:19|20)\d{2}[-_.]?(?:0[1-9]|1[0-2])[-_.]?(?:0[1-9]|[12]\d|3[01])"  # 2026-11-28, 20261128
    r"(?:[T_ -]?[0-2]\d[-:.]?[0-5]\d(?:[-:.]?[0-5]\d)?Z?)?"  # optional time
    r"|(?:0[1-9]|[12]\d|3[01])[-.](?:0[1-9]|1[0-2])[-.](?:19|20)\d{2}"  # 28.11.2026
    r"|(?:19|20)\d{2}[-_]?(?:0[1-9]|1[0-2])"  # 2026-11
    r")(?!\d)"
)


class DiscoveryError(Exception):
    """S3 or the file said no; the message names the object and what to do."""


@dataclass
class Column:
    name: str
    type: str  # boolean | integer | number | date | timestamp | string
    format: str | None  # strftime format for date / timestamp when ISO-8601 does not fit
    samples: list[str]
    empty: float  # share of empty values
    distinct: float  # share of distinct values among all sampled rows
    attribute: str  # the attribute name for the config (the column, or a snake_case rename)


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
    columns: list[Column]
    user_id_candidates: list[str]
    notes: list[str] = field(default_factory=list)
    pattern: str | None = None  # the key pattern the user gave (key is its newest file)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["uri"] = self.uri
        data["config"] = to_yaml(self)
        return data


# --------------------------------------------------------------------------- S3


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _status(exc: Exception) -> int | None:
    return getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")


def _s3_error(exc: Exception, client: Any, bucket: str, key: str, aws_conn_id: str) -> DiscoveryError:
    """A message that names the object, the cause and the fix."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    uri = f"s3://{bucket}/{key}"
    conn = f"Airflow connection {aws_conn_id!r}"
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError)):
        endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
        return DiscoveryError(
            f"{uri}: cannot reach the S3 endpoint {endpoint or ''}".rstrip()
            + f" ({type(exc).__name__}); check `endpoint_url` in the extra of the {conn} "
            "(MinIO or another S3 API) and that the network allows the connection"
        )
    if isinstance(exc, NoCredentialsError):
        return DiscoveryError(
            f"{uri}: no AWS credentials found for the {conn}; set the access key and secret as its "
            "login and password, `role_arn` in its extra, or configure the default AWS credential chain"
        )
    if not isinstance(exc, ClientError):
        return DiscoveryError(f"{uri}: {type(exc).__name__}: {exc}")
    code, status = _code(exc), _status(exc)
    message = exc.response.get("Error", {}).get("Message") or ""
    if code == "NoSuchBucket":
        return DiscoveryError(
            f"{uri}: the bucket {bucket!r} does not exist (NoSuchBucket); check the bucket name, "
            f"and the account, region and `endpoint_url` the {conn} points at"
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return DiscoveryError(
            f"{uri}: no object with the key {key!r} in the bucket {bucket!r} (NoSuchKey)"
            + _similar(client, bucket, key)
        )
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"):
        return DiscoveryError(
            f"{uri}: the credentials were refused ({code}); check the access key (login) and secret "
            f"(password) of the {conn}, or its `role_arn` / session token if it assumes a role"
        )
    if code in ("AccessDenied", "403", "AllAccessDisabled", "Forbidden") or status == 403:
        return DiscoveryError(
            f"{uri}: access denied ({code or status}); the identity of the {conn} needs "
            f"s3:GetObject on arn:aws:s3:::{bucket}/{key} to read the file (and s3:ListBucket on "
            f"arn:aws:s3:::{bucket} to list it; without s3:ListBucket S3 also answers AccessDenied "
            "for a key that does not exist, so check the key too). A bucket encrypted with a KMS key "
            "also needs kms:Decrypt"
        )
    if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"):
        return DiscoveryError(
            f"{uri}: the bucket is in another region ({code}); set `region_name` in the extra of the {conn}"
        )
    return DiscoveryError(f"{uri}: S3 error {code or status}: {message or exc}")


def _similar(client: Any, bucket: str, key: str) -> str:
    """Keys near the missing one, when listing is allowed."""
    folder = key[: key.rfind("/") + 1]
    try:
        response = client.list_objects_v2(Bucket=bucket, Prefix=folder, MaxKeys=1000)
    except Exception as exc:
        if _code(exc) in ("AccessDenied", "403") or _status(exc) == 403:
            return f"; listing the folder to suggest keys was denied (needs s3:ListBucket on arn:aws:s3:::{bucket})"
        return ""
    keys = [o["Key"] for o in response.get("Contents", []) if not o["Key"].endswith("/") and not is_done(o["Key"])]
    if not keys:
        where = f"under {folder!r}" if folder else "in the bucket"
        return f"; there are no files {where}"
    stem = key.rsplit("/", 1)[-1]
    stem = stem[: max(1, min(len(stem), 4))]
    close = difflib.get_close_matches(key, keys, n=5, cutoff=0.5)
    same = [k for k in keys if k.startswith(folder + stem) and k not in close]
    suggestions = (close + same)[:5] or keys[:5]
    return "; keys with the same prefix: " + ", ".join(suggestions)


def _fetch(client: Any, bucket: str, key: str, limit: int) -> tuple[bytes, int, bool, bool]:
    """The first `limit` bytes of the file: (bytes, object size, whole file read, gzip).

    A gzip file is inflated here: the head of its compressed bytes is not the head of the
    file, so the object is streamed and inflated until `limit` bytes came out (never more:
    a gzip bomb stays small), as `reading.decompress` does with its limit.
    """
    try:
        response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{limit - 1}")
    except Exception as exc:
        if _code(exc) == "InvalidRange":  # an empty object
            return b"", 0, True, False
        raise
    data = response["Body"].read()
    content_range = response.get("ContentRange") or ""
    size = len(data)
    if "/" in content_range and not content_range.endswith("*"):
        size = max(size, int(content_range.rsplit("/", 1)[1]))
    if not data.startswith(GZIP_MAGIC):
        return data, size, len(data) >= size, False
    if len(data) >= size:
        inflated, complete = _gunzip_head([data], limit)
        return inflated, size, complete, True
    response = client.get_object(Bucket=bucket, Key=key)
    try:
        inflated, complete = _gunzip_head(response["Body"].iter_chunks(256 * 1024), limit)
    finally:
        response["Body"].close()
    return inflated, size, complete, True


def _gunzip_head(chunks: Any, limit: int) -> tuple[bytes, bool]:
    """Inflate a gzip stream up to `limit` bytes: (bytes, the stream ended within the limit)."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    parts, size = [], 0
    try:
        for chunk in chunks:
            out = inflater.decompress(chunk, limit + 1 - size)
            while True:
                parts.append(out)
                size += len(out)
                if size > limit:
                    return b"".join(parts)[:limit], False
                if not inflater.unconsumed_tail:
                    break
                out = inflater.decompress(inflater.unconsumed_tail, limit + 1 - size)
            if inflater.eof:
                return b"".join(parts), True
        parts.append(inflater.flush())
    except zlib.error as exc:
        raise FileRejected(f"the file starts like gzip but does not decompress ({exc}); re-export it") from None
    return b"".join(parts)[:limit], inflater.eof


# --------------------------------------------------------------------------- bytes


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


def _encoding(data: bytes) -> tuple[str, bool, str | None]:
    """(format.encoding, BOM, hint for the user when the file is not UTF-8)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", True, None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", True, None
    try:
        data.decode("utf-8")
        return "utf-8", False, None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        where = f"byte 0x{data[exc.start]:02x} on line {line} is not valid UTF-8"
    try:
        data.decode("cp1252")
        return (
            "cp1252",
            False,
            (
                f"not UTF-8 ({where}); it decodes as Windows-1252 (Excel on Windows): set "
                "`format.encoding: cp1252` (check the umlauts in the samples below)"
            ),
        )
    except UnicodeDecodeError:
        return (
            "latin-1",
            False,
            (
                f"not UTF-8 ({where}) nor Windows-1252; sampled as latin-1: set `format.encoding` "
                "to the file's encoding (ask the exporting system)"
            ),
        )


# --------------------------------------------------------------------------- types


def _casts(frame: pl.DataFrame, column: str, kind: str, decimal: str, fmt: str | None = None) -> bool:
    """Every non-empty value of the column casts to the type, exactly as the import casts it."""
    attribute = Attribute(column=column, name="probe", type=kind, format=fmt)
    text = frame.get_column(column).str.strip_chars()
    text = text.set(text == "", None)
    filled = text.is_not_null().sum()
    return filled > 0 and filled == cast_series(text, attribute, decimal, "UTC").is_not_null().sum()


def _infer(frame: pl.DataFrame, column: str, decimal: str) -> tuple[str, str | None]:
    values = frame.get_column(column).str.strip_chars()
    filled = values.filter(values != "")
    if filled.len() == 0:
        return "string", None
    digits_only = bool(filled.str.contains(r"^[+-]?\d+$").all())
    leading_zero = bool(filled.str.contains(r"^[+-]?0\d").any())  # postal codes, phone numbers
    if not digits_only and _casts(frame, column, "boolean", decimal):
        return "boolean", None
    if not leading_zero:
        if _casts(frame, column, "integer", decimal):
            return "integer", None
        if _casts(frame, column, "number", decimal):
            return "number", None
    for fmt in (None, *DATE_FORMATS):
        if _casts(frame, column, "date", decimal, fmt):
            return "date", fmt
    for fmt in (None, *TIMESTAMP_FORMATS):
        if _casts(frame, column, "timestamp", decimal, fmt):
            return "timestamp", fmt
    return "string", None


def _decimal(frame: pl.DataFrame, columns: list[str], delimiter: str) -> str:
    """ "," when number-like columns are written with decimal commas (1.234,56 / 3,5)."""
    if delimiter == ",":
        return "."
    comma = dot = 0
    for column in columns:
        values = frame.get_column(column).str.strip_chars()
        if not bool(values.str.contains(r"\d").any()):
            continue
        as_comma = _casts(frame, column, "number", ",")
        as_dot = _casts(frame, column, "number", ".")
        comma += as_comma and not as_dot
        dot += as_dot and not as_comma
        # "1.234" reads as 1234 with a decimal comma, as 1.234 with a point: the values decide
        if as_comma and as_dot and bool(values.str.contains(r"^[+-]?\d+\.\d{1,2}$|^[+-]?\d+\.\d{4,}$").any()):
            dot += 1
    return "," if comma > dot else "."


# --------------------------------------------------------------------------- names


def snake_case(text: str) -> str:
    """A name that fits ^[A-Za-z][A-Za-z0-9_]*$: umlauts spelled out, camelCase split."""
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss")):
        text = text.replace(umlaut, plain)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "attribute"
    if not name[0].isalpha():
        name = f"a_{name}"
    return name[:63].rstrip("_")


def _attribute_names(columns: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    taken = {c for c in columns if re.match(ATTRIBUTE_NAME_PATTERN, c)}
    for column in columns:
        if column in taken:
            names[column] = column
            continue
        base = snake_case(column)
        name, n = base, 2
        while name in taken:
            name = f"{base[:60]}_{n}"
            n += 1
        taken.add(name)
        names[column] = name
    return names


def _id_rank(column: str) -> int:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", column)
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    ranks = [_ID_WORDS[w] for w in words if w in _ID_WORDS]
    ranks += [0 for w in words if w.endswith("email")]
    return min(ranks, default=3)


def integration_name(key: str) -> str:
    """From the key: folder and file name without extension and date, e.g. crm/users_2026-11-28.csv -> crm_users."""
    parts = key.split("/")
    stem = re.sub(r"(\.(csv|txt|tsv|gz|gzip))+$", "", parts[-1], flags=re.IGNORECASE)
    stem = _DATE_IN_NAME.sub("", stem)
    folder = parts[-2] if len(parts) > 1 else ""
    name = "_".join(
        p for p in (snake_case(folder) if folder else "", snake_case(stem) if stem.strip("_-. ") else "") if p
    )
    name = re.sub(r"_+", "_", name.lower()).strip("_") or "integration"
    if not re.match(NAME_PATTERN, name):
        name = f"i_{name}"
    return name[:63].rstrip("_")


def key_glob(key: str) -> str:
    """The key with a date-like part of its file name as `*` (users_2026-11-28.csv -> users_*.csv)."""
    folder, _, name = key.rpartition("/")
    glob = _DATE_IN_NAME.sub("*", name)
    return f"{folder}/{glob}" if folder else glob


# --------------------------------------------------------------------------- discover


def _resolve_key(client: Any, bucket: str, key: str) -> str:
    """A key pattern stands for its newest matching file."""
    if not re.search(r"[*?\[]", key):
        return key
    files = list_new_files(client, bucket, key)
    if not files:
        raise DiscoveryError(
            f"s3://{bucket}/{key}: no file matches the pattern (listed under {listing_prefix(key)!r}; "
            "`*` and `?` never cross '/')"
        )
    return files[-1].key


def discover(
    client: Any, bucket: str, key: str, *, max_bytes: int = DEFAULT_BYTES, aws_conn_id: str = "aws_default"
) -> Report:
    """Sample the head of s3://bucket/key and infer its format, columns and user-ID candidates."""
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    pattern = key if re.search(r"[*?\[]", key) else None
    try:
        key = _resolve_key(client, bucket, key)
        raw, size, complete, compressed = _fetch(client, bucket, key, max_bytes)
    except FileRejected as exc:
        raise DiscoveryError(f"s3://{bucket}/{key}: {exc}") from None
    except DiscoveryError:
        raise
    except Exception as exc:
        raise _s3_error(exc, client, bucket, pattern or key, aws_conn_id) from None
    uri = f"s3://{bucket}/{key}"
    head = raw if complete else _cut_head(raw)
    if not head.strip(b"\r\n\x00\xff\xfe\xef\xbb\xbf"):
        if not raw.strip():
            raise DiscoveryError(f"{uri}: the file is empty; expected a header line and data rows")
        raise DiscoveryError(f"{uri}: the first {len(raw):,} bytes hold no complete line; read more with --bytes")
    encoding, bom, hint = _encoding(head)
    try:
        table = read_table(head, Format(encoding=encoding))
    except FileRejected as exc:
        raise DiscoveryError(f"{uri}: {exc}") from None
    frame = table.frame
    columns = [c for c in table.header]
    notes: list[str] = []
    ragged = frame.filter(pl.col(FIELDS) != len(columns))
    if ragged.height:
        lines = ", ".join(str(n) for n in ragged.get_column(LINE).head(5).to_list())
        notes.append(
            f"{ragged.height} row(s) have a different number of fields than the header "
            f"(lines {lines}{', ...' if ragged.height > 5 else ''}); the import rejects them"
        )
    if frame.height == 0:
        notes.append("the sample has a header but no data rows")
    decimal = _decimal(frame, columns, table.delimiter)
    rows = frame.height
    found: list[Column] = []
    names = _attribute_names(columns)
    for column in columns:
        values = frame.get_column(column).str.strip_chars()
        filled = values.filter(values != "")
        kind, fmt = _infer(frame, column, decimal)
        samples = filled.unique(maintain_order=True).head(SAMPLES).to_list()
        found.append(
            Column(
                name=column,
                type=kind,
                format=fmt,
                samples=samples,
                empty=(rows - filled.len()) / rows if rows else 0.0,
                distinct=values.n_unique() / rows if rows else 0.0,
                attribute=names[column],
            )
        )
    candidates = [
        c.name for c in found if rows and c.empty == 0 and c.distinct == 1 and c.type in ("string", "integer")
    ]
    candidates.sort(key=_id_rank)  # stable: header order within a rank
    if not candidates:
        notes.append(
            "no column is filled and unique in every sampled row, so none can be the user ID as it is; "
            "the import rejects rows with an empty or repeated user ID"
        )
    if not complete:
        notes.append(
            f"only the first {len(head):,} bytes ({rows:,} rows) were sampled; "
            "types, empties and uniqueness may differ further down (read more with --bytes)"
        )
    return Report(
        bucket=bucket,
        key=key,
        pattern=pattern,
        aws_conn_id=aws_conn_id,
        size=size,
        read_bytes=len(head),
        complete=complete,
        compressed=compressed,
        encoding=encoding,
        bom=bom,
        encoding_hint=hint,
        delimiter=table.delimiter,
        decimal=decimal,
        rows=rows,
        columns=found,
        user_id_candidates=candidates,
        notes=notes,
    )


# --------------------------------------------------------------------------- output


def _q(value: str) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _delimiter_label(delimiter: str) -> str:
    return {"\t": "tab", ",": '","', ";": '";"', "|": '"|"'}.get(delimiter, _q(delimiter))


def to_yaml(report: Report, name: str | None = None) -> str:
    """A config to commit as dags/integrations/<name>.yaml (loads with `load_file`)."""
    name = name or integration_name(report.key)
    user_id = report.user_id_candidates[0] if report.user_id_candidates else report.columns[0].name
    glob = report.pattern or key_glob(report.key)
    lines = [
        "# yaml-language-server: $schema=../../integration.schema.json",
        f"# Proposed by `inbound discover {report.uri}` from {report.rows} sampled rows.",
        "# Keep only the attributes people will target with (at most 100 across all integrations).",
        f"name: {name}",
        'schedule: "@daily"',
        "source:",
        f"  bucket: {_q(report.bucket)}",
        f"  key: {_q(glob)}" + (f"  # sampled: {report.key}" if glob != report.key else ""),
        f"  aws_conn_id: {_q(report.aws_conn_id)}",
        "format:",
        f"  delimiter: {_q(report.delimiter)}",
        f"  encoding: {report.encoding}",
        f"  decimal: {_q(report.decimal)}",
        "user_id:",
        f"  column: {_q(user_id)}"
        + ("" if report.user_id_candidates else "  # TODO: no column was filled and unique in the sample"),
        "attributes:",
    ]
    for column in report.columns:
        if column.name == user_id:
            continue
        lines.append(f"  - column: {_q(column.name)}")
        if column.attribute != column.name:
            lines.append(f"    name: {column.attribute}")
        lines.append(f"    type: {column.type}")
        if column.format:
            lines.append(f"    format: {_q(column.format)}")
    return "\n".join(lines) + "\n"


def _pct(share: float) -> str:
    if 0 < share < 0.01:
        return "<1%"
    return f"{share * 100:.0f}%"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def _sample_text(samples: list[str], width: int = 60) -> str:
    text = ", ".join(json.dumps(s, ensure_ascii=False)[1:-1] if "\n" in s else s for s in samples)
    return text if len(text) <= width else text[: width - 3] + "..."


def render(report: Report) -> str:
    """The report as text for the terminal."""
    sampled = "the whole file" if report.complete else f"the first {_size(report.read_bytes)}"
    out = [f"{report.uri}  ({_size(report.size)}{', gzip' if report.compressed else ''}; sampled {sampled})", ""]
    encoding = report.encoding + (" (byte-order mark)" if report.bom else "")
    out += [
        "format",
        f"  encoding   {encoding}" + (f"\n             {report.encoding_hint}" if report.encoding_hint else ""),
        f"  delimiter  {_delimiter_label(report.delimiter)}",
        f"  gzip       {'yes' if report.compressed else 'no'}",
        f"  decimal    {_q(report.decimal)}" + ("  (decimal commas such as 1.234,56)" if report.decimal == "," else ""),
        f"  rows       {report.rows:,} sampled",
        "",
        "columns",
    ]
    user_id = report.user_id_candidates[0] if report.user_id_candidates else None
    headers = ("column", "type", "empty", "distinct", "samples")
    table = [
        (
            c.name + (f" -> {c.attribute}" if c.attribute != c.name and c.name != user_id else ""),
            c.type + (f" {c.format}" if c.format else ""),
            _pct(c.empty),
            _pct(c.distinct),
            _sample_text(c.samples),
        )
        for c in report.columns
    ]
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(4)]
    for row in [headers, *table]:
        out.append("  " + "  ".join(v.ljust(w) for v, w in zip(row[:4], widths)) + "  " + row[4])
    out.append("")
    if report.user_id_candidates:
        out.append("user ID candidates (filled and unique in the sample): " + ", ".join(report.user_id_candidates))
    else:
        out.append("user ID candidates: none (no column is filled and unique in the sample)")
    for note in report.notes:
        out.append(f"note: {note}")
    name = integration_name(report.key)
    out += [
        "",
        f"config (save as dags/integrations/{name}.yaml, check with `inbound validate`, "
        f"try with `inbound run {name} --key {report.key}`):",
        "",
        to_yaml(report, name).rstrip("\n"),
    ]
    return "\n".join(out) + "\n"
