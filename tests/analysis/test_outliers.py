"""The outlier scan on a synthetic team with outliers planted on purpose, and each rule alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import usage_rows
from tokenlens import schema
from tokenlens.analysis.outliers import (
    FLAG_SCHEMA,
    OutlierRules,
    flagged_sessions,
    max_severity,
    outliers,
    session_stats,
)
from tokenlens.errors import ConfigError

# Everything but `detail`, which has its own tests.
COLUMNS = [c for c in FLAG_SCHEMA if c != "detail"]


def priced_rows(*rows: dict[str, Any]) -> pl.LazyFrame:
    """PRICED rows from partial dicts: `usage_rows` plus `cost_usd` (null = unpriced) and, when any
    row names one, a `team` column as the CLI adds it."""
    extra = ("cost_usd", "team")
    lf = usage_rows(*({k: v for k, v in r.items() if k not in extra} for r in rows))
    cost = pl.Series("cost_usd", [r.get("cost_usd") for r in rows], pl.Float64)
    lf = lf.with_columns(cost).with_columns(
        computed_cost_usd=pl.col("cost_usd"),
        cost_basis=pl.when(pl.col("cost_usd").is_null())
        .then(pl.lit("unpriced"))
        .otherwise(pl.lit("computed")),
    )
    lf = schema.conform(lf, schema.PRICED)
    if any("team" in r for r in rows):
        lf = lf.with_columns(pl.Series("team", [r.get("team") for r in rows], pl.String))
    return lf


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def flags_frame(*rows: tuple[Any, ...]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={c: FLAG_SCHEMA[c] for c in COLUMNS}, orient="row")


# --- the synthetic team -------------------------------------------------------------------------

# Each user's normal spend per day, in one short session a day.
NORMS = {
    "ana": 4.0,
    "ben": 5.0,
    "cho": 6.0,
    "dan": 7.0,
    "eve": 8.0,
    "fox": 9.0,
    "run": 6.0,
    "sam": 5.0,
}
TEAMS = {"ana": "web", "ben": "web", "cho": "web", "sam": "web"}  # the rest: "data"
SPIKE_DAY = date(2025, 9, 25)  # sam spends $100, 20x his $5 norm
AGENT_DAY = date(2025, 9, 23)  # run leaves an agent going 09:00-18:00 instead of his usual day
UNTIL = date(2025, 9, 30)


def synthetic_team(
    *,
    plants: bool = True,
    first: date = date(2025, 9, 17),
    last: date = UNTIL,
    teams: bool = False,
) -> pl.LazyFrame:
    """Nine users, every day from `first` to `last`, no randomness.

    - ana..fox, run, sam: one 10:00 UTC session a day at their NORMS cost;
    - zoe: the quiet user, one Copilot premium request a day, included ($0, no tokens);
    - with `plants`: sam's day SPIKE_DAY costs $100 (20x his norm); on AGENT_DAY run's only session
      is an agent from 09:00 to 18:00 UTC, ten hourly calls of 900,000 tokens (899,100 cache reads,
      900 output) at $2.50 each: 9 hours, 9,000,000 tokens, output ratio 0.001, $25.
    """
    rows: list[dict[str, Any]] = []

    def team_of(user: str) -> dict[str, Any]:
        if not teams:
            return {}
        return {"team": None if user == "zoe" else TEAMS.get(user, "data")}

    day = first
    while day <= last:
        for user, norm in NORMS.items():
            if plants and user == "run" and day == AGENT_DAY:
                for hour in range(9, 19):
                    rows.append(
                        {
                            "user": user,
                            "ts": at(day, hour),
                            "session_id": "run-agent",
                            "cache_read_tokens": 899_100,
                            "output_tokens": 900,
                            "cost_usd": 2.5,
                            **team_of(user),
                        }
                    )
                continue
            cost = 100.0 if plants and user == "sam" and day == SPIKE_DAY else norm
            rows.append(
                {
                    "user": user,
                    "ts": at(day),
                    "session_id": f"{user}-{day:%m%d}",
                    "input_tokens": 20_000,
                    "output_tokens": 1_000,
                    "cost_usd": cost,
                    **team_of(user),
                }
            )
        rows.append(
            {
                "source": "copilot",
                "user": "zoe",
                "ts": at(day),
                "model": "gpt-4.1",
                "input_tokens": None,
                "cache_write_tokens": None,
                "cache_write_1h_tokens": None,
                "cache_read_tokens": None,
                "output_tokens": None,
                "cost_usd": 0.0,
                **team_of("zoe"),
            }
        )
        day += timedelta(days=1)
    return priced_rows(*rows)


# The planted flags, worked out by hand:
# - AGENT_DAY, active users ana 4, ben 5, cho 6, dan 7, eve 8, fox 9, sam 5, run 25 (zoe spends
#   nothing, so she is not active): median (6 + 7) / 2 = 6.5; deviations 2.5 1.5 1.5 0.5 0.5 1.5
#   2.5 18.5, their median (1.5 + 1.5) / 2 = 1.5; z(run) = 18.5 / (1.4826 * 1.5) = 8.32 >= 7
#   (2 x 3.5): critical, ratio 25 / 6.5. run's own baseline is 6, 25 / 6 = 4.2 < 5: no self flag.
# - run's agent session: 9 h >= 4 h; $25 / 9 h = $2.78/h < $25/h, no burn flag; 9,000 / 9,000,000
#   = 0.001 < 0.002 with 9M >= 1M tokens: spinning; critical since 9 h >= 8 h (and 0.001 <= 0.001).
# - SPIKE_DAY: values 4 5 6 7 8 9 6 100, median 6.5, deviations 2.5 1.5 0.5 0.5 0.5 1.5 2.5 93.5,
#   MAD 1.5, z(sam) = 93.5 / 2.2239 = 42.0: critical, ratio 100 / 6.5. Self: the 7 days before
#   are all $5, baseline 5, ratio 20 >= 10: critical.
# - Ordinary days: values 4 5 5 6 6 7 8 9, median 6, MAD 1, largest z = 3 / 1.4826 = 2.0 < 3.5.
# - Period totals (14 days): ana 56, ben 70, cho 84, dan 98, run 13*6+25 = 103, eve 112, fox 126,
#   sam 13*5+100 = 165; median (98 + 103) / 2 = 100.5; 165 / 100.5 = 1.6 < 10: no team_median flag.
PLANTED = flags_frame(
    ("run", None, AGENT_DAY, "run-agent", "runaway", "output_ratio", 0.001, 0.002, 0.5, "critical"),
    ("run", None, AGENT_DAY, None, "team", "cost_usd", 25.0, 6.5, 25 / 6.5, "critical"),
    ("sam", None, SPIKE_DAY, None, "self", "cost_usd", 100.0, 5.0, 20.0, "critical"),
    ("sam", None, SPIKE_DAY, None, "team", "cost_usd", 100.0, 6.5, 100 / 6.5, "critical"),
)


def test_synthetic_team_gives_exactly_the_planted_flags() -> None:
    flags = outliers(synthetic_team(), until=UNTIL)
    assert_frame_equal(flags.select(COLUMNS), PLANTED)


def test_planted_flags_explain_themselves_in_one_sentence() -> None:
    details = outliers(synthetic_team(), until=UNTIL).get_column("detail").to_list()
    assert details == [
        "Session ran 9.0 hours from 09:00 over 9000000 tokens with an output ratio of 0.0010, "
        "under 0.0020: an agent left spinning?",
        "$25.00 on 2025-09-23 is a robust z-score of 8.3 against the median $6.50 of 8 active "
        "users that day.",
        "$100.00 on 2025-09-25 is 20.0x this user's mean of $5.00 over 7 active days in the 7 "
        "days before.",
        "$100.00 on 2025-09-25 is a robust z-score of 42.0 against the median $6.50 of 8 active "
        "users that day.",
    ]


@pytest.mark.parametrize("first", [date(2025, 9, 24), date(2025, 9, 17)])
def test_a_normal_week_gives_no_flags(first: date) -> None:
    flags = outliers(synthetic_team(plants=False, first=first), until=UNTIL)
    assert_frame_equal(flags, pl.DataFrame(schema=FLAG_SCHEMA))


def test_the_quiet_user_is_never_flagged_nor_counted() -> None:
    team = synthetic_team()
    without_zoe = outliers(team.filter(pl.col("user") != "zoe"), until=UNTIL)
    assert_frame_equal(outliers(team, until=UNTIL), without_zoe)


def test_rows_after_until_are_ignored() -> None:
    # A $1,000 day for ana and a 9-hour spinning session the day after `until` change nothing.
    later = priced_rows(
        {"user": "ana", "ts": at(UNTIL + timedelta(days=1)), "cost_usd": 1000.0},
        {"user": "ana", "ts": at(UNTIL + timedelta(days=2), 1), "session_id": "late",
         "cache_read_tokens": 5_000_000, "cost_usd": 1.0},
        {"user": "ana", "ts": at(UNTIL + timedelta(days=2), 10), "session_id": "late",
         "cache_read_tokens": 5_000_000, "cost_usd": 1.0},
    )  # fmt: skip
    flags = outliers(pl.concat([synthetic_team(), later]), until=UNTIL)
    assert_frame_equal(flags.select(COLUMNS), PLANTED)


def test_the_period_ends_at_until_not_today() -> None:
    # Ending the scan on 2025-09-24 leaves out sam's spike on the 25th; the dates are long past,
    # so nothing here depends on the clock.
    flags = outliers(synthetic_team(), until=date(2025, 9, 24))
    assert_frame_equal(flags.select(COLUMNS), PLANTED.head(2))


def test_days_limits_the_scan_to_the_last_days_before_until() -> None:
    # 6 days to 2025-09-30 start on the 25th: sam's spike stays, run's agent day (23rd) goes.
    flags = outliers(synthetic_team(), until=UNTIL, rules=OutlierRules(days=6))
    assert_frame_equal(flags.select(COLUMNS), PLANTED.tail(2))


def test_the_team_column_is_carried_through() -> None:
    flags = outliers(synthetic_team(teams=True), until=UNTIL)
    expected = PLANTED.with_columns(team=pl.Series(["data", "data", "web", "web"], dtype=pl.String))
    assert_frame_equal(flags.select(COLUMNS), expected)


def test_peers_team_compares_users_within_their_team() -> None:
    # web: ana 4, ben 5, cho 6, sam; data: dan 7, eve 8, fox 9, run. Four active users each, so
    # nothing with the default minimum of 5; with 4:
    # - AGENT_DAY in data: 7 8 9 25, median 8.5, deviations 1.5 0.5 0.5 16.5, MAD 1.0,
    #   z(run) = 16.5 / 1.4826 = 11.1: critical;
    # - SPIKE_DAY in web: 4 5 6 100, median 5.5, deviations 1.5 0.5 0.5 94.5, MAD 1.0, z = 63.7;
    # - ordinary days: web 4 5 6 5 (median 5, MAD 0.5, largest z 1.3), data 6 7 8 9 (z 1.0);
    # - period totals: web 56 70 84 165 (median 77), data 98 103 112 126: no team_median flag.
    team = synthetic_team(teams=True)
    rules = OutlierRules(peers="team")
    flags = outliers(team, until=UNTIL, rules=rules)
    assert flags.filter(pl.col("rule").is_in(["team", "team_median"])).is_empty()
    rules = OutlierRules(peers="team", min_team_users=4)
    flags = outliers(team, until=UNTIL, rules=rules)
    expected = flags_frame(
        ("run", "data", AGENT_DAY, "run-agent", "runaway", "output_ratio", 0.001, 0.002, 0.5,
         "critical"),
        ("run", "data", AGENT_DAY, None, "team", "cost_usd", 25.0, 8.5, 25 / 8.5, "critical"),
        ("sam", "web", SPIKE_DAY, None, "self", "cost_usd", 100.0, 5.0, 20.0, "critical"),
        ("sam", "web", SPIKE_DAY, None, "team", "cost_usd", 100.0, 5.5, 100 / 5.5, "critical"),
    )  # fmt: skip
    assert_frame_equal(flags.select(COLUMNS), expected)


# --- each rule alone ----------------------------------------------------------------------------

DAY = date(2025, 9, 1)


def one_day(costs: dict[str, float | None], **extra: Any) -> list[dict[str, Any]]:
    return [{"user": u, "ts": at(DAY), "cost_usd": c, **extra} for u, c in costs.items()]


def test_mad_zero_falls_back_to_the_mean_absolute_deviation() -> None:
    # 10 10 10 10 10 100: median 10, MAD 0; mean absolute deviation 90 / 6 = 15,
    # z = 90 / (1.2533 * 15) = 4.79 >= 3.5 but < 7: warn.
    costs = {"a": 10.0, "b": 10.0, "c": 10.0, "d": 10.0, "e": 10.0, "f": 100.0}
    flags = outliers(priced_rows(*one_day(costs)), until=DAY)
    team = flags.filter(pl.col("rule") == "team")
    expected = flags_frame(("f", None, DAY, None, "team", "cost_usd", 100.0, 10.0, 10.0, "warn"))
    assert_frame_equal(team.select(COLUMNS), expected)
    assert team.item(0, "detail") == (
        "$100.00 on 2025-09-01 is a robust z-score of 4.8 against the median $10.00 of 6 active "
        "users that day."
    )


def test_all_equal_days_give_no_flags() -> None:
    costs = dict.fromkeys("abcdef", 10.0)
    assert outliers(priced_rows(*one_day(costs)), until=DAY).is_empty()


def test_too_few_active_users_give_no_team_flags() -> None:
    # a..d $10 and e $1000 are active; q1..q3 have events but spend nothing, so they do not count.
    # 5 active: median 10, MAD 0, mean deviation 990 / 5 = 198, z = 990 / (1.2533 * 198) = 3.99:
    # team warn; period totals the same, 1000 / 10 = 100 >= 20: team_median critical.
    costs = {"a": 10.0, "b": 10.0, "c": 10.0, "d": 10.0, "e": 1000.0, "q1": 0, "q2": 0, "q3": 0}
    lf = priced_rows(*one_day(costs))
    expected = flags_frame(
        ("e", None, DAY, None, "team", "cost_usd", 1000.0, 10.0, 100.0, "warn"),
        ("e", None, DAY, None, "team_median", "cost_usd", 1000.0, 10.0, 100.0, "critical"),
    )
    # sorted critical first
    assert_frame_equal(outliers(lf, until=DAY).select(COLUMNS), expected.reverse())
    assert outliers(lf, until=DAY, rules=OutlierRules(min_team_users=6)).is_empty()


def test_team_median_flags_a_period_far_above_the_median_total() -> None:
    # 2025-09-01: a 10, b 12, c 14, d 16, e 20 (median 14, MAD 2, z(e) = 6 / 2.97 = 2.0: no flag);
    # e alone spends $20 on each of the next 9 days (one active user: no team flag; her own
    # baseline is 20: no self flag). Totals over the 10 days to 09-10: 10 12 14 16 200, median 14,
    # 200 / 14 = 14.3 >= 10 but < 20: warn, dated the period's last day.
    rows = one_day({"a": 10.0, "b": 12.0, "c": 14.0, "d": 16.0, "e": 20.0})
    rows += [
        {"user": "e", "ts": at(DAY + timedelta(days=i)), "cost_usd": 20.0} for i in range(1, 10)
    ]
    until = date(2025, 9, 10)
    flags = outliers(priced_rows(*rows), until=until, rules=OutlierRules(days=10))
    expected = flags_frame(
        ("e", None, until, None, "team_median", "cost_usd", 200.0, 14.0, 200 / 14, "warn")
    )
    assert_frame_equal(flags.select(COLUMNS), expected)
    assert flags.item(0, "detail") == (
        "$200.00 in the 10 days to 2025-09-10 is 14.3x the median $14.00 of 5 active users."
    )


def self_rows(active_days: list[int]) -> pl.LazyFrame:
    """User a spends $2 on the given September days, then $10 on September 8."""
    rows = [{"user": "a", "ts": at(date(2025, 9, d)), "cost_usd": 2.0} for d in active_days]
    return priced_rows(*rows, {"user": "a", "ts": at(date(2025, 9, 8)), "cost_usd": 10.0})


def test_self_baseline_is_the_mean_of_active_days_only() -> None:
    # The 7 days before the 8th are the 1st to the 7th; active on 1, 3, 5 at $2: baseline 2.0
    # (not 6 / 7, days without usage are left out); 10 / 2 = 5 >= 5 but < 10: warn.
    flags = outliers(self_rows([1, 3, 5]), until=date(2025, 9, 8))
    day8 = date(2025, 9, 8)
    expected = flags_frame(("a", None, day8, None, "self", "cost_usd", 10.0, 2.0, 5.0, "warn"))
    assert_frame_equal(flags.select(COLUMNS), expected)


def test_self_rule_waits_for_enough_baseline_days() -> None:
    # Two active days before the 8th (3rd and 5th) are fewer than 3.
    assert outliers(self_rows([3, 5]), until=date(2025, 9, 8)).is_empty()
    # An active day 8 days before (Aug 31) is outside the 7-day baseline.
    rows = self_rows([3, 5]).collect()
    early = priced_rows({"user": "a", "ts": at(date(2025, 8, 31)), "cost_usd": 2.0}).collect()
    assert outliers(pl.concat([rows, early]).lazy(), until=date(2025, 9, 8)).is_empty()


def test_self_baseline_reaches_before_the_scanned_days() -> None:
    # days=1 scans only the 8th; its baseline (1st to 7th) still counts.
    flags = outliers(self_rows([1, 3, 5]), until=date(2025, 9, 8), rules=OutlierRules(days=1))
    assert flags.get_column("rule").to_list() == ["self"]


def test_runaway_flags_a_long_session_with_a_high_burn_rate() -> None:
    # s1: 08:00 to 13:00 (5 h), $150: $30/h >= $25/h; 5 h < 8 h and 30 < 50: warn.
    # s2: 3.9 h at over $100/h: too short to be a runaway.
    day2 = date(2025, 9, 2)
    lf = priced_rows(
        {"user": "a", "ts": at(DAY, 8), "session_id": "s1", "cost_usd": 75.0},
        {"user": "a", "ts": at(DAY, 13), "session_id": "s1", "cost_usd": 75.0},
        {"user": "a", "ts": at(day2, 8), "session_id": "s2", "cost_usd": 200.0},
        {"user": "a", "ts": at(day2, 11, 54), "session_id": "s2", "cost_usd": 200.0},
    )
    flags = outliers(lf, until=day2)
    expected = flags_frame(
        ("a", None, DAY, "s1", "runaway", "usd_per_hour", 30.0, 25.0, 1.2, "warn")
    )
    assert_frame_equal(flags.select(COLUMNS), expected)
    assert flags.item(0, "detail") == (
        "Session ran 5.0 hours from 08:00 at $30.00 per hour (threshold $25.00 per hour)."
    )


def _flagged_by_outliers(flags: pl.DataFrame) -> list[tuple[str, str]]:
    pairs = flags.filter(pl.col("session").is_not_null()).select("user", "session").unique()
    return sorted(pairs.rows())


@pytest.mark.parametrize(
    ("tz", "until"),
    [("UTC", UNTIL), ("Australia/Sydney", UNTIL), ("UTC", UNTIL - timedelta(days=3))],
)
def test_flagged_sessions_are_the_session_flags_of_the_full_scan(tz: str, until: date) -> None:
    lf = synthetic_team()
    got = flagged_sessions(lf, until=until, tz=tz)
    assert got.rows() == _flagged_by_outliers(outliers(lf, until=until, tz=tz))
    if until == UNTIL and tz == "UTC":
        assert got.rows() == [("run", "run-agent")]


def test_flagged_sessions_with_a_session_begun_before_the_window() -> None:
    # s0 starts 20 days before until, outside a 7-day window: not flagged, as in the full scan.
    day2 = date(2025, 9, 2)
    rules = OutlierRules(days=7)
    lf = priced_rows(
        {"user": "a", "ts": at(DAY, 8), "session_id": "s1", "cost_usd": 75.0},
        {"user": "a", "ts": at(DAY, 13), "session_id": "s1", "cost_usd": 75.0},
        {"user": "a", "ts": at(DAY - timedelta(days=20), 8), "session_id": "s0", "cost_usd": 9.0},
        {"user": "a", "ts": at(day2, 8), "session_id": "s0", "cost_usd": 900.0},
    )
    got = flagged_sessions(lf, until=day2, rules=rules)
    assert got.rows() == _flagged_by_outliers(outliers(lf, until=day2, rules=rules))
    assert got.rows() == [("a", "s1")]


def test_runaway_day_and_start_are_local() -> None:
    # The session starts 2025-09-01 22:00 UTC, which is 09-02 08:00 in Sydney (UTC+10).
    lf = priced_rows(
        {"user": "a", "ts": at(DAY, 22), "session_id": "s1", "cost_usd": 75.0},
        {"user": "a", "ts": at(DAY + timedelta(days=1), 3), "session_id": "s1", "cost_usd": 75.0},
    )
    flags = outliers(lf, until=date(2025, 9, 2), tz="Australia/Sydney")
    assert flags.select("day", "session", "rule").rows() == [(date(2025, 9, 2), "s1", "runaway")]
    assert flags.item(0, "detail").startswith("Session ran 5.0 hours from 08:00 at $30.00")


def test_daily_cap_flags_every_user_day_over_the_cap_as_critical() -> None:
    # Cap $50: $60 on the 1st is over (ratio 1.2); exactly $50 on the 2nd is not; nor $49.
    lf = priced_rows(
        {"user": "a", "ts": at(DAY), "cost_usd": 60.0},
        {"user": "a", "ts": at(date(2025, 9, 2)), "cost_usd": 50.0},
        {"user": "b", "ts": at(DAY), "cost_usd": 49.0},
    )
    flags = outliers(lf, until=date(2025, 9, 2), rules=OutlierRules(daily_cap_usd=50.0))
    expected = flags_frame(
        ("a", None, DAY, None, "daily_cap", "cost_usd", 60.0, 50.0, 1.2, "critical")
    )
    assert_frame_equal(flags.select(COLUMNS), expected)
    assert flags.item(0, "detail") == "$60.00 on 2025-09-01 is over the daily cap of $50.00."
    assert outliers(lf, until=date(2025, 9, 2)).is_empty()  # no cap by default


def test_days_are_local_to_tz() -> None:
    # $30 at 20:00 UTC on the 1st and $30 at 02:00 UTC on the 2nd: two UTC days under the $50 cap,
    # one New York day (16:00 and 22:00 on the 1st) of $60 over it.
    lf = priced_rows(
        {"user": "a", "ts": at(DAY, 20), "cost_usd": 30.0},
        {"user": "a", "ts": at(date(2025, 9, 2), 2), "cost_usd": 30.0},
    )
    rules = OutlierRules(daily_cap_usd=50.0)
    assert outliers(lf, until=date(2025, 9, 2), rules=rules).is_empty()
    flags = outliers(lf, until=date(2025, 9, 2), tz="America/New_York", rules=rules)
    assert flags.select("day", "value").rows() == [(DAY, 60.0)]


def test_tokens_metric_sees_unpriced_usage_that_cost_cannot() -> None:
    # Unpriced rows: a..e 1,000 tokens, f 100,000. Cost: nobody is active, no flags. Tokens:
    # median 1000, MAD 0, mean deviation 99,000 / 6 = 16,500, z = 99,000 / (1.2533 * 16,500) = 4.79
    # (warn); team_median 100,000 / 1,000 = 100 (critical).
    rows = [
        {"user": u, "ts": at(DAY), "input_tokens": 1_000, "cost_usd": None} for u in "abcde"
    ] + [{"user": "f", "ts": at(DAY), "input_tokens": 100_000, "cost_usd": None}]
    lf = priced_rows(*rows)
    assert outliers(lf, until=DAY).is_empty()
    flags = outliers(lf, until=DAY, rules=OutlierRules(metric="tokens"))
    expected = flags_frame(
        ("f", None, DAY, None, "team_median", "total_tokens", 1e5, 1e3, 100.0, "critical"),
        ("f", None, DAY, None, "team", "total_tokens", 1e5, 1e3, 100.0, "warn"),
    )
    assert_frame_equal(flags.select(COLUMNS), expected)
    assert flags.item(1, "detail") == (
        "100000 tokens on 2025-09-01 is a robust z-score of 4.8 against the median 1000 tokens of "
        "6 active users that day."
    )


def test_tokens_metric_measures_burn_in_tokens_per_hour() -> None:
    # 4 hours, 160M tokens: 40M/h >= 30M/h (warn: 4 h < 8 h and 40M < 60M).
    lf = priced_rows(
        {"user": "a", "ts": at(DAY, 8), "session_id": "s", "cache_read_tokens": 79_000_000,
         "output_tokens": 1_000_000},
        {"user": "a", "ts": at(DAY, 12), "session_id": "s", "cache_read_tokens": 79_000_000,
         "output_tokens": 1_000_000},
    )  # fmt: skip
    flags = outliers(lf, until=DAY, rules=OutlierRules(metric="tokens"))
    expected = flags_frame(
        ("a", None, DAY, "s", "runaway", "tokens_per_hour", 4e7, 3e7, 4 / 3, "warn")
    )
    assert_frame_equal(flags.select(COLUMNS), expected)


def test_empty_input_gives_an_empty_frame_with_the_flag_columns() -> None:
    empty = schema.empty(schema.PRICED).lazy()
    assert_frame_equal(outliers(empty, until=DAY), pl.DataFrame(schema=FLAG_SCHEMA))


@pytest.mark.parametrize(
    "bad",
    [
        {"days": 0},
        {"team_z": 0.0},
        {"self_ratio": -1.0},
        {"metric": "usd"},
        {"peers": "org"},
        {"self_min_baseline_days": 8},
        {"critical_factor": 0.5},
        {"daily_cap_usd": 0.0},
    ],
)
def test_rules_refuse_thresholds_that_make_no_sense(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        OutlierRules(**bad)


# --- session_stats and max_severity -------------------------------------------------------------


def test_session_stats_one_row_per_session() -> None:
    lf = priced_rows(
        {"user": "a", "ts": at(DAY, 8), "session_id": "s1", "input_tokens": 100,
         "output_tokens": 10, "cost_usd": 0.5},
        {"user": "a", "ts": at(DAY, 10, 30), "session_id": "s1", "cache_read_tokens": 890,
         "cost_usd": None},
        {"user": "b", "ts": at(DAY, 9), "session_id": "s2", "input_tokens": None,
         "output_tokens": None, "cost_usd": None},
        {"user": "b", "ts": at(DAY, 9), "session_id": None, "cost_usd": 1.0},
    )  # fmt: skip
    paris = pl.Datetime("us", "Europe/Paris")
    expected = pl.DataFrame(
        {
            "user": ["a", "b"],
            "session": ["s1", "s2"],
            # 08:00 and 10:30 UTC are 10:00 and 12:30 in Paris (UTC+2 in September)
            "start": pl.Series([at(DAY, 8), at(DAY, 9)]).dt.convert_time_zone("Europe/Paris"),
            "end": pl.Series([at(DAY, 10, 30), at(DAY, 9)]).dt.convert_time_zone("Europe/Paris"),
            "hours": [2.5, 0.0],
            "total_tokens": [1000, 0],  # 100 + 10 + 890; b's tokens are unknown (null)
            "cost_usd": [0.5, None],  # the unpriced row adds nothing; b has no priced row
            "output_ratio": [0.01, None],
        },
        schema_overrides={"start": paris, "end": paris},
    )
    assert_frame_equal(session_stats(lf, tz="Europe/Paris"), expected)


def test_max_severity_is_the_highest_flag_or_none() -> None:
    assert max_severity(pl.DataFrame(schema=FLAG_SCHEMA)) is None
    warn_only = pl.DataFrame({"severity": ["warn", "warn"]})
    assert max_severity(warn_only) == "warn"
    assert max_severity(pl.DataFrame({"severity": ["warn", "critical"]})) == "critical"
