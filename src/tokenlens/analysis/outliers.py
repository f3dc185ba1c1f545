"""Outlier scan: who spent far more than their peers, than their own habit, or ran an agent away.

Five rules, each with thresholds in `OutlierRules` (every field has a default and says what it
means):

- `team`: a user's day far above all active users that day, by a robust z-score
  `(x - median) / (1.4826 * MAD)`;
- `self`: a user's day at least `self_ratio` times their own mean over the days they were active in
  the `self_baseline_days` calendar days before;
- `team_median`: a user's spend over the whole period at least `team_median_ratio` times the
  median among active users;
- `runaway`: a session that ran for hours with a high burn rate, or with almost no output for the
  tokens it read (an agent left spinning);
- `daily_cap`: a circuit breaker, any user-day whose cost is over a cap in USD.

The scan covers the `days` local days ending at `until` (inclusive); rows after `until` are
ignored, so the same data gives the same flags whatever day it is run. The `self` rule's baseline
may reach back `self_baseline_days` before the first scanned day.

How it scales: one pass over the events builds partial aggregates per (user, local day, session);
every rule then works on those (one row per user-day or per session), with group_by and window
expressions only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Final, Literal

import polars as pl

from tokenlens import schema
from tokenlens.analysis import exprs
from tokenlens.errors import ConfigError

Metric = Literal["cost", "tokens"]
Peers = Literal["all", "team"]
Severity = Literal["warn", "critical"]

RULES: Final = ("team", "self", "team_median", "runaway", "daily_cap")
SEVERITIES: Final = ("warn", "critical")  # in rising order

# The metric name a flag reports for each `OutlierRules.metric`.
METRIC_COLUMN: Final[dict[str, str]] = {"cost": "cost_usd", "tokens": "total_tokens"}

FLAG_SCHEMA: Final[dict[str, pl.DataType]] = {
    "user": pl.String(),
    "team": pl.String(),
    "day": pl.Date(),
    "session": pl.String(),
    "rule": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "baseline": pl.Float64(),
    "ratio": pl.Float64(),
    "severity": pl.String(),
    "detail": pl.String(),
}

# 1.4826 * MAD estimates the standard deviation of normal data; when more than half the values are
# equal MAD is 0, and 1.2533 * the mean absolute deviation (the same estimate from the mean
# deviation) stands in for it, as in IBM's modified z-score.
_MAD_SCALE: Final = 1.4826
_MEAN_AD_SCALE: Final = 1.2533
_US_PER_HOUR: Final = 3_600_000_000


@dataclass(frozen=True)
class OutlierRules:
    """Thresholds of the outlier scan. Every field has a default; the CLI fills them from config."""

    days: int = 30
    """How many local days the scan covers, ending at `until` (inclusive)."""

    metric: Metric = "cost"
    """What a user-day is measured by for the team, self and team_median rules: "cost" is the sum
    of `cost_usd` (unpriced rows count 0: dollars and tokens are never mixed, so use "tokens" for
    data that cannot be priced); "tokens" is the sum of the four token kinds (null counts 0).
    It also picks the burn rate of the runaway rule (USD or tokens per hour)."""

    peers: Peers = "all"
    """Who a user is compared with by the team and team_median rules: "all" active users, or only
    the active users of the same `team` (when the frame has a team column; users without a team
    are then compared with each other)."""

    min_team_users: int = 5
    """The team and team_median rules say nothing about a group with fewer active users than this.
    A user is active on a day (or in the period) when their metric there is above 0."""

    team_z: float = 3.5
    """Team rule: flag a user-day whose robust z-score among the active users that day is at least
    this. z = (x - median) / (1.4826 * MAD); when MAD is 0, 1.2533 * the mean absolute deviation
    from the median is used instead; when that is 0 too (all equal) nobody is flagged."""

    self_ratio: float = 5.0
    """Self rule: flag a user-day at least this many times the user's own baseline."""

    self_baseline_days: int = 7
    """Self rule: the baseline is the user's mean over the days they were active among this many
    calendar days before the day (days without usage are left out, not counted as 0, so a weekend
    or a holiday does not make the next working day look like a spike)."""

    self_min_baseline_days: int = 3
    """Self rule: flag only once the baseline holds at least this many active days."""

    team_median_ratio: float = 10.0
    """Team median rule: flag a user whose total over the scanned days is at least this many times
    the median total of the active users. The flag's day is `until`, the end of the period."""

    session_hours: float = 4.0
    """Runaway rule: only sessions whose wall-clock time (first to last event) is at least this
    many hours. A session belongs to the local day it started; sessions that started before the
    scanned days are left to the scan that covers their start."""

    session_usd_per_hour: float = 25.0
    """Runaway rule, burn rate (metric "cost"): flag a long session spending at least this many
    USD per hour of wall-clock time."""

    session_tokens_per_hour: float = 30_000_000.0
    """Runaway rule, burn rate (metric "tokens"): flag a long session using at least this many
    tokens per hour of wall-clock time."""

    output_ratio_below: float = 0.002
    """Runaway rule, spinning: flag a long session whose output tokens are less than this share of
    its total tokens. Ordinary sessions write 0.5% to 3% of their tokens (cache reads dominate the
    total); well below that for hours means an agent reading its context over and over."""

    min_session_tokens: int = 1_000_000
    """Runaway rule, spinning: only sessions with at least this many tokens in total."""

    daily_cap_usd: float | None = None
    """Daily cap rule (circuit breaker): flag any user-day whose cost is over this many USD, always
    as critical. None turns the rule off."""

    critical_factor: float = 2.0
    """A flag is "critical" rather than "warn" when it passes its threshold by this factor: a
    z-score at least team_z * factor, a ratio at least self_ratio * factor or team_median_ratio *
    factor; a runaway session that ran at least session_hours * factor, or burned at least the
    burn threshold * factor, or wrote at most output_ratio_below / factor. daily_cap flags are
    always critical."""

    def __post_init__(self) -> None:
        if self.metric not in METRIC_COLUMN:
            raise ConfigError(f"outlier metric must be cost or tokens, not {self.metric!r}")
        if self.peers not in ("all", "team"):
            raise ConfigError(f"outlier peers must be all or team, not {self.peers!r}")
        for name in ("days", "min_team_users", "self_baseline_days", "self_min_baseline_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"outlier rule {name} must be at least 1")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ConfigError(f"outlier rule {f.name} must be above 0")
        if self.self_min_baseline_days > self.self_baseline_days:
            raise ConfigError(
                "outlier rule self_min_baseline_days must not exceed self_baseline_days"
            )
        if self.critical_factor < 1:
            raise ConfigError("outlier rule critical_factor must be at least 1")


def outliers(
    priced: pl.LazyFrame,
    *,
    until: date,
    tz: str = "UTC",
    rules: OutlierRules = OutlierRules(),  # frozen, so one shared default is safe
) -> pl.DataFrame:
    """One row per flag, in `FLAG_SCHEMA` order.

    Sorted by severity (critical first), day, user, rule, session, then metric.
    """
    first = until - timedelta(days=rules.days - 1)
    has_team = "team" in priced.collect_schema().names()
    rows = _window(priced, since=scan_start(until, rules), until=until, tz=tz)
    # Two small aggregates, computed together over one read of the events.
    day_frame, session_frame = pl.collect_all([_user_days(rows, tz, has_team), _sessions(rows, tz)])
    if has_team:
        teams = day_frame.lazy().group_by("user").agg(pl.col("team").drop_nulls().min())
        day_frame = day_frame.drop("team")
    else:
        teams = day_frame.lazy().select(pl.col("user").unique(), team=pl.lit(None, pl.String))
    user_days = (
        day_frame.lazy()
        .with_columns(value=pl.col(rules.metric).cast(pl.Float64))
        .join(teams, on="user", how="left")
        .collect()  # four rules read it: build it once
        .lazy()
    )
    sessions = session_frame.lazy().join(teams, on="user", how="left")
    flags = [
        _team_rule(user_days, first, rules),
        _self_rule(user_days, first, rules),
        _team_median_rule(user_days, first, until, rules),
        _runaway_rule(sessions, first, rules),
    ]
    if rules.daily_cap_usd is not None:
        flags.append(_daily_cap_rule(user_days, first, rules.daily_cap_usd))
    out = pl.concat([f.select(_flag_columns()) for f in flags], how="vertical")
    return out.sort(
        pl.col("severity") != "critical", "day", "user", "rule", "session", "metric"
    ).collect()


def flagged_sessions(
    priced: pl.LazyFrame,
    *,
    until: date,
    tz: str = "UTC",
    rules: OutlierRules = OutlierRules(),
) -> pl.DataFrame:
    """The (user, session) pairs that `outliers` flags with a session (the runaway rules),
    sorted, without the work of the per-day rules."""
    rows = _window(priced, since=scan_start(until, rules), until=until, tz=tz)
    pairs = runaway_pairs(_sessions(rows, tz), until=until, rules=rules)
    return pairs.sort("user", "session").collect()


def session_stats(priced: pl.LazyFrame, *, tz: str = "UTC") -> pl.DataFrame:
    """One row per (user, session) with a session id, sorted by user then session.

    Columns: user, session, start and end (first and last event, Datetime in `tz`), hours
    (wall-clock, Float64), total_tokens (Int64), cost_usd (null when no row of the session is
    priced), output_ratio (output over total tokens, null when the session has no tokens).
    """
    return _sessions(priced, tz).sort("user", "session").collect()


def max_severity(flags: pl.DataFrame) -> str | None:
    """The highest severity among the flags ("critical" over "warn"), None when there are none.

    For `--fail-on`: fail when `SEVERITIES.index(max_severity(flags)) >= SEVERITIES.index(level)`.
    """
    present = set(flags.get_column("severity").unique().to_list())
    for level in reversed(SEVERITIES):
        if level in present:
            return level
    return None


# --- the aggregates ----------------------------------------------------------------------------


def _window(priced: pl.LazyFrame, *, since: date, until: date, tz: str) -> pl.LazyFrame:
    """Rows of the local days [since, until]."""
    return priced.filter(exprs.period_filter(since, until, tz))


def _user_days(rows: pl.LazyFrame, tz: str, has_team: bool) -> pl.LazyFrame:
    """One row per (user, local day): cost (0 when unpriced) and tokens."""
    aggs = [
        exprs.exact_sum(pl.col("cost_usd")).alias("cost"),
        schema.total_tokens().sum().cast(pl.Int64).alias("tokens"),
    ]
    if has_team:
        aggs.append(pl.col("team").drop_nulls().min().alias("team"))
    day = exprs.local_ts(tz).dt.date().alias("day")
    return rows.group_by(pl.col("user"), day).agg(aggs)


def _sessions(rows: pl.LazyFrame, tz: str) -> pl.LazyFrame:
    """One row per (user, session) with a session id."""
    return (
        rows.filter(pl.col("session_id").is_not_null())
        .group_by("user", pl.col("session_id").alias("session"))
        .agg(session_aggregates())
        .select(session_columns(tz))
    )


def session_aggregates() -> list[pl.Expr]:
    """What the session rules need of one session's rows (sums, extremes), for any group-by
    whose groups are sessions."""
    cost = pl.col("cost_usd")
    return [
        pl.col("ts").min().alias("start"),
        pl.col("ts").max().alias("end"),
        schema.total_tokens().sum().cast(pl.Int64).alias("total_tokens"),
        pl.col("output_tokens").fill_null(0).sum().cast(pl.Int64).alias("output"),
        exprs.exact_sum(cost).alias("cost"),
        cost.is_not_null().any().alias("priced"),
    ]


def session_columns(tz: str) -> list[pl.Expr]:
    """`session_aggregates` (with `user` and `session`) as the session rules read them."""
    return [
        pl.col("user"),
        pl.col("session"),
        pl.col("start").dt.convert_time_zone(tz),
        pl.col("end").dt.convert_time_zone(tz),
        ((pl.col("end") - pl.col("start")).dt.total_microseconds() / _US_PER_HOUR).alias("hours"),
        pl.col("total_tokens"),
        pl.when(pl.col("priced")).then(pl.col("cost")).alias("cost_usd"),
        exprs.ratio(pl.col("output"), pl.col("total_tokens")).alias("output_ratio"),
    ]


def scan_start(until: date, rules: OutlierRules) -> date:
    """The first local day whose rows the rules read (the self rule's baseline reaches back)."""
    return until - timedelta(days=rules.days - 1 + rules.self_baseline_days)


def runaway_pairs(sessions: pl.LazyFrame, *, until: date, rules: OutlierRules) -> pl.LazyFrame:
    """The (user, session) pairs the session rules flag, from `session_columns` rows made of the
    rows since `scan_start`."""
    first = until - timedelta(days=rules.days - 1)
    flagged = _runaway_rule(sessions.with_columns(team=pl.lit(None, pl.String)), first, rules)
    return flagged.select("user", "session").unique()


# --- the rules ----------------------------------------------------------------------------------


def _team_rule(user_days: pl.LazyFrame, first: date, rules: OutlierRules) -> pl.LazyFrame:
    keys = _peer_keys(["day"], rules)
    active = user_days.filter((pl.col("day") >= first) & (pl.col("value") > 0))
    active = active.with_columns(
        n=pl.len().over(keys), median=pl.col("value").median().over(keys)
    ).with_columns(_dev=(pl.col("value") - pl.col("median")).abs())
    active = active.with_columns(
        _mad=pl.col("_dev").median().over(keys), _mean_ad=pl.col("_dev").mean().over(keys)
    )
    scale = (
        pl.when(pl.col("_mad") > 0)
        .then(_MAD_SCALE * pl.col("_mad"))
        .otherwise(_MEAN_AD_SCALE * pl.col("_mean_ad"))
    )
    z = exprs.ratio(pl.col("value") - pl.col("median"), scale)
    detail = _format(
        "{} on {} is a robust z-score of {} against the median {} of {} active users that day.",
        _amount(pl.col("value"), rules.metric),
        pl.col("day"),
        _fixed(pl.col("z"), 1),
        _amount(pl.col("median"), rules.metric),
        pl.col("n"),
    )
    return (
        active.with_columns(z=z)
        .filter((pl.col("n") >= rules.min_team_users) & (pl.col("z") >= rules.team_z))
        .with_columns(
            session=pl.lit(None, pl.String),
            rule=pl.lit("team"),
            metric=pl.lit(METRIC_COLUMN[rules.metric]),
            baseline=pl.col("median"),
            ratio=exprs.ratio(pl.col("value"), pl.col("median")),
            severity=_severity(pl.col("z") >= rules.team_z * rules.critical_factor),
            detail=detail,
        )
    )


def _self_rule(user_days: pl.LazyFrame, first: date, rules: OutlierRules) -> pl.LazyFrame:
    window = f"{rules.self_baseline_days}d"
    active = user_days.filter(pl.col("value") > 0).with_columns(_one=pl.lit(1, pl.Int64))
    active = active.with_columns(
        _sum=pl.col("value").rolling_sum_by("day", window, closed="left").over("user"),
        _n=pl.col("_one").rolling_sum_by("day", window, closed="left").over("user"),
    ).with_columns(baseline=exprs.ratio(pl.col("_sum"), pl.col("_n").cast(pl.Float64)))
    ratio = exprs.ratio(pl.col("value"), pl.col("baseline"))
    detail = _format(
        "{} on {} is {}x this user's mean of {} over {} active days in the {} days before.",
        _amount(pl.col("value"), rules.metric),
        pl.col("day"),
        _fixed(pl.col("ratio"), 1),
        _amount(pl.col("baseline"), rules.metric),
        pl.col("_n"),
        pl.lit(rules.self_baseline_days),
    )
    return (
        active.filter((pl.col("day") >= first) & (pl.col("_n") >= rules.self_min_baseline_days))
        .with_columns(ratio=ratio)
        .filter(pl.col("ratio") >= rules.self_ratio)
        .with_columns(
            session=pl.lit(None, pl.String),
            rule=pl.lit("self"),
            metric=pl.lit(METRIC_COLUMN[rules.metric]),
            severity=_severity(pl.col("ratio") >= rules.self_ratio * rules.critical_factor),
            detail=detail,
        )
    )


def _team_median_rule(
    user_days: pl.LazyFrame, first: date, until: date, rules: OutlierRules
) -> pl.LazyFrame:
    keys = _peer_keys([], rules)
    totals = (
        user_days.filter(pl.col("day") >= first)
        .group_by("user", "team")
        .agg(pl.col("value").sum())
        .filter(pl.col("value") > 0)
    )
    if keys:
        totals = totals.with_columns(
            n=pl.len().over(keys), baseline=pl.col("value").median().over(keys)
        )
    else:
        totals = totals.with_columns(n=pl.len(), baseline=pl.col("value").median())
    detail = _format(
        "{} in the {} days to {} is {}x the median {} of {} active users.",
        _amount(pl.col("value"), rules.metric),
        pl.lit(rules.days),
        pl.lit(until),
        _fixed(pl.col("ratio"), 1),
        _amount(pl.col("baseline"), rules.metric),
        pl.col("n"),
    )
    return (
        totals.with_columns(ratio=exprs.ratio(pl.col("value"), pl.col("baseline")))
        .filter(
            (pl.col("n") >= rules.min_team_users) & (pl.col("ratio") >= rules.team_median_ratio)
        )
        .with_columns(
            day=pl.lit(until, pl.Date),
            session=pl.lit(None, pl.String),
            rule=pl.lit("team_median"),
            metric=pl.lit(METRIC_COLUMN[rules.metric]),
            severity=_severity(pl.col("ratio") >= rules.team_median_ratio * rules.critical_factor),
            detail=detail,
        )
    )


def _runaway_rule(sessions: pl.LazyFrame, first: date, rules: OutlierRules) -> pl.LazyFrame:
    long = sessions.with_columns(day=pl.col("start").dt.date()).filter(
        (pl.col("day") >= first) & (pl.col("hours") >= rules.session_hours)
    )
    very_long = pl.col("hours") >= rules.session_hours * rules.critical_factor
    hours = _fixed(pl.col("hours"), 1)
    if rules.metric == "cost":
        rate, spent, unit = rules.session_usd_per_hour, pl.col("cost_usd"), "usd_per_hour"
    else:
        rate, spent = rules.session_tokens_per_hour, pl.col("total_tokens").cast(pl.Float64)
        unit = "tokens_per_hour"
    burn = long.with_columns(value=exprs.ratio(spent, pl.col("hours"))).filter(
        pl.col("value") >= rate
    )
    burn = burn.with_columns(
        metric=pl.lit(unit),
        baseline=pl.lit(rate, pl.Float64),
        ratio=pl.col("value") / rate,
        severity=_severity(very_long | (pl.col("value") >= rate * rules.critical_factor)),
        detail=_format(
            "Session ran {} hours from {} at {} per hour (threshold {} per hour).",
            hours,
            pl.col("start").dt.strftime("%H:%M"),
            _amount(pl.col("value"), rules.metric),
            _amount(pl.lit(rate), rules.metric),
        ),
    )
    floor = rules.output_ratio_below
    spin = long.filter(
        (pl.col("total_tokens") >= rules.min_session_tokens) & (pl.col("output_ratio") < floor)
    ).with_columns(
        metric=pl.lit("output_ratio"),
        value=pl.col("output_ratio"),
        baseline=pl.lit(floor, pl.Float64),
        ratio=pl.col("output_ratio") / floor,
        severity=_severity(very_long | (pl.col("output_ratio") <= floor / rules.critical_factor)),
        detail=_format(
            "Session ran {} hours from {} over {} tokens with an output ratio of {}, "
            "under {}: an agent left spinning?",
            hours,
            pl.col("start").dt.strftime("%H:%M"),
            pl.col("total_tokens"),
            _fixed(pl.col("output_ratio"), 4),
            _fixed(pl.lit(floor), 4),
        ),
    )
    return pl.concat(
        [f.with_columns(rule=pl.lit("runaway")).select(_flag_columns()) for f in (burn, spin)]
    )


def _daily_cap_rule(user_days: pl.LazyFrame, first: date, cap: float) -> pl.LazyFrame:
    return user_days.filter((pl.col("day") >= first) & (pl.col("cost") > cap)).with_columns(
        session=pl.lit(None, pl.String),
        rule=pl.lit("daily_cap"),
        metric=pl.lit("cost_usd"),
        value=pl.col("cost"),
        baseline=pl.lit(cap, pl.Float64),
        ratio=pl.col("cost") / cap,
        severity=pl.lit("critical"),
        detail=_format(
            "{} on {} is over the daily cap of {}.",
            _amount(pl.col("cost"), "cost"),
            pl.col("day"),
            _amount(pl.lit(cap), "cost"),
        ),
    )


# --- helpers ------------------------------------------------------------------------------------


def _peer_keys(keys: list[str], rules: OutlierRules) -> list[str]:
    return [*keys, "team"] if rules.peers == "team" else keys


def _severity(critical: pl.Expr) -> pl.Expr:
    return pl.when(critical).then(pl.lit("critical")).otherwise(pl.lit("warn"))


def _flag_columns() -> list[pl.Expr]:
    return [pl.col(name).cast(dtype) for name, dtype in FLAG_SCHEMA.items()]


def _fixed(x: pl.Expr, decimals: int) -> pl.Expr:
    """A number as text with exactly `decimals` decimals (polars has no printf for floats)."""
    scaled = (x.abs() * 10**decimals).round(0).cast(pl.Int64)
    sign = pl.when(x < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (scaled // 10**decimals).cast(pl.String)
    if decimals == 0:
        return pl.concat_str(sign, whole)
    frac = (scaled % 10**decimals).cast(pl.String).str.zfill(decimals)
    return pl.concat_str(sign, whole, pl.lit("."), frac)


def _amount(x: pl.Expr, metric: Metric) -> pl.Expr:
    """'$12.34' for cost, '1234 tokens' for tokens."""
    if metric == "cost":
        return pl.concat_str(pl.lit("$"), _fixed(x, 2))
    return pl.concat_str(_fixed(x, 0), pl.lit(" tokens"))


def _format(template: str, *args: pl.Expr) -> pl.Expr:
    """`pl.format` built on `concat_str`: in polars 2.1 `pl.format` with a String argument can
    panic under the streaming engine (seen on this scan at 5M events), `concat_str` does not."""
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"{len(args)} arguments for {len(pieces) - 1} placeholders")
    parts: list[pl.Expr] = [pl.lit(pieces[0])]
    for arg, piece in zip(args, pieces[1:], strict=True):
        parts += [arg.cast(pl.String), pl.lit(piece)]
    return pl.concat_str(parts)
