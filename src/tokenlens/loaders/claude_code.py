"""Claude Code JSONL transcripts (FORMATS.md section 1).

Identity: `message.id:requestId` (or `message.id` alone). Streamed copies repeat a message with
growing output, and the copy with the largest token total wins. A sidechain replay of a parent
message (same `message.id`, new `requestId`) loses to the parent. `type:"progress"` lines mirror
subagent lines under the same ids, so they count once. `<synthetic>` and API-error lines add
nothing. Files under `<session>/subagents/` belong to the parent session.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import polars as pl

from tokenlens import schema
from tokenlens.errors import Notice
from tokenlens.loaders import claude_lines
from tokenlens.loaders.base import Scan
from tokenlens.loaders.claude_lines import default_roots, find_files, read_records

__all__ = ["SOURCE", "dedupe", "default_roots", "find_files", "scan_claude_code", "to_scan"]

SOURCE: Final = claude_lines.SOURCE
_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.fZ"


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
