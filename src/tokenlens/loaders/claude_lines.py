"""The hot path of the Claude Code loader: bytes in, usage records out.

Most of a transcript's bytes are tool results and message text that carry no usage, so a file is
read in blocks, only lines holding the marker `"usage":{` are decoded, and they are decoded into a
narrow typed schema that skips message content without building Python objects for it.

On a large tree two forked children share the reading, taking files one at a time from a shared
counter, while this process does something else (imports, say). Each keeps the best copy per key
among the lines it read, in compact columns (`Rows`), and hands them back as a few large objects
(`Packed`); `claude_code.dedupe` then settles copies read by different processes and sidechain
replays, by the same rule.

This module imports neither polars nor pyarrow, so worker processes start light.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import pickle
import sys
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec

from tokenlens.errors import InputError, TokenlensError
from tokenlens.loaders import checks
from tokenlens.loaders import files as rawfiles

SOURCE: Final = "claude_code"
PARALLEL_MIN_BYTES: Final = 64 << 20
MARKER = b'"usage":{'
BLOCK = 8 << 20
SYNTHETIC = "<synthetic>"


# A token count the decoder accepts: a whole number from 0 to `checks.MAX_CALL_TOKENS`.
Count = Annotated[int, msgspec.Meta(ge=0, le=checks.MAX_CALL_TOKENS)]
Dollars = Annotated[float, msgspec.Meta(ge=0, le=1e9)]


class CacheCreation(msgspec.Struct, gc=False):
    ephemeral_5m_input_tokens: Count = 0
    ephemeral_1h_input_tokens: Count = 0


class Usage(msgspec.Struct, gc=False):
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_input_tokens: Count | None = 0
    cache_read_input_tokens: Count | None = 0
    cache_creation: CacheCreation | None = None
    speed: str | None = None


class Message(msgspec.Struct, gc=False):
    id: str | None = None
    model: str | None = None
    usage: Usage | None = None


class Line(msgspec.Struct, gc=False):
    type: str | None = None
    timestamp: str | None = None
    sessionId: str | None = None  # noqa: N815 (the format's own spelling)
    requestId: str | None = None  # noqa: N815
    isSidechain: bool | None = None  # noqa: N815
    isApiErrorMessage: bool | None = None  # noqa: N815
    costUSD: Dollars | None = None  # noqa: N815
    cwd: str | None = None
    message: Message | None = None
    data: msgspec.Raw = msgspec.Raw(b"")


class MirroredLine(msgspec.Struct, gc=False):
    """The subagent line a `type:"progress"` line wraps, at `data.message`."""

    timestamp: str | None = None
    requestId: str | None = None  # noqa: N815
    isSidechain: bool | None = None  # noqa: N815
    message: Message | None = None


class ProgressData(msgspec.Struct, gc=False):
    message: MirroredLine | None = None


_LINE = msgspec.json.Decoder(Line, strict=False)
_PROGRESS = msgspec.json.Decoder(ProgressData, strict=False)
_ANY = msgspec.json.Decoder()


@dataclass
class FileJob:
    """One file to read, with what its path says about the session."""

    path: str
    session_id: str
    project: str
    origin: int
    session_from_lines: bool = False


# Why a line holding usage was skipped (a notice's text after "Claude Code: ").
MALFORMED: Final = "skipped malformed lines holding usage"
CUT_OFF: Final = "skipped half-written last lines (session still running?)"
TOO_DEEP: Final = "skipped lines nested too deeply to read"
NOT_FINITE: Final = "skipped lines with NaN or Infinity (not JSON numbers)"
BAD_UTF8: Final = "read lines holding invalid UTF-8 (bad bytes replaced)"


# A usage record: event id, timestamp, then the numbers of `NUMBERS`, then the cost or None.
Record = tuple[str, str, int, int, int, int, int, int, int, int, int, int, float | None]

# A record's numbers, in order: codes of names (see `Rows`), flags, tokens, the file's index.
NUMBERS: Final = (
    "session_id",
    "project",
    "model",
    "flags",
    "input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
    "origin",
)
SIDECHAIN: Final = 1  # flags
FAST: Final = 2


class Rows:
    """One reader's records as columns, one row per dedupe key: the copy ccusage's rules prefer
    among the lines read so far.

    A file's lines are deduplicated in a dict of records, which `add` then moves into the
    columns: compact (about 0.3 KB a row), where a dict of records would take twice that.
    Names that repeat row after row (sessions, projects, models) are held once in `names`, and
    rows hold their index (`code`). A cost is NaN where the line had none.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.stamps: list[str] = []
        self.names: list[str] = []
        self.numbers = [array("q") for _ in NUMBERS]
        self.costs = array("d")
        self.at: dict[str, int] = {}
        self.codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def packed(self) -> Packed:
        """The columns, to hand over (see `Packed`)."""
        return Packed(lines(self.ids), lines(self.stamps), self.names, self.numbers, self.costs)

    def code(self, name: str) -> int:
        """The index of `name` in `names`, added if new."""
        at = self.codes.get(name)
        if at is None:
            at = self.codes[name] = len(self.names)
            self.names.append(name)
        return at

    def beats(self, event_id: str, flags: int, total: int) -> bool:
        """Whether a row for `event_id` is kept that a copy with these flags and token total
        loses to (`_loses`)."""
        at = self.at.get(event_id)
        if at is None:
            return False
        numbers = self.numbers
        old = (numbers[3][at], numbers[4][at], numbers[5][at], numbers[7][at], numbers[8][at])
        return _loses(flags, total, old[0], old[1] + old[2] + old[3] + old[4])

    def add(self, records: dict[str, Record]) -> None:
        """Move `records` into the columns: each beats the row of its event id, if any (a copy
        that lost to it was never recorded)."""
        fresh = []
        for event_id, record in records.items():
            at = self.at.get(event_id)
            if at is None:
                fresh.append(record)
                continue
            self.stamps[at] = record[1]
            for column, value in zip(self.numbers, record[2:12], strict=True):
                column[at] = value
            self.costs[at] = _NO_COST if record[12] is None else record[12]
        if not fresh:
            return
        start = len(self.ids)
        ids, stamps, *numbers, costs = zip(*fresh, strict=True)
        self.at.update(zip(ids, range(start, start + len(ids)), strict=True))
        self.ids.extend(ids)
        self.stamps.extend(stamps)
        for column, values in zip(self.numbers, numbers, strict=True):
            column.extend(values)
        self.costs.extend([_NO_COST if cost is None else cost for cost in costs])


_NO_COST: Final = float("nan")


@dataclass
class Packed:
    """A reader's rows as handed over: ids and times as one text each (`lines`), so that the
    receiver holds a few large objects rather than two small ones a row; the rest as in
    `Rows`."""

    ids: str | list[str]
    stamps: str | list[str]
    names: list[str]
    numbers: list[array[int]]
    costs: array[float]


def lines(values: list[str]) -> str | list[str]:
    """`values` as one text, a line each, when that can be split back into them (no value
    holds a line break); else `values` themselves."""
    text = "\n".join(values)
    return text if values and text.count("\n") == len(values) - 1 else values


class SpillError(OSError):
    """The temporary folder could not take a reader's rows (full, or not writable)."""


@dataclass
class Spill:
    """Where readers of a large tree put their rows: every `flush_rows` rows, one file per
    bucket under `folder`, each row in the bucket its message id hashes to (`bucket_of`), so
    that every copy of a message (streamed copies, resumes, sidechain replays) shares a bucket.
    Files are named `b<bucket>-<process>-<flush>.pkl` and hold one `Packed` each."""

    folder: str
    buckets: int
    flush_rows: int
    flushes: int = 0

    def write(self, rows: Rows) -> None:
        """Move `rows` into this flush's bucket files."""
        parts: dict[int, list[int]] = {}
        for at, event_id in enumerate(rows.ids):
            parts.setdefault(bucket_of(event_id, self.buckets), []).append(at)
        for bucket, ats in parts.items():
            packed = Packed(
                lines([rows.ids[i] for i in ats]),
                lines([rows.stamps[i] for i in ats]),
                rows.names,
                [array("q", [column[i] for i in ats]) for column in rows.numbers],
                array("d", [rows.costs[i] for i in ats]),
            )
            name = f"b{bucket}-{os.getpid()}-{self.flushes}.pkl"
            try:
                with open(os.path.join(self.folder, name), "wb") as out:
                    pickle.dump(packed, out, protocol=pickle.HIGHEST_PROTOCOL)
            except OSError as exc:  # a plain OSError: it is pickled back to the parent
                raise SpillError(exc.errno, exc.strerror or str(exc)) from exc
        self.flushes += 1


def bucket_of(event_id: str, buckets: int) -> int:
    """The bucket of an event id's message id (the part before `:`), the same in every
    process."""
    return zlib.crc32(event_id.partition(":")[0].encode()) % buckets


def load_packed(path: Path) -> Packed:
    """One file a `Spill` wrote."""
    with path.open("rb") as handle:
        packed: Packed = pickle.load(handle)  # written by this run's readers
    return packed


def _loses(flags: int, total: int, old_flags: int, old_total: int) -> bool:
    """Whether a copy loses to the one kept, by ccusage's precedence: a parent (non-sidechain)
    copy, then more tokens, then fast mode; a full tie keeps the first."""
    if (flags ^ old_flags) & SIDECHAIN:
        return bool(flags & SIDECHAIN)
    if total != old_total:
        return total < old_total
    return not (flags & FAST and not old_flags & FAST)


@dataclass
class Chunk:
    """What the readers return: their rows (one `Rows` per reader, each holding the best copy
    per key among the lines that reader saw), plus what they skipped.

    `problems` holds (file, line number or None, reason) for each line skipped or repaired.
    """

    rows: list[Packed] = field(default_factory=list)
    problems: list[tuple[str, int | None, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    lines_seen: int = 0


def _record(line: Line, raw: bytes, file: _File) -> Record | None:
    """The usage record a decoded line carries, or None when it carries none or when it loses
    to the copy of the same event kept so far (then no record is built at all)."""
    message = line.message
    request_id = line.requestId
    timestamp = line.timestamp
    sidechain = bool(line.isSidechain)
    if (message is None or message.usage is None) and line.type == "progress" and line.data:
        try:
            mirrored = _PROGRESS.decode(line.data).message
        except msgspec.DecodeError:  # other progress kinds carry other shapes
            return None
        if mirrored is None:
            return None
        message = mirrored.message
        request_id = mirrored.requestId
        timestamp = mirrored.timestamp or timestamp
        sidechain = bool(mirrored.isSidechain) if mirrored.isSidechain is not None else True
    if message is None or message.usage is None or timestamp is None:
        return None
    if line.isApiErrorMessage or message.model == SYNTHETIC:
        return None
    usage = message.usage
    cache = usage.cache_creation
    if cache is not None:
        write_1h = cache.ephemeral_1h_input_tokens
        write = cache.ephemeral_5m_input_tokens + write_1h
        if write == 0 and usage.cache_creation_input_tokens:
            write = usage.cache_creation_input_tokens
    else:
        write_1h = 0
        write = usage.cache_creation_input_tokens or 0
    read = usage.cache_read_input_tokens or 0
    flags = (SIDECHAIN if sidechain else 0) | (FAST if usage.speed == "fast" else 0)
    if message.id:
        event_id = f"{message.id}:{request_id}" if request_id else message.id
    else:
        event_id = "line-" + hashlib.blake2b(raw, digest_size=12).hexdigest()
    total = usage.input_tokens + write + read + usage.output_tokens
    old = file.kept.get(event_id)
    if old is not None:
        if _loses(flags, total, old[5], old[6] + old[7] + old[9] + old[10]):
            return None
    elif event_id in file.at and file.rows.beats(event_id, flags, total):
        return None
    # Names are looked up in place, a method call only for a new one (or code 0, which `name`
    # gives again): this runs for every kept line.
    codes = file.codes
    session = file.session
    if file.session_from_lines and line.sessionId:
        session = codes.get(line.sessionId) or file.name(line.sessionId)
    cwd = line.cwd
    project = (codes.get(cwd) or file.name(cwd)) if cwd else file.project
    model_name = message.model or "unknown"
    return (
        event_id,
        timestamp,
        session,
        project,
        codes.get(model_name) or file.name(model_name),
        flags,
        usage.input_tokens,
        write,
        write_1h,
        read,
        usage.output_tokens,
        file.origin,
        line.costUSD,
    )


class _File:
    """What reading one file's lines needs: the records kept so far from this file (moved to
    `rows` at its end), and the codes of names."""

    def __init__(self, job: FileJob, rows: Rows) -> None:
        self.kept: dict[str, Record] = {}
        self.rows = rows
        self.at = rows.at
        self.codes = rows.codes
        self.name = rows.code
        self.session = rows.code(job.session_id)
        self.project = rows.code(job.project)
        self.origin = job.origin
        self.session_from_lines = job.session_from_lines


def _usage_lines(path: str) -> Iterator[tuple[bytes, bool]]:
    """Yield (line, is_last_unterminated) for lines holding the usage marker, block by block.

    The file may be gzip-compressed, UTF-16, or one JSON array of lines (see `files`).
    """
    with rawfiles.open_stream(Path(path)) as handle:
        carry = b""
        first = True
        while True:
            block = handle.read(BLOCK)
            if not block:
                break
            if first:
                first = False
                if block.lstrip()[:1] == b"[":  # a JSON array, not JSON lines
                    block = rawfiles.array_to_lines(block + handle.read())
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            pos = 0
            find = data.find
            rfind = data.rfind
            while True:
                hit = find(MARKER, pos, cut)
                if hit < 0:
                    break
                start = rfind(b"\n", 0, hit) + 1
                end = find(b"\n", hit, cut)
                yield data[start:end], False
                pos = end + 1
        if carry.strip():
            yield carry, True


def scan_files(
    jobs: list[FileJob], claim: Callable[[], int] | None = None, spill: Spill | None = None
) -> Chunk:
    """Read the given files and keep, per dedupe key, the copy ccusage's rules prefer.

    With `claim`, read only the files whose indexes it hands out (-1: none left), in order.
    With `spill`, the rows go to its files rather than into the chunk.
    The records hold no reference cycles, so the cycle collector is paused meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan_files(jobs, claim, spill)
    finally:
        if enabled:
            gc.enable()


def _claimed(jobs: list[FileJob], claim: Callable[[], int] | None) -> Iterator[FileJob]:
    if claim is None:
        yield from jobs
        return
    while (at := claim()) >= 0:
        yield jobs[at]


def _scan_files(jobs: list[FileJob], claim: Callable[[], int] | None, spill: Spill | None) -> Chunk:
    chunk = Chunk()
    rows = Rows()
    decode = _LINE.decode
    lines_seen = 0
    for job in _claimed(jobs, claim):
        damaged: list[tuple[bytes, str]] = []
        file = _File(job, rows)
        kept = file.kept
        try:
            for raw, tail in _usage_lines(job.path):
                if tail:
                    try:
                        _ANY.decode(raw)
                    except msgspec.DecodeError:
                        damaged.append((raw, CUT_OFF))
                        continue
                    except (RecursionError, ValueError):
                        pass  # complete but unreadable: said below
                    if MARKER not in raw:
                        continue
                lines_seen += 1
                try:
                    record = _record(decode(raw), raw, file)
                except (msgspec.DecodeError, RecursionError, ValueError, OverflowError) as exc:
                    record, problem = _salvage(raw, file, exc)
                    if problem is not None:
                        damaged.append((raw, problem))
                if record is not None:  # new, or better than the copy kept so far
                    kept[record[0]] = record
        except rawfiles.READ_ERRORS as exc:
            chunk.unreadable.append((job.path, rawfiles.reason(exc)))
        rows.add(kept)
        if damaged:
            chunk.problems.extend(_locate(job.path, damaged))
        if spill is not None and len(rows) >= spill.flush_rows:
            spill.write(rows)
            rows = Rows()
    chunk.lines_seen = lines_seen
    if rows and spill is not None:
        spill.write(rows)
    elif rows:
        chunk.rows.append(rows.packed())
    return chunk


def _salvage(raw: bytes, file: _File, exc: BaseException) -> tuple[Record | None, str | None]:
    """A line the fast decode refused: its record when it can still be read (see `_record`),
    and why not."""
    if isinstance(exc, msgspec.ValidationError):
        return None, _invalid(str(exc))
    if isinstance(exc, RecursionError):
        return None, TOO_DEEP
    if isinstance(exc, UnicodeDecodeError):
        repaired = raw.decode("utf-8", "replace").encode("utf-8")
        try:
            return _record(_LINE.decode(repaired), repaired, file), BAD_UTF8
        except (msgspec.DecodeError, RecursionError, ValueError, OverflowError) as again:
            return None, _salvage(repaired, file, again)[1]
    if isinstance(exc, OverflowError):
        return None, "skipped lines with " + checks.too_large(checks.MAX_CALL_TOKENS)
    if isinstance(exc, msgspec.DecodeError) and (b"NaN" in raw or b"Infinity" in raw):
        import json

        try:
            json.loads(raw)
        except (ValueError, RecursionError):
            return None, MALFORMED
        return None, NOT_FINITE
    return None, MALFORMED


def _invalid(message: str) -> str:
    """The reason in a decoder's complaint about a value (`Expected `int` >= 0 - at ...`)."""
    where = message.rsplit(" - at ", 1)[-1] if " - at " in message else ""
    if "usage" not in where:
        return f"skipped lines with an unreadable value (at {where.strip('`')})"
    if ">= 0" in message:
        reason = checks.NEGATIVE
    elif "<=" in message or "out of range" in message:
        reason = checks.too_large(checks.MAX_CALL_TOKENS)
    else:
        reason = checks.NOT_WHOLE
    return f"skipped lines with {reason}"


def _locate(path: str, damaged: list[tuple[bytes, str]]) -> list[tuple[str, int | None, str]]:
    """The line numbers of damaged lines, found again in the file (a rare, slow path)."""
    try:
        data = rawfiles.read_bytes(Path(path))
    except InputError:
        return [(path, None, problem) for _, problem in damaged]
    if data.lstrip()[:1] == b"[":
        data = rawfiles.array_to_lines(data)
    out: list[tuple[str, int | None, str]] = []
    pos = counted = line = 0
    for raw, problem in damaged:  # in file order
        found = data.find(raw, pos)
        if found < 0:
            out.append((path, None, problem))
            continue
        line += data.count(b"\n", counted, found)
        counted, pos = found, found + max(len(raw), 1)
        out.append((path, line + 1, problem))
    return out


def file_sizes(files: Sequence[Path | str]) -> list[int]:
    """Each file's size in bytes (0 for one that cannot be read: its reader says why)."""
    sizes = []
    for path in files:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)
    return sizes


def process_context() -> Any:
    """How to start a reader process: fork, cheap and safe while polars (and its thread pool) is
    not loaded; else a fork server (spawn on Windows). Its `Process` class is per method."""
    if sys.platform == "linux" and "polars" not in sys.modules:
        method = "fork"
    else:
        method = "forkserver" if sys.platform != "win32" else "spawn"
    return multiprocessing.get_context(method)


def merge(chunks: list[Chunk]) -> Chunk:
    """All readers' rows and notes in one chunk, notes in file order (as one reader gives)."""
    if len(chunks) == 1:
        return chunks[0]
    out = Chunk()
    for chunk in chunks:
        out.rows.extend(chunk.rows)
        out.problems.extend(chunk.problems)
        out.unreadable.extend(chunk.unreadable)
        out.lines_seen += chunk.lines_seen
    # The files are named in sorted order; a stable sort keeps each file's lines in order.
    out.problems.sort(key=lambda p: p[0])
    out.unreadable.sort(key=lambda p: p[0])
    return out


def default_roots() -> list[Path]:
    """Where Claude Code keeps transcripts: CLAUDE_CONFIG_DIR alone when set, else both homes."""
    env = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if env:
        bases = [Path(part.strip()).expanduser() for part in env.split(",") if part.strip()]
    else:
        home = Path.home()
        bases = [home / ".config" / "claude", home / ".claude"]
    roots = []
    for base in bases:
        projects = base / "projects"
        if projects.is_dir():
            roots.append(projects)
        elif base.name == "projects" and base.is_dir():
            roots.append(base)
    return roots


def find_files(paths: Sequence[Path]) -> list[Path]:
    """Every `*.jsonl` under the given trees or project folders, plus files named directly."""
    files: set[Path] = set()
    for path in paths:
        if path.is_file():
            files.add(path)
        elif path.is_dir():
            files.update(p for p in path.rglob("*.jsonl") if p.is_file())
        else:
            raise InputError(
                f"{path}: no such file or folder",
                hint="Give a ~/.claude/projects tree, a project folder or .jsonl files.",
            )
    return sorted(files, key=str)  # the order `claude_code.dedupe` breaks ties by


def _job(path: Path, origin: int) -> FileJob:
    """Session and project as the path says: `<project>/<session>.jsonl` or nested below it.

    A project-level `agent-*.jsonl` (2.0 era) names its parent session in its lines.
    """
    parts = path.parts
    if "subagents" in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index("subagents")
        session, project = parts[at - 1], parts[at - 2] if at >= 2 else ""
    elif len(parts) >= 3 and parts[-3] == "projects":
        session, project = rawfiles.plain_stem(path), parts[-2]
    elif len(parts) >= 4 and parts[-4] == "projects":
        session, project = parts[-2], parts[-3]
    else:
        session, project = rawfiles.plain_stem(path), path.parent.name
    from_lines = path.name.startswith("agent-") and "subagents" not in parts[:-1]
    return FileJob(str(path), session, project, origin, from_lines)


def _run(
    jobs: list[FileJob],
    meanwhile: Callable[[], object] | None,
    sizes: list[int] | None,
    spill: Spill | None = None,
) -> Chunk:
    """Read with `READERS` forked children when given the files' sizes: they take files from a
    shared counter while this process runs `meanwhile` (imports, say), then hand their rows
    over one at a time.

    This process reads nothing itself: a reader's heap ends up scattered with its records (a
    few hundred bytes each), and a child's heap goes back to the system when it exits.
    """
    if sizes is None or (os.cpu_count() or 1) < 2 or len(jobs) < 2:
        if meanwhile is not None:
            meanwhile()
        return scan_files(jobs, spill=spill)
    context = process_context()
    counter = context.Value("q", 0)
    readers = []
    for _ in range(READERS):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=_child, args=(jobs, counter, send, receive, spill), daemon=True
        )
        child.start()
        send.close()
        readers.append((child, receive))
    chunks = []
    try:
        if meanwhile is not None:
            meanwhile()
        for _, receive in readers:
            try:
                chunks.append(receive.recv())
            except (EOFError, OSError) as exc:  # killed, or out of memory
                raise TokenlensError(
                    "a process reading the transcripts stopped unexpectedly",
                    hint="Check free memory, then retry.",
                ) from exc
    except BaseException:
        for child, _ in readers:
            child.terminate()  # it may be blocked sending rows nobody will read
        raise
    finally:
        for child, receive in readers:
            receive.close()
            child.join()
    for chunk in chunks:
        if isinstance(chunk, BaseException):
            raise chunk
    return merge(chunks)


READERS: Final = 2


class _Claim:
    """Hands out file indexes below `end` from a counter shared by the readers; -1 when none
    are left."""

    def __init__(self, counter: Any, end: int) -> None:
        self.counter = counter
        self.end = end

    def __call__(self) -> int:
        with self.counter.get_lock():
            at = int(self.counter.value)
            if at >= self.end:
                return -1
            self.counter.value = at + 1
        return at


def _child(jobs: list[FileJob], counter: Any, send: Any, receive: Any, spill: Spill | None) -> None:
    """A reader: its rows, or what it raised, go back through the pipe.

    A forked child holds a copy of the pipe's reading end too: it is closed first, so that a
    send fails, rather than waits for ever, once the parent has closed its own.
    """
    receive.close()
    try:
        result: Chunk | BaseException = scan_files(jobs, _Claim(counter, len(jobs)), spill)
    except Exception as exc:  # handed to the parent, which raises it
        result = exc
    send.send(result)
    send.close()


def read_records(
    paths: Sequence[Path],
    *,
    meanwhile: Callable[[], object] | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
) -> tuple[list[Path], Chunk]:
    """The raw usage records of the files under `paths` (no polars involved).

    `meanwhile` runs while the reader processes read, so slow imports cost no wall time.
    """
    files = find_files(paths)
    return files, read_files(files, meanwhile=meanwhile, parallel_min_bytes=parallel_min_bytes)


def read_files(
    files: list[Path],
    *,
    sizes: list[int] | None = None,
    meanwhile: Callable[[], object] | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
    spill: Spill | None = None,
) -> Chunk:
    """`read_records` for files already found (as `find_files` gives them, in its order), of
    the given sizes in bytes. With `spill`, the rows go to its files (see `Spill`)."""
    jobs = [_job(path, i) for i, path in enumerate(files)]
    sizes = file_sizes(files) if sizes is None else sizes
    parallel = sizes if sum(sizes) >= parallel_min_bytes else None
    return _run(jobs, meanwhile, parallel, spill)
