"""What the file system can hand over: folders mixing good and bad files, symbolic link loops,
unreadable files and folders, folders where files were expected, and very many files.

The rule: inside a folder, a file that would be refused on its own is skipped with a counted
warning naming it, and the rest is read; a file named on the command line is refused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.bad_input.cli import (
    BAD,
    CLAUDE_ABC,
    assert_refused,
    report,
    tokenlens,
    totals,
    unreadable,
)
from tokenlens import loaders
from tokenlens.errors import InputError

GOOD = (BAD / "jsonl/crlf.jsonl").read_bytes()  # three Claude Code lines: CLAUDE_ABC

# What `tests/fixtures/bad/folder` holds besides its two good files, and what is said of each.
FOLDER_WARNINGS = [
    ("could not read file (compressed file is cut off)", 1, "folder/cursor/cut_off.csv.gz"),
    ("skipped empty files", 1, "folder/cursor/empty.csv"),
    (
        "skipped zip archives (unzip them to read the files inside)",
        1,
        "folder/cursor/exports.zip",
    ),
    ("skipped files that are not a known usage export", 1, "folder/notes/todo.json"),
    (
        "skipped a file: a Cursor usage CSV without the column 'Output Tokens'",
        1,
        "folder/cursor/missing_column.csv",
    ),
]
FOLDER_TOTALS = totals(6, 1300, 1600, 13000, 260)  # the transcript and the Cursor CSV


def test_inside_a_folder_bad_files_are_skipped_one_by_one_and_the_rest_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(BAD)
    got = report("folder")
    assert got.totals() == FOLDER_TOTALS
    assert got.warnings() == FOLDER_WARNINGS


@pytest.mark.parametrize(
    ("name", "error", "hint"),
    [
        ("cursor/empty.csv", "empty file", "There is nothing to read"),
        ("cursor/cut_off.csv.gz", "cannot read: compressed file is cut off", "The file is dam"),
        (
            "cursor/exports.zip",
            "a zip archive; tokenlens reads the files inside it, not the archive",
            "Unzip it",
        ),
        ("notes/todo.json", "not a usage export tokenlens knows", "Known formats:"),
        (
            "cursor/missing_column.csv",
            "a Cursor usage CSV without the column 'Output Tokens'",
            "Cursor's export has",
        ),
    ],
)
def test_the_same_files_named_on_the_command_line_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, error: str, hint: str
) -> None:
    monkeypatch.chdir(BAD / "folder")
    assert_refused(report(name), f"{name}: {error}", hint)


def test_a_refused_file_named_beside_a_good_one_still_refuses_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(BAD / "folder")
    assert_refused(
        report("cursor/usage.csv", "cursor/missing_column.csv"),
        "cursor/missing_column.csv: a Cursor usage CSV without the column 'Output Tokens'",
        "Cursor's export has",
    )


def test_ingest_follows_the_same_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    store = str(tmp_path / "store")
    done = tokenlens("ingest", "folder", "--store", store)
    assert done.code == 0, done.stderr
    assert "Warning: skipped empty files (1) [folder/cursor/empty.csv]" in done.stderr
    assert "ingested 2 of 3 files (0 unchanged, 1 skipped): 6 events read, 6 new" in done.stderr
    assert report("--store", store).totals() == FOLDER_TOTALS
    again = tokenlens("ingest", "folder", "--store", store)  # the refused file is tried again
    assert "ingested 0 of 3 files (2 unchanged, 1 skipped): 0 events read" in again.stderr
    refused = tokenlens("ingest", "folder/cursor/empty.csv", "--store", store)
    assert_refused(refused, "folder/cursor/empty.csv: empty file", "There is nothing to read")


# --------------------------------------------------------------------------- paths in warnings


def test_warnings_name_files_inside_an_absolute_folder_relative_to_it() -> None:
    got = report(str(BAD / "folder"))
    assert got.warnings() == FOLDER_WARNINGS
    assert str(BAD) not in got.stderr


def test_with_two_folders_named_each_file_starts_with_its_folder(tmp_path: Path) -> None:
    for name in ("alice", "bob"):
        (tmp_path / name / "p").mkdir(parents=True)
        (tmp_path / name / "p" / "s1.jsonl").write_bytes(GOOD)
        (tmp_path / name / "p" / "empty.jsonl").write_bytes(b"")
    got = report(str(tmp_path / "alice"), str(tmp_path / "bob"))
    assert got.totals() == CLAUDE_ABC  # the same transcript twice counts once
    assert got.warnings() == [
        ("skipped empty files", 1, "alice/p/empty.jsonl"),
        ("skipped empty files", 1, "bob/p/empty.jsonl"),
    ]


def test_many_files_of_one_kind_are_listed_ten_then_summed(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "s1.jsonl").write_bytes(GOOD)
    for n in range(25):
        (folder / f"empty-{n:02}.csv").write_bytes(b"")
    got = report(str(folder))
    assert got.totals() == CLAUDE_ABC
    listed = [("skipped empty files", 1, f"exports/empty-{n:02}.csv") for n in range(10)]
    assert got.warnings() == [*listed, ("skipped empty files (in 15 more files)", 15, None)]


# --------------------------------------------------------------------------- links and folders


def test_symbolic_link_loops_are_not_followed_and_the_rest_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "s1.jsonl").write_bytes(GOOD)
    os.symlink("loop.jsonl", folder / "loop.jsonl")  # a link to itself
    os.symlink(".", folder / "again")  # a folder link back up: a walk that followed it never ends
    os.symlink("gone.jsonl", folder / "dangling.jsonl")
    got = report(str(folder))
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == [
        ("could not read file (a symbolic link to a missing file)", 1, "logs/dangling.jsonl"),
        ("could not read file (Too many levels of symbolic links)", 1, "logs/loop.jsonl"),
    ]


def test_a_symbolic_link_loop_named_on_the_command_line_is_refused(tmp_path: Path) -> None:
    os.symlink("loop.jsonl", tmp_path / "loop.jsonl")
    assert_refused(
        report(str(tmp_path / "loop.jsonl")),
        f"{tmp_path / 'loop.jsonl'}: cannot read: Too many levels of symbolic links",
        "Check the path and its permissions.",
    )


def test_a_folder_where_a_file_was_expected_is_read_as_a_folder(tmp_path: Path) -> None:
    odd = tmp_path / "usage.csv"  # a folder with a file's name
    odd.mkdir()
    assert_refused(
        report(str(odd)),
        f"no usage logs or exports found under {odd}",
        "Give Claude Code transcripts",
    )
    (odd / "s1.jsonl").write_bytes(GOOD)
    assert report(str(odd)).totals() == CLAUDE_ABC


def test_every_loader_refuses_a_folder_given_as_a_file(tmp_path: Path) -> None:
    for module in loaders.all_modules():
        if module.__name__.endswith(".claude_code"):
            continue  # reads every transcript under a folder it is given
        with pytest.raises(InputError, match="cannot read"):
            module.scan([tmp_path], user="u")


# --------------------------------------------------------------------------- unreadable


def test_an_unreadable_file_inside_a_folder_is_skipped_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "s1.jsonl").write_bytes(GOOD)
    locked = folder / "s2.jsonl"
    locked.write_bytes(GOOD.replace(b'"m', b'"x'))
    with unreadable(locked, monkeypatch):
        got = report(str(folder))
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == [("could not read file (Permission denied)", 1, "logs/s2.jsonl")]


def test_an_unreadable_file_named_on_the_command_line_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "s1.jsonl"
    locked.write_bytes(GOOD)
    with unreadable(locked, monkeypatch):
        got = report(str(locked))
    assert_refused(
        got, f"{locked}: cannot read: Permission denied", "Check the path and its permissions."
    )


def test_an_unreadable_folder_inside_a_folder_is_skipped_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "s2.jsonl").write_bytes(GOOD.replace(b'"m', b'"x'))
    (folder / "s1.jsonl").write_bytes(GOOD)
    with unreadable(folder / "locked", monkeypatch):
        got = report(str(folder))
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == [("could not read folder (Permission denied)", 1, "logs/locked")]


def test_an_unreadable_folder_named_on_the_command_line_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "s1.jsonl").write_bytes(GOOD)
    with unreadable(folder, monkeypatch):
        got = report(str(folder))
    assert_refused(
        got, f"{folder}: cannot read: Permission denied", "Check the path and its permissions."
    )


# --------------------------------------------------------------------------- many files


@pytest.mark.slow
def test_twenty_thousand_small_files_are_all_read(tmp_path: Path) -> None:
    line = (
        '{"type":"assistant","timestamp":"2025-10-01T10:00:00.000Z","requestId":"r%d",'
        '"message":{"id":"m%d","model":"claude-sonnet-4-20250514",'
        '"usage":{"input_tokens":3,"output_tokens":2}}}\n'
    )
    root = tmp_path / "projects"
    for n in range(20_000):
        folder = root / f"p{n // 1000:02}"
        if n % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"s{n}.jsonl").write_text(line % (n, n))
    (root / "p00" / "notes.csv").write_text("not,a,usage,export\n")
    got = report(str(root))
    assert got.totals() == totals(20_000, 60_000, 0, 0, 40_000)
    assert got.warnings() == [
        ("skipped files that are not a known usage export", 1, "projects/p00/notes.csv")
    ]
    shutil.rmtree(root)
