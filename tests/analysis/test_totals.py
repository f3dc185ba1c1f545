"""Totals from partial sums: the grand total is the groups added up, and equals a direct pass.

Hand-made rows cover what a plain sum of group rows would get wrong: a session spanning two
days (counted once overall), a column no row of a group reports (null, not 0), costs whose float
sum depends on order, a mix of cost bases, and no rows at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from tests.conftest import usage_rows
from tokenlens import pricing
from tokenlens.analysis import totals


def _priced(*rows: dict[str, Any]) -> pl.LazyFrame:
    lf = usage_rows(*rows).with_columns(
        computed_cost_usd=pl.lit(None, pl.Float64), price_version=pl.lit("test")
    )
    return pricing.with_cost(lf, "auto")


ROWS = (
    # user a: one session over two days; cost given as reported dollars
    {"user": "a", "session_id": "s1", "ts": datetime(2025, 9, 1, 23, tzinfo=UTC),
     "input_tokens": 100, "output_tokens": 10, "reported_cost_usd": 0.1},
    {"user": "a", "session_id": "s1", "ts": datetime(2025, 9, 2, 1, tzinfo=UTC),
     "input_tokens": 200, "cache_read_tokens": 300, "reported_cost_usd": 0.2},
    # user b: no cost at all (unpriced), lines of code only on one row
    {"user": "b", "session_id": "s2", "ts": datetime(2025, 9, 2, 9, tzinfo=UTC),
     "input_tokens": 5, "lines_added": 7},
    {"user": "b", "session_id": None, "ts": datetime(2025, 9, 2, 10, tzinfo=UTC),
     "output_tokens": 1, "reported_cost_usd": 0.3},
)  # fmt: skip


def test_grand_total_equals_a_direct_pass() -> None:
    lf = _priced(*ROWS)
    for by in (["day"], ["user"], ["user", "day"], ["session"]):
        grand, grouped = totals.grand_and_grouped(lf, by=by)
        assert_frame_equal(grand, totals.totals(lf))
        assert grouped.height > 1


def test_hand_checked_grand_total() -> None:
    grand, by_day = totals.grand_and_grouped(_priced(*ROWS), by=["day"])
    row = grand.row(0, named=True)
    assert row["events"] == 4
    assert row["sessions"] == 2  # s1 spans both days: once overall, once in each day
    assert by_day.get_column("sessions").to_list() == [1, 2]
    assert row["input_tokens"] == 305
    assert row["cache_read_tokens"] == 300
    assert row["output_tokens"] == 11
    assert row["total_tokens"] == 616
    assert row["cost_usd"] == 0.6  # 0.1 + 0.2 + 0.3 exactly, not 0.6000000000000001
    assert row["cost_basis"] == "mixed"
    assert row["unpriced_events"] == 1
    assert row["lines_added"] == 7
    assert row["commits"] is None  # no row reports commits: null, not 0
    assert by_day.get_column("lines_added").to_list() == [None, 7]
    assert by_day.get_column("cost_basis").to_list() == ["reported", "mixed"]


def test_no_rows() -> None:
    grand, grouped = totals.grand_and_grouped(_priced(*ROWS).head(0), by=["user"])
    assert grouped.height == 0
    row = grand.row(0, named=True)
    assert (row["events"], row["sessions"], row["requests"]) == (0, 0, 0.0)
    assert row["input_tokens"] is None
    assert row["cost_usd"] is None
    assert row["cost_basis"] is None
    assert_frame_equal(grand, totals.totals(_priced(*ROWS).head(0)))


def _empty_columns(lf: pl.LazyFrame) -> frozenset[str]:
    frame = lf.collect()
    return frozenset(c for c in frame.columns if frame.get_column(c).null_count() == frame.height)


# Copilot-like rows: request units and a reported cost, no tokens and no lines of code.
REQUESTS_ONLY = (
    {"user": "a", "ts": datetime(2025, 9, 1, 9, tzinfo=UTC), "requests": 1.5,
     "reported_cost_usd": 0.06},
    {"user": "a", "ts": datetime(2025, 9, 2, 9, tzinfo=UTC), "requests": 0.25,
     "reported_cost_usd": 0.01},
    {"user": "b", "ts": datetime(2025, 9, 2, 9, tzinfo=UTC), "requests": 3.0},
)  # fmt: skip
NO_TOKENS = dict.fromkeys(
    ("input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "cache_read_tokens",
     "output_tokens"),
)  # fmt: skip


def test_known_empty_columns_give_the_same_totals_as_adding_them_up() -> None:
    """Partials of columns known to hold nothing are filled in, not computed: same frames."""
    cases = [
        _priced(*ROWS),  # tokens, no commits, pull requests or 1-hour cache writes
        _priced(*({**row, **NO_TOKENS} for row in REQUESTS_ONLY)),  # no tokens at all
        _priced(*({**row, **NO_TOKENS} for row in REQUESTS_ONLY)).head(0),  # no rows
    ]
    for lf in cases:
        empty = _empty_columns(lf) - {"cost_usd", "cost_basis"}
        assert {"commits", "pull_requests"} <= empty
        for by in ([], ["day"], ["user", "day"], ["model"]):
            grand, grouped = totals.grand_and_grouped(lf, by=by, empty=empty)
            want_grand, want_grouped = totals.grand_and_grouped(lf, by=by)
            assert_frame_equal(grand, want_grand)
            assert_frame_equal(grouped, want_grouped)
            assert_frame_equal(totals.totals(lf, by=by, empty=empty), totals.totals(lf, by=by))
    tokenless = _empty_columns(cases[1])
    assert set(NO_TOKENS) <= tokenless
    grand = totals.totals(cases[1], empty=tokenless).row(0, named=True)
    assert (grand["events"], grand["requests"], grand["total_tokens"]) == (3, 4.75, None)
    assert (grand["cost_usd"], grand["unpriced_events"]) == (0.07, 1)


def test_rows_with_only_lines_of_code_are_neither_events_nor_unpriced() -> None:
    """An org report's lines-of-code rows have nothing to price; a request without a cost does."""
    signals_only = {**NO_TOKENS, "requests": None, "lines_added": 40, "commits": 2}
    lf = _priced(
        {"user": "a", "input_tokens": 10, "reported_cost_usd": 0.5},  # priced
        {"user": "a", **NO_TOKENS, "requests": 2.0},  # a request, no cost: unpriced
        {"user": "a", **signals_only},
        {"user": "b", **signals_only},
    )
    grand, by_user = totals.grand_and_grouped(lf, by=["user"])
    row = grand.row(0, named=True)
    assert (row["events"], row["unpriced_events"], row["lines_added"]) == (2, 1, 80)
    assert by_user.select("user", "events", "unpriced_events").rows() == [("a", 2, 1), ("b", 0, 0)]
