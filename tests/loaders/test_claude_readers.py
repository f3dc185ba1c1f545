"""Two processes reading one tree give the rows and notices of one process, exactly.

A tree over `PARALLEL_MIN_BYTES` is read by forked children, which take files from a shared
counter; which process reads which file depends on timing. The committed generated
tree holds every duplicate kind (streamed copies, resumes across files, sidechain replays,
progress mirrors) and damaged lines, so copies of one message land in both processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.errors import TokenlensError
from tokenlens.loaders import claude_code, claude_lines

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "tests" / "fixtures" / "claude_generated"
REAL = ROOT / "tests" / "fixtures" / "claude_code"
TOKENS = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")


def _read(path: Path, parallel_min_bytes: int) -> tuple[pl.DataFrame, list[tuple[object, ...]]]:
    files, chunk = claude_lines.read_records([path], parallel_min_bytes=parallel_min_bytes)
    scan = claude_code.to_scan(files, chunk, user="u")
    notices = [(n.message, n.count, n.path) for n in scan.notices]
    return scan.frame.collect(), notices


@pytest.mark.parametrize("tree", [GENERATED / "projects", REAL])
def test_two_readers_give_the_rows_and_notices_of_one(tree: Path) -> None:
    one_rows, one_notices = _read(tree, claude_lines.PARALLEL_MIN_BYTES)
    for _ in range(3):  # the split between the processes changes run to run
        two_rows, two_notices = _read(tree, 0)
        assert_frame_equal(two_rows, one_rows)
        assert two_notices == one_notices


def _split_read(tree: Path, split: list[list[int]]) -> pl.DataFrame:
    """The rows of `tree` when each reader reads the files (by index) of one part of `split`."""
    files = claude_lines.find_files([tree])
    jobs = [claude_lines._job(path, i) for i, path in enumerate(files)]
    chunks = [claude_lines.scan_files(jobs, iter([*part, -1]).__next__) for part in split]
    return claude_code.to_scan(files, claude_lines.merge(chunks), user="u").frame.collect()


def test_any_split_of_the_files_between_readers_gives_the_rows_of_one() -> None:
    # Which process reads which file depends on timing; copies of one message (streamed
    # copies, resumes, sidechain replays, progress mirrors) then land in different readers.
    tree = GENERATED / "projects"
    count = len(claude_lines.find_files([tree]))
    one = _split_read(tree, [list(range(count))])
    splits = [
        [list(range(0, count, 2)), list(range(1, count, 2))],
        [list(range(count // 2, count)), list(range(count // 2))],
        [[i] for i in range(count)],
    ]
    for split in splits:
        assert_frame_equal(_split_read(tree, split), one)
    assert one.height == 231


def test_two_readers_match_the_ccusage_totals() -> None:
    doc = json.loads((GENERATED / "expected.json").read_text())
    rows, _ = _read(GENERATED / "projects", 0)
    got = rows.select(pl.col(t).sum() for t in TOKENS).row(0, named=True)
    assert got == {t: doc["totals"][t] for t in TOKENS}


def _killed(*_: object) -> None:
    os._exit(9)


def test_a_reader_that_dies_is_an_error_not_missing_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claude_lines, "_child", _killed)
    with pytest.raises(TokenlensError, match="stopped unexpectedly"):
        claude_lines.read_records([GENERATED / "projects"], parallel_min_bytes=0)


def test_the_forked_reader_of_the_command_line() -> None:
    # In a test process polars is loaded, so the child comes from a fork server; the command
    # line forks before polars loads. This runs that path in a fresh interpreter.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tokenlens.loaders import claude_lines\n"
        "files, chunk = claude_lines.read_records([Path(sys.argv[1])], parallel_min_bytes=0)\n"
        "assert 'polars' not in sys.modules\n"
        "readers = len(chunk.rows)\n"
        "from tokenlens.loaders import claude_code\n"
        "rows = claude_code.to_scan(files, chunk, user='u').frame.collect()\n"
        "print(readers, rows.height, *(rows[t].sum() for t in sys.argv[2:]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(GENERATED / "projects"), *TOKENS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    doc = json.loads((GENERATED / "expected.json").read_text())
    assert [int(x) for x in out[1:]] == [231, *(doc["totals"][t] for t in TOKENS)]
    assert out[0] in ("1", "2")  # one or both processes found usage in their files


def _pipe_filling_tree(root: Path) -> Path:
    """Four transcripts of 3,000 calls each: more rows than a pipe holds."""
    projects = root / "projects" / "-p"
    projects.mkdir(parents=True)
    for f in range(4):
        lines = [
            json.dumps(
                {
                    "type": "assistant",
                    "timestamp": "2025-09-01T12:00:00.000Z",
                    "sessionId": f"s{f}",
                    "requestId": f"r{f}-{i}",
                    "message": {
                        "id": f"m{f}-{i}",
                        "model": "claude-sonnet-4-20250514",
                        "usage": {"input_tokens": i, "output_tokens": 1},
                    },
                },
                separators=(",", ":"),  # as Claude Code writes them: `"usage":{`
            )
            for i in range(3000)
        ]
        (projects / f"s{f}.jsonl").write_text("\n".join(lines) + "\n")
    return root / "projects"


def test_the_pipe_filling_tree_holds_12000_rows(tmp_path: Path) -> None:
    _, chunk = claude_lines.read_records([_pipe_filling_tree(tmp_path)])
    assert sum(len(rows.costs) for rows in chunk.rows) == 12_000


def test_a_failure_here_does_not_wait_for_the_child(tmp_path: Path) -> None:
    # The child may be blocked sending more rows than a pipe holds when this process fails
    # (here: in what it does meanwhile). It must not wait for ever on the forked child.
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tokenlens.loaders import claude_lines\n"
        "def meanwhile():\n"
        "    time.sleep(1)\n"
        "    raise RuntimeError('failed meanwhile')\n"
        "try:\n"
        "    claude_lines.read_records([Path(sys.argv[1])], meanwhile=meanwhile,"
        " parallel_min_bytes=0)\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(_pipe_filling_tree(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "failed meanwhile"
