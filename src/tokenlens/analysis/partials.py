"""The report's metrics as partial aggregates: per group, then added up for the grand total.

Every partial adds across groups: counts, integer token sums, dollars and request units as
128-bit integer multiples of 1e-12 (`exprs.exact_sum`), non-null counts that tell a sum of
nothing (null) from a sum of zeros, and the first and last cost basis. So the grand total is the
sum of the groups, exactly, without a second pass over the rows; only `sessions` (distinct
session ids, which groups can share) needs its own pass.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import polars as pl

from tokenlens import schema
from tokenlens.analysis import exprs

TOKEN_SUMS: Final = (*schema.TOKENS, "cache_write_1h_tokens")
SIGNALS: Final = ("lines_added", "lines_removed", "commits", "pull_requests")
DOLLARS: Final = ("cost_usd", "reported_cost_usd", "computed_cost_usd")
_PRICED: Final = ("reported", "computed")


def partials(empty: Collection[str] = ()) -> list[pl.Expr]:
    """The partial aggregates of a group of priced rows (or of all of them).

    `empty` names columns known to hold no value in any row: the partials made of them alone
    are left out here, and `filled` gives their values after the aggregation.
    """
    priced = pl.col("cost_basis").is_in(list(_PRICED))
    always = [
        schema.is_usage().sum().cast(pl.Int64).alias("events"),
        exprs.exact_units(pl.col("requests")).sum().alias("_requests_u"),
        pl.col("cost_basis").min().alias("_basis_min"),
        pl.col("cost_basis").max().alias("_basis_max"),
        # events only: rows carrying only lines of code or commits have nothing to price
        (schema.is_usage() & ~priced).sum().cast(pl.Int64).alias("unpriced_events"),
    ]
    return always + [part for needs, part, _ in _by_columns(priced) if not needs <= set(empty)]


def filled(empty: Collection[str]) -> list[pl.Expr]:
    """The partials `partials(empty)` leaves out, as the values they take over rows where their
    columns hold nothing: sums of nothing are 0 and so are the counts (which make them null)."""
    priced = pl.col("cost_basis").is_in(list(_PRICED))
    return [value for needs, _, value in _by_columns(priced) if needs <= set(empty)]


def _by_columns(priced: pl.Expr) -> list[tuple[frozenset[str], pl.Expr, pl.Expr]]:
    """The partials made of stored columns alone: (those columns, the partial, its value over
    rows where they hold nothing)."""
    zero = pl.lit(0, pl.Int64)
    no_units = pl.lit(0, pl.Int128)
    tokens = frozenset(schema.TOKENS)
    out = [
        (tokens, schema.total_tokens().sum().alias("total_tokens"), zero),
        (tokens, schema.has_tokens().sum().cast(pl.Int64).alias("_total_tokens_n"), zero),
        (tokens, schema.total_tokens().filter(priced).sum().alias("_priced_tokens"), zero),
        (
            tokens,
            # $/Mtok pairs cost with tokens: a cost without tokens (a premium request) is left
            # out.
            exprs.exact_units(pl.when(priced & schema.has_tokens()).then(pl.col("cost_usd")))
            .sum()
            .alias("_token_cost_u"),
            no_units,
        ),
    ]
    for column in (*TOKEN_SUMS, *SIGNALS):
        needs = frozenset([column])
        out += [
            (needs, pl.col(column).sum(), zero),
            (needs, pl.col(column).count().cast(pl.Int64).alias(f"_{column}_n"), zero),
        ]
    for column in DOLLARS:
        needs = frozenset([column])
        out += [
            (needs, exprs.exact_units(pl.col(column)).sum().alias(f"_{column}_u"), no_units),
            (needs, pl.col(column).count().cast(pl.Int64).alias(f"_{column}_n"), zero),
        ]
    return [(needs, part, value.alias(part.meta.output_name())) for needs, part, value in out]


def combined(names: list[str]) -> list[pl.Expr]:
    """The partials of all groups together, from the groups' partials (`names`: their columns)."""
    out = []
    for name in names:
        if name == "_basis_min":
            out.append(pl.col(name).min())
        elif name == "_basis_max":
            out.append(pl.col(name).max())
        else:
            out.append(pl.col(name).sum())
    return out


def finished() -> list[pl.Expr]:
    """The metrics from partials: sums of nothing are null, units become dollars."""
    low, high = pl.col("_basis_min"), pl.col("_basis_max")
    out = [
        exprs.from_units(pl.col("_requests_u")).alias("requests"),
        _unless_none("total_tokens", "_total_tokens_n"),
        pl.when(low == high)
        .then(low)
        .when(low.is_not_null())
        .then(pl.lit("mixed"))
        # no rows at all: no basis
        .otherwise(pl.lit(None, pl.String))
        .alias("cost_basis"),
        exprs.from_units(pl.col("_token_cost_u")).alias("_token_cost"),
    ]
    out += [_unless_none(c, f"_{c}_n") for c in (*TOKEN_SUMS, *SIGNALS)]
    out += [
        pl.when(pl.col(f"_{c}_n") > 0)
        .then(exprs.from_units(pl.col(f"_{c}_u")))
        .otherwise(None)
        .alias(c)
        for c in DOLLARS
    ]
    return out


def internal(names: list[str]) -> list[str]:
    """The partial columns that are not metrics."""
    return [n for n in names if n.startswith("_")]


def _unless_none(column: str, count: str) -> pl.Expr:
    return pl.when(pl.col(count) > 0).then(pl.col(column)).otherwise(None).alias(column)
