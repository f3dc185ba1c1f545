"""The Gemini CLI chat-log loader (FORMATS.md section 5).

No public sample exists, so the fixtures are hand-made from the documented shapes (see
tests/fixtures/gemini/PROVENANCE.md). `_reference` re-reads them with the json module; the
expected numbers were also worked out by hand and are tabled in PROVENANCE.md.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.errors import InputError
from tokenlens.loaders import detect, gemini
from tokenlens.schema import USAGE

REPO = Path(__file__).resolve().parents[2]
HASH = "3f6c2a9e81d04b7f95e2c8a1d6b3f0e47a9c5d2b8e1f4a7c0d3b6e9f2a5c8d1b"
CHATS = REPO / "tests" / "fixtures" / "gemini" / "tmp" / HASH / "chats"
MAIN_ID = "5f1d2a3b-8c4e-4f6a-9b2d-1e3f5a7c9d0b"
LEGACY_ID = "c7e9a1f3-2b4d-4e6f-8a0c-9d1e3f5b7a2c"
SUB_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
MAIN = CHATS / "session-2025-10-02T09-15-5f1d2a3b.jsonl"
LEGACY = CHATS / "session-2025-09-30T14-05-c7e9a1f3.json"
MIGRATED = CHATS / "session-2025-09-30T14-05-c7e9a1f3.jsonl"
SUBAGENT = CHATS / MAIN_ID / f"{SUB_ID}.jsonl"
ALL = sorted([MAIN, LEGACY, MIGRATED, SUBAGENT])
SAMPLE = REPO / "sample_data" / "gemini" / "tmp"

# the FORMATS.md example: 15327 + 23 + 919 + 7 = 16276, cached 11526
EXAMPLE_ID = f"{MAIN_ID}:8d2c4e6a-1f3b-4d5e-8a7c-9b0d1e2f3a4b"


def frame(files: list[Path], user: str = "alice") -> pl.DataFrame:
    return gemini.scan(files, user=user).frame.collect()


def totals(df: pl.DataFrame) -> tuple[int, int, int, int]:
    """(events, input, cache read, output)."""
    sums = df.select(
        pl.len(), *(pl.col(c).sum() for c in ("input_tokens", "cache_read_tokens", "output_tokens"))
    )
    return tuple(sums.row(0))  # type: ignore[return-value]


def canonical_sort(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("source", "event_id")


def _reference(files: list[Path]) -> dict[str, tuple[int, int, int, int]]:
    """{own session:message id: (input, cached, output+thoughts, total)}, json module only.

    Per message id the last copy with tokens wins (lines and `$set.messages` entries alike);
    `$rewindTo` removes nothing from the bill; `cached` is subtracted from `input` unless
    `total` shows `input` excluded it.
    """
    out: dict[str, tuple[int, int, int, int]] = {}
    for path in files:
        text = path.read_text()
        if path.suffix == ".json":
            record = json.loads(text)
            session, messages = record["sessionId"], record["messages"]
        else:
            session, messages = "", []
            for line in text.splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "$set" in record:
                    session = record["$set"].get("sessionId", session)
                    messages.extend(record["$set"].get("messages", []))
                elif "id" in record:
                    messages.append(record)
                elif "sessionId" in record:
                    session = record["sessionId"]
        for m in messages:
            t = m.get("tokens")
            if m.get("type") != "gemini" or not t:
                continue
            parts = t["input"] + t["output"] + t["thoughts"] + t["tool"]
            excludes_cached = t["cached"] and t["total"] == parts + t["cached"]
            inp = t["input"] - (0 if excludes_cached else t["cached"]) + t["tool"]
            out[f"{session}:{m['id']}"] = (
                inp,
                t["cached"],
                t["output"] + t["thoughts"],
                t["total"],
            )
    return out


# --------------------------------------------------------------------------- token mapping


def test_the_formats_example_maps_cached_out_of_input_and_thoughts_into_output() -> None:
    row = frame([MAIN]).filter(pl.col("event_id") == EXAMPLE_ID).row(0, named=True)
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (
        15327 - 11526 + 7,
        11526,
        23 + 919,
    )
    assert row["input_tokens"] + row["cache_read_tokens"] + row["output_tokens"] == 16276
    assert row["cache_write_tokens"] == 0


def test_canonical_tokens_sum_to_the_reported_total() -> None:
    ref = _reference(ALL)
    df = frame(ALL)
    for row in df.iter_rows(named=True):
        total = row["input_tokens"] + row["cache_read_tokens"] + row["output_tokens"]
        assert total == ref[row["event_id"]][3], row["event_id"]


def test_a_total_that_shows_input_excluded_cached_subtracts_nothing() -> None:
    """h2: input 500, cached 300, output 50, total 850 = input + cached + output."""
    row = frame([LEGACY]).filter(pl.col("model") == "gemini-2.5-flash").row(0, named=True)
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (500, 300, 50)


# --------------------------------------------------------------------------- the append log


def test_main_log_totals() -> None:
    df = frame([MAIN])
    assert totals(df) == (4, 16820, 46526, 2552)
    assert df.get_column("model").to_list() == [
        "gemini-2.5-pro",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-pro",
    ]


def test_files_match_an_independent_reading() -> None:
    ref = _reference(ALL)
    df = frame(ALL)
    got = {
        r["event_id"]: (r["input_tokens"], r["cache_read_tokens"], r["output_tokens"])
        for r in df.iter_rows(named=True)
    }
    assert got == {k: v[:3] for k, v in ref.items()}


def test_reappended_and_set_copies_of_a_message_count_once() -> None:
    """g1 appears three times as a line and once in `$set.messages`; g2 twice."""
    raw = MAIN.read_text()
    assert raw.count('"id":"8d2c4e6a-1f3b-4d5e-8a7c-9b0d1e2f3a4b"') == 4
    ids = frame([MAIN]).get_column("event_id")
    assert ids.is_unique().all()
    assert (ids == EXAMPLE_ID).sum() == 1


def test_rewound_messages_still_count() -> None:
    """`$rewindTo` drops g3 from the conversation, but its call was made and billed."""
    assert "$rewindTo" in MAIN.read_text()
    flash = frame([MAIN]).filter(pl.col("model") == "gemini-2.5-flash")
    assert flash.select("input_tokens", "cache_read_tokens", "output_tokens").row(0) == (
        9000,
        0,
        40,
    )


def test_a_copy_without_tokens_never_erases_usage(tmp_path: Path) -> None:
    meta = {"sessionId": "s1", "projectHash": "h", "startTime": "2025-10-01T00:00:00Z"}
    with_tokens = {
        "id": "m1",
        "timestamp": "2025-10-01T00:00:05Z",
        "type": "gemini",
        "model": "gemini-2.5-pro",
        "tokens": {"input": 100, "output": 5, "cached": 40, "thoughts": 2, "tool": 0, "total": 107},
    }
    without = {k: v for k, v in with_tokens.items() if k != "tokens"}
    path = tmp_path / "chats" / "session-x.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(r) for r in (meta, with_tokens, without)) + "\n")
    assert totals(frame([path])) == (1, 60, 40, 7)


def test_the_last_copy_with_tokens_wins(tmp_path: Path) -> None:
    meta = {"sessionId": "s1", "projectHash": "h"}
    first = {
        "id": "m1",
        "timestamp": "2025-10-01T00:00:05Z",
        "type": "gemini",
        "tokens": {"input": 10, "output": 1, "cached": 0, "thoughts": 0, "tool": 0, "total": 11},
    }
    second = {**first, "tokens": {**first["tokens"], "output": 3, "total": 13}}
    path = tmp_path / "session-y.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (meta, first, second)) + "\n")
    assert totals(frame([path])) == (1, 10, 0, 3)


# --------------------------------------------------------------------------- files and sessions


def test_a_legacy_record_and_its_migrated_log_count_once() -> None:
    both = frame([LEGACY, MIGRATED])
    assert totals(both) == (3, 3000, 9800, 400)
    assert totals(frame([LEGACY])) == (2, 2500, 6300, 300)
    # the log is the newer file: its copy of the shared messages is the one kept
    shared = both.filter(pl.col("ts").dt.date().cast(pl.String) == "2025-09-30")
    assert set(shared.get_column("origin")) == {str(MIGRATED)}


def test_a_subagent_chat_is_credited_to_its_parent_session() -> None:
    row = frame([SUBAGENT]).row(0, named=True)
    assert row["session_id"] == MAIN_ID
    assert row["event_id"].startswith(f"{SUB_ID}:")
    assert row["kind"] == "subagent"
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (
        2000,
        1000,
        150,
    )


def test_rows_are_in_the_canonical_schema_with_project_hash_and_user() -> None:
    df = frame(ALL)
    assert df.schema == pl.Schema(USAGE)
    assert set(df.get_column("project")) == {HASH}
    assert set(df.get_column("user")) == {"alice"}
    assert set(df.get_column("source")) == {"gemini"}
    assert set(df.get_column("kind")) == {"main", "subagent"}
    assert df.get_column("requests").to_list() == [1.0] * df.height
    assert totals(df) == (8, 21820, 57326, 3102)


def test_as_of_is_the_newest_time_in_the_file() -> None:
    df = frame([MAIN])
    assert {a.isoformat() for a in df.get_column("as_of")} == {"2025-10-02T09:21:52.700000+00:00"}


def test_malformed_and_half_written_lines_are_counted_not_fatal() -> None:
    notices = {n.message: n.count for n in gemini.scan(ALL, user="alice").notices}
    assert notices == {
        "Gemini: skipped malformed lines": 1,
        "Gemini: skipped half-written last lines (session still running?)": 1,
    }


def test_a_broken_legacy_record_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "session-2025-09-30T14-05-deadbeef.json"
    path.write_text(LEGACY.read_text()[:200])
    with pytest.raises(InputError, match="not a readable Gemini CLI chat record"):
        gemini.scan([path], user="alice")


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        gemini.scan([tmp_path / "missing.jsonl"], user="alice")


def test_impossible_token_counts_are_skipped_and_counted(tmp_path: Path) -> None:
    meta = {"sessionId": "s1", "projectHash": "h"}
    bad = {
        "id": "m1",
        "timestamp": "2025-10-01T00:00:05Z",
        "type": "gemini",
        "tokens": {"input": -10, "output": 1, "cached": 0, "thoughts": 0, "tool": 0, "total": -9},
    }
    path = tmp_path / "session-z.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (meta, bad)) + "\n")
    scan = gemini.scan([path], user="alice")
    assert scan.frame.collect().height == 0
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Gemini: skipped records with a negative token count", 1)
    ]


# --------------------------------------------------------------------------- stability


def test_rescanning_and_duplicated_files_never_change_totals(tmp_path: Path) -> None:
    once = canonical_sort(frame(ALL))
    assert_frame_equal(canonical_sort(frame(ALL + ALL)), once)
    elsewhere = tmp_path / "backup" / MAIN.name
    elsewhere.parent.mkdir()
    shutil.copyfile(MAIN, elsewhere)
    assert totals(frame([*ALL, elsewhere])) == totals(once)


@pytest.mark.parametrize("seed", range(4))
def test_file_order_never_changes_the_result(seed: int) -> None:
    shuffled = list(ALL)
    random.Random(seed).shuffle(shuffled)
    assert_frame_equal(canonical_sort(frame(shuffled)), canonical_sort(frame(ALL)))


def test_dedupe_is_order_independent_and_idempotent() -> None:
    legacy = gemini.scan([LEGACY], user="alice").frame
    migrated = gemini.scan([MIGRATED], user="alice").frame
    stacked = pl.concat([legacy, migrated, legacy]).collect()
    expected = canonical_sort(frame([LEGACY, MIGRATED]))
    for seed in range(8):
        shuffled = stacked.sample(fraction=1.0, shuffle=True, seed=seed)
        once = gemini.dedupe(shuffled.lazy()).collect()
        assert_frame_equal(canonical_sort(once), expected)
        assert_frame_equal(gemini.dedupe(once.lazy()).collect(), once)


def test_dedupe_picks_the_same_copy_whatever_the_pricing_columns_order() -> None:
    """Copies equal in every canonical column but priced differently: the pick is stable."""
    rows = frame([MAIN])
    a = rows.with_columns(computed_cost_usd=pl.lit(1.0), price_version=pl.lit("v1"))
    b = rows.with_columns(computed_cost_usd=pl.lit(2.0), price_version=pl.lit("v2"))
    ab = gemini.dedupe(pl.concat([a, b]).lazy()).collect()
    ba = gemini.dedupe(pl.concat([b, a]).lazy()).collect()
    assert_frame_equal(ab, ba)
    assert ab.height == rows.height


# --------------------------------------------------------------------------- routing and samples


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_detect_routes_chat_files_to_gemini(path: Path) -> None:
    assert detect.sniff(detect.read_head(path), path.name) == "gemini"


def test_sample_data_chat_matches_an_independent_reading() -> None:
    files = sorted(SAMPLE.rglob("*.jsonl"))
    df = frame(files)
    ref: dict[str, Any] = _reference(files)
    assert totals(df) == (4, 23909, 51840, 4253)
    assert {
        r["event_id"]: (r["input_tokens"], r["cache_read_tokens"], r["output_tokens"])
        for r in df.iter_rows(named=True)
    } == {k: v[:3] for k, v in ref.items()}
    assert gemini.scan(files, user="alice").notices == []
