"""Reusable expressions: time buckets, group keys, filters and metric definitions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl

from tokenlens import schema

GROUP_KEYS: Final = (
    "day",
    "week",
    "month",
    "source",
    "model",
    "model_family",
    "user",
    "team",
    "project",
    "session",
)
_COLUMN_OF: Final = {"session": "session_id"}


def local_ts(tz: str) -> pl.Expr:
    return pl.col("ts").dt.convert_time_zone(tz)


def group_expr(key: str, tz: str) -> pl.Expr:
    """The value a row takes for a `--by` key, named after the key."""
    if key == "day":
        return local_ts(tz).dt.date().alias("day")
    if key == "week":
        day = local_ts(tz).dt.date()
        return (day - pl.duration(days=day.dt.weekday() - 1)).alias("week")
    if key == "month":
        return local_ts(tz).dt.strftime("%Y-%m").alias("month")
    if key == "model_family":
        return pl.col("model_family")
    if key in GROUP_KEYS:
        return pl.col(_COLUMN_OF.get(key, key)).alias(key)
    raise ValueError(f"unknown group key {key!r}")


def period_filter(since: date | None, until: date | None, tz: str) -> pl.Expr:
    """Rows whose local date lies within [since, until], both inclusive.

    Tested as a range of UTC instants, from the local midnight starting `since` to the one ending
    `until` (a midnight skipped by a clock change maps to the instant of the change): no
    per-row time-zone conversion, and a Parquet scan can skip row groups.
    """
    zone = ZoneInfo(tz)
    ts = pl.col("ts")
    expr = pl.lit(True)
    if since is not None:
        expr &= ts >= datetime.combine(since, time(), zone).astimezone(UTC)
    if until is not None:
        expr &= ts < datetime.combine(until + timedelta(days=1), time(), zone).astimezone(UTC)
    return expr


def match_filter(column: str, values: Sequence[str]) -> pl.Expr:
    """Rows whose column equals, or contains, any of the values (case-insensitive)."""
    col = pl.col(column).fill_null("").str.to_lowercase()
    expr = pl.lit(False)
    for value in values:
        expr |= col.str.contains(value.lower(), literal=True)
    return expr


def source_filter(sources: Sequence[str]) -> pl.Expr:
    """Rows of these sources or their sub-sources (`anthropic` covers `anthropic_api`)."""
    col = pl.col("source")
    expr = pl.lit(False)
    for name in sources:
        expr |= (col == name) | col.str.starts_with(f"{name}_")
    return expr


# Dollars and request units are summed in whole units of 1e-12 (integers add exactly), so a sum
# does not depend on the order of the rows: a store filled in another order, or the same files
# read directly, give the same totals to the last bit, and totals equal the sum of their groups.
_EXACT_SCALE: Final = 12
_UNIT: Final = float(10**_EXACT_SCALE)


def exact_sum(value: pl.Expr) -> pl.Expr:
    """The sum of a float expression, independent of row order (nulls count as 0).

    Each value is rounded to a multiple of 1e-12 (far below a cent's billionth), the multiples
    are added as 128-bit integers, and the exact decimal result is rounded once to a float.
    """
    return from_units(exact_units(value).sum())


def exact_units(value: pl.Expr) -> pl.Expr:
    """Each value as a whole number of 1e-12 units (128-bit), for `from_units` after a sum."""
    return (value * _UNIT).round().cast(pl.Int128)


def from_units(units: pl.Expr) -> pl.Expr:
    """A sum of `exact_units` as a float, rounded once from the exact decimal value."""
    # Written as text: a Python Decimal literal would make polars import numpy (0.15 s).
    step = pl.lit(f"{Decimal(1).scaleb(-_EXACT_SCALE):f}").cast(pl.Decimal(38, _EXACT_SCALE))
    return (units.cast(pl.Decimal(38, 0)) * step).cast(pl.Float64)


# Sources that can describe the same usage twice: an org report and the local logs it summarizes,
# or a usage report and the cost report of the same spend.
OVERLAPS: Final = (
    ("claude_code", "anthropic_claude_code"),
    ("anthropic_api", "anthropic_cost"),
    ("anthropic_api", "anthropic_claude_code"),
)


def overlaps(lf: pl.LazyFrame, tz: str) -> list[tuple[str, str, int]]:
    """(source, source, user-days) for each overlapping pair present for the same user and day."""
    present = set(lf.select(pl.col("source").unique()).collect().get_column("source").to_list())
    if not any(a in present and b in present for a, b in OVERLAPS):
        return []
    days = (
        lf.filter(schema.is_usage())
        .select("source", "user", local_ts(tz).dt.date().alias("day"))
        .unique()
        .collect()
    )
    out = []
    for a, b in OVERLAPS:
        left = days.filter(pl.col("source") == a).drop("source")
        right = days.filter(pl.col("source") == b).drop("source")
        shared = left.join(right, on=["user", "day"], how="inner").height
        if shared:
            out.append((a, b, shared))
    return out


def ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null when the denominator is 0 or null (never inf or NaN)."""
    return pl.when(denominator > 0).then(numerator / denominator).otherwise(None)


def derived() -> list[pl.Expr]:
    """Metrics computed from the aggregates."""
    tokens = [pl.col(c).fill_null(0) for c in schema.TOKENS]
    input_side = tokens[0] + tokens[1] + tokens[2]
    lines = pl.col("lines_added")
    return [
        ratio(pl.col("_token_cost") * 1_000_000, pl.col("_priced_tokens")).alias("usd_per_mtok"),
        ratio(lines * 1_000_000, pl.col("total_tokens")).alias("lines_added_per_mtok"),
        ratio(pl.col("cost_usd"), lines).alias("usd_per_line_added"),
        ratio(pl.col("cache_read_tokens").fill_null(0), input_side).alias("cache_hit_ratio"),
        ratio(pl.col("output_tokens").fill_null(0), pl.col("total_tokens")).alias("output_ratio"),
    ]
