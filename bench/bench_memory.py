#!/usr/bin/env python3
"""Bounded memory: peak RSS of a cold `tokenlens report` across tree sizes, against ccusage.

    python bench/bench_memory.py                 # trees under bench/out/, 3 rounds
    python bench/bench_memory.py --runs 1 --no-peer
    python bench/bench_memory.py --with-8g       # add an 8 GiB tree (about 3 minutes to make)

The trees are generated once by gen_claude_tree.py and reused: clean 250 MiB and 1 GiB trees
(bench_claude.py's, read in one go), a clean 1480 MiB tree (above
claude_batches.ONE_GO_BYTES, so read in buckets, as are the next), and 4 GiB (and 8 GiB) trees
with 1% damaged lines. Each round runs tokenlens on every tree, interleaved, then ccusage (the peer,
`claude daily --json --offline`) on the 4 GiB tree. Reported: the largest single process's peak
RSS (wait4 ru_maxrss, what /usr/bin/time -v shows) and, from a sampled round, the peak summed
PSS of the whole process tree; wall medians for reference. Both tools must agree to the token
on the damaged 4 GiB tree first (compare_ccusage.py).
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

TREES = [
    ("clean 250 MiB", "claude-250mb-seed7", 250.0, 7, 0.0),
    ("clean 1 GiB", "claude-1024mb-seed7", 1024.0, 7, 0.0),
    ("clean 1480 MiB", "claude-1480mb-seed13", 1480.0, 13, 0.0),
    ("4 GiB with 1% damaged lines", "claude-4096mb-seed11-malformed1", 4096.0, 11, 1.0),
]
EIGHT = ("8 GiB with 1% damaged lines", "claude-8192mb-seed17-malformed1", 8192.0, 17, 1.0)
PEER_TREE = 3  # ccusage runs on the 4 GiB tree


def ensure(out: Path, name: str, size_mb: float, seed: int, malformed_pct: float) -> Path:
    tree = out / name
    done = tree / ".complete"
    if not done.exists():
        if tree.exists():
            shutil.rmtree(tree)
        gen_claude_tree.generate(tree, size_mb, seed, malformed_pct)
        done.write_text(f"{size_mb} {seed} {malformed_pct}\n")
    return tree


def machine() -> str:
    """The line that says where and at which commit a benchmark ran."""
    return (
        f"machine: {platform.node()} {platform.machine()}, nproc={os.cpu_count()}, "
        f"Python {platform.python_version()}, tokenlens {bench_claude._commit()}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true", help="skip ccusage")
    ap.add_argument("--with-8g", action="store_true", help="add an 8 GiB tree")
    args = ap.parse_args(argv)
    bytecode.compile_tokenlens()
    args.out.mkdir(parents=True, exist_ok=True)
    trees = TREES + ([EIGHT] if args.with_8g else [])
    made = [
        (label, ensure(args.out, name, size, seed, pct)) for label, name, size, seed, pct in trees
    ]
    peer_tree = made[PEER_TREE][1]
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    env = bench_claude.tool_env(peer_tree, work)
    tl = bench_claude.TOKENLENS
    series = [
        bench_claude.Series(
            f"tokenlens report, {label}", [tl, "report", str(tree / "projects"), "--json"]
        )
        for label, tree in made
    ]
    exact = None
    if not args.no_peer:
        exact = compare_ccusage.compare(peer_tree, "cli") == 0
        series.append(
            bench_claude.Series(
                f"ccusage claude daily --json --offline, {made[PEER_TREE][0]}",
                [bench_claude.CCUSAGE, *bench_claude.CC_ARGS],
            )
        )
    try:
        bench_claude.interleave(series, env, args.runs, samples=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(machine())
    if exact is not None:
        print(f"tokenlens == ccusage to the token on the damaged 4 GiB tree: {exact}")
    print("| run | max proc RSS | tree PSS | wall (median) |")
    print("|---|---:|---:|---:|")
    for s in series:
        walls = statistics.median(r.wall for r in s.runs)
        print(f"| {s.name} | {s.maxrss:.0f} MB | {s.tree_pss or 0:.0f} MB | {walls:.1f} s |")
    ours = [s.maxrss for s in series[: len(made)]]
    print(f"largest / smallest tokenlens peak across the trees: {max(ours) / min(ours):.2f}")
    print(f"4 GiB damaged / 1 GiB clean, max proc RSS: {ours[PEER_TREE] / ours[1]:.2f}")
    if not args.no_peer:
        peer = series[-1].maxrss
        print(f"tokenlens / ccusage on the 4 GiB tree, max proc RSS: {ours[PEER_TREE] / peer:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
