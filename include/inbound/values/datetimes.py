"""Which date and time texts the import reads: the ISO-8601 forms and the strftime directives of `format`.

chrono (polars' parser) is lenient where a person's export is not: under `%Y` it reads `26` as
the year 26 and `+2026` as 2026, `%d` takes `5` anywhere, trailing spaces and doubled spaces
pass, and a year out of its range raises instead of failing one value. So every layout is also
a regular expression that describes exactly the texts it accepts: `inbound.values.casts` lets through
to chrono only the values that match it, so a value is read as the date it spells or is
rejected, never read as another date.

No polars here: the config checks a `format` with `format_problem` without loading it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

_TWO = "[0-9]{2}"  # [0-9], not \d: the regex crate's \d is any Unicode digit, chrono reads ASCII ones
# ISO-8601 as the README documents it; each part exactly its width, so chrono only checks ranges.
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ISO_OFFSET = r"Z|[+-][0-9]{2}(?::?[0-9]{2})?"  # Z, ±hh, ±hhmm, ±hh:mm
ISO_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    rf"(?:[T ][0-9]{{2}}:[0-9]{{2}}(?::[0-5][0-9](?:\.[0-9]{{1,9}})?)?(?:{ISO_OFFSET})?)?$"
)
ISO_FORMS = (
    "YYYY-MM-DD, then optionally T or a space and HH:MM, :SS, .fraction (1 to 9 digits), "
    "then optionally a zone: Z, +hh, +hhmm or +hh:mm (or -)"
)

# English, as chrono reads them (and Python's strftime writes them in the C locale); any case.
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _names(names: list[str], size: int | None = None) -> str:
    return "(?i:" + "|".join(name[:size] for name in names) + ")"


# directive -> (regex of exactly what it reads, chrono's directive for it)
_DIRECTIVES: dict[str, tuple[str, str]] = {
    "Y": ("[0-9]{4}", "%Y"),
    "y": (_TWO, "%y"),
    "m": (_TWO, "%m"),
    "d": (_TWO, "%d"),
    "H": (_TWO, "%H"),
    "I": (_TWO, "%I"),
    "M": ("[0-5][0-9]", "%M"),
    "S": ("[0-5][0-9]", "%S"),  # no leap second: chrono would read :60 as the next minute
    "f": ("[0-9]{6}", "%6f"),  # Python's %f, six digits of microseconds (chrono's %f is nanoseconds)
    ".f": (r"(?:\.[0-9]{1,9})?", "%.f"),
    ".3f": (r"\.[0-9]{3}", "%.3f"),
    ".6f": (r"\.[0-9]{6}", "%.6f"),
    ".9f": (r"\.[0-9]{9}", "%.9f"),
    "3f": ("[0-9]{3}", "%3f"),
    "6f": ("[0-9]{6}", "%6f"),
    "9f": ("[0-9]{9}", "%9f"),
    "z": ("[+-][0-9]{2}:?[0-9]{2}", "%z"),
    ":z": ("[+-][0-9]{2}:?[0-9]{2}", "%:z"),
    "#z": (f"(?:{ISO_OFFSET})", "%#z"),
    "b": (_names(_MONTHS, 3), "%b"),
    "h": (_names(_MONTHS, 3), "%b"),
    "B": (_names(_MONTHS), "%B"),
    "a": (_names(_WEEKDAYS, 3), "%a"),
    "A": (_names(_WEEKDAYS), "%A"),
    "p": ("(?i:[ap]m)", "%p"),
    "P": ("(?i:[ap]m)", "%p"),
    "%": ("%", "%%"),
}
_SHORTHANDS = {"F": "%Y-%m-%d", "T": "%H:%M:%S", "R": "%H:%M", "D": "%m/%d/%y"}
# Day, month and hour may drop their leading zero (Excel writes 5.1.2026 9:05) where a
# separator stands on both sides; between digits (%Y%m%d) they are two digits.
_UNPADDED = {"d", "m", "H", "I"}
_UNPADDED_SPELLED = {f"-{d}" for d in _UNPADDED}  # Python's (glibc's) spelling of an unpadded number
_UNPADDED_SPELLED_TOKENS = {f"%{d}" for d in _UNPADDED_SPELLED}
_NUMERIC = {"Y", "y", "m", "d", "H", "I", "M", "S", "f", "3f", "6f", "9f"}
_ZONES = {"z", ":z", "#z"}
SUPPORTED = (
    "%Y %y %m %-m %d %-d %b %h %B %a %A %H %-H %I %-I %p %P %M %S %f %.f %.3f %.6f %.9f %3f %6f %9f "
    "%z %:z %#z %F %T %R %D %%"
)
# The regex crate's meta characters: escaped, they are literals; any other character is one as it is
# (an escaped `<` would be a word boundary).
_META = set("\\.+*?()|[]{}^$#&-~")


@dataclass(frozen=True)
class Layout:
    """A `format` as a regex of the texts it accepts and the layout chrono parses them with."""

    pattern: str
    chrono: str
    zoned: bool  # the text carries its offset: no `timezone` applies


def _tokens(format: str) -> list[str]:
    """The format as directives (`%d`, `%-d`, `%.3f`; shorthands such as `%F` spelled out) and single literal
    characters; ValueError, naming the directives that are read, on any other directive."""
    out: list[str] = []
    i = 0
    while i < len(format):
        if format[i] != "%":
            out.append(format[i])
            i += 1
            continue
        for size in (3, 2, 1):
            name = format[i + 1 : i + 1 + size]
            if len(name) == size and (name in _DIRECTIVES or name in _SHORTHANDS or name in _UNPADDED_SPELLED):
                break
        else:
            shown = format[i : i + 2]
            raise ValueError(f"format {format!r}: {shown!r} is not a directive inbound reads; it reads {SUPPORTED}")
        if name in _SHORTHANDS:
            out.extend(_tokens(_SHORTHANDS[name]))
        else:
            out.append("%" + name)
        i += 1 + size
    return out


def _digit_side(token: str | None) -> bool:
    """Whether a neighbour of a number may begin or end with a digit (then the number keeps its width)."""
    if token is None:
        return False
    if token.startswith("%"):
        return token[1:].lstrip("-") in _NUMERIC
    return token in string.digits


def _between_digits(tokens: list[str], i: int) -> bool:
    """Whether the number at `i` touches another number or a digit of the format (then it keeps its width)."""
    return _digit_side(tokens[i - 1] if i else None) or _digit_side(tokens[i + 1] if i + 1 < len(tokens) else None)


def _literal(char: str) -> str:
    return "\\" + char if char in _META else char


def layout(format: str) -> Layout:
    """The regex and chrono layout of a strftime `format`; ValueError (saying what is read) on a directive it cannot."""
    tokens = _tokens(format)
    pattern, chrono = [], []
    for i, token in enumerate(tokens):
        if not token.startswith("%"):
            pattern.append(_literal(token))
            chrono.append(token)
            continue
        name = token[1:].lstrip("-")
        regex, directive = _DIRECTIVES[name]
        if name in _UNPADDED and not _between_digits(tokens, i):
            regex = "[0-9]{1,2}"
        pattern.append(regex)
        chrono.append(directive)
    zoned = any(t[1:] in _ZONES for t in tokens if t.startswith("%"))
    return Layout("^" + "".join(pattern) + "$", "".join(chrono), zoned)


def format_problem(format: str) -> str | None:
    """Why `format` cannot read a date (an unknown directive, no year, month or day), or None."""
    try:
        listed = _tokens(format)
    except ValueError as exc:
        return str(exc)
    tokens = {token.replace("%-", "%") for token in listed}
    missing = [
        part
        for part, spellings in (("a year (%Y or %y)", "Yy"), ("a month (%m or %b)", "mbhB"), ("a day (%d)", "d"))
        if not any(f"%{s}" in tokens for s in spellings)
    ]
    if missing:
        return f"format {format!r} lacks {' and '.join(missing)}: a date needs a year, a month and a day"
    if ("%I" in tokens) != ("%p" in tokens or "%P" in tokens):
        return f"format {format!r}: %I (hour 1-12) and %p (AM/PM) go together; for 0-23 use %H"
    for i, token in enumerate(listed):
        if token in _UNPADDED_SPELLED_TOKENS and _between_digits(listed, i):
            plain = token.replace("-", "")
            return (
                f"format {format!r}: {token} next to a digit is ambiguous (is 112 1 and 12, or 11 and 2?); use {plain}"
            )
    return None


def misfit_hint(kind: str, format: str | None) -> str:
    """What a date or timestamp that did not fit should look like; under `%Y`, that `%y` exists."""
    if format is None:
        return "not a date (YYYY-MM-DD)" if kind == "date" else f"not a timestamp ({ISO_FORMS}; or a bare date)"
    hint = f"not a {kind} in the format {format!r}"
    if "%Y" in format or "%F" in format:
        hint += " (%Y is a four-digit year; for two digits, as in 05.01.26, the format says %y)"
    return hint
