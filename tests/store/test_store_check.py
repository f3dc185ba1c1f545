"""`tokenlens store check` finds damage; `store compact` keeps every row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.helpers import assistant, run, tree


def _store(tmp_path: Path) -> Path:
    projects = tree(
        tmp_path / "projects",
        {
            "p/a.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00.000Z")
            + assistant("m2", "r2", ts="2025-10-02T10:00:00.000Z"),
        },
    )
    store = tmp_path / "store"
    result = run("ingest", str(projects), "--store", str(store), "--user", "u")
    assert result.returncode == 0, result.stderr
    return store


def test_a_sound_store_passes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    result = run("store", "check", "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "2 partitions, no problems" in result.stderr


def test_check_finds_duplicates_a_wrong_manifest_and_an_unreadable_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = store / "data" / "source=claude_code"
    copy = data / "month=2025-11"
    copy.mkdir()
    shutil.copy(data / "month=2025-10" / "part.parquet", copy / "part.parquet")
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["partitions"]["claude_code/2025-09"]["rows"] = 7
    (store / "manifest.json").write_text(json.dumps(manifest))
    result = run("store", "check", "--store", str(store))
    assert result.returncode == 1
    err = result.stderr
    assert "month=2025-11/part.parquet: 1 rows belong to another partition" in err
    assert "month=2025-11/part.parquet: not in the manifest" in err
    assert "manifest says 7 rows, the file holds 1" in err
    assert "1 (source, event_id) keys appear more than once" in err
    assert "Error: the store" in err and "problem(s)" in err
    (copy / "part.parquet").write_bytes(b"not parquet")
    broken = run("store", "check", "--store", str(store))
    assert "month=2025-11/part.parquet: unreadable" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_check_finds_a_column_the_manifest_calls_empty_holding_values(tmp_path: Path) -> None:
    store = _store(tmp_path)
    manifest = json.loads((store / "manifest.json").read_text())
    entry = manifest["partitions"]["claude_code/2025-09"]
    assert "input_tokens" not in entry["empty_columns"]
    assert "commits" in entry["empty_columns"]
    entry["empty_columns"].append("input_tokens")
    manifest["partitions"]["claude_code/2025-10"]["empty_columns"] = "commits"
    (store / "manifest.json").write_text(json.dumps(manifest))
    result = run("store", "check", "--store", str(store))
    assert result.returncode == 1
    assert "manifest says input_tokens hold no values, the file has some" in result.stderr
    assert "month=2025-10/part.parquet: the manifest's empty_columns is not a list" in result.stderr
    manifest["partitions"]["claude_code/2025-10"]["empty_columns"] = ["no_such_column"]
    (store / "manifest.json").write_text(json.dumps(manifest))
    again = run("store", "check", "--store", str(store))
    assert "month=2025-10/part.parquet: the manifest's empty_columns is not a list" in again.stderr


def test_compact_keeps_every_row(tmp_path: Path) -> None:
    store = _store(tmp_path)
    before = json.loads(run("report", "--store", str(store), "--json").stdout)["totals"]
    result = run("store", "compact", "--store", str(store))
    assert result.returncode == 0, result.stderr
    after = json.loads(run("report", "--store", str(store), "--json").stdout)["totals"]
    assert after == before
    assert run("store", "check", "--store", str(store)).returncode == 0


def test_no_store_is_an_error(tmp_path: Path) -> None:
    result = run("store", "check", "--store", str(tmp_path / "none"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no store at")
