"""A run's lineage as OpenLineage datasets and facets: each imported S3 object -> the store.

Only `upsert_attributes` reports datasets (the shell, `inbound.airflow.upsert`, hands these to the
OpenLineage provider); the other tasks report none, so a lineage graph shows one edge per
import and not the staged parts or the move to `success/`.

- **Input**: one per file whose rows went to the store (or would have, in a dry run):
  namespace `s3://<bucket>`, name the key (OpenLineage's naming for S3), with the mapped
  columns and their declared types (`schema`), the object's ETag (`version`), rows read
  (`dataQualityMetrics`), one assertion per check with the rows it rejected
  (`dataQualityAssertions`), the rejected rows by reason (`inboundRejections`) and, when
  its header changed since the last import, how (`inboundSchemaDrift`).
  A file that failed or was skipped as identical to an earlier import fed nothing; the
  run facet lists it with its reason.
- **Outputs**: the integration's table and the read-contract view `inbound_attributes_v1`.
  PostgreSQL as the naming spec says (namespace `postgres://<host>:<port>`, name
  `<database>.<schema>.<table>`). The spec has no SQLite entry: here the namespace is
  `sqlite://<hostname><absolute path of the database file>` and the name `main.<table>`
  (one file is one database, on one machine). The table carries rows written
  (`outputStatistics`), the counts by kind (`inboundWrite`), its schema and each
  attribute's source column (`columnLineage`). A dry run has no outputs.
- **Run facet** `inbound`: the integration, the config version, dry run or not, and every
  file of the run with its outcome, counts and reason.

An event's size is bounded: it lists at most `INBOUND_LINEAGE_MAX_FILES` (default 20)
files, as inputs and in the run facet; the run facet counts the rest (`filesNotListed`).
A run with more (a backlog after an outage) still writes them all; its lineage names the
first ones.

Custom facets follow `docs/openlineage-facets.json` (JSON Schema); their `_schemaURL` names
it as a URN, since it is not published anywhere.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import attr
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    DatasetFacet,
    InputDatasetFacet,
    OutputDatasetFacet,
    RunFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    data_quality_metrics_input_dataset,
    dataset_version_dataset,
    output_statistics_output_dataset,
    schema_dataset,
)

from inbound.config.model import Integration
from inbound.mapping.drift import SHOWN, Shape
from inbound.mapping.drift import note as drift_note
from inbound.results import COUNTS, FileResult
from inbound.settings import number_setting
from inbound.store import Location

SCHEMA_URN = "urn:inbound:openlineage-facets:1-0-0"  # docs/openlineage-facets.json
MAX_REASON_CHARS = 1000  # a reason in an event; the whole one is in the file's .error.txt
MAX_FILES_ENV = "INBOUND_LINEAGE_MAX_FILES"
DEFAULT_MAX_FILES = 20  # an event at 20 files x 100 attributes is about 680 KiB
SQLITE_SCHEMA = "main"
VIEW_COLUMNS = (("user_id", "string"), ("integration", "string"), ("attribute", "string"), ("value", "string"))
VIEW_COLUMNS_TAIL = (("import_id", "integer"),)
# The assertion each reject kind (`mapping.REJECT_KINDS`) fails (OpenLineage's words where one fits).
ASSERTIONS = {
    "empty_user_id": "not_null",
    "duplicate_user_id": "unique",
    "wrong_field_count": "field_count",
    "value_too_long": "max_length",
    "invalid_value": "type",
}


@attr.define
class InboundRunFacet(RunFacet):
    """What one run of an integration did, file by file (`files`: uri, outcome, counts, reason)."""

    integration: str
    configVersion: str  # OpenLineage facets are camelCase
    dryRun: bool
    files: list[dict[str, Any]]
    filesNotListed: int = 0  # files of the run past INBOUND_LINEAGE_MAX_FILES

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URN}#/$defs/InboundRunFacet"


@attr.define
class InboundRejectionsInputDatasetFacet(InputDatasetFacet):
    """A file's rows read and rejected, and the rejected rows by reason (kind and column)."""

    rowsRead: int
    rowsRejected: int
    byReason: list[dict[str, Any]]

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URN}#/$defs/InboundRejectionsInputDatasetFacet"


@attr.define
class InboundSchemaDriftInputDatasetFacet(InputDatasetFacet):
    """How the file's header changed from the integration's last import (`mapping.drift`): the columns
    the config does not read that are new (with the day each appeared), those gone, a reordering.
    Each list names at most `mapping.drift.SHOWN` columns; the counts are whole."""

    newColumns: list[dict[str, str]]
    newColumnCount: int
    appeared: list[str]
    goneColumns: list[str]
    goneColumnCount: int
    reordered: bool
    comparedWith: str | None

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URN}#/$defs/InboundSchemaDriftInputDatasetFacet"


@attr.define
class InboundWriteOutputDatasetFacet(OutputDatasetFacet):
    """What the run's files did to the integration's users (as the import log counts them)."""

    inserted: int
    updated: int
    unchanged: int
    cleared: int
    removed: int
    valuesWritten: int
    deleted: int = 0  # users the files deleted (`delete_when`)

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URN}#/$defs/InboundWriteOutputDatasetFacet"


@dataclass(frozen=True)
class Lineage:
    """One task event's datasets and run facets (the provider's `OperatorLineage`, without Airflow)."""

    inputs: list[InputDataset] = field(default_factory=list)
    outputs: list[OutputDataset] = field(default_factory=list)
    run_facets: dict[str, RunFacet] = field(default_factory=dict)


def max_files() -> int:
    """`INBOUND_LINEAGE_MAX_FILES` (default 20): the most files one lineage event lists."""
    return int(number_setting(MAX_FILES_ENV, DEFAULT_MAX_FILES, minimum=1))


def fed_the_store(result: FileResult) -> bool:
    """Whether the file's rows went to the store (or would have, in a dry run): an import's edge."""
    return result.write is not None and not result.error and not result.skipped


def about_to_write(result: FileResult) -> bool:
    """Whether `upsert_attributes` will write this file: mapped, staged, not failed."""
    return result.stage is not None and not result.error and result.write is None


def of_start(integration: Integration, results: Sequence[FileResult]) -> Lineage:
    """The START event: the files the task is about to write (their schema; counts come at the end)."""
    staged = [r for r in results if about_to_write(r)][: max_files()]
    return Lineage(inputs=[_input(integration, r, counts=False) for r in staged])


def of_failure(integration: Integration, results: Sequence[FileResult]) -> Lineage:
    """The task failed (the store unreachable, say): what it was reading, nothing written."""
    staged = [r for r in results if about_to_write(r)][: max_files()]
    return Lineage(
        inputs=[_input(integration, r, counts=False) for r in staged],
        run_facets={"inbound": _run_facet(integration, results, dry_run=False)},
    )


def of_write(integration: Integration, results: Sequence[FileResult], location: Location | None) -> Lineage:
    """The COMPLETE event: each file that fed the store in, the table and the view out.

    `location` None (the store could not be asked where it is) leaves the outputs out.
    """
    fed = [r for r in results if fed_the_store(r)]
    dry_run = bool(fed) and all(r.previewed for r in fed)
    inputs = [_input(integration, r, counts=True) for r in fed[: max_files()]]
    written = [r for r in fed if not r.previewed]  # the counts: every file
    outputs = _outputs(integration, written, inputs, location) if written and location is not None else []
    return Lineage(inputs, outputs, {"inbound": _run_facet(integration, results, dry_run=dry_run)})


def store_namespace(location: Location) -> str:
    """The store's OpenLineage namespace: PostgreSQL per the naming spec; SQLite as documented above."""
    if location.kind == "postgresql":
        return f"postgres://{location.host}:{location.port}"
    return f"sqlite://{socket.gethostname()}{location.database}"


def store_name(location: Location, table: str) -> str:
    if location.kind == "postgresql":
        return f"{location.database}.{location.schema}.{table}"
    return f"{SQLITE_SCHEMA}.{table}"


def _schema(columns: Sequence[tuple[str, str]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=name, type=kind) for name, kind in columns]
    )


def _source_columns(integration: Integration) -> list[tuple[str, str]]:
    """The file's mapped columns with their declared types (the user-ID column is text)."""
    return [(integration.user_id.column, "string"), *((a.column, a.type) for a in integration.attributes)]


def _input(integration: Integration, result: FileResult, *, counts: bool) -> InputDataset:
    file = result.s3_file
    facets: dict[str, DatasetFacet] = {
        "schema": _schema(_source_columns(integration)),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=file.etag),
    }
    input_facets: dict[str, InputDatasetFacet] = {}
    if counts:
        input_facets = {
            "dataQualityMetrics": data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
                columnMetrics={}, rowCount=result.rows_read, bytes=file.size, fileCount=1
            ),
            "dataQualityAssertions": _assertions(integration, result),
            "inboundRejections": InboundRejectionsInputDatasetFacet(
                rowsRead=result.rows_read,
                rowsRejected=result.rows_rejected,
                byReason=[{"kind": k, "column": c, "rows": n} for k, c, n in result.rejected_by],
            ),
        }
    if result.shape is not None and result.shape.drifted:
        input_facets["inboundSchemaDrift"] = _drift(result.shape)
    return InputDataset(namespace=f"s3://{file.bucket}", name=file.key, facets=facets, inputFacets=input_facets)


def _drift(shape: Shape) -> InboundSchemaDriftInputDatasetFacet:
    return InboundSchemaDriftInputDatasetFacet(
        newColumns=[{"column": c, "since": d} for c, d in shape.new[:SHOWN]],
        newColumnCount=len(shape.new),
        appeared=list(shape.appeared[:SHOWN]),
        goneColumns=list(shape.gone[:SHOWN]),
        goneColumnCount=len(shape.gone),
        reordered=shape.reordered,
        comparedWith=shape.compared_with,
    )


def _assertions(
    integration: Integration, result: FileResult
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    """Every check the mapping made on the file, failed where it rejected rows (with how many)."""
    rejected = {(kind, column): rows for kind, column, rows in result.rejected_by}
    user_id = integration.user_id.column
    checks: list[tuple[str, str | None]] = [
        ("empty_user_id", user_id),
        ("duplicate_user_id", user_id),
        ("wrong_field_count", None),
    ]
    if not any(kind == "value_too_long" for kind, _ in rejected):  # else one failed entry per column
        checks.append(("value_too_long", None))
    checks.extend(("invalid_value", a.column) for a in integration.attributes if a.type != "string")
    checks.extend(key for key in rejected if key not in checks)  # never drop a count
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=ASSERTIONS[kind],
                success=not rejected.get((kind, column)),
                column=column,
                severity="warn",  # a rejected row is reported and left out; the file goes on
                name=kind,
                expected="0",
                actual=str(rejected.get((kind, column), 0)),
            )
            for kind, column in checks
        ]
    )


def _outputs(
    integration: Integration, written: Sequence[FileResult], inputs: Sequence[InputDataset], location: Location
) -> list[OutputDataset]:
    namespace = store_namespace(location)
    outputs = []
    if location.table is not None:
        total = {count: sum(getattr(r.write, count) for r in written) for count in (*COUNTS, "values_written")}
        rows = sum(r.write.rows_written for r in written if r.write is not None)
        table_columns = [("user_id", "string"), *integration.attribute_types.items()]
        outputs.append(
            OutputDataset(
                namespace=namespace,
                name=store_name(location, location.table),
                facets={
                    "schema": _schema(table_columns),
                    "columnLineage": _column_lineage(integration, inputs),
                },
                outputFacets=_output_facets(rows, total),
            )
        )
    view_columns = (*VIEW_COLUMNS, *VIEW_COLUMNS_TAIL)
    outputs.append(
        OutputDataset(
            namespace=namespace, name=store_name(location, location.view), facets={"schema": _schema(view_columns)}
        )
    )
    return outputs


def _output_facets(rows: int, total: dict[str, int]) -> dict[str, OutputDatasetFacet]:
    return {
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows),
        "inboundWrite": InboundWriteOutputDatasetFacet(
            inserted=total["inserted"],
            updated=total["updated"],
            unchanged=total["unchanged"],
            cleared=total["cleared"],
            removed=total["removed"],
            valuesWritten=total["values_written"],
            deleted=total["deleted"],
        ),
    }


def _column_lineage(
    integration: Integration, inputs: Sequence[InputDataset]
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Each stored column from its file column, in every file of the run (a cast to the declared type)."""

    def source(column: str, kind: str) -> column_lineage_dataset.Fields:
        return column_lineage_dataset.Fields(
            inputFields=[
                column_lineage_dataset.InputField(namespace=i.namespace, name=i.name, field=column) for i in inputs
            ],
            transformationType="IDENTITY" if kind == "string" else "TRANSFORMATION",
            transformationDescription=f"stripped; cast to {kind}",
        )

    fields = {"user_id": source(integration.user_id.column, "string")}
    fields.update({a.attribute: source(a.column, a.type) for a in integration.attributes})
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)


def _run_facet(integration: Integration, results: Sequence[FileResult], *, dry_run: bool) -> InboundRunFacet:
    listed = max_files()
    return InboundRunFacet(
        integration=integration.name,
        configVersion=integration.version,
        dryRun=dry_run,
        files=[_file(r) for r in results[:listed]],
        filesNotListed=max(len(results) - listed, 0),
    )


def _file(result: FileResult) -> dict[str, Any]:
    """One file of the run: counts and the reason, never a value (a reason names lines and columns)."""
    write = result.write
    return {
        "uri": result.s3_file.uri,
        "outcome": "skipped" if result.skipped else str(result.outcome),
        "rowsRead": result.rows_read,
        "rowsRejected": result.rows_rejected,
        "rowsWritten": 0 if write is None or result.previewed else write.rows_written,
        "reason": _cut(result.error),
        "drift": _cut(None if result.shape is None else drift_note(result.shape)),
    }


def _cut(reason: str | None) -> str | None:
    if reason is None or len(reason) <= MAX_REASON_CHARS:
        return reason
    return reason[: MAX_REASON_CHARS - 1] + "…"
