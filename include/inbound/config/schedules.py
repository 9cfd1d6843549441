"""When a config runs and waits: its `schedule` and its ISO-8601 durations, as time spans.

`schedule_interval` turns a preset (`SCHEDULE_PRESETS`), a five-field cron expression or an
ISO-8601 duration into the time between two runs; `iso_duration` checks the durations other
settings take (`alerts.stale_after`). Kept apart from the model (`inbound.config.model`) because
the management pages read the same spans without validating a config.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from pydantic import TypeAdapter, ValidationError

from inbound.suggest import did_you_mean, echo

SCHEDULE_PRESETS: dict[str, timedelta] = {
    "@hourly": timedelta(hours=1),
    "@daily": timedelta(days=1),
    "@midnight": timedelta(days=1),
    "@weekly": timedelta(weeks=1),
    "@monthly": timedelta(days=31),
    "@quarterly": timedelta(days=92),
    "@yearly": timedelta(days=366),
    "@annually": timedelta(days=366),
}


@cache
def _timedelta() -> TypeAdapter[timedelta]:
    """pydantic's ISO-8601 duration parser, built at first use (about 10 ms; most configs use a preset)."""
    return TypeAdapter(timedelta)


def schedule_interval(schedule: str) -> timedelta:
    """The time between two runs; a run waits at most this long for a file."""
    schedule = schedule.strip()
    if schedule in SCHEDULE_PRESETS:
        return SCHEDULE_PRESETS[schedule]
    if schedule.startswith("@"):
        hint = did_you_mean(schedule, SCHEDULE_PRESETS) if len(schedule) <= 64 else ""
        raise ValueError(f"unknown schedule preset {echo(schedule)}{hint}")
    if schedule.upper().startswith("P"):
        try:
            delta = _timedelta().validate_python(schedule)
        except ValidationError:
            raise ValueError(f"{echo(schedule)} is not an ISO-8601 duration such as PT30M or P1D") from None
        if delta < timedelta(minutes=1):
            raise ValueError("the schedule interval must be at least one minute")
        return delta
    # croniter (with dateutil) costs ~0.15 s to import: only configs with a cron schedule pay it.
    from croniter import croniter

    if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise ValueError(
            f"{echo(schedule)} is not a preset (@hourly, @daily, ...), a five-field cron "
            "expression such as '*/15 * * * *', or an ISO-8601 duration such as PT30M"
        )
    runs = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    first: datetime = runs.get_next(datetime)
    second: datetime = runs.get_next(datetime)
    return second - first


def iso_duration(value: str, field: str) -> timedelta:
    """A positive ISO-8601 duration; pydantic alone would also take plain seconds ("3600")."""
    try:
        if not value.upper().startswith("P"):
            raise ValueError
        duration = _timedelta().validate_python(value)
    except (ValidationError, ValueError):
        raise ValueError(f"{field} {echo(value)} is not an ISO-8601 duration such as PT6H or P2D") from None
    if duration <= timedelta(0):
        raise ValueError(f"{field} {echo(value)} must be a positive duration in days, hours or minutes (P2D, PT6H)")
    return duration
