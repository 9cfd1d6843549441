"""The volume guard: an export that is still valid CSV but plainly broken is not imported.

A producer's job that ran half-way, or exported one column blank, sends a file that parses and
maps without a rejected row. Imported, it would overwrite (or, in mirror mode, remove) good
values. So a file fails as a suspicious export, with nothing written, when

- its rows fall by more than `max_row_drop` below the median of the integration's last
  `VOLUME_HISTORY` imports (once it has `VOLUME_MIN_HISTORY`: a new integration has no usual
  size yet), or
- with `guard_empty_columns`, a read column that had values in the last import is empty in
  every row of this one.

The reason says what changed and how to go on: a trigger with `force` imports the file as it is.
"""

from __future__ import annotations

from statistics import median

from inbound.config.model import VOLUME_HISTORY, VOLUME_MIN_HISTORY, Integration
from inbound.mapping.drift import SHOWN, Known, Shape
from inbound.suggest import echo

FORCE = (
    "nothing was imported. If the export really is this way, re-import the file with force: trigger the "
    "DAG with the params key (the file's key in failed/) and force, or `inbound run <name> --key <key> --force`"
)


def suspicious(rows_read: int, shape: Shape, known: Known | None, integration: Integration) -> str | None:
    """Why this file looks like a broken export (None: it does not, or there is no history to tell)."""
    if known is None:
        return None
    reasons = [r for r in (_row_drop(rows_read, known, integration), _emptied(shape, known, integration)) if r]
    return f"suspicious export: {'; '.join(reasons)}; {FORCE}" if reasons else None


def _row_drop(rows_read: int, known: Known, integration: Integration) -> str | None:
    limit = integration.max_row_drop
    history = known.recent_rows[:VOLUME_HISTORY]
    if limit is None or len(history) < VOLUME_MIN_HISTORY:
        return None
    usual = median(history)
    if not usual or rows_read >= usual * (1 - limit):
        return None
    drop = 1 - rows_read / usual
    return (
        f"{rows_read:,} rows, {drop:.0%} fewer than the median of the last {len(history)} imports "
        f"({usual:,.0f} rows); max_row_drop is {limit:.0%}"
    )


def _emptied(shape: Shape, known: Known, integration: Integration) -> str | None:
    if not integration.guard_empty_columns:
        return None
    before, now = dict(known.shape.filled), dict(shape.filled)
    columns = {a.attribute: a.column for a in integration.attributes}
    emptied = [(a, before[a]) for a in columns if before.get(a) and now.get(a) == 0]
    if not emptied:
        return None
    shown = ", ".join(
        f"{echo(columns[a])} (attribute {a}: {n:,} rows had a value at the import of {known.day})"
        for a, n in emptied[:SHOWN]
    )
    more = f" and {len(emptied) - SHOWN} more" if len(emptied) > SHOWN else ""
    s = "s" if len(emptied) != 1 else ""
    return f"column{s} empty in every row: {shown}{more}"
