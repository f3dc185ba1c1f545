#!/usr/bin/env python3
"""Bounded memory: `tokenlens report` of a 4 GiB tree with 1% damaged lines vs a clean 1 GiB tree.

    python bench/bench_memory.py                 # trees under bench/out/, 3 rounds
    python bench/bench_memory.py --runs 1 --no-peer

Both trees are generated once by gen_claude_tree.py (the 1 GiB one is bench_claude.py's) and
reused. Each round runs, interleaved: tokenlens on the clean 1 GiB tree, tokenlens on the damaged
4 GiB tree, and ccusage (the peer, `claude daily --json --offline`) on the 4 GiB tree. Reported:
the largest single process's peak RSS (wait4 ru_maxrss, what /usr/bin/time -v shows) and, from a
sampled round, the peak summed PSS of the whole process tree; wall medians for reference. Both
tools must agree to the token on the damaged tree first (compare_ccusage.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_claude  # noqa: E402
import bytecode  # noqa: E402
import compare_ccusage  # noqa: E402
import gen_claude_tree  # noqa: E402

CLEAN = ("claude-1024mb-seed7", 1024.0, 7, 0.0)
DAMAGED = ("claude-4096mb-seed11-malformed1", 4096.0, 11, 1.0)


def ensure(out: Path, name: str, size_mb: float, seed: int, malformed_pct: float) -> Path:
    tree = out / name
    done = tree / ".complete"
    if not done.exists():
        if tree.exists():
            shutil.rmtree(tree)
        gen_claude_tree.generate(tree, size_mb, seed, malformed_pct)
        done.write_text(f"{size_mb} {seed} {malformed_pct}\n")
    return tree


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true", help="skip ccusage")
    args = ap.parse_args(argv)
    bytecode.compile_tokenlens()
    args.out.mkdir(parents=True, exist_ok=True)
    clean = ensure(args.out, *CLEAN)
    damaged = ensure(args.out, *DAMAGED)
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    env = bench_claude.tool_env(damaged, work)
    tl = bench_claude.TOKENLENS
    series = [
        bench_claude.Series(
            "tokenlens report, clean 1 GiB", [tl, "report", str(clean / "projects"), "--json"]
        ),
        bench_claude.Series(
            "tokenlens report, 4 GiB with 1% damaged lines",
            [tl, "report", str(damaged / "projects"), "--json"],
        ),
    ]
    exact = None
    if not args.no_peer:
        exact = compare_ccusage.compare(damaged, "cli") == 0
        series.append(
            bench_claude.Series(
                "ccusage claude daily --json --offline, 4 GiB damaged",
                [bench_claude.CCUSAGE, *bench_claude.CC_ARGS],
            )
        )
    try:
        bench_claude.interleave(series, env, args.runs, samples=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"machine: {platform.node()} {platform.machine()}, nproc={os.cpu_count()}, "
        f"Python {platform.python_version()}, tokenlens {bench_claude._commit()}"
    )
    if exact is not None:
        print(f"tokenlens == ccusage to the token on the damaged tree: {exact}")
    print("| run | max proc RSS | tree PSS | wall (median) |")
    print("|---|---:|---:|---:|")
    for s in series:
        walls = statistics.median(r.wall for r in s.runs)
        print(f"| {s.name} | {s.maxrss:.0f} MB | {s.tree_pss or 0:.0f} MB | {walls:.1f} s |")
    base, big = series[0].maxrss, series[1].maxrss
    print(f"4 GiB damaged / 1 GiB clean, max proc RSS: {big / base:.2f}")
    if len(series) > 2:
        print(f"tokenlens / ccusage on 4 GiB, max proc RSS: {big / series[2].maxrss:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
