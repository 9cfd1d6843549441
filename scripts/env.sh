# Shared local setup for the demo and `airflow standalone`: source it, don't run it.
# Airflow home, metadata database and attribute store (SQLite) under .demo/, the project's DAGs
# and plugins, and a local S3 (moto server on loopback) reached through the aws_default connection.
INBOUND_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$INBOUND_ROOT/.demo/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$INBOUND_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$INBOUND_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE="${AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE:-true}"  # wait_for_file waits in the triggerer
export AIRFLOW__CORE__UNIT_TEST_MODE=False
# The store: the embedded default's own file, named, so that `inbound user` and the other store
# commands read it without loading Airflow (the connection lookup otherwise costs seconds).
export AIRFLOW_CONN_INBOUND_STORE="${AIRFLOW_CONN_INBOUND_STORE:-sqlite:///$AIRFLOW_HOME/inbound_store.db}"
export INBOUND_MOTO_PORT="${INBOUND_MOTO_PORT:-5055}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-demo}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-demo-secret}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="http://127.0.0.1:$INBOUND_MOTO_PORT"
export AIRFLOW_CONN_AWS_DEFAULT="{\"conn_type\": \"aws\", \"extra\": {\"endpoint_url\": \"$AWS_ENDPOINT_URL\", \"region_name\": \"$AWS_DEFAULT_REGION\"}}"

inbound_start_moto() {
  mkdir -p "$AIRFLOW_HOME"
  if ! curl -fs "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1; then
    uv run --frozen moto_server -H 127.0.0.1 -p "$INBOUND_MOTO_PORT" >"$AIRFLOW_HOME/moto.log" 2>&1 &
    INBOUND_MOTO_PID=$!
    for _ in $(seq 1 100); do
      curl -fs "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && return 0
      sleep 0.2
    done
    echo "moto server did not start; see $AIRFLOW_HOME/moto.log" >&2
    return 1
  fi
}
