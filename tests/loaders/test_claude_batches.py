"""Large trees read in buckets through temporary files give the rows of a one-go read, exactly.

The committed generated tree (every duplicate kind: streamed copies, resumes across files,
sidechain replays, progress mirrors, damaged lines) is read whole and in buckets, with the
readers writing their rows out often enough that copies of one message sit in different
writes; the rows, the notices and the ccusage totals must not change.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from tokenlens.cli import app
from tokenlens.errors import TokenlensError
from tokenlens.loaders import claude_batches, claude_lines
from tokenlens.loaders.claude_batches import scan

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "tests" / "fixtures" / "claude_generated"
REAL = ROOT / "tests" / "fixtures" / "claude_code"
TOKENS = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")
runner = CliRunner()


def _whole(path: Path) -> pl.DataFrame:
    return scan([path], user="u").frame.collect().sort("event_id")


def _batched(path: Path, bucket_bytes: int, flush_rows: int = 7) -> pl.DataFrame:
    """Rows in bucket order, sorted here to compare with a whole read."""
    frame = scan(
        [path], user="u", one_go_bytes=0, bucket_bytes=bucket_bytes, flush_rows=flush_rows
    ).frame
    return frame.collect().sort("event_id")


@pytest.mark.parametrize(
    ("bucket_bytes", "flush_rows"), [(1, 1), (40_000, 7), (300_000, 1), (700_000, 50_000)]
)
def test_buckets_give_the_rows_of_a_whole_read(bucket_bytes: int, flush_rows: int) -> None:
    whole = _whole(GENERATED / "projects")
    assert whole.height == 231
    assert_frame_equal(_batched(GENERATED / "projects", bucket_bytes, flush_rows), whole)


def test_copies_of_one_message_are_written_apart_and_share_a_bucket(tmp_path: Path) -> None:
    # Without copies of one call in different writes, the test above would prove nothing.
    files = claude_lines.find_files([GENERATED / "projects"])
    spill = claude_lines.Spill(str(tmp_path), 3, flush_rows=1)
    claude_lines.read_files(files, spill=spill)
    where: dict[str, set[str]] = {}
    for piece in tmp_path.iterdir():
        packed = claude_lines.load_packed(piece)
        ids = packed.ids.split("\n") if isinstance(packed.ids, str) else packed.ids
        for event_id in ids:
            where.setdefault(event_id.partition(":")[0], set()).add(piece.name)
    apart = {m: names for m, names in where.items() if len(names) > 1}
    assert len(apart) == 35
    for message, names in apart.items():
        bucket = claude_lines.bucket_of(message, 3)
        assert {n.split("-")[0] for n in names} == {f"b{bucket}"}


def test_batched_totals_equal_ccusage() -> None:
    doc = json.loads((GENERATED / "expected.json").read_text())
    got = _batched(GENERATED / "projects", 40_000).select(pl.col(t).sum() for t in TOKENS)
    assert got.row(0, named=True) == {t: doc["totals"][t] for t in TOKENS}


def test_real_transcripts_in_batches() -> None:
    whole = _whole(REAL)
    assert_frame_equal(_batched(REAL, 1), whole)


def test_notices_are_summed_across_batches() -> None:
    whole = scan([GENERATED / "projects"], user="u")
    batched = scan(
        [GENERATED / "projects"], user="u", one_go_bytes=0, bucket_bytes=40_000, flush_rows=7
    )
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
        # Only the deduplicated buckets are left while the process lives; the readers' are gone.
        assert all(p.name.startswith("rows-") for p in folder.iterdir())


def _report(monkeypatch: pytest.MonkeyPatch, args: list[str], *, in_parts: bool) -> str:
    """`tokenlens report` of the generated tree, read whole or in buckets of 40 kB (each priced
    and added up as a part of its own)."""
    if in_parts:
        monkeypatch.setattr(claude_batches, "ONE_GO_BYTES", 0)
        monkeypatch.setattr(claude_batches, "BUCKET_BYTES", 40_000)
    else:
        monkeypatch.undo()
    result = runner.invoke(app, ["report", str(GENERATED / "projects"), "--tz", "UTC", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--json"],
        ["--by", "model", "--by", "day", "--json"],
        ["--by", "session", "--format", "csv"],
        ["--by", "model_family", "--by", "project", "--json", "--since", "2025-10-01"],
        ["--by", "week", "--model", "sonnet", "--json", "--cost-mode", "calculate"],
        [],  # the table: by day and by model
    ],
)
def test_a_report_added_up_in_parts_equals_a_whole_read(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    whole = _report(monkeypatch, args, in_parts=False)
    parts = _report(monkeypatch, args, in_parts=True)
    if "--json" in args:
        a, b = json.loads(whole), json.loads(parts)
        assert a.pop("generated_at") and b.pop("generated_at")
        assert a["rows"], "the report must have rows to compare"
        assert b == a
    else:
        assert parts == whole
        assert len(whole.splitlines()) > 5


def test_the_report_is_read_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without parts, the test above would compare a whole read with itself.
    from tokenlens.analysis import totals

    calls: list[int] = []
    real = totals.grand_and_grouped_parts

    def counted(parts: list[pl.LazyFrame], **kwargs: object) -> object:
        calls.append(len(parts))
        return real(parts, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(totals, "grand_and_grouped_parts", counted)
    _report(monkeypatch, ["--json"], in_parts=True)
    assert calls and calls[0] > 10


def _ingest(monkeypatch: pytest.MonkeyPatch, store: Path, *, in_parts: bool) -> tuple[str, str]:
    """`tokenlens ingest` of the generated tree (read whole, or in buckets of 40 kB), then the
    store's rows as CSV, sorted."""
    if in_parts:
        monkeypatch.setattr(claude_batches, "ONE_GO_BYTES", 0)
        monkeypatch.setattr(claude_batches, "BUCKET_BYTES", 40_000)
    else:
        monkeypatch.undo()
    done = runner.invoke(app, ["ingest", str(GENERATED / "projects"), "--store", str(store)])
    assert done.exit_code == 0, done.output
    out = store / "rows.csv"
    exported = runner.invoke(app, ["export", "--store", str(store), "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = sorted(out.read_text().splitlines())
    return done.stderr.split("files (")[1].split(";")[0], "\n".join(rows)


def test_an_ingest_read_in_buckets_stores_the_rows_of_a_whole_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    whole = _ingest(monkeypatch, tmp_path / "whole", in_parts=False)
    parts = _ingest(monkeypatch, tmp_path / "parts", in_parts=True)
    assert whole[0] == "0 unchanged): 231 events read, 231 new"
    assert parts == whole
    assert len(whole[1].splitlines()) == 232  # the header and 231 rows
    again = runner.invoke(
        app, ["ingest", str(GENERATED / "projects"), "--store", str(tmp_path / "parts")]
    )
    assert "0 events read, 0 new" in again.stderr


def _full(*_: object, **__: object) -> None:
    raise OSError(28, "No space left on device")


def test_a_full_temporary_folder_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claude_lines.pickle, "dump", _full)
    with pytest.raises(TokenlensError, match="No space left on device") as caught:
        scan([GENERATED / "projects"], user="u", one_go_bytes=0, bucket_bytes=40_000)
    assert caught.value.hint is not None and "TMPDIR" in caught.value.hint


def test_a_bucket_that_cannot_be_written_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def full(*_: object, **__: object) -> None:
        raise pl.exceptions.ComputeError("No space left on device (os error 28)")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(TokenlensError, match="No space left on device"):
        scan([GENERATED / "projects"], user="u", one_go_bytes=0, bucket_bytes=40_000)


def test_no_temporary_folder_at_all_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claude_batches.tempfile, "mkdtemp", _full)
    monkeypatch.setattr(claude_batches.tempfile, "gettempdir", _full)  # no folder can be found
    with pytest.raises(TokenlensError, match="could not write temporary files"):
        scan([GENERATED / "projects"], user="u", one_go_bytes=0, bucket_bytes=40_000)


def test_warnings_name_the_same_files_in_the_same_order(tmp_path: Path) -> None:
    # More files with unreadable timestamps than a warning lists (10): the same ones are named.
    line = (
        '{{"type":"assistant","timestamp":"{ts}","sessionId":"s{n}","requestId":"r{n}{k}",'
        '"message":{{"id":"m{n}{k}","model":"claude-sonnet-4-20250514",'
        '"usage":{{"input_tokens":1,"output_tokens":2}}}}}}\n'
    )
    for n in range(14):
        folder = tmp_path / "projects" / f"-p{n % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        text = "".join(line.format(ts="not a time", n=n, k=k) for k in range(3))
        text += line.format(ts="2025-10-01T10:00:00.000Z", n=n, k=9)
        (folder / f"s{n}.jsonl").write_text(text)
    root = tmp_path / "projects"
    whole = scan([root], user="u")
    parts = scan([root], user="u", one_go_bytes=0, bucket_bytes=300, flush_rows=2)
    assert [(n.message, n.count, n.path) for n in parts.notices] == [
        (n.message, n.count, n.path) for n in whole.notices
    ]
    assert len(whole.notices) == 14 and {n.count for n in whole.notices} == {3}
