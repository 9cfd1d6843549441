"""`upsert_attributes`, the task that writes: `UpsertAttributesOperator` and its OpenLineage (policy and facets)."""

from __future__ import annotations

import functools
import logging
from typing import Any

from airflow.sdk import DAG, BaseOperator

from inbound.airflow.assets import emit_asset_event
from inbound.airflow.connections import store
from inbound.airflow.tasks import found_results, found_snapshot, opened_run, reported, task_payload
from inbound.config.model import Integration
from inbound.results import FileResult
from inbound.store import Location

log = logging.getLogger(__name__)


class UpsertAttributesOperator(BaseOperator):
    """`upsert_attributes`: the run's mapped files into the store, each file in one transaction.

    The one task that writes, so the one that reports lineage: with the OpenLineage provider
    configured, its START, COMPLETE and FAIL events carry each imported S3 object in and the
    integration's table and the read-contract view out (`inbound.pipeline.lineage`). Without it these
    methods are never called and nothing is imported for them.

    :param mapped: `validate_and_map`'s result (an XComArg): the run's config snapshot and its
        files, mapped and staged.
    """

    template_fields = ("mapped",)

    def __init__(self, *, mapped: Any, integration_snapshot: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mapped = mapped
        self.integration_snapshot = integration_snapshot  # the DAG's own config, what `mapped` must be of
        self._written: list[FileResult] | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        own = Integration.from_snapshot(self.integration_snapshot)
        with reported(), opened_run(own, found_snapshot(self.mapped)) as run:
            results = run.write(found_results(self.mapped))
        self._written = results
        emit_asset_event(run.integration, results)
        return task_payload(found_snapshot(self.mapped), results)

    def _integration(self) -> Integration:
        return Integration.from_snapshot(self.mapped["snapshot"])

    def get_openlineage_facets_on_start(self) -> Any:
        from inbound.pipeline import lineage

        return _operator_lineage(lineage.of_start(self._integration(), found_results(self.mapped)))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from inbound.pipeline import lineage

        integration = self._integration()  # COMPLETE follows `execute`, which set `_written`
        return _operator_lineage(lineage.of_write(integration, self._written or [], _store_location(integration)))

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        from inbound.pipeline import lineage

        return _operator_lineage(lineage.of_failure(self._integration(), found_results(self.mapped)))


def _store_location(integration: Integration) -> Location | None:
    """Where the integration's values are, for its lineage; None (and a warning) if the store cannot say."""
    try:
        with store(migrate=False) as attribute_store:
            return attribute_store.location(integration.name)
    except Exception:
        log.warning(
            "lineage for %s: the store's location is unknown; no outputs reported", integration.name, exc_info=True
        )
        return None


def _operator_lineage(found: Any) -> Any:
    """`inbound.pipeline.lineage.Lineage` as the provider's `OperatorLineage` (imported only when lineage is on)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=found.inputs, outputs=found.outputs, run_facets=found.run_facets)


def without_hook_lineage(dag: DAG) -> None:
    """One clean edge per import: no task reports what Airflow's hooks collected on the way
    (a staged part, a copy to `success/`), only what `upsert_attributes` says it read and wrote.

    Only when the OpenLineage provider is installed and on: otherwise nothing is imported or set.
    """
    extend = _lineage_policy()
    for task_ in dag.tasks if extend else ():
        extend(task_, hook_lineage=False)


@functools.cache
def _lineage_policy() -> Any:
    """The provider's `extend_global_openlineage_emission_policy` when lineage is on, else None;
    decided once per process (a DAG processor builds hundreds of DAGs)."""
    try:
        from airflow.providers.openlineage import conf
    except ImportError:
        return None
    if conf.is_disabled():
        return None
    from airflow.providers.openlineage.api.emission_policy import extend_global_openlineage_emission_policy

    return extend_global_openlineage_emission_policy
