"""The Claude Code transcript loader (FORMATS.md section 1).

Expected numbers were worked out by hand from the files; the tables are in
tests/fixtures/claude_code/PROVENANCE.md and sample_data/PROVENANCE.md. `_reference` below is a
second, independent reading of the FORMATS.md dedupe rule written with the json module only; the
file-level tests check the loader against both.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.errors import TokenlensError
from tokenlens.loaders.claude_code import dedupe, find_files, scan_claude_code
from tokenlens.schema import USAGE

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "claude_code" / "projects"
SAMPLE = REPO / "sample_data" / "claude" / "projects"

REAL_1AF7 = FIXTURES / "sample-project" / "1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl"
REAL_5C03 = FIXTURES / "sample-project" / "5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl"
REAL_AGENT = FIXTURES / "sample-project" / "agent-test-hash-123.jsonl"
REAL_CHAT = FIXTURES / "project-alpha" / "session-alpha" / "chat.jsonl"

SONNET_4 = "claude-sonnet-4-20250514"
SONNET_45 = "claude-sonnet-4-5-20250929"
HAIKU_45 = "claude-haiku-4-5-20251001"
OPUS_41 = "claude-opus-4-1-20250805"

TOKEN_COLUMNS = (
    "input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
)
MARKER = b'"usage":{'
_UUIDS = itertools.count(1)


# --------------------------------------------------------------------------- reference reader


@dataclass(frozen=True)
class Ref:
    """One usage record as the reference reader sees it."""

    key: str
    message_id: str
    model: str
    sidechain: bool
    fast: bool
    tokens: tuple[int, int, int, int, int]  # input, cache write, of which 1h, cache read, output
    cost: float | None

    @property
    def total(self) -> int:
        inp, write, _, read, out = self.tokens
        return inp + write + read + out


@dataclass
class RefScan:
    events: list[Ref]
    malformed: int
    truncated: int


def _ref_record(obj: Any, line_no: int, path: Path) -> Ref | None:
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == "progress":
        inner = (obj.get("data") or {}).get("message") or {}
        message = inner.get("message")
        request_id = inner.get("requestId")
        sidechain = inner.get("isSidechain", True)
    else:
        message = obj.get("message")
        request_id = obj.get("requestId")
        sidechain = obj.get("isSidechain", False)
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    if obj.get("isApiErrorMessage") or message.get("model") == "<synthetic>":
        return None
    usage = message["usage"]
    split = usage.get("cache_creation") or {}
    five = split.get("ephemeral_5m_input_tokens", 0)
    hour = split.get("ephemeral_1h_input_tokens", 0)
    if five + hour == 0:
        five, hour = usage.get("cache_creation_input_tokens") or 0, 0
    message_id = message.get("id")
    if message_id:
        key = f"{message_id}:{request_id}" if request_id else message_id
    else:
        key = message_id = f"{path}#{line_no}"  # no id: never deduplicated
    return Ref(
        key=key,
        message_id=message_id,
        model=message.get("model") or "unknown",
        sidechain=bool(sidechain),
        fast=usage.get("speed") == "fast",
        tokens=(
            usage.get("input_tokens", 0),
            five + hour,
            hour,
            usage.get("cache_read_input_tokens") or 0,
            usage.get("output_tokens", 0),
        ),
        cost=obj.get("costUSD"),
    )


def _rank(ref: Ref) -> tuple[bool, int, bool]:
    return (not ref.sidechain, ref.total, ref.fast)


def _reference(paths: list[Path]) -> RefScan:
    """FORMATS.md's rule, order-free: best copy per key, then parents beat sidechain replays."""
    files = sorted(
        {q for p in paths for q in (p.rglob("*.jsonl") if p.is_dir() else [p]) if q.is_file()}
    )
    best: dict[str, Ref] = {}
    malformed = truncated = 0
    for path in files:
        pieces = path.read_bytes().split(b"\n")
        for n, raw in enumerate(pieces):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                if n == len(pieces) - 1:
                    truncated += 1
                elif MARKER in raw:
                    malformed += 1
                continue
            ref = _ref_record(obj, n, path)
            if ref is not None and (ref.key not in best or _rank(ref) > _rank(best[ref.key])):
                best[ref.key] = ref
    by_message: dict[str, list[Ref]] = {}
    for ref in best.values():
        by_message.setdefault(ref.message_id, []).append(ref)
    events = []
    for refs in by_message.values():
        parents = [r for r in refs if not r.sidechain]
        events.extend(parents if parents else [max(refs, key=_rank)])
    return RefScan(events, malformed, truncated)


def _ref_totals(events: list[Ref]) -> tuple[int, ...]:
    return (len(events), *(sum(e.tokens[i] for e in events) for i in range(5)))


# --------------------------------------------------------------------------- helpers


def _frame(paths: list[Path]) -> pl.DataFrame:
    return scan_claude_code(paths, user="u").frame.collect()


def _totals(df: pl.DataFrame) -> tuple[int, ...]:
    return (df.height, *(int(df[c].sum()) for c in TOKEN_COLUMNS))


def _assistant(
    message_id: str | None,
    request_id: str | None,
    *,
    out: int = 10,
    inp: int = 1,
    write_5m: int = 0,
    write_1h: int = 0,
    read: int = 0,
    model: str = SONNET_45,
    ts: str = "2025-10-01T10:00:00.000Z",
    session: str = "s-parent",
    sidechain: bool = False,
    speed: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": inp,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": out,
        "service_tier": "standard",
    }
    if speed is not None:
        usage["speed"] = speed
    message: dict[str, Any] = {"type": "message", "role": "assistant", "model": model}
    if message_id is not None:
        message["id"] = message_id
    message |= {"content": [{"type": "text", "text": "hi"}], "usage": usage}
    line: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": "/home/u/proj",
        "sessionId": session,
        "version": "2.1.9",
        "gitBranch": "main",
        "message": message,
    }
    if request_id is not None:
        line["requestId"] = request_id
    line |= {"type": "assistant", "uuid": f"uuid-{next(_UUIDS)}"}
    line["timestamp"] = ts
    line.update(extra)
    return line


def _progress(inner: dict[str, Any], *, session: str = "s-parent") -> dict[str, Any]:
    """A 2.1.x parent-transcript line mirroring a subagent line."""
    wrapped = {
        "type": inner["type"],
        "message": inner["message"],
        "requestId": inner.get("requestId"),
        "isSidechain": True,
        "uuid": inner["uuid"],
        "timestamp": inner["timestamp"],
    }
    return {
        "parentUuid": None,
        "isSidechain": False,
        "cwd": "/home/u/proj",
        "sessionId": session,
        "version": "2.1.9",
        "type": "progress",
        "data": {"message": wrapped, "type": "agent_progress", "agentId": "a1"},
        "uuid": "progress-" + inner["uuid"],
        "timestamp": inner["timestamp"],
    }


def _write(path: Path, lines: list[dict[str, Any]], *, tail: str | None = None) -> Path:
    """Compact JSON lines, as Claude Code writes them; `tail` is appended without a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in lines)
    path.write_text(text + (tail or ""), encoding="utf-8")
    return path


def _project(tmp_path: Path) -> Path:
    return tmp_path / "projects" / "-home-u-proj"


def _notice_counts(paths: list[Path]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for notice in scan_claude_code(paths, user="u").notices:
        counts[notice.message] += notice.count or 0
    return dict(counts)


def _count_matching(counts: dict[str, int], word: str) -> int:
    return sum(n for message, n in counts.items() if word in message.lower())


# --------------------------------------------------------------------------- real public samples

FIXTURE_SHA256 = {
    REAL_1AF7: "f668bb6537eeb5ccd2d291454a6fa711d3d0136032f6914d4cec243a8842f5dd",
    REAL_5C03: "bfc61a21cabfe2b9af3a4bb27e4c26c84e3fb7b1e722a91341bb8021e7a5cbd6",
    REAL_AGENT: "b51e9b849a8ecf067273c86a10e1b90a3a431a2c1dd411459da012958e92fe39",
    REAL_CHAT: "51630a7a447f13a5fd673f0989eda1bace2a4f03a27dc1841afb9524afd49fa9",
}


def test_real_fixtures_are_unedited_copies() -> None:
    for path, digest in FIXTURE_SHA256.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path.name


def test_streamed_copies_keep_the_largest() -> None:
    df = _frame([REAL_1AF7])
    row = df.filter(pl.col("event_id").str.starts_with("msg_01TqDZoU6FcpxB4u2AmpgWfZ"))
    assert row["event_id"].to_list() == [
        "msg_01TqDZoU6FcpxB4u2AmpgWfZ:req_011CSkYba8YAUvnXvqT4qm9G"
    ]
    assert row["output_tokens"].to_list() == [322]  # the first copy says 8
    # the kept copy's own timestamp, parsed as microseconds in UTC
    assert row["ts"].to_list() == [datetime(2025, 9, 3, 0, 47, 24, 652000, tzinfo=UTC)]


def test_real_session_has_seven_calls_and_953_output_tokens() -> None:
    df = _frame([REAL_1AF7])
    assert df.height == 7
    assert df["output_tokens"].sum() == 953
    # The rule matters: every line summed says 1258, first-copy-wins says 268.
    lines = [json.loads(raw) for raw in REAL_1AF7.read_bytes().splitlines()]
    usages = [
        (o["message"]["id"], o["message"]["usage"]) for o in lines if o["type"] == "assistant"
    ]
    assert len(usages) == 15
    assert sum(u["output_tokens"] for _, u in usages) == 1258
    first: dict[str, int] = {}
    for message_id, usage in usages:
        first.setdefault(message_id, usage["output_tokens"])
    assert sum(first.values()) == 268


# events, input, cache write, of which 1h, cache read, output, sidechain events
REAL_FILE_TOTALS = {
    REAL_1AF7: (7, 93, 12698, 0, 103219, 953, 0),
    REAL_5C03: (20, 129, 47747, 0, 324259, 3629, 10),
    REAL_AGENT: (1, 100, 0, 0, 0, 10, 1),
    REAL_CHAT: (3, 600, 75, 0, 70, 250, 0),
}


@pytest.mark.parametrize("path", list(REAL_FILE_TOTALS), ids=lambda p: p.name)
def test_real_sample_file_totals(path: Path) -> None:
    df = _frame([path])
    *expected, sidechain = REAL_FILE_TOTALS[path]
    assert _totals(df) == tuple(expected)
    assert df.filter(pl.col("kind").str.starts_with("sidechain")).height == sidechain
    ref = _reference([path])
    assert _ref_totals(ref.events) == tuple(expected)
    assert sorted(df["event_id"]) == sorted(e.key for e in ref.events)


def test_real_fixture_tree_totals_and_no_notices() -> None:
    scan = scan_claude_code([FIXTURES], user="u")
    df = scan.frame.collect()
    assert _totals(df) == (31, 922, 60520, 0, 427548, 4842)
    assert _ref_totals(_reference([FIXTURES]).events) == _totals(df)
    assert scan.notices == []
    assert sorted(scan.files) == sorted(FIXTURE_SHA256)


def test_inline_sidechain_lines_are_kind_sidechain() -> None:
    df = _frame([REAL_5C03])
    by_kind = dict(df.group_by("kind").agg(pl.len()).iter_rows())
    assert by_kind == {"main": 10, "sidechain": 10}
    sidechain = df.filter(pl.col("kind") == "sidechain")
    assert _totals(sidechain) == (10, 65, 21673, 0, 133998, 1626)


def test_ccusage_fixture_cost_and_fast_mode() -> None:
    df = _frame([REAL_CHAT]).sort("event_id")
    assert df["event_id"].to_list() == [
        "msg-alpha-1:req-alpha-1",
        "msg-alpha-2:req-alpha-2",
        "msg-alpha-3:req-alpha-3",
    ]
    assert df["reported_cost_usd"].to_list() == [0.12, 0.34, 0.56]
    assert df["kind"].to_list() == ["main", "main+fast", "main"]
    assert df["model"].to_list() == [SONNET_4, "claude-opus-4-20250514", SONNET_4]
    assert df["session_id"].unique().to_list() == ["session-alpha"]


def test_project_level_agent_file_credits_parent_session() -> None:
    df = _frame([REAL_AGENT])
    assert df["session_id"].to_list() == ["5c0375b4-57a5-4f26-b12d-d022ee4e51b7"]
    assert df["kind"].to_list() == ["sidechain"]


# --------------------------------------------------------------------------- inline cases


def test_frame_is_in_the_canonical_schema(tmp_path: Path) -> None:
    path = _write(_project(tmp_path) / "s-parent.jsonl", [_assistant("msg_1", "req_1")])
    scan = scan_claude_code([path], user="alice@example.com")
    assert dict(scan.frame.collect_schema()) == USAGE
    assert scan.frame.collect_schema()["ts"] == pl.Datetime("us", "UTC")
    row = scan.frame.collect().row(0, named=True)
    assert row["source"] == "claude_code"
    assert row["user"] == "alice@example.com"
    assert row["event_id"] == "msg_1:req_1"
    assert row["project"] == "/home/u/proj"
    assert row["session_id"] == "s-parent"
    assert row["model"] == SONNET_45
    assert row["kind"] == "main"
    assert row["requests"] == 1.0
    assert row["reported_cost_usd"] is None
    assert row["origin"] == str(path)
    assert row["ts"] == datetime(2025, 10, 1, 10, 0, tzinfo=UTC)


def test_timestamp_without_milliseconds_parses(tmp_path: Path) -> None:
    line = _assistant("msg_1", "req_1", ts="2025-10-01T10:00:05Z")
    df = _frame([_write(_project(tmp_path) / "s.jsonl", [line])])
    assert df["ts"].to_list() == [datetime(2025, 10, 1, 10, 0, 5, tzinfo=UTC)]


def test_timestamps_in_other_spellings_beside_written_ones_parse(tmp_path: Path) -> None:
    """A file mixing Claude Code's own spelling with others: the others are parsed again."""
    spellings = {
        "2025-10-01T10:00:05.250Z": datetime(2025, 10, 1, 10, 0, 5, 250000, tzinfo=UTC),
        "2025-10-01T10:00:06Z": datetime(2025, 10, 1, 10, 0, 6, tzinfo=UTC),
        "2025-10-01T12:00:07.5+02:00": datetime(2025, 10, 1, 10, 0, 7, 500000, tzinfo=UTC),
        "2025-10-01T10:00:08.123456Z": datetime(2025, 10, 1, 10, 0, 8, 123456, tzinfo=UTC),
        "1759312809000": datetime(2025, 10, 1, 10, 0, 9, tzinfo=UTC),
    }
    lines = [_assistant(f"msg_{i}", f"req_{i}", ts=ts) for i, ts in enumerate(spellings)]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)])
    assert df.sort("event_id")["ts"].to_list() == list(spellings.values())


def test_a_slash_timestamp_is_unreadable_not_guessed(tmp_path: Path) -> None:
    lines = [
        _assistant("msg_1", "req_1", ts="10/1/2025 10:00"),
        _assistant("msg_2", "req_2", ts="2025-10-01T12:00:07.5+02:00"),
    ]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)])
    assert df["ts"].to_list() == [datetime(2025, 10, 1, 10, 0, 7, 500000, tzinfo=UTC)]


def test_cache_write_splits_into_5m_and_1h(tmp_path: Path) -> None:
    line = _assistant("msg_1", "req_1", inp=3, write_5m=1200, write_1h=17300, read=40, out=164)
    df = _frame([_write(_project(tmp_path) / "s.jsonl", [line])])
    assert _totals(df) == (1, 3, 18500, 17300, 40, 164)


def test_cache_write_without_split_counts_as_5m(tmp_path: Path) -> None:
    line = _assistant("msg_1", "req_1", write_5m=5210)
    del line["message"]["usage"]["cache_creation"]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", [line])])
    assert (df["cache_write_tokens"].item(), df["cache_write_1h_tokens"].item()) == (5210, 0)


def test_streamed_copies_in_one_file_collapse_to_the_largest(tmp_path: Path) -> None:
    lines = [
        _assistant("msg_1", "req_1", out=4, ts="2025-10-01T10:00:00.000Z"),
        _assistant("msg_1", "req_1", out=211, ts="2025-10-01T10:00:02.000Z"),
        _assistant("msg_1", "req_1", out=4, ts="2025-10-01T10:00:01.000Z"),
    ]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)])
    assert df["output_tokens"].to_list() == [211]
    assert df["ts"].to_list() == [datetime(2025, 10, 1, 10, 0, 2, tzinfo=UTC)]


def test_missing_request_id_keys_on_message_id_alone(tmp_path: Path) -> None:
    lines = [_assistant("msg_1", None, out=5), _assistant("msg_1", None, out=50)]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)])
    assert df["event_id"].to_list() == ["msg_1"]
    assert df["output_tokens"].to_list() == [50]


def test_ids_and_times_holding_line_breaks_are_kept_whole(tmp_path: Path) -> None:
    # A reader hands its ids and times over as one text with a line each, unless a value holds
    # a line break itself (a JSON escape), which then must not split one row into two.
    lines = [
        _assistant("msg\n1", "req_1", out=5, ts="2025-10-01T10:00:01.000Z"),
        _assistant("msg_2", "req\n2", out=7, ts="2025-10-01T10:00:02.000Z\n"),
        _assistant("msg_3", "req_3", out=11, ts="2025-10-01T10:00:03.000Z"),
    ]
    scan = scan_claude_code([_write(_project(tmp_path) / "s.jsonl", lines)], user="u")
    df = scan.frame.collect()
    assert df["event_id"].to_list() == ["msg\n1:req_1", "msg_3:req_3"]
    assert df["output_tokens"].to_list() == [5, 11]
    assert [t.second for t in df["ts"]] == [1, 3]
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Claude Code: skipped lines with an unreadable timestamp", 1)
    ]


def test_same_message_with_two_parent_requests_counts_twice(tmp_path: Path) -> None:
    lines = [_assistant("msg_1", "req_1", out=5), _assistant("msg_1", "req_2", out=7)]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)])
    assert sorted(df["event_id"]) == ["msg_1:req_1", "msg_1:req_2"]


def test_lines_without_message_id_are_never_merged(tmp_path: Path) -> None:
    lines = [
        _assistant(None, "req_1", out=5, uuid="u-1"),
        _assistant(None, "req_1", out=5, uuid="u-2"),
    ]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)])
    assert _totals(df) == (2, 2, 0, 0, 0, 10)
    assert df["event_id"].n_unique() == 2


def test_sidechain_replay_loses_to_parent(tmp_path: Path) -> None:
    parent = _assistant("msg_P", "req_1", inp=5, write_5m=640, read=21008, out=287)
    replay = _assistant("msg_P", "req_2", inp=5, write_5m=640, read=21950, out=287, sidechain=True)
    project = _project(tmp_path)
    _write(project / "s-parent.jsonl", [parent])
    _write(project / "s-parent" / "subagents" / "aside_question-q1.jsonl", [replay])
    df = _frame([project])
    assert df.select("event_id", "kind", "cache_read_tokens").rows() == [
        ("msg_P:req_1", "main", 21008)
    ]


def test_sidechain_replay_loses_to_parent_in_either_file_order(tmp_path: Path) -> None:
    parent = _assistant("msg_P", "req_1", read=100)
    replay = _assistant("msg_P", "req_2", read=900, sidechain=True)
    first = _write(tmp_path / "a" / "a.jsonl", [replay])
    second = _write(tmp_path / "a" / "b.jsonl", [parent])
    for paths in ([first, second], [second, first]):
        df = _frame(paths)
        assert df.select("event_id", "cache_read_tokens").rows() == [("msg_P:req_1", 100)]


def test_aside_question_own_call_counts(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _write(project / "s-parent.jsonl", [_assistant("msg_P", "req_1", read=1000, out=287)])
    aside = [
        _assistant("msg_P", "req_2", read=5000, out=287, sidechain=True),
        _assistant("msg_Q", "req_3", inp=4, write_5m=310, read=21950, out=146, sidechain=True),
    ]
    _write(project / "s-parent" / "subagents" / "aside_question-c41e9a07.jsonl", aside)
    df = _frame([project]).sort("event_id")
    assert df.select("event_id", "kind", "session_id", "cache_read_tokens").rows() == [
        ("msg_P:req_1", "main", "s-parent", 1000),
        ("msg_Q:req_3", "sidechain", "s-parent", 21950),
    ]
    assert _totals(df) == (2, 5, 310, 0, 22950, 433)


def test_progress_mirror_counts_once(tmp_path: Path) -> None:
    project = _project(tmp_path)
    sub = _assistant("msg_S", "req_S", inp=10, write_5m=6100, out=402, sidechain=True)
    _write(project / "s-parent" / "subagents" / "agent-a1.jsonl", [sub])
    _write(project / "s-parent.jsonl", [_assistant("msg_M", "req_M", out=1), _progress(sub)])
    df = _frame([project]).sort("event_id")
    assert df.select("event_id", "kind", "session_id", "output_tokens").rows() == [
        ("msg_M:req_M", "main", "s-parent", 1),
        ("msg_S:req_S", "sidechain", "s-parent", 402),
    ]
    assert _notice_counts([project]) == {}  # a mirror line is not malformed


def test_progress_mirror_counts_when_subagent_file_is_missing(tmp_path: Path) -> None:
    sub = _assistant("msg_S", "req_S", inp=12, write_5m=5400, out=290, model=HAIKU_45)
    sub["isSidechain"] = True
    path = _write(_project(tmp_path) / "s-parent.jsonl", [_progress(sub)])
    df = _frame([path])
    assert df.select("event_id", "kind", "model").rows() == [("msg_S:req_S", "sidechain", HAIKU_45)]
    assert _totals(df) == (1, 12, 5400, 0, 0, 290)


def test_progress_mirrors_of_streamed_copies_keep_the_largest(tmp_path: Path) -> None:
    small = _assistant("msg_S", "req_S", out=30, sidechain=True, ts="2025-10-01T10:00:00.000Z")
    large = _assistant("msg_S", "req_S", out=512, sidechain=True, ts="2025-10-01T10:00:01.000Z")
    path = _write(_project(tmp_path) / "s.jsonl", [_progress(small), _progress(large)])
    assert _frame([path])["output_tokens"].to_list() == [512]


def test_progress_line_without_usage_adds_nothing(tmp_path: Path) -> None:
    user = {"type": "user", "message": {"role": "user", "content": "go"}}
    user |= {"uuid": "u-1", "timestamp": "2025-10-01T10:00:00.000Z"}
    path = _write(_project(tmp_path) / "s.jsonl", [_progress(user)])
    assert _frame([path]).height == 0


def test_subagents_folder_credits_parent_session(tmp_path: Path) -> None:
    project = _project(tmp_path)
    lines = [_assistant("msg_S", "req_S", sidechain=True, session="whatever")]
    _write(project / "9f27c6e0" / "subagents" / "agent-a3f9c21.jsonl", lines)
    df = _frame([tmp_path / "projects"])
    assert df.select("session_id", "kind").rows() == [("9f27c6e0", "sidechain")]


def test_project_level_agent_file_credits_the_session_it_names(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _write(project / "e6a0d4f1.jsonl", [_assistant("msg_M", "req_M", session="e6a0d4f1")])
    sub = [_assistant("msg_S", "req_S", sidechain=True, session="e6a0d4f1", agentId="5e1d2c7a")]
    _write(project / "agent-5e1d2c7a.jsonl", sub)
    df = _frame([project]).sort("event_id")
    assert df.select("event_id", "session_id").rows() == [
        ("msg_M:req_M", "e6a0d4f1"),
        ("msg_S:req_S", "e6a0d4f1"),
    ]


def test_synthetic_and_api_error_lines_add_nothing(tmp_path: Path) -> None:
    lines = [
        _assistant("msg_x", None, inp=900, out=900, model="<synthetic>", isApiErrorMessage=True),
        _assistant("msg_y", None, inp=900, out=900, model="<synthetic>"),
        _assistant("msg_z", "req_z", inp=900, out=900, isApiErrorMessage=True),
        _assistant("msg_ok", "req_ok", inp=1, out=2),
    ]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)])
    assert df["event_id"].to_list() == ["msg_ok:req_ok"]


def test_tool_use_result_usage_adds_nothing(tmp_path: Path) -> None:
    usage = {"input_tokens": 7, "cache_creation_input_tokens": 501, "output_tokens": 308}
    user = {
        "parentUuid": None,
        "isSidechain": False,
        "sessionId": "s",
        "type": "user",
        "message": {"role": "user", "content": [{"type": "tool_result", "content": "ok"}]},
        "uuid": "u-1",
        "timestamp": "2025-10-01T10:00:00.000Z",
        "toolUseResult": {"totalTokens": 816, "usage": usage},
    }
    df = _frame([_write(_project(tmp_path) / "s.jsonl", [user, _assistant("msg_1", "req_1")])])
    assert df["event_id"].to_list() == ["msg_1:req_1"]


def test_half_written_last_line_is_skipped_and_noticed(tmp_path: Path) -> None:
    tail = json.dumps(_assistant("msg_2", "req_2", out=233), separators=(",", ":"))
    tail = tail[: tail.index('"cache_read_input_tokens"') + 10]  # holds `"usage":{`
    path = _write(_project(tmp_path) / "s.jsonl", [_assistant("msg_1", "req_1")], tail=tail)
    assert not path.read_bytes().endswith(b"\n")
    df = _frame([path])
    assert df["event_id"].to_list() == ["msg_1:req_1"]
    counts = _notice_counts([path])
    assert _count_matching(counts, "half-written") == 1
    assert sum(counts.values()) == 1


def test_complete_last_line_without_newline_counts(tmp_path: Path) -> None:
    tail = json.dumps(_assistant("msg_2", "req_2"), separators=(",", ":"))
    path = _write(_project(tmp_path) / "s.jsonl", [_assistant("msg_1", "req_1")], tail=tail)
    assert sorted(_frame([path])["event_id"]) == ["msg_1:req_1", "msg_2:req_2"]
    assert _notice_counts([path]) == {}


def test_malformed_middle_line_is_counted(tmp_path: Path) -> None:
    broken = json.dumps(_assistant("msg_2", "req_2"), separators=(",", ":"))
    broken = broken[: broken.index('"cache_read_input_tokens"')]
    path = _project(tmp_path) / "s.jsonl"
    _write(path, [_assistant("msg_1", "req_1")])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(broken + "\n")
        handle.write(json.dumps(_assistant("msg_3", "req_3"), separators=(",", ":")) + "\n")
    df = _frame([path])
    assert sorted(df["event_id"]) == ["msg_1:req_1", "msg_3:req_3"]
    counts = _notice_counts([path])
    assert _count_matching(counts, "malformed") == 1
    assert sum(counts.values()) == 1


def test_cost_usd_becomes_reported_cost(tmp_path: Path) -> None:
    lines = [
        _assistant("msg_1", "req_1", costUSD=0.0247935, version="1.0.8"),
        _assistant("msg_2", "req_2"),
    ]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)]).sort("event_id")
    assert df["reported_cost_usd"].to_list() == [0.0247935, None]


def test_fast_speed_adds_kind_suffix(tmp_path: Path) -> None:
    lines = [
        _assistant("msg_1", "req_1", speed="fast"),
        _assistant("msg_2", "req_2", speed="standard"),
        _assistant("msg_3", "req_3", speed="fast", sidechain=True),
        _assistant("msg_4", "req_4", sidechain=True),
    ]
    df = _frame([_write(_project(tmp_path) / "s.jsonl", lines)]).sort("event_id")
    assert df["kind"].to_list() == ["main+fast", "main", "sidechain+fast", "sidechain"]


def test_tie_on_tokens_prefers_the_fast_copy(tmp_path: Path) -> None:
    lines = [_assistant("msg_1", "req_1", out=9), _assistant("msg_1", "req_1", out=9, speed="fast")]
    for ordered in (lines, lines[::-1]):
        df = _frame([_write(_project(tmp_path) / "s.jsonl", ordered)])
        assert df["kind"].to_list() == ["main+fast"]


def test_file_order_does_not_change_which_copy_wins(tmp_path: Path) -> None:
    small = _assistant("msg_1", "req_1", out=8, ts="2025-10-01T10:00:00.000Z")
    large = _assistant("msg_1", "req_1", out=322, ts="2025-10-01T10:00:03.000Z")
    one = [_write(tmp_path / "x" / "a.jsonl", [small]), _write(tmp_path / "x" / "b.jsonl", [large])]
    two = [_write(tmp_path / "y" / "a.jsonl", [large]), _write(tmp_path / "y" / "b.jsonl", [small])]
    keep = ["event_id", "ts", "kind", *TOKEN_COLUMNS]
    assert_frame_equal(_frame(one).select(keep), _frame(two).select(keep))
    assert _frame(one)["output_tokens"].to_list() == [322]


def test_empty_tree_gives_an_empty_frame_in_schema(tmp_path: Path) -> None:
    (tmp_path / "projects").mkdir()
    scan = scan_claude_code([tmp_path / "projects"], user="u")
    df = scan.frame.collect()
    assert df.height == 0
    assert dict(df.schema) == USAGE
    assert scan.files == []


def test_find_files_reads_every_jsonl_recursively(tmp_path: Path) -> None:
    project = _project(tmp_path)
    made = [
        _write(project / "s.jsonl", []),
        _write(project / "agent-1.jsonl", []),
        _write(project / "s" / "subagents" / "agent-2.jsonl", []),
        _write(project / "s" / "subagents" / "aside_question-3.jsonl", []),
    ]
    (project / "s" / "subagents" / "agent-2.meta.json").write_text("{}")
    (project / "notes.txt").write_text("x")
    assert sorted(find_files([tmp_path / "projects"])) == sorted(made)
    assert find_files([made[0]]) == [made[0]]


def test_missing_path_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(TokenlensError):
        scan_claude_code([tmp_path / "nope"], user="u")


# --------------------------------------------------------------------------- dedupe on frames


def _row(
    event_id: str, *, kind: str = "main", out: int = 10, read: int = 0, second: int = 0
) -> dict[str, Any]:
    return {
        "source": "claude_code",
        "event_id": event_id,
        "ts": datetime(2025, 10, 1, 12, 0, second, tzinfo=UTC),
        "user": "u",
        "project": "/p",
        "session_id": "s",
        "model": SONNET_45,
        "kind": kind,
        "input_tokens": 1,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "cache_read_tokens": read,
        "output_tokens": out,
        "requests": 1.0,
        "reported_cost_usd": None,
        "origin": f"/p/{second}.jsonl",
        "lines_added": None,
        "lines_removed": None,
        "commits": None,
        "pull_requests": None,
    }


DEDUPE_ROWS = [
    _row("msg_A:req_1", out=8, second=1),  # streamed copy
    _row("msg_A:req_1", out=322, second=2),  # kept
    _row("msg_A:req_9", kind="sidechain", out=322, read=99999, second=3),  # replay
    _row("msg_B:req_2", kind="sidechain", out=30, second=4),  # progress mirror, early copy
    _row("msg_B:req_2", kind="sidechain", out=512, second=5),  # kept
    _row("msg_C:req_3", out=9, second=6),
    _row("msg_C:req_3", kind="main+fast", out=9, second=7),  # tie: fast wins
    _row("msg_D:req_4", kind="sidechain", out=146, second=8),  # aside own call, kept
]


def test_dedupe_keeps_the_rule_winners() -> None:
    frame = pl.DataFrame(DEDUPE_ROWS, schema=USAGE)
    expected = pl.DataFrame([DEDUPE_ROWS[i] for i in (1, 4, 6, 7)], schema=USAGE)
    assert_frame_equal(dedupe(frame.lazy()).collect(), expected.sort("ts", "event_id"))


def test_dedupe_result_is_independent_of_row_order() -> None:
    tie = [_row("msg_E:req_5", out=5, second=9), _row("msg_E:req_5", out=5, second=10)]
    frame = pl.DataFrame([*DEDUPE_ROWS, *tie], schema=USAGE)
    baseline = dedupe(frame.lazy()).collect()
    assert baseline.height == 5
    for seed in range(25):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        assert_frame_equal(dedupe(shuffled.lazy()).collect(), baseline)
    assert_frame_equal(dedupe(frame.reverse().lazy()).collect(), baseline)


def test_sidechain_only_copies_tied_in_everything_keep_the_lowest_event_id() -> None:
    # Two requests of one sidechain-only message, equal in every rule key (same file and time):
    # each key occurs once, so only the last tie-break, the event id, decides, in any order and
    # on either engine.
    rows = [
        {**_row("msg_F:req_2", kind="sidechain", second=11), "model": "b"},
        {**_row("msg_F:req_1", kind="sidechain", second=11), "model": "a"},
    ]
    frame = pl.DataFrame(rows, schema=USAGE)
    for ordered in (frame, frame.reverse()):
        for engine in ("in-memory", "streaming"):
            kept = dedupe(ordered.lazy()).collect(engine=engine)  # type: ignore[call-overload]
            assert kept.get_column("event_id").to_list() == ["msg_F:req_1"]
            assert kept.get_column("model").to_list() == ["a"]


def test_dedupe_of_a_scan_is_idempotent_under_shuffling() -> None:
    scanned = scan_claude_code([SAMPLE], user="u").frame.collect()
    doubled = pl.concat(
        [scanned.sample(fraction=1.0, shuffle=True, seed=1), scanned.reverse()]
    ).sample(fraction=1.0, shuffle=True, seed=2)
    assert_frame_equal(dedupe(doubled.lazy()).collect(), scanned)


# --------------------------------------------------------------------------- sample_data tree

SAMPLE_FILES = (
    "-home-alice-src-blog-example-com/5a9d3e71-c2b8-4f04-a6e9-81d7b0c4f3a2.jsonl",
    "-home-alice-src-blog-example-com/d83f0b6c-4e27-4a91-bc58-9f2e6a1d7c05.jsonl",
    "-home-alice-src-data-pipeline/0d5b92e7-a8f4-4c13-9e6d-b3a7f1c8e204.jsonl",
    "-home-alice-src-data-pipeline/71c3f8a2-5e0b-4d96-b4a1-2f8e7c6d0a53.jsonl",
    "-home-alice-src-data-pipeline/agent-5e1d2c7a.jsonl",
    "-home-alice-src-data-pipeline/e6a0d4f1-2c93-4b7e-8f15-0d9c3a7b2e68.jsonl",
    "-home-alice-src-webapp/3b8e51c2-7d04-4f6a-9e21-5c1f0a8d7b93.jsonl",
    "-home-alice-src-webapp/9f27c6e0-1b4d-4e58-a3c7-68d2f5b0e914.jsonl",
    "-home-alice-src-webapp/9f27c6e0-1b4d-4e58-a3c7-68d2f5b0e914/subagents/agent-a3f9c21.jsonl",
    "-home-alice-src-webapp/9f27c6e0-1b4d-4e58-a3c7-68d2f5b0e914/subagents/"
    "aside_question-c41e9a07.jsonl",
    "-path-to-Demo/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl",
    "-path-to-Demo/5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl",
    "-path-to-Demo/agent-test-hash-123.jsonl",
)

# model: events, input, cache write, of which 1h, cache read, output (sample_data/PROVENANCE.md)
SAMPLE_BY_MODEL = {
    HAIKU_45: (8, 79, 24910, 0, 23000, 2390),
    OPUS_41: (6, 31, 33100, 8800, 62008, 2272),
    SONNET_4: (35, 363, 92687, 0, 482438, 6349),
    SONNET_45: (9, 40, 56770, 26400, 75170, 2090),
}
SAMPLE_TOTAL = (58, 513, 207467, 35200, 642616, 13101)


@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    return _frame([SAMPLE])


def test_sample_tree_files() -> None:
    scan = scan_claude_code([SAMPLE], user="u")
    expected = sorted(SAMPLE / name for name in SAMPLE_FILES)
    assert sorted(scan.files) == expected
    assert sorted(find_files([SAMPLE])) == expected


def test_sample_tree_totals(sample: pl.DataFrame) -> None:
    assert _totals(sample) == SAMPLE_TOTAL
    assert sample["event_id"].n_unique() == sample.height
    assert sample["requests"].sum() == sample.height
    ref = _reference([SAMPLE])
    assert _ref_totals(ref.events) == SAMPLE_TOTAL
    assert sorted(sample["event_id"]) == sorted(e.key for e in ref.events)


def test_sample_tree_totals_per_model(sample: pl.DataFrame) -> None:
    got = {model: _totals(part) for (model,), part in sample.group_by("model")}
    assert got == SAMPLE_BY_MODEL
    ref = _reference([SAMPLE]).events
    assert {m: _ref_totals([e for e in ref if e.model == m]) for m in got} == SAMPLE_BY_MODEL


def test_sample_tree_per_project_and_session(sample: pl.DataFrame) -> None:
    projects = dict(sample.group_by("project").agg(pl.len()).iter_rows())
    assert projects == {
        "/home/alice/src/webapp": 16,
        "/home/alice/src/data-pipeline": 10,
        "/home/alice/src/blog.example.com": 4,
        "/path/to/Demo": 28,
    }
    sessions = dict(sample.group_by("session_id").agg(pl.len()).iter_rows())
    assert sessions == {
        "3b8e51c2-7d04-4f6a-9e21-5c1f0a8d7b93": 6,
        "9f27c6e0-1b4d-4e58-a3c7-68d2f5b0e914": 10,
        "e6a0d4f1-2c93-4b7e-8f15-0d9c3a7b2e68": 5,
        "71c3f8a2-5e0b-4d96-b4a1-2f8e7c6d0a53": 3,
        "0d5b92e7-a8f4-4c13-9e6d-b3a7f1c8e204": 2,
        "5a9d3e71-c2b8-4f04-a6e9-81d7b0c4f3a2": 1,
        "d83f0b6c-4e27-4a91-bc58-9f2e6a1d7c05": 3,
        "1af7fc5e-8455-4414-9ccd-011d40f70b2a": 7,
        "5c0375b4-57a5-4f26-b12d-d022ee4e51b7": 21,
    }


def test_sample_tree_kinds_and_cost(sample: pl.DataFrame) -> None:
    kinds = dict(sample.group_by("kind").agg(pl.len()).iter_rows())
    assert kinds == {"main": 37, "sidechain": 20, "main+fast": 1}
    fast = sample.filter(pl.col("kind") == "main+fast")
    assert fast.select("model", "output_tokens").rows() == [(OPUS_41, 611)]
    cost = sample.filter(pl.col("reported_cost_usd").is_not_null())
    assert cost.select("model", "reported_cost_usd", "output_tokens").rows() == [
        (SONNET_4, 0.0247935, 348)
    ]


def test_sample_tree_subagent_session_quirks(sample: pl.DataFrame) -> None:
    a2 = sample.filter(pl.col("session_id") == "9f27c6e0-1b4d-4e58-a3c7-68d2f5b0e914")
    side = a2.filter(pl.col("kind") == "sidechain").sort("ts")
    # two calls of the subagent with a file, two of the one whose file is gone, one /btw call
    assert side.select("model", "output_tokens").rows() == [
        (HAIKU_45, 402),
        (HAIKU_45, 175),
        (HAIKU_45, 290),
        (HAIKU_45, 512),
        (OPUS_41, 146),
    ]
    # the /btw replay of the last parent call lost: its parent copy has the smaller cache read
    last = a2.filter(pl.col("kind") == "main").sort("ts").tail(1)
    assert last.select("cache_read_tokens", "output_tokens").rows() == [(21008, 287)]


def test_sample_tree_notices() -> None:
    counts = _notice_counts([SAMPLE])
    assert _count_matching(counts, "malformed") == 1
    assert _count_matching(counts, "half-written") == 1
    assert sum(counts.values()) == 2
    ref = _reference([SAMPLE])
    assert (ref.malformed, ref.truncated) == (1, 1)


def test_sample_tree_dates_span_september_and_october_2025(sample: pl.DataFrame) -> None:
    assert sample["ts"].min() == datetime(2025, 9, 3, 0, 47, 21, 540000, tzinfo=UTC)
    assert sample["ts"].max() == datetime(2025, 10, 10, 7, 33, 9, 845000, tzinfo=UTC)


def test_sample_content_is_never_stored(sample: pl.DataFrame) -> None:
    planted = b"".join(p.read_bytes() for p in SAMPLE.rglob("*.jsonl")).count(b"SECRET-")
    assert planted >= 30
    for column, dtype in sample.schema.items():
        if dtype == pl.String:
            assert not sample[column].drop_nulls().str.contains("SECRET-").any(), column
