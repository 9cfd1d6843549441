"""What a run did, file by file: typed records, turned into JSON only at the edges (XCom, CLI, API).

`FileResult` is where one file stands between the steps; `RunSummary` is what a whole run
did. Both are frozen: each step returns a new record instead of changing the old one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from inbound.errors import Problem
from inbound.mapping.drift import Shape
from inbound.mapping.drift import note as drift_note
from inbound.outcome import Outcome
from inbound.s3.layout import S3File
from inbound.store import WriteResult

COUNTS = ("inserted", "updated", "unchanged", "cleared", "removed", "deleted")
# The XCom keys of a DAG run's answer: finalize's `inbound_outcome` (outcome, state, message,
# summary: how the run ended, whatever its end) and a failed task's `inbound_error` (its reason).
OUTCOME_XCOM = "inbound_outcome"
ERROR_XCOM = "inbound_error"


@dataclass(frozen=True)
class FileResult:
    """Where one file stands in a run.

    `error` (with its `problem` kind) marks a data problem: the file goes to failed/. A file
    with neither an error nor a `write` was not processed (an earlier step broke off) and
    stays for the next run.
    """

    s3_file: S3File
    stage: str | None = None  # staged attribute set (Parquet), until finalize
    rejects: str | None = None  # staged rejected rows (Parquet), until finalize
    rows_read: int = 0
    rows_rejected: int = 0
    rejected_by: tuple[tuple[str, str | None, int], ...] = ()  # rows per (kind, column), `mapping.rejects.REJECT_KINDS`
    # the same groups with their first line numbers (`mapping.rejected_lines`): where to look, no values
    rejected_lines: tuple[tuple[str, str | None, int, tuple[int, ...]], ...] = ()
    staged_rows: int | None = None  # rows in the staged set: what the write must find there
    headers_skipped: int = 0  # repeated header lines (exports joined with `cat`): neither read nor rejected
    header_lines: tuple[int, ...] = ()  # their first line numbers (`mapping.LINES_SHOWN`)
    shape: Shape | None = None  # the file's header and how it drifted from the last import (`mapping.drift`)
    deletions: str | None = None  # staged users the file deletes (`delete_when`), until finalize
    deletion_rows: int = 0  # rows in that set: what the write must find there
    repeat_of: int | None = None  # the earlier import this file repeats: the write logs a skip
    error: str | None = None
    problem: Problem | None = None
    write: WriteResult | None = None
    previewed: bool = False  # a dry run: nothing was written or moved; `write`/`error` say what would happen
    final_key: str | None = None
    report_keys: tuple[str, ...] = ()
    waiting_for: tuple[str, ...] = ()  # a shared file: readers still to go

    @property
    def outcome(self) -> Outcome:
        if self.error:
            return Outcome.FAILED
        if self.write is None:
            return Outcome.PENDING
        return Outcome.PREVIEWED if self.previewed else Outcome.SUCCESS

    @property
    def moves(self) -> bool:
        """Whether finalize moves the file: a settled outcome of a real run (never a dry run)."""
        return self.outcome.settled and not self.previewed

    @property
    def skipped(self) -> bool:
        """Identical to an earlier import: nothing was written."""
        return self.write is not None and self.write.skipped

    def failed_with(self, error: str, problem: Problem) -> FileResult:
        return replace(self, error=error, problem=problem)

    def to_json(self, *, values: bool = True) -> dict[str, Any]:
        """The XCom and `--json` form (the keys the CLI has always printed); `values=False` (what XCom
        gets) leaves out a dry run's sample of changed users, as `RunSummary.lines` does."""
        return {
            "file": self.s3_file.to_dict(),
            "outcome": str(self.outcome),
            "stage": self.stage,
            "rejects": self.rejects,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "rejected_by": [{"kind": k, "column": c, "rows": n} for k, c, n in self.rejected_by],
            "rejected_lines": [
                {"kind": k, "column": c, "rows": n, "lines": list(lines)} for k, c, n, lines in self.rejected_lines
            ],
            "staged_rows": self.staged_rows,
            "headers_skipped": self.headers_skipped,
            "header_lines": list(self.header_lines),
            "shape": None if self.shape is None else self.shape.to_json(),
            "drift": None if self.shape is None else drift_note(self.shape),
            "deletions": self.deletions,
            "deletion_rows": self.deletion_rows,
            "repeat_of": self.repeat_of,
            "dry_run": self.previewed,
            "error": self.error,
            "problem": None if self.problem is None else str(self.problem),
            "write": None if self.write is None else _write_json(self.write, self.previewed, values=values),
            "final_key": self.final_key,
            "report_keys": list(self.report_keys),
            "waiting_for": list(self.waiting_for),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileResult:
        write = data.get("write")
        return cls(
            s3_file=S3File.from_dict(data["file"]),
            stage=data.get("stage"),
            rejects=data.get("rejects"),
            rows_read=int(data.get("rows_read", 0)),
            rows_rejected=int(data.get("rows_rejected", 0)),
            rejected_by=tuple((r["kind"], r["column"], int(r["rows"])) for r in data.get("rejected_by", ())),
            rejected_lines=tuple(
                (r["kind"], r["column"], int(r["rows"]), tuple(int(x) for x in r["lines"]))
                for r in data.get("rejected_lines", ())
            ),
            staged_rows=None if data.get("staged_rows") is None else int(data["staged_rows"]),
            headers_skipped=int(data.get("headers_skipped", 0)),
            header_lines=tuple(int(x) for x in data.get("header_lines", ())),
            shape=Shape.from_json(data.get("shape")),
            deletions=data.get("deletions"),
            deletion_rows=int(data.get("deletion_rows", 0)),
            repeat_of=None if data.get("repeat_of") is None else int(data["repeat_of"]),
            error=data.get("error"),
            problem=Problem(data["problem"]) if data.get("problem") else None,
            write=None if write is None else WriteResult.from_dict(write),
            previewed=bool(data.get("dry_run") or (write and write.get("dry_run"))),
            final_key=data.get("final_key"),
            report_keys=tuple(data.get("report_keys", ())),
            waiting_for=tuple(data.get("waiting_for", ())),
        )


@dataclass(frozen=True)
class RunSummary:
    """What one run did, file by file; what the CLI prints and the DAG's last task returns."""

    integration: str
    files: Sequence[FileResult] = field(default_factory=tuple)
    settled: Sequence[str] = field(default_factory=tuple)  # shared files this run moved for all readers

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.outcome not in (Outcome.SUCCESS, Outcome.PREVIEWED)]

    def total(self, count: str) -> int:
        return sum(getattr(f.write, count) for f in self.files if f.write is not None)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_written(self) -> int:
        return sum(f.write.rows_written for f in self.files if f.write is not None and not f.previewed)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def headers_skipped(self) -> int:
        return sum(f.headers_skipped for f in self.files)

    def drift_note(self) -> str:
        """How the header changed: the note of the run's last file whose header drifted, and how many did."""
        notes = [n for n in (drift_note(f.shape) for f in self.files if f.shape is not None) if n]
        if not notes:
            return ""
        return notes[-1] + (f" ({len(notes)} files)" if len(notes) > 1 else "")

    def _skipped_note(self) -> str:
        """The repeated header lines skipped, with their lines when one file has them all."""
        files = [f for f in self.files if f.headers_skipped]
        if len(files) == 1:
            return headers_skipped_note(files[0].headers_skipped, files[0].header_lines)
        return f"{self.headers_skipped} repeated header line(s) skipped in {len(files)} files" if files else ""

    @property
    def outcome(self) -> Outcome:
        if not self.files:
            return Outcome.NO_NEW_FILE
        if self.failed:
            return Outcome.FAILED
        return Outcome.PREVIEWED if all(f.previewed for f in self.files) else Outcome.SUCCESS

    @property
    def dry_run(self) -> bool:
        return bool(self.files) and all(f.previewed for f in self.files)

    def message(self) -> str:
        """The run's outcome in one sentence (the CLI's last line, the UI's answer, the task's log)."""
        if not self.files:
            moved = f"; {len(self.settled)} shared file(s) moved" if self.settled else ""
            return f"no new file{moved}"
        names = ", ".join(f.s3_file.key for f in self.files[:3]) + (
            f" and {len(self.files) - 3} more" if len(self.files) > 3 else ""
        )
        if self.failed:
            reasons = "; ".join(f"{f.s3_file.uri}: {f.error or _NOT_PROCESSED}" for f in self.failed)
            if self.dry_run:
                return f"dry run: would fail: {reasons}. Nothing was written or moved"
            return f"failed: {reasons}"
        imported = self.rows_read - self.rows_rejected
        if all(f.skipped for f in self.files):
            verb = "would skip" if self.dry_run else "skipped"
            return f"{verb} {names}: identical to an earlier import, nothing to write"
        notes = [f"{self.rows_rejected} rejected" if self.rows_rejected else "", self._skipped_note()]
        rejected = f" ({'; '.join(n for n in notes if n)})" if any(notes) else ""
        changes = ", ".join(f"{self.total(c)} {c}" for c in COUNTS if self.total(c)) or "no change"
        drift = f". {self.drift_note()}" if self.drift_note() else ""
        if self.dry_run:
            return (
                f"dry run: would import {imported} rows from {names}{rejected}: {changes}{drift}. "
                "Nothing was written or moved"
            )
        return f"imported {imported} rows from {names}{rejected}: {changes}{drift}"

    def to_json(self, *, values: bool = True) -> dict[str, Any]:
        """The run as JSON: `inbound run --json`, and with `values=False` (no sample of changed users)
        what the DAG answers in XCom."""
        return {
            "integration": self.integration,
            "outcome": str(self.outcome),
            "dry_run": self.dry_run,
            "message": self.message(),
            "files": len(self.files),
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            "headers_skipped": self.headers_skipped,
            **{c: self.total(c) for c in COUNTS},
            "settled": list(self.settled),
            "results": [f.to_json(values=values) for f in self.files],
        }

    def lines(self, *, values: bool = True) -> list[str]:
        """The summary as the CLI prints it; `values=False` (what the task log gets) leaves out the
        dry run's sample of changed users: logs carry counts, lines and column names, never values."""
        dry = " (dry run)" if self.dry_run else ""
        skipped = f", {self.headers_skipped} repeated header line(s) skipped" if self.headers_skipped else ""
        out = [
            f"{self.integration}: {self.outcome}{dry}: {len(self.files)} file(s), {self.rows_read} rows read, "
            f"{self.rows_written} written, {self.rows_rejected} rejected{skipped}"
        ]
        for result in self.files:
            out.extend(_file_lines(result, values=values))
        out.extend(f"  settled   {key} (every reader is done; moved)" for key in self.settled)
        out.append(f"{self.integration}: {self.message()}")
        return out


def _write_json(write: WriteResult, previewed: bool, *, values: bool) -> dict[str, Any]:
    """A file's write as JSON; without `values`, its sample (user IDs, old and new values) is empty."""
    found = {**write.to_dict(), "dry_run": previewed}
    return found if values else {**found, "sample": []}


def headers_skipped_note(count: int, lines: Sequence[int]) -> str:
    """`2 repeated header line(s) skipped (lines 4, 9)`: what a summary, a log and a report say of them."""
    more = ", ..." if count > len(lines) else ""
    return f"{count} repeated header line(s) skipped (lines {', '.join(str(x) for x in lines)}{more})"


_NOT_PROCESSED = "not processed (an earlier task failed; the file stays for the next run)"


def _file_lines(result: FileResult, *, values: bool) -> list[str]:
    if result.previewed:
        would = "would fail" if result.error else "would skip" if result.skipped else "would import"
        where = f" (dry run: {would}; nothing written or moved, the file stays)"
    elif result.waiting_for:
        where = f" (done here; it stays until {', '.join(result.waiting_for)} read it)"
    else:
        where = f" -> {result.final_key}" if result.final_key else " (left in place for the next run)"
    reason = f": {result.error}" if result.error else ""
    out = [f"  {result.outcome!s:9s} {result.s3_file.uri}{where}{reason}"]
    for kind, column, rows, lines in result.rejected_lines:
        more = ", ..." if rows > len(lines) else ""
        place = f" in {column!r}" if column else ""
        shown = ", ".join(str(x) for x in lines)
        out.append(f"            rejected: {rows} row(s) {kind}{place}, line(s) {shown}{more}")
    if result.headers_skipped:
        out.append(f"            {headers_skipped_note(result.headers_skipped, result.header_lines)}")
    drift = None if result.shape is None else drift_note(result.shape)
    if drift:
        out.append(f"            {drift}")
    write = result.write
    if write is not None:
        note = " (skipped: identical to an earlier import)" if write.skipped else ""
        out.append(
            f"            {write.inserted} inserted, {write.updated} updated, {write.unchanged} unchanged, "
            f"{write.cleared} values cleared, {write.removed} removed"
            f"{f', {write.deleted} deleted' if write.deleted else ''}{note}"
        )
        for change in write.sample if values else ():
            pairs = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in change["changes"].items())
            out.append(f"            {change['user_id']}: {pairs or 'new'}")
    return out
