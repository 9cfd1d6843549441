"""Chaos on the real processes (issue 29): nothing lost, nothing applied twice, while processes die.

The scenario and its checks are `chaos.py` (shared with `tests/benchmarks/bench_chaos.py`):
20 integrations, event mode and polling mixed, some reading the same files; 300 files in
3 waves, some failing, a fifth of the event-mode notifications delivered twice; two
schedulers, two triggerers and two Celery workers as hosts sharing no disk (staging in S3);
a worker, a triggerer and a scheduler killed with SIGKILL at seeded moments and restarted.
Then every file must be in `success/` or `failed/` once, as its readers' outcomes say, the
store must equal an independent model of importing each file once in upload order, no
import repeated, no staged object left, and each run's state must match its files.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from e2e.chaos import ChaosConfig, run

# The settle wait lasts while files keep moving (`ChaosConfig.stall_timeout`): on a slow machine
# longer than pytest-timeout's 600 s for one test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def test_nothing_is_lost_or_imported_twice_while_a_worker_a_triggerer_and_a_scheduler_die(tmp_path: Path) -> None:
    started = time.monotonic()
    report = run(ChaosConfig.small(), tmp_path)
    print(f"\n{report.table()}\nchaos test: {time.monotonic() - started:.0f} s in all")
    assert len(report.kills) == len(ChaosConfig.small().kills), report.failure()
    assert not report.violations, report.failure()
