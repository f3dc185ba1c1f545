#!/usr/bin/env python3
"""Benchmark tokenlens against ccusage on generated Claude Code trees, side by side.

    python bench/bench_claude.py                      # 1 GiB + 250 MiB trees under bench/out/
    python bench/bench_claude.py --sizes 100 --runs 3 # quick look

For each tree (generated once by gen_claude_tree.py and reused) it first checks that both tools
agree to the token (compare_ccusage.py), then measures, interleaving the tools run by run so
machine noise hits both alike, after one untimed warm-up each (page cache warm for both):

  (a) cold:  `tokenlens report TREE/projects --json` (paths given, empty store)
             vs `ccusage claude daily --json --offline`; tokenlens finds the prices resolved by
             its warm-up run in its rate cache, and is timed with that cache off too (what a
             first-ever run costs)
  (b) warm:  `tokenlens ingest TREE/projects --store S` once, then
             `tokenlens report --store S --json` with nothing changed, vs ccusage again
  (c) peak memory of every run: the largest single process (ru_maxrss from wait4, what
      /usr/bin/time -v reports) and, from separate sampled runs, the peak summed PSS of the
      whole process tree (reader workers, node wrapper and native binary alike)
  (d) `tokenlens --version` wall time

ccusage is run as the user runs it (the npm `.bin/ccusage` node wrapper, which spawns the native
binary); the native binary alone is timed too, for reference. Medians of --runs runs; results
also go to OUT/bench_claude.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bytecode  # noqa: E402
import compare_ccusage  # noqa: E402
import gen_claude_tree  # noqa: E402

CCUSAGE = compare_ccusage.CCUSAGE
CCUSAGE_NATIVE = os.environ.get(
    "CCUSAGE_NATIVE", "/tmp/ccu/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
)
TOKENLENS = compare_ccusage.TOKENLENS
TARGETS = {"cold_ratio_max": 0.75, "warm_speedup_min": 5.0, "rss_mb_max": 512.0}


@dataclass
class Run:
    wall: float
    maxrss_mb: float  # largest single process in the tree (wait4 ru_maxrss)
    tree_pss_mb: float | None = None  # peak of the summed PSS of the process tree (sampled)


@dataclass
class Series:
    name: str
    cmd: list[str]
    runs: list[Run] = field(default_factory=list)  # timed
    sampled: list[Run] = field(default_factory=list)  # memory-sampled (not timed)

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def maxrss(self) -> float:
        return max(r.maxrss_mb for r in self.runs + self.sampled)

    @property
    def tree_pss(self) -> float | None:
        values = [r.tree_pss_mb for r in self.sampled if r.tree_pss_mb is not None]
        return max(values) if values else None


@dataclass
class TreeResult:
    tree: str
    size_mib: float
    exact_match: bool
    cold: list[Series]
    warm: list[Series] = field(default_factory=list)
    ingest: Run | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)  # os.getloadavg()
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2 :].split()
        parents[int(entry)] = int(rest[1])
    out, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        out.extend(frontier)
    return out


def _pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total / 1024


def run_once(
    cmd: list[str], env: dict[str, str], *, sample: bool = False, expect_json: bool = True
) -> Run:
    """Run cmd to completion; wall time and peak memory. Fails loudly on a non-zero exit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        peak = [0.0]
        stop = threading.Event()

        def sampler() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _pss_mb(_descendants(proc.pid)))
                stop.wait(0.02)

        thread = threading.Thread(target=sampler, daemon=True) if sample else None
        if thread:
            thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if thread:
            stop.set()
            thread.join()
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd} exited {proc.returncode}: {err.read()[-2000:]!r}")
        out.seek(0)
        if expect_json and not out.read(64).lstrip().startswith(b"{"):
            raise RuntimeError(f"{cmd} printed no JSON")
    return Run(wall, usage.ru_maxrss / 1024, peak[0] if sample else None)


def interleave(series: list[Series], env: dict[str, str], runs: int, samples: int) -> None:
    """One untimed warm-up each, then `runs` timed rounds (order rotated), then sampled rounds."""
    for s in series:
        run_once(s.cmd, env, expect_json="--json" in s.cmd)
    for i in range(runs):
        order = series[i % len(series) :] + series[: i % len(series)]
        for s in order:
            s.runs.append(run_once(s.cmd, env, expect_json="--json" in s.cmd))
    for _ in range(samples):
        for s in series:
            s.sampled.append(run_once(s.cmd, env, sample=True, expect_json="--json" in s.cmd))


def ensure_tree(out: Path, size_mb: float, seed: int) -> Path:
    tree = out / f"claude-{size_mb:g}mb-seed{seed}"
    done = tree / ".complete"
    if done.exists():
        return tree
    if tree.exists():
        shutil.rmtree(tree)
    started = time.perf_counter()
    st = gen_claude_tree.generate(tree, size_mb, seed)
    took = time.perf_counter() - started
    done.write_text(f"{size_mb} {seed}\n")
    print(
        f"generated {tree}: {st.bytes / 1048576:.0f} MiB, {st.files} files, "
        f"{st.lines} lines in {took:.1f}s",
        flush=True,
    )
    return tree


CC_ARGS = ["claude", "daily", "--json", "--offline"]
CC_ALL_ARGS = ["daily", "--json", "--offline"]


def tool_env(tree: Path, work: Path) -> dict[str, str]:
    """The environment both tools run in: ccusage reads `tree`, caches and stores go to `work`."""
    return dict(
        os.environ,
        CLAUDE_CONFIG_DIR=str(tree),
        XDG_CACHE_HOME=str(work / "cache"),
        TOKENLENS_STORE=str(work / "unused-store"),
        TZ="UTC",
        NO_COLOR="1",
    )


def bench_tree(tree: Path, runs: int, samples: int, *, warm: bool) -> TreeResult:
    projects = str(tree / "projects")
    work = Path(tempfile.mkdtemp(prefix="bench-claude-"))
    env = tool_env(tree, work)
    size = sum(p.stat().st_size for p in (tree / "projects").rglob("*") if p.is_file())
    load_before = os.getloadavg()
    try:
        ok = compare_ccusage.compare(tree, "cli") == 0
        cold = [
            Series("tokenlens report PATH --json", [TOKENLENS, "report", projects, "--json"]),
            Series("ccusage claude daily --json --offline", [CCUSAGE, *CC_ARGS]),
            Series("ccusage daily --json --offline (all agents)", [CCUSAGE, *CC_ALL_ARGS]),
            Series("ccusage native binary, claude daily (no node)", [CCUSAGE_NATIVE, *CC_ARGS]),
            Series(
                "tokenlens report PATH --json, price cache off (a first run)",
                ["env", "TOKENLENS_PRICE_CACHE=0", TOKENLENS, "report", projects, "--json"],
            ),
        ]
        interleave(cold, env, runs, samples)
        result = TreeResult(str(tree), size / 1048576, ok, cold, load_before=load_before)
        if warm:
            store = work / "store"
            ingest = [TOKENLENS, "ingest", projects, "--store", str(store)]
            result.ingest = run_once(ingest, env, expect_json=False)
            result.warm = [
                Series(
                    "tokenlens report --store S --json (warm)",
                    [TOKENLENS, "report", "--store", str(store), "--json"],
                ),
                Series("ccusage claude daily --json --offline", [CCUSAGE, *CC_ARGS]),
                Series("ccusage daily --json --offline (all agents)", [CCUSAGE, *CC_ALL_ARGS]),
            ]
            interleave(result.warm, env, runs, samples)
        result.load_after = os.getloadavg()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_version(runs: int) -> list[Series]:
    series = [
        Series("tokenlens --version", [TOKENLENS, "--version"]),
        Series("ccusage --version", [CCUSAGE, "--version"]),
    ]
    interleave(series, dict(os.environ), runs, 0)
    return series


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def ratios(t: TreeResult) -> tuple[float, float | None]:
    """Cold time ratio and warm speed-up, each against the faster `ccusage ... daily` command."""
    cold_cc = min(s.median for s in t.cold[1:] if s.cmd[0] == CCUSAGE)
    cold = t.cold[0].median / cold_cc
    if not t.warm:
        return cold, None
    warm_cc = min(s.median for s in t.warm[1:] if s.cmd[0] == CCUSAGE)
    return cold, warm_cc / t.warm[0].median


def report(machine: str, trees: list[TreeResult], version: list[Series]) -> None:
    print(f"\nmachine: {machine}")
    for t in trees:
        print(
            f"\n== {t.tree} ({t.size_mib:,.0f} MiB; tokenlens = ccusage to the token: "
            f"{t.exact_match}; load average {t.load_before[0]:.1f} before, "
            f"{t.load_after[0]:.1f} after)"
        )
        print(
            f"{'command':<46} {'median s':>9} {'min s':>7} {'max s':>7} "
            f"{'max proc MB':>11} {'tree PSS MB':>11}"
        )
        for s in t.cold + t.warm:
            walls = [r.wall for r in s.runs]
            print(
                f"{s.name:<46} {s.median:>9.3f} {min(walls):>7.3f} {max(walls):>7.3f} "
                f"{_mb(s.maxrss):>11} {_mb(s.tree_pss):>11}"
            )
        if t.ingest is not None:
            print(
                f"{'tokenlens ingest PATH --store S (once)':<46} {t.ingest.wall:>9.3f} "
                f"{'':>7} {'':>7} {_mb(t.ingest.maxrss_mb):>11}"
            )
        cold, warm = ratios(t)
        print(
            f"cold: tokenlens/ccusage = {cold:.2f}x of the faster ccusage command "
            f"(target <= {TARGETS['cold_ratio_max']}x)"
        )
        if warm is not None:
            print(
                f"warm: tokenlens is {warm:.1f}x faster than the faster ccusage command "
                f"(target >= {TARGETS['warm_speedup_min']:g}x)"
            )
    print()
    for s in version:
        print(f"{s.name:<46} median {s.median:.3f}s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "out", help="where trees are generated")
    ap.add_argument("--sizes", type=float, nargs="+", default=[1024.0, 250.0], help="MiB")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    ap.add_argument("--samples", type=int, default=1, help="extra runs sampling tree PSS")
    args = ap.parse_args(argv)
    bytecode.compile_tokenlens()
    for tool in (TOKENLENS, CCUSAGE):
        if not shutil.which(tool):
            print(f"error: {tool} not found", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    nproc = os.cpu_count()
    machine = (
        f"{platform.node()} {platform.machine()}, nproc={nproc}, Python {platform.python_version()}"
        f", {compare_ccusage.ccusage_version()}, tokenlens {_which_tokenlens()}"
    )
    trees = []
    for i, size in enumerate(args.sizes):
        tree = ensure_tree(args.out, size, args.seed)
        trees.append(bench_tree(tree, args.runs, args.samples, warm=i == 0))
    version = bench_version(args.runs)
    report(machine, trees, version)
    dump = args.out / "bench_claude.json"
    doc = {"machine": machine, "targets": TARGETS, "trees": trees, "version": version}
    dump.write_text(json.dumps(doc, default=_plain, indent=1) + "\n")
    print(f"\nraw numbers: {dump}")
    return 0


def _which_tokenlens() -> str:
    """The checkout's commit, or the TOKENLENS override (e.g. a frozen copy of one commit)."""
    if "TOKENLENS" in os.environ:
        return f"at {TOKENLENS} (TOKENLENS override)"
    return _commit()


def _commit() -> str:
    """The checked-out commit, marked when the working tree has local changes."""
    git = ["git", "-C", str(HERE.parent)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
    )
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"],
        check=False,
        capture_output=True,
        text=True,
    )
    return head.stdout.strip() + (" (with local changes)" if dirty.stdout.strip() else "")


def _plain(obj: object) -> object:
    if isinstance(obj, Series):
        return {**asdict(obj), "median": obj.median, "max_rss_mb": obj.maxrss}
    if isinstance(obj, Run):
        return asdict(obj)
    if isinstance(obj, TreeResult):
        return {f.name: getattr(obj, f.name) for f in fields(obj)}
    raise TypeError(type(obj).__name__)


if __name__ == "__main__":
    sys.exit(main())
