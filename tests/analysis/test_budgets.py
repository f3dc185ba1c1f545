"""Budgets: spend so far, projection and status in the period containing `until`, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import usage_rows
from tokenlens import schema
from tokenlens.analysis.budgets import OUTPUT, Budget, budgets, period_of
from tokenlens.errors import TokenlensError

MID_SEPTEMBER = date(2025, 9, 15)  # day 15 of 30: the projection doubles the spend so far
CLAUDE = Budget("user", source="claude_code", period="month", min_usd=100.0, max_usd=250.0)
CURSOR = Budget("user", source="cursor", period="month", min_usd=70.0, max_usd=170.0)


def ts(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def spend(user: str, source: str, when: datetime, usd: float | None) -> dict[str, Any]:
    return {"user": user, "source": source, "ts": when, "reported_cost_usd": usd}


def priced(*rows: dict[str, Any], team: dict[str, str] | None = None) -> pl.LazyFrame:
    """PRICED rows whose cost is the reported cost; optional team column."""
    lf = usage_rows(*rows).with_columns(
        cost_usd=pl.col("reported_cost_usd"),
        cost_basis=pl.when(pl.col("reported_cost_usd").is_null())
        .then(pl.lit("unpriced"))
        .otherwise(pl.lit("reported")),
    )
    lf = schema.conform(lf, schema.PRICED)
    if team is not None:
        lf = lf.with_columns(
            team=pl.col("user").replace_strict(team, default=None, return_dtype=pl.String)
        )
    return lf


def expected(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=OUTPUT, orient="row")


def salesforce_team() -> pl.LazyFrame:
    """Four engineers under the Salesforce budgets, September 2025, seen on the 15th.

    - alice: Claude Code $60 + $70 = $130 (projected $260: above the max, but not over yet);
      a $500 day on the 20th (after until) and a $400 day in August are not counted;
      Cursor $30 (projected $60 < $70: under).
    - bob: Claude Code $260 (over $250); Cursor $35 (projected exactly $70: ok).
    - carol: Claude Code $40 (projected $80 < $100: under); Cursor $90 (projected $180: ok).
      Plus an unpriced Claude Code row, which adds nothing.
    - dave: quiet; his only spend was in July.
    """
    return priced(
        spend("alice", "claude_code", ts(9, 2), 60.0),
        spend("alice", "claude_code", ts(9, 10), 70.0),
        spend("alice", "claude_code", ts(9, 20), 500.0),
        spend("alice", "claude_code", ts(8, 31), 400.0),
        spend("alice", "cursor", ts(9, 3), 30.0),
        spend("bob", "claude_code", ts(9, 14), 260.0),
        spend("bob", "cursor", ts(9, 15, 23), 35.0),
        spend("carol", "claude_code", ts(9, 1, 0), 40.0),
        spend("carol", "claude_code", ts(9, 5), None),
        spend("carol", "cursor", ts(9, 8), 90.0),
        spend("dave", "claude_code", ts(7, 1), 10.0),
    )


def test_salesforce_budgets_mid_month() -> None:
    out = budgets(salesforce_team(), budgets=[CLAUDE, CURSOR], until=MID_SEPTEMBER)
    start, end = date(2025, 9, 1), date(2025, 9, 30)
    cc = ("claude_code", "2025-09", start, end)
    cu = ("cursor", "2025-09", start, end)
    assert_frame_equal(
        out,
        expected(
            [
                ("alice", None, *cc, 130.0, 100.0, 250.0, 260.0, "ok"),
                ("bob", None, *cc, 260.0, 100.0, 250.0, 520.0, "over"),
                ("carol", None, *cc, 40.0, 100.0, 250.0, 80.0, "under"),
                ("dave", None, *cc, 0.0, 100.0, 250.0, 0.0, "under"),
                ("alice", None, *cu, 30.0, 70.0, 170.0, 60.0, "under"),
                ("bob", None, *cu, 35.0, 70.0, 170.0, 70.0, "ok"),
                ("carol", None, *cu, 90.0, 70.0, 170.0, 180.0, "ok"),
                ("dave", None, *cu, 0.0, 70.0, 170.0, 0.0, "under"),
            ]
        ),
    )


def test_on_the_last_day_of_the_month_the_projection_is_the_spend() -> None:
    lf = priced(spend("alice", "claude_code", ts(9, 2), 99.0))
    out = budgets(lf, budgets=[CLAUDE], until=date(2025, 9, 30))
    assert out.select("spend_usd", "projected_usd", "status").rows() == [(99.0, 99.0, "under")]


def test_spend_equal_to_the_maximum_is_ok() -> None:
    lf = priced(
        spend("alice", "claude_code", ts(9, 2), 100.0),
        spend("alice", "claude_code", ts(9, 3), 150.0),
    )
    out = budgets(lf, budgets=[CLAUDE], until=date(2025, 9, 30))
    assert out.select("spend_usd", "status").rows() == [(250.0, "ok")]


def test_week_budget() -> None:
    # Wednesday 2025-09-17: week 38 runs Monday 15 to Sunday 21; 3 days elapsed of 7
    lf = priced(
        spend("alice", "claude_code", ts(9, 14), 500.0),  # Sunday before: last week
        spend("alice", "claude_code", ts(9, 15), 10.0),
        spend("alice", "cursor", ts(9, 17), 20.0),
        spend("alice", "cursor", ts(9, 18), 500.0),  # after until
        spend("bob", "claude_code", ts(9, 16), 6.0),
    )
    week = Budget("user", period="week", min_usd=20.0, max_usd=25.0)
    out = budgets(lf, budgets=[week], until=date(2025, 9, 17))
    monday, sunday = date(2025, 9, 15), date(2025, 9, 21)
    assert_frame_equal(
        out,
        expected(
            [
                # 30 / 3 * 7 = 70
                ("alice", None, None, "2025-W38", monday, sunday, 30.0, 20.0, 25.0, 70.0, "over"),
                # 6 / 3 * 7 = 14 < 20
                ("bob", None, None, "2025-W38", monday, sunday, 6.0, 20.0, 25.0, 14.0, "under"),
            ]
        ),
    )


def test_day_budget_for_one_named_user() -> None:
    lf = priced(
        spend("alice", "claude_code", ts(9, 16, 23), 40.0),
        spend("alice", "claude_code", ts(9, 17, 0), 15.0),
        spend("alice", "cursor", ts(9, 17, 9), 5.0),
        spend("bob", "claude_code", ts(9, 17), 99.0),
    )
    day = Budget("user", match="alice", period="day", max_usd=19.0)
    out = budgets(lf, budgets=[day], until=date(2025, 9, 17))
    the_day = date(2025, 9, 17)
    assert_frame_equal(
        out,
        expected(
            [("alice", None, None, "2025-09-17", the_day, the_day, 20.0, None, 19.0, 20.0, "over")]
        ),
    )


def test_a_named_user_with_no_rows_at_all_is_under() -> None:
    lf = priced(spend("alice", "cursor", ts(9, 1), 5.0))
    out = budgets(lf, budgets=[Budget("user", match="erin", min_usd=1.0)], until=MID_SEPTEMBER)
    assert out.select("user", "spend_usd", "projected_usd", "status").rows() == [
        ("erin", 0.0, 0.0, "under")
    ]


def test_a_budget_without_limits_is_ok() -> None:
    out = budgets(salesforce_team(), budgets=[Budget("user", match="bob")], until=MID_SEPTEMBER)
    assert out.select("user", "spend_usd", "status").rows() == [("bob", 295.0, "ok")]


def test_source_budgets() -> None:
    lf = priced(
        spend("alice", "cursor", ts(9, 2), 100.0),
        spend("bob", "cursor", ts(9, 3), 50.0),
        spend("bob", "anthropic_api", ts(9, 3), 7.0),
        spend("carol", "claude_code", ts(9, 4), 3.0),
    )
    out = budgets(
        lf,
        budgets=[
            Budget("source", match="cursor", max_usd=120.0),  # $150 so far: over
            Budget("source", source="anthropic"),  # a named source covers its sub-sources
            Budget("source", period="day"),  # every source, exactly as named in the data
        ],
        until=MID_SEPTEMBER,
    )
    start, end = date(2025, 9, 1), date(2025, 9, 30)
    day = MID_SEPTEMBER
    assert_frame_equal(
        out,
        expected(
            [
                (None, None, "cursor", "2025-09", start, end, 150.0, None, 120.0, 300.0, "over"),
                (None, None, "anthropic", "2025-09", start, end, 7.0, None, None, 14.0, "ok"),
                (None, None, "anthropic_api", "2025-09-15", day, day, 0.0, None, None, 0.0, "ok"),
                (None, None, "claude_code", "2025-09-15", day, day, 0.0, None, None, 0.0, "ok"),
                (None, None, "cursor", "2025-09-15", day, day, 0.0, None, None, 0.0, "ok"),
            ]
        ),
    )


def test_team_budgets() -> None:
    lf = priced(
        spend("alice", "claude_code", ts(9, 2), 100.0),
        spend("bob", "cursor", ts(9, 3), 50.0),
        spend("carol", "claude_code", ts(9, 4), 30.0),
        spend("dave", "claude_code", ts(6, 4), 30.0),
        spend("nobody", "claude_code", ts(9, 4), 999.0),  # no team: in no team's spend
        team={"alice": "red", "bob": "red", "carol": "blue", "dave": "green"},
    )
    out = budgets(
        lf,
        budgets=[Budget("team", source="claude_code", min_usd=70.0, max_usd=90.0)],
        until=MID_SEPTEMBER,
    )
    start, end = date(2025, 9, 1), date(2025, 9, 30)
    cc = ("claude_code", "2025-09", start, end)
    assert_frame_equal(
        out,
        expected(
            [
                (None, "blue", *cc, 30.0, 70.0, 90.0, 60.0, "under"),
                (None, "green", *cc, 0.0, 70.0, 90.0, 0.0, "under"),
                (None, "red", *cc, 100.0, 70.0, 90.0, 200.0, "over"),  # bob's Cursor not counted
            ]
        ),
    )


def test_team_budget_without_teams_says_how_to_get_them() -> None:
    with pytest.raises(TokenlensError, match="team") as err:
        budgets(
            priced(spend("a", "cursor", ts(9, 1), 1.0)),
            budgets=[Budget("team")],
            until=MID_SEPTEMBER,
        )
    assert err.value.hint is not None
    assert "teams_file" in err.value.hint


def test_periods_count_local_days() -> None:
    # 2025-10-01 02:00 UTC is still September 30 in New York
    lf = priced(spend("alice", "cursor", ts(10, 1, 2), 12.0))
    sept = budgets(lf, budgets=[Budget("user")], until=date(2025, 9, 30), tz="America/New_York")
    assert sept.select("period", "spend_usd").rows() == [("2025-09", 12.0)]
    utc = budgets(lf, budgets=[Budget("user")], until=date(2025, 9, 30))
    assert utc.select("period", "spend_usd").rows() == [("2025-09", 0.0)]


def test_no_budgets_give_an_empty_frame_with_the_columns() -> None:
    out = budgets(salesforce_team(), budgets=[], until=MID_SEPTEMBER)
    assert_frame_equal(out, pl.DataFrame(schema=OUTPUT))


@pytest.mark.parametrize(
    ("period", "until", "expected_period"),
    [
        ("day", date(2025, 9, 17), (date(2025, 9, 17), date(2025, 9, 17), "2025-09-17")),
        ("week", date(2025, 9, 15), (date(2025, 9, 15), date(2025, 9, 21), "2025-W38")),
        ("week", date(2025, 9, 21), (date(2025, 9, 15), date(2025, 9, 21), "2025-W38")),
        # ISO weeks: Wednesday 2025-12-31 is in week 1 of 2026
        ("week", date(2025, 12, 31), (date(2025, 12, 29), date(2026, 1, 4), "2026-W01")),
        ("month", date(2025, 9, 15), (date(2025, 9, 1), date(2025, 9, 30), "2025-09")),
        ("month", date(2024, 2, 10), (date(2024, 2, 1), date(2024, 2, 29), "2024-02")),
    ],
)
def test_period_of(period: Any, until: date, expected_period: tuple[date, date, str]) -> None:
    assert period_of(period, until) == expected_period


def test_bad_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        Budget("user", min_usd=10.0, max_usd=5.0)
    with pytest.raises(ValueError, match="scope"):
        Budget("project")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period"):
        Budget("user", period="year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        Budget("user", max_usd=-1.0)
    with pytest.raises(ValueError, match="differ"):
        Budget("source", match="cursor", source="copilot")
