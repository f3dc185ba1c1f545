"""OpenAI Codex CLI rollout files (FORMATS.md section 4).

A rollout is JSONL: `{timestamp, type, payload}` per line. Usage sits in `event_msg` lines whose
`payload.type` is `token_count`; `payload.info.total_token_usage` is cumulative per session and
`last_token_usage` is the latest turn. Codex re-emits `token_count` with unchanged totals (UI and
rate-limit refreshes), so summing `last_token_usage` overcounts. The rule here:

- per file, an event's usage is the increase of `total_token_usage` over the previous event;
  events whose totals did not advance are re-emits and add nothing; `info: null` events carry
  rate limits only;
- `last_token_usage` is used only when an event has no totals, when the totals went down (a
  reset; the new totals are then the baseline for the next delta), and for the first event of a
  file, whose totals may include history the file did not record (a fork that inherits its
  parent's totals without copying its events must not count them again);
- forked and branch files copy the parent's events with their timestamps, so across files one
  event is identified by (timestamp, model, token tuple) and counted once; the copy in the file
  that started first (rollout names begin with the start time) wins, so it stays in the parent
  session;
- a `thread_spawn` subagent file begins with a burst that replays the parent's history within
  one second under new timestamps; those leading events only set the baseline (as ccusage does);
- when the same relative path exists under `sessions/` and `archived_sessions/`, the `sessions/`
  copy is read and the archived one skipped.

Token mapping: `cached_input_tokens` is part of `input_tokens` and `reasoning_output_tokens` is
part of `output_tokens`, so input = input - cached, cache read = cached, output = output
(reasoning included); nothing is added twice. The model is the event's own `info.model` when it
has one, else that of the preceding `turn_context`, else "unknown" (ccusage guesses `gpt-5`;
an honest unknown stays unpriced and is named in a warning instead).

Only lines holding `"token_count"`, `"turn_context"` or `"session_meta"` are decoded, into narrow
typed structs; message content is never decoded or stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec
import polars as pl

from tokenlens import schema
from tokenlens.errors import Notice
from tokenlens.loaders import checks
from tokenlens.loaders import files as rawfiles
from tokenlens.loaders.base import ExportKind, Scan, epoch_text
from tokenlens.loaders.checks import Tally

SOURCE: Final = "codex"
SOURCES: Final = (SOURCE,)
EXPORTS: Final = (
    ExportKind(
        SOURCE,
        "Codex CLI rollout (JSONL)",
        "local logs in ${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-*.jsonl and "
        "archived_sessions/ (found automatically)",
    ),
)

UNKNOWN_MODEL: Final = "unknown"
ACTIVE_DIR: Final = "sessions"
ARCHIVE_DIR: Final = "archived_sessions"
_MARKERS: Final = (b'"token_count"', b'"turn_context"', b'"session_meta"')
_SUBAGENT_MARK: Final = b"thread_spawn"
_HEAD: Final = 16 << 10
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# RFC 3339: `Z` or an offset, fraction optional. One explicit format: no per-column inference.
_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.f%#z"
_ID_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"

# TokenUsage field -> position in the tuples below
_USAGE_FIELDS: Final = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)


class _Usage(msgspec.Struct, gc=False):
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0

    def values(self) -> tuple[int, int, int, int, int]:
        return (
            self.input_tokens,
            self.cached_input_tokens,
            self.output_tokens,
            self.reasoning_output_tokens,
            self.total_tokens,
        )


class _Info(msgspec.Struct, gc=False):
    total_token_usage: _Usage | None = None
    last_token_usage: _Usage | None = None
    model: str | None = None


class _EventMsg(msgspec.Struct, gc=False):
    type: str | None = None
    info: _Info | None = None
    model: str | None = None


class _TurnContext(msgspec.Struct, gc=False):
    model: str | None = None
    cwd: str | None = None


class _SessionMeta(msgspec.Struct, gc=False):
    id: str | None = None
    cwd: str | None = None
    source: Any = None


class _Envelope(msgspec.Struct, gc=False):
    timestamp: str | int | float | None = None
    type: str | None = None
    payload: msgspec.Raw = msgspec.Raw(b"null")


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_EVENT = msgspec.json.Decoder(_EventMsg, strict=False)  # counts written as strings are read
_TURN = msgspec.json.Decoder(_TurnContext)
_META = msgspec.json.Decoder(_SessionMeta)
_ANY = msgspec.json.Decoder()

Tokens = tuple[int, int, int, int, int]  # input (with cached), cached, output, reasoning, total


@dataclass
class _Event:
    """One `token_count` event with usage, before deltas are taken."""

    timestamp: str
    model: str | None
    total: Tokens | None
    last: Tokens | None


@dataclass
class _File:
    """What one rollout file holds."""

    session_id: str
    project: str | None
    kind: str | None
    subagent: bool
    events: list[_Event] = field(default_factory=list)
    has_meta: bool = False


MALFORMED: Final = "skipped malformed lines"
CUT_OFF: Final = "skipped half-written last lines (session still running?)"
BAD_UTF8: Final = "read lines holding invalid UTF-8 (bad bytes replaced)"
TOO_DEEP: Final = "skipped lines nested too deeply to read"


@dataclass
class _Counts:
    tally: Tally = field(default_factory=lambda: Tally("Codex: "))
    skipped_archived: int = 0


# ------------------------------------------------------------------------------ file selection


def _prefer_active(files: list[Path]) -> tuple[list[Path], int]:
    """Drop `archived_sessions/X` when `sessions/X` (same Codex home, same relative path) is given.

    The active copy may still be growing; the archived one is an older snapshot.
    """
    active: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    placed: list[tuple[Path, tuple[tuple[str, ...], tuple[str, ...]] | None, bool]] = []
    for path in files:
        parts = path.parts
        where = [i for i, p in enumerate(parts) if p in (ACTIVE_DIR, ARCHIVE_DIR)]
        if not where:
            placed.append((path, None, False))
            continue
        i = where[-1]
        key = (parts[:i], parts[i + 1 :])
        archived = parts[i] == ARCHIVE_DIR
        if not archived:
            active.add(key)
        placed.append((path, key, archived))
    kept = [p for p, key, archived in placed if not (archived and key in active)]
    return kept, len(files) - len(kept)


# ------------------------------------------------------------------------------ reading


def _candidate_lines(data: bytes) -> Iterator[tuple[int, bytes, bool]]:
    """(start, line, is_unterminated_last_line) for lines holding one of the markers, in file
    order."""
    starts: set[int] = set()
    find, rfind = data.find, data.rfind
    for marker in _MARKERS:
        pos = find(marker)
        while pos >= 0:
            start = rfind(b"\n", 0, pos) + 1
            end = find(b"\n", pos)
            starts.add(start)
            if end < 0:
                break
            pos = find(marker, end)
    for start in sorted(starts):
        end = find(b"\n", start)
        if end < 0:
            yield start, data[start:], True
        else:
            yield start, data[start:end], False


def _timestamp(value: str | int | float | None) -> str | None:
    """ISO text as written; epoch seconds or milliseconds become ISO text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    millis = value if value > 10_000_000_000 else value * 1000
    try:
        moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"timestamp out of range: {value!r}") from exc
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _kind(source: Any) -> str | None:
    """`session_meta.source`: "cli", "vscode", "exec", ... or {"subagent": {...}}."""
    if isinstance(source, str):
        return source or None
    if isinstance(source, dict) and "subagent" in source:
        return "subagent"
    return None


def _stem_session(path: Path) -> str:
    """The uuid at the end of `rollout-<time>-<uuid>.jsonl`, else the file stem."""
    stem = rawfiles.plain_stem(path)
    found = _UUID.search(stem)
    return found.group(0) if found else stem


class _LineNumbers:
    """Line numbers of offsets in one file, asked in increasing order (problems only)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self._line = 1

    def at(self, offset: int) -> int:
        self._line += self._data.count(b"\n", self._offset, offset)
        self._offset = offset
        return self._line


def _read_file(path: Path, counts: _Counts) -> _File:
    data = rawfiles.array_to_lines(rawfiles.read_bytes(path))
    out = _File(_stem_session(path), None, None, _SUBAGENT_MARK in data[:_HEAD])
    model: str | None = None
    lines = _LineNumbers(data)
    where = str(path)
    for start, raw, unterminated in _candidate_lines(data):
        try:
            line = _ENVELOPE.decode(raw)
        except UnicodeDecodeError:
            try:
                line = _ENVELOPE.decode(raw.decode("utf-8", "replace").encode("utf-8"))
            except rawfiles.JSON_ERRORS:
                counts.tally.add(MALFORMED, where, lines.at(start))
                continue
            counts.tally.add(BAD_UTF8, where, lines.at(start))
        except rawfiles.JSON_ERRORS as exc:
            if unterminated and isinstance(exc, msgspec.DecodeError):
                counts.tally.add(CUT_OFF, where, lines.at(start))
            elif b'"token_count"' in raw:
                reason = TOO_DEEP if isinstance(exc, RecursionError) else MALFORMED
                counts.tally.add(reason, where, lines.at(start))
            continue
        try:
            if line.type == "turn_context":
                turn = _TURN.decode(line.payload)
                model = turn.model.strip() if turn.model and turn.model.strip() else model
                out.project = out.project or turn.cwd
            elif line.type == "session_meta" and not out.has_meta:  # the file's own, not a copy
                meta = _META.decode(line.payload)
                out.has_meta = True
                out.session_id = meta.id or out.session_id
                out.project = meta.cwd or out.project
                out.kind = _kind(meta.source)
                out.subagent = out.subagent or out.kind == "subagent"
            elif line.type == "event_msg":
                event = _event(line, _EVENT.decode(line.payload), model)
                if event is not None:
                    model = event.model or model
                    out.events.append(event)
        except _RefusedError as exc:
            counts.tally.add(f"skipped events with {exc}", where, lines.at(start))
        except (msgspec.DecodeError, ValueError, RecursionError):
            counts.tally.add(MALFORMED, where, lines.at(start))
    return out


class _RefusedError(ValueError):
    """An event whose counts cannot be used; the message says why (a `checks` reason)."""


def _event(line: _Envelope, msg: _EventMsg, model: str | None) -> _Event | None:
    if msg.type != "token_count" or msg.info is None:
        return None
    info = msg.info
    if info.total_token_usage is None and info.last_token_usage is None:
        return None
    timestamp = _timestamp(line.timestamp)
    if timestamp is None:
        raise ValueError("token_count without a timestamp")
    own = (msg.model or info.model or "").strip() or None
    total = info.total_token_usage.values() if info.total_token_usage else None
    last = info.last_token_usage.values() if info.last_token_usage else None
    # a turn holds what one call can; the running totals of a long session may hold more
    for values, limit in ((last, checks.MAX_CALL_TOKENS), (total, checks.MAX_ROW_TOKENS)):
        for value in values or ():
            problem = checks.token_problem(value, limit)
            if problem:
                raise _RefusedError(problem)
    return _Event(timestamp, own or model, total, last)


# ------------------------------------------------------------------------------ deltas


def _replay_second(file: _File) -> str | None:
    """The second a subagent file's opening replay burst happened in, if it has one."""
    if not file.subagent or len(file.events) < 2:
        return None
    first, second = file.events[0].timestamp[:19], file.events[1].timestamp[:19]
    return first if first == second else None


def _minus(a: Tokens, b: Tokens) -> Tokens:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3], a[4] - b[4])


def _deltas(file: _File) -> Iterator[tuple[_Event, Tokens]]:
    """Each event's own usage: the increase of the cumulative totals (see the module doc)."""
    previous: Tokens | None = None
    replay = _replay_second(file)
    for event in file.events:
        if replay is not None:
            if event.timestamp[:19] == replay:
                previous = event.total or previous
                continue
            replay = None
        total, usage = event.total, event.last
        if total is not None:
            if previous is None:  # a file may start mid-history: its turn, not the history
                usage = usage if usage is not None else total
            elif all(t >= p for t, p in zip(total, previous, strict=True)):
                usage = _minus(total, previous)
            elif usage is None:  # a reset with no per-turn numbers: count from zero
                usage = total
            previous = total
        if usage is None or not any(usage[:4]):  # a re-emit: the totals did not advance
            continue
        yield event, usage


# ------------------------------------------------------------------------------ frame

_RAW: Final[dict[str, pl.DataType]] = {
    "timestamp": pl.String(),
    "model": pl.String(),
    "session_id": pl.String(),
    "project": pl.String(),
    "kind": pl.String(),
    "raw_input": pl.Int64(),
    "raw_cached": pl.Int64(),
    "raw_output": pl.Int64(),
    "raw_reasoning": pl.Int64(),
    "raw_total": pl.Int64(),
    "origin": pl.String(),
}


def _rows(files: list[Path], counts: _Counts) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in _RAW}
    for path in files:
        file = _read_file(path, counts)
        for event, usage in _deltas(file):
            columns["timestamp"].append(event.timestamp)
            columns["model"].append(event.model or UNKNOWN_MODEL)
            columns["session_id"].append(file.session_id)
            columns["project"].append(file.project)
            columns["kind"].append(file.kind)
            for name, value in zip(_RAW_TOKENS, usage, strict=True):
                columns[name].append(value)
            columns["origin"].append(str(path))
    return columns


_RAW_TOKENS: Final = ("raw_input", "raw_cached", "raw_output", "raw_reasoning", "raw_total")


def _parse_ts(col: str) -> pl.Expr:
    """RFC 3339 text, else epoch seconds or milliseconds written as digits."""
    parsed = pl.col(col).str.to_datetime(_TS_FORMAT, time_zone="UTC", strict=False)
    return parsed.dt.cast_time_unit("us").fill_null(epoch_text(pl.col(col)))


def _canonical(raw: pl.LazyFrame, *, user: str) -> pl.LazyFrame:
    """Canonical columns from per-event deltas (cached inside input, reasoning inside output).

    `raw` already has a parsed, non-null `ts`.
    """
    cached = pl.min_horizontal("raw_cached", "raw_input")
    event_id = pl.concat_str(
        [
            pl.col("ts").dt.strftime(_ID_TS_FORMAT),
            pl.col("model"),
            *(pl.col(c).cast(pl.String) for c in _RAW_TOKENS),
        ],
        separator="|",
    )
    return raw.with_columns(
        source=pl.lit(SOURCE),
        event_id=event_id,
        user=pl.lit(user),
        input_tokens=pl.col("raw_input") - cached,
        cache_write_tokens=pl.lit(0, pl.Int64),
        cache_write_1h_tokens=pl.lit(0, pl.Int64),
        cache_read_tokens=cached,
        output_tokens=pl.col("raw_output"),
        requests=pl.lit(1.0),
        as_of=pl.col("ts").max().over("origin"),
    )


def _tail(names: list[str], taken: tuple[str, ...]) -> list[str]:
    """The columns not yet in a sort, canonical ones first then any others (e.g. pricing), so
    the sort is a total order and the copy kept never depends on row order."""
    usage = [c for c in schema.USAGE if c in names and c not in taken]
    return usage + sorted(c for c in names if c not in schema.USAGE and c not in taken)


def _is_archived() -> pl.Expr:
    return pl.col("origin").str.contains(f"(^|[/\\\\]){ARCHIVE_DIR}[/\\\\]").fill_null(False)


def _file_name() -> pl.Expr:
    return pl.col("origin").str.extract(r"([^/\\]+)$", 1)


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (source, event_id), the event being (timestamp, model, token tuple).

    Among copies, a file under `sessions/` beats one under `archived_sessions/`, then the file
    whose name sorts first (rollout names start with the session's start time, so a parent beats
    the fork or branch that copied its history), then a total order over the remaining columns.
    Independent of row order; other columns (e.g. pricing) ride along.
    """
    names = lf.collect_schema().names()
    rest = _tail(names, ("source", "event_id", "origin"))
    return (
        lf.sort(
            ["source", "event_id", _is_archived(), _file_name(), "origin", *rest],
            nulls_last=True,
            maintain_order=True,
        )
        .unique(subset=list(schema.KEY), keep="first", maintain_order=True)
        .sort("ts", "event_id", nulls_last=True)
    )


def scan(files: list[Path], *, user: str) -> Scan:
    """Read rollout files into canonical rows, deduplicated by `dedupe`'s rule."""
    counts = _Counts()
    unique = sorted(set(files))
    kept, counts.skipped_archived = _prefer_active(unique)
    columns = _rows(kept, counts)
    raw = pl.DataFrame({n: pl.Series(n, columns[n], dtype=t) for n, t in _RAW.items()})
    raw = raw.with_columns(ts=_parse_ts("timestamp"))
    if raw.get_column("ts").null_count():
        unreadable = raw.filter(pl.col("ts").is_null()).group_by("origin", maintain_order=True)
        for origin, count in unreadable.len().iter_rows():
            counts.tally.add("skipped events with an unreadable timestamp", origin, count=count)
    frame = _canonical(raw.lazy().filter(pl.col("ts").is_not_null()), user=user)
    out = dedupe(schema.conform(frame)).collect()
    return Scan(SOURCE, out.lazy(), _notices(counts), unique)


def _notices(counts: _Counts) -> list[Notice]:
    notices = counts.tally.notices()
    if counts.skipped_archived:
        notices.append(
            Notice(
                "Codex: skipped archived_sessions/ copies of files also in sessions/",
                counts.skipped_archived,
            )
        )
    return notices
