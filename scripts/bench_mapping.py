"""Benchmark: validate_and_map against a plain polars.read_csv of the same file, same process.

    uv run python scripts/bench_mapping.py [--rows 1000000] [--runs 5]

Generates a 12-column export (user ID + 11 typed attributes, quoted fields with commas,
empty cells, umlauts, ISO timestamps with Z as CRM exports write them), then times, interleaved, `read_table` + `map_table` (everything
`validate_and_map` does besides the S3 GET and the Parquet staging) and `pl.read_csv` on
the same bytes. Prints the medians and their ratio (goal: below 2).
"""

from __future__ import annotations

import argparse
import statistics
import time

import polars as pl

from inbound.config.model import Integration
from inbound.mapping.mapper import map_table
from inbound.reading.reader import read_table

ATTRIBUTES = [
    {"column": "First Name", "name": "first_name"},
    {"column": "Last Name", "name": "last_name"},
    {"column": "Account", "name": "account"},
    {"column": "Plan", "name": "plan"},
    {"column": "Department", "name": "department"},
    {"column": "Country", "name": "country"},
    {"column": "Seats", "name": "seats", "type": "integer"},
    {"column": "Score", "name": "score", "type": "number"},
    {"column": "Is Admin", "name": "is_admin", "type": "boolean"},
    {"column": "Signup Date", "name": "signup_date", "type": "date"},
    {"column": "Last Seen", "name": "last_seen", "type": "timestamp"},
]


def export(rows: int, start: int = 0, header: bool = True) -> bytes:
    """`rows` users from number `start` on (the same rows, whatever chunks they are made in)."""
    i = pl.int_range(start, start + rows, eager=True)

    def cycle(values: list[str]) -> pl.Series:
        return pl.Series(values).gather(i % len(values))

    frame = pl.DataFrame(
        {
            "Email": ("user" + i.cast(pl.String) + "@example.com"),
            "First Name": cycle(["Ada", "Grace", "Alan", "Katherine", "Edsger"]),
            "Last Name": cycle(["Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Müller"]),
            "Account": cycle(["Acme, Inc.", "Globex", "Initech, LLC", "Umbrella"]),
            "Plan": cycle(["free", "starter", "premium", "enterprise"]),
            "Department": cycle(["Sales", "Engineering", "HR", "Finance", ""]),
            "Country": cycle(["DE", "US", "FR", "GB"]),
            "Seats": (i % 500).cast(pl.String),
            "Score": ((i % 50) / 10).cast(pl.String),
            "Is Admin": cycle(["true", "false", "false"]),
            "Signup Date": cycle(["2021-01-02", "2022-03-04", "2020-12-31", ""]),
            "Last Seen": cycle(["2026-11-01T10:00:00Z", "2026-11-02T11:12:13Z", "2026-11-03T01:02:03Z", ""]),
        }
    )
    return frame.write_csv(include_header=header).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    integration = Integration.model_validate(
        {
            "name": "bench",
            "schedule": "@daily",
            "source": {"bucket": "bench", "key": "x.csv"},
            "user_id": {"column": "Email"},
            "attributes": ATTRIBUTES,
        }
    )
    data = export(args.rows)
    print(f"export: {args.rows:,} rows x 12 columns, {len(data) / 1e6:.1f} MB")
    ours, baseline = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        pl.read_csv(data)
        baseline.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = map_table(read_table(data, integration.format, 4 * len(data)), integration)
        ours.append(time.perf_counter() - start)
    assert result.frame.height == args.rows and result.rows_rejected == 0, result.rejects.head()
    b, o = statistics.median(baseline), statistics.median(ours)
    print(f"polars.read_csv          median {b:.3f} s  ({args.rows / b:,.0f} rows/s)")
    print(f"validate_and_map (core)  median {o:.3f} s  ({args.rows / o:,.0f} rows/s)")
    print(f"ratio validate_and_map / read_csv: {o / b:.2f}  (goal: < 2)")


if __name__ == "__main__":
    main()
