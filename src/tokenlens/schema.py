"""The canonical usage table every module agrees on (DESIGN.md section 3)."""

from __future__ import annotations

from typing import Final

import polars as pl

SCHEMA_VERSION: Final = 1

USAGE: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "event_id": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "user": pl.String(),
    "project": pl.String(),
    "session_id": pl.String(),
    "model": pl.String(),
    "kind": pl.String(),
    "input_tokens": pl.Int64(),
    "cache_write_tokens": pl.Int64(),
    "cache_write_1h_tokens": pl.Int64(),
    "cache_read_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "requests": pl.Float64(),
    "reported_cost_usd": pl.Float64(),
    "origin": pl.String(),
    "as_of": pl.Datetime("us", "UTC"),
    "lines_added": pl.Int64(),
    "lines_removed": pl.Int64(),
    "commits": pl.Int64(),
    "pull_requests": pl.Int64(),
}

# Columns added by pricing. `computed_cost_usd` is null when the model has no price;
# `price_version` says which price data and overrides produced it.
PRICING_COLUMNS: Final[dict[str, pl.DataType]] = {
    "computed_cost_usd": pl.Float64(),
    "price_version": pl.String(),
}

STORED: Final[dict[str, pl.DataType]] = {**USAGE, **PRICING_COLUMNS}

# After a cost mode is applied.
PRICED: Final[dict[str, pl.DataType]] = {
    **STORED,
    "cost_usd": pl.Float64(),
    "cost_basis": pl.String(),
}

KEY: Final = ("source", "event_id")
TOKENS: Final = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")

# Claude Code `kind` labels. A fast-mode call carries the FAST suffix.
KIND_MAIN: Final = "main"
KIND_SIDECHAIN: Final = "sidechain"
FAST_SUFFIX: Final = "+fast"

# `none`: a row with neither tokens nor a cost (a lines-of-code report): nothing to price.
# The user of rows an org report attributes to no person (Copilot org rows, ungrouped reports).
ORGANIZATION: Final = "(organization)"

COST_BASES: Final = ("reported", "computed", "unpriced", "none")


def conform(lf: pl.LazyFrame, schema: dict[str, pl.DataType] = USAGE) -> pl.LazyFrame:
    """Select the schema's columns in order, adding absent ones as nulls and casting types."""
    present = lf.collect_schema().names()
    return lf.select(
        [
            (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


def empty(schema: dict[str, pl.DataType] = USAGE) -> pl.DataFrame:
    """A frame with no rows in the given schema."""
    return pl.DataFrame(schema=schema)


def total_tokens() -> pl.Expr:
    """Sum of the four token kinds; null tokens count as 0 in the sum."""
    return pl.sum_horizontal(*(pl.col(c).fill_null(0) for c in TOKENS))


def message_id() -> pl.Expr:
    """The message part of an event id, before its first `:` (the whole id when it has none):
    copies of one call under different request ids share it."""
    return pl.col("event_id").str.split_exact(":", 1).struct.field("field_0")


def has_tokens() -> pl.Expr:
    """True where the source reports any token count (null tokens mean "not reported")."""
    return pl.any_horizontal(pl.col(c).is_not_null() for c in TOKENS)


def is_usage() -> pl.Expr:
    """True for rows that record usage (tokens, request units or a cost), not only signals."""
    return (
        has_tokens() | pl.col("requests").is_not_null() | pl.col("reported_cost_usd").is_not_null()
    )


def is_fast() -> pl.Expr:
    """True for calls made in fast mode (priced with a multiplier)."""
    return pl.col("kind").str.ends_with(FAST_SUFFIX).fill_null(False)
