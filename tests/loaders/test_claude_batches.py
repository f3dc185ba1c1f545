"""Large trees read in batches through temporary files give the rows of a one-go read, exactly.

The committed generated tree (every duplicate kind: streamed copies, resumes across files,
sidechain replays, progress mirrors, damaged lines) is read whole and in batches small enough
that copies of one message land in different batches; the rows, the notices and the ccusage
totals must not change.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.errors import TokenlensError
from tokenlens.loaders import claude_batches
from tokenlens.loaders.claude_batches import scan

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "tests" / "fixtures" / "claude_generated"
REAL = ROOT / "tests" / "fixtures" / "claude_code"
TOKENS = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")


def _whole(path: Path) -> pl.DataFrame:
    return scan([path], user="u").frame.collect().sort("event_id")


def _batched(path: Path, batch_bytes: int) -> pl.DataFrame:
    """Rows in bucket order, sorted here to compare with a whole read."""
    frame = scan([path], user="u", spill_bytes=0, batch_bytes=batch_bytes).frame
    return frame.collect().sort("event_id")


@pytest.mark.parametrize("batch_bytes", [1, 40_000, 300_000, 700_000])
def test_batches_give_the_rows_of_a_whole_read(batch_bytes: int) -> None:
    whole = _whole(GENERATED / "projects")
    assert whole.height == 231
    assert_frame_equal(_batched(GENERATED / "projects", batch_bytes), whole)


def test_batches_split_copies_of_one_message() -> None:
    # Without copies of one call in two batches, the test above would prove nothing.
    files = sorted((GENERATED / "projects").rglob("*.jsonl"), key=str)
    batches = claude_batches._batches(files, [f.stat().st_size for f in files], 300_000)
    assert len(batches) == 5
    seen: dict[str, int] = {}
    split = set()
    for number, batch in enumerate(batches):
        for path in batch:
            for raw in path.read_bytes().split(b"\n"):
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                message = (line.get("message") or {}).get("id")
                in_another = message and seen.setdefault(message, number) != number
                if line.get("type") == "assistant" and in_another:
                    split.add(message)
    assert len(split) == 5


def test_batched_totals_equal_ccusage() -> None:
    doc = json.loads((GENERATED / "expected.json").read_text())
    got = _batched(GENERATED / "projects", 40_000).select(pl.col(t).sum() for t in TOKENS)
    assert got.row(0, named=True) == {t: doc["totals"][t] for t in TOKENS}


def test_real_transcripts_in_batches() -> None:
    whole = _whole(REAL)
    assert_frame_equal(_batched(REAL, 1), whole)


def test_notices_are_summed_across_batches() -> None:
    whole = scan([GENERATED / "projects"], user="u")
    batched = scan([GENERATED / "projects"], user="u", spill_bytes=0, batch_bytes=40_000)
    # one notice per reason and file (with its line numbers): the same whichever way it is read
    located = sorted((n.message, n.count or 0, n.path or "") for n in whole.notices)
    assert sorted((n.message, n.count or 0, n.path or "") for n in batched.notices) == located
    malformed = [n for n in whole.notices if n.message.endswith("malformed lines holding usage")]
    assert sum(n.count or 0 for n in malformed) == 4
    assert batched.files == whole.files


def test_temporary_files_are_gone_after_the_rows_are_read() -> None:
    before = set(Path(tempfile.gettempdir()).glob(f"{claude_batches.TEMP_PREFIX}{os.getpid()}-*"))
    rows = _batched(GENERATED / "projects", 40_000)
    assert rows.height == 231
    made = set(Path(tempfile.gettempdir()).glob(f"{claude_batches.TEMP_PREFIX}{os.getpid()}-*"))
    for folder in made - before:
        # Only the deduplicated buckets are left while the process lives; spills are gone.
        assert all(p.name.startswith("rows-") for p in folder.iterdir())


def _die(*_: object) -> None:
    os._exit(9)


def test_a_reader_process_that_dies_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(multiprocessing, "get_context", lambda _method: fork)
    monkeypatch.setattr(claude_batches, "_spill_batches", _die)
    with pytest.raises(TokenlensError, match="stopped unexpectedly"):
        _batched(GENERATED / "projects", 40_000)
