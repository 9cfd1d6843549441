"""Airflow DAG factory: one DAG `inbound_<name>` per integration config in dags/integrations/.

All logic lives in the `inbound` package; a broken config is reported by
inbound_config_errors.py instead of taking the valid DAGs of this file down.
"""

from inbound.airflow.dag import build_dags

globals().update(build_dags())
