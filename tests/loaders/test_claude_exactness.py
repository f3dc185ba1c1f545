"""tokenlens agrees with ccusage to the token on a generated tree that has every quirk.

`tests/fixtures/claude_generated/` was written by `bench/gen_claude_tree.py` and its
`expected.json` by ccusage 20.0.24 (see PROVENANCE.md there). Neither ccusage nor the network is
needed here: the expected totals are committed.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import polars as pl
import pytest

from tokenlens.loaders.claude_code import scan_claude_code

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "claude_generated"
GENERATOR = ROOT / "bench" / "gen_claude_tree.py"
TOKENS = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")
GENERATED_WITH = {"size_mb": 1.1, "seed": 1, "malformed_pct": 1.0}  # as in PROVENANCE.md

Cells = dict[tuple[str, str], tuple[int, ...]]


def _expected() -> tuple[Cells, dict[str, int]]:
    doc = json.loads((FIXTURE / "expected.json").read_text())
    cells = {(r["day"], r["model"]): tuple(int(r[t]) for t in TOKENS) for r in doc["rows"]}
    return cells, doc["totals"]


def _tokenlens() -> Cells:
    frame = scan_claude_code([FIXTURE / "projects"], user="test").frame
    grouped = (
        frame.with_columns(day=pl.col("ts").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d"))
        .group_by("day", "model")
        .agg(pl.col(t).sum() for t in TOKENS)
        .collect()
    )
    return {
        (row["day"], row["model"]): tuple(int(row[t]) for t in TOKENS)
        for row in grouped.iter_rows(named=True)
        if any(row[t] for t in TOKENS)
    }


def _differences(got: Cells, want: Cells) -> list[str]:
    out = []
    for key in sorted(set(got) | set(want)):
        a, b = got.get(key), want.get(key)
        if a != b:
            out.append(f"{key[0]} {key[1]}: tokenlens {a} vs ccusage {b} (in, cw, cr, out)")
    return out


def test_every_day_and_model_matches_ccusage_to_the_token() -> None:
    want, _ = _expected()
    assert _differences(_tokenlens(), want) == []


def test_totals_match_ccusage() -> None:
    _, totals = _expected()
    got = _tokenlens()
    sums = {t: sum(cell[i] for cell in got.values()) for i, t in enumerate(TOKENS)}
    assert sums == totals


def _jsonl_bytes() -> dict[str, bytes]:
    root = FIXTURE / "projects"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jsonl"))}


@pytest.mark.parametrize(
    ("quirk", "pattern"),
    [
        ("summary line", rb'"type":"summary"'),
        ("system line", rb'"type":"system"'),
        ("2.1.x progress mirror", rb'"type":"agent_progress"'),
        (
            "Task result with a usage object",
            rb'"totalTokens":\d+,"totalToolUseCount":\d+,"usage":\{',
        ),
        ("<synthetic> API error", rb'"model":"<synthetic>"'),
        ("fast mode", rb'"speed":"fast"'),
        (
            "5m and 1h cache writes in one line",
            rb'_5m_input_tokens":[1-9]\d*,"ephemeral_1h_input_tokens":[1-9]',
        ),
        ("no cache_creation breakdown", rb'"cache_read_input_tokens":\d+,"output_tokens"'),
        ("damaged line", rb"\x00"),
    ],
)
def test_fixture_holds_every_quirk(quirk: str, pattern: bytes) -> None:
    blob = b"\n".join(_jsonl_bytes().values())
    assert re.search(pattern, blob), quirk


def _calls() -> dict[tuple[str, str], list[tuple[str, str, int]]]:
    """(message.id, requestId) -> [(file, timestamp, output_tokens)], readable lines only."""
    calls: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
    for name, data in _jsonl_bytes().items():
        for raw in data.split(b"\n"):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            msg = line.get("message")
            if line.get("type") != "assistant" or "requestId" not in line:
                continue
            key = (msg["id"], line["requestId"])
            calls.setdefault(key, []).append(
                (name, line["timestamp"], msg["usage"]["output_tokens"])
            )
    return calls


def test_fixture_holds_every_duplicate_kind() -> None:
    calls = _calls()
    growing = [c for c in calls.values() if len({out for _, _, out in c}) > 1]
    across_midnight = [c for c in calls.values() if len({ts[:10] for _, ts, _ in c}) > 1]
    across_files = [c for c in calls.values() if len({name for name, _, _ in c}) > 1]
    replayed = {mid for mid, _ in calls}
    assert growing, "streamed copies with growing output_tokens"
    assert across_midnight, "one response streamed across midnight UTC"
    assert across_files, "resumed session copying an earlier one"
    assert len(replayed) < len(calls), "aside replay: same message.id, new requestId"


def test_fixture_spans_eras_and_models() -> None:
    blob = b"\n".join(_jsonl_bytes().values())
    eras = {m.group(1) for m in re.finditer(rb'"version":"(\d+\.\d+)\.\d+"', blob)}
    models = set(re.findall(rb'"model":"(claude-[a-z0-9-]+)"', blob))
    days = set(re.findall(rb'"timestamp":"(\d{4}-\d\d-\d\d)T', blob))
    assert eras == {b"1.0", b"2.0", b"2.1"}
    assert models == {
        b"claude-sonnet-4-20250514",
        b"claude-opus-4-1-20250805",
        b"claude-sonnet-4-5-20250929",
        b"claude-haiku-4-5-20251001",
        b"claude-opus-4-5-20251101",
    }
    assert len(days) >= 15


def test_fixture_holds_every_file_layout() -> None:
    files = _jsonl_bytes()
    names = list(files)
    top_level = [n for n in names if n.count("/") == 1]
    assert any("/subagents/agent-" in n for n in names), "2.1.x subagent files"
    assert any("/subagents/aside_question-" in n for n in names), "/btw side questions"
    assert any(n.split("/")[1].startswith("agent-") for n in top_level), "2.0.x agent files"
    inline = [n for n in top_level if not n.split("/")[1].startswith("agent-")]
    assert any(b'"isSidechain":true' in files[n] for n in inline), "1.0.x inline sidechains"
    assert any(not data.endswith(b"\n") for data in files.values()), "half-written last line"


_ASSISTANT = (
    '{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/p","sessionId":"s1",'
    '"version":"2.1.5","gitBranch":"","message":{"id":"msg_1","type":"message",'
    '"role":"assistant","model":"claude-sonnet-4-5-20250929","content":[CONTENT],'
    '"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,'
    '"cache_creation_input_tokens":50,"cache_read_input_tokens":100,"output_tokens":10}},'
    '"requestId":"req_1","type":"assistant","uuid":"u2","timestamp":"2025-10-01T12:00:00.000Z"}'
)
_TOOL_RESULT = (
    '{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user",'
    '"content":[{"tool_use_id":"t","type":"tool_result","content":"ok"}]},"uuid":"u1",'
    '"timestamp":"2025-10-01T11:59:00.000Z"}'
)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            _ASSISTANT.replace("CONTENT", '{"type":"text","text":"abcd"}')[:-40] + "\n",
            id="cut_short",
        ),
        pytest.param(
            _TOOL_RESULT + _ASSISTANT.replace("CONTENT", "") + "\n",
            id="two_lines_run_together",
        ),
        pytest.param(
            _ASSISTANT.replace("CONTENT", '{"type":"text","text":"ab\x00\x00cd"}') + "\n",
            id="nul_bytes_in_content",
        ),
        pytest.param(
            _ASSISTANT.replace("CONTENT", '{"type";"text","text":"abcd"}') + "\n",
            id="broken_key_in_content",
        ),
    ],
)
def test_damaged_line_counts_nothing_like_ccusage(tmp_path: Path, data: str) -> None:
    """ccusage 20.0.24 counts nothing for each of these lines (`compare_ccusage.py --probes`)."""
    session = tmp_path / "projects" / "-p" / "s1.jsonl"
    session.parent.mkdir(parents=True)
    session.write_bytes(data.encode())
    frame = scan_claude_code([tmp_path / "projects"], user="test").frame.collect()
    assert frame.height == 0


def test_fixture_is_what_the_generator_writes(tmp_path: Path) -> None:
    """PROVENANCE.md's command reproduces the committed tree byte for byte."""
    spec = importlib.util.spec_from_file_location("gen_claude_tree", GENERATOR)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_claude_tree"] = gen
    try:
        spec.loader.exec_module(gen)
        gen.generate(tmp_path, GENERATED_WITH["size_mb"], 1, GENERATED_WITH["malformed_pct"])
    finally:
        sys.modules.pop("gen_claude_tree", None)
    fresh = {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file()
    }
    committed = {
        str(p.relative_to(FIXTURE)): p.read_bytes()
        for p in sorted((FIXTURE / "projects").rglob("*"))
        if p.is_file()
    }
    assert sorted(fresh) == sorted(committed)
    assert [k for k in fresh if fresh[k] != committed[k]] == []
