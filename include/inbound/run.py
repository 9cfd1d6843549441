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
from typing import TYPE_CHECKING

from inbound import pipeline, settings, shared
from inbound.catalog import Catalog, current_catalog
from inbound.config import Integration
from inbound.layout import S3File
from inbound.results import FileResult, RunSummary
from inbound.source import list_new_files
from inbound.staging import Staging, check_url
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

    def map(self, files: Sequence[S3File]) -> list[FileResult]:
        """Extract and map each file, oldest first; a file repeating an earlier import is not read."""
        results = []
        for file in files:
            previous = (
                None if (self.force or self.dry_run) else pipeline.earlier_import(self.store, self.integration, file)
            )
            if previous is not None:
                results.append(pipeline.skip_as_repeat(self.store, previous, FileResult(s3_file=file)))
            else:
                results.append(pipeline.validate_and_map(self.client, self.integration, file, self.staging))
        return results

    def write(self, results: Sequence[FileResult]) -> list[FileResult]:
        """Load each mapped file into the store, one transaction per file."""
        return [
            pipeline.upsert_attributes(self.store, self.who, r, force=self.force, dry_run=self.dry_run) for r in results
        ]

    def finalize(self, results: Sequence[FileResult]) -> RunSummary:
        """Move the files, write their reports, settle the shared files that are due, clean up."""
        try:
            done = [self._finalize_one(r) for r in results]
            settled = [] if self.dry_run else self.settle_due()
        finally:
            self.staging.clear()
        return RunSummary(self.integration.name, tuple(done), tuple(settled))

    def _finalize_one(self, result: FileResult) -> FileResult:
        readers = shared.readers_of(self.catalog, result.s3_file, self.integration)
        if len(readers) < 2:
            return pipeline.finalize(self.client, self.store, self.who, result)
        recorded = pipeline.record_shared_part(self.client, self.store, self.who, result)
        if not recorded.outcome.settled:
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
        moved = []
        for file in due:
            readers = shared.readers_of(self.catalog, file, self.integration)
            settlement = shared.settle(self.client, self.store, readers, file)
            if settlement.final_key:
                moved.append(settlement.final_key)
        return moved

    def __call__(self, files: Sequence[S3File]) -> RunSummary:
        """Every step for the given files, in this process (the CLI's path)."""
        return self.finalize(self.write(self.map(files)))
