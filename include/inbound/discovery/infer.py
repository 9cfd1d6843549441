"""What `inbound discover` concludes from a sample: encoding, decimal mark, column types, names.

Every guess is checked with the import's own code: a column is typed `integer` only when
`inbound.mapping.mapper.cast_attribute` casts every sampled value of it, so a config proposed from
the sample imports that sample without a rejected row.
"""

from __future__ import annotations

import codecs
import re

import polars as pl

from inbound.config.names import NAME_PATTERN, snake_case
from inbound.config.sections import Attribute
from inbound.mapping.mapper import cast_attribute as cast_series

# Layouts tried after ISO-8601 when a column does not cast as an ISO date / timestamp, in this
# order: where several fit every sampled value (01/02/2026), the first is proposed and all are offered.
DATE_FORMATS = ("%d.%m.%Y", "%d.%m.%y", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%Y/%m/%d", "%d-%m-%Y")
TIMESTAMP_FORMATS = tuple(f"{d} {t}" for d in DATE_FORMATS for t in ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p"))
_ID_WORDS = {"email": 0, "mail": 0, "user": 1, "username": 1, "userid": 1, "login": 1, "id": 2}
_DATE_IN_NAME = re.compile(
    r"(?<!\d)(?:"
    r"(?:19|20)\d{2}[-_.]?(?:0[1-9]|1[0-2])[-_.]?(?:0[1-9]|[12]\d|3[01])"  # 2026-11-28, 20261128
    r"(?:[T_ -]?[0-2]\d[-:.]?[0-5]\d(?:[-:.]?[0-5]\d)?Z?)?"  # optional time
    r"|(?:0[1-9]|[12]\d|3[01])[-.](?:0[1-9]|1[0-2])[-.](?:19|20)\d{2}"  # 28.11.2026
    r"|(?:19|20)\d{2}[-_]?(?:0[1-9]|1[0-2])"  # 2026-11
    r")(?!\d)"
)


# --------------------------------------------------------------------------- encoding


def guess_encoding(data: bytes) -> tuple[str, bool, str | None]:
    """(format.encoding, whether the file has a BOM, a hint for the user when it is not UTF-8)."""
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
    except UnicodeDecodeError:
        hint = (
            f"not UTF-8 ({where}) nor Windows-1252; sampled as latin-1: set `format.encoding` "
            "to the file's encoding (ask the exporting system)"
        )
        return "latin-1", False, hint
    hint = (
        f"not UTF-8 ({where}); it decodes as Windows-1252 (Excel on Windows): set "
        "`format.encoding: cp1252` (check the umlauts in the samples below)"
    )
    return "cp1252", False, hint


# --------------------------------------------------------------------------- types


def _casts(frame: pl.DataFrame, column: str, kind: str, decimal: str, fmt: str | None = None) -> bool:
    """Every non-empty value of the column casts to the type, exactly as the import casts it."""
    attribute = Attribute(column=column, name="probe", type=kind, format=fmt)
    text = frame.get_column(column).str.strip_chars()
    text = text.set(text == "", None)
    filled = text.is_not_null().sum()
    return bool(filled > 0 and filled == cast_series(text, attribute, decimal, "UTC").is_not_null().sum())


def infer_type(frame: pl.DataFrame, column: str, decimal: str) -> tuple[str, str | None]:
    """The narrowest attribute type every sampled value fits, and its date format if not ISO-8601."""
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


def fitting_formats(frame: pl.DataFrame, column: str, kind: str, decimal: str) -> list[str]:
    """Every layout of `kind` (date or timestamp) that casts every sampled value, the proposed one first.

    What the wizard offers beside the proposal: `01/02/2026` fits `%m/%d/%Y` and `%d/%m/%Y`, and
    only the person who knows the export can tell which it is.
    """
    layouts = {"date": DATE_FORMATS, "timestamp": TIMESTAMP_FORMATS}.get(kind, ())
    return [fmt for fmt in layouts if _casts(frame, column, kind, decimal, fmt)]


def decimal_mark(frame: pl.DataFrame, columns: list[str], delimiter: str) -> str:
    """ "," when number-like columns are written with decimal commas (1.234,56 / 3,5), else ".".

    The values decide, whatever the delimiter: a comma-separated file quotes its decimal
    commas ("38,5"). Values that read either way (1,234 / 1.234) count for neither.
    """
    del delimiter  # kept for the callers: the mark is read from the values alone
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


def id_rank(column: str) -> int:
    """How much a column's name sounds like a user ID: 0 (an e-mail) to 3 (nothing like it)."""
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
    words = (snake_case(folder) if folder else "", snake_case(stem) if stem.strip("_-. ") else "")
    name = re.sub(r"_+", "_", "_".join(w for w in words if w).lower()).strip("_") or "integration"
    if not re.match(NAME_PATTERN, name):
        name = f"i_{name}"
    return name[:63].rstrip("_")


def key_glob(key: str) -> str:
    """The key with a date-like part of its file name as `*` (users_2026-11-28.csv -> users_*.csv)."""
    folder, _, name = key.rpartition("/")
    glob = _DATE_IN_NAME.sub("*", name)
    return f"{folder}/{glob}" if folder else glob
