"""What reading a staged set whole-or-not-at-all costs (issue 23): the manifest and checksums.

    uv run python tests/benchmarks/bench_staging.py [--rows 1000000] [--parts 10] [--repeat 5]

Builds an attribute set (user ID + 11 attributes) in `--parts` Parquet parts, then, in this
process, on local staging, the median of `--repeat`:

- baseline: the parts moved into a folder and read back with `pl.read_parquet`, one at a time
  (what staging did before: no manifest, nothing checked);
- checked: `Staging.put_parts` (a manifest with each part's rows and SHA-256) and
  `staged_parts(url, rows=...)` (the manifest, the part list, every checksum and row count).

Prints both, their ratio and this process's peak RSS.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "include"))
from inbound.s3.staging import Staging, staged_parts  # noqa: E402


def _parts(folder: Path, rows: int, parts: int) -> list[Path]:
    per = rows // parts
    paths = []
    for i in range(parts):
        start = i * per
        frame = pl.DataFrame(
            {
                "user_id": [f"user{n}@example.com" for n in range(start, start + per)],
                **{
                    f"a{k}": [f"value {n * 7919 % 1_000_003} {k}" for n in range(start, start + per)] for k in range(11)
                },
            }
        )
        path = folder / f"in-{i:06d}.parquet"
        frame.write_parquet(path)
        paths.append(path)
    return paths


def _fresh(source: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    copies = []
    for path in source:
        copies.append(folder / path.name)
        shutil.copy(path, copies[-1])
    return copies


def baseline(source: list[Path], tmp: Path) -> tuple[float, int]:
    parts = _fresh(source, tmp / "in")
    start = time.perf_counter()
    staged = tmp / "staged"
    staged.mkdir()
    for i, part in enumerate(parts):
        shutil.move(part, staged / f"part-{i:06d}.parquet")
    rows = sum(pl.read_parquet(p).height for p in sorted(staged.glob("part-*.parquet")))
    return time.perf_counter() - start, rows


def checked(source: list[Path], tmp: Path, expected: int) -> tuple[float, int]:
    parts = _fresh(source, tmp / "in")
    start = time.perf_counter()
    url = Staging(tmp.as_uri(), "inbound_bench", "run").put_parts("set", parts)
    rows = sum(p.height for p in staged_parts(url, None, rows=expected))
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-staging-") as root:
        source = _parts(Path(root), args.rows, args.parts)
        size = sum(p.stat().st_size for p in source)
        times: dict[str, list[float]] = {"baseline": [], "checked": []}
        for i in range(args.repeat):  # interleaved, so both see the same machine
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                seconds, rows = baseline(source, Path(tmp))
                times["baseline"].append(seconds)
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                seconds, checked_rows = checked(source, Path(tmp), rows)
                times["checked"].append(seconds)
            assert rows == checked_rows == args.parts * (args.rows // args.parts), (i, rows, checked_rows)
    base, check = (statistics.median(times[k]) for k in ("baseline", "checked"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"staged set: {rows:,} rows in {args.parts} parts, {size / 1e6:.1f} MB of Parquet; median of {args.repeat}")
    print(f"baseline (move + read, nothing checked): {base:.3f} s")
    print(f"checked (manifest, SHA-256, rows):       {check:.3f} s")
    print(f"ratio checked/baseline: {check / base:.2f}; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
