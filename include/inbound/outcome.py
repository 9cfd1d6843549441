"""One vocabulary for how things ended: a file in a run, an import-log entry, a run, a table row.

A `StrEnum`, so the values are the words the CLI, the JSON API, the import log and the
docs have always used (`"success"`, `"no new file"`, ...): JSON and SQL see plain text.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    SUCCESS = "success"  # imported (a file), or a run whose files all imported
    FAILED = "failed"  # refused, with a reason; the file went (or goes) to failed/
    PREVIEWED = "previewed"  # a dry run: nothing written, the file stays
    PENDING = "pending"  # not processed (an earlier step broke off): the file stays for the next run
    NO_NEW_FILE = "no new file"  # a run that found nothing to import
    RUNNING = "running"  # a run still under way (the management table)
    NEVER_RUN = "never run"  # an integration without any run yet
    CONFIG_ERROR = "config error"  # a config that does not load
    PURGED = "purged"  # import log: every value of an integration removed
    FORGOTTEN = "forgotten"  # import log: one person's values erased

    @property
    def settled(self) -> bool:
        """A file outcome that moves the file (to success/ or failed/)."""
        return self in (Outcome.SUCCESS, Outcome.FAILED)
