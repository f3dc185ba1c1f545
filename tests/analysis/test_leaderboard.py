"""The leaderboard: ranks, badges, titles and the metrics beside them, worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import usage_rows
from tokenlens import schema
from tokenlens.analysis.leaderboard import (
    DEFAULT_BADGES,
    active_count,
    badge_cutoffs,
    leaderboard,
    output_schema,
    ranked,
    window,
)
from tokenlens.errors import TokenlensError

UNTIL = date(2025, 9, 30)  # the default 30-day window is 2025-09-01 .. 2025-09-30
NO_TOKENS = dict.fromkeys(
    ("input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "cache_read_tokens"), None
) | {"output_tokens": None}


def ts(day: int, hour: int = 12, minute: int = 0, month: int = 9) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def priced(*rows: dict[str, Any], team: dict[str, str] | None = None) -> pl.LazyFrame:
    """PRICED rows: cost_usd is the reported cost (null means unpriced); optional team column."""
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


def copilot(user: str, **extra: Any) -> dict[str, Any]:
    """A Copilot premium-request row: no tokens at all."""
    return {
        "source": "copilot",
        "user": user,
        "model": "gpt-4.1",
        "kind": "premium_request",
        "requests": 4.0,
        **NO_TOKENS,
        **extra,
    }


def tv(title: str, value: float, unit: str) -> dict[str, Any]:
    return {"title": title, "value": value, "unit": unit}


# --- the synthetic team of 1,000 ---------------------------------------------------------------


def thousand_users() -> pl.LazyFrame:
    """Users u0001..u1000; user i has i * 1000 tokens in one session on 2025-09-10.

    Planted:
    - u0003: a second, token-less event 9 hours into its session (the longest session);
    - u0400 and u0500: two token-less events with models m-b and m-c (3 models each: a tie);
    - u0950: 90% of its tokens are cache reads (ratio 0.9), u0990: 50%;
      u0010: 100% cache reads, but below the Cache Wizard floor used in the test (900,000).
    """
    rows: list[dict[str, Any]] = []
    for i in range(1, 1001):
        tokens = i * 1000
        read = {950: 855_000, 990: 495_000, 10: 10_000}.get(i, 0)
        rows.append(
            {
                "user": f"u{i:04d}",
                "session_id": f"s{i}",
                "ts": ts(10),
                "model": "m-a",
                "input_tokens": tokens - read,
                "cache_read_tokens": read,
            }
        )
    rows.append({"user": "u0003", "session_id": "s3", "ts": ts(10, 21), "model": "m-a"})
    for user in ("u0400", "u0500"):
        rows += [
            {"user": user, "session_id": "x", "ts": ts(11), "model": "m-b"},
            {"user": user, "session_id": "x", "ts": ts(11), "model": "m-c"},
        ]
    return priced(*rows)


def expected_badge(rank: int) -> str | None:
    # n = 1000: emerald ranks 1-10, platinum 11-50, gold 51-100, silver 101-250, bronze 251-500
    for badge, last in (
        ("emerald", 10),
        ("platinum", 50),
        ("gold", 100),
        ("silver", 250),
        ("bronze", 500),
    ):
        if rank <= last:
            return badge
    return None


def test_thousand_users_get_exact_badges_and_titles() -> None:
    out = leaderboard(thousand_users(), until=UNTIL, cache_wizard_min_tokens=900_000)

    # Rank r is user 1001 - r (most tokens first). The top 250 ranks, then two title holders
    # ranked below: u0400 (rank 601, Model Connoisseur) and u0003 (rank 998, Session Immortal).
    ranks = [*range(1, 251), 601, 998]
    users = [f"u{1001 - r:04d}" for r in ranks]
    titles: dict[str, list[str]] = {
        "u1000": ["Token Legend"],
        "u0950": ["Cache Wizard"],
        "u0400": ["Model Connoisseur"],
        "u0003": ["Session Immortal"],
    }
    expected = pl.DataFrame(
        {
            "rank": ranks,
            "user": users,
            "badge": [expected_badge(r) for r in ranks],
            "titles": [titles.get(u, []) for u in users],
            "total_tokens": [(1001 - r) * 1000 for r in ranks],
        },
        schema={
            "rank": pl.Int64,
            "user": pl.String,
            "badge": pl.String,
            "titles": pl.List(pl.String),
            "total_tokens": pl.Int64,
        },
    )
    assert_frame_equal(out.select(expected.columns), expected)
    assert out.filter(pl.col("badge") == "emerald").height == 10
    assert out["badge"].value_counts(sort=True).rows() == [
        ("silver", 150),
        ("gold", 50),
        ("platinum", 40),
        ("emerald", 10),
        (None, 2),  # u0400 (rank 601) and u0003 (rank 998) are below bronze's 500 ranks
    ]

    holders = out.filter(pl.col("titles").list.len() > 0).select("user", "title_values")
    assert holders.to_dicts() == [
        {"user": "u1000", "title_values": [tv("Token Legend", 1_000_000.0, "tokens")]},
        {"user": "u0950", "title_values": [tv("Cache Wizard", 0.9, "ratio")]},
        # u0400 and u0500 both used 3 models: the name decides
        {"user": "u0400", "title_values": [tv("Model Connoisseur", 3.0, "models")]},
        {"user": "u0003", "title_values": [tv("Session Immortal", 9.0, "hours")]},
    ]


def test_thousand_users_top_ten_shows_ten_ranks_and_the_title_holders() -> None:
    out = leaderboard(thousand_users(), until=UNTIL, top=10, cache_wizard_min_tokens=900_000)
    # ranks 1..10 (u1000..u0991), then u0950 (51), u0400 (601), u0003 (998)
    assert out["rank"].to_list() == [*range(1, 11), 51, 601, 998]
    assert out["badge"].to_list() == [*["emerald"] * 10, "gold", None, None]


def test_badge_cutoffs_for_a_thousand_users() -> None:
    expected = pl.DataFrame(
        {
            "badge": ["emerald", "platinum", "gold", "silver", "bronze"],
            "top_share": [0.01, 0.05, 0.10, 0.25, 0.50],
            "ranks": [10, 50, 100, 250, 500],
        },
        schema={"badge": pl.String, "top_share": pl.Float64, "ranks": pl.Int64},
    )
    assert_frame_equal(badge_cutoffs(DEFAULT_BADGES, 1000), expected)


@pytest.mark.parametrize(
    ("n", "ranks"),
    [
        (0, [0, 0, 0, 0, 0]),
        (1, [1, 1, 1, 1, 1]),  # ceil(0.01) = 1: a lone user is emerald
        (3, [1, 1, 1, 1, 2]),  # ceil(0.03, 0.15, 0.3, 0.75) = 1, ceil(1.5) = 2
        (7, [1, 1, 1, 2, 4]),  # ceil(1.75) = 2, ceil(3.5) = 4
        (101, [2, 6, 11, 26, 51]),  # ceil(1.01), ceil(5.05), ceil(10.1), ceil(25.25), ceil(50.5)
        (85_000, [850, 4250, 8500, 21250, 42500]),
    ],
)
def test_badge_cutoffs_round_up(n: int, ranks: list[int]) -> None:
    assert badge_cutoffs(DEFAULT_BADGES, n)["ranks"].to_list() == ranks


def test_badge_cutoffs_sort_rarest_first_lower_case_and_ignore_float_noise() -> None:
    # 0.07 * 100 is 7.000000000000001 in floating point: still 7 ranks, not 8
    out = badge_cutoffs((("Wide", 0.5), ("Rare", 0.07)), 100)
    assert out.rows() == [("rare", 0.07, 7), ("wide", 0.5, 50)]


def test_bad_badges_are_refused() -> None:
    with pytest.raises(ValueError, match="top share"):
        badge_cutoffs((("gold", 1.5),), 10)
    with pytest.raises(ValueError, match="repeat"):
        badge_cutoffs((("gold", 0.1), ("Gold", 0.2)), 10)


# --- edge cases ----------------------------------------------------------------------------------


def test_every_column_worked_out_by_hand() -> None:
    lf = priced(
        # ann: one session from 10:00 to 12:30 (2.5 h), two models, and an analytics row
        {
            "user": "ann",
            "session_id": "s1",
            "ts": ts(10, 10),
            "model": "m1",
            "input_tokens": 1000,
            "cache_write_tokens": 1000,
            "cache_read_tokens": 2000,
            "output_tokens": 1000,
            "reported_cost_usd": 0.05,
        },
        {
            "user": "ann",
            "session_id": "s1",
            "ts": ts(10, 12, 30),
            "model": "m2",
            "output_tokens": 5000,
            "reported_cost_usd": 0.10,
        },
        # an analytics row: lines of code only, not a usage event
        {
            "user": "ann",
            "ts": ts(10, 0),
            "model": None,
            "requests": None,
            "lines_added": 200,
            **NO_TOKENS,
        },
        # ben: Copilot requests only
        copilot("ben", reported_cost_usd=0.16),
    )
    out = leaderboard(lf, until=UNTIL, cache_wizard_min_tokens=10_000)
    expected = pl.DataFrame(
        {
            "rank": [1, 2],
            "user": ["ann", "ben"],
            # n = 2: every badge covers ceil(share * 2) = 1 rank; ben has no tokens anyway
            "badge": ["emerald", None],
            "titles": [
                ["Token Legend", "Session Immortal", "Model Connoisseur", "Cache Wizard"],
                [],
            ],
            "title_values": [
                [
                    tv("Token Legend", 10_000.0, "tokens"),
                    tv("Session Immortal", 2.5, "hours"),
                    tv("Model Connoisseur", 2.0, "models"),
                    tv("Cache Wizard", 0.5, "ratio"),
                ],
                [],
            ],
            "total_tokens": [10_000, None],  # 5000 + 5000; ben's tokens are unknown, not 0
            "cost_usd": [0.15, 0.16],
            "usd_per_mtok": [15.0, None],  # 0.15 * 1e6 / 10000; ben's cost has no tokens
            "cache_hit_ratio": [0.5, None],  # 2000 / (1000 + 1000 + 2000)
            "lines_added": [200, None],
            "lines_added_per_mtok": [20_000.0, None],  # 200 * 1e6 / 10000
            "flagged_share": [None, None],  # no flagged sessions given
            "events": [2, 1],  # ann's analytics row is not an event
            "sessions": [1, 0],
            "models": [2, 1],
        },
        schema=output_schema(),
    )
    assert_frame_equal(out, expected)


def test_ties_are_broken_by_name() -> None:
    lf = priced(
        {"user": "bob", "session_id": "b", "input_tokens": 500},
        {"user": "alice", "session_id": "a", "input_tokens": 500},
        {"user": "carl", "session_id": "c", "input_tokens": 100},
    )
    out = leaderboard(lf, until=UNTIL)
    # n = 3: emerald, platinum, gold, silver cover rank 1; bronze ceil(1.5) = 2 ranks
    assert out.select("rank", "user", "badge", "titles").rows() == [
        (1, "alice", "emerald", ["Token Legend", "Model Connoisseur"]),
        (2, "bob", "bronze", []),
        (3, "carl", None, []),
    ]


def test_a_copilot_only_user_is_active_ranked_last_and_gets_no_badge_or_token_legend() -> None:
    lf = priced(
        copilot("ada", reported_cost_usd=0.04),
        copilot("zed", reported_cost_usd=0.08),
        {"user": "mid", "input_tokens": 10, "reported_cost_usd": 0.01},
    )
    out = leaderboard(lf, until=UNTIL)
    # 3 active users: bronze covers ceil(1.5) = 2 ranks, but rank 2 (ada) has null tokens
    assert out.select("rank", "user", "badge", "total_tokens").rows() == [
        (1, "mid", "emerald", 10),
        (2, "ada", None, None),
        (3, "zed", None, None),
    ]
    assert out.filter(pl.col("titles").list.contains("Token Legend"))["user"].to_list() == ["mid"]
    assert active_count(lf, until=UNTIL) == 3
    assert ranked(lf, until=UNTIL, top=1)[1] == 3


def test_only_copilot_users_get_no_token_legend() -> None:
    out = leaderboard(priced(copilot("ada"), copilot("zed", model="o3")), until=UNTIL)
    assert out["total_tokens"].to_list() == [None, None]
    # zed and ada both have one model: the name decides Model Connoisseur
    assert out["titles"].to_list() == [["Model Connoisseur"], []]


def test_an_empty_window_gives_an_empty_frame_with_the_columns() -> None:
    lf = priced({"user": "ann", "ts": ts(1, month=8), "input_tokens": 5})
    out = leaderboard(lf, until=UNTIL)
    assert_frame_equal(out, pl.DataFrame(schema=output_schema()))
    assert active_count(lf, until=UNTIL) == 0
    assert ranked(lf, until=UNTIL)[1] == 0


def test_the_window_ends_at_until() -> None:
    lf = priced(
        {"user": "before", "ts": ts(31, 23, month=8), "input_tokens": 9},  # day before the window
        {"user": "first", "ts": ts(1, 0), "input_tokens": 1},  # first day 2025-09-01
        {"user": "last", "ts": ts(30, 23, 59), "input_tokens": 2},  # until 2025-09-30
        {"user": "after", "ts": ts(1, 0, month=10), "input_tokens": 9},  # day after until
    )
    out = leaderboard(lf, until=UNTIL)
    assert out.select("user", "total_tokens").rows() == [("last", 2), ("first", 1)]
    assert window(UNTIL, 30) == (date(2025, 9, 1), UNTIL)


def test_the_window_counts_local_days() -> None:
    # 2025-10-01 02:00 UTC is 2025-09-30 22:00 in New York; 2025-09-01 02:00 UTC is still Aug 31
    lf = priced(
        {"user": "late", "ts": ts(1, 2, month=10), "input_tokens": 4},
        {"user": "early", "ts": ts(1, 2), "input_tokens": 8},
    )
    out = leaderboard(lf, until=UNTIL, tz="America/New_York")
    assert out["user"].to_list() == ["late"]
    assert leaderboard(lf, until=UNTIL)["user"].to_list() == ["early"]


def test_a_one_day_window() -> None:
    lf = priced(
        {"user": "a", "ts": ts(29), "input_tokens": 9},
        {"user": "b", "ts": ts(30), "input_tokens": 1},
    )
    assert leaderboard(lf, until=UNTIL, window_days=1)["user"].to_list() == ["b"]


def test_flagged_share_is_the_share_of_tokens_in_flagged_sessions() -> None:
    lf = priced(
        {"user": "a", "session_id": "s1", "input_tokens": 300},
        {"user": "a", "session_id": "s2", "input_tokens": 100},
        {"user": "b", "session_id": "s1", "input_tokens": 50},
        {"user": "b", "session_id": "s9", "input_tokens": 50},
        {"user": "c", "session_id": "s1", "input_tokens": 10},
        {"user": "c", **NO_TOKENS, "source": "copilot"},
        copilot("d"),
    )
    flagged = pl.DataFrame({"user": ["a", "b", "nobody", "a"], "session": ["s1", "s9", "s1", "s1"]})
    out = leaderboard(lf, until=UNTIL, flagged_sessions=flagged)
    # a: 300 of 400 tokens flagged; b: 50 of 100 (its s9, not a's s1); c: none of 10;
    # d: no tokens, so no share
    assert out.select("user", "flagged_share").rows() == [
        ("a", 0.75),
        ("b", 0.5),
        ("c", 0.0),
        ("d", None),
    ]
    empty = pl.DataFrame(schema={"user": pl.String, "session": pl.String})
    shares = leaderboard(lf, until=UNTIL, flagged_sessions=empty)["flagged_share"]
    assert shares.to_list() == [0.0, 0.0, 0.0, None]


def ranked_team() -> pl.LazyFrame:
    """a: 1 Mtok for $3 and 100 lines; b: 2 Mtok for $30 and 50 lines; c: 0.5 Mtok for $0.50;
    d: Copilot only, $1."""
    return priced(
        {"user": "a", "input_tokens": 1_000_000, "reported_cost_usd": 3.0, "lines_added": 100},
        {"user": "b", "input_tokens": 2_000_000, "reported_cost_usd": 30.0, "lines_added": 50},
        {"user": "c", "input_tokens": 500_000, "reported_cost_usd": 0.5},
        copilot("d", reported_cost_usd=1.0),
    )


@pytest.mark.parametrize(
    ("rank_by", "order", "badges"),
    [
        # n = 4: emerald..gold cover rank 1, silver rank 1, bronze ranks 1-2
        ("tokens", ["b", "a", "c", "d"], ["emerald", "bronze", None, None]),
        ("cost", ["b", "a", "d", "c"], ["emerald", "bronze", None, None]),
        # $/Mtok: c 1.0, a 3.0, b 15.0, d none: the cheapest first
        ("usd-per-mtok", ["c", "a", "b", "d"], ["emerald", "bronze", None, None]),
        # lines: a 100, b 50; c and d report none (by name)
        ("lines-added", ["a", "b", "c", "d"], ["emerald", "bronze", None, None]),
        # lines per Mtok: a 100, b 25
        ("efficiency", ["a", "b", "c", "d"], ["emerald", "bronze", None, None]),
    ],
)
def test_rank_by(rank_by: str, order: list[str], badges: list[str | None]) -> None:
    out = leaderboard(ranked_team(), until=UNTIL, rank_by=rank_by)
    assert out["user"].to_list() == order
    assert out["rank"].to_list() == [1, 2, 3, 4]
    assert out["badge"].to_list() == badges


def test_efficiency_and_price_columns() -> None:
    out = leaderboard(ranked_team(), until=UNTIL).sort("user")
    assert out.select("user", "usd_per_mtok", "lines_added_per_mtok").rows() == [
        ("a", 3.0, 100.0),
        ("b", 15.0, 25.0),
        ("c", 1.0, None),
        ("d", None, None),
    ]


def test_cache_wizard_needs_the_volume_floor_and_a_positive_ratio() -> None:
    lf = priced(
        {"user": "small", "cache_read_tokens": 999},  # ratio 1.0 but below the floor
        {"user": "big", "input_tokens": 600, "cache_read_tokens": 400},  # 0.4
        {"user": "bigger", "input_tokens": 2000},  # 0.0
    )
    out = leaderboard(lf, until=UNTIL, cache_wizard_min_tokens=1000)
    wizard = out.filter(pl.col("titles").list.contains("Cache Wizard"))
    assert wizard["user"].to_list() == ["big"]
    lone = leaderboard(lf, until=UNTIL, cache_wizard_min_tokens=1500)
    assert not lone["titles"].list.contains("Cache Wizard").any()  # bigger's ratio is 0


def test_session_immortal_needs_a_session_longer_than_zero() -> None:
    lf = priced(
        {"user": "a", "session_id": "s", "ts": ts(3), "input_tokens": 1},
        {"user": "b", "ts": ts(3), "input_tokens": 2},
        {"user": "b", "ts": ts(4), "input_tokens": 2},  # a day apart, but no session
    )
    out = leaderboard(lf, until=UNTIL)
    assert not out["titles"].list.contains("Session Immortal").any()


def test_by_team() -> None:
    lf = priced(
        {"user": "a", "session_id": "s1", "input_tokens": 100},
        {"user": "b", "session_id": "s1", "input_tokens": 300},
        {"user": "c", "session_id": "s1", "input_tokens": 250},
        {"user": "nobody", "input_tokens": 1000},  # no team: not on a team board
        team={"a": "red", "b": "red", "c": "blue"},
    )
    out = leaderboard(lf, until=UNTIL, by="team")
    assert out.columns[:3] == ["rank", "team", "badge"]
    # red: 400 tokens in two sessions (a's s1 and b's s1 are different sessions)
    assert out.select("rank", "team", "total_tokens", "sessions").rows() == [
        (1, "red", 400, 2),
        (2, "blue", 250, 1),
    ]


def test_by_team_without_teams_says_how_to_get_them() -> None:
    with pytest.raises(TokenlensError, match="no team") as err:
        leaderboard(priced({"user": "a"}), until=UNTIL, by="team")
    assert err.value.hint is not None
    assert "teams_file" in err.value.hint


def test_bad_options_are_refused() -> None:
    lf = priced({"user": "a"})
    with pytest.raises(ValueError, match="rank_by"):
        leaderboard(lf, until=UNTIL, rank_by="vibes")
    with pytest.raises(ValueError, match="top"):
        leaderboard(lf, until=UNTIL, top=0)
    with pytest.raises(ValueError, match="window_days"):
        leaderboard(lf, until=UNTIL, window_days=0)


def test_a_user_with_only_lines_of_code_is_not_active() -> None:
    lf = priced(
        {"user": "coder", "input_tokens": 10, "lines_added": 5},
        {"user": "coder", "requests": None, "lines_added": 20, **NO_TOKENS},
        {"user": "ghost", "requests": None, "lines_added": 900, **NO_TOKENS},
    )
    out = leaderboard(lf, until=UNTIL, rank_by="lines-added")
    assert out.select("user", "badge", "lines_added", "events").rows() == [
        ("coder", "emerald", 25, 1)
    ]
    assert active_count(lf, until=UNTIL) == 1
    assert ranked(lf, until=UNTIL, rank_by="lines-added")[1] == 1


def test_usd_per_mtok_pairs_cost_with_priced_tokens() -> None:
    lf = priced(
        {"user": "mix", "input_tokens": 1_000_000, "reported_cost_usd": 3.0},
        copilot("mix", reported_cost_usd=0.4),  # a cost without tokens: left out of $/Mtok
        {"user": "mix", "input_tokens": 1_000_000},  # unpriced tokens: left out of $/Mtok
    )
    out = leaderboard(lf, until=UNTIL)
    # cost 3.0 + 0.4; $/Mtok 3.0 * 1e6 / 1,000,000 priced tokens; 2,000,000 tokens in all
    assert out.select("total_tokens", "cost_usd", "usd_per_mtok").rows() == [(2_000_000, 3.4, 3.0)]


@pytest.mark.parametrize("by", ["user", "team"])
@pytest.mark.parametrize("days", [1, 7, 14, 30])
def test_flag_rules_flag_what_the_outlier_scan_flags(by: str, days: int) -> None:
    from tests.analysis.test_outliers import AGENT_DAY, synthetic_team
    from tests.analysis.test_outliers import UNTIL as SCAN_UNTIL
    from tokenlens.analysis.outliers import OutlierRules, flagged_sessions

    lf = synthetic_team(teams=True, first=date(2025, 9, 1)).with_columns(
        cost_basis=pl.lit("reported")
    )
    rules = OutlierRules(days=days)
    flagged = flagged_sessions(lf, until=SCAN_UNTIL, rules=rules)
    want = ranked(lf, until=SCAN_UNTIL, window_days=days, flagged_sessions=flagged, by=by)
    got = ranked(lf, until=SCAN_UNTIL, window_days=days, flag_rules=rules, by=by)
    assert_frame_equal(got[0], want[0])
    assert got[1] == want[1]
    shares = want[0].get_column("flagged_share").drop_nulls()
    in_window = SCAN_UNTIL - timedelta(days=days) < AGENT_DAY
    assert (shares > 0).any() == in_window  # the agent's session is the one runaway
