"""Bytes that are not plain UTF-8: invalid sequences, byte-order marks, UTF-16, gzip, zip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_input.cli import CLAUDE_ABC, CURSOR_ROWS, assert_refused, report, totals

pytestmark = pytest.mark.usefixtures("corpus")


def test_invalid_utf8_in_a_json_line_is_replaced_and_the_line_counts() -> None:
    got = report("encoding/invalid_utf8.jsonl", "--by", "project")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == [
        (
            "Claude Code: read lines holding invalid UTF-8 (bad bytes replaced)",
            1,
            "encoding/invalid_utf8.jsonl:2",
        )
    ]
    projects = {row["project"] for row in got.doc()["rows"]}
    assert projects == {"/home/dev/webapp", "/home/dev/caf\ufffd"}


def test_invalid_utf8_in_a_csv_row_is_replaced_and_the_row_counts() -> None:
    got = report("encoding/invalid_utf8.csv", "--by", "model")
    assert got.totals() == CURSOR_ROWS
    assert got.warnings() == [
        (
            "Cursor: read rows holding invalid UTF-8 (bad bytes replaced)",
            1,
            "encoding/invalid_utf8.csv:3",
        )
    ]
    assert "gpt-5 caf\ufffd" in {row["model"] for row in got.doc()["rows"]}


def test_a_utf8_byte_order_mark_is_ignored_in_json_lines() -> None:
    got = report("encoding/bom.jsonl")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []


def test_a_csv_with_a_byte_order_mark_and_crlf_line_endings_reads_whole() -> None:
    got = report("encoding/bom_crlf.csv")
    assert got.totals() == CURSOR_ROWS
    assert got.warnings() == []


def test_a_utf16_csv_from_excel_reads_like_its_utf8_twin() -> None:
    got = report("encoding/utf16.csv")
    assert got.totals() == CURSOR_ROWS
    assert got.warnings() == []


def test_a_utf16_json_report_saved_by_powershell_reads_whole() -> None:
    got = report("encoding/utf16_powershell.json")
    assert got.totals() == totals(2, 1300, 300, 5000, 850)
    assert got.warnings() == []


def test_a_tab_separated_utf16_file_is_refused_with_a_way_out() -> None:
    assert_refused(
        report("encoding/utf16_tabs.csv"),
        "encoding/utf16_tabs.csv: a tab-separated file, not a usage export tokenlens knows",
        "Save it as CSV (comma-separated)",
    )


def test_a_binary_file_is_called_binary_not_tab_separated(tmp_path: Path) -> None:
    # Bytes as a disk image or a download of the wrong thing holds them: tabs and NULs included.
    path = tmp_path / "usage.csv"
    path.write_bytes(bytes(range(256)) * 16)
    assert_refused(
        report(str(path)),
        f"{path}: a binary file, not a usage export tokenlens knows",
        "Known formats: ",
    )
    folder = tmp_path / "exports"
    folder.mkdir()
    path.rename(folder / "usage.csv")
    assert_refused(  # nothing else to read there: the hint says what was skipped
        report(str(folder)),
        f"no usage logs or exports found under {folder}",
        "Found only what was skipped: skipped binary files (not a known usage export) (1) "
        f"[{folder / 'usage.csv'}].",
    )


def test_gzip_compressed_json_lines_read_like_the_plain_file() -> None:
    got = report("compressed/session.jsonl.gz", "--by", "session")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []
    assert [row["session"] for row in got.doc()["rows"]] == ["session"]  # not "session.jsonl"


def test_a_gzip_compressed_csv_reads_like_the_plain_file() -> None:
    got = report("compressed/usage.csv.gz")
    assert got.totals() == CURSOR_ROWS
    assert got.warnings() == []


def test_a_cut_off_gzip_file_is_refused() -> None:
    assert_refused(
        report("compressed/cut_off.csv.gz"),
        "compressed/cut_off.csv.gz: cannot read: compressed file is cut off",
        "The file is damaged or cut short",
    )


def test_a_zip_archive_is_refused_with_a_way_out() -> None:
    assert_refused(
        report("compressed/exports.zip"),
        "compressed/exports.zip: a zip archive; tokenlens reads the files inside it, not the "
        "archive",
        "Unzip it and give the folder",
    )
