"""The Airflow shell: the DAG factory, the `wait_for_file` sensor and its triggers, connections, alerts, metrics, and what Airflow knows about the runs.

The only package (with `web` and `cli`) that imports Airflow."""
