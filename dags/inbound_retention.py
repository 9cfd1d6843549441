"""The maintenance DAG `inbound_retention`: moved files and reports past their retention are removed daily.

All logic lives in the `inbound` package (`inbound.pipeline.retention`).
"""

from inbound.airflow.retention import build_retention_dag

dag = build_retention_dag()
