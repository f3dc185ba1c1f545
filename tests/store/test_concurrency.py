"""Ingests and reports at the same time: one writer at a time, whole commits for every reader, and
no lock outliving a killed process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.store.usage_data import (
    MONTHS,
    ingest,
    leftovers,
    run,
    store_stats,
    tokenlens,
    totals,
    write_batch,
)
from tokenlens import schema
from tokenlens.errors import StoreError
from tokenlens.store import Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# Holds one of the store's locks until killed: "writer" (what an ingest holds while it reads),
# "commit" (what a writer holds while it renames) or "reader" (what a report holds while it opens).
_HOLDER = """
import sys, time
from pathlib import Path

from tokenlens.store import Store

store = Store(Path(sys.argv[1]))
lock = {"writer": store.locked, "commit": store._committing, "reader": store._reading}[sys.argv[2]]
with lock():
    print("held", flush=True)
    time.sleep(600)
"""

# Scans the store over and over until told to stop; collects each scan twice, a moment apart, and
# prints both totals as one JSON line.
_READER = """
import json, sys, time
from pathlib import Path

from tests.store.usage_data import partition_stats, totals
from tokenlens.store import Store

root, stop = Path(sys.argv[1]), Path(sys.argv[2])
while not stop.exists():
    rows = Store(root).scan()
    first = totals(partition_stats(rows.collect()))
    time.sleep(0.02)
    second = totals(partition_stats(rows.collect()))
    print(json.dumps([first, second]), flush=True)
"""


@pytest.fixture(autouse=True)
def _run_from_the_repository(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Child processes import the tests' helpers, so they start in the repository."""
    monkeypatch.chdir(ROOT)
    yield


def _hold(store: Path, lock: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store), lock], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    return holder


def _kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def _inputs(root: Path, tag: str) -> Path:
    write_batch(root, tag, months=MONTHS[:12], sessions=2, per_session=600, cursor_rows=600)
    return root / tag


def _rows(store: Path) -> pl.DataFrame:
    return Store(store).scan().collect().sort(*schema.KEY)


def test_two_ingests_started_at_once_make_the_store_one_makes(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "inputs", "a")
    reference = tmp_path / "reference"
    assert ingest(reference, inputs).returncode == 0
    store = tmp_path / "store"
    argv = tokenlens("ingest", str(inputs), "--store", str(store), "--user", "u")
    children = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], outcomes
    said = sorted(err for _, err in outcomes)
    assert said[0].startswith("ingested 0 of 3 files (3 unchanged): 0 events read, 0 new")
    assert said[1].startswith("ingested 3 of 3 files (0 unchanged): 1,800 events read, 1,800 new")
    assert_frame_equal(_rows(store), _rows(reference))
    manifest, expected = Store(store).manifest(), Store(reference).manifest()
    assert manifest["files"] == expected["files"]
    assert manifest["partitions"] == expected["partitions"]
    assert run("store", "check", "--store", str(store)).returncode == 0


def test_readers_during_ingests_see_whole_commits_only(tmp_path: Path) -> None:
    batches = [_inputs(tmp_path / "inputs", f"c{i}") for i in range(4)]
    reference = tmp_path / "reference"
    states = {totals(store_stats(reference))}  # the empty store
    for batch in batches:  # each ingest changes all 24 partitions
        assert ingest(reference, batch).returncode == 0
        states.add(totals(store_stats(reference)))
    assert len(states) == 5

    store, stop = tmp_path / "store", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(store), str(stop)], stdout=subprocess.PIPE, text=True
    )
    reports: list[dict[str, int]] = []

    def report_in_a_loop() -> None:
        while not stop.exists():
            result = run("report", "--store", str(store), "--json")
            if result.returncode == 0:  # before the first commit there is no store to report on
                reports.append(json.loads(result.stdout)["totals"])

    reporting = threading.Thread(target=report_in_a_loop)
    reporting.start()
    try:
        time.sleep(0.3)
        for batch in batches:
            assert ingest(store, batch).returncode == 0
            time.sleep(0.1)
    finally:
        stop.touch()
        reporting.join()
        out, _ = reader.communicate(timeout=60)
    scans = [json.loads(line) for line in out.splitlines()]
    assert len(scans) > 20
    seen = {tuple(first) for first, _ in scans}
    assert seen <= states  # every scan saw one commit's state, never a mix of two
    assert len(seen) >= 3  # ... and the scans did run while ingests committed
    assert all(first == second for first, second in scans)  # a scan stays on its snapshot
    assert totals(store_stats(store)) == totals(store_stats(reference))
    columns = ["events", "input_tokens", "cache_write_tokens", "cache_read_tokens"]
    columns.append("output_tokens")
    assert reports
    assert {tuple(r[c] or 0 for c in columns) for r in reports} <= {s[:5] for s in states}


def test_a_report_does_not_wait_for_an_ingest_that_is_reading(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert ingest(store, _inputs(tmp_path / "inputs", "a")).returncode == 0
    holder = _hold(store, "writer")  # as an ingest holds it while it reads and parses
    try:
        start = time.monotonic()
        result = run("report", "--store", str(store), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["totals"]["events"] == 1800
        assert time.monotonic() - start < 20
        assert holder.poll() is None  # the lock was held all along
    finally:
        _kill(holder)


def test_a_live_writer_is_waited_for_then_named(tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = _hold(store, "writer")
    try:
        named = rf"another tokenlens ingest \(pid {holder.pid}\)"
        with pytest.raises(StoreError, match=named), Store(store).locked(wait_s=0.2):
            pass
    finally:
        _kill(holder)


def test_an_ingest_killed_while_holding_the_lock_leaves_no_lock_behind(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "inputs", "a")
    reference = tmp_path / "reference"
    assert ingest(reference, inputs).returncode == 0
    store = tmp_path / "store"
    child = subprocess.Popen(
        tokenlens("ingest", str(inputs), "--store", str(store), "--user", "u"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lock = store / "lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip() == str(child.pid)):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.002)
    _kill(child)  # killed holding the lock: its pid is still written in the lock file

    start = time.monotonic()
    result = ingest(store, inputs)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 20  # not the 30 s wait for a live holder
    assert result.stderr.splitlines() == [
        f"ingested 3 of 3 files (0 unchanged): 1,800 events read, 1,800 new; store {store}"
    ]
    assert_frame_equal(_rows(store), _rows(reference))
    assert leftovers(store) == []
    assert run("store", "check", "--store", str(store)).returncode == 0


@pytest.mark.parametrize("lock", ["commit", "reader"])
def test_a_process_killed_holding_the_commit_lock_blocks_nobody(tmp_path: Path, lock: str) -> None:
    inputs = _inputs(tmp_path / "inputs", "a")
    store = tmp_path / "store"
    assert ingest(store, inputs / "claude").returncode == 0
    _kill(_hold(store, lock))
    report = run("report", "--store", str(store), "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["events"] == 1200
    result = ingest(store, inputs)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr
    assert totals(store_stats(store))[0] == 1800
