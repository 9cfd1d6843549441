"""Benchmark (issue 30): what schema drift, the volume guard and deletions cost a file's mapping and write.

    uv run --frozen python tests/benchmarks/bench_change.py [--rows 1000000] [--repeat 3]

Same process, same machine, interleaved, median of --repeat, on a 12-column export
(`scripts/bench_mapping.export`):

- `map_file` (what `validate_and_map` does besides S3 and staging, in batches) of a plain config:
  the baseline. It now also keeps the header and counts each attribute's values (the shape);
  that count alone is timed apart, as its share of the mapping;
- the same with `delete_when` (a `Status` column, 1% of the rows marked deleted);
- the header comparison and the volume guard (`compare`, `suspicious`) of that file;
- a re-import into SQLite with the 1% deletions against the same re-import without them
  (the store holds the file's users; each write in its own copy of the database).

Prints each, its ratio to the baseline and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bench_mapping import ATTRIBUTES, export
from inbound.config.model import Integration
from inbound.mapping.drift import Known, Shape, compare
from inbound.mapping.volume import suspicious
from inbound.pipeline.batches import map_file
from inbound.store import FileImport, open_store


def _integration(deletions: bool) -> Integration:
    config = {
        "name": "bench",
        "schedule": "@daily",
        "source": {"bucket": "bench", "key": "x.csv"},
        "user_id": {"column": "Email"},
        "attributes": ATTRIBUTES,
        "max_rejected_ratio": 1,
    }
    if deletions:
        config["delete_when"] = {"column": "Status", "values": ["deleted"]}
    return Integration.model_validate(config)


def _with_status(data: bytes) -> bytes:
    frame = pl.read_csv(data, infer_schema=False)
    marks = pl.when(pl.int_range(pl.len()) % 100 == 0).then(pl.lit("deleted")).otherwise(pl.lit("active"))
    return frame.with_columns(marks.alias("Status")).write_csv().encode()


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def _map(data: bytes, integration: Integration, folder: Path):  # type: ignore[no-untyped-def]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return map_file([data], integration, folder)


def _checks(spool, known: Known, integration: Integration) -> None:  # type: ignore[no-untyped-def]
    suspicious(spool.rows_read, compare(spool.header, known, integration, "2026-12-07"), known, integration)


def _filled_count(spool, integration: Integration) -> None:  # type: ignore[no-untyped-def]
    names = [a.attribute for a in integration.attributes]
    pl.scan_parquet(list(spool.sets)).select(pl.col(n).count() for n in names).collect()


def _write(url: str, spool, integration: Integration, deletions: bool) -> None:  # type: ignore[no-untyped-def]
    with open_store(url) as store:
        store.write_file(
            FileImport("bench", "s3://bench/x2.csv", "e2", integration.version, "bench"),
            types=integration.attribute_types,
            frame=(pl.read_parquet(p) for p in spool.sets),
            deletions=(pl.read_parquet(p) for p in spool.deletions) if deletions else None,
            max_deleted=1.0,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = _with_status(export(args.rows))
    plain, deleting = _integration(False), _integration(True)
    print(f"export: {args.rows:,} rows x 13 columns, {len(data) / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory(prefix="bench-change-") as tmp:
        root = Path(tmp)
        base, count, rule, checks = [], [], [], []
        for _ in range(args.repeat):
            seconds, spool = _timed(_map, data, plain, root / "plain")
            base.append(seconds)
            count.append(_timed(_filled_count, spool, plain)[0])
            seconds, ruled = _timed(_map, data, deleting, root / "rule")
            rule.append(seconds)
            known = Known(Shape(columns=ruled.header[:-1], filled=ruled.filled), "2026-12-01", (args.rows,) * 5)
            checks.append(_timed(_checks, ruled, known, deleting)[0])
        assert ruled.deletion_rows == args.rows // 100, ruled.deletion_rows
        # The writes: a store holding every user, then the same re-import with and without the deletions.
        seed = root / "seed.db"
        open_store(f"sqlite:///{seed}", migrate=True).close()
        _write(f"sqlite:///{seed}", spool, plain, deletions=False)
        changed = pl.read_parquet(list(spool.sets)).with_columns(pl.lit("changed").alias("plan"))
        changed.write_parquet(root / "changed.parquet")

        class Changed:
            sets = (root / "changed.parquet",)
            deletions = ruled.deletions

        without, with_deletions = [], []
        for i in range(args.repeat):
            for target, flag in ((without, False), (with_deletions, True)):
                db = root / f"w{i}{flag}.db"
                shutil.copy(seed, db)
                target.append(_timed(_write, f"sqlite:///{db}", Changed, deleting, flag)[0])
    m = statistics.median
    print(f"map_file, plain config:          {m(base):.2f} s (baseline)")
    print(f"  of which the filled counts:    {m(count):.3f} s ({m(count) / m(base):.1%} of it)")
    print(f"map_file with delete_when (1%):  {m(rule):.2f} s (ratio {m(rule) / m(base):.2f})")
    print(f"compare + volume guard:          {m(checks) * 1000:.2f} ms")
    print(f"re-import into SQLite:           {m(without):.2f} s (baseline)")
    print(f"  with 1% deleted:               {m(with_deletions):.2f} s (ratio {m(with_deletions) / m(without):.2f})")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
