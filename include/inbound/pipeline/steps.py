"""The steps for one file: extract and map, load, finalize. `inbound.run.Run` drives them.

    validate_and_map   S3 object -> frame -> attribute set, staged as Parquet
    upsert_attributes  staged attribute set -> store (one transaction per file)
    finalize           file -> success/ or failed/, reports beside it, import log

A data problem (`BadFile`: a file without its user-ID column, too many rejected rows, a
mirror file that would remove too many users) is a result, not an exception: it travels
to `finalize`, which moves that file to `failed/` with the reason while the run's other
files go on. Anything else (`Unavailable`: S3 or the store unreachable) raises, so Airflow
retries the task, and so does a store whose schema is not this inbound's (`SchemaMismatch`,
failing the task at once); a file whose run never got that far stays where it is.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from inbound.config.model import Integration
from inbound.errors import BadFile, FileChanged, Problem, SchemaMismatch, Unavailable
from inbound.mapping.drift import Known, compare, new_columns_refused, note
from inbound.mapping.volume import suspicious
from inbound.outcome import Outcome
from inbound.results import FileResult, headers_skipped_note
from inbound.s3 import layout
from inbound.s3.layout import S3File
from inbound.s3.source import move_file, read_pieces, write_text, write_text_file
from inbound.s3.staging import Staging, staged_parts
from inbound.store import AttributeStore, FileImport, ImportRecord, WriteResult

if TYPE_CHECKING:
    import polars as pl
    from types_boto3_s3 import S3Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Who imports: the integration (as configured for this run) and the run, for the import log.

    `staging`: where the run's staged sets are read back (any `file://` URL reads without it).
    """

    integration: Integration
    triggered_by: str
    staging: Staging | None = None

    def parts(self, url: str, rows: int | None = None) -> Iterator[pl.DataFrame]:
        """A set this run staged, one part at a time (a set of any size, never held whole), checked
        whole against its manifest (and `rows`, what the mapping staged)."""
        return staged_parts(url, self.staging.client if self.staging else None, rows)

    def of(self, result: FileResult) -> FileImport:
        """The import-log identity of one file of this run."""
        return FileImport(
            integration=self.integration.name,
            source_file=result.s3_file.uri,
            etag=result.s3_file.etag,
            config_version=self.integration.version,
            triggered_by=self.triggered_by,
            rows_read=result.rows_read,
            rows_rejected=result.rows_rejected,
            shape=None if result.shape is None else result.shape.dumps(),
        )


def internal_error(step: str, file: S3File, exc: Exception) -> str:
    """Fail one file on an error nobody planned for: the traceback goes to the task log, the
    reason (the step and the error's type, never its text: it may quote values) to the report."""
    log.exception("%s: internal error in %s", file.uri, step)
    return (
        f"internal error in {step} ({type(exc).__name__}); the traceback is in this run's task log. "
        "The store is unchanged for this file. This is a bug or an input the importer does not handle: "
        "report it with the file; once fixed, re-import the file with the key param"
    )


def earlier_import(store: AttributeStore, integration: Integration, file: S3File) -> ImportRecord | None:
    """The import this file would repeat, so it need not even be downloaded.

    Either the idempotency record (this object version, key and ETag, was imported with this
    config: a run that died between the store commit and the move), or the integration's
    latest import was the same content and config and nothing changed its data since.
    """
    entry = store.file_outcomes(file.uri, file.etag).get(integration.name)
    if entry is not None and entry.outcome == Outcome.SUCCESS and entry.config_version == integration.version:
        return entry
    return store.already_imported(integration.name, file.etag, integration.version)


def as_repeat(previous: ImportRecord, result: FileResult) -> FileResult:
    """A file that repeats an earlier import: not read, nothing staged; the write step logs the skip."""
    log.info(
        "%s: already imported (import %d, same content and config): not read again", result.s3_file.uri, previous.id
    )
    return replace(result, rows_read=previous.rows_read, rows_rejected=previous.rows_rejected, repeat_of=previous.id)


def _skip(store: AttributeStore, who: Identity, result: FileResult, *, dry_run: bool) -> WriteResult:
    """The write of a repeated file: one skip in the import log per run and file (a retried task
    finds its own), none for a dry run."""
    repeat_of = result.repeat_of or 0
    import_id = 0 if dry_run else store.log_skip(repeat_of, who.of(result))
    return WriteResult(
        import_id=import_id,
        rows_read=result.rows_read,
        rows_rejected=result.rows_rejected,
        inserted=0,
        updated=0,
        unchanged=result.rows_read - result.rows_rejected,
        values_written=0,
        skipped=True,
    )


def validate_and_map(
    client: S3Client,
    integration: Integration,
    file: S3File,
    staging: Staging,
    known: Known | None = None,
    *,
    force: bool = False,
) -> FileResult:
    """Read, check and type one file in bounded batches; stage its attribute set and rejected rows.

    The file streams from S3 through a local spool (`inbound.pipeline.batches`): memory stays about
    ten batches whatever its size. Nothing is staged for a file that fails. `known`: the header of
    the integration's last import, which this file's is compared with (`mapping.drift`); with
    `on_new_columns: fail`, new columns fail the file unless `force`.
    """
    # Reading loads polars and numpy (about 0.25 s): a run without new files never does.
    from inbound.pipeline.batches import map_file

    result = FileResult(s3_file=file)
    with tempfile.TemporaryDirectory(prefix="inbound-batches-") as tmp:
        try:
            if file.size > integration.max_bytes:
                raise BadFile(
                    f"the file is {file.size / 1024 / 1024:.0f} MB, over the limit of "
                    f"{integration.max_file_mb} MB (max_file_mb); split the export or raise the limit",
                    Problem.TOO_LARGE,
                )
            spool = map_file(
                read_pieces(client, file), integration, Path(tmp), known=() if known is None else known.shape.columns
            )
        except BadFile as exc:
            log.warning("%s: rejected: %s", file.uri, exc)
            return result.failed_with(str(exc), exc.problem)
        except Unavailable:
            raise  # S3 is down: the task retries, the file stays
        except Exception as exc:  # anything else fails this file, not the run
            return result.failed_with(internal_error("validate_and_map", file, exc), Problem.INTERNAL)
        result = replace(
            result,
            rows_read=spool.rows_read,
            rows_rejected=spool.rows_rejected,
            rejected_by=spool.rejected_by,
            rejected_lines=spool.rejected_lines,
            headers_skipped=spool.headers_skipped,
            header_lines=spool.header_lines,
            shape=replace(
                compare(spool.header, known, integration, datetime.now(UTC).date().isoformat()), filled=spool.filled
            ),
        )
        drift = result.shape and note(result.shape)
        if drift:
            log.warning("%s: %s", file.uri, drift)
        name = f"{file.key}.{file.etag}"  # `Staging` makes it a safe object name
        if spool.rejects:
            result = replace(result, rejects=staging.put_parts(f"{name}.rejects", spool.rejects))
        problem = _too_many_rejected(integration, spool.rows_read, spool.rows_rejected)
        if problem:
            log.warning("%s: %s", file.uri, problem)
            return result.failed_with(problem, Problem.TOO_MANY_REJECTED)
        if result.shape and result.shape.new and integration.on_new_columns == "fail" and not force:
            return result.failed_with(new_columns_refused(result.shape, integration), Problem.NEW_COLUMNS)
        odd = None if force or result.shape is None else suspicious(spool.rows_read, result.shape, known, integration)
        if odd:
            log.warning("%s: %s", file.uri, odd)
            return result.failed_with(odd, Problem.SUSPICIOUS_VOLUME)
        if spool.deletions:
            deletions = staging.put_parts(f"{name}.deletions", spool.deletions)
            result = replace(result, deletions=deletions, deletion_rows=spool.deletion_rows)
        stage = staging.put_parts(name, spool.sets)
    log.info(
        "%s: %d rows read, %d rejected, %d users to write%s",
        file.uri,
        spool.rows_read,
        spool.rows_rejected,
        spool.users,
        f"; {headers_skipped_note(spool.headers_skipped, spool.header_lines)}" if spool.headers_skipped else "",
    )
    return replace(result, stage=stage, staged_rows=spool.users)


def _too_many_rejected(integration: Integration, rows_read: int, rows_rejected: int) -> str | None:
    if not rows_read:
        return None
    ratio = rows_rejected / rows_read
    if ratio <= integration.max_rejected_ratio:
        return None
    return (
        f"{rows_rejected} of {rows_read} rows rejected "
        f"({ratio:.1%}), more than max_rejected_ratio {integration.max_rejected_ratio:.1%}; "
        "nothing was imported. See the .rejected.csv report beside this file for each row's reason"
    )


def upsert_attributes(
    store: AttributeStore, who: Identity, result: FileResult, *, force: bool = False, dry_run: bool = False
) -> FileResult:
    """Write one staged attribute set in one transaction; failed and skipped files pass through.

    With `dry_run` nothing is written: the result says what the file would do, and
    `finalize` leaves the file where it is. A staged set that is gone or not whole raises
    `StageGone` (nothing written, the file stays).
    """
    if dry_run and result.error:
        return replace(result, previewed=True)
    if result.error or result.write is not None:
        return result
    if result.repeat_of is not None:
        return replace(result, write=_skip(store, who, result, dry_run=dry_run), previewed=dry_run)
    if result.stage is None:
        return result
    try:
        written = _write(store, who, result, force=force, dry_run=dry_run)
    except BadFile as exc:  # the mirror guard
        log.warning("%s: %s", result.s3_file.uri, exc)
        return replace(result.failed_with(str(exc), exc.problem), previewed=dry_run)
    except (Unavailable, SchemaMismatch):
        raise  # the database is down (the task retries), the staged set is gone or the store's schema
        # is not this inbound's (it fails at once): the file stays
    except Exception as exc:  # the transaction rolled back; this file fails, the others go on
        failed = result.failed_with(internal_error("upsert_attributes", result.s3_file, exc), Problem.INTERNAL)
        return replace(failed, previewed=dry_run)
    if not dry_run:
        log.info(
            "%s: %d users inserted, %d updated, %d unchanged, %d removed, %d deleted (%d values written, %d cleared)",
            result.s3_file.uri,
            written.inserted,
            written.updated,
            written.unchanged,
            written.removed,
            written.deleted,
            written.values_written,
            written.cleared,
        )
    return replace(result, write=written, previewed=dry_run)


def _write(store: AttributeStore, who: Identity, result: FileResult, *, force: bool, dry_run: bool) -> WriteResult:
    integration = who.integration
    frame = who.parts(result.stage or "", result.staged_rows)  # a part at a time as the store takes them
    # Mirror mode: a user whose rows were all rejected is still in the file; it keeps its values.
    keep = who.parts(result.rejects) if result.rejects and integration.mode == "mirror" else None
    deletions = who.parts(result.deletions, result.deletion_rows) if result.deletions else None
    if dry_run:
        return store.preview(
            integration=integration.name,
            types=integration.attribute_types,
            frame=frame,
            rows_read=result.rows_read,
            rows_rejected=result.rows_rejected,
            clear_blanks=integration.blank == "clear",
            mirror=integration.mode == "mirror",
            keep=keep,
            mirror_max_removed=integration.mirror_max_removed,
            force=force,
            deletions=deletions,
            max_deleted=integration.max_deleted,
        )
    return store.write_file(
        who.of(result),
        types=integration.attribute_types,
        frame=frame,
        clear_blanks=integration.blank == "clear",
        mirror=integration.mode == "mirror",
        mirror_max_removed=integration.mirror_max_removed,
        force=force,
        keep=keep,
        deletions=deletions,
        max_deleted=integration.max_deleted,
    )


def error_report(who: Identity, result: FileResult, final_key: str | None = None) -> str:
    """The `.error.txt` beside a failed file: what, why, and the ways to import it again."""
    file, integration = result.s3_file, who.integration
    key = final_key or file.key
    skipped = f"; {headers_skipped_note(result.headers_skipped, result.header_lines)}" if result.headers_skipped else ""
    return (
        f"File:        {file.uri} (ETag {file.etag})\n"
        f"Integration: {integration.name} (config {integration.file or '?'}, version {integration.version})\n"
        f"Run:         {who.triggered_by}\n"
        f"Rows:        {result.rows_read} read, {result.rows_rejected} rejected{skipped}\n\n"
        f"Reason: {result.error}\n\n"
        f"To re-import it after fixing the file or the config (a dry run first shows what it would do):\n"
        f"  - Airflow UI: Integrations > {integration.name} > Re-import, pick this file;\n"
        f"  - trigger the DAG {integration.dag_id} with the param key = {key} (and dry_run first);\n"
        f"  - shell: inbound run {integration.name} --key {key} (inbound preview first).\n"
        "A corrected export uploaded again under its original name is imported by the next run.\n"
    )


FORMULA_START = r"^[=+\-@\t\r]"


def neutralize_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would run as a formula (`= + - @`, tab, CR first) get a leading `'`.

    A rejected-rows report is opened in Excel by the people who fix exports; a value such as
    `=cmd|' /C calc'!A0` from a hostile file must stay text there (OWASP: CSV injection).
    """
    import polars as pl  # only a run with rejected rows gets here (see `validate_and_map`)

    text = [name for name, kind in frame.schema.items() if kind == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def write_reports(client: S3Client, who: Identity, result: FileResult, final_key: str, reader: str | None) -> list[str]:
    """The rejected rows and the error beside the file; named after the reader for a shared file."""
    bucket, reports = result.s3_file.bucket, []
    if result.rejects:
        key = layout.rejected_report_key(final_key, reader)
        with tempfile.TemporaryDirectory(prefix="inbound-report-") as tmp:
            path = Path(tmp) / "rejected.csv"
            with path.open("wb") as report:
                for i, part in enumerate(who.parts(result.rejects)):
                    neutralize_formulas(part).write_csv(report, include_header=i == 0)
            write_text_file(client, bucket, key, path, "text/csv")
        reports.append(key)
    if result.error:
        key = layout.error_report_key(final_key, reader)
        write_text(client, bucket, key, error_report(who, result, final_key))
        reports.append(key)
    return reports


def finalize(client: S3Client, store: AttributeStore, who: Identity, result: FileResult) -> FileResult:
    """Move one file (read by this integration only) to success/ or failed/, reports beside it.

    A file that has neither an error nor a store write (its run broke off), and any file of
    a dry run, stay in place: nothing is moved, reported or logged.
    """
    if not result.moves:
        return result
    file = result.s3_file
    try:
        final_key = move_file(client, file, result.outcome)
    except FileChanged as exc:
        log.warning("%s", exc)
        return result
    reports = write_reports(client, who, result, final_key, reader=None)
    if result.error:
        store.log_failure(who.of(result), result.error, final_key=final_key)
    elif result.write is not None and result.write.import_id:
        store.set_final_key(result.write.import_id, final_key)
    log.info("%s: moved to s3://%s/%s", file.uri, file.bucket, final_key)
    return replace(result, final_key=final_key, report_keys=tuple(reports))


def record_shared_part(client: S3Client, store: AttributeStore, who: Identity, result: FileResult) -> FileResult:
    """This reader's part of a shared file: its outcome in the import log and its own reports.

    The file itself moves when every reader is done (`inbound.pipeline.shared_files.settle`).
    """
    if not result.moves:
        return result
    if result.error:
        store.log_failure(who.of(result), result.error)
    planned = layout.done_key(result.s3_file, result.outcome)
    reports = write_reports(client, who, result, planned, reader=who.integration.name)
    return replace(result, report_keys=tuple(reports))
