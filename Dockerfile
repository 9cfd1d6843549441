# The project image: one image for every Airflow service in docker-compose.yaml
# (api-server, scheduler, dag-processor, triggerer, celery worker, init).
#
# Build: docker compose build   (or: docker build -t inbound-airflow .)
#
# The `inbound` package is installed with exactly the versions in uv.lock (no
# _PIP_ADDITIONAL_REQUIREMENTS at start-up), and dags/ (with dags/integrations/) and
# plugins/ are baked in, so every container runs the same code and configs.
FROM apache/airflow:3.3.2-python3.11

# uv only to turn uv.lock into a pinned requirements file; pip of the image installs it.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

# 1. Dependencies first (this layer is cached while pyproject.toml/uv.lock do not change).
#    --no-dev drops the test tools, --extra postgres brings psycopg for the attribute store,
#    --extra celery the Celery provider at the version the end-to-end test ran, --extra
#    openlineage the OpenLineage provider (off until a transport is set: README, Lineage).
#    --compile (pip's default, stated because it matters): the image holds bytecode, so no
#    process compiles Airflow from source, even where PYTHONDONTWRITEBYTECODE=1 is set.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md /tmp/inbound/
RUN cd /tmp/inbound \
 && uv export --frozen --no-dev --no-hashes --no-emit-project --extra postgres --extra celery --extra openlineage \
      --output-file /tmp/inbound/requirements.txt \
 && pip install --no-cache-dir --compile -r /tmp/inbound/requirements.txt

# 2. The package itself (no dependency resolution: they are all installed above).
COPY --chown=airflow:0 include/ /tmp/inbound/include/
RUN pip install --no-cache-dir --compile --no-deps /tmp/inbound \
 && rm -rf /tmp/inbound \
 && python -c "import airflow, inbound; assert airflow.__version__ == '3.3.2', airflow.__version__"

# 3. DAGs (the factory + the integration configs in dags/integrations/) and plugins.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/

# Staging folder for attribute sets between tasks. In compose a named volume is mounted
# here on every Airflow service; creating it in the image gives a fresh volume the right
# owner. Group 0 may write, for containers started with another AIRFLOW_UID.
RUN mkdir -p /opt/airflow/inbound_staging && chmod 2775 /opt/airflow/inbound_staging

ENV INBOUND_CONFIG_DIR=/opt/airflow/dags/integrations \
    INBOUND_STAGING_DIR=/opt/airflow/inbound_staging \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
