"""The steps for one file, as functions with small, typed, JSON-safe results.

Each DAG task calls one step for the run's files, oldest first; `inbound run` calls the
same steps in order. Nothing else does the work.

    validate_and_map   S3 object -> frame -> attribute set, staged as Parquet
    upsert_attributes  staged attribute set -> store (one transaction per file)
    finalize           file -> success/ or failed/, reports beside it, import log

A data problem (a file without its user-ID column, too many rejected rows) is a result,
not an exception: it is carried to `finalize`, which moves that file to `failed/` with
the reason while the run's other files go on. Anything else (S3 or the store
unreachable) raises, so Airflow retries the task; a file whose run never got that far
stays where it is and the next run picks it up again.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from inbound.config import Catalog, Integration
from inbound.mapping import AttributeSet, map_table
from inbound.reading import FileRejected, read_table
from inbound.shared import readers_of, settle
from inbound.source import FileChanged, S3File, done_key, move_file, read_file, write_text
from inbound.store import AttributeStore, MirrorGuard, WriteResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileResult:
    """Where one file stands in a run. Small and JSON-safe: it travels through XCom."""

    file: dict[str, Any]
    stage: str | None = None  # staged attribute set (Parquet), until finalize
    rejects: str | None = None  # staged rejected rows (Parquet), until finalize
    rows_read: int = 0
    rows_rejected: int = 0
    error: str | None = None  # a data problem: the file goes to failed/
    write: dict[str, int] | None = None  # the store's WriteResult
    final_key: str | None = None
    report_keys: list[str] = field(default_factory=list)
    waiting_for: list[str] = field(default_factory=list)  # a shared file: readers still to go

    @property
    def s3_file(self) -> S3File:
        return S3File.from_dict(self.file)

    @property
    def outcome(self) -> str:
        if self.error:
            return "failed"
        if self.write is not None and self.write.get("dry_run"):
            return "previewed"
        return "success" if self.write is not None else "pending"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileResult:
        return cls(**data)


def staging_root() -> Path:
    """Where attribute sets wait between tasks: `INBOUND_STAGING_DIR`, else under $AIRFLOW_HOME.

    With workers on several machines this must be a shared volume.
    """
    env = os.environ.get("INBOUND_STAGING_DIR")
    if env:
        return Path(env)
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "inbound_staging"


def run_staging(integration: Integration, run_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return staging_root() / integration.dag_id / safe


def validate_and_map(
    client: Any, integration: Integration, file: S3File, staging: Path, store: AttributeStore | None = None
) -> FileResult:
    """Read, check and type one file; stage the attribute set and its rejected rows.

    With a store, a file that repeats an earlier import exactly (same content and config,
    and nothing changed the integration's data since) is not even downloaded.
    """
    result = FileResult(file=file.to_dict())
    if store is not None:
        previous = _this_version_imported(store, integration, file) or store.already_imported(
            integration.name, file.etag, integration.version
        )
        if previous is not None:
            log.info("%s: already imported (import %d, same content and config): skipped", file.uri, previous.id)
            skipped = WriteResult(
                import_id=store.log_skip(previous, file.uri),
                rows_read=previous.rows_read,
                rows_rejected=previous.rows_rejected,
                inserted=0,
                updated=0,
                unchanged=previous.rows_read - previous.rows_rejected,
                values_written=0,
                skipped=True,
            )
            return replace(result, rows_read=previous.rows_read, write=skipped.to_dict())
    try:
        if file.size > integration.max_bytes:
            raise FileRejected(
                f"the file is {file.size / 1024 / 1024:.0f} MB, over the limit of "
                f"{integration.max_file_mb} MB (max_file_mb); split the export or raise the limit"
            )
        data = read_file(client, file)
        table = read_table(data, integration.format, integration.max_bytes)
        attribute_set = map_table(table, integration)
    except FileRejected as exc:
        log.warning("%s: rejected: %s", file.uri, exc)
        return replace(result, error=str(exc))
    result = replace(result, rows_read=attribute_set.rows_read, rows_rejected=attribute_set.rows_rejected)
    staging.mkdir(parents=True, exist_ok=True)
    stem = staging / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{file.key}.{file.etag}")
    if attribute_set.rejects.height:
        attribute_set.rejects.write_parquet(f"{stem}.rejects.parquet")
        result = replace(result, rejects=f"{stem}.rejects.parquet")
    problem = _too_many_rejected(integration, attribute_set)
    if problem:
        log.warning("%s: %s", file.uri, problem)
        return replace(result, error=problem)
    attribute_set.frame.write_parquet(f"{stem}.parquet")
    log.info(
        "%s: %d rows read, %d rejected, %d users to write",
        file.uri,
        attribute_set.rows_read,
        attribute_set.rows_rejected,
        attribute_set.frame.height,
    )
    return replace(result, stage=f"{stem}.parquet")


def _this_version_imported(store: AttributeStore, integration: Integration, file: S3File) -> Any:
    """The idempotency record: this object version (key and ETag) was imported with this config.

    It is what a run finds when an earlier one died after the store commit and before the
    move: the file is moved without being imported a second time (and without an older
    file overwriting what a newer one wrote since).
    """
    entry = store.file_outcomes(file.uri, file.etag).get(integration.name)
    if entry is not None and entry.outcome == "success" and entry.config_version == integration.version:
        return entry
    return None


def _too_many_rejected(integration: Integration, attribute_set: AttributeSet) -> str | None:
    if not attribute_set.rows_read:
        return None
    ratio = attribute_set.rows_rejected / attribute_set.rows_read
    if ratio <= integration.max_rejected_ratio:
        return None
    return (
        f"{attribute_set.rows_rejected} of {attribute_set.rows_read} rows rejected "
        f"({ratio:.1%}), more than max_rejected_ratio {integration.max_rejected_ratio:.1%}; "
        "nothing was imported. See the .rejected.csv report beside this file for each row's reason"
    )


def upsert_attributes(
    store: AttributeStore,
    integration: Integration,
    result: FileResult,
    triggered_by: str,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> FileResult:
    """Write one staged attribute set in one transaction; failed and skipped files pass through.

    With `dry_run` nothing is written: the result carries what the file would do
    (`write["dry_run"]`), and `finalize` leaves the file where it is.
    """
    if result.error or result.stage is None or result.write is not None:
        return result
    frame = pl.read_parquet(result.stage)
    file = result.s3_file
    if dry_run:
        preview = store.preview(
            integration=integration.name,
            types=integration.attribute_types,
            frame=frame,
            rows_read=result.rows_read,
            rows_rejected=result.rows_rejected,
            clear_blanks=integration.blank == "clear",
            mirror=integration.mode == "mirror",
        )
        return replace(result, write={**preview.to_dict(), "dry_run": True})
    try:
        written = _write(store, integration, result, frame, triggered_by, force)
    except MirrorGuard as exc:
        log.warning("%s: %s", file.uri, exc)
        return replace(result, error=str(exc))
    log.info(
        "%s: %d users inserted, %d updated, %d unchanged, %d removed (%d values written, %d cleared)",
        file.uri,
        written.inserted,
        written.updated,
        written.unchanged,
        written.removed,
        written.values_written,
        written.cleared,
    )
    return replace(result, write=written.to_dict())


def _write(
    store: AttributeStore,
    integration: Integration,
    result: FileResult,
    frame: pl.DataFrame,
    triggered_by: str,
    force: bool,
) -> Any:
    file = result.s3_file
    return store.write_file(
        integration=integration.name,
        types=integration.attribute_types,
        frame=frame,
        source_file=file.uri,
        etag=file.etag,
        config_version=integration.version,
        triggered_by=triggered_by,
        rows_read=result.rows_read,
        rows_rejected=result.rows_rejected,
        clear_blanks=integration.blank == "clear",
        mirror=integration.mode == "mirror",
        mirror_max_removed=integration.mirror_max_removed,
        force=force,
    )


def _rejects_csv(path: str) -> str:
    return pl.read_parquet(path).write_csv()


def _error_report(integration: Integration, result: FileResult, triggered_by: str) -> str:
    file = result.s3_file
    return (
        f"File:        {file.uri} (ETag {file.etag})\n"
        f"Integration: {integration.name} (config {integration.file or '?'}, version {integration.version})\n"
        f"Run:         {triggered_by}\n"
        f"Rows:        {result.rows_read} read, {result.rows_rejected} rejected\n\n"
        f"Reason: {result.error}\n\n"
        "To re-import after fixing the file or the config: move the file back to its original\n"
        "key (or run `inbound run NAME --key <this file's key>`).\n"
    )


def finalize(
    client: Any,
    store: AttributeStore,
    integration: Integration,
    result: FileResult,
    triggered_by: str,
    catalog: Catalog | None = None,
) -> FileResult:
    """Move one file to success/ or failed/ and put its reports beside it.

    A file that has neither an error nor a store write (its run broke off) is left in
    place for the next run. A file other integrations of `catalog` read too moves only
    when all of them are done (`inbound.shared`).
    """
    if result.outcome in ("pending", "previewed"):
        return result
    file = result.s3_file
    readers = readers_of(catalog, file, integration) if catalog is not None else []
    if len(readers) > 1:
        return _finalize_shared(client, store, integration, result, triggered_by, readers)
    try:
        final_key = move_file(client, file, result.outcome)
    except FileChanged as exc:
        log.warning("%s", exc)
        return result
    reports = []
    if result.rejects:
        key = f"{final_key}.rejected.csv"
        write_text(client, file.bucket, key, _rejects_csv(result.rejects), "text/csv")
        reports.append(key)
    if result.error:
        key = f"{final_key}.error.txt"
        write_text(client, file.bucket, key, _error_report(integration, result, triggered_by))
        reports.append(key)
        store.log_failure(
            integration=integration.name,
            source_file=file.uri,
            etag=file.etag,
            config_version=integration.version,
            error=result.error,
            triggered_by=triggered_by,
            rows_read=result.rows_read,
            rows_rejected=result.rows_rejected,
            final_key=final_key,
        )
    elif result.write and not result.write.get("skipped"):
        store.set_final_key(result.write["import_id"], final_key)
    log.info("%s: moved to s3://%s/%s", file.uri, file.bucket, final_key)
    return replace(result, final_key=final_key, report_keys=reports)


def _finalize_shared(
    client: Any,
    store: AttributeStore,
    integration: Integration,
    result: FileResult,
    triggered_by: str,
    readers: list[Integration],
) -> FileResult:
    """This reader's part of a shared file: its outcome in the log, its own reports; then settle."""
    file = result.s3_file
    if result.error:
        store.log_failure(
            integration=integration.name,
            source_file=file.uri,
            etag=file.etag,
            config_version=integration.version,
            error=result.error,
            triggered_by=triggered_by,
            rows_read=result.rows_read,
            rows_rejected=result.rows_rejected,
        )
    # Reports are per reader, named after it, where the file goes if this reader decides.
    stem = f"{done_key(file, result.outcome)}.{integration.name}"
    reports = []
    if result.rejects:
        write_text(client, file.bucket, f"{stem}.rejected.csv", _rejects_csv(result.rejects), "text/csv")
        reports.append(f"{stem}.rejected.csv")
    if result.error:
        write_text(client, file.bucket, f"{stem}.error.txt", _error_report(integration, result, triggered_by))
        reports.append(f"{stem}.error.txt")
    settlement = settle(client, store, readers, file)
    if settlement.waiting_for:
        log.info(
            "%s: done for %s; stays until %s read it", file.uri, integration.name, ", ".join(settlement.waiting_for)
        )
    return replace(
        result, final_key=settlement.final_key, report_keys=reports, waiting_for=list(settlement.waiting_for)
    )


def clean_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class RunSummary:
    """What one run did, file by file; what the CLI prints and the DAG's last task returns."""

    integration: str
    files: list[FileResult]

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.outcome not in ("success", "previewed")]

    def total(self, count: str) -> int:
        return sum((f.write or {}).get(count, 0) for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_written(self) -> int:
        return sum((f.write or {}).get("rows_written", 0) for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def outcome(self) -> str:
        if not self.files:
            return "no new file"
        if self.failed:
            return "failed"
        return "previewed" if all(f.outcome == "previewed" for f in self.files) else "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "outcome": self.outcome,
            "files": len(self.files),
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            **{c: self.total(c) for c in ("inserted", "updated", "unchanged", "cleared", "removed")},
            "results": [f.to_dict() for f in self.files],
        }

    def lines(self) -> list[str]:
        out = [
            f"{self.integration}: {self.outcome}: {len(self.files)} file(s), {self.rows_read} rows read, "
            f"{self.rows_written} written, {self.rows_rejected} rejected"
        ]
        for f in self.files:
            if f.outcome == "previewed":
                where = " (dry run: nothing written, the file stays)"
            elif f.waiting_for:
                where = f" (done here; it stays until {', '.join(f.waiting_for)} read it)"
            else:
                where = f" -> {f.final_key}" if f.final_key else " (left in place for the next run)"
            reason = f": {f.error}" if f.error else ""
            out.append(f"  {f.outcome:9s} {f.s3_file.uri}{where}{reason}")
            if f.write:
                w = f.write
                note = " (skipped: identical to an earlier import)" if w.get("skipped") else ""
                out.append(
                    f"            {w['inserted']} inserted, {w['updated']} updated, {w['unchanged']} unchanged, "
                    f"{w['cleared']} values cleared, {w['removed']} removed{note}"
                )
                for change in w.get("sample", []):
                    pairs = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in change["changes"].items())
                    out.append(f"            {change['user_id']}: {pairs or 'new'}")
        return out


def run_files(
    client: Any,
    store: AttributeStore,
    integration: Integration,
    files: list[S3File],
    triggered_by: str,
    run_id: str,
    *,
    force: bool = False,
    dry_run: bool = False,
    catalog: Catalog | None = None,
) -> RunSummary:
    """All steps for the given files, in order, in this process (the CLI's path)."""
    staging = run_staging(integration, run_id)
    try:
        shortcut = None if (force or dry_run) else store
        mapped = [validate_and_map(client, integration, f, staging, shortcut) for f in files]
        written = [upsert_attributes(store, integration, r, triggered_by, force=force, dry_run=dry_run) for r in mapped]
        done = [finalize(client, store, integration, r, triggered_by, catalog) for r in written]
    finally:
        clean_staging(staging)
    return RunSummary(integration.name, done)
