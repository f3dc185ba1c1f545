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
from tokenlens.loaders.base import Scan, any_time, utc_millis
from tokenlens.loaders.checks import Tally
from tokenlens.loaders.claude_lines import default_roots, find_files, read_records

__all__ = [
    "SOURCE",
    "dedupe",
    "default_roots",
    "find_files",
    "notices",
    "scan",
    "scan_claude_code",
    "to_scan",
    "winning_rows",
]

SOURCE: Final = claude_lines.SOURCE


def scan_claude_code(paths: Sequence[Path], *, user: str) -> Scan:
    """Read Claude Code transcripts into canonical rows, deduplicated."""
    files, chunk = read_records(paths)
    return to_scan(files, chunk, user=user)


scan = scan_claude_code  # the name every loader module reads its files by


def to_scan(files: list[Path], chunk: claude_lines.Chunk, *, user: str) -> Scan:
    """Canonical rows from the readers' records, deduplicated across readers by `dedupe`."""
    frame, bad_ts = winning_rows(files, chunk, user=user)
    return Scan(SOURCE, frame, notices(chunk, bad_ts), files)


def winning_rows(
    files: list[Path], chunk: claude_lines.Chunk, *, user: str
) -> tuple[pl.LazyFrame, dict[str, int]]:
    """The deduplicated canonical rows of `chunk`'s records, and the rows skipped for an
    unreadable timestamp per file (in file order).

    Takes the rows out of `chunk` as it goes, so each reader's are freed once they are a frame.
    The dedupe runs over the few columns it compares, and the winning rows are taken once.
    """
    parts = []
    while chunk.rows:
        parts.append(_frame(chunk.rows.pop(0)))
    raw = pl.concat(parts) if len(parts) > 1 else parts[0] if parts else _empty()
    del parts
    narrow = raw.lazy().select(
        "event_id",
        "ts",
        "origin",
        *schema.TOKENS,
        kind=_kind(),
        _row=pl.int_range(pl.len(), dtype=pl.UInt32),
    )
    # The sorts behind the dedupe run about twice as fast on the in-memory engine.
    best = dedupe(narrow).select("_row", "ts", "origin").collect(engine="in-memory")
    del narrow
    origins = pl.Series("origins", [str(p) for p in files], dtype=pl.String)
    bad_ts: dict[str, int] = {}
    if best.get_column("ts").null_count():
        counts = best.filter(pl.col("ts").is_null()).group_by("origin").len().sort("origin")
        bad_ts = {origins[at]: count for at, count in counts.iter_rows()}
        best = best.filter(pl.col("ts").is_not_null())
    rows = best.get_column("_row")
    del best
    # Left lazy: each query takes only the columns it reads from the winning rows.
    frame = schema.conform(
        raw.lazy()
        .select(pl.all().gather(rows))
        .with_columns(
            kind=_kind(),
            origin=pl.lit(origins).gather(pl.col("origin")) if files else pl.lit(None),
            source=pl.lit(SOURCE),
            user=pl.lit(user),
            requests=pl.lit(1.0),
        )
    )
    return frame, bad_ts


def _kind() -> pl.Expr:
    """`main` or `sidechain`, `+fast` in fast mode, from a reader's flags."""
    flags = pl.col("flags")
    side = (flags & claude_lines.SIDECHAIN) != 0
    fast = (flags & claude_lines.FAST) != 0
    return pl.when(side).then(pl.lit(schema.KIND_SIDECHAIN)).otherwise(
        pl.lit(schema.KIND_MAIN)
    ) + pl.when(fast).then(pl.lit(schema.FAST_SUFFIX)).otherwise(pl.lit(""))


def _frame(rows: claude_lines.Packed) -> pl.DataFrame:
    """One reader's rows as a frame: names taken from its table (sharing their text), times
    parsed, flags kept for `_kind`, a missing cost null."""
    names = pl.Series("names", rows.names, dtype=pl.String)
    columns = dict(zip(claude_lines.NUMBERS, rows.numbers, strict=True))
    return pl.DataFrame(
        {
            "event_id": _texts(rows.ids),
            "ts": _times(_texts(rows.stamps).alias("timestamp")),
            **{
                name: names.gather(pl.Series(columns.pop(name), dtype=pl.UInt32))
                for name in ("session_id", "project", "model")
            },
            "flags": pl.Series(columns.pop("flags"), dtype=pl.Int8),
            "origin": pl.Series(columns.pop("origin"), dtype=pl.UInt32),
            **{name: pl.Series(values, dtype=pl.Int64) for name, values in columns.items()},
            "reported_cost_usd": pl.Series(rows.costs, dtype=pl.Float64).fill_nan(None),
        }
    )


def _texts(values: str | list[str]) -> pl.Series:
    """Texts as `claude_lines.lines` hands them over: a list, or one text with a line each."""
    if isinstance(values, list):
        return pl.Series(values, dtype=pl.String)
    return pl.Series([values], dtype=pl.String).str.split("\n").explode()


def _times(text: pl.Series) -> pl.Series:
    """Timestamps as written by Claude Code (`utc_millis`); other spellings (`any_time`) only
    when some cell needs them. Null where none of these reads."""
    ts = text.to_frame().select(utc_millis(pl.col("timestamp"))).to_series()
    if ts.null_count() > text.null_count():  # another spelling: parsed again, generally
        ts = text.to_frame().select(any_time(pl.col("timestamp"))).to_series()
    return ts.alias("ts")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=_RAW)


_RAW: Final[dict[str, pl.DataType]] = {
    "event_id": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "session_id": pl.String(),
    "project": pl.String(),
    "model": pl.String(),
    "flags": pl.Int8(),
    "input_tokens": pl.Int64(),
    "cache_write_tokens": pl.Int64(),
    "cache_write_1h_tokens": pl.Int64(),
    "cache_read_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "reported_cost_usd": pl.Float64(),
    "origin": pl.UInt32(),
}


def notices(chunk: claude_lines.Chunk, bad_ts: dict[str, int] | None = None) -> list[Notice]:
    """One notice per reason and file, with the line numbers where the format has them."""
    tally = Tally("Claude Code: ")
    for path, line, reason in chunk.problems:
        tally.add(reason, path, line)
    for path, count in (bad_ts or {}).items():
        tally.add("skipped lines with an unreadable timestamp", path, count=count)
    for path, reason in chunk.unreadable:
        tally.add(f"could not read file ({reason})", path)
    return tally.notices()


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The Claude Code identity rule over rows; independent of row order.

    The rows need `event_id`, `kind`, `ts`, `origin` (a path, or a number that sorts as the
    paths do) and the token columns; others are carried along.

    Within one key the parent copy beats a sidechain copy, then the larger token total, then
    fast mode. A sidechain row whose message id also has a parent row is a replay and is dropped;
    sidechain-only copies of one message id collapse to the best one.
    """
    sidechain = pl.col("kind").str.starts_with(schema.KIND_SIDECHAIN)
    # The event id breaks the last ties (sidechain-only copies of one message, equal in all else).
    order = [
        sidechain,
        schema.total_tokens(),
        schema.is_fast(),
        pl.col("origin"),
        pl.col("ts"),
        pl.col("event_id"),
    ]
    descending = [False, True, True, False, False, False]

    def best_of(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
        return frame.sort(
            [key, *order], descending=[False, *descending], nulls_last=True, maintain_order=True
        ).unique(subset=[key], keep="first", maintain_order=True)

    # Most keys have one row; only the others need the (slow, multi-column) sort.
    copied = pl.col("event_id").is_duplicated()
    best = pl.concat([lf.filter(~copied), best_of(lf.filter(copied), "event_id")]).with_columns(
        _side=sidechain
    )
    message = schema.message_id()
    parents = best.filter(~pl.col("_side"))
    side = best.filter(pl.col("_side")).with_columns(_message=message)
    orphans = best_of(
        side.join(parents.select(_message=message).unique(), on="_message", how="anti"),
        "_message",
    ).drop("_message")
    return pl.concat([parents, orphans]).drop("_side").sort("ts", "event_id")
