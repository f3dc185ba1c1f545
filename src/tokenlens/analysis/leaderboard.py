"""The leaderboard: rank users (or teams) over a window, with badges, titles and the waste beside.

Definitions, each one a choice written down so the board can be argued with:

- Window: the `window_days` local days ending at `until`, both ends included.
- Active: a user (or team) with at least one usage event in the window (`schema.is_usage()`:
  tokens, request units or a cost), as `events` counts them in every report. A user with only
  Copilot premium requests is active, has null `total_tokens`, and ranks after every user with
  a number when ranked by tokens. Rows carrying only output signals (lines of code) add their
  lines to an active user but make no one active. Rows whose key is null (a team unknown) are
  left off.
- Rank: ordinal, 1 = best, by (metric best first, name ascending); a null metric ranks last.
  `rank_by` picks the metric:

  | rank_by        | column                 | best first |
  |----------------|------------------------|------------|
  | `tokens`       | `total_tokens`         | highest    |
  | `cost`         | `cost_usd`             | highest    |
  | `usd-per-mtok` | `usd_per_mtok`         | lowest (the cheapest tokens) |
  | `lines-added`  | `lines_added`          | highest    |
  | `efficiency`   | `lines_added_per_mtok` | highest (lines added per million tokens) |

- Badges: a badge with top share p goes to the ranks 1..ceil(p * n), n = active users (see
  `badge_cutoffs`); a rank inside several cut-offs gets the smallest share's badge. A user whose
  metric is null gets no badge, whatever the rank. Names are lower case.
- Titles go to the single best active user, ties broken by name, only for a positive number:
  Token Legend (most tokens), Session Immortal (longest session: last event minus first event of
  one session_id, in hours), Model Connoisseur (most distinct models), Cache Wizard (highest
  cache-hit ratio among users with at least `cache_wizard_min_tokens` tokens).
- `usd_per_mtok` is defined as in every report: the cost of priced rows with tokens over their
  tokens (a Copilot request's cost has no tokens and would inflate it).
  `cache_hit_ratio` = cache_read / (input + cache_write + cache_read). `flagged_share` = the
  share of the user's tokens in the `flagged_sessions` (a frame with columns user and session);
  null when no frame is given or the user has no tokens.

Output: the top `top` ranks, plus the holder of any title ranked below them, so every title
awarded is on the board; sorted by rank. `title_values` is a list of structs
`{title, value, unit}` in the order of `titles` (JSON: a list of objects), units `tokens`,
`hours`, `models`, `ratio`.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, Final

import polars as pl

from tokenlens import schema
from tokenlens.analysis import exprs, outliers
from tokenlens.analysis.outliers import OutlierRules
from tokenlens.errors import TokenlensError

DEFAULT_BADGES: Final[tuple[tuple[str, float], ...]] = (
    ("emerald", 0.01),
    ("platinum", 0.05),
    ("gold", 0.10),
    ("silver", 0.25),
    ("bronze", 0.50),
)

# rank_by -> (metric column, higher is better)
RANK_BY: Final[dict[str, tuple[str, bool]]] = {
    "tokens": ("total_tokens", True),
    "cost": ("cost_usd", True),
    "usd-per-mtok": ("usd_per_mtok", False),
    "lines-added": ("lines_added", True),
    "efficiency": ("lines_added_per_mtok", True),
}

TOKEN_LEGEND: Final = "Token Legend"
SESSION_IMMORTAL: Final = "Session Immortal"
MODEL_CONNOISSEUR: Final = "Model Connoisseur"
CACHE_WIZARD: Final = "Cache Wizard"
TITLES: Final = (TOKEN_LEGEND, SESSION_IMMORTAL, MODEL_CONNOISSEUR, CACHE_WIZARD)

TITLE_VALUE: Final = pl.Struct({"title": pl.String, "value": pl.Float64, "unit": pl.String})

METRICS: Final[dict[str, pl.DataType]] = {
    "badge": pl.String(),
    "titles": pl.List(pl.String),
    "title_values": pl.List(TITLE_VALUE),
    "total_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
    "usd_per_mtok": pl.Float64(),
    "cache_hit_ratio": pl.Float64(),
    "lines_added": pl.Int64(),
    "lines_added_per_mtok": pl.Float64(),
    "flagged_share": pl.Float64(),
    "events": pl.Int64(),
    "sessions": pl.Int64(),
    "models": pl.Int64(),
}

_US_PER_HOUR: Final = 3_600_000_000


def output_schema(by: str = "user") -> dict[str, pl.DataType]:
    """The leaderboard's columns in order, the key column named after `by`."""
    return {"rank": pl.Int64(), by: pl.String(), **METRICS}


def window(until: date, window_days: int) -> tuple[date, date]:
    """The first and last local day of the window (both included)."""
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, not {window_days}")
    return until - timedelta(days=window_days - 1), until


def badge_cutoffs(badges: tuple[tuple[str, float], ...], n_active: int) -> pl.DataFrame:
    """Each badge with its top share and the ranks it covers: 1..ceil(top_share * n_active).

    Sorted by top share, smallest (the rarest badge) first. The product is rounded to 9 decimals
    before the ceiling so that 0.07 * 100 covers 7 ranks, not 8.
    """
    _check_badges(badges)
    ordered = sorted(((name.lower(), share) for name, share in badges), key=lambda b: b[1])
    return pl.DataFrame(
        {
            "badge": [name for name, _ in ordered],
            "top_share": [float(share) for _, share in ordered],
            "ranks": [math.ceil(round(share * n_active, 9)) for _, share in ordered],
        },
        schema={"badge": pl.String, "top_share": pl.Float64, "ranks": pl.Int64},
    )


def active_count(
    priced: pl.LazyFrame,
    *,
    until: date,
    window_days: int = 30,
    tz: str = "UTC",
    by: str = "user",
) -> int:
    """How many users (or teams) have a usage event in the window: the n of the badge cut-offs."""
    _check_key(priced, by)
    rows = priced.filter(
        exprs.period_filter(*window(until, window_days), tz),
        pl.col(by).is_not_null(),
        schema.is_usage(),
    )
    return int(rows.select(pl.col(by).n_unique()).collect().item())


def leaderboard(priced: pl.LazyFrame, **options: Any) -> pl.DataFrame:
    """Rank the active users of the window by `rank_by`, best first; ties broken by name.

    Takes the options of `ranked`. See the module docstring for every definition (window, rank,
    badges, titles, columns).
    """
    board, _ = ranked(priced, **options)
    return board


def ranked(
    priced: pl.LazyFrame,
    *,
    until: date,
    window_days: int = 30,
    tz: str = "UTC",
    top: int = 250,
    rank_by: str = "tokens",
    badges: tuple[tuple[str, float], ...] = DEFAULT_BADGES,
    cache_wizard_min_tokens: int = 1_000_000,
    flagged_sessions: pl.DataFrame | None = None,
    by: str = "user",
    flag_rules: OutlierRules | None = None,
) -> tuple[pl.DataFrame, int]:
    """`leaderboard`, and the number of active keys (what `active_count` gives) from the same
    read of the rows.

    With `flag_rules` (instead of `flagged_sessions`), the sessions the outlier scan would flag
    under those rules (`outliers.flagged_sessions`) are found in the same group-by as the
    board's own session figures.
    """
    if rank_by not in RANK_BY:
        raise ValueError(f"unknown rank_by {rank_by!r}; use one of {', '.join(RANK_BY)}")
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    _check_badges(badges)
    _check_key(priced, by)
    first, last = window(until, window_days)
    start = first if flag_rules is None else min(first, outliers.scan_start(until, flag_rules))
    rows = priced.filter(exprs.period_filter(start, last, tz), pl.col(by).is_not_null())
    in_window = exprs.period_filter(first, last, tz)
    per_key, all_sessions = pl.collect_all(
        [_per_key(rows.filter(in_window), by), _sessions(rows, by, in_window, flag_rules)]
    )
    if flag_rules is not None:
        flagged_sessions = outliers.runaway_pairs(
            all_sessions.lazy()
            .rename({"session_id": "session"})
            .select(outliers.session_columns(tz)),
            until=until,
            rules=flag_rules,
        ).collect()
    sessions = all_sessions.filter(pl.col("_in_window"))
    agg = (
        per_key.lazy()
        .filter(pl.col("events") > 0)
        .join(_per_session(sessions.lazy(), by), on=by, how="left")
        .join(_flagged_tokens(sessions.lazy(), by, flagged_sessions), on=by, how="left")
        .with_columns(pl.col("_flagged_tokens").fill_null(0))
        .collect()
    )

    metric, higher_is_better = RANK_BY[rank_by]
    board = agg.select(
        pl.col(by),
        pl.col("total_tokens"),
        pl.col("cost_usd"),
        exprs.ratio(pl.col("_paid_cost") * 1_000_000, pl.col("_paid_tokens")).alias("usd_per_mtok"),
        exprs.ratio(pl.col("_cache_read"), pl.col("_input_side")).alias("cache_hit_ratio"),
        pl.col("lines_added"),
        exprs.ratio(pl.col("lines_added") * 1_000_000, pl.col("total_tokens")).alias(
            "lines_added_per_mtok"
        ),
        (
            exprs.ratio(pl.col("_flagged_tokens"), pl.col("total_tokens"))
            if flagged_sessions is not None
            else pl.lit(None, pl.Float64)
        ).alias("flagged_share"),
        pl.col("events"),
        pl.col("sessions").fill_null(0),
        pl.col("models"),
        pl.col("_longest_us"),
    )
    board = board.sort(
        [metric, by], descending=[higher_is_better, False], nulls_last=True, maintain_order=True
    ).with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"))

    cutoffs = badge_cutoffs(badges, board.height)
    badge = pl.lit(None, pl.String)
    for name, ranks in reversed(list(zip(cutoffs["badge"], cutoffs["ranks"], strict=True))):
        badge = pl.when(pl.col("rank") <= ranks).then(pl.lit(name)).otherwise(badge)
    board = board.with_columns(
        pl.when(pl.col(metric).is_not_null()).then(badge).otherwise(None).alias("badge")
    )

    awards = _titles(board, by, cache_wizard_min_tokens)
    board = board.join(awards, on=by, how="left").with_columns(
        pl.col("titles").fill_null(pl.lit([], pl.List(pl.String))),
        pl.col("title_values").fill_null(pl.lit([], pl.List(TITLE_VALUE))),
    )
    board = board.filter((pl.col("rank") <= top) | (pl.col("titles").list.len() > 0))
    out = output_schema(by)
    return board.sort("rank").select(pl.col(c).cast(t) for c, t in out.items()), agg.height


def _check_badges(badges: tuple[tuple[str, float], ...]) -> None:
    for name, share in badges:
        if not name or not 0.0 <= share <= 1.0:
            raise ValueError(f"badge {name!r}: top share must be from 0 to 1, not {share}")
    names = [name.lower() for name, _ in badges]
    if len(set(names)) != len(names):
        raise ValueError(f"badge names repeat: {names}")


def _check_key(priced: pl.LazyFrame, by: str) -> None:
    if by in priced.collect_schema().names():
        return
    if by == "team":
        raise TokenlensError(
            "no team is known for the data",
            hint="Set teams_file in the config to a CSV of user and team.",
        )
    raise ValueError(f"cannot rank by {by!r}: no such column")


def _flagged_tokens(
    sessions: pl.LazyFrame, by: str, flagged_sessions: pl.DataFrame | None
) -> pl.LazyFrame:
    """Per key: the tokens of its sessions that the outlier scan flagged."""
    if flagged_sessions is None or flagged_sessions.is_empty():
        return sessions.select(pl.col(by), pl.lit(0, pl.Int64).alias("_flagged_tokens")).head(0)
    pairs = (
        flagged_sessions.lazy()
        .select(
            pl.col("user").cast(pl.String), pl.col("session").cast(pl.String).alias("session_id")
        )
        .drop_nulls(["user", "session_id"])
        .unique(["user", "session_id"])
    )
    return (
        sessions.join(pairs, on=["user", "session_id"], how="semi")
        .group_by(by)
        .agg(pl.col("_tokens").sum().alias("_flagged_tokens"))
    )


def _row_values(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Per-row values, so that the group-by below needs only plain sums, counts and maxima."""
    tok = schema.total_tokens()
    priced = pl.col("cost_basis").is_in(["reported", "computed"])
    zero = pl.lit(0, pl.Int64)
    return rows.with_columns(
        tok.alias("_tokens"),
        schema.has_tokens().alias("_has_tokens"),
        schema.is_usage().alias("_usage"),
        # $/Mtok as in every report: the cost of priced rows with tokens over their tokens
        pl.when(priced & schema.has_tokens())
        .then(pl.col("cost_usd"))
        .otherwise(0.0)
        .alias("_paid_cost"),
        pl.when(priced).then(tok).otherwise(zero).alias("_paid_tokens"),
        pl.sum_horizontal(
            *(
                pl.col(c).fill_null(0)
                for c in ("input_tokens", "cache_write_tokens", "cache_read_tokens")
            )
        ).alias("_input_side"),
    )


def _per_key(rows: pl.LazyFrame, by: str) -> pl.LazyFrame:
    """Per key: partial aggregates (sums, counts, maxima), then nulls where nothing was reported."""
    model = pl.col("model")
    sums = ("_tokens", "_paid_cost", "_paid_tokens", "_input_side")
    return (
        _row_values(rows)
        .group_by(by)
        .agg(
            *(pl.col(c).sum() for c in sums),
            pl.col("cache_read_tokens").sum().alias("_cache_read"),
            pl.col("_has_tokens").max(),
            pl.col("cost_usd").sum(),
            pl.col("cost_usd").count().alias("_costs"),
            pl.col("lines_added").sum(),
            pl.col("lines_added").count().alias("_lines"),
            pl.col("_usage").sum().cast(pl.Int64).alias("events"),
            (model.n_unique() - model.null_count().clip(0, 1)).cast(pl.Int64).alias("models"),
        )
        .with_columns(
            pl.when(pl.col("_has_tokens")).then(pl.col("_tokens")).alias("total_tokens"),
            pl.when(pl.col("_costs") > 0).then(pl.col("cost_usd")).alias("cost_usd"),
            pl.when(pl.col("_lines") > 0).then(pl.col("lines_added")).alias("lines_added"),
        )
    )


def _sessions(
    rows: pl.LazyFrame, by: str, in_window: pl.Expr, flag_rules: OutlierRules | None
) -> pl.LazyFrame:
    """One row per (key, user, session): its span in microseconds (last - first event) and its
    tokens within the window, whether it has rows there, and with `flag_rules` what the
    session rules read of all its rows. A session is one session_id of one user (two users
    never share a session)."""
    keys = list(dict.fromkeys([by, "user", "session_id"]))
    # Window-only values as columns first (null or 0 outside), so that the group-by below
    # needs only plain minima, maxima and sums.
    marked = rows.filter(pl.col("session_id").is_not_null()).with_columns(
        _win=in_window,
        _win_ts=pl.when(in_window).then(pl.col("ts")),
        _win_tokens=pl.when(in_window).then(schema.total_tokens()).otherwise(0),
    )
    aggs = [
        (pl.col("_win_ts").max() - pl.col("_win_ts").min()).dt.total_microseconds().alias("_span"),
        pl.col("_win_tokens").sum().alias("_tokens"),
        pl.col("_win").max().alias("_in_window"),
    ]
    if flag_rules is not None:
        aggs.extend(outliers.session_aggregates())
    return marked.group_by(keys).agg(aggs)


def _per_session(sessions: pl.LazyFrame, by: str) -> pl.LazyFrame:
    """Per key: the number of sessions and the longest one."""
    return sessions.group_by(by).agg(
        pl.len().cast(pl.Int64).alias("sessions"),
        pl.col("_span").max().alias("_longest_us"),
    )


def _titles(board: pl.DataFrame, by: str, cache_wizard_min_tokens: int) -> pl.DataFrame:
    """One row per title holder: key, titles (list) and title_values (list of structs)."""
    contests = (
        (TOKEN_LEGEND, pl.col("total_tokens").cast(pl.Float64), pl.lit(True), "tokens"),
        (
            SESSION_IMMORTAL,
            pl.col("_longest_us").cast(pl.Float64) / _US_PER_HOUR,
            pl.lit(True),
            "hours",
        ),
        (MODEL_CONNOISSEUR, pl.col("models").cast(pl.Float64), pl.lit(True), "models"),
        (
            CACHE_WIZARD,
            pl.col("cache_hit_ratio"),
            pl.col("total_tokens").fill_null(0) >= cache_wizard_min_tokens,
            "ratio",
        ),
    )
    winners = []
    for order, (title, value, eligible, unit) in enumerate(contests):
        winners.append(
            board.select(pl.col(by), value.alias("value"), eligible.alias("_ok"))
            .filter(pl.col("_ok") & (pl.col("value") > 0))
            .sort(["value", by], descending=[True, False], maintain_order=True)
            .head(1)
            .select(
                pl.col(by),
                pl.lit(order).alias("_order"),
                pl.lit(title).alias("title"),
                pl.col("value"),
                pl.lit(unit).alias("unit"),
            )
        )
    return (
        pl.concat(winners)
        .sort("_order")
        .group_by(by, maintain_order=True)
        .agg(
            pl.col("title").alias("titles"),
            pl.struct("title", "value", "unit").alias("title_values"),
        )
    )
