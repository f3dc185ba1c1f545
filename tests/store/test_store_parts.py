"""A report from a large store is added up a part at a time (`Store.scan_parts`): whole
partitions together, a large one in slices. It must be the report of the whole store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

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


def test_an_upsert_in_buckets_stores_what_a_whole_upsert_does(filled: Path, tmp_path: Path) -> None:
    """`Transaction.upsert_parts` (a large ingest) merges a bucket of message ids at a time;
    the store it leaves is the one `upsert` leaves, copies across months included."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from tokenlens.loaders import claude_code

    stored = store.Store(filled).scan().collect()
    assert stored.height == 231
    every_third = pl.int_range(pl.len()) % 3 == 0
    # Longer copies of a third of the events, dated 20 days later (many in the next month),
    # and 10 new calls under message ids already stored (the one sidechain call among them is
    # a replay, which loses to the stored parent copy).
    longer = stored.filter(every_third).with_columns(
        output_tokens=pl.col("output_tokens") + 100, ts=pl.col("ts") + pl.duration(days=20)
    )
    fresh = stored.head(10).with_columns(event_id=pl.col("event_id") + "-new")
    batch = pl.concat([longer, fresh])
    merges = {"claude_code": claude_code.dedupe}
    whole_at, parts_at = tmp_path / "whole", tmp_path / "parts"
    shutil.copytree(filled, whole_at)
    shutil.copytree(filled, parts_at)
    whole = store.Store(whole_at)
    with whole.locked():
        told = whole.upsert(batch, merges=merges)
    in_parts = store.Store(parts_at)
    with in_parts.locked(), in_parts.transaction() as tx:
        chunks = [batch.slice(0, 40).lazy(), batch.slice(40).lazy()]
        got = tx.upsert_parts(chunks, merges=merges, rows_at_once=25)
    assert (got.rows_in, got.added) == (told.rows_in, told.added) == (87, 9)

    def rows(where: Path) -> pl.DataFrame:
        return store.Store(where).scan().collect().sort("event_id")

    assert_frame_equal(rows(parts_at), rows(whole_at))
    before = stored.select("event_id", before=pl.col("output_tokens"))
    longer_kept = rows(parts_at).join(before, on="event_id")
    assert longer_kept.filter(pl.col("output_tokens") == pl.col("before") + 100).height == 77
    manifests = [json.loads((w / "manifest.json").read_text()) for w in (whole_at, parts_at)]
    assert manifests[0]["partitions"] == manifests[1]["partitions"]
    counts = {key: entry["rows"] for key, entry in manifests[1]["partitions"].items()}
    # 50, 148 and 33 before: the longer copies took their rows into the month of their date
    assert counts == {
        "claude_code/2025-09": 42,
        "claude_code/2025-10": 134,
        "claude_code/2025-11": 64,
    }
    assert store.Store(parts_at).check() == []


def _cursor_rows(shape: str, count: int, start: int = 0) -> Any:
    """Cursor rows of one export shape (`tokens` or `api`, the first part of the event id),
    one a minute from 2025-09-01, as stored."""
    import datetime as dt

    import polars as pl

    from tokenlens import schema

    times = [
        dt.datetime(2025, 9, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
        for i in range(start, start + count)
    ]
    frame = pl.DataFrame(
        {
            "source": ["cursor"] * count,
            "event_id": [
                f"{shape}|{t.isoformat()}|u||||m|No|1/2/3/{i}" for i, t in enumerate(times, start)
            ],
            "ts": times,
            "user": ["u"] * count,
            "model": ["m"] * count,
            "kind": ["Included"] * count,
            "input_tokens": [1] * count,
            "cache_write_tokens": [2] * count,
            "cache_read_tokens": [3] * count,
            "output_tokens": list(range(start, start + count)),
            "requests": [1.0] * count,
            "reported_cost_usd": [0.1] * count,
            "origin": [shape] * count,
            "price_version": ["v1"] * count,
        }
    )
    return schema.conform(frame.lazy(), schema.STORED).collect()


@pytest.mark.parametrize("way", ["upsert", "upsert_parts"])
def test_a_large_upsert_merges_cursor_copies_of_another_export_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """Cursor's rule drops a copy exported in another shape (another event id, so another
    message id) with the same time, user, model and tokens: its months must meet whole, even
    where a large store or a large ingest merges other sources a message at a time."""
    from tokenlens.loaders import cursor

    merges = {"cursor": cursor.dedupe}
    where = store.Store(tmp_path / "store")
    with where.locked():
        where.upsert(_cursor_rows("tokens", 100), merges=merges)
    monkeypatch.setattr(store, "UPSERT_ROWS", 1)  # a large store, as far as the upsert knows
    same = _cursor_rows("api", 5, start=10)  # five of the same calls, from the API export
    with where.locked(), where.transaction() as tx:
        if way == "upsert":
            stats = tx.upsert(same, merges=merges)
        else:
            stats = tx.upsert_parts([same.lazy()], merges=merges, rows_at_once=1)
    assert (stats.rows_in, stats.added) == (5, 0)
    assert where.scan().collect().height == 100
    assert where.check() == []
