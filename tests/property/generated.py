"""Small generated exports whose copies of one event spread over several files.

Claude Code transcripts repeat a message id (and request id) across files: streamed copies with
growing output, sidechain replays of a parent message, subagent files of a session, and copies
whose timestamps straddle a month boundary (the store partitions by month). Cursor downloads
overlap: one event appears in several CSV files, as `Included` in one and with a number in another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

# Times on both sides of the end of September 2025 (UTC), and one well inside the month.
TIMES = (
    "2025-09-15T12:00:00.000Z",
    "2025-09-30T23:59:59.000Z",
    "2025-10-01T00:00:01.000Z",
    "2025-10-01T00:00:02.500Z",
)

# Session files of two projects, a subagent file of the first session, and a project folder
# whose name extends another's (`p` and `p-x`: path order and text order disagree there).
CLAUDE_FILES = (
    "projects/p/s1.jsonl",
    "projects/p/s1/subagents/agent-a1.jsonl",
    "projects/p-x/s2.jsonl",
    "projects/q/s3.jsonl",
)
CLAUDE_MODELS = ("claude-sonnet-4-20250514", "claude-opus-4-1-20250805")


@dataclass(frozen=True)
class ClaudeLine:
    file: str
    message: str
    request: str | None
    ts: str
    model: str
    tokens: tuple[int, int, int, int]  # input, cache write, cache read, output
    sidechain: bool = False
    fast: bool = False

    def text(self) -> str:
        inp, write, read, out = self.tokens
        usage: dict[str, Any] = {
            "input_tokens": inp,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "output_tokens": out,
        }
        if self.fast:
            usage["speed"] = "fast"
        line: dict[str, Any] = {
            "type": "assistant",
            "timestamp": self.ts,
            "sessionId": Path(self.file).parts[2].removesuffix(".jsonl"),
            "isSidechain": self.sidechain,
            "cwd": "/work/" + Path(self.file).parts[1],
            "version": "1.0.98",
            "message": {"id": self.message, "model": self.model, "usage": usage},
        }
        if self.request is not None:
            line["requestId"] = self.request
        return json.dumps(line, separators=(",", ":")) + "\n"


def claude_lines() -> st.SearchStrategy[ClaudeLine]:
    return st.builds(
        ClaudeLine,
        file=st.sampled_from(CLAUDE_FILES),
        message=st.sampled_from(("msg_a", "msg_b", "msg_c")),
        request=st.sampled_from(("req_1", "req_2", None)),
        ts=st.sampled_from(TIMES),
        model=st.sampled_from(CLAUDE_MODELS),
        tokens=st.tuples(*(st.integers(0, 40) for _ in range(4))),
        sidechain=st.booleans(),
        fast=st.booleans(),
    )


@st.composite
def claude_trees(draw: st.DrawFn) -> dict[str, str]:
    """Claude Code transcripts: file path -> text, lines in drawn order."""
    lines = draw(st.lists(claude_lines(), min_size=1, max_size=10))
    files: dict[str, str] = {}
    for line in lines:
        files[line.file] = files.get(line.file, "") + line.text()
    return files


# Cursor's 10-column individual export (variant C).
CURSOR_HEADER = (
    "Date,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),Cache Read,"
    "Output Tokens,Total Tokens,Cost\n"
)
CURSOR_FILES = ("cursor/usage-a.csv", "cursor/usage-b.csv", "cursor/usage-c.csv")


@dataclass(frozen=True)
class CursorEvent:
    date: str
    kind: str
    model: str
    tokens: tuple[int, int, int, int]  # cache write, input, cache read, output

    def row(self, cost: str) -> str:
        total = sum(self.tokens)
        cells = [self.date, self.kind, self.model, "No", *map(str, self.tokens), str(total), cost]
        return ",".join(f'"{c}"' for c in cells) + "\n"


def cursor_events() -> st.SearchStrategy[CursorEvent]:
    return st.builds(
        CursorEvent,
        date=st.sampled_from(TIMES),
        kind=st.sampled_from(("Included", "On-Demand")),
        model=st.sampled_from(("auto", "claude-4-sonnet", "gpt-5")),
        tokens=st.tuples(*(st.integers(0, 5000) for _ in range(4))),
    )


@st.composite
def cursor_downloads(draw: st.DrawFn) -> dict[str, str]:
    """Overlapping Cursor CSV downloads: file path -> text; events repeat across and within files,
    with a cost of `Included`, blank or a number."""
    events = draw(st.lists(cursor_events(), min_size=1, max_size=5, unique=True))
    costs = st.sampled_from(("Included", "", "0.05", "0.07", "$1.20"))
    files: dict[str, str] = {}
    names = draw(st.lists(st.sampled_from(CURSOR_FILES), min_size=1, max_size=3, unique=True))
    for name in names:
        rows = draw(st.lists(st.tuples(st.sampled_from(events), costs), min_size=1, max_size=6))
        files[name] = CURSOR_HEADER + "".join(event.row(cost) for event, cost in rows)
    return files
