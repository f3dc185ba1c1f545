"""CSV files that are empty, header-only, or whose columns are extra, missing, renamed,
reordered, or hold line breaks."""

from __future__ import annotations

import pytest

from tests.bad_input.cli import BAD, CURSOR_ROWS, assert_refused, report, totals

pytestmark = pytest.mark.usefixtures("corpus")

CURSOR_HINT = "Cursor's export has Date, Model and Input (w/ Cache Write)"


def test_an_empty_file_is_refused() -> None:
    assert_refused(
        report("csv/empty.csv"),
        "csv/empty.csv: empty file",
        "There is nothing to read; export or download it again.",
    )


def test_a_header_only_cursor_csv_holds_no_events_and_says_so() -> None:
    got = report("csv/header_only.csv")
    assert got.doc()["totals"]["events"] == 0
    assert got.warnings() == [
        ("Cursor: the file holds a header and no rows", None, "csv/header_only.csv")
    ]


def test_a_header_only_copilot_report_holds_no_events_and_says_so() -> None:
    got = report("csv/copilot_header_only.csv")
    assert got.doc()["totals"]["events"] == 0
    assert got.warnings() == [
        ("GitHub Copilot: the file holds a header and no rows", None, "csv/copilot_header_only.csv")
    ]


def test_extra_columns_are_ignored() -> None:
    got = report("csv/extra_columns.csv")
    assert got.totals() == CURSOR_ROWS
    assert got.warnings() == []


def test_reordered_columns_give_the_same_events() -> None:
    reordered = report("csv/reordered_columns.csv", "--by", "model")
    plain = report("encoding/bom_crlf.csv", "--by", "model")
    assert reordered.totals() == CURSOR_ROWS
    assert reordered.warnings() == []
    assert reordered.doc()["rows"] == plain.doc()["rows"]


def test_a_missing_token_column_is_refused_by_name() -> None:
    # reading on would drop every row's output tokens without a word
    assert_refused(
        report("csv/missing_column.csv"),
        "csv/missing_column.csv: a Cursor usage CSV without the column 'Output Tokens'",
        CURSOR_HINT,
    )


def test_a_renamed_token_column_is_refused_naming_the_rename() -> None:
    assert_refused(
        report("csv/renamed_column.csv"),
        "csv/renamed_column.csv: a Cursor usage CSV without the column 'Output Tokens'; "
        "columns not recognized: 'Output Toks'",
        CURSOR_HINT,
    )


def test_a_copilot_report_without_its_quantity_column_is_refused_by_name() -> None:
    assert_refused(
        report("csv/copilot_missing_quantity.csv"),
        "csv/copilot_missing_quantity.csv: a usage report without the column 'quantity'",
        "Give the report as GitHub sent it",
    )


def test_line_breaks_inside_quoted_cells_keep_rows_whole_and_line_numbers_true() -> None:
    # row 1 spans lines 2-3 (a Kind with a line break); the negative row is on line 4
    assert b'"Included,\nin Pro"' in (BAD / "csv/quoted_newlines.csv").read_bytes()
    got = report("csv/quoted_newlines.csv", "--by", "model")
    assert got.totals() == totals(3, 700, 1100, 12000, 200)  # 3,340 + 10,100 + 560 tokens
    assert got.warnings() == [
        ("Cursor: skipped rows with a negative token count", 1, "csv/quoted_newlines.csv:4")
    ]
    models = {row["model"] for row in got.doc()["rows"]}
    assert models == {"auto", "gpt-5", "claude-4-sonnet\n(thinking)"}
