"""How a message points at what a config said: "did you mean" for near misses, `echo` for the input.

One rule for every near miss (config keys, presets, time zones, names, columns), and one
for showing a value from a config: never more than a short prefix of it.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], *, cutoff: float = 0.6, n: int = 1) -> list[str]:
    """The `n` choices nearest to `word` (case kept), best first."""
    return difflib.get_close_matches(str(word), list(choices), n=n, cutoff=cutoff)


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6, otherwise: str = "") -> str:
    """`"; did you mean 'x'?"` for the nearest choice, else `otherwise` (e.g. "; known: a, b")."""
    found = closest(word, choices, cutoff=cutoff)
    return f"; did you mean {found[0]!r}?" if found else otherwise


_ECHO = reprlib.Repr()
_ECHO.maxstring = _ECHO.maxother = 40
_ECHO.maxlist = _ECHO.maxtuple = _ECHO.maxdict = _ECHO.maxset = 3
_ECHO.maxlevel = 1


def echo(value: object) -> str:
    """A value from a config as a message shows it: its repr, cut to a short prefix.

    Whatever a config holds (a 100 kB string, a list an alias expands to a billion items),
    a message never grows with it.
    """
    if isinstance(value, str) and len(value) > 30:
        return f"{value[:30]!r}... ({len(value)} characters)"
    text = _ECHO.repr(value)
    return text if len(text) <= 60 else f"{text[:56]} ..."
