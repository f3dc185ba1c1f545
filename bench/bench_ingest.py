#!/usr/bin/env python3
"""Peak memory and wall time of `tokenlens ingest` of large trees into an empty store.

    python bench/bench_ingest.py                          # 4 GiB tree, 2 rounds
    python bench/bench_ingest.py --with-8g --runs 3
    git worktree add /tmp/old <commit>
    python bench/bench_ingest.py --against /tmp/old/src   # the same runs of another checkout

The trees are bench_memory.py's (made once by gen_claude_tree.py): 4 GiB, and with --with-8g
8 GiB, both with 1% damaged lines and read in buckets. Each run ingests a tree into a new,
empty store. With --against, the same command runs with that checkout's `src` on PYTHONPATH,
interleaved with this one's, so both see the same machine load. ccusage has no store, so there
is no peer tool here; the comparison is with another checkout. Reported: wall medians and the
largest single process's peak RSS (wait4 ru_maxrss).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_claude  # noqa: E402
import bench_memory  # noqa: E402
import bytecode  # noqa: E402

SRC = HERE.parent / "src"


def _series(label: str, src: Path, tree: Path, store: Path) -> bench_claude.Series:
    """`tokenlens ingest` of `tree` into an emptied `store`, with `src` first on the path."""
    script = 'rm -rf "$1" && PYTHONPATH="$2" exec "$3" -m tokenlens ingest --store "$1" "$4"'
    cmd = ["sh", "-c", script, "sh", str(store), str(src), sys.executable, str(tree / "projects")]
    return bench_claude.Series(label, cmd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--with-8g", action="store_true", help="add the 8 GiB tree")
    ap.add_argument("--against", type=Path, help="another checkout's src folder, run alongside")
    args = ap.parse_args(argv)
    bytecode.compile_tokenlens()
    trees = [bench_memory.TREES[bench_memory.PEER_TREE]]
    trees += [bench_memory.EIGHT] if args.with_8g else []
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    series = []
    for label, name, size, seed, pct in trees:
        tree = bench_memory.ensure(args.out, name, size, seed, pct)
        series.append(_series(f"tokenlens ingest, {label}", SRC, tree, work / "store"))
        if args.against:
            series.append(
                _series(f"{args.against} ingest, {label}", args.against, tree, work / "store")
            )
    env = bench_claude.tool_env(work, work)
    try:
        bench_claude.interleave(series, env, args.runs, samples=0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(bench_memory.machine())
    print("| run | max proc RSS | wall (median) | walls |")
    print("|---|---:|---:|---|")
    for s in series:
        walls = ", ".join(f"{r.wall:.1f}" for r in s.runs)
        print(
            f"| {s.name} | {s.maxrss:.0f} MB | {statistics.median(r.wall for r in s.runs):.1f} s"
            f" | {walls} |"
        )
    if args.against:
        for ours, theirs in zip(series[::2], series[1::2], strict=True):
            print(
                f"{ours.name}: peak {ours.maxrss / theirs.maxrss:.2f}x, "
                f"wall {ours.median / theirs.median:.2f}x the other checkout's"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
