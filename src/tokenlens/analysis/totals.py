"""Totals and grouped totals of priced usage."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tokenlens import models
from tokenlens.analysis import exprs

METRICS = (
    "events",
    "requests",
    "input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "cost_basis",
    "reported_cost_usd",
    "computed_cost_usd",
    "usd_per_mtok",
    "cache_hit_ratio",
    "output_ratio",
    "lines_added_per_mtok",
    "usd_per_line_added",
    "unpriced_events",
    "sessions",
    *exprs.SIGNALS,
)


def totals(
    priced: pl.LazyFrame,
    *,
    by: Sequence[str] = (),
    tz: str = "UTC",
    blended_usd_per_mtok: float | None = None,
) -> pl.DataFrame:
    """One row per group (or one row overall), sorted by the group keys.

    Time keys sort ascending; ties and other keys sort by name so output is stable. With a
    blended price, `blended_cost_usd` says what the same tokens cost at that one flat rate.
    """
    if "model_family" in by:
        priced = with_model_family(priced)
    keys = [exprs.group_expr(k, tz) for k in by]
    if keys:
        grouped = priced.group_by(keys).agg(exprs.aggregations())
    else:
        grouped = priced.select(exprs.aggregations())
    out = grouped.with_columns(exprs.derived()).drop("_priced_tokens", "_token_cost")
    metrics = list(METRICS)
    if blended_usd_per_mtok is not None:
        # One multiplication per row: a division by a constant may round a row differently
        # depending on where it sits in the frame.
        blended = pl.col("total_tokens") * (blended_usd_per_mtok / 1_000_000)
        out = out.with_columns(blended.alias("blended_cost_usd"))
        metrics.insert(metrics.index("usd_per_mtok"), "blended_cost_usd")
    out = out.select([*by, *metrics])
    if by:
        out = out.sort(list(by), nulls_last=True)
    return out.collect()


def with_model_family(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add `model_family`, mapping each source's spelling of a model to one name."""
    names = lf.select(pl.col("model").unique()).collect().get_column("model").to_list()
    mapping = models.families(names)
    return lf.with_columns(
        model_family=pl.col("model").replace_strict(
            mapping, default=pl.col("model"), return_dtype=pl.String
        )
    )


def bounds(lf: pl.LazyFrame) -> tuple[object, object]:
    """The first and last event time in the data (None, None when empty)."""
    row = lf.select(pl.col("ts").min().alias("a"), pl.col("ts").max().alias("b")).collect()
    return row.item(0, "a"), row.item(0, "b")
