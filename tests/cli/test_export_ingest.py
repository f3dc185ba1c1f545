"""`tokenlens export` and `tokenlens ingest` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from tests.cli.helpers import assistant, run, tree
from tests.conftest import ROOT
from tokenlens import schema
from tokenlens.cli import app

runner = CliRunner()
SAMPLE = ROOT / "sample_data" / "claude" / "projects"


def _projects(tmp_path: Path) -> Path:
    return tree(
        tmp_path / "projects",
        {
            "p/s1.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00.000Z")
            + assistant("m2", "r2", ts="2025-09-03T10:00:00.000Z", cwd="-rm -rf"),
        },
    )


def test_export_parquet_has_the_canonical_columns(tmp_path: Path) -> None:
    out = tmp_path / "rows.parquet"
    result = runner.invoke(
        app, ["export", str(_projects(tmp_path)), "-f", "parquet", "-o", str(out), "--user", "a"]
    )
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.columns == [*schema.PRICED, "team"]
    assert frame["event_id"].to_list() == ["m1:r1", "m2:r2"]
    assert frame["user"].to_list() == ["a", "a"]
    assert out.stat().st_mode & 0o077 == 0


def test_export_ndjson_to_stdout_with_filters(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            str(_projects(tmp_path)),
            "-f",
            "ndjson",
            "--since",
            "2025-09-02",
            "--tz",
            "UTC",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["event_id"] for r in rows] == ["m2:r2"]
    assert rows[0]["ts"] == "2025-09-03T10:00:00Z"
    assert rows[0]["cost_basis"] == "computed"


def test_export_csv_neutralizes_formulas(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", str(_projects(tmp_path)), "-f", "csv"])
    assert result.exit_code == 0
    assert "'-rm -rf" in result.stdout


def test_ingest_then_report_reads_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = run("ingest", str(_projects(tmp_path)), "--store", str(store), "--user", "bob")
    assert first.returncode == 0, first.stderr
    assert "2 new" in first.stderr
    again = run("ingest", str(tmp_path / "projects"), "--store", str(store))
    assert "1 unchanged" in again.stderr and "0 new" in again.stderr
    result = run("report", "--store", str(store), "--json", "--by", "user")
    doc = json.loads(result.stdout)
    assert [(r["user"], r["events"]) for r in doc["rows"]] == [("bob", 2)]


def test_the_store_never_holds_message_content(tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = run("ingest", str(SAMPLE), "--store", str(store), "--user", "alice")
    assert result.returncode == 0, result.stderr
    planted = [b"SECRET-", b"PLANTED-CONTENT-MARKER"]
    assert b"SECRET-" in b"".join(p.read_bytes() for p in SAMPLE.rglob("*.jsonl"))
    for path in store.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(marker in data for marker in planted), path
    values = pl.read_parquet(next(store.rglob("*.parquet"))).cast(pl.String)
    for column in values.columns:
        assert not values[column].str.contains("SECRET-").any(), column
