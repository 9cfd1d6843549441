"""The dlt peer of `inbound run` (run by bench_peers.py in its own virtualenv, never the project's).

    python dlt_load.py CSV_PATH POSTGRES_URL DATASET PIPELINES_DIR

Reads the local CSV with `pyarrow.csv` (streaming, typed columns as the inbound config
declares them), yields arrow tables to a dlt resource (write_disposition merge, primary key
user_id) and runs the pipeline into PostgreSQL schema DATASET: arrow -> parquet -> ADBC copy
into dlt's staging dataset, then dlt's merge SQL into the table `crm`. The same
PIPELINES_DIR and DATASET for a re-import make it dlt's own incremental (merge) path.
Prints one JSON line: rows extracted and dlt's version.
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
import pyarrow as pa
from pyarrow import csv

# File column -> (dlt column, arrow type): the inbound config's names and declared types.
COLUMNS = {
    "Email": ("user_id", pa.string()),
    "First Name": ("first_name", pa.string()),
    "Last Name": ("last_name", pa.string()),
    "Account": ("account", pa.string()),
    "Plan": ("plan", pa.string()),
    "Department": ("department", pa.string()),
    "Country": ("country", pa.string()),
    "Seats": ("seats", pa.int64()),
    "Score": ("score", pa.float64()),
    "Is Admin": ("is_admin", pa.bool_()),
    "Signup Date": ("signup_date", pa.date32()),
    "Last Seen": ("last_seen", pa.timestamp("us", tz="UTC")),
}
BLOCK = 64 << 20  # bytes of CSV per arrow batch


def tables(path: str):
    reader = csv.open_csv(
        path,
        read_options=csv.ReadOptions(block_size=BLOCK),
        convert_options=csv.ConvertOptions(column_types={k: t for k, (_, t) in COLUMNS.items()}),
    )
    names = [COLUMNS[n][0] for n in reader.schema.names]
    for batch in reader:
        yield pa.Table.from_batches([batch]).rename_columns(names)


def with_password(url: str) -> str:
    """dlt's PostgresCredentials require a password: a placeholder when the URL has none (trust auth)."""
    parts = urlsplit(url)
    if parts.password is not None or "@" not in parts.netloc:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user}:unused@{host}"))


def main() -> None:
    path, url, dataset, pipelines_dir = sys.argv[1:5]
    url = with_password(url)
    rows = 0

    @dlt.resource(name="crm", write_disposition="merge", primary_key="user_id")
    def crm():
        nonlocal rows
        for table in tables(path):
            rows += table.num_rows
            yield table

    pipeline = dlt.pipeline(
        pipeline_name=dataset,
        destination=dlt.destinations.postgres(credentials=url),
        dataset_name=dataset,
        pipelines_dir=pipelines_dir,
    )
    info = pipeline.run(crm(), loader_file_format="parquet")
    info.raise_on_failed_jobs()
    print(json.dumps({"rows": rows, "dlt": dlt.__version__, "loads": len(info.loads_ids)}))


if __name__ == "__main__":
    main()
