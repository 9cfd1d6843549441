"""One family of errors, sorted by what has to happen next.

    InboundError
    ├── BadFile            the file is wrong: it goes to failed/ with the reason (never retried)
    │   └── MirrorGuard    a mirror file would remove too many users (`force` overrides)
    ├── Unavailable        a service failed after its own retries: the task retries, the file stays
    │   ├── SourceUnavailable   S3
    │   ├── StoreUnavailable    the attribute store's database
    │   └── StageGone           a run's staged set is missing or not whole: re-run the whole run
    ├── FileChanged        the object changed after it was read: left for the next run
    ├── ConfigInvalid      a config breaks a rule (file, line, field, how to fix)
    ├── SchemaMismatch     the store's schema is not this code's version: a deploy step is missing
    │   ├── SchemaBehind   older (or none yet): run `inbound migrate`; nothing is read or written
    │   └── SchemaAhead    newer: upgrade inbound on this machine; reads work, every write is refused
    ├── ReceivedInvalid    what a task received (XCom) is not of its integration and run
    └── UsageError         a command or request asks for something that cannot be
        ├── UnknownKey     a key that is not one of the source's files
        │   └── MissingKey a key with no object (it may have moved: the import log says where)
        ├── RuleError      a segment rule that cannot be evaluated
        └── DiscoveryError an export that cannot be sampled

A data problem keeps its kind and its place: `BadFile.problem` says which check failed
(`Problem`), and where in the file (`line`, `column`) when the whole file fails at one spot.
"""

from __future__ import annotations

from enum import StrEnum


class Problem(StrEnum):
    """Why a file (or a row of it) was refused: the kinds a report and an alert can tell apart."""

    TOO_LARGE = "too_large"
    NOT_CSV = "not_csv"
    ENCODING = "encoding"
    COMPRESSION = "compression"
    EMPTY = "empty"
    HEADER = "header"
    MALFORMED = "malformed"  # the CSV structure is broken: a quote never closed, records that do not parse
    MISSING_COLUMN = "missing_column"
    TOO_MANY_REJECTED = "too_many_rejected"
    MIRROR_GUARD = "mirror_guard"
    SUSPICIOUS_VOLUME = "suspicious_volume"  # far fewer rows than usual, or a read column emptied (`mapping.volume`)
    NEW_COLUMNS = "new_columns"
    DELETION_GUARD = "deletion_guard"  # a file would delete more of the users than `max_deleted` allows  # columns the config does not read, new since the last import (`on_new_columns: fail`)
    INTERNAL = "internal"  # an unexpected error while reading, mapping or writing this file (a bug)


class InboundError(Exception):
    """The root of every error this package raises on purpose."""


class BadFile(InboundError):
    """The file cannot be imported as it is: it goes to failed/ and the reason goes with it.

    :param message: what is wrong and how to fix it, for a person.
    :param problem: which check refused it.
    :param line: the file's physical line (1 = header) when the problem sits at one line.
    :param column: the header name when the problem sits in one column.
    """

    def __init__(self, message: str, problem: Problem, *, line: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return self.message


class MirrorGuard(BadFile):
    """A mirror file would remove more users than `mirror_max_removed` allows: refused as suspicious."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Problem.MIRROR_GUARD)


class DeletionGuard(BadFile):
    """A file's `delete_when` rule would delete more users than `max_deleted` allows: refused as suspicious."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Problem.DELETION_GUARD)


class Unavailable(InboundError):
    """A service kept failing after retries with back-off; nothing was moved or written."""


class SourceUnavailable(Unavailable):
    """S3 kept failing (throttling, 5xx, no connection) after the client's retries."""


class StoreUnavailable(Unavailable):
    """The store's database could not be reached, even after retries with back-off."""


class StageGone(Unavailable):
    """A run's staged set is gone or not what was staged (expired, wiped, cleared, tampered with).

    Retrying the task cannot bring it back: only a new run of the whole DAG run maps the file
    again. Nothing was written and the file stays where it is.
    """


class FileChanged(InboundError):
    """The object was rewritten or removed after it was read: it is left for the next run."""


class ConfigInvalid(InboundError):
    """One or more config files break a rule; `str()` lists each with file, line and fix."""


class SchemaMismatch(InboundError):
    """The attribute store's schema is not the version this code knows: a deploy step is missing.

    Not `Unavailable`: retrying cannot help until someone migrates the store or upgrades this
    machine; a task fails at once with the message, and the files stay where they are.
    """


class SchemaBehind(SchemaMismatch):
    """The store's schema is older than the code's (or there is none yet): `inbound migrate` (the
    deploy step) brings it up to date. Nothing is read or written until then."""


class SchemaAhead(SchemaMismatch):
    """The store's schema is newer than the code's (a newer inbound migrated it): this machine's
    inbound reads it, but refuses every write until it is upgraded."""


class ReceivedInvalid(InboundError):
    """A task received (through XCom, which users may edit) a config, a file or a staged set that
    is not of its own integration and run: it writes nothing and fails."""


class UsageError(InboundError):
    """A command, a parameter or a request asks for something that cannot be done."""


class UnknownKey(UsageError):
    """A key asked for by name (a re-import) that is not one of the source's files."""


class MissingKey(UnknownKey):
    """A key asked for by name that has no object (never was, or moved since)."""


class RuleError(UsageError):
    """A segment rule that cannot be evaluated; the message says where and why."""


class DiscoveryError(UsageError):
    """An export that cannot be sampled (missing, forbidden, not a CSV)."""
