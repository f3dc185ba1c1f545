"""Gemini CLI chat recordings (FORMATS.md section 5).

Files live in `~/.gemini/tmp/<projectHash>/chats/`:

- legacy `session-<time>-<id8>.json`: one ConversationRecord `{sessionId, projectHash,
  startTime, lastUpdated, kind?, messages[]}`;
- current `.jsonl` append logs: a first metadata line, message records re-appended under the
  same `id` whenever the message changes, `{"$set": {...}}` metadata updates (which may carry a
  full `messages` array) and `{"$rewindTo": id}` records;
- subagent chats at `chats/<parentSessionId>/<sessionId>.jsonl`, credited to the parent session.

Usage sits on `type:"gemini"` messages as `tokens{input, output, cached, thoughts, tool, total}`
(one API response each). Per message id the last copy that carries `tokens` wins, whether it is a
line of its own or an entry of a `$set.messages` array; a copy without tokens never erases usage.
A `$rewindTo` removes messages from the conversation, not from the bill: the calls were made, so
their usage still counts. One message is identified by (own session id, message id), so the
legacy `.json` that Gemini CLI migrates to `.jsonl` on resume counts once.

Token mapping (`input` includes `cached`; `total = input + output + thoughts + tool`):
input = input - cached + tool, cache read = cached, output = output + thoughts. `tool`
(toolUsePromptTokenCount) is prompt-side tool-use input, billed as input, so it joins input;
the four canonical columns then sum to `total`. Where `total` says `input` excluded `cached`
(total = input + cached + output + thoughts + tool), nothing is subtracted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec
import polars as pl

from tokenlens import schema
from tokenlens.errors import InputError
from tokenlens.loaders import checks
from tokenlens.loaders import files as rawfiles
from tokenlens.loaders.base import ExportKind, Scan, epoch_text
from tokenlens.loaders.checks import Tally

SOURCE: Final = "gemini"
SOURCES: Final = (SOURCE,)
EXPORTS: Final = (
    ExportKind(
        SOURCE,
        "Gemini CLI chat log (JSON/JSONL)",
        "local logs in ~/.gemini/tmp/<projectHash>/chats/ (or $GEMINI_DATA_DIR; found "
        "automatically)",
    ),
)

UNKNOWN_MODEL: Final = "unknown"
KIND_MAIN: Final = "main"
KIND_SUBAGENT: Final = "subagent"
CHATS_DIR: Final = "chats"
# Only these lines can carry usage or session metadata; others are decoded only if they match.
_MARKERS: Final = (b'"tokens"', b'"$set"', b'"sessionId"', b'"projectHash"')
# RFC 3339: `Z` or an offset, fraction optional. One explicit format: no per-column inference.
_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.f%#z"

Number = int | float | None


class _Tokens(msgspec.Struct, gc=False):
    input: Number = None
    output: Number = None
    cached: Number = None
    thoughts: Number = None
    tool: Number = None
    total: Number = None


class _Message(msgspec.Struct, gc=False):
    id: str | None = None
    timestamp: str | None = None
    type: str | None = None
    model: str | None = None
    tokens: _Tokens | None = None


class _Meta(msgspec.Struct, gc=False):
    sessionId: str | None = None  # noqa: N815 (the format's own spelling)
    projectHash: str | None = None  # noqa: N815
    startTime: str | None = None  # noqa: N815
    lastUpdated: str | None = None  # noqa: N815
    kind: str | None = None
    messages: list[_Message] | None = None


class _Line(msgspec.Struct, gc=False):
    """A JSONL record: metadata, a message, a `$set` update or a `$rewindTo` marker."""

    id: str | None = None
    timestamp: str | None = None
    type: str | None = None
    model: str | None = None
    tokens: _Tokens | None = None
    sessionId: str | None = None  # noqa: N815
    projectHash: str | None = None  # noqa: N815
    startTime: str | None = None  # noqa: N815
    lastUpdated: str | None = None  # noqa: N815
    kind: str | None = None
    set: _Meta | None = msgspec.field(default=None, name="$set")


_LINE = msgspec.json.Decoder(_Line, strict=False)  # counts written as strings are read
_RECORD = msgspec.json.Decoder(_Meta, strict=False)
_ANY = msgspec.json.Decoder()


@dataclass
class _Chat:
    """One chat file: its session metadata and the usage-bearing messages by id."""

    session_id: str | None = None
    project: str | None = None
    start: str | None = None
    updated: str | None = None
    kind: str | None = None
    messages: dict[str, _Message] = field(default_factory=dict)

    def meta(self, m: _Meta | _Line) -> None:
        self.session_id = m.sessionId or self.session_id
        self.project = m.projectHash or self.project
        self.start = m.startTime or self.start
        self.updated = m.lastUpdated or self.updated
        self.kind = m.kind or self.kind

    def message(self, m: _Message | _Line, position: int) -> None:
        if m.type != "gemini" or m.tokens is None:
            return
        key = m.id or f"#{position}"
        self.messages.pop(key, None)  # re-insert: dict order follows the last copy
        self.messages[key] = _Message(m.id, m.timestamp, m.type, m.model, m.tokens)


MALFORMED: Final = "skipped malformed lines"
CUT_OFF: Final = "skipped half-written last lines (session still running?)"
TOO_DEEP: Final = "skipped lines nested too deeply to read"
BAD_UTF8: Final = "read lines holding invalid UTF-8 (bad bytes replaced)"


@dataclass
class _Counts:
    tally: Tally = field(default_factory=lambda: Tally("Gemini: "))
    path: str = ""


# ------------------------------------------------------------------------------ reading


def _read_jsonl(data: bytes, chat: _Chat, counts: _Counts) -> None:
    lines = rawfiles.array_to_lines(data).split(b"\n")
    last = len(lines) - 1
    for n, raw in enumerate(lines):
        if not raw.strip() or not any(marker in raw for marker in _MARKERS):
            continue
        try:
            line = _decode_line(raw, n + 1, counts)
        except rawfiles.JSON_ERRORS as exc:
            if isinstance(exc, RecursionError):
                counts.tally.add(TOO_DEEP, counts.path, n + 1)
            elif n == last and not _is_json(raw):  # no newline after it: still being written
                counts.tally.add(CUT_OFF, counts.path, n + 1)
            else:
                counts.tally.add(MALFORMED, counts.path, n + 1)
            continue
        if line.set is not None:
            chat.meta(line.set)
            for i, m in enumerate(line.set.messages or ()):
                chat.message(m, n * 1_000_000 + i)
        elif line.id is not None:
            chat.message(line, n)
        elif line.sessionId or line.projectHash:
            chat.meta(line)


def _decode_line(raw: bytes, number: int, counts: _Counts) -> _Line:
    """One JSON line; invalid UTF-8 is replaced (and told)."""
    try:
        return _LINE.decode(raw)
    except UnicodeDecodeError:
        line = _LINE.decode(raw.decode("utf-8", "replace").encode("utf-8"))
        counts.tally.add(BAD_UTF8, counts.path, number)
        return line


def _is_json(raw: bytes) -> bool:
    try:
        _ANY.decode(raw)
    except msgspec.DecodeError:
        return False
    except (RecursionError, UnicodeDecodeError):
        return True
    return True


def _read_json(path: Path, data: bytes, chat: _Chat, counts: _Counts) -> None:
    try:
        try:
            record = _RECORD.decode(data)
        except UnicodeDecodeError:
            counts.tally.add("read a file holding invalid UTF-8 (bad bytes replaced)", str(path))
            data = data.decode("utf-8", "replace").encode("utf-8")
            record = _RECORD.decode(data)
    except RecursionError as exc:
        raise rawfiles.not_json(path, exc) from exc
    except msgspec.DecodeError as exc:
        if b"\n{" in data.strip():  # a .json that is really an append log
            _read_jsonl(data, chat, counts)
            return
        raise InputError(
            f"{path}: not a readable Gemini CLI chat record ({exc})",
            hint="The file may be half-written; run again once Gemini CLI has saved it.",
        ) from exc
    chat.meta(record)
    for i, m in enumerate(record.messages or ()):
        chat.message(m, i)


def _read(path: Path, counts: _Counts) -> _Chat:
    data = rawfiles.read_bytes(path)
    counts.path = str(path)
    chat = _Chat()
    if rawfiles.plain_suffix(path) == ".json":
        _read_json(path, data, chat, counts)
    else:
        _read_jsonl(data, chat, counts)
    return chat


# ------------------------------------------------------------------------------ rows


def _parent_session(path: Path) -> str | None:
    """`chats/<parentSessionId>/<sessionId>.jsonl` belongs to the parent session."""
    if path.parent.parent.name == CHATS_DIR:
        return path.parent.name
    return None


def _project_from_path(path: Path) -> str | None:
    """`tmp/<projectHash>/chats/...`: the folder above `chats`."""
    parts = path.parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == CHATS_DIR:
            return parts[i - 1]
    return None


class _RefusedError(ValueError):
    """A message whose counts cannot be used; the message says why (a `checks` reason)."""


def _count(value: Number) -> int:
    problem = checks.token_problem(value, checks.MAX_CALL_TOKENS)
    if problem:
        raise _RefusedError(problem)
    return 0 if value is None else int(value)


def _tokens(t: _Tokens) -> tuple[int, int, int]:
    """(uncached input incl. tool, cache read, output incl. thoughts)."""
    inp, out, cached = _count(t.input), _count(t.output), _count(t.cached)
    thoughts, tool = _count(t.thoughts), _count(t.tool)
    total = _count(t.total) if t.total is not None else None
    exclusive = cached > 0 and total == inp + cached + out + thoughts + tool
    uncached = inp if exclusive else inp - min(cached, inp)
    return uncached + tool, cached, out + thoughts


_RAW: Final[dict[str, pl.DataType]] = {
    "event_id": pl.String(),
    "timestamp": pl.String(),
    "session_id": pl.String(),
    "project": pl.String(),
    "model": pl.String(),
    "kind": pl.String(),
    "input_tokens": pl.Int64(),
    "cache_read_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "updated": pl.String(),
    "origin": pl.String(),
}


def _rows(files: list[Path], counts: _Counts) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in _RAW}
    for path in files:
        chat = _read(path, counts)
        own = chat.session_id or rawfiles.plain_stem(path)
        parent = _parent_session(path)
        kind = KIND_SUBAGENT if parent or chat.kind == KIND_SUBAGENT else KIND_MAIN
        project = chat.project or _project_from_path(path)
        model: str | None = None
        for key, m in chat.messages.items():
            assert m.tokens is not None
            try:
                inp, read, out = _tokens(m.tokens)
            except _RefusedError as exc:
                counts.tally.add(f"skipped records with {exc}", str(path))
                continue
            model = (m.model or "").strip() or model
            columns["event_id"].append(f"{own}:{key}")
            columns["timestamp"].append(m.timestamp or chat.start)
            columns["session_id"].append(parent or own)
            columns["project"].append(project)
            columns["model"].append(model or UNKNOWN_MODEL)
            columns["kind"].append(kind)
            columns["input_tokens"].append(inp)
            columns["cache_read_tokens"].append(read)
            columns["output_tokens"].append(out)
            columns["updated"].append(chat.updated)
            columns["origin"].append(str(path))
    return columns


def _parse_ts(expr: pl.Expr) -> pl.Expr:
    """RFC 3339 text, else epoch seconds or milliseconds written as digits."""
    parsed = expr.str.to_datetime(_TS_FORMAT, time_zone="UTC", strict=False)
    return parsed.dt.cast_time_unit("us").fill_null(epoch_text(expr))


def _tail(names: list[str], taken: tuple[str, ...]) -> list[str]:
    """The columns not yet in a sort, canonical ones first then any others (e.g. pricing), so
    the sort is a total order and the copy kept never depends on row order."""
    usage = [c for c in schema.USAGE if c in names and c not in taken]
    return usage + sorted(c for c in names if c not in schema.USAGE and c not in taken)


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (source, event_id): the copy from the newest file (`as_of`) wins, then the
    larger token total, then a total order over the other columns. Independent of row order.
    """
    names = lf.collect_schema().names()
    rest = _tail(names, ("source", "event_id", "as_of"))
    return (
        lf.with_columns(_total=schema.total_tokens())
        .sort(
            ["source", "event_id", "as_of", "_total", *rest],
            descending=[False, False, True, True, *([False] * len(rest))],
            nulls_last=True,
            maintain_order=True,
        )
        .unique(subset=list(schema.KEY), keep="first", maintain_order=True)
        .drop("_total")
        .sort("ts", "event_id", nulls_last=True)
    )


def scan(files: list[Path], *, user: str) -> Scan:
    """Read Gemini CLI chat files into canonical rows, deduplicated by `dedupe`'s rule."""
    counts = _Counts()
    unique = sorted(set(files))
    columns = _rows(unique, counts)
    raw = pl.DataFrame({n: pl.Series(n, columns[n], dtype=t) for n, t in _RAW.items()})
    raw = raw.with_columns(ts=_parse_ts(pl.col("timestamp")))
    if raw.get_column("ts").null_count():
        unreadable = raw.filter(pl.col("ts").is_null()).group_by("origin", maintain_order=True)
        for origin, count in unreadable.len().iter_rows():
            counts.tally.add("skipped messages with an unreadable timestamp", origin, count=count)
    frame = (
        raw.lazy()
        .filter(pl.col("ts").is_not_null())
        .with_columns(
            source=pl.lit(SOURCE),
            user=pl.lit(user),
            cache_write_tokens=pl.lit(0, pl.Int64),
            cache_write_1h_tokens=pl.lit(0, pl.Int64),
            requests=pl.lit(1.0),
            as_of=pl.max_horizontal(
                pl.col("ts").max().over("origin"),
                _parse_ts(pl.col("updated")).max().over("origin"),
            ),
        )
    )
    out = dedupe(schema.conform(frame)).collect()
    return Scan(SOURCE, out.lazy(), counts.tally.notices(), unique)
