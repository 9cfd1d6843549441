"""One run of one integration: the object both the DAG's tasks and `inbound run` drive.

    run = Run(integration, client, store, run_id=..., triggered_by=...)
    run.map(files) -> run.write(results) -> run.finalize(results) -> RunSummary

The DAG calls one method per task (results travel through XCom as JSON in between);
the CLI calls `run(files)`, which is the same three calls in one process. The repeat-import
shortcut, staging, shared files and the summary live here and nowhere else, so the two
paths cannot drift.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from inbound import settings
from inbound.config.catalog import Catalog, current_catalog
from inbound.config.model import VOLUME_HISTORY, Integration
from inbound.errors import ConfigInvalid, InboundError, MissingKey, ReceivedInvalid, UnknownKey
from inbound.mapping.drift import Known, Shape
from inbound.outcome import Outcome
from inbound.pipeline import shared_files as shared
from inbound.pipeline import steps as pipeline
from inbound.results import FileResult, RunSummary
from inbound.s3 import layout
from inbound.s3.layout import S3File
from inbound.s3.source import list_new_files, named_file
from inbound.s3.staging import Staging, check_url
from inbound.store import AttributeStore

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

log = logging.getLogger(__name__)


@dataclass
class Run:
    """One run: which integration (the config version it started with), where, and how.

    :param integration: the config as the run saw it at its start (a snapshot in the DAG).
    :param client: S3 client of the integration's connection.
    :param store: an open attribute store.
    :param run_id: names the staging folder; the DAG run id or `cli__<hex>`.
    :param triggered_by: who started it, for the import log (`airflow:<dag>/<run>`, `cli:<user>/<run>`).
    :param force: write even past the mirror guard, and re-import identical files.
    :param dry_run: compute what the files would do; write and move nothing.
    :param catalog: every config, to know who else reads a shared file (default: the current folder).
    :param staging_client: S3 client of `INBOUND_STAGING_CONN_ID` when `INBOUND_STAGING_URL` is `s3://`.
    """

    integration: Integration
    client: S3Client
    store: AttributeStore
    run_id: str
    triggered_by: str
    force: bool = False
    dry_run: bool = False
    catalog: Catalog = field(default_factory=current_catalog)
    staging_client: S3Client | None = None

    @property
    def who(self) -> pipeline.Identity:
        return pipeline.Identity(self.integration, self.triggered_by, self.staging)

    @property
    def staging(self) -> Staging:
        """Where this run's attribute sets wait between its tasks (`INBOUND_STAGING_URL`)."""
        return Staging(check_url(settings.staging_url()), self.integration.dag_id, self.run_id, self.staging_client)

    def look(self) -> shared.Look:
        """The files to import now and the shared files due to be moved (reads only)."""
        source = self.integration.source
        files = list_new_files(self.client, source.bucket, source.key, source.marker)
        return shared.look(self.store, self.catalog, self.integration, files)

    def named(self, key: str) -> S3File:
        """The file a re-import names by key: one of this source's exports, or `UnknownKey` saying
        why not and, for a file that was imported and moved since, where it is now."""
        source = self.integration.source
        try:
            return named_file(self.client, source.bucket, source.key, key)
        except MissingKey:
            try:
                moved = self.store.moved_to(f"s3://{source.bucket}/{key}") if self.store.schema_version() else None
            except Exception:  # the answer stays "does not exist"; where it went is a courtesy
                log.warning("the import log could not say where %s went", key, exc_info=True)
                moved = None
            if moved is None:
                raise
            final_key, by = moved
            raise UnknownKey(
                f"s3://{source.bucket}/{key} does not exist: it was processed before ({by}) and is now "
                f"s3://{source.bucket}/{final_key}. To import it again, re-import that key: "
                f"`inbound run {self.integration.name} --key {final_key}` or the DAG's key param"
            ) from None

    def map(self, files: Sequence[S3File]) -> list[FileResult]:
        """Extract and map each file, oldest first; a file repeating an earlier import is not read
        (the write step logs the skip; a dry run says it would skip)."""
        self.check_files(files)
        self.store.check_writable()  # a store this inbound may not write: said before any file is read
        results = []
        known = self.known_header()
        for file in files:
            previous = None if self.force else pipeline.earlier_import(self.store, self.integration, file)
            if previous is not None:
                results.append(pipeline.as_repeat(previous, FileResult(s3_file=file)))
                continue
            result = pipeline.validate_and_map(
                self.client, self.integration, file, self.staging, known, force=self.force
            )
            if result.shape is not None and not result.error:  # the next file of the run is compared with this one
                rows = (result.rows_read, *(known.recent_rows if known else ()))[:VOLUME_HISTORY]
                known = Known(result.shape, datetime.now(UTC).date().isoformat(), rows)
            results.append(result)
        return results

    def known_header(self) -> Known | None:
        """The header of the integration's latest successful import and the rows of its latest ones
        (`VOLUME_HISTORY` entries read), which a file is compared with: None before the first import
        that recorded a header (schema v6)."""
        name = self.integration.name
        latest = self.store.last_success([name]).get(name)
        shape = None if latest is None else Shape.loads(latest.shape)
        if latest is None or shape is None:
            return None
        return Known(shape, latest.finished_at[:10], tuple(self.store.recent_rows_read(name, VOLUME_HISTORY)))

    def write(self, results: Sequence[FileResult]) -> list[FileResult]:
        """Load each mapped file into the store, one transaction per file (a dry run: what it would do)."""
        self.check_results(results)
        self.store.check_writable()
        return [
            pipeline.upsert_attributes(self.store, self.who, r, force=self.force, dry_run=self.dry_run) for r in results
        ]

    def finalize(self, results: Sequence[FileResult], *, retried: bool = False) -> RunSummary:
        """Move the files, write their reports, settle the shared files that are due, clean up.

        A dry run moves, reports and logs nothing. The staged sets are removed once no file
        waits for its write: a file whose write did not happen (the store was down) keeps
        its set, so clearing `upsert_attributes` can still write it. When this finalize fails
        and will be `retried` (S3 or the store down for a moment), they stay for the retry:
        it writes the same reports (rejected rows included) and then removes them.
        """
        self.check_results(results)
        self.store.check_writable()  # before any file moves: a move is logged in the store
        keep = any(r.stage and r.outcome == Outcome.PENDING for r in results)
        try:
            if self.dry_run:
                done = [
                    r if r.previewed or r.outcome == Outcome.PENDING else replace(r, previewed=True) for r in results
                ]
                settled: list[str] = []
            else:
                done = [self._finalize_one(r) for r in results]
                settled = self.settle_due()
        except InboundError:  # a refusal: a retry would meet it again
            if not keep:
                self.staging.clear()
            raise
        except BaseException:
            if not (keep or retried):
                self.staging.clear()
            raise
        if not keep:
            self.staging.clear()
        return RunSummary(self.integration.name, tuple(done), tuple(settled))

    def check_files(self, files: Sequence[S3File]) -> None:
        """Every file a task was handed is an export of this source (XCom can be edited)."""
        source = self.integration.source
        for file in files:
            if file.bucket != source.bucket or not layout.is_export_of(source.key, file.key):
                raise ReceivedInvalid(
                    f"{self.integration.dag_id}: was handed {file.uri}, which is not an export of its source "
                    f"s3://{source.bucket}/{source.key}; nothing was read or written (was the XCom edited?)"
                )

    def check_results(self, results: Sequence[FileResult]) -> None:
        """Every file is this source's, and every staged set lies in this run's staging."""
        self.check_files([r.s3_file for r in results])
        staging = self.staging
        for result in results:
            for url in (result.stage, result.rejects, result.deletions):
                if url is not None and not staging.holds(url):
                    raise ReceivedInvalid(
                        f"{self.integration.dag_id}: the staged set {url} of {result.s3_file.uri} is not in this "
                        f"run's staging ({staging.url}/); nothing was written (was the XCom edited?)"
                    )

    def _finalize_one(self, result: FileResult) -> FileResult:
        readers = shared.readers_of(self.catalog, result.s3_file, self.integration)
        if len(readers) < 2:
            return pipeline.finalize(self.client, self.store, self.who, result)
        recorded = pipeline.record_shared_part(self.client, self.store, self.who, result)
        if not recorded.moves:
            return recorded
        settlement = shared.settle(self.client, self.store, readers, recorded.s3_file)
        if settlement.waiting_for:
            log.info(
                "%s: done for %s; stays until %s read it",
                result.s3_file.uri,
                self.integration.name,
                ", ".join(settlement.waiting_for),
            )
        return replace(recorded, final_key=settlement.final_key, waiting_for=settlement.waiting_for)

    def settle_due(self, due: Sequence[S3File] | None = None) -> list[str]:
        """Move the shared files this integration is done with whose other readers are done or absent."""
        if due is None:
            due = self.look().due
        if due:
            self.store.check_writable()
        moved = []
        for file in due:
            readers = shared.readers_of(self.catalog, file, self.integration)
            settlement = shared.settle(self.client, self.store, readers, file)
            if settlement.final_key:
                moved.append(settlement.final_key)
        return moved

    def __call__(self, files: Sequence[S3File]) -> RunSummary:
        """Every step for the given files, in this process (the CLI's path).

        Nothing can re-run one step of it: when a step raises (a service down), the run's
        staged sets go with it and the files stay for the next run.
        """
        try:
            return self.finalize(self.write(self.map(files)))
        except BaseException:
            self.staging.clear()
            raise


def received(own: Integration, snapshot: Any) -> Integration:
    """The integration a task of `own`'s DAG was handed (a config snapshot through XCom), if it is `own`.

    Users may edit XCom: a snapshot of another integration (to write its table), another
    source (to read what the connection reaches) or a config the DAG does not have is refused.
    A config changed during the run is refused too: the run fails and its files stay for the next.
    """
    try:
        integration = Integration.from_snapshot(snapshot)
    except (ConfigInvalid, KeyError, TypeError, ValueError) as exc:
        raise ReceivedInvalid(
            f"{own.dag_id}: the run's config snapshot cannot be read ({exc}); nothing was written"
        ) from None
    if integration.name != own.name:
        raise ReceivedInvalid(
            f"{own.dag_id}: was handed the config of {integration.name!r}; nothing was written (was the XCom edited?)"
        )
    if integration.version != own.version:
        raise ReceivedInvalid(
            f"{own.dag_id}: the run's config (version {integration.version}) is not the DAG's (version {own.version}): "
            "the config changed during the run, or the XCom was edited. Nothing was written and the files stay; "
            "the next run imports them with the new config"
        )
    return integration
