#!/usr/bin/env python3
"""Write a realistic, deterministic ~/.claude tree of Claude Code transcripts.

    python bench/gen_claude_tree.py OUT_DIR --size-mb 1024 --seed 7 [--malformed-pct 0.5]

writes OUT_DIR/projects/<encoded-cwd>/... with every era and quirk of FORMATS.md section 1:

- main session files with user, assistant, summary, system, file-history-snapshot and
  queue-operation lines, compact JSON like the real thing;
- one API response streamed as several lines (one per content block) sharing `message.id` and
  `requestId`, `output_tokens` growing from copy to copy;
- 1.0.x: Task subagents inline in the main file (`isSidechain:true`);
- 2.0.x: project-level `agent-<id>.jsonl` files carrying the parent `sessionId`;
- 2.1.x: `<session>/subagents/agent-<id>.jsonl` (+ `.meta.json`), mirrored in the parent by
  `type:"progress"` lines (usage at `data.message.message.usage`); now and then the subagent file
  is missing and the mirror is the only copy;
- 2.1.x: `<session>/subagents/aside_question-<id>.jsonl` replaying parent messages (same
  `message.id`, new `requestId`, `isSidechain:true`, larger cache read) plus its own calls;
- Task results whose `toolUseResult` carries a `usage` object (not an API call);
- large tool-result user lines (about 70% of the bytes);
- `<synthetic>` API-error lines (`isApiErrorMessage:true`, zero usage);
- cache writes split 5m/1h on most lines, a few `speed:"fast"` lines;
- resumed sessions that copy an earlier session's lines (same ids) into a new file;
- timestamps over 60 days (some responses straddle midnight UTC), several projects;
- with --malformed-pct, that share of lines truncated or garbled; a few files end in a
  half-written line (a live session).

Everything is drawn from `random.Random(f"{seed}:{session}")`, so the same arguments give the
same bytes. Files are written as each session finishes; memory stays flat for any size.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import multiprocessing
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

EPOCH_MS = int(datetime(2025, 9, 15, tzinfo=UTC).timestamp() * 1000)
SPAN_DAYS = 60
DAY_MS = 86_400_000

SONNET4 = "claude-sonnet-4-20250514"
OPUS41 = "claude-opus-4-1-20250805"
SONNET45 = "claude-sonnet-4-5-20250929"
HAIKU45 = "claude-haiku-4-5-20251001"
OPUS45 = "claude-opus-4-5-20251101"
SYNTHETIC = "<synthetic>"
# model -> (first day offset it appears, weight as a main-loop model)
MODELS = {
    SONNET4: (0, 5),
    OPUS41: (0, 3),
    SONNET45: (14, 8),
    HAIKU45: (30, 1),
    OPUS45: (47, 6),
}
# Claude Code release line by day offset: 1.0.x until 2.0 shipped, then 2.0.x, then 2.1.x.
ERAS = (
    (14, "1.0", ("1.0.98", "1.0.102", "1.0.108", "1.0.113", "1.0.120", "1.0.128")),
    (40, "2.0", ("2.0.8", "2.0.14", "2.0.22", "2.0.28", "2.0.37")),
    (SPAN_DAYS, "2.1", ("2.1.1", "2.1.5", "2.1.9", "2.1.14")),
)
PROJECTS = (
    "/Users/maya/src/storefront",
    "/Users/maya/src/storefront/packages/api",
    "/home/dev/work/payments-service",
    "/home/dev/ghq/github.com/acme/cli.tool",
    "/Users/maya/.dotfiles",
    "/Users/maya/Documents/notes_2025",
    "/home/dev/work/ml-pipeline",
    "/Users/maya/go/src/github.com/acme/infra",
)
BRANCHES = ("main", "main", "", "feature/checkout-v2", "fix/retry-backoff", "dev")
TOOLS = ("Read", "Read", "Read", "Bash", "Bash", "Grep", "Glob", "Edit", "Write", "TodoWrite")
AGENT_TYPES = ("general-purpose", "Explore", "code-reviewer", "test-runner")
WORDS = (
    "def",
    "return",
    "self",
    "import",
    "from",
    "class",
    "async",
    "await",
    "const",
    "let",
    "function",
    "if",
    "else",
    "for",
    "while",
    "try",
    "except",
    "raise",
    "yield",
    "lambda",
    "None",
    "True",
    "False",
    "null",
    "undefined",
    "export",
    "default",
    "interface",
    "type",
    "string",
    "number",
    "boolean",
    "config",
    "handler",
    "request",
    "response",
    "client",
    "server",
    "cache",
    "retry",
    "timeout",
    "user",
    "account",
    "order",
    "payment",
    "invoice",
    "session",
    "token",
    "schema",
    "model",
    "query",
    "index",
    "table",
    "migration",
    "test",
    "assert",
    "expect",
    "describe",
    "render",
    "props",
    "state",
    "effect",
    "route",
    "middleware",
    "logger",
    "error",
    "warning",
    "debug",
    "metrics",
    "span",
    "trace",
    "queue",
    "worker",
    "job",
    "batch",
    "stream",
    "buffer",
    "encode",
    "decode",
)
SUMMARIES = (
    "Checkout flow refactor and payment retry fix",
    "Investigating flaky integration tests",
    "Add rate limiting middleware",
    "Dotfiles cleanup: zsh and tmux config",
    "Migrate build to uv and ruff",
    "Debug memory leak in worker pool",
)
PROMPTS = (
    "Can you look at why the checkout tests fail on CI but pass locally?",
    "Refactor the payment client so retries use exponential backoff.",
    "Add a --dry-run flag to the migrate command and document it.",
    "Why does the worker pool grow without bound under load? Find the leak.",
    "Write unit tests for the invoice rounding helpers.",
    "Update CLAUDE.md with the current build and test commands.",
    "The API returns 500 on empty carts; fix it and add a regression test.",
    "Review the diff on this branch and point out anything risky.",
)

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def encode_cwd(cwd: str) -> str:
    """Claude Code's project folder name: every non-alphanumeric becomes '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


def iso(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and Z, as Claude Code writes it."""
    sec, milli = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{milli:03d}Z"


def era_of(day: int) -> tuple[str, tuple[str, ...]]:
    for until, era, versions in ERAS:
        if day < until:
            return era, versions
    return ERAS[-1][1], ERAS[-1][2]


def new_uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


class Corpus:
    """A few MB of code-like text; tool results and messages are slices of it."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"corpus:{seed}")
        words = rng.choices(WORDS, k=480_000)
        lines = []
        indent = 0
        at = 0
        for _ in range(60_000):
            indent = max(0, min(12, indent + rng.choice((-4, 0, 0, 0, 4))))
            n = rng.randint(2, 12)
            text = " ".join(words[at : at + n])
            at += n
            if rng.random() < 0.15:
                text += f'("{words[at]}", {rng.randint(0, 9999)})'
            if rng.random() < 0.02:
                text += " # naïve café → ok"
            lines.append(" " * indent + text)
        self.text = "\n".join(lines)
        self.numbered = "\n".join(f"{(i % 400) + 1:>6}→{line}" for i, line in enumerate(lines))

    def take(self, rng: random.Random, n: int, *, numbered: bool = False) -> str:
        src = self.numbered if numbered else self.text
        n = max(1, min(n, len(src) - 1))
        start = rng.randrange(0, len(src) - n)
        nl = src.find("\n", start)
        if 0 <= nl < start + n // 2:
            start = nl + 1
        return src[start : start + n]


@dataclass
class Stats:
    sessions: int = 0
    files: int = 0
    bytes: int = 0
    lines: int = 0
    usage_lines: int = 0
    tool_result_bytes: int = 0
    corrupted: int = 0
    half_written: int = 0


@dataclass
class Ctx:
    """One session being written."""

    rng: random.Random
    corpus: Corpus
    sid: str
    cwd: str
    era: str
    version: str
    branch: str
    model: str
    clock: int
    small: bool
    context: int = 0
    parent: str | None = None
    lines: list[str] = field(default_factory=list)
    finals: list[dict[str, object]] = field(default_factory=list)  # last copy per call
    extra_files: list[tuple[str, list[str]]] = field(default_factory=list)

    # ---- ids -----------------------------------------------------------------------------
    def uuid(self) -> str:
        return new_uuid(self.rng)

    def _b(self, alphabet: str, n: int) -> str:
        v = self.rng.getrandbits(6 * n)
        out = []
        for _ in range(n):
            v, r = divmod(v, len(alphabet))
            out.append(alphabet[r])
        return "".join(out)

    def msg_id(self) -> str:
        return "msg_01" + self._b(_B62, 22)

    def req_id(self) -> str:
        return "req_011C" + self._b(_B58, 18)

    def tool_id(self) -> str:
        return "toolu_01" + self._b(_B62, 22)

    def tick(self, lo: float, hi: float) -> str:
        self.clock += int(self.rng.uniform(lo, hi) * 1000)
        return iso(self.clock)


def envelope(c: Ctx, *, sidechain: bool, agent_id: str | None = None) -> dict[str, object]:
    d: dict[str, object] = {
        "parentUuid": c.parent,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": c.cwd,
        "sessionId": c.sid,
        "version": c.version,
        "gitBranch": c.branch,
    }
    if agent_id is not None:
        d["agentId"] = agent_id
    return d


def make_usage(c: Ctx, model: str, out: int, new: int, *, fast: bool) -> dict[str, object]:
    rng = c.rng
    first = c.context == 0
    if first:
        new = max(new, rng.randint(9_000, 24_000))  # system prompt and tool schemas
    inp = rng.randint(3, 12) if first else rng.choice((1, 2, 3, 4, 5, 6, 8, 10, 12, 30, 240))
    read = c.context
    u: dict[str, object] = {
        "input_tokens": inp,
        "cache_creation_input_tokens": new,
        "cache_read_input_tokens": read,
    }
    if not (c.era == "1.0" and rng.random() < 0.25):
        if c.era == "1.0":
            one_h = 0 if rng.random() < 0.8 else rng.randint(0, new)
        else:
            one_h = new if rng.random() < 0.6 else rng.randint(0, new)
        u["cache_creation"] = {
            "ephemeral_5m_input_tokens": new - one_h,
            "ephemeral_1h_input_tokens": one_h,
        }
    u["output_tokens"] = out
    u["service_tier"] = "standard"
    if c.era == "2.1":
        u["server_tool_use"] = {"web_search_requests": 0, "web_fetch_requests": 0}
        u["inference_geo"] = ""
        u["speed"] = "fast" if fast else "standard"
    c.context += new + out + inp
    if model == HAIKU45 and rng.random() < 0.3:
        c.context = 0  # short-lived helper contexts
    return u


def blocks_for(c: Ctx, tool: str | None) -> list[dict[str, object]]:
    rng = c.rng
    blocks: list[dict[str, object]] = []
    if c.era != "1.0" and rng.random() < 0.45:
        blocks.append(
            {
                "type": "thinking",
                "thinking": c.corpus.take(rng, rng.randint(150, 1800)),
                "signature": base64.b64encode(rng.randbytes(rng.randint(150, 520))).decode(),
            }
        )
    if rng.random() < 0.8 or tool is None:
        blocks.append({"type": "text", "text": c.corpus.take(rng, rng.randint(40, 900))})
    if tool is not None:
        blocks.append({"type": "tool_use", "id": c.tool_id(), "name": tool, "input": {}})
    return blocks


def tool_input(c: Ctx, tool: str, agent_prompt: str = "") -> dict[str, object]:
    rng = c.rng
    path = f"{c.cwd}/src/{rng.choice(WORDS)}/{rng.choice(WORDS)}.py"
    if tool == "Read":
        return {"file_path": path}
    if tool == "Bash":
        cmd = rng.choice(("pytest -q tests/", "git status", "npm run build", "ls -la", "make lint"))
        return {"command": cmd, "description": "Run " + cmd.split()[0]}
    if tool == "Grep":
        return {"pattern": rng.choice(WORDS), "path": c.cwd, "output_mode": "content"}
    if tool == "Glob":
        return {"pattern": "**/*.py"}
    if tool == "Edit":
        return {
            "file_path": path,
            "old_string": c.corpus.take(rng, rng.randint(30, 400)),
            "new_string": c.corpus.take(rng, rng.randint(30, 400)),
        }
    if tool == "Write":
        return {"file_path": path, "content": c.corpus.take(rng, rng.randint(200, 5000))}
    if tool == "TodoWrite":
        todos = [
            {"content": f"Step {i}", "status": "pending", "activeForm": f"Doing step {i}"}
            for i in range(rng.randint(2, 6))
        ]
        return {"todos": todos}
    if tool == "Task":
        return {
            "description": "Investigate " + rng.choice(WORDS),
            "prompt": agent_prompt,
            "subagent_type": rng.choice(AGENT_TYPES),
        }
    return {}


def result_size(c: Ctx) -> int:
    size = int(c.rng.lognormvariate(7.9, 1.25))
    return max(20, min(size, 4_000 if c.small else 90_000))


def tool_result(c: Ctx, tool: str, tool_use: dict[str, object]) -> tuple[object, object]:
    """(message content, toolUseResult) for one tool call; the bulk of a transcript's bytes."""
    rng = c.rng
    inp = tool_use["input"]
    assert isinstance(inp, dict)
    if tool == "Read":
        body = c.corpus.take(rng, result_size(c), numbered=True)
        raw = body  # the numbered text stands in for the raw file
        return body, {
            "type": "text",
            "file": {
                "filePath": inp["file_path"],
                "content": raw,
                "numLines": body.count("\n") + 1,
                "startLine": 1,
                "totalLines": body.count("\n") + 1,
            },
        }
    if tool == "Bash":
        out = c.corpus.take(rng, result_size(c))
        return out, {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
    if tool == "Grep":
        out = c.corpus.take(rng, result_size(c) // 2)
        return out, {"mode": "content", "numFiles": 0, "filenames": [], "content": out}
    if tool == "Glob":
        names = [f"{c.cwd}/src/{rng.choice(WORDS)}.py" for _ in range(rng.randint(1, 40))]
        return "\n".join(names), {
            "filenames": names,
            "durationMs": rng.randint(3, 90),
            "numFiles": len(names),
            "truncated": False,
        }
    if tool == "Edit":
        return f"The file {inp['file_path']} has been updated.", {
            "filePath": inp["file_path"],
            "oldString": inp["old_string"],
            "newString": inp["new_string"],
            "originalFile": c.corpus.take(rng, result_size(c)),
            "structuredPatch": [],
            "userModified": False,
            "replaceAll": False,
        }
    if tool == "Write":
        return f"File created successfully at: {inp['file_path']}", {
            "type": "create",
            "filePath": inp["file_path"],
            "content": inp["content"],
            "structuredPatch": [],
        }
    msg = (
        "Todos have been modified successfully. Ensure that you continue to use the todo "
        "list to track your progress. Please proceed with the current tasks if applicable"
    )
    return msg, {"oldTodos": [], "newTodos": inp.get("todos", [])}


# ---- lines ------------------------------------------------------------------------------


def user_line(
    c: Ctx,
    content: object,
    *,
    sidechain: bool = False,
    agent_id: str | None = None,
    tool_use_result: object = None,
    lo: float = 0.05,
    hi: float = 0.6,
    meta: bool = False,
) -> dict[str, object]:
    d = envelope(c, sidechain=sidechain, agent_id=agent_id)
    d["type"] = "user"
    d["message"] = {"role": "user", "content": content}
    if meta:
        d["isMeta"] = True
    d["uuid"] = c.uuid()
    d["timestamp"] = c.tick(lo, hi)
    if tool_use_result is not None:
        d["toolUseResult"] = tool_use_result
    c.parent = str(d["uuid"])
    return d


def api_call(
    c: Ctx,
    model: str,
    tool: str | None,
    *,
    sidechain: bool = False,
    agent_id: str | None = None,
    fast: bool = False,
    new_tokens: int = 0,
    agent_prompt: str = "",
) -> tuple[list[dict[str, object]], dict[str, object] | None]:
    """One API response, streamed as one line per content block. Returns (lines, tool_use)."""
    rng = c.rng
    blocks = blocks_for(c, tool)
    tool_use = None
    if tool is not None:
        tool_use = blocks[-1]
        tool_use["input"] = tool_input(c, tool, agent_prompt)
    final_out = rng.randint(20, 600) if tool else rng.randint(80, 2500)
    if rng.random() < 0.5:
        outs = [*sorted(rng.randint(1, final_out) for _ in blocks[:-1]), final_out]
        outs[0] = min(outs[0], rng.choice((1, 2, 3, 8, 12)))
    else:
        outs = [final_out] * len(blocks)
    usage = make_usage(c, model, final_out, new_tokens, fast=fast)
    mid, rid = c.msg_id(), c.req_id()
    lines = []
    for i, block in enumerate(blocks):
        u = dict(usage)
        u["output_tokens"] = outs[i]
        last = i == len(blocks) - 1
        stop = None
        if last and rng.random() < 0.5:
            stop = "tool_use" if tool else "end_turn"
        body: dict[str, object]
        if c.era == "1.0":
            body = {"id": mid, "type": "message", "role": "assistant", "model": model}
        else:
            body = {"model": model, "id": mid, "type": "message", "role": "assistant"}
        body.update(content=[block], stop_reason=stop, stop_sequence=None, usage=u)
        d = envelope(c, sidechain=sidechain, agent_id=agent_id)
        d["message"] = body
        d["requestId"] = rid
        d["type"] = "assistant"
        d["uuid"] = c.uuid()
        d["timestamp"] = c.tick(0.3, 9.0) if i == 0 else c.tick(0.05, 2.5)
        c.parent = str(d["uuid"])
        lines.append(d)
    return lines, tool_use


def api_error_line(c: Ctx, *, sidechain: bool = False) -> dict[str, object]:
    rng = c.rng
    if rng.random() < 0.3:
        reset = (c.clock // 1000) + rng.randint(600, 18_000)
        text = f"Claude AI usage limit reached|{reset}"
    else:
        text = (
            'API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
            '"message":"Overloaded"}}'
        )
    d = envelope(c, sidechain=sidechain)
    d["type"] = "assistant"
    d["uuid"] = c.uuid()
    d["timestamp"] = c.tick(1, 30)
    d["message"] = {
        "id": c.uuid(),
        "container": None,
        "model": SYNTHETIC,
        "role": "assistant",
        "stop_reason": "stop_sequence",
        "stop_sequence": "",
        "type": "message",
        "usage": {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": None,
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        },
        "content": [{"type": "text", "text": text}],
    }
    d["isApiErrorMessage"] = True
    c.parent = str(d["uuid"])
    return d


def system_line(c: Ctx, subtype: str) -> dict[str, object]:
    d = envelope(c, sidechain=False)
    d["type"] = "system"
    d["subtype"] = subtype
    if subtype == "compact_boundary":
        d["parentUuid"] = None
        d["logicalParentUuid"] = c.parent
        d["content"] = "Conversation compacted"
        d["compactMetadata"] = {"trigger": "auto", "preTokens": c.context}
        d["level"] = "info"
    else:
        d["durationMs"] = c.rng.randint(2_000, 400_000)
    d["isMeta"] = False
    d["timestamp"] = c.tick(0.01, 0.2)
    d["uuid"] = c.uuid()
    c.parent = str(d["uuid"])
    return d


def emit(c: Ctx, d: dict[str, object]) -> None:
    c.lines.append(_DUMPS(d))


def emit_call(c: Ctx, lines: list[dict[str, object]]) -> None:
    for d in lines:
        emit(c, d)
    c.finals.append(lines[-1])


# ---- subagents --------------------------------------------------------------------------


def run_subagent(c: Ctx, task_use: dict[str, object], agent_id: str) -> list[dict[str, object]]:
    """The subagent's own lines (sidechain), generated on the parent's clock."""
    rng = c.rng
    saved_context, saved_parent = c.context, c.parent
    c.context, c.parent = 0, None
    model = HAIKU45 if (c.era == "2.1" and rng.random() < 0.6) else c.model
    inp = task_use["input"]
    assert isinstance(inp, dict)
    agent = None if c.era == "1.0" else agent_id
    out: list[dict[str, object]] = [
        user_line(c, inp["prompt"], sidechain=True, agent_id=agent, lo=0.2, hi=1.0)
    ]
    steps = rng.randint(1, 2 if c.small else 6)
    for step in range(steps):
        tool = rng.choice(("Read", "Grep", "Glob", "Bash")) if step < steps - 1 else None
        calls, use = api_call(c, model, tool, sidechain=True, agent_id=agent)
        out.extend(calls)
        if use is not None and tool is not None:
            content, tur = tool_result(c, tool, use)
            block = {"tool_use_id": use["id"], "type": "tool_result", "content": content}
            out.append(user_line(c, [block], sidechain=True, agent_id=agent, tool_use_result=tur))
    c.context, c.parent = saved_context, saved_parent
    return out


def task_result(c: Ctx, sub: list[dict[str, object]], agent_id: str) -> dict[str, object]:
    """The Task tool's result: the subagent's totals, with a `usage` that is not an API call."""
    msg = sub[-1]["message"]
    assert isinstance(msg, dict)
    usage = dict(msg["usage"])  # type: ignore[arg-type]
    for key in ("server_tool_use", "inference_geo", "speed"):
        usage.pop(key, None)
    total = sum(
        int(usage[k])
        for k in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
        )
    )
    text = c.corpus.take(c.rng, c.rng.randint(300, 2500))
    res: dict[str, object] = {"content": [{"type": "text", "text": text}]}
    if c.era != "1.0":
        res["status"] = "completed"
        res["agentId"] = agent_id
    res.update(
        totalDurationMs=c.rng.randint(5_000, 300_000),
        totalTokens=total,
        totalToolUseCount=sum(1 for d in sub if d["type"] == "user") - 1,
        usage=usage,
    )
    return res


def progress_line(
    c: Ctx, sub_line: dict[str, object], agent_id: str, tool_use_id: str, prompt: str
) -> dict[str, object]:
    """A 2.1.x parent-file mirror of one subagent line."""
    wrapped: dict[str, object] = {"isSidechain": True, "type": sub_line["type"]}
    msg = sub_line["message"]
    if sub_line["type"] == "user":
        assert isinstance(msg, dict)
        content = msg["content"]
        if isinstance(content, list):  # tool results are cut short in mirrors
            content = [dict(b, content=str(b.get("content", ""))[:400]) for b in content]
        msg = {"role": "user", "content": content}
    wrapped["message"] = msg
    if "requestId" in sub_line:
        wrapped["requestId"] = sub_line["requestId"]
    wrapped["uuid"] = sub_line["uuid"]
    wrapped["timestamp"] = sub_line["timestamp"]
    d = envelope(c, sidechain=False)
    d["type"] = "progress"
    d["data"] = {
        "message": wrapped,
        "normalizedMessages": [],
        "type": "agent_progress",
        "prompt": prompt,
        "agentId": agent_id,
    }
    d["toolUseID"] = "agent_msg_01" + c._b(_B62, 20)
    d["parentToolUseID"] = tool_use_id
    d["uuid"] = c.uuid()
    d["timestamp"] = sub_line["timestamp"]
    c.parent = str(d["uuid"])
    return d


def do_task(c: Ctx, project_dir: str, *, drop_file: bool = False) -> None:
    """A Task (subagent) call from the main loop, written the way the session's era did."""
    rng = c.rng
    prompt = rng.choice(PROMPTS) + " Report back in under 200 words."
    calls, use = api_call(c, c.model, "Task", agent_prompt=prompt)
    emit_call(c, calls)
    assert use is not None
    tool_use_id = str(use["id"])
    if c.era == "1.0":
        agent_id = ""
        sub = run_subagent(c, use, agent_id)
        for d in sub:
            emit(c, d)
    elif c.era == "2.0":
        agent_id = f"{rng.getrandbits(32):08x}"
        sub = run_subagent(c, use, agent_id)
        path = f"{project_dir}/agent-{agent_id}.jsonl"
        c.extra_files.append((path, [_DUMPS(d) for d in sub]))
    else:
        agent_id = "a" + f"{rng.getrandbits(64):016x}"[:16]
        sub = run_subagent(c, use, agent_id)
        for d in sub:
            if d["type"] == "assistant" or rng.random() < 0.5:
                emit(c, progress_line(c, d, agent_id, tool_use_id, prompt))
        base = f"{project_dir}/{c.sid}/subagents/agent-{agent_id}"
        if not drop_file:
            c.extra_files.append((base + ".jsonl", [_DUMPS(d) for d in sub]))
            meta = {"agentType": rng.choice(AGENT_TYPES), "description": "Investigate"}
            c.extra_files.append((base + ".meta.json", [_DUMPS(meta)]))
    block = {
        "tool_use_id": tool_use_id,
        "type": "tool_result",
        "content": [{"type": "text", "text": "Agent finished; summary follows."}],
    }
    emit(c, user_line(c, [block], tool_use_result=task_result(c, sub, agent_id)))


def do_aside(c: Ctx, project_dir: str) -> None:
    """A 2.1.x `/btw` side question: replays of parent messages, then its own calls."""
    rng = c.rng
    if not c.finals:
        return
    saved_parent = c.parent
    c.parent = None
    out = [user_line(c, "/btw " + rng.choice(PROMPTS), sidechain=True, lo=1, hi=20)]
    for final in rng.sample(c.finals[-6:], min(len(c.finals[-6:]), rng.randint(1, 3))):
        replay = dict(final)
        msg = dict(final["message"])  # type: ignore[arg-type]
        usage = dict(msg["usage"])
        usage["cache_read_input_tokens"] = int(usage["cache_read_input_tokens"]) + rng.randint(
            2_000, 40_000
        )
        msg["usage"] = usage
        replay.update(
            isSidechain=True,
            parentUuid=c.parent,
            message=msg,
            requestId=c.req_id(),
            uuid=c.uuid(),
            timestamp=c.tick(0.01, 0.3),
        )
        c.parent = str(replay["uuid"])
        out.append(replay)
    for _ in range(rng.randint(1, 2)):
        calls, _use = api_call(c, c.model, None, sidechain=True)
        out.extend(calls)
    c.parent = saved_parent
    name = f"aside_question-{rng.getrandbits(32):08x}"
    c.extra_files.append(
        (f"{project_dir}/{c.sid}/subagents/{name}.jsonl", [_DUMPS(d) for d in out])
    )


# ---- sessions ---------------------------------------------------------------------------


@dataclass
class Plan:
    day: int
    model: str
    project: int
    small: bool = False
    force: tuple[str, ...] = ()


# Sessions written first so that even a small tree has every era and quirk.
SHOWCASE = (
    Plan(3, SONNET4, 0, True, force=("task", "summary", "api_error", "half_written")),
    Plan(9, OPUS41, 4, True, force=("task", "resume")),
    Plan(20, SONNET45, 2, True, force=("task", "api_error")),
    Plan(33, HAIKU45, 3, True, force=("task",)),
    Plan(44, SONNET45, 1, True, force=("task", "aside", "api_error", "drop_agent_file")),
    Plan(52, OPUS45, 6, True, force=("task", "fast", "aside", "compact")),
    Plan(57, OPUS45, 7, True, force=("task", "fast", "aside", "resume", "half_written")),
    # the first response is streamed across midnight UTC
    Plan(27, SONNET45, 5, True, force=("task", "straddle")),
)


def random_plan(rng: random.Random) -> Plan:
    day = rng.randrange(SPAN_DAYS)
    models = [m for m, (first, _w) in MODELS.items() if day >= first]
    weights = [MODELS[m][1] for m in models]
    return Plan(day, rng.choices(models, weights)[0], rng.randrange(len(PROJECTS)))


def session(
    rng: random.Random, corpus: Corpus, plan: Plan, sid: str, prefix: list[str] | None = None
) -> Ctx:
    era, versions = era_of(plan.day)
    cwd = PROJECTS[plan.project]
    start = EPOCH_MS + plan.day * DAY_MS + int(rng.uniform(6, 23.5) * 3_600_000)
    c = Ctx(
        rng=rng,
        corpus=corpus,
        sid=sid,
        cwd=cwd,
        era=era,
        version=rng.choice(versions),
        branch=rng.choice(BRANCHES),
        model=plan.model,
        clock=start,
        small=plan.small,
    )
    project_dir = encode_cwd(cwd)
    force = set(plan.force)
    if prefix:
        c.lines.extend(prefix)
        c.context = rng.randint(20_000, 60_000)
    if "summary" in force or (prefix is None and rng.random() < 0.08):
        for text in rng.sample(SUMMARIES, rng.randint(1, 2)):
            emit(c, {"type": "summary", "summary": text, "leafUuid": c.uuid()})
    turns = rng.randint(3, 4) if plan.small else int(rng.lognormvariate(2.3, 0.7)) + 1
    task_turns = set()
    if "task" in force:
        task_turns.add(rng.randrange(turns))
    fast_turns = set(range(turns)) if "fast" in force else set()
    if c.era == "2.1" and plan.model == OPUS45 and rng.random() < 0.15:
        fast_turns.add(rng.randrange(turns))
    for turn in range(turns):
        if c.era != "1.0" and rng.random() < 0.5:
            emit(
                c,
                {
                    "type": "file-history-snapshot",
                    "messageId": c.uuid(),
                    "snapshot": {
                        "messageId": c.uuid(),
                        "trackedFileBackups": {},
                        "timestamp": iso(c.clock),
                    },
                    "isSnapshotUpdate": False,
                },
            )
        if c.era == "2.1" and rng.random() < 0.1:
            emit(
                c,
                {
                    "type": "queue-operation",
                    "operation": "enqueue",
                    "timestamp": iso(c.clock),
                    "sessionId": c.sid,
                    "content": rng.choice(PROMPTS),
                },
            )
        emit(c, user_line(c, rng.choice(PROMPTS), lo=20, hi=1500))
        fast = turn in fast_turns and rng.random() < 0.7
        steps = rng.randint(1, 3) if plan.small else int(rng.lognormvariate(1.4, 0.8)) + 1
        if turn in task_turns or rng.random() < 0.12:
            drop = "drop_agent_file" in force or (not plan.small and rng.random() < 0.06)
            do_task(c, project_dir, drop_file=drop)
        for step in range(steps):
            tool = rng.choice(TOOLS) if step < steps - 1 else None
            new = rng.randint(200, 6_000)
            midnight = (c.clock // DAY_MS + 1) * DAY_MS
            if "straddle" in force:
                c.clock = midnight - 3_000
            calls, use = api_call(c, c.model, tool, fast=fast, new_tokens=new)
            if "straddle" in force and len(calls) > 1:
                # one response streamed across midnight UTC: copies on both days
                for k, d in enumerate(calls):
                    d["timestamp"] = iso(midnight + 250 * k - 300)
                c.clock = midnight + 250 * len(calls)
                force.discard("straddle")
            emit_call(c, calls)
            if use is not None and tool is not None:
                content, tur = tool_result(c, tool, use)
                block = {"tool_use_id": use["id"], "type": "tool_result", "content": content}
                emit(c, user_line(c, [block], tool_use_result=tur))
            if ("api_error" in force and step == 0) or rng.random() < 0.01:
                emit(c, api_error_line(c))
                force.discard("api_error")
        if c.era == "2.1" and rng.random() < 0.6:
            emit(c, system_line(c, "turn_duration"))
        if c.context > 160_000 or ("compact" in force and turn == turns - 1):
            emit(c, system_line(c, "compact_boundary"))
            summary = "This session is being continued from a previous conversation. " * 4
            emit(c, user_line(c, summary, lo=0.1, hi=1))
            c.context = rng.randint(15_000, 30_000)
            force.discard("compact")
        c.clock += int(rng.uniform(30, 2400) * 1000)
    if c.era == "2.1" and ("aside" in force or rng.random() < 0.2):
        do_aside(c, project_dir)
    return c


def corrupt(rng: random.Random, lines: list[str], rate: float, st: Stats) -> list[str]:
    """Damage about `rate` of the lines the ways real files get damaged."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if rng.random() >= rate or len(line) < 8:
            out.append(line)
            i += 1
            continue
        st.corrupted += 1
        mode = rng.random()
        if mode < 0.45:  # cut short (crash mid-write)
            out.append(line[: rng.randrange(1, len(line) - 1)])
        elif mode < 0.65:  # a run of NUL bytes (lost block after power loss)
            a = rng.randrange(1, len(line) - 1)
            b = min(len(line) - 1, a + rng.randint(1, 64))
            out.append(line[:a] + "\0" * (b - a) + line[b:])
        elif mode < 0.85 and i + 1 < len(lines):  # two lines run together
            out.append(line + lines[i + 1])
            i += 1
        else:  # a key's ':' replaced: never valid JSON
            keys = [m.start() for m in re.finditer(r'(?<!\\)":', line)]
            at = rng.choice(keys) + 1 if keys else len(line) // 2
            out.append(line[:at] + ";" + line[at + 1 :])
        i += 1
    return out


def render(
    rng: random.Random, lines: list[str], rate: float, st: Stats, *, half: bool, jsonl: bool
) -> bytes:
    """A file's bytes, with damage applied; counts what it holds into `st`."""
    if jsonl:
        for line in lines:
            if '"toolUseResult"' in line:
                st.tool_result_bytes += len(line.encode())
            elif '"usage":{' in line:
                st.usage_lines += 1
        if rate > 0:
            lines = corrupt(rng, lines, rate, st)
    text = "\n".join(lines) + "\n"
    if half and lines:
        cut = rng.randrange(10, max(11, len(lines[-1]) - 5))
        text = "\n".join(lines[:-1]) + "\n" + lines[-1][:cut]
        st.half_written += 1
    st.lines += len(lines)
    return text.encode()


@dataclass
class Config:
    """What every session of one run shares; set before the worker pool forks."""

    corpus: Corpus | None = None
    seed: int = 0
    rate: float = 0.0  # share of lines to damage
    small: bool = False  # trees under SMALL_TREE_MB are made of small sessions only


SMALL_TREE_MB = 16
RUN = Config()


def _head(idx: int) -> tuple[random.Random, Plan, str, bool]:
    """The first draws of session `idx`: its rng, plan, id and whether it resumes another."""
    rng = random.Random(f"{RUN.seed}:{idx}")
    plan = SHOWCASE[idx] if idx < len(SHOWCASE) else random_plan(rng)
    if RUN.small:
        plan = replace(plan, small=True)
    sid = new_uuid(rng)
    resume = "resume" in plan.force or (idx >= len(SHOWCASE) and rng.random() < 0.06)
    return rng, plan, sid, resume and idx > 0


def build(idx: int) -> tuple[list[tuple[str, bytes]], Stats]:
    """Session `idx` as (relative path, bytes) pairs; a pure function of (seed, idx)."""
    corpus = RUN.corpus
    assert corpus is not None
    rng, plan, sid, resume = _head(idx)
    prefix = None
    if resume:
        # `claude --resume`: a new session file that starts with a copy of an earlier one
        old_rng, old_plan, old_sid, old_resume = _head(idx - 1)
        if not old_resume:
            old = session(old_rng, corpus, old_plan, old_sid)
            if len(old.lines) < 4000:
                model_ok = plan.day >= MODELS[plan.model][0]
                plan = Plan(
                    min(SPAN_DAYS - 1, old_plan.day + 1),
                    plan.model if model_ok else old_plan.model,
                    old_plan.project,
                    plan.small,
                    force=plan.force,
                )
                prefix = [line.replace(old_sid, sid) for line in old.lines]
    c = session(rng, corpus, plan, sid, prefix)
    st = Stats()
    half = "half_written" in plan.force or rng.random() < 0.03
    files = [(f"{encode_cwd(c.cwd)}/{sid}.jsonl", c.lines, half)]
    files += [(rel, lines, False) for rel, lines in c.extra_files]
    out = []
    for rel, lines, cut in files:
        jsonl = rel.endswith(".jsonl")
        out.append((rel, render(rng, lines, RUN.rate if jsonl else 0.0, st, half=cut, jsonl=jsonl)))
    return out, st


def generate(
    out: Path, size_mb: float, seed: int, malformed_pct: float = 0.0, jobs: int = 1
) -> Stats:
    RUN.corpus, RUN.seed, RUN.rate = Corpus(seed), seed, malformed_pct / 100.0
    RUN.small = size_mb < SMALL_TREE_MB
    root = out / "projects"
    target = int(size_mb * 1024 * 1024)
    total = Stats()

    def consume(results: Iterator[tuple[list[tuple[str, bytes]], Stats]]) -> None:
        for files, st in results:
            for rel, data in files:
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                total.files += 1
                total.bytes += len(data)
            for name in ("lines", "usage_lines", "tool_result_bytes", "corrupted"):
                setattr(total, name, getattr(total, name) + getattr(st, name))
            total.half_written += st.half_written
            total.sessions += 1
            if total.bytes >= target and total.sessions >= len(SHOWCASE):
                return

    if jobs <= 1:
        consume(build(i) for i in itertools.count())
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs) as pool:
            consume(pool.imap(build, itertools.count(), chunksize=1))
            pool.terminate()
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder to create; transcripts go to OUT/projects/")
    ap.add_argument("--size-mb", type=float, default=100.0, help="stop after about this much")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--malformed-pct", type=float, default=0.0, help="percent of lines to damage (default 0)"
    )
    ap.add_argument(
        "--jobs", type=int, default=1, help="worker processes (same output; rarely faster)"
    )
    args = ap.parse_args(argv)
    if (args.out / "projects").exists() and any((args.out / "projects").iterdir()):
        print(f"error: {args.out / 'projects'} is not empty", file=sys.stderr)
        return 2
    started = time.perf_counter()
    st = generate(args.out, args.size_mb, args.seed, args.malformed_pct, args.jobs)
    took = time.perf_counter() - started
    share = st.tool_result_bytes / st.bytes if st.bytes else 0.0
    print(
        f"wrote {st.files} files, {st.bytes / 1048576:.1f} MiB, {st.lines} lines "
        f"({st.usage_lines} lines with usage, tool results {share:.0%} of bytes, "
        f"{st.corrupted} damaged, {st.half_written} half-written) in {took:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
