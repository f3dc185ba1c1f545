"""The Codex CLI rollout loader (FORMATS.md section 4).

The real sample's per-session totals are recomputed here with the json module; the hand-made
files' numbers were worked out by hand and are tabled in tests/fixtures/codex/PROVENANCE.md and
sample_data/codex/PROVENANCE.md.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.errors import InputError
from tokenlens.loaders import codex, detect
from tokenlens.schema import USAGE

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "codex"
REAL = FIXTURES / "session-alpha.jsonl"
REAL_SHA256 = "40b8a4911215d2b2f7258955430ae795200236d6403e42e7fbec5f02146d9b53"
HANDMADE = FIXTURES / "handmade"
REEMIT = next((HANDMADE / "reemit-reset").glob("*.jsonl"))
LAST_ONLY = next((HANDMADE / "last-only").glob("*.jsonl"))
HOME = HANDMADE / "codex-home"
DAY = HOME / "sessions" / "2025" / "10" / "03"
PARENT = DAY / "rollout-2025-10-03T10-00-00-0199a1b2-0000-7000-8000-00000000b001.jsonl"
FORK = DAY / "rollout-2025-10-03T10-30-00-0199a1b2-0000-7000-8000-00000000b002.jsonl"
SUBAGENT = DAY / "rollout-2025-10-03T10-40-00-0199a1b2-0000-7000-8000-00000000b003.jsonl"
ARCHIVED = HOME / "archived_sessions" / "2025" / "10" / "03" / PARENT.name
ALL = sorted(FIXTURES.rglob("*.jsonl"))
SAMPLE = REPO / "sample_data" / "codex" / "sessions"

TOKENS = ["input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens"]


def frame(files: list[Path], user: str = "alice") -> pl.DataFrame:
    return codex.scan(files, user=user).frame.collect()


def totals(df: pl.DataFrame) -> tuple[int, int, int, int]:
    """(events, input, cache read, output)."""
    sums = df.select(pl.len(), *(pl.col(c).sum() for c in TOKENS if c != "cache_write_tokens"))
    return tuple(sums.row(0))  # type: ignore[return-value]


def per_event(df: pl.DataFrame) -> list[tuple[str, str, int, int, int]]:
    return [
        (
            r["ts"].isoformat(),
            r["model"],
            r["input_tokens"],
            r["cache_read_tokens"],
            r["output_tokens"],
        )
        for r in df.sort("ts").iter_rows(named=True)
    ]


def canonical_sort(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("source", "event_id")


# --------------------------------------------------------------------------- the real sample


def _independent_session_totals(path: Path) -> dict[str, tuple[int, int, int, int]]:
    """Deltas of `total_token_usage`, read with the json module only: {file stem: totals}."""
    previous = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0}
    events = inp = cached = out = 0
    for line in path.read_text().splitlines():
        record = json.loads(line)
        payload = record.get("payload") or {}
        if record.get("type") != "event_msg" or payload.get("type") != "token_count":
            continue
        info = payload.get("info")
        if not info:
            continue
        total = info["total_token_usage"]
        delta = {k: total[k] - previous[k] for k in previous}
        previous = {k: total[k] for k in previous}
        if not any(delta.values()):
            continue
        events += 1
        inp += delta["input_tokens"] - delta["cached_input_tokens"]
        cached += delta["cached_input_tokens"]
        out += delta["output_tokens"]
    return {path.stem: (events, inp, cached, out)}


def test_real_sample_is_an_unedited_copy() -> None:
    assert hashlib.sha256(REAL.read_bytes()).hexdigest() == REAL_SHA256


def test_real_sample_session_totals_match_an_independent_reading() -> None:
    df = frame([REAL])
    got = {
        row["session_id"]: (
            row["len"],
            row["input_tokens"],
            row["cache_read_tokens"],
            row["output_tokens"],
        )
        for row in df.group_by("session_id")
        .agg(pl.len(), pl.col("input_tokens", "cache_read_tokens", "output_tokens").sum())
        .iter_rows(named=True)
    }
    assert got == _independent_session_totals(REAL)
    assert got == {"session-alpha": (2, 2750, 750, 425)}


def test_real_sample_events_take_the_model_the_event_names() -> None:
    """The second event's `info.model` (gpt-5.3-codex) beats the earlier turn_context's."""
    assert per_event(frame([REAL])) == [
        ("2026-05-13T09:01:00+00:00", "gpt-5.2-codex", 750, 250, 125),
        ("2026-05-14T10:00:00+00:00", "gpt-5.3-codex", 2000, 500, 300),
    ]


def test_cached_input_is_inside_input_and_reasoning_inside_output() -> None:
    """input + cache read equals the raw input delta; output is never raised by reasoning."""
    df = frame([REAL])
    assert df.select((pl.col("input_tokens") + pl.col("cache_read_tokens")).sum()).item() == 3500
    assert df.get_column("output_tokens").sum() == 425  # reasoning 275 is part of it
    assert df.get_column("cache_write_tokens").to_list() == [0, 0]


def test_rows_are_in_the_canonical_schema() -> None:
    df = frame(ALL)
    assert df.schema == pl.Schema(USAGE)
    assert df.get_column("event_id").is_unique().all()
    assert set(df.get_column("source")) == {"codex"}
    assert set(df.get_column("user")) == {"alice"}
    assert df.get_column("requests").to_list() == [1.0] * df.height
    assert df.select(pl.col("lines_added", "commits", "reported_cost_usd").null_count().sum()).row(
        0
    ) == (df.height, df.height, df.height)


# --------------------------------------------------------------------------- the rule, hand-made


def test_reemitted_totals_add_nothing_and_a_reset_uses_the_turn_usage() -> None:
    df = frame([REEMIT])
    assert per_event(df) == [
        ("2025-10-02T09:00:10+00:00", "gpt-5-codex", 800, 200, 300),
        ("2025-10-02T09:01:00+00:00", "gpt-5-codex", 800, 700, 200),
        ("2025-10-02T09:02:30+00:00", "gpt-5", 250, 100, 40),  # totals went down: last usage
        ("2025-10-02T09:03:00+00:00", "gpt-5", 200, 100, 40),  # delta from the reset totals
    ]
    assert totals(df) == (4, 2050, 1100, 580)


def test_summing_last_usage_would_have_overcounted() -> None:
    """The naive reading the rule exists to avoid: every event's last_token_usage."""
    naive = 0
    for line in REEMIT.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        info = (record.get("payload") or {}).get("info") or {}
        if "last_token_usage" in info:
            naive += info["last_token_usage"]["input_tokens"]
    assert naive == 1000 + 1000 + 1500 + 1500 + 350 + 300
    assert (
        frame([REEMIT]).select((pl.col("input_tokens") + pl.col("cache_read_tokens")).sum()).item()
        == 3150
    )


def test_session_metadata_names_session_project_and_kind() -> None:
    df = frame([REEMIT, LAST_ONLY])
    meta = df.select("session_id", "project", "kind").unique().sort("session_id").rows()
    assert meta == [
        ("0199a1b2-0000-7000-8000-00000000a001", "/home/alice/src/api", "cli"),
        ("0199a1b2-0000-7000-8000-00000000a002", "/home/alice/src/cli", "exec"),
    ]


def test_the_first_session_meta_is_the_files_own(tmp_path: Path) -> None:
    """A later copy of another session's metadata does not rename the file's session."""
    copy = json.loads(PARENT.read_text().splitlines()[0])
    own = {**copy, "payload": {**copy["payload"], "id": "own-id", "cwd": "/own"}}
    body = PARENT.read_text().splitlines()[1:]
    path = tmp_path / "rollout.jsonl"
    path.write_text("\n".join([json.dumps(own), json.dumps(copy), *body]) + "\n")
    df = frame([path])
    assert set(df.select("session_id", "project").rows()) == {("own-id", "/own")}


def test_events_without_totals_use_their_turn_usage() -> None:
    assert per_event(frame([LAST_ONLY])) == [
        ("2025-10-02T11:00:05+00:00", "gpt-5-codex", 400, 0, 60),
        ("2025-10-02T11:00:09+00:00", "gpt-5-codex", 400, 300, 90),
    ]


def test_a_fork_replaying_its_parent_is_not_double_counted() -> None:
    df = frame([PARENT, FORK])
    assert totals(df) == (4, 7000, 16000, 1700)
    by_session = dict(df.group_by("session_id").agg(pl.len()).sort("session_id").iter_rows())
    assert by_session == {
        "0199a1b2-0000-7000-8000-00000000b001": 3,  # the copied events stay with the parent
        "0199a1b2-0000-7000-8000-00000000b002": 1,
    }


def test_a_file_starting_mid_history_counts_only_its_own_first_turn(tmp_path: Path) -> None:
    """Inherited totals (12000 in) with a first turn of 3000: the history is not re-counted."""

    def usage(i: int, c: int, o: int) -> dict[str, int]:
        return {"input_tokens": i, "cached_input_tokens": c, "output_tokens": o}

    lines = [
        {
            "timestamp": "2025-10-04T08:00:00Z",
            "type": "turn_context",
            "payload": {"model": "gpt-5"},
        },
        {
            "timestamp": "2025-10-04T08:00:30Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": usage(12000, 6000, 900),
                    "last_token_usage": usage(3000, 2500, 100),
                },
            },
        },
        {
            "timestamp": "2025-10-04T08:01:30Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": usage(13000, 6500, 950)},
            },
        },
    ]
    path = tmp_path / "rollout-inherited.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert per_event(frame([path])) == [
        ("2025-10-04T08:00:30+00:00", "gpt-5", 500, 2500, 100),
        ("2025-10-04T08:01:30+00:00", "gpt-5", 500, 500, 50),
    ]


def test_a_subagent_replay_burst_only_sets_the_baseline() -> None:
    assert per_event(frame([SUBAGENT])) == [
        ("2025-10-03T10:41:30+00:00", "gpt-5-codex", 500, 2000, 100)
    ]
    assert frame([SUBAGENT]).get_column("kind").to_list() == ["subagent"]


def test_the_sessions_copy_wins_over_the_archived_copy() -> None:
    scan = codex.scan([ARCHIVED, PARENT], user="alice")
    df = scan.frame.collect()
    assert totals(df) == (3, 7000, 13000, 1500)
    assert set(df.get_column("origin")) == {str(PARENT)}
    assert [n.count for n in scan.notices if "archived" in n.message] == [1]


def test_an_archived_copy_alone_is_read() -> None:
    assert totals(frame([ARCHIVED])) == (2, 6000, 6000, 900)


def test_the_whole_hand_made_home_counts_each_event_once() -> None:
    home = sorted(HOME.rglob("*.jsonl"))
    assert totals(frame(home)) == (5, 7500, 18000, 1800)


def test_malformed_and_half_written_lines_are_counted_not_fatal() -> None:
    notices = {n.message: n.count for n in codex.scan([REEMIT], user="alice").notices}
    assert notices == {
        "Codex: skipped malformed lines": 1,
        "Codex: skipped half-written last lines (session still running?)": 1,
    }


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        codex.scan([tmp_path / "missing.jsonl"], user="alice")


def test_epoch_timestamps_and_offsets_are_read(tmp_path: Path) -> None:
    usage = {"input_tokens": 100, "cached_input_tokens": 10, "output_tokens": 5}
    lines = [
        {
            "timestamp": "2025-10-05T10:00:00+02:00",
            "type": "turn_context",
            "payload": {"model": "gpt-5"},
        },
        {
            "timestamp": 1759658400000,  # 2025-10-05T10:00:00Z in milliseconds
            "type": "event_msg",
            "payload": {"type": "token_count", "info": {"total_token_usage": usage}},
        },
        {
            "timestamp": "2025-10-05T12:30:00+02:00",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": {**usage, "input_tokens": 250}},
            },
        },
    ]
    path = tmp_path / "rollout.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert per_event(frame([path])) == [
        ("2025-10-05T10:00:00+00:00", "gpt-5", 90, 10, 5),
        ("2025-10-05T10:30:00+00:00", "gpt-5", 150, 0, 0),
    ]


def test_an_event_without_any_model_is_unknown_not_guessed(tmp_path: Path) -> None:
    usage = {"input_tokens": 10, "cached_input_tokens": 0, "output_tokens": 1}
    line = {
        "timestamp": "2025-10-05T10:00:00Z",
        "type": "event_msg",
        "payload": {"type": "token_count", "info": {"total_token_usage": usage}},
    }
    path = tmp_path / "early.jsonl"
    path.write_text(json.dumps(line) + "\n")
    assert frame([path]).get_column("model").to_list() == ["unknown"]


# --------------------------------------------------------------------------- stability


def test_rescanning_and_duplicated_files_never_change_totals() -> None:
    once = canonical_sort(frame(ALL))
    assert_frame_equal(canonical_sort(frame(ALL + ALL)), once)
    assert_frame_equal(canonical_sort(frame([*ALL, FORK, PARENT])), once)


@pytest.mark.parametrize("seed", range(4))
def test_file_order_never_changes_the_result(seed: int) -> None:
    shuffled = list(ALL)
    random.Random(seed).shuffle(shuffled)
    assert_frame_equal(canonical_sort(frame(shuffled)), canonical_sort(frame(ALL)))


def test_copies_in_other_folders_dedupe_to_the_same_rows(tmp_path: Path) -> None:
    """A copy of the parent elsewhere (say a backup) adds nothing."""
    copy = tmp_path / "backup" / PARENT.name
    copy.parent.mkdir()
    shutil.copyfile(PARENT, copy)
    df = frame([PARENT, FORK, copy])
    assert totals(df) == totals(frame([PARENT, FORK]))


def test_dedupe_is_order_independent_and_idempotent() -> None:
    """Store merges: fork rows first or parent rows first, the parent's copies are kept."""
    parent = codex.scan([PARENT], user="alice").frame
    fork = codex.scan([FORK], user="alice").frame
    stacked = pl.concat([fork, parent, fork]).collect()
    expected = canonical_sort(frame([PARENT, FORK]))
    for seed in range(8):
        shuffled = stacked.sample(fraction=1.0, shuffle=True, seed=seed)
        once = codex.dedupe(shuffled.lazy()).collect()
        assert_frame_equal(canonical_sort(once), expected)
        assert_frame_equal(codex.dedupe(once.lazy()).collect(), once)


def test_dedupe_picks_the_same_copy_whatever_the_pricing_columns_order() -> None:
    """Copies equal in every canonical column but priced differently: the pick is stable."""
    rows = frame([PARENT])
    a = rows.with_columns(computed_cost_usd=pl.lit(1.0), price_version=pl.lit("v1"))
    b = rows.with_columns(computed_cost_usd=pl.lit(2.0), price_version=pl.lit("v2"))
    ab = codex.dedupe(pl.concat([a, b]).lazy()).collect()
    ba = codex.dedupe(pl.concat([b, a]).lazy()).collect()
    assert_frame_equal(ab, ba)
    assert ab.height == rows.height


def test_dedupe_keeps_extra_columns() -> None:
    rows = frame([PARENT]).with_columns(computed_cost_usd=pl.lit(0.5), price_version=pl.lit("v1"))
    out = codex.dedupe(pl.concat([rows, rows]).lazy()).collect()
    assert out.columns == rows.columns
    assert out.height == rows.height


def test_event_ids_are_the_timestamp_model_and_token_tuple() -> None:
    ids = frame([REAL]).sort("ts").get_column("event_id").to_list()
    assert ids == [
        "2026-05-13T09:01:00.000000Z|gpt-5.2-codex|1000|250|125|75|1200",
        "2026-05-14T10:00:00.000000Z|gpt-5.3-codex|2500|500|300|200|3000",
    ]


def test_as_of_is_the_newest_event_of_the_file() -> None:
    df = frame([REAL])
    assert {a.isoformat() for a in df.get_column("as_of")} == {"2026-05-14T10:00:00+00:00"}


# --------------------------------------------------------------------------- routing and samples


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_detect_routes_rollouts_to_codex(path: Path) -> None:
    assert detect.sniff(detect.read_head(path), path.name) == "codex"


def _sample_reference() -> dict[str, Any]:
    """Per session (file), the json module's reading of the sample rollouts."""
    out: dict[str, Any] = {}
    for path in sorted(SAMPLE.rglob("*.jsonl")):
        out.update(_independent_session_totals(path))
    return out


def test_sample_data_rollouts_match_an_independent_reading() -> None:
    files = sorted(SAMPLE.rglob("*.jsonl"))
    df = frame(files)
    assert totals(df) == (9, 23515, 65536, 6286)
    by_file = {
        Path(origin).stem: (n, i, c, o)
        for origin, n, i, c, o in df.group_by("origin")
        .agg(pl.len(), pl.col("input_tokens", "cache_read_tokens", "output_tokens").sum())
        .iter_rows()
    }
    assert by_file == _sample_reference()
    assert codex.scan(files, user="alice").notices == []
