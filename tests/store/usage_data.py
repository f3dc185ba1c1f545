"""Generated inputs for the store's crash and concurrency tests, and the store's state in numbers.

Each batch is a few Claude Code transcripts and one Cursor team CSV with events spread over many
months, so one ingest writes many partitions. A later batch also holds grown streamed copies of an
earlier batch's Claude Code messages and a newer Cursor download pricing rows the earlier one showed
as "Included", so ingesting it rewrites rows already stored, not only adds new ones.
"""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from tests.cli.helpers import assistant
from tokenlens.store import Store

MONTHS = [f"{year}-{month:02d}" for year in (2023, 2024, 2025) for month in range(1, 13)]
CURSOR_HEADER = [
    "Date",
    "User",
    "Kind",
    "Model",
    "Max Mode",
    "Input (w/ Cache Write)",
    "Input (w/o Cache Write)",
    "Cache Read",
    "Output Tokens",
    "Total Tokens",
    "Cost",
]
TOKENS = ["input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens"]


def _ts(rng: random.Random, month: str) -> str:
    day, hour, minute = rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
    return f"{month}-{day:02d}T{hour:02d}:{minute:02d}:{rng.randint(0, 59):02d}.000Z"


def write_batch(
    root: Path,
    tag: str,
    *,
    months: Sequence[str],
    sessions: int,
    per_session: int,
    cursor_rows: int,
    grow: Path | None = None,
) -> list[Path]:
    """Write one batch under root/tag with events cycling through months.

    grow names an earlier batch whose Claude Code messages and Cursor rows reappear, grown and
    priced.
    """
    rng = random.Random(tag)
    folder = root / tag
    project = folder / "claude" / "projects" / "-home-u-webapp"
    project.mkdir(parents=True)
    written = []
    for s in range(sessions):
        lines = []
        for i in range(per_session):
            month = months[(s * per_session + i) % len(months)]
            lines.append(
                assistant(
                    f"msg_{tag}_{s}_{i}",
                    f"req_{tag}_{s}_{i}",
                    ts=_ts(rng, month),
                    inp=rng.randint(1, 3000),
                    out=rng.randint(1, 2000),
                    write=rng.randint(0, 5000),
                    read=rng.randint(0, 50000),
                    session=f"{tag}-{s}",
                )
            )
        path = project / f"{tag}-{s}.jsonl"
        path.write_text("".join(lines))
        written.append(path)
    if grow is not None:  # the later, longer copies of an earlier batch's first session
        earlier = next((grow / "claude" / "projects" / "-home-u-webapp").glob("*-0.jsonl"))
        path = project / f"{tag}-grown.jsonl"
        path.write_text(earlier.read_text().replace('"output_tokens":', '"output_tokens":1000'))
        written.append(path)
    written.append(
        _cursor_csv(folder / "cursor", tag, rng, months=months, rows=cursor_rows, grow=grow)
    )
    return written


def _cursor_csv(
    folder: Path,
    tag: str,
    rng: random.Random,
    *,
    months: Sequence[str],
    rows: int,
    grow: Path | None,
) -> Path:
    folder.mkdir(parents=True)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(CURSOR_HEADER)
    if grow is not None:  # the earlier download again, its "Included" rows now priced
        earlier = next((grow / "cursor").glob("*.csv"))
        for row in list(csv.reader(earlier.read_text().splitlines()))[1:]:
            writer.writerow([*row[:-1], "0.42" if row[-1] == "Included" else row[-1]])
    for i in range(rows):
        inp, write, read, outp = (rng.randint(0, 9000) for _ in range(4))
        writer.writerow(
            [
                _ts(rng, months[i % len(months)]),
                f"user{i % 7}@corp.com",
                "Included" if i % 3 else "On-Demand",
                "claude-4-sonnet",
                "No",
                write,
                inp,
                read,
                outp,
                write + inp + read + outp,
                "Included" if i % 2 else f"{rng.randint(1, 300) / 100:.2f}",
            ]
        )
    path = folder / f"team-usage-events-{tag}.csv"
    path.write_text(out.getvalue())
    return path


def tokenlens(*args: str) -> list[str]:
    """The command line that runs tokenlens in a child process."""
    return [sys.executable, "-m", "tokenlens", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tokenlens(*args),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "TZ": "UTC", "NO_COLOR": "1", "COLUMNS": "120"},
    )


def ingest(store: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return run("ingest", *map(str, paths), "--store", str(store), "--user", "u")


def partition_stats(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[int, ...]]:
    """Per (source, month): rows, each token column's sum and the reported cost in cents."""
    grouped = (
        frame.group_by("source", pl.col("ts").dt.strftime("%Y-%m").alias("month"))
        .agg(
            pl.len(),
            *(pl.col(c).sum() for c in TOKENS),
            (pl.col("reported_cost_usd").fill_null(0) * 100).round().sum().cast(pl.Int64),
        )
        .sort("source", "month")
    )
    return {(row[0], row[1]): tuple(row[2:]) for row in grouped.iter_rows()}


def store_stats(store: Path) -> dict[tuple[str, str], tuple[int, ...]]:
    """partition_stats of everything a reader of the store sees."""
    return partition_stats(Store(store).scan().collect())


def file_stats(store: Path) -> dict[tuple[str, str], tuple[int, ...]]:
    """partition_stats of each partition file read directly, with no lock and no recovery."""
    out: dict[tuple[str, str], tuple[int, ...]] = {}
    for path in sorted((store / "data").glob("source=*/month=*/part.parquet")):
        stats = partition_stats(pl.read_parquet(path))
        assert len(stats) == 1, f"{path} holds rows of {len(stats)} partitions"
        out.update(stats)
    return out


def totals(stats: dict[tuple[str, str], tuple[int, ...]]) -> tuple[int, ...]:
    """Rows, token sums and reported cents over a whole store (all 0 when it is empty)."""
    return tuple(sum(column) for column in zip(*stats.values(), strict=True)) or (0,) * 6


def leftovers(store: Path) -> list[Path]:
    """Temporary files and commit journals left in a store."""
    return sorted(p for p in store.rglob("*") if ".tmp-" in p.name or p.name == "commit.json")
