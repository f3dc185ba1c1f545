"""Row filters and period anchors (pure functions over lazy frames)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from tokenlens.analysis import exprs


def apply(
    lf: pl.LazyFrame,
    *,
    sources: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    projects: Sequence[str] | None = None,
    users: Sequence[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    tz: str = "UTC",
) -> pl.LazyFrame:
    """Keep rows matching every given filter.

    A source matches itself and its sub-sources (`anthropic` matches `anthropic_api`); models and
    projects match by case-insensitive substring; users exactly.
    """
    if sources:
        lf = lf.filter(exprs.source_filter(sources))
    if models:
        lf = lf.filter(exprs.match_filter("model", models))
    if projects:
        lf = lf.filter(exprs.match_filter("project", projects))
    if users:
        lf = lf.filter(pl.col("user").is_in(list(users)))
    if since is not None or until is not None:
        lf = lf.filter(exprs.period_filter(since, until, tz))
    return lf


def last_day(lf: pl.LazyFrame, tz: str) -> date | None:
    """The local date of the last event: relative periods count back from it."""
    value = lf.select(exprs.local_ts(tz).max().dt.date()).collect().item()
    return value if isinstance(value, date) else None
