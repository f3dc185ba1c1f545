"""Values that are not what they should be: numbers as strings, negative, absurd, NaN and
Infinity counts, dates in the future or before 2020, epoch milliseconds."""

from __future__ import annotations

import pytest

from tests.bad_input.cli import CLAUDE_ABC, CURSOR_ROWS, report, totals

pytestmark = pytest.mark.usefixtures("corpus")


def test_token_counts_written_as_strings_are_read() -> None:
    got = report("values/numbers_as_strings.jsonl")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []


def test_impossible_counts_in_json_lines_are_dropped_never_summed() -> None:
    where = "values/bad_counts.jsonl"
    got = report(where)
    assert got.totals() == totals(2, 400, 500, 0, 40)  # lines 1 and 8 only
    assert got.warnings() == [
        ("Claude Code: skipped lines with a negative token count", 1, f"{where}:2"),
        (
            "Claude Code: skipped lines with an absurd token count (over 1,000,000,000)",
            1,
            f"{where}:3",
        ),
        ("Claude Code: skipped lines with NaN or Infinity (not JSON numbers)", 2, f"{where}:4,5"),
        (
            "Claude Code: skipped lines with a token count that is not a whole number",
            2,
            f"{where}:6,7",
        ),
    ]


def test_impossible_counts_in_a_csv_are_dropped_never_summed() -> None:
    where = "values/bad_counts.csv"
    got = report(where)
    # rows 2 and 9, and row 8 whose only fault is a NaN cost (kept, cost unknown)
    assert got.totals() == totals(3, 400, 1200, 15000, 180)
    assert got.warnings() == [
        ("Cursor: skipped rows with a negative token count", 1, f"{where}:3"),
        ("Cursor: skipped rows with an absurd token count (over 1,000,000,000)", 1, f"{where}:4"),
        ("Cursor: skipped rows with a NaN or Infinity token count", 2, f"{where}:5,6"),
        ("Cursor: skipped rows with a token count that is not a whole number", 1, f"{where}:7"),
        ("Cursor: Cost cells not understood, read as no cost (NaN)", 1, where),
    ]
    assert got.doc()["totals"]["reported_cost_usd"] == pytest.approx(0.06)


def test_impossible_counts_in_a_report_are_dropped_and_strings_read() -> None:
    where = "values/anthropic_messages.json"
    got = report(where)
    assert got.totals() == totals(2, 1300, 300, 5000, 850)  # "1200" read as 1,200
    assert got.warnings() == [
        ("Anthropic: skipped messages usage results with a negative token count", 1, where),
        (
            "Anthropic: skipped messages usage results with an absurd token count "
            "(over 1,000,000,000,000)",
            1,
            where,
        ),
    ]


def test_dates_in_the_future_or_before_2020_are_kept_and_counted() -> None:
    got = report("values/dates.jsonl", "--by", "day")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == [
        ("rows dated in the future (kept)", 1, "values/dates.jsonl"),
        ("rows dated before 2020 (kept)", 1, "values/dates.jsonl"),
    ]
    days = [row["day"] for row in got.doc()["rows"]]
    assert days == ["2019-06-30", "2025-10-01", "2099-01-01"]


def test_epoch_milliseconds_and_seconds_as_strings_are_times() -> None:
    got = report("values/epoch_ms.jsonl", "--by", "day")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []
    assert [(row["day"], row["events"]) for row in got.doc()["rows"]] == [("2025-10-01", 3)]


def test_epoch_milliseconds_in_a_csv_date_column_are_times() -> None:
    got = report("values/epoch_ms.csv", "--by", "day")
    assert got.totals() == CURSOR_ROWS
    assert got.warnings() == []
    assert [(row["day"], row["events"]) for row in got.doc()["rows"]] == [("2025-10-01", 3)]
