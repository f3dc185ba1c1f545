"""The store: upserts that never double count, atomic files, one writer at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from tokenlens import store as store_module
from tokenlens.cli import app
from tokenlens.errors import StoreError
from tokenlens.loaders import claude_batches
from tokenlens.store import Store

runner = CliRunner()


@pytest.fixture(params=["whole", "in_buckets", "into_a_large_store"])
def both_ways(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest as a small tree into a small store is (read and upserted whole); as a large tree
    is (read in buckets and upserted by `Transaction.upsert_parts`, a bucket aiming at one
    stored or new row at most, so that copies meet only when the hash of their message id
    says so); or as a small tree into a large store (read whole; the stored rows streamed by
    `Transaction.upsert`, only those sharing a message id with a new row merged)."""
    if request.param != "whole":
        monkeypatch.setattr(store_module, "UPSERT_ROWS", 1)
    if request.param == "in_buckets":
        monkeypatch.setattr(claude_batches, "ONE_GO_BYTES", 0)
        monkeypatch.setattr(claude_batches, "BUCKET_BYTES", 300)


def _assistant(
    msg: str,
    req: str,
    out: int,
    *,
    ts: str = "2025-09-01T10:00:00.000Z",
    sidechain: bool = False,
    cache_read: int = 0,
) -> str:
    line = {
        "type": "assistant",
        "timestamp": ts,
        "sessionId": "s1",
        "requestId": req,
        "isSidechain": sidechain,
        "cwd": "/home/u/proj",
        "version": "1.0.98",
        "message": {
            "id": msg,
            "model": "claude-sonnet-4-20250514",
            "content": [{"type": "text", "text": "hello"}],
            "usage": {
                "input_tokens": 10,
                "output_tokens": out,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": cache_read,
            },
        },
    }
    return json.dumps(line, separators=(",", ":")) + "\n"


def _ingest(store: Path, *paths: Path) -> None:
    result = runner.invoke(app, ["ingest", *map(str, paths), "--store", str(store), "--user", "u"])
    assert result.exit_code == 0, result.output


def _rows(store: Path) -> pl.DataFrame:
    return Store(store).scan().collect().sort("event_id")


@pytest.mark.usefixtures("both_ways")
def test_reingest_adds_nothing(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    (project / "s1.jsonl").write_text(_assistant("m1", "r1", 5) + _assistant("m2", "r2", 7))
    store = tmp_path / "store"
    _ingest(store, tmp_path / "projects")
    first = _rows(store)
    (project / "s1.jsonl").touch()  # changed mtime: read again
    _ingest(store, tmp_path / "projects")
    assert first.height == 2
    assert_frame_equal(_rows(store), first)


@pytest.mark.usefixtures("both_ways")
def test_a_grown_streamed_copy_replaces_the_partial_one(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    session = project / "s1.jsonl"
    session.write_text(_assistant("m1", "r1", 8))
    store = tmp_path / "store"
    _ingest(store, tmp_path / "projects")
    with session.open("a") as handle:
        handle.write(_assistant("m1", "r1", 322))
    _ingest(store, tmp_path / "projects")
    rows = _rows(store)
    assert rows["output_tokens"].to_list() == [322]


@pytest.mark.usefixtures("both_ways")
def test_sidechain_replay_ingested_later_loses_to_the_parent(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    (project / "s1" / "subagents").mkdir(parents=True)
    (project / "s1.jsonl").write_text(_assistant("m1", "r1", 50))
    store = tmp_path / "store"
    _ingest(store, tmp_path / "projects")
    aside = project / "s1" / "subagents" / "aside_question-1.jsonl"
    aside.write_text(
        _assistant("m1", "r-replay", 50, sidechain=True, cache_read=90_000)
        + _assistant("m9", "r9", 3, sidechain=True)
    )
    _ingest(store, tmp_path / "projects")
    rows = _rows(store)
    assert rows["event_id"].to_list() == ["m1:r1", "m9:r9"]
    assert rows["cache_read_tokens"].to_list() == [0, 0]


@pytest.mark.usefixtures("both_ways")
def test_ingest_order_does_not_change_the_store(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    a = project / "a.jsonl"
    b = project / "b.jsonl"
    a.write_text(_assistant("m1", "r1", 8) + _assistant("m2", "r2", 1))
    b.write_text(_assistant("m1", "r1", 322) + _assistant("m2", "r2x", 4, sidechain=True))
    _ingest(tmp_path / "ab", a)
    _ingest(tmp_path / "ab", b)
    _ingest(tmp_path / "ba", b)
    _ingest(tmp_path / "ba", a)
    cols = ["event_id", "output_tokens", "kind", "computed_cost_usd"]
    assert_frame_equal(_rows(tmp_path / "ab").select(cols), _rows(tmp_path / "ba").select(cols))
    assert _rows(tmp_path / "ab")["output_tokens"].to_list() == [322, 1]


def test_writes_leave_no_temporary_files_and_are_owner_only(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    (project / "s.jsonl").write_text(_assistant("m1", "r1", 5))
    store = tmp_path / "store"
    _ingest(store, project)
    files = [p for p in store.rglob("*") if p.is_file()]
    assert not [p for p in files if ".tmp-" in p.name]
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)
    assert store.stat().st_mode & 0o077 == 0


def test_leftover_temporary_files_are_removed_by_the_next_ingest(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    (project / "s.jsonl").write_text(_assistant("m1", "r1", 5))
    store = tmp_path / "store"
    _ingest(store, project)
    leftover = next(store.rglob("part.parquet")).with_name("part.parquet.tmp-999")
    leftover.write_bytes(b"half a file")
    (project / "s.jsonl").touch()
    _ingest(store, project)
    assert not leftover.exists()
    assert _rows(store).height == 1


def test_a_second_writer_waits_for_the_lock_then_gives_up(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with (
        store.locked(),
        pytest.raises(StoreError, match="another tokenlens ingest"),
        Store(tmp_path / "store").locked(wait_s=0.1),
    ):
        pass


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / "manifest.json").write_text('{"schema_version": 99, "files": {}}')
    with pytest.raises(StoreError, match="schema version 99"):
        Store(root).scan()


@pytest.mark.usefixtures("both_ways")
def test_history_survives_deleted_transcripts(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    old = project / "old.jsonl"
    old.write_text(_assistant("m1", "r1", 5, ts="2025-06-01T00:00:00.000Z"))
    store = tmp_path / "store"
    _ingest(store, tmp_path / "projects")
    old.unlink()
    (project / "new.jsonl").write_text(_assistant("m2", "r2", 6))
    _ingest(store, tmp_path / "projects")
    assert _rows(store)["event_id"].to_list() == ["m1:r1", "m2:r2"]


def test_a_scan_keeps_reading_its_snapshot_after_later_ingests(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    session = project / "s1.jsonl"
    session.write_text(_assistant("m1", "r1", 5))
    store = tmp_path / "store"
    _ingest(store, project)
    reader = Store(store)
    rows = reader.scan()
    session.write_text(_assistant("m1", "r1", 9) + _assistant("m2", "r2", 7))
    _ingest(store, project)  # replaces the partition file the scan opened
    assert rows.collect()["output_tokens"].to_list() == [5]
    assert rows.select(pl.len()).collect().item() == 1
    assert _rows(store)["output_tokens"].to_list() == [9, 7]


def test_an_error_inside_a_transaction_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    (project / "s1.jsonl").write_text(_assistant("m1", "r1", 5))
    root = tmp_path / "store"
    _ingest(root, project)
    before, manifest = _rows(root), (root / "manifest.json").read_bytes()
    store = Store(root)
    more = before.with_columns(event_id=pl.lit("m2:r2"), ts=pl.col("ts").dt.offset_by("-1mo"))
    with pytest.raises(RuntimeError), store.locked(), store.transaction() as tx:
        tx.upsert(more, merges={}, files=[project / "s1.jsonl"])
        raise RuntimeError
    assert_frame_equal(_rows(root), before)
    assert (root / "manifest.json").read_bytes() == manifest
    assert not [p for p in root.rglob("*") if ".tmp-" in p.name]
    assert len(store.partition_files()) == 1


def test_a_file_is_recorded_as_it_was_before_it_was_read(tmp_path: Path) -> None:
    session = tmp_path / "s1.jsonl"
    session.write_text(_assistant("m1", "r1", 5))
    root = tmp_path / "store"
    _ingest(root, session)
    store = Store(root)
    stamps = store.stamps([session])  # taken before reading, as ingest does
    with session.open("a") as handle:  # the session grows while it is being read
        handle.write(_assistant("m2", "r2", 7))
    with store.locked():
        store.upsert(_rows(root), merges={}, files=[session], stamps=stamps)
    assert store.changed_files([session]) == [session]  # so the next ingest reads it again
    _ingest(root, session)
    assert _rows(root)["event_id"].to_list() == ["m1:r1", "m2:r2"]


def _months(store: Path) -> dict[str, int]:
    manifest = json.loads((store / "manifest.json").read_text())
    return {key: entry["rows"] for key, entry in manifest["partitions"].items()}


@pytest.mark.usefixtures("both_ways")
def test_copies_dated_in_different_months_meet_across_ingests(tmp_path: Path) -> None:
    # One call streamed across midnight at the end of September, and a sidechain replay of
    # another message on 1 October, each ingested in a later run than the first copy.
    first = tmp_path / "p" / "a.jsonl"
    first.parent.mkdir()
    first.write_text(
        _assistant("m1", "r1", 5, ts="2025-09-30T23:59:59.000Z")
        + _assistant("m2", "r2", 7, ts="2025-09-30T23:00:00.000Z")
    )
    store = tmp_path / "store"
    _ingest(store, first)
    assert _months(store) == {"claude_code/2025-09": 2}
    later = tmp_path / "p" / "b.jsonl"
    later.write_text(
        _assistant("m1", "r1", 40, ts="2025-10-01T00:00:01.000Z")  # the longer copy wins
        + _assistant("m2", "r9", 7, ts="2025-10-01T08:00:00.000Z", sidechain=True)  # a replay
        + _assistant("m3", "r3", 1, ts="2025-10-01T09:00:00.000Z")
    )
    _ingest(store, later)
    rows = _rows(store)
    assert rows.get_column("event_id").to_list() == ["m1:r1", "m2:r2", "m3:r3"]
    assert rows.get_column("output_tokens").to_list() == [40, 7, 1]
    assert _months(store) == {"claude_code/2025-09": 1, "claude_code/2025-10": 2}
    # The same rows as one ingest of both files.
    once = tmp_path / "once"
    _ingest(once, first, later)
    assert_frame_equal(rows.drop("as_of"), _rows(once).drop("as_of"))


@pytest.mark.usefixtures("both_ways")
def test_the_manifest_names_each_partitions_empty_columns_and_reports_agree(
    tmp_path: Path,
) -> None:
    """A report skips adding up the columns every scanned partition says are empty; the
    totals are those of a store whose manifest does not say (written before it did)."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    projects = tmp_path / "projects" / "p"
    projects.mkdir(parents=True)
    (projects / "s1.jsonl").write_text(_assistant("m1", "r1", 5) + _assistant("m2", "r2", 7))
    store = tmp_path / "store"
    _ingest(store, projects, fixtures / "copilot" / "premium-usage-2025.csv")
    manifest = json.loads((store / "manifest.json").read_text())
    parts = manifest["partitions"]
    claude, copilot = parts["claude_code/2025-09"], parts["copilot/2025-10"]
    signals = {"lines_added", "lines_removed", "commits", "pull_requests"}
    assert signals <= set(claude["empty_columns"]) and signals <= set(copilot["empty_columns"])
    assert "input_tokens" not in claude["empty_columns"]
    assert "input_tokens" in copilot["empty_columns"]
    both = Store(store)
    both.scan()
    assert both.empty_columns() == set(claude["empty_columns"]) & set(copilot["empty_columns"])
    alone = Store(store)
    alone.scan(["copilot"])
    assert alone.empty_columns() == set(copilot["empty_columns"])

    def report(*args: str) -> dict[str, object]:
        result = runner.invoke(app, ["report", "--store", str(store), "--json", *args])
        assert result.exit_code == 0, result.output
        document: dict[str, object] = json.loads(result.stdout)
        document.pop("generated_at")
        return document

    queries = [(), ("--by", "user", "--by", "day"), ("--by", "source"), ("--source", "copilot")]
    told = [report(*q) for q in queries]
    del copilot["empty_columns"]  # as a partition written before the manifest said
    (store / "manifest.json").write_text(json.dumps(manifest))
    unknown = Store(store)
    unknown.scan()
    assert unknown.empty_columns() == frozenset()
    assert [report(*q) for q in queries] == told


def test_file_keys_are_the_resolved_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest keys files by their resolved path; `file_keys` resolves each folder once,
    and a file that is itself a link whole."""
    real = tmp_path / "real" / "p"
    real.mkdir(parents=True)
    (real / "a.jsonl").write_text("{}\n")
    (real / "b.jsonl").write_text("{}\n")
    (tmp_path / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    (real / "c.jsonl").symlink_to(real / "a.jsonl")
    monkeypatch.chdir(tmp_path / "real")
    files = [
        tmp_path / "linked" / "p" / "a.jsonl",
        tmp_path / "real" / "p" / "b.jsonl",
        Path("p") / ".." / "p" / "a.jsonl",
        Path("p/c.jsonl"),
        tmp_path / "real" / "p" / "missing.jsonl",
    ]
    keys = store_module.file_keys(files)
    assert keys == [str(f.resolve()) for f in files]
    assert keys[3] == str((real / "a.jsonl").resolve())
    assert keys[0] == keys[2] == keys[3]


@pytest.mark.usefixtures("both_ways")
@pytest.mark.parametrize("fails", ["partition", "temporary"])
def test_a_full_disk_is_one_error_and_leaves_the_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    import errno

    project = tmp_path / "projects" / "p"
    project.mkdir(parents=True)
    session = project / "s1.jsonl"
    session.write_text(_assistant("m1", "r1", 8) + _assistant("m2", "r2", 7))
    store = tmp_path / "store"
    _ingest(store, tmp_path / "projects")
    before = _rows(store)
    with session.open("a") as handle:
        handle.write(_assistant("m1", "r1", 322) + _assistant("m3", "r3", 1))

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def polars_full(*args: object, **kwargs: object) -> None:
        raise pl.exceptions.ComputeError("No space left on device (os error 28)")

    if fails == "partition":
        monkeypatch.setattr(store_module, "_write_parquet", full)
        monkeypatch.setattr(store_module._PartitionWriter, "write", full)
    else:  # polars writing a partition, or the temporary files of an upsert in buckets
        spill = store_module._spill
        write = pl.DataFrame.write_parquet

        def second_full(frame: pl.DataFrame, *args: Any, **kwargs: Any) -> None:
            if list(Path(args[0]).parent.glob("upsert.tmp-*")):  # one file written: disk full
                polars_full()
            write(frame, *args, **kwargs)

        def spill_full(*args: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(pl.DataFrame, "write_parquet", second_full)
            return spill(*args, **kwargs)

        monkeypatch.setattr(store_module, "_spill", spill_full)
        monkeypatch.setattr(store_module, "_write_parquet", polars_full)
    result = runner.invoke(app, ["ingest", str(tmp_path / "projects"), "--store", str(store)])
    # The command's boundary (`cli.main`) prints a StoreError as its Error and Hint lines.
    assert isinstance(result.exception, StoreError), result.output
    assert result.exception.message.startswith(
        f"cannot write to the store {store}: No space left on device"
    )
    assert result.exception.hint == (
        "Free some space there, or check that it is writable; it is unchanged."
    )
    monkeypatch.undo()
    assert_frame_equal(_rows(store), before)
    assert not [p for p in store.rglob("*") if ".tmp-" in p.name]
