"""A Meta-sized month in the store: leaderboard and outlier scan, side by side with DuckDB.

    python bench/bench_analyses.py --users 85000 --days 30 --events 25000000 --runs 3

Writes a store of `--events` Claude Code rows for `--users` users over `--days` days (priced
with a fixed rate so no price look-up is timed), then measures, median of --runs, each as a fresh
process:
- `tokenlens leaderboard --store S --json` against DuckDB's equivalent (per-user totals over the
  window, a rank and the four titles' maxima, sessions and the share of tokens in sessions the
  session rules flag);
- `tokenlens outliers --store S --json` against DuckDB's equivalent of the rules (per user-day
  totals, the day's median and MAD, the trailing 7-day mean, the period total against the median
  total, and the per-session burn rate and output ratio);
with peak RSS from /usr/bin/time. DuckDB is a benchmark-only dependency (`pip install duckdb`).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import polars as pl

import bytecode
from tokenlens import pricing, schema

# The session rules (a session of 4 hours or more burning $25 an hour, or of 1M tokens or more
# with under 0.2% output), as the outlier scan and the leaderboard's flagged share apply them.
DUCK_SESSIONS = """
s AS (SELECT "user", session_id, min(ts) AS t0, max(ts) AS t1,
             sum(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens) AS tok,
             sum(output_tokens) AS out, sum(computed_cost_usd) AS cost,
             epoch(max(ts) - min(ts)) / 3600.0 AS hours
      FROM r WHERE session_id IS NOT NULL GROUP BY ALL),
run AS (SELECT * FROM s WHERE hours >= 4
          AND (cost / hours >= 25 OR (tok >= 1000000 AND out / nullif(tok, 0) < 0.002)))"""

DUCK_LEADERBOARD = (
    """
WITH r AS (SELECT * FROM read_parquet('{files}')),
"""
    + DUCK_SESSIONS
    + """,
u AS (
  SELECT "user", sum(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens) AS tok,
         sum(computed_cost_usd) AS cost, count(DISTINCT model) AS models,
         sum(cache_read_tokens) / sum(input_tokens + cache_write_tokens + cache_read_tokens) AS hit
  FROM r GROUP BY ALL),
f AS (SELECT "user", sum(tok) AS flagged FROM run GROUP BY ALL),
us AS (SELECT "user", count(*) AS sessions, max(hours) AS longest FROM s GROUP BY ALL)
SELECT u.*, us.sessions, us.longest, coalesce(f.flagged, 0) / u.tok AS flagged_share,
       row_number() OVER (ORDER BY u.tok DESC, u."user") AS rank
FROM u LEFT JOIN us USING ("user") LEFT JOIN f USING ("user") ORDER BY rank LIMIT 250
"""
)

DUCK_OUTLIERS = (
    """
WITH r AS (SELECT * FROM read_parquet('{files}')),
"""
    + DUCK_SESSIONS
    + """,
d AS (SELECT "user", CAST(ts AS DATE) AS day, sum(computed_cost_usd) AS cost FROM r GROUP BY ALL),
m AS (SELECT day, median(cost) AS med FROM d GROUP BY ALL),
dev AS (SELECT d.day, median(abs(d.cost - m.med)) AS mad FROM d JOIN m USING (day) GROUP BY ALL),
z AS (SELECT d.*, (d.cost - m.med) / nullif(1.4826 * dev.mad, 0) AS z
      FROM d JOIN m USING (day) JOIN dev USING (day)),
w AS (SELECT *, avg(cost) OVER (
        PARTITION BY "user" ORDER BY day
        RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND INTERVAL 1 DAY PRECEDING) AS base FROM z),
p AS (SELECT "user", sum(cost) AS total FROM d GROUP BY ALL),
pm AS (SELECT median(total) AS med FROM p)
SELECT "user", day, NULL AS session_id FROM w WHERE z >= 3.5 OR cost >= 5 * base
UNION ALL SELECT "user", NULL, NULL FROM p, pm WHERE p.total >= 10 * pm.med
UNION ALL SELECT "user", CAST(t0 AS DATE), session_id FROM run
ORDER BY 2, 1
"""
)


def write_store(root: Path, users: int, days: int, events: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, events)
    start = np.datetime64("2025-09-01T00:00:00", "us").astype(np.int64)
    ts = start + rng.integers(0, days * 86_400_000_000, events)
    frame = pl.DataFrame(
        {
            "source": "claude_code",
            "event_id": pl.int_range(events, eager=True).cast(pl.String),
            "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "user": pl.Series(user).cast(pl.String).str.pad_start(6, "0"),
            "session_id": pl.Series(user * 100 + rng.integers(0, 40, events)).cast(pl.String),
            "model": pl.Series(rng.choice(["claude-sonnet-4-5", "claude-opus-4-1"], events)),
            "kind": "main",
            "input_tokens": rng.integers(0, 2_000, events),
            "cache_write_tokens": rng.integers(0, 20_000, events),
            "cache_write_1h_tokens": 0,
            "cache_read_tokens": rng.integers(0, 200_000, events),
            "output_tokens": rng.integers(0, 4_000, events),
            "requests": 1.0,
        }
    )
    frame = frame.with_columns(
        computed_cost_usd=(pl.col("input_tokens") * 3 + pl.col("output_tokens") * 15) / 1e6,
        price_version=pl.lit(pricing.price_version()),
    )
    frame = schema.conform(frame.lazy(), schema.STORED).collect()
    folder = root / "data" / "source=claude_code" / "month=2025-09"
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / "part.parquet", compression="zstd", compression_level=1)
    manifest = {
        "schema_version": schema.SCHEMA_VERSION,
        "files": {},
        "partitions": {
            "claude_code/2025-09": {"rows": events, "price_version": pricing.price_version()}
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest))


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one run, from GNU time."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *command], capture_output=True, text=True, check=True
    )
    wall, kb = re.findall(r"([\d.]+) (\d+)\s*$", out.stderr)[-1]
    return float(wall), int(kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=85_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events", type=int, default=25_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/tl-bench-analyses"))
    args = parser.parse_args()
    bytecode.compile_tokenlens()
    store = args.out / "store"
    if not (store / "manifest.json").exists():
        write_store(store, args.users, args.days, args.events)
    files = store / "data" / "source=claude_code" / "month=2025-09" / "part.parquet"
    exe = str(Path(sys.executable).with_name("tokenlens"))
    common = ["--store", str(store), "--tz", "UTC", "--json"]
    jobs = {
        "leaderboard": ([exe, "leaderboard", *common], DUCK_LEADERBOARD),
        "outliers": ([exe, "outliers", *common], DUCK_OUTLIERS),
    }
    print(f"{args.events:,} events, {args.users:,} users, {args.days} days; median of {args.runs}")
    print(f"{'command':12} {'tokenlens s':>12} {'MB':>7} {'duckdb s':>9} {'MB':>7} {'ratio':>6}")
    for name, (ours, sql) in jobs.items():
        duck = [
            sys.executable,
            "-c",
            f"import duckdb; duckdb.sql({sql.format(files=files)!r}).fetchall()",
        ]
        a, b = [], []
        for _ in range(args.runs):
            a.append(measure(ours))
            b.append(measure(duck))
        wa, ma = statistics.median(x[0] for x in a), max(x[1] for x in a)
        wb, mb = statistics.median(x[0] for x in b), max(x[1] for x in b)
        print(f"{name:12} {wa:12.2f} {ma:7.0f} {wb:9.2f} {mb:7.0f} {wa / wb:6.2f}")


if __name__ == "__main__":
    main()
