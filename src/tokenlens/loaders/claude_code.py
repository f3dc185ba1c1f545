"""Claude Code JSONL transcripts (FORMATS.md section 1).

Identity: `message.id:requestId` (or `message.id` alone). Streamed copies repeat a message with
growing output, and the copy with the largest token total wins. A sidechain replay of a parent
message (same `message.id`, new `requestId`) loses to the parent. `type:"progress"` lines mirror
subagent lines under the same ids, so they count once. `<synthetic>` and API-error lines add
nothing. Files under `<session>/subagents/` belong to the parent session.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Final

import polars as pl

from tokenlens import schema
from tokenlens.errors import InputError, Notice
from tokenlens.loaders import claude_lines
from tokenlens.loaders.base import Scan

SOURCE: Final = "claude_code"
PARALLEL_MIN_BYTES: Final = 64 << 20
_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.fZ"


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
    return sorted(files)


def _job(path: Path, origin: int) -> claude_lines.FileJob:
    """Session and project as the path says: `<project>/<session>.jsonl` or nested below it.

    A project-level `agent-*.jsonl` (2.0 era) names its parent session in its lines.
    """
    parts = path.parts
    if "subagents" in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index("subagents")
        session, project = parts[at - 1], parts[at - 2] if at >= 2 else ""
    elif len(parts) >= 3 and parts[-3] == "projects":
        session, project = path.stem, parts[-2]
    elif len(parts) >= 4 and parts[-4] == "projects":
        session, project = parts[-2], parts[-3]
    else:
        session, project = path.stem, path.parent.name
    from_lines = path.name.startswith("agent-") and "subagents" not in parts[:-1]
    return claude_lines.FileJob(str(path), session, project, origin, from_lines)


def _run(jobs: list[claude_lines.FileJob]) -> claude_lines.Chunk:
    total = 0
    for job in jobs:
        with contextlib.suppress(OSError):
            total += os.stat(job.path).st_size
    workers = min(os.cpu_count() or 1, 2)
    if total < PARALLEL_MIN_BYTES or workers < 2 or len(jobs) < 2:
        return claude_lines.scan_files(jobs)
    # fork is cheap and safe before polars has started its thread pool.
    method = "fork" if "polars" not in sys.modules and sys.platform == "linux" else "spawn"
    parts = claude_lines.split_jobs(jobs, workers)
    with ProcessPoolExecutor(len(parts), mp_context=multiprocessing.get_context(method)) as pool:
        chunks = list(pool.map(claude_lines.scan_files, parts))
    return claude_lines.merge(chunks)


def read_records(paths: Sequence[Path]) -> tuple[list[Path], claude_lines.Chunk]:
    """The raw usage records of the files under `paths` (no polars involved)."""
    files = find_files(paths)
    jobs = [_job(path, i) for i, path in enumerate(files)]
    return files, _run(jobs)


def scan_claude_code(paths: Sequence[Path], *, user: str) -> Scan:
    """Read Claude Code transcripts into canonical rows, deduplicated."""
    files, chunk = read_records(paths)
    return to_scan(files, chunk, user=user)


def to_scan(files: list[Path], chunk: claude_lines.Chunk, *, user: str) -> Scan:
    columns = list(zip(*chunk.records.values(), strict=True)) if chunk.records else None
    raw = pl.DataFrame(
        {name: (list(columns[i]) if columns else []) for i, name in enumerate(claude_lines.FIELDS)},
        schema={
            "event_id": pl.String,
            "timestamp": pl.String,
            "session_id": pl.String,
            "project": pl.String,
            "model": pl.String,
            "sidechain": pl.Boolean,
            "fast": pl.Boolean,
            "input_tokens": pl.Int64,
            "cache_write_tokens": pl.Int64,
            "cache_write_1h_tokens": pl.Int64,
            "cache_read_tokens": pl.Int64,
            "output_tokens": pl.Int64,
            "reported_cost_usd": pl.Float64,
            "origin": pl.Int64,
        },
    )
    origins = pl.Series("origins", [str(p) for p in files], dtype=pl.String)
    ts = pl.col("timestamp").str.to_datetime(_TS_FORMAT, time_zone="UTC", strict=False)
    ts_loose = pl.col("timestamp").str.to_datetime(time_zone="UTC", strict=False)
    frame = raw.with_columns(
        ts=pl.coalesce(ts, ts_loose).dt.cast_time_unit("us"),
        kind=pl.when(pl.col("sidechain"))
        .then(pl.lit(schema.KIND_SIDECHAIN))
        .otherwise(pl.lit(schema.KIND_MAIN))
        + pl.when(pl.col("fast")).then(pl.lit(schema.FAST_SUFFIX)).otherwise(pl.lit("")),
        origin=pl.col("origin").replace_strict(
            pl.Series(range(len(files))), origins, default=None, return_dtype=pl.String
        )
        if files
        else pl.lit(None, pl.String),
        source=pl.lit(SOURCE),
        user=pl.lit(user),
        requests=pl.lit(1.0),
    )
    bad_ts = frame.filter(pl.col("ts").is_null()).height
    frame = frame.filter(pl.col("ts").is_not_null())
    notices = _notices(chunk, bad_ts)
    lf = dedupe(schema.conform(frame.lazy()))
    return Scan(SOURCE, lf, notices, files)


def _notices(chunk: claude_lines.Chunk, bad_ts: int) -> list[Notice]:
    notices = []
    if chunk.malformed:
        notices.append(
            Notice("Claude Code: skipped malformed lines holding usage", chunk.malformed)
        )
    if chunk.truncated_tail:
        notices.append(
            Notice(
                "Claude Code: skipped half-written last lines (session still running?)",
                chunk.truncated_tail,
            )
        )
    if chunk.bad_values:
        notices.append(
            Notice("Claude Code: skipped lines with impossible token counts", chunk.bad_values)
        )
    if bad_ts:
        notices.append(Notice("Claude Code: skipped lines with an unreadable timestamp", bad_ts))
    for path, reason in chunk.unreadable:
        notices.append(Notice(f"Claude Code: could not read file ({reason})", 1, path))
    return notices


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The Claude Code identity rule over canonical rows; independent of row order.

    Within one key the parent copy beats a sidechain copy, then the larger token total, then
    fast mode. A sidechain row whose message id also has a parent row is a replay and is dropped;
    sidechain-only copies of one message id collapse to the best one.
    """
    sidechain = pl.col("kind").str.starts_with(schema.KIND_SIDECHAIN)
    order = [
        sidechain,
        schema.total_tokens(),
        schema.is_fast(),
        pl.col("origin"),
        pl.col("ts"),
    ]
    descending = [False, True, True, False, False]
    best = lf.sort(
        ["event_id", *order], descending=[False, *descending], nulls_last=True, maintain_order=True
    ).unique(subset=["event_id"], keep="first", maintain_order=True)
    message = pl.col("event_id").str.split(":").list.first()
    with_message = best.with_columns(_message=message, _side=sidechain)
    has_parent = (~pl.col("_side")).any().over("_message")
    parents = with_message.filter(~pl.col("_side"))
    orphans = (
        with_message.filter(pl.col("_side") & ~has_parent)
        .sort(
            ["_message", *order],
            descending=[False, *descending],
            nulls_last=True,
            maintain_order=True,
        )
        .unique(subset=["_message"], keep="first", maintain_order=True)
    )
    return pl.concat([parents, orphans]).drop("_message", "_side").sort("ts", "event_id")
