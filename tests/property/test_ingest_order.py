"""Ingest is an upsert that does not care how the files arrive.

Whatever subset of exports is ingested, in one run or in several runs in any order, and however
often a file is ingested again (unchanged, or touched so that it is read again), the store ends
up with the same rows, the same export and the same report as one run over all the files; and a
report read straight from the files agrees with the report read from the store.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.property import generated
from tests.property.generated import ClaudeLine
from tests.property.support import (
    NO_SHRINK,
    copy_fixtures,
    difference,
    fixture_files,
    ingest,
    report,
    snapshot,
    touch,
    write_config,
)

FIXTURE_FILES = fixture_files()
# Drawn by folder first, so the many small Claude Code files do not crowd out the other sources.
BY_FOLDER: dict[str, list[Path]] = {}
for _rel in FIXTURE_FILES:
    BY_FOLDER.setdefault(_rel.parts[0], []).append(_rel)
MAX_FIXTURES = 6


@dataclass(frozen=True)
class Plan:
    """How files reach the store: separate runs (batches of file slots, in order), then the slots
    ingested once more after their modification time changed. Slots without a file are skipped."""

    batches: tuple[tuple[int, ...], ...]
    again: tuple[int, ...] = ()

    def runs(self, files: Sequence[Path | None]) -> list[list[Path]]:
        out = []
        for batch in self.batches:
            paths = [p for i in batch if i < len(files) and (p := files[i]) is not None]
            if paths:
                out.append(paths)
        return out

    def touched(self, files: Sequence[Path | None]) -> list[Path]:
        return [p for i in self.again if i < len(files) and (p := files[i]) is not None]


@st.composite
def plans(draw: st.DrawFn, slots: int) -> Plan:
    """The slots permuted and cut into up to four runs, and some slots to ingest again."""
    order = draw(st.permutations(range(slots)))
    cuts = sorted(draw(st.sets(st.integers(1, slots - 1), max_size=3)))
    bounds = [0, *cuts, slots]
    batches = tuple(tuple(order[a:b]) for a, b in itertools.pairwise(bounds))
    again = draw(st.lists(st.integers(0, slots - 1), unique=True, max_size=slots))
    return Plan(batches, tuple(again))


def check(root: Path, files: Sequence[Path | None], plan: Plan) -> None:
    """The property, for files already on disk under `root` (None: a slot left empty)."""
    present = [p for p in files if p is not None]
    config = write_config(root / "config")
    one = root / "one-run"
    ingest(one, present, config)
    expected = snapshot(one, config)

    batched = root / "batched"
    for run in plan.runs(files):
        ingest(batched, run, config)
    got = snapshot(batched, config)
    problems = difference(expected, got)
    assert not problems, f"separate runs {plan.runs(files)} differ from one run:\n{problems}"

    ingest(batched, list(reversed(present)), config)  # unchanged files: nothing to read
    again = plan.touched(files)
    if again:
        touch(again)
        ingest(batched, again, config)
    got = snapshot(batched, config)
    problems = difference(expected, got)
    assert not problems, f"ingesting {again} again changed the store:\n{problems}"

    direct = report(*present, "--config", config, "--tz", "UTC", "--by", "source", "--by", "day")
    stored = expected["report"]
    assert (direct["totals"], direct["rows"]) == (stored["totals"], stored["rows"]), (
        "a report on the files differs from the report on the store"
    )


def _write(root: Path, tree: dict[str, str], names: Sequence[str]) -> list[Path | None]:
    """Write the tree under root/data; one slot per name, None where the tree has no such file."""
    out: list[Path | None] = []
    for name in names:
        if name not in tree:
            out.append(None)
            continue
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tree[name], encoding="utf-8")
        out.append(path)
    return out


fixture_picks = st.lists(
    st.sampled_from(sorted(BY_FOLDER)).flatmap(lambda f: st.sampled_from(BY_FOLDER[f])),
    min_size=1,
    max_size=MAX_FIXTURES,
    unique=True,
)
_SUBAGENT_SESSION = Path(
    "claude_generated/projects/-home-dev-work-ml-pipeline/3bd7e4ab-e9fa-4374-88a9-3d87c0b34d0d"
)


@settings(NO_SHRINK, max_examples=10)
@given(picked=fixture_picks, plan=plans(MAX_FIXTURES))
# A session file and its subagent file hold a copy of one message: each in its own run.
@example(
    picked=[
        _SUBAGENT_SESSION.with_suffix(".jsonl"),
        _SUBAGENT_SESSION / "subagents" / "agent-a8f467a8a6a6fc390.jsonl",
    ],
    plan=Plan(((0,), (1,))),
)
def test_fixture_exports_ingest_to_the_same_store_in_any_order(
    tmp_path: Path, picked: list[Path], plan: Plan
) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    check(root, copy_fixtures(picked, root / "data"), plan)


def _claude(*lines: ClaudeLine) -> dict[str, str]:
    tree: dict[str, str] = {}
    for line in lines:
        tree[line.file] = tree.get(line.file, "") + line.text()
    return tree


_S1, _SUB, _PX, _Q = generated.CLAUDE_FILES
_SONNET = generated.CLAUDE_MODELS[0]


@settings(NO_SHRINK, max_examples=12)
@given(tree=generated.claude_trees(), plan=plans(len(generated.CLAUDE_FILES)))
# Streamed copies of one response on both sides of a month's end, in two sessions.
@example(
    tree=_claude(
        ClaudeLine(_S1, "msg_a", "req_1", "2025-09-30T23:59:59.000Z", _SONNET, (9, 0, 0, 5)),
        ClaudeLine(_Q, "msg_a", "req_1", "2025-10-01T00:00:01.000Z", _SONNET, (9, 0, 0, 20)),
    ),
    plan=Plan(((0,), (3,))),
)
# A sidechain replay (same message, new request id) written after the month ended.
@example(
    tree=_claude(
        ClaudeLine(_S1, "msg_a", "req_1", "2025-09-30T23:59:59.000Z", _SONNET, (9, 0, 0, 5)),
        ClaudeLine(
            _Q, "msg_a", "req_2", "2025-10-01T00:00:01.000Z", _SONNET, (9, 0, 0, 5), sidechain=True
        ),
    ),
    plan=Plan(((0,), (3,))),
)
# Identical copies in projects `p` and `p-x`: path order and text order of the files disagree.
@example(
    tree=_claude(
        ClaudeLine(_S1, "msg_a", "req_1", "2025-09-15T12:00:00.000Z", _SONNET, (9, 0, 0, 5)),
        ClaudeLine(_PX, "msg_a", "req_1", "2025-09-15T12:00:00.000Z", _SONNET, (9, 0, 0, 5)),
    ),
    plan=Plan(((0,), (2,))),
)
def test_claude_code_copies_across_files_ingest_the_same_in_any_order(
    tmp_path: Path, tree: dict[str, str], plan: Plan
) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    check(root, _write(root, tree, generated.CLAUDE_FILES), plan)


_CURSOR_MODEL = "claude-4-sonnet"
_X = generated.CursorEvent(
    "2025-10-01T00:00:01.000Z", "On-Demand", _CURSOR_MODEL, (147, 130, 1695, 850)
)
_Y = generated.CursorEvent(
    "2025-10-01T00:00:01.000Z", "On-Demand", _CURSOR_MODEL, (161, 3907, 112, 634)
)
_Z = generated.CursorEvent("2025-09-15T12:00:00.000Z", "On-Demand", "auto", (25, 106, 142, 2437))


@settings(NO_SHRINK, max_examples=10)
@given(tree=generated.cursor_downloads(), plan=plans(len(generated.CURSOR_FILES)))
# Two downloads hold one event with the same cost and the same newest date; the third file, read
# again on its own, prices the event beside other rows.
@example(
    tree=dict(
        zip(
            generated.CURSOR_FILES,
            (
                generated.CURSOR_HEADER + _X.row("$1.20"),
                generated.CURSOR_HEADER + _Y.row("0.07"),
                generated.CURSOR_HEADER + _Y.row("0.07") + _Z.row("0.05") + _X.row("$1.20"),
            ),
            strict=True,
        )
    ),
    plan=Plan(((0, 1, 2),), again=(2,)),
)
def test_overlapping_cursor_downloads_ingest_the_same_in_any_order(
    tmp_path: Path, tree: dict[str, str], plan: Plan
) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    check(root, _write(root, tree, generated.CURSOR_FILES), plan)
