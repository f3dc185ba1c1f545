"""A report from a large store is added up a part at a time (`Store.scan_parts`): whole
partitions together, a large one in slices. It must be the report of the whole store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenlens import store
from tokenlens.cli import app

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "tests" / "fixtures" / "claude_generated" / "projects"
runner = CliRunner()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated tree (231 events over three months: 50, 148 and 33) in a store."""
    where = tmp_path_factory.mktemp("store")
    done = runner.invoke(app, ["ingest", str(GENERATED), "--store", str(where)])
    assert done.exit_code == 0, done.output
    return where


def _report(where: Path, args: list[str]) -> str:
    result = runner.invoke(app, ["report", "--store", str(where), "--tz", "UTC", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_parts_group_small_partitions_and_slice_large_ones(filled: Path) -> None:
    _, parts = store.Store(filled).scan_parts(rows_per_part=60)
    sizes = [part.collect().height for part in parts]
    # months of 50, 148 and 33 rows: 148 in slices of 60; 50 and 33 apart (83 > 60)
    assert sizes == [60, 60, 28, 50, 33]
    assert store.Store(filled).scan_parts(rows_per_part=231)[1] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--json"],
        ["--by", "session", "--json"],
        ["--by", "model", "--by", "week", "--format", "csv", "--since", "2025-10-05"],
        ["--by", "model_family", "--json", "--cost-mode", "reported"],
        [],
    ],
)
def test_a_store_report_in_parts_is_the_report_of_the_whole_store(
    filled: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    whole = _report(filled, args)
    monkeypatch.setattr(store, "PART_ROWS", 40)
    parts = _report(filled, args)
    if "--json" in args:
        a, b = json.loads(whole), json.loads(parts)
        assert a.pop("generated_at") and b.pop("generated_at")
        assert a["rows"]
        assert b == a
    else:
        assert parts == whole
        assert len(whole.splitlines()) > 5


def test_a_large_store_is_reported_in_parts(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without parts, the test above would compare the whole store with itself.
    from tokenlens.analysis import totals

    calls: list[int] = []
    real = totals.grand_and_grouped_parts

    def counted(parts: list[object], **kwargs: object) -> object:
        calls.append(len(parts))
        return real(parts, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(totals, "grand_and_grouped_parts", counted)
    monkeypatch.setattr(store, "PART_ROWS", 40)
    _report(filled, ["--json"])
    assert calls == [7]  # 50 and 33 rows in two slices each, 148 in four


def test_a_row_count_the_manifest_understates_loses_no_row(
    filled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(filled, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["partitions"]["claude_code/2025-10"]["rows"] = 100  # 148 in the file
    (copy / "manifest.json").write_text(json.dumps(manifest))
    whole = json.loads(_report(copy, ["--json"]))
    monkeypatch.setattr(store, "PART_ROWS", 40)
    parts = json.loads(_report(copy, ["--json"]))
    assert parts["totals"] == whole["totals"]
    assert whole["totals"]["events"] == 231
