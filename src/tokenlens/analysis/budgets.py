"""Budgets: spend so far in the period containing `until`, its projection, and a status.

Definitions:

- Period containing `until` (local days in `tz`): `day` is that day, labelled `2025-09-15`;
  `week` is Monday..Sunday, labelled by ISO week `2025-W38`; `month` is the calendar month,
  labelled `2025-09`. `period_start` and `period_end` give the dates.
- Spend so far: the sum of `cost_usd` of the budget's rows from `period_start` to `until`, both
  included; events after `until` are ignored; unpriced rows add nothing.
- Projected: spend / elapsed days * days in the period, elapsed = days from `period_start` to
  `until` inclusive (so a day budget projects its spend, and a month on its last day too).
- Status, one rule: `over` when the spend so far exceeds `max_usd`; else `under` when the
  projection falls short of `min_usd`; else `ok` (comparisons allow 1e-9 USD of rounding).
  A projection above the maximum is not `over` yet: compare `projected_usd` with `max_usd` to warn.
- Scope: `user` and `team` budgets apply to every member (`match=None`) or to the one named by
  `match` (exactly). Members come from every row of `priced`, at any time, so a user who spent
  nothing this period still gets a row (spend 0, `under` when a minimum is set); a named member
  always gets a row. `source` limits the spend to that source and its sub-sources (as
  `--source` does). A `source` budget is for the source named by `source` (or `match`), or, with
  neither, for each source in the data.
- Rows come in the order of the budgets, and by member name within one budget.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

import polars as pl

from tokenlens.analysis import exprs
from tokenlens.errors import TokenlensError

Scope = Literal["source", "user", "team"]
Period = Literal["day", "week", "month"]
SCOPES: Final = ("source", "user", "team")
PERIODS: Final = ("day", "week", "month")
STATUSES: Final = ("under", "ok", "over")

_TOLERANCE_USD: Final = 1e-9

OUTPUT: Final[dict[str, pl.DataType]] = {
    "user": pl.String(),
    "team": pl.String(),
    "source": pl.String(),
    "period": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "spend_usd": pl.Float64(),
    "min_usd": pl.Float64(),
    "max_usd": pl.Float64(),
    "projected_usd": pl.Float64(),
    "status": pl.String(),
}


@dataclass(frozen=True)
class Budget:
    """A minimum and/or maximum spend per period for the members of a scope.

    `match`: one member (a user, team or source name), or None for every member of the scope.
    `source`: count only this source's spend (and its sub-sources'); None for all sources.
    """

    scope: Scope
    match: str | None = None
    source: str | None = None
    period: Period = "month"
    min_usd: float | None = None
    max_usd: float | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"budget scope must be one of {SCOPES}, not {self.scope!r}")
        if self.period not in PERIODS:
            raise ValueError(f"budget period must be one of {PERIODS}, not {self.period!r}")
        for name in ("min_usd", "max_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"budget {name} must not be negative, not {value}")
        if self.min_usd is not None and self.max_usd is not None and self.min_usd > self.max_usd:
            raise ValueError(f"budget min_usd {self.min_usd} exceeds max_usd {self.max_usd}")
        if self.scope == "source" and self.match and self.source and self.match != self.source:
            raise ValueError(
                f"a source budget names one source: match {self.match!r} and "
                f"source {self.source!r} differ"
            )


def period_of(period: Period, until: date) -> tuple[date, date, str]:
    """The first day, last day and label of the period containing `until`."""
    if period == "day":
        return until, until, until.isoformat()
    if period == "week":
        start = until - timedelta(days=until.weekday())
        year, week, _ = until.isocalendar()
        return start, start + timedelta(days=6), f"{year}-W{week:02d}"
    if period == "month":
        last = calendar.monthrange(until.year, until.month)[1]
        return until.replace(day=1), until.replace(day=last), f"{until.year}-{until.month:02d}"
    raise ValueError(f"budget period must be one of {PERIODS}, not {period!r}")


def budgets(
    priced: pl.LazyFrame,
    *,
    budgets: Sequence[Budget],
    until: date,
    tz: str = "UTC",
) -> pl.DataFrame:
    """One row per (budget, member): spend so far, projection and status (see module docs)."""
    if not budgets:
        return pl.DataFrame(schema=OUTPUT)
    names = priced.collect_schema().names()
    with_team = any(b.scope == "team" for b in budgets)
    if with_team and "team" not in names:
        raise TokenlensError(
            "a team budget needs teams, and no team is known for the data",
            hint="Set teams_file in the config to a CSV of user and team.",
        )
    keys = ["user", "team", "source"] if with_team else ["user", "source"]
    earliest = min(period_of(b.period, until)[0] for b in budgets)
    daily_lf = (
        priced.filter(exprs.period_filter(earliest, until, tz))
        .group_by([*keys, exprs.local_ts(tz).dt.date().alias("day")])
        .agg(pl.col("cost_usd").sum().alias("spend"))
    )
    member_lfs = [priced.select(pl.col(k).drop_nulls().unique().sort()) for k in keys]
    daily, *member_frames = pl.collect_all([daily_lf, *member_lfs])
    members = {k: f.to_series() for k, f in zip(keys, member_frames, strict=True)}

    parts = [_evaluate(b, daily, members, until) for b in budgets]
    return pl.concat(parts).select(pl.col(c).cast(t) for c, t in OUTPUT.items())


def _evaluate(
    budget: Budget, daily: pl.DataFrame, members: dict[str, pl.Series], until: date
) -> pl.DataFrame:
    start, end, label = period_of(budget.period, until)
    rows = daily.filter(pl.col("day") >= start)
    if budget.source is not None:
        rows = rows.filter(exprs.source_filter([budget.source]))

    named_source = budget.source or budget.match if budget.scope == "source" else None
    if named_source is not None:
        if budget.source is None:
            rows = rows.filter(exprs.source_filter([named_source]))
        spend = pl.DataFrame({"member": [named_source], "spend_usd": [rows["spend"].sum()]})
    else:
        column = budget.scope
        names = (
            pl.Series("member", [budget.match], pl.String)
            if budget.match is not None
            else members[column].alias("member")
        )
        spent = rows.group_by(pl.col(column).alias("member")).agg(
            pl.col("spend").sum().alias("spend_usd")
        )
        spend = names.to_frame().join(spent, on="member", how="left")

    elapsed = (until - start).days + 1
    days = (end - start).days + 1
    spend_usd = pl.col("spend_usd").fill_null(0.0)
    projected = spend_usd / elapsed * days
    over = (
        spend_usd - budget.max_usd > _TOLERANCE_USD if budget.max_usd is not None else pl.lit(False)
    )
    under = (
        budget.min_usd - projected > _TOLERANCE_USD if budget.min_usd is not None else pl.lit(False)
    )
    member = pl.col("member")
    none = pl.lit(None, pl.String)
    return spend.select(
        (member if budget.scope == "user" else none).alias("user"),
        (member if budget.scope == "team" else none).alias("team"),
        (member if budget.scope == "source" else pl.lit(budget.source, pl.String)).alias("source"),
        pl.lit(label).alias("period"),
        pl.lit(start).alias("period_start"),
        pl.lit(end).alias("period_end"),
        spend_usd.alias("spend_usd"),
        pl.lit(budget.min_usd, pl.Float64).alias("min_usd"),
        pl.lit(budget.max_usd, pl.Float64).alias("max_usd"),
        projected.alias("projected_usd"),
        pl.when(over)
        .then(pl.lit("over"))
        .when(under)
        .then(pl.lit("under"))
        .otherwise(pl.lit("ok"))
        .alias("status"),
    ).sort(budget.scope, nulls_last=True, maintain_order=True)
