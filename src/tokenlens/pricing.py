"""Prices from genai-prices, resolved once per (model, day, speed) and applied as expressions.

genai-prices semantics, reproduced exactly:
- a tier ("cliff") applies to every token of a kind once the request's total input
  (uncached input + cache read + cache write) is above the tier's start;
- a token kind without its own price is billed at its parent's price (1-hour cache writes at the
  cache-write price, cache writes and reads at the input price);
- prices change over time; each request is priced as of its UTC date.

Unknown models get no price: `computed_cost_usd` stays null and they are reported as unpriced,
never as $0. genai-prices is imported only when something needs pricing.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version as package_version
from typing import Any, Final, Literal

import polars as pl

from tokenlens import models, schema
from tokenlens.errors import Notice

CostMode = Literal["auto", "calculate", "reported"]
COST_MODES: Final = ("auto", "calculate", "reported")

# Price keys, in genai-prices' own names, and the token column each applies to.
PRICE_KEYS: Final = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
)
MAX_TIERS: Final = 2

# Which provider's price list a source's model names refer to.
SOURCE_PROVIDER: Final[dict[str, str]] = {
    "claude_code": "anthropic",
    "anthropic_api": "anthropic",
    "anthropic_claude_code": "anthropic",
    "codex": "openai",
    "gemini": "google",
}

# Sources whose rows are daily totals, not single requests: a long-context tier is a property of
# one request, so it cannot be read off a day's sum and base rates apply.
AGGREGATE_SOURCES: Final = frozenset({"anthropic_api", "anthropic_claude_code", "copilot"})


@dataclass(frozen=True)
class Overrides:
    """User price overrides from the config file.

    `models` maps a model id to its own per-million prices (any of PRICE_KEYS); `aliases` maps a
    model id to the id whose prices it uses; `discount` multiplies every computed cost
    (0.8 for a negotiated 20% off).
    """

    models: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    discount: float = 1.0

    def fingerprint(self) -> str:
        text = json.dumps({"m": self.models, "a": self.aliases, "d": self.discount}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def price_version(overrides: Overrides | None = None) -> str:
    """Identifies the price data and overrides; stored with priced rows."""
    base = f"genai-prices {package_version('genai-prices')}"
    return f"{base}; overrides {(overrides or Overrides()).fingerprint()}"


@dataclass(frozen=True)
class ModelRate:
    """One model's resolved prices on one day: per key, (base, ((start, price), ...))."""

    model_id: str
    provider: str
    rates: Mapping[str, tuple[float, tuple[tuple[int, float], ...]] | None]
    fast_priced: bool = True


def _decimal(value: Any) -> float:
    return float(value)


def _rates_of(model_price: Any) -> dict[str, tuple[float, tuple[tuple[int, float], ...]] | None]:
    from genai_prices.types import TieredPrices

    out: dict[str, tuple[float, tuple[tuple[int, float], ...]] | None] = {}
    for key in PRICE_KEYS:
        value = getattr(model_price, key, None)
        if value is None:
            out[key] = None
        elif isinstance(value, TieredPrices):
            tiers = tuple((int(t.start), _decimal(t.price)) for t in value.tiers)
            out[key] = (_decimal(value.base), tiers[:MAX_TIERS])
        else:
            out[key] = (_decimal(value), ())
    return out


def warm() -> None:
    """Load genai-prices' data now (it takes a moment), so pricing later is instant."""
    from genai_prices import data_snapshot

    data_snapshot.get_snapshot()


@functools.cache
def _lookup(ref: str, provider_id: str | None) -> tuple[Any, Any] | None:
    """(provider, model info) for a model name, trying its family's spellings; None if unknown.

    Cached: a report resolves the same model for many days, and failed look-ups are slow.
    """
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    for candidate in models.price_refs(ref):
        for provider_hint in dict.fromkeys((provider_id, None)):
            try:
                return snapshot.find_provider_model(candidate, None, provider_hint, None)
            except LookupError:
                continue
    return None


def resolve(
    model: str, day: date, *, fast: bool, source: str, overrides: Overrides
) -> ModelRate | None:
    """Prices for one model on one day, or None when the model is unknown."""
    if model in overrides.models:
        given = overrides.models[model]
        rates = {k: ((float(given[k]), ()) if k in given else None) for k in PRICE_KEYS}
        return ModelRate(model, "override", rates)
    found = _lookup(overrides.aliases.get(model, model), SOURCE_PROVIDER.get(source))
    if found is None:
        return None
    provider, info = found
    when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    standard = info.get_prices(when)
    fast_priced = True
    if fast:
        variant = info.get_prices(when, {"speed": "fast"})
        fast_priced = variant != standard
        standard = variant
    return ModelRate(info.id, provider.id, _rates_of(standard), fast_priced)


_RATE_COLUMNS: Final = [
    f"{key}_{part}"
    for key in PRICE_KEYS
    for part in (
        "base",
        *(f"t{i}_{x}" for i in range(1, MAX_TIERS + 1) for x in ("start", "price")),
    )
]


def _rate_row(rate: ModelRate) -> dict[str, float | int | None]:
    row: dict[str, float | int | None] = {}
    for key in PRICE_KEYS:
        value = rate.rates.get(key)
        row[f"{key}_base"] = value[0] if value else None
        tiers = value[1] if value else ()
        for i in range(1, MAX_TIERS + 1):
            tier = tiers[i - 1] if len(tiers) >= i else None
            row[f"{key}_t{i}_start"] = tier[0] if tier else None
            row[f"{key}_t{i}_price"] = tier[1] if tier else None
    return row


def _rate(key: str, total_input: pl.Expr) -> pl.Expr:
    """The per-million price of one key for each row, with the cliff tiers applied."""
    expr: pl.Expr = pl.col(f"{key}_base")
    for i in range(1, MAX_TIERS + 1):
        start, price = pl.col(f"{key}_t{i}_start"), pl.col(f"{key}_t{i}_price")
        expr = pl.when(start.is_not_null() & (total_input > start)).then(price).otherwise(expr)
    return expr


def cost_expr(discount: float = 1.0) -> pl.Expr:
    """Cost in USD of each row from its joined rate columns (null when the model is unpriced)."""
    tokens = {c: pl.col(c).fill_null(0) for c in (*schema.TOKENS, "cache_write_1h_tokens")}
    total_input = (
        pl.when(pl.col("source").is_in(list(AGGREGATE_SOURCES)))
        .then(pl.lit(0, pl.Int64))
        .otherwise(
            tokens["input_tokens"] + tokens["cache_read_tokens"] + tokens["cache_write_tokens"]
        )
    )
    rin = _rate("input_mtok", total_input)
    rout = _rate("output_mtok", total_input)
    rread = pl.coalesce(_rate("cache_read_mtok", total_input), rin)
    rwrite = pl.coalesce(_rate("cache_write_mtok", total_input), rin)
    rwrite_1h = pl.coalesce(_rate("cache_write_1h_mtok", total_input), rwrite)
    write_1h = pl.min_horizontal(tokens["cache_write_1h_tokens"], tokens["cache_write_tokens"])
    write_5m = tokens["cache_write_tokens"] - write_1h
    cost = (
        tokens["input_tokens"] * rin.fill_null(0)
        + tokens["output_tokens"] * rout.fill_null(0)
        + tokens["cache_read_tokens"] * rread.fill_null(0)
        + write_5m * rwrite.fill_null(0)
        + write_1h * rwrite_1h.fill_null(0)
    ) * 1e-6  # a division by a constant rounds differently with a row's place in the frame
    return pl.when(pl.col("_priced") & schema.has_tokens()).then(cost * discount).otherwise(None)


def price(
    lf: pl.LazyFrame, *, overrides: Overrides | None = None
) -> tuple[pl.LazyFrame, list[Notice]]:
    """Add `computed_cost_usd` and `price_version` to canonical rows.

    Each distinct (source, model, UTC day, fast) is resolved once; the cost itself is computed
    with expressions over a joined price table.
    """
    overrides = overrides or Overrides()
    keys = (
        lf.filter(schema.has_tokens())
        .group_by(
            "source",
            "model",
            pl.col("ts").dt.date().alias("_day"),
            schema.is_fast().alias("_fast"),
        )
        .agg(pl.col("reported_cost_usd").is_null().any().alias("_needs_price"))
        .collect()
    )
    rows = []
    unpriced: dict[str, int] = {}
    fast_unpriced: set[str] = set()
    for source, model, day, fast, needs_price in keys.iter_rows():
        rate = (
            resolve(model or "", day, fast=fast, source=source, overrides=overrides)
            if model
            else None
        )
        row: dict[str, Any] = {"source": source, "model": model, "_day": day, "_fast": fast}
        if rate is None:
            if needs_price:  # rows with a vendor-reported cost need no price of ours
                unpriced[model or "(none)"] = 0
            row.update(dict.fromkeys(_RATE_COLUMNS))
            row["_priced"] = False
        else:
            row.update(_rate_row(rate))
            row["_priced"] = True
            if fast and not rate.fast_priced:
                fast_unpriced.add(model)
        rows.append(row)
    table = pl.DataFrame(
        rows,
        schema={
            "source": pl.String,
            "model": pl.String,
            "_day": pl.Date,
            "_fast": pl.Boolean,
            **dict.fromkeys(_RATE_COLUMNS, pl.Float64),
            "_priced": pl.Boolean,
        },
    )
    joined = (
        lf.with_columns(pl.col("ts").dt.date().alias("_day"), schema.is_fast().alias("_fast"))
        .join(
            table.lazy(),
            on=["source", "model", "_day", "_fast"],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .with_columns(
            computed_cost_usd=cost_expr(overrides.discount),
            price_version=pl.lit(price_version(overrides)),
        )
        .drop("_day", "_fast", "_priced", *_RATE_COLUMNS)
    )
    notices = []
    if unpriced:
        names = ", ".join(sorted(unpriced))
        notices.append(
            Notice(
                f"no price known for model(s): {names}; their cost is reported as unpriced",
                len(unpriced),
            )
        )
    if fast_unpriced:
        notices.append(
            Notice(
                "no fast-mode price known for "
                + ", ".join(sorted(fast_unpriced))
                + "; fast calls priced at standard rates",
                len(fast_unpriced),
            )
        )
    return joined, notices


def with_cost(lf: pl.LazyFrame, mode: CostMode = "auto") -> pl.LazyFrame:
    """Choose each row's `cost_usd` and `cost_basis` from reported and computed cost."""
    reported = pl.col("reported_cost_usd")
    computed = pl.col("computed_cost_usd")
    basis: Any
    if mode == "calculate":
        cost = computed
        basis = pl.when(computed.is_not_null()).then(pl.lit("computed"))
    elif mode == "reported":
        cost = reported
        basis = pl.when(reported.is_not_null()).then(pl.lit("reported"))
    else:
        cost = pl.coalesce(reported, computed)
        basis = (
            pl.when(reported.is_not_null())
            .then(pl.lit("reported"))
            .when(computed.is_not_null())
            .then(pl.lit("computed"))
        )
    # Rows with neither tokens nor a cost (lines-of-code reports) have nothing to price.
    basis = basis.when(schema.has_tokens()).then(pl.lit("unpriced")).otherwise(pl.lit("none"))
    return lf.with_columns(cost_usd=cost, cost_basis=basis.cast(pl.String))
