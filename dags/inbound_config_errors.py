"""Shows broken integration configs as an Airflow DAG import error (no DAG is defined here).

In Airflow a DAG file that raises loses every DAG it defines, so the factory never raises;
this file raises instead, with every problem (file, line, "did you mean"), and the
integrations that are valid keep running. `inbound validate` gives the same report
before merge.
"""

from inbound.airflow.dag import raise_config_errors

raise_config_errors()
