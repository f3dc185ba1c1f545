"""kill -9 at any moment of an ingest: the store stays sound, and a re-run ends exactly where an
uninterrupted ingest does, with no temporary file left behind."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.store.usage_data import (
    MONTHS,
    file_stats,
    ingest,
    leftovers,
    store_stats,
    tokenlens,
    totals,
    write_batch,
)
from tokenlens.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()
SEEDS = 20
Stats = dict[tuple[str, str], tuple[int, ...]]


@dataclass(frozen=True)
class World:
    """Inputs, the store before the interrupted ingest, and both states it may end in."""

    inputs: Path  # every batch; the interrupted ingest reads this folder
    base: Path  # the store holding the first batch
    old: Stats  # what base holds
    new: Stats  # what an uninterrupted ingest of inputs into base holds
    duration: float  # seconds that uninterrupted ingest took, start-up included


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home, config and data folder of the module's own for the child processes."""
    root = tmp_path_factory.mktemp("crash")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
            mp.setenv(name, str(root / name.lower()))
        mp.delenv("TOKENLENS_STORE", raising=False)
        mp.delenv("TOKENLENS_CONFIG", raising=False)
        yield root


def _world(root: Path, *, months: int, sessions: int, per_session: int, rows: int) -> World:
    """Batch a over the first months, batch b over as many again, half of them a's."""
    inputs = root / "inputs"
    first = write_batch(
        inputs,
        "a",
        months=MONTHS[:months],
        sessions=sessions,
        per_session=per_session,
        cursor_rows=rows,
    )
    write_batch(
        inputs,
        "b",
        months=MONTHS[months // 2 : months + months // 2],
        sessions=sessions,
        per_session=per_session,
        cursor_rows=rows,
        grow=inputs / "a",
    )
    base = root / "base"
    done = ingest(base, *first)
    assert done.returncode == 0, done.stderr
    reference = root / "reference"
    shutil.copytree(base, reference)
    start = time.monotonic()
    done = ingest(reference, inputs)
    duration = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    old, new = store_stats(base), store_stats(reference)
    assert set(old) < set(new)  # the second batch adds partitions ...
    assert sum(old[key] != new[key] for key in old) > len(old) // 2  # ... and changes old ones
    return World(inputs, base, old, new, duration)


@pytest.fixture(scope="module")
def world(sandbox: Path) -> World:
    """Big enough that an ingest takes a second or two: 72 partitions, 30,000 events."""
    return _world(sandbox / "big", months=24, sessions=6, per_session=2000, rows=3000)


@pytest.fixture(scope="module")
def small(sandbox: Path) -> World:
    """A handful of partitions, for stepping through one commit."""
    return _world(sandbox / "small", months=2, sessions=1, per_session=2, rows=2)


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _assert_sound_after_a_kill(world: World, store: Path) -> Stats:
    """The checks every interrupted ingest must pass; returns what a reader then sees."""
    # each partition file, read as it lies on disk before anything recovers: old or new
    for key, stats in file_stats(store).items():
        assert stats in (world.old.get(key), world.new[key]), key
    # a reader sees one whole state, every partition old or every partition new
    _cli("store", "check", "--store", str(store))
    seen = store_stats(store)
    assert seen in (world.old, world.new)
    report = json.loads(_cli("report", "--store", str(store), "--json"))["totals"]
    events, *tokens, _cost = totals(seen)
    assert report["events"] == events
    columns = ["input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens"]
    assert [report[c] for c in columns] == tokens
    # the re-run ends where an uninterrupted ingest does, and clears what the killed one left
    result = runner.invoke(app, ["ingest", str(world.inputs), "--store", str(store), "--user", "u"])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr and "Error" not in result.stderr
    assert store_stats(store) == world.new
    assert leftovers(store) == []
    _cli("store", "check", "--store", str(store))
    return seen


@pytest.mark.parametrize("seed", range(SEEDS))
def test_kill_9_at_a_random_moment_loses_and_double_counts_nothing(
    world: World, tmp_path: Path, seed: int
) -> None:
    store = tmp_path / "store"
    shutil.copytree(world.base, store)
    # seed i kills in the i-th twentieth of the run (and a little past its usual end), at a
    # random point within it: start-up, reading, partition writes and the commit all get kills
    delay = world.duration * 1.1 * (seed + random.Random(seed).random()) / SEEDS
    child = subprocess.Popen(
        tokenlens("ingest", str(world.inputs), "--store", str(store), "--user", "u"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    child.kill()
    child.wait()
    _assert_sound_after_a_kill(world, store)


_KILL_AT_STEP = """
import os, pathlib, signal, sys

import tokenlens.store as store

kill_at, count_file, *argv = sys.argv[1:]
steps = 0
committing = False
real_replace, real_unlink, real_commit = os.replace, pathlib.Path.unlink, store.Transaction.commit


def step():
    global steps
    if committing:
        steps += 1
        if steps == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)


def replace(src, dst):
    step()
    real_replace(src, dst)


def unlink(path, missing_ok=False):
    if path.name == store.JOURNAL:
        step()
    real_unlink(path, missing_ok)


def commit(self):
    global committing
    committing = True
    real_commit(self)
    committing = False
    pathlib.Path(count_file).write_text(str(steps))


os.replace, pathlib.Path.unlink, store.Transaction.commit = replace, unlink, commit
from tokenlens.cli import app

sys.argv = ["tokenlens", *argv]
app()
"""


def _ingest_killed_at(world: World, store: Path, step: int) -> subprocess.Popen[bytes]:
    """An ingest that kills itself (SIGKILL) at a step of its commit.

    The steps are its renames (the journal's, each partition's, the manifest's) and the removal
    of the journal; step 0 runs to the end and writes the number of steps beside the store.
    """
    count = store.parent / f"{store.name}.steps"
    argv = ["ingest", str(world.inputs), "--store", str(store), "--user", "u"]
    return subprocess.Popen(
        [sys.executable, "-c", _KILL_AT_STEP, str(step), str(count), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_kill_9_at_every_step_of_a_commit_leaves_the_old_or_the_new_state(
    small: World, tmp_path: Path
) -> None:
    counting = tmp_path / "counting"
    shutil.copytree(small.base, counting)
    assert _ingest_killed_at(small, counting, 0).wait() == 0
    steps = int((tmp_path / "counting.steps").read_text())
    assert store_stats(counting) == small.new
    stores = [tmp_path / f"kill-{k}" for k in range(1, steps + 1)]
    for store in stores:
        shutil.copytree(small.base, store)
    outcomes = []
    for batch in range(0, len(stores), 4):
        children = [
            _ingest_killed_at(small, store, k)
            for k, store in enumerate(stores[batch : batch + 4], start=batch + 1)
        ]
        assert all(child.wait() == -9 for child in children)
    for store in stores:
        outcomes.append(_assert_sound_after_a_kill(small, store) == small.new)
    # killed before the journal is in place: old; from then on: new, even with no rename done
    flip = outcomes.index(True)
    assert outcomes == [False] * flip + [True] * (steps - flip)
    assert 0 < flip < steps - 2
