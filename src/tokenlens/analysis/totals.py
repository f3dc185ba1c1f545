"""Totals and grouped totals of priced usage."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

import polars as pl

from tokenlens import models
from tokenlens.analysis import exprs, partials

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
    *partials.SIGNALS,
)


def totals(
    priced: pl.LazyFrame,
    *,
    by: Sequence[str] = (),
    tz: str = "UTC",
    blended_usd_per_mtok: float | None = None,
    empty: Collection[str] = (),
) -> pl.DataFrame:
    """One row per group (or one row overall), sorted by the group keys.

    Time keys sort ascending; ties and other keys sort by name so output is stable. With a
    blended price, `blended_cost_usd` says what the same tokens cost at that one flat rate.
    `empty` names columns known to hold no value in any row (see `partials.partials`).
    """
    if not by:
        grand = priced.select(*partials.partials(empty), _SESSIONS)
        return _finish(
            grand.with_columns(partials.filled(empty)).collect(), [], blended_usd_per_mtok
        )
    grouped = _grouped(priced, by, tz, empty).collect()
    return _finish(grouped, list(by), blended_usd_per_mtok)


def grand_and_grouped(
    priced: pl.LazyFrame,
    *,
    by: Sequence[str],
    tz: str = "UTC",
    blended_usd_per_mtok: float | None = None,
    empty: Collection[str] = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The grand total (one row) and the totals per group of `by`, from one pass over the rows:
    the grand total adds up the groups' partial sums (see `partials`); distinct sessions, which
    groups can share, are counted over all rows in the same pass."""
    if not by:
        grand = totals(priced, tz=tz, blended_usd_per_mtok=blended_usd_per_mtok, empty=empty)
        return grand, grand.clear()
    grouped, overall_sessions = pl.collect_all(
        [_grouped(priced, by, tz, empty), priced.select(_SESSIONS)]
    )
    names = [c for c in grouped.columns if c not in by and c != "sessions"]
    grand = grouped.select(partials.combined(names)).with_columns(
        sessions=pl.lit(overall_sessions.item(), pl.Int64)
    )
    return (
        _finish(grand, [], blended_usd_per_mtok),
        _finish(grouped, list(by), blended_usd_per_mtok),
    )


def grand_and_grouped_parts(
    parts: Sequence[pl.LazyFrame],
    *,
    by: Sequence[str],
    tz: str = "UTC",
    blended_usd_per_mtok: float | None = None,
    empty: Collection[str] = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`grand_and_grouped` of the rows of all `parts` together, taking one part at a time: each
    part's partial sums per group are added to those of the parts before it, and its distinct
    session ids per group joined to theirs, so only one part's rows and one running sum are
    held at once. `by` must not be empty."""
    keys = list(by)
    ids = pl.col("_session_ids")
    running: pl.DataFrame | None = None
    names: list[str] = []
    for each in parts:
        part = with_model_family(each) if "model_family" in keys else each
        groups = part.group_by([exprs.group_expr(k, tz) for k in keys]).agg(
            *partials.partials(empty),
            pl.col("session_id").drop_nulls().unique().alias("_session_ids"),
        )
        if running is None:
            running = groups.collect()
            names = [c for c in running.columns if c not in keys and c != "_session_ids"]
            continue
        running = (
            pl.concat([running.lazy(), groups], how="vertical_relaxed")
            .group_by(keys)
            .agg(*partials.combined(names), ids.explode().drop_nulls().unique())
            .collect()
        )
    assert running is not None, "at least one part"
    sessions = ids.list.len().cast(pl.Int64).alias("sessions")
    grouped = (
        running.with_columns(sessions).drop("_session_ids").with_columns(partials.filled(empty))
    )
    grand = running.select(
        *partials.combined(names),
        ids.explode().drop_nulls().n_unique().cast(pl.Int64).alias("sessions"),
    ).with_columns(partials.filled(empty))
    return (
        _finish(grand, [], blended_usd_per_mtok),
        _finish(grouped, keys, blended_usd_per_mtok),
    )


# Distinct session ids: not a sum, so counted over the rows of each group and of all of them.
_SESSIONS: Final = pl.col("session_id").drop_nulls().n_unique().cast(pl.Int64).alias("sessions")


def _grouped(
    priced: pl.LazyFrame, by: Sequence[str], tz: str, empty: Collection[str]
) -> pl.LazyFrame:
    """The partial aggregates and sessions of each group of `by`."""
    if "model_family" in by:
        priced = with_model_family(priced)
    keys = [exprs.group_expr(k, tz) for k in by]
    grouped = priced.group_by(keys).agg(*partials.partials(empty), _SESSIONS)
    return grouped.with_columns(partials.filled(empty))


def _finish(frame: pl.DataFrame, by: list[str], blended_usd_per_mtok: float | None) -> pl.DataFrame:
    out = frame.lazy().with_columns(partials.finished()).with_columns(exprs.derived())
    metrics = list(METRICS)
    if blended_usd_per_mtok is not None:
        # One multiplication per row: a division by a constant may round a row differently
        # depending on where it sits in the frame.
        blended = pl.col("total_tokens") * (blended_usd_per_mtok / 1_000_000)
        out = out.with_columns(blended.alias("blended_cost_usd"))
        metrics.insert(metrics.index("usd_per_mtok"), "blended_cost_usd")
    out = out.select([*by, *metrics])
    if by:
        out = out.sort(by, nulls_last=True)
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
