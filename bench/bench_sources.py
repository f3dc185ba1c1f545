"""Throughput of the team-export loaders, side by side with DuckDB in the same run.

    python bench/bench_sources.py --rows 1000000 --runs 5 --out /tmp/tl-bench-sources

Generates a Cursor team CSV and a Copilot premium-request usage report with --rows rows each,
then measures, median of --runs:
- `tokenlens ingest FILE --store S` (fresh store each run) against DuckDB converting the same
  file to Parquet (`COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet)`);
- `tokenlens report --store S --by user --by day --json` against DuckDB's GROUP BY of user and
  day over the Parquet it wrote, computing the same metrics the report gives for that export
  (events, requests, token kinds, cost, $/Mtok, cache-hit ratio, unpriced events) and printing
  them as JSON; the narrower count-only query of earlier runs is timed too, for comparison.
Both sides run as a fresh process per run (the tokenlens command; `python -c` with duckdb), so
start-up is counted on both. The two sides take turns, and the ratio printed is the median of
the ratios of each pair of runs, so that both sides meet the same load on a noisy machine.
DuckDB is a benchmark-only dependency (`pip install duckdb`).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bytecode

USERS = [f"user{i:03d}@corp.com" for i in range(200)]
CURSOR_MODELS = [
    "claude-4-sonnet",
    "claude-4.5-sonnet-thinking",
    "gpt-5",
    "auto",
    "claude-4.1-opus",
]
CURSOR_KINDS = ["Included", "On-Demand", "Errored, No Charge", "Free"]
COPILOT_MODELS = ["Claude Sonnet 4", "GPT-5", "Claude Sonnet 4.5", "Gemini 2.5 Pro", "GPT-4.1"]
COPILOT_SKUS = ["copilot_premium_request", "coding_agent_premium_request"]


def write_cursor(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    start = datetime(2025, 9, 1, tzinfo=UTC)
    header = (
        "Date,User,Cloud Agent ID,Automation ID,Kind,Model,Max Mode,Input (w/ Cache Write),"
        "Input (w/o Cache Write),Cache Read,Output Tokens,Total Tokens,Cost\n"
    )
    with path.open("w") as out:
        out.write(header)
        for i in range(rows):
            ts = start + timedelta(seconds=i * 2 + rng.randint(0, 1))
            stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{i % 1000:03d}Z"
            w, u, r, o = (rng.randint(0, 40_000) for _ in range(4))
            kind = rng.choice(CURSOR_KINDS)
            cost = "Included" if kind == "Included" else f"{rng.random():.2f}"
            out.write(
                f'"{stamp}","{rng.choice(USERS)}","","","{kind}","{rng.choice(CURSOR_MODELS)}",'
                f'"No","{w}","{u}","{r}","{o}","{w + u + r + o}","{cost}"\n'
            )


def write_copilot(path: Path, rows: int, seed: int = 2) -> None:
    rng = random.Random(seed)
    start = datetime(2025, 10, 1, tzinfo=UTC)
    header = (
        '"date","username","product","sku","model","quantity","unit_type",'
        '"applied_cost_per_quantity","gross_amount","discount_amount","net_amount",'
        '"exceeds_quota","total_monthly_quota","organization","cost_center_name",'
        '"aic_quantity","aic_gross_amount"\n'
    )
    with path.open("w") as out:
        out.write(header)
        for i in range(rows):
            day = (start + timedelta(days=i * 31 // rows)).strftime("%Y-%m-%d")
            qty = round(rng.random() * 10, 2)
            gross = round(qty * 0.04, 4)
            out.write(
                f'"{day}","{rng.choice(USERS).split("@")[0]}-gh","copilot",'
                f'"{rng.choice(COPILOT_SKUS)}","{rng.choice(COPILOT_MODELS)}","{qty}","requests",'
                f'"0.04","{gross}","{gross}","0","FALSE","300","corp","","{qty * 4}","{gross}"\n'
            )


def timed(fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def paired(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    runs: int,
    setup: Callable[[], object] | None = None,
) -> tuple[float, float, float]:
    """Both sides run in turn, `runs` times: (our median, their median, median of the ratios
    of each pair). Interleaving puts both sides under the same load on a noisy machine."""
    pairs = []
    for _ in range(runs):
        ours_s = timed(ours, 1, setup)
        pairs.append((ours_s, timed(theirs, 1)))
    return (
        statistics.median(p[0] for p in pairs),
        statistics.median(p[1] for p in pairs),
        statistics.median(p[0] / p[1] for p in pairs),
    )


def tokenlens(*args: str) -> None:
    exe = Path(sys.executable).with_name("tokenlens")
    subprocess.run([str(exe), *args], check=True, capture_output=True)


def duck(sql: str, *, as_json: bool = False) -> None:
    """Run one DuckDB statement in a fresh process (start-up included, as for tokenlens).

    With `as_json`, the result rows are printed as one JSON document, as `report --json` does.
    """
    if "COPY" in sql:
        code = f"import duckdb; duckdb.sql({sql!r})"
    elif as_json:
        code = (  # one execution: a relation's `.columns` would run the query a second time
            "import duckdb, json, sys; c = duckdb.connect(); c.execute("
            f"{sql!r}); rows = c.fetchall(); names = [d[0] for d in c.description]; "
            "sys.stdout.write(json.dumps([dict(zip(names, row)) for row in rows], default=str))"
        )
    else:
        code = f"import duckdb; duckdb.sql({sql!r}).fetchall()"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


# The metrics `report --json` gives per group for each export, as DuckDB SQL over the Parquet
# copy of the file: events, requests, the token kinds, cost, $/Mtok and the cache-hit ratio.
CURSOR_METRICS = """
    count(*) AS events, count(*) AS requests,
    sum(TRY_CAST("Input (w/o Cache Write)" AS BIGINT)) AS input_tokens,
    sum(TRY_CAST("Input (w/ Cache Write)" AS BIGINT)) AS cache_write_tokens,
    sum(TRY_CAST("Cache Read" AS BIGINT)) AS cache_read_tokens,
    sum(TRY_CAST("Output Tokens" AS BIGINT)) AS output_tokens,
    input_tokens + cache_write_tokens + cache_read_tokens + output_tokens AS total_tokens,
    sum(TRY_CAST(replace(CAST("Cost" AS VARCHAR), '$', '') AS DOUBLE)) AS cost_usd,
    cost_usd * 1e6 / nullif(total_tokens, 0) AS usd_per_mtok,
    cache_read_tokens / nullif(input_tokens + cache_write_tokens + cache_read_tokens, 0)
        AS cache_hit_ratio,
    count(*) FILTER (WHERE TRY_CAST(replace(CAST("Cost" AS VARCHAR), '$', '') AS DOUBLE) IS NULL)
        AS unpriced_events"""
COPILOT_METRICS = """
    count(*) AS events, sum(quantity) AS requests, sum(net_amount) AS cost_usd,
    count(*) FILTER (WHERE net_amount IS NULL) AS unpriced_events"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/tl-bench-sources"))
    args = parser.parse_args()
    bytecode.compile_tokenlens()
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"cursor": args.out / "cursor-team.csv", "copilot": args.out / "copilot-usage.csv"}
    if not files["cursor"].exists():
        write_cursor(files["cursor"], args.rows)
    if not files["copilot"].exists():
        write_copilot(files["copilot"], args.rows)
    user_col = {"cursor": "User", "copilot": "username"}
    day_expr = {
        "cursor": 'CAST(CAST("Date" AS TIMESTAMP) AS DATE)',
        "copilot": "CAST(date AS DATE)",
    }
    print(f"rows per file: {args.rows:,}; median of {args.runs} runs")
    print(f"{'what':44} {'tokenlens s':>12} {'duckdb s':>10} {'ratio':>7}")
    for name, path in files.items():
        store = args.out / f"store-{name}"
        parquet = args.out / f"{name}.parquet"

        def fresh(store: Path = store) -> None:
            shutil.rmtree(store, ignore_errors=True)

        ours, theirs, ratio = paired(
            lambda p=path, s=store: tokenlens("ingest", str(p), "--store", str(s), "--user", "x"),
            lambda p=path, q=parquet: duck(
                f"COPY (SELECT * FROM read_csv('{p}')) TO '{q}' (FORMAT parquet)"
            ),
            args.runs,
            fresh,
        )
        print(f"{'ingest ' + name:44} {ours:12.2f} {theirs:10.2f} {ratio:7.2f}")
        report = (
            "report",
            "--store",
            str(store),
            "--by",
            "user",
            "--by",
            "day",
            "--tz",
            "UTC",
            "--json",
        )
        narrow = (
            f'SELECT "{user_col[name]}" AS user, {day_expr[name]} AS day, count(*) '
            f"FROM read_parquet('{parquet}') GROUP BY ALL ORDER BY ALL"
        )
        metrics = CURSOR_METRICS if name == "cursor" else COPILOT_METRICS
        same_work = (
            f'SELECT "{user_col[name]}" AS user, {day_expr[name]} AS day, {metrics} '
            f"FROM read_parquet('{parquet}') GROUP BY ALL ORDER BY ALL"
        )
        ours, theirs, ratio = paired(
            lambda a=report: tokenlens(*a), lambda q=same_work: duck(q, as_json=True), args.runs
        )
        print(f"{'report --by user --by day ' + name:44} {ours:12.2f} {theirs:10.2f} {ratio:7.2f}")
        count_only = timed(lambda q=narrow: duck(q), args.runs)
        print(
            f"{'  (DuckDB counting rows only)':44} {'':12} {count_only:10.2f} "
            f"{ours / count_only:7.2f}"
        )


if __name__ == "__main__":
    main()
