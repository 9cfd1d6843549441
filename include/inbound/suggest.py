""" "Did you mean": one rule for every near miss (config keys, presets, time zones, names, columns)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], *, cutoff: float = 0.6, n: int = 1) -> list[str]:
    """The `n` choices nearest to `word` (case kept), best first."""
    return difflib.get_close_matches(str(word), list(choices), n=n, cutoff=cutoff)


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6, otherwise: str = "") -> str:
    """`"; did you mean 'x'?"` for the nearest choice, else `otherwise` (e.g. "; known: a, b")."""
    found = closest(word, choices, cutoff=cutoff)
    return f"; did you mean {found[0]!r}?" if found else otherwise
