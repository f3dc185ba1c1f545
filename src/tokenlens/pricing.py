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

import contextlib
import functools
import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

import polars as pl

from tokenlens import models, rate_cache, schema
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
    base = f"genai-prices {rate_cache.genai_prices_version()}"
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
            out[key] = (_decimal(value.base), tiers)
        else:
            out[key] = (_decimal(value), ())
    return out


def warm() -> None:
    """Load genai-prices' data now (it takes a moment), so pricing later is instant; unless
    earlier runs left resolved rates in the cache, which then spares loading it at all."""
    if rate_cache.current().populated:
        return
    from genai_prices import data_snapshot

    data_snapshot.get_snapshot()


def save_rates() -> None:
    """Keep the rates resolved in this run for the next ones (see `rate_cache`)."""
    rate_cache.current().save()


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
    ref, hint = overrides.aliases.get(model, model), SOURCE_PROVIDER.get(source)
    if not isinstance(day, date):  # a row without a time: nothing to keep for later runs
        return _resolve(ref, hint, day, fast=fast)
    cache = rate_cache.current()
    key = (ref, hint, day.isoformat(), fast)
    hit, kept = cache.get(key)
    if hit:
        with contextlib.suppress(Exception):  # an entry of any other shape: resolve it again
            return _from_json(kept)
    rate = _resolve(ref, hint, day, fast=fast)
    cache.put(key, _to_json(rate))
    return rate


def _resolve(ref: str, hint: str | None, day: date, *, fast: bool) -> ModelRate | None:
    found = _lookup(ref, hint)
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


def _to_json(rate: ModelRate | None) -> Any:
    if rate is None:
        return None
    rates = {
        key: None if value is None else [value[0], [list(tier) for tier in value[1]]]
        for key, value in rate.rates.items()
    }
    return [rate.model_id, rate.provider, rates, rate.fast_priced]


def _from_json(kept: Any) -> ModelRate | None:
    if kept is None:
        return None
    model_id, provider, rates, fast_priced = kept
    if set(rates) != set(PRICE_KEYS):  # as written by `_to_json`, or not ours to trust
        raise ValueError("a cached rate without every price key")
    return ModelRate(
        model_id,
        provider,
        {
            key: None
            if value is None
            else (float(value[0]), tuple((int(s), float(p)) for s, p in value[1]))
            for key, value in rates.items()
        },
        bool(fast_priced),
    )


# The rates a row's cost is computed from, one per token kind (per million tokens; 0 when the
# model has no price for the kind). Cache reads and writes fall back to the input price, 1-hour
# writes to the 5-minute one, as genai-prices does.
_RATES: Final = ("_r_input", "_r_output", "_r_cache_read", "_r_cache_write", "_r_cache_write_1h")


def _breakpoints(rate: ModelRate) -> list[int]:
    """Every tier start of a model's prices, ascending: the total inputs where a rate changes."""
    starts = {start for value in rate.rates.values() if value for start, _ in value[1]}
    return sorted(starts)


def _segment_rates(rate: ModelRate, floor: int | None) -> tuple[float, ...]:
    """The five rates for requests whose total input is above `floor` (None: the lowest
    segment) and at most the next breakpoint."""

    def one(key: str) -> float | None:
        value = rate.rates.get(key)
        if value is None:
            return None
        price = value[0]
        for start, tier_price in value[1]:  # a later tier overrides an earlier one
            if floor is not None and start <= floor:
                price = tier_price
        return price

    rin = one("input_mtok")
    rread = one("cache_read_mtok")
    rwrite = one("cache_write_mtok")
    rwrite_1h = one("cache_write_1h_mtok")
    rread = rin if rread is None else rread
    rwrite = rin if rwrite is None else rwrite
    rwrite_1h = rwrite if rwrite_1h is None else rwrite_1h
    out = (rin, one("output_mtok"), rread, rwrite, rwrite_1h)
    return tuple(0.0 if r is None else r for r in out)


# The token columns a cost is computed from.
_COST_INPUTS: Final = (*schema.TOKENS, "cache_write_1h_tokens")


def cost_expr(discount: float = 1.0) -> pl.Expr:
    """Cost in USD of each row from its joined `_RATES` (null when the model is unpriced)."""
    tokens = {c: pl.col(c).fill_null(0) for c in _COST_INPUTS}
    rin, rout, rread, rwrite, rwrite_1h = (pl.col(c) for c in _RATES)
    write_1h = pl.min_horizontal(tokens["cache_write_1h_tokens"], tokens["cache_write_tokens"])
    write_5m = tokens["cache_write_tokens"] - write_1h
    cost = (
        tokens["input_tokens"] * rin
        + tokens["output_tokens"] * rout
        + tokens["cache_read_tokens"] * rread
        + write_5m * rwrite
        + write_1h * rwrite_1h
    ) * 1e-6  # a division by a constant rounds differently with a row's place in the frame
    return pl.when(pl.col("_priced") & schema.has_tokens()).then(cost * discount).otherwise(None)


def _total_input() -> pl.Expr:
    """What a long-context tier is judged on: the request's whole input (0 for daily totals)."""
    tokens = [pl.col(c).fill_null(0) for c in ("input_tokens", "cache_read_tokens")]
    return (
        pl.when(pl.col("source").is_in(list(AGGREGATE_SOURCES)))
        .then(pl.lit(0, pl.Int64))
        .otherwise(tokens[0] + tokens[1] + pl.col("cache_write_tokens").fill_null(0))
    )


def _key_code(keys: pl.DataFrame) -> Callable[[pl.Expr, pl.Expr], pl.Expr]:
    """An expression of a (source, model, UTC day, fast) key as one integer, given the day and
    fast-mode expressions: equal for equal keys (a null model or day included), and for a
    source or model that `keys` lacks, equal to no key of `keys`. A join on one integer is
    faster, and holds less, than a join on the four columns."""
    names = {
        c: keys.get_column(c).unique(maintain_order=True).drop_nulls().to_list()
        for c in ("source", "model")
    }

    def coded(column: str) -> pl.Expr:  # 1: not in keys; 2..n + 1: known; n + 2: null
        values = names[column]
        known = pl.col(column).replace_strict(
            values, range(2, len(values) + 2), default=1, return_dtype=pl.Int64
        )
        return pl.when(pl.col(column).is_null()).then(len(values) + 2).otherwise(known)

    def code(day: pl.Expr, fast: pl.Expr) -> pl.Expr:
        days = day.cast(pl.Int64).fill_null(-_DAY_SPAN) + _DAY_SPAN  # 0 for a null day
        pair = coded("source") * (len(names["model"]) + 3) + coded("model")
        return (pair * 2 + fast.cast(pl.Int64)) * (2 * _DAY_SPAN) + days

    return code


_DAY_SPAN: Final = 1 << 20  # days either side of 1970 a key code can tell apart


def _costs(
    narrow: pl.LazyFrame,
    keys: pl.DataFrame,
    resolved: list[tuple[ModelRate | None, list[int]]],
    overrides: Overrides,
) -> pl.Series:
    """`computed_cost_usd` of each row of `narrow`, given each key's (row of `keys`) rate and
    tier breakpoints.

    A join of the key columns alone gives each row its key's number and breakpoints; the
    segment's number then picks its rates by position. Only the columns a price needs are read,
    and of those only the key columns are held at once.
    """
    width = max((len(points) for _, points in resolved), default=0)
    segments = width + 1
    breaks = [f"_b{i}" for i in range(1, width + 1)]
    by_key: dict[str, list[Any]] = {"_k": [], **{b: [] for b in breaks}}
    by_segment: dict[str, list[Any]] = {"_ks": [], "_priced": [], **{r: [] for r in _RATES}}
    for k, (rate, points) in enumerate(resolved):
        by_key["_k"].append(k)
        for i, name in enumerate(breaks):
            by_key[name].append(points[i] if i < len(points) else None)
        for seg in range(segments):
            by_segment["_ks"].append(k * segments + seg)
            by_segment["_priced"].append(rate is not None)
            reached = min(seg, len(points))  # segments past a key's own points never occur
            floor = points[reached - 1] if reached else None
            values = _segment_rates(rate, floor) if rate is not None else (None,) * len(_RATES)
            for name, value in zip(_RATES, values, strict=True):
                by_segment[name].append(value)
    key_table = keys.with_columns(
        pl.DataFrame(by_key, schema={"_k": pl.UInt32, **dict.fromkeys(breaks, pl.Int64)})
    )
    rate_table = pl.DataFrame(
        by_segment,
        schema={"_ks": pl.UInt32, "_priced": pl.Boolean, **dict.fromkeys(_RATES, pl.Float64)},
    )
    total_input = _total_input()
    segment = pl.sum_horizontal(
        [(total_input > pl.col(b)).fill_null(False).cast(pl.UInt32) for b in breaks]
        or [pl.lit(0, pl.UInt32)]
    )
    code = _key_code(keys)
    located = (
        narrow.select(_key=code(pl.col("ts").dt.date(), schema.is_fast()))
        .join(
            key_table.lazy().select("_k", *breaks, _key=code(pl.col("_day"), pl.col("_fast"))),
            on="_key",
            how="left",
            maintain_order="left",
        )
        .select("_k", *breaks)
        .collect(engine="in-memory")
    )
    # A segment's number is its row in `rate_table`: its rates are taken by position.
    rates = [pl.lit(rate_table.get_column(c)).gather(pl.col("_ks")) for c in ("_priced", *_RATES)]
    return (
        pl.concat([narrow.select(*_COST_INPUTS, "source"), located.lazy()], how="horizontal")
        .with_columns(_ks=pl.col("_k") * segments + segment)
        .with_columns(rates)
        .select(computed_cost_usd=cost_expr(overrides.discount))
        .collect()
        .to_series()
    )


def price(
    lf: pl.LazyFrame, *, overrides: Overrides | None = None
) -> tuple[pl.LazyFrame, list[Notice]]:
    """Add `computed_cost_usd` and `price_version` to canonical rows.

    Each distinct (source, model, UTC day, fast) is resolved once. Rows are joined to their key's
    number and tier breakpoints; the segment their total input falls in then picks the five
    rates of that segment; the cost itself is an expression over those. The costs are computed
    here, from the few columns they depend on, read twice (once for the keys, once for the
    costs) rather than held, and set beside the rows, so the wide columns (event ids, paths)
    are never copied by a join.
    """
    priced, notices = price_parts([lf], overrides=overrides)
    return priced[0], notices


def price_parts(
    parts: Sequence[pl.LazyFrame], *, overrides: Overrides | None = None
) -> tuple[list[pl.LazyFrame], list[Notice]]:
    """`price` for rows held in parts, each priced on its own (so that one part's costs are
    computed at a time), with the keys resolved once for all of them."""
    overrides = overrides or Overrides()
    needed = ["source", "model", "ts", "kind", "reported_cost_usd", *_COST_INPUTS]
    narrows = [part.select(needed) for part in parts]
    key_columns = [
        "source",
        "model",
        pl.col("ts").dt.date().alias("_day"),
        schema.is_fast().alias("_fast"),
    ]
    needs = pl.col("reported_cost_usd").is_null().any().alias("_needs_price")
    each = [n.filter(schema.has_tokens()).group_by(key_columns).agg(needs) for n in narrows]
    if len(each) == 1:
        keys = each[0].collect(engine="streaming")
    else:
        keys = (
            pl.concat(each)
            .group_by("source", "model", "_day", "_fast", maintain_order=True)
            .agg(pl.col("_needs_price").any())
            .collect(engine="streaming")
        )
    unpriced: dict[str, int] = {}
    fast_unpriced: set[str] = set()
    resolved: list[tuple[ModelRate | None, list[int]]] = []
    for source, model, day, fast, needs_price in keys.iter_rows():
        rate = (
            resolve(model or "", day, fast=fast, source=source, overrides=overrides)
            if model
            else None
        )
        if rate is None:
            if needs_price:  # rows with a vendor-reported cost need no price of ours
                unpriced[model or "(none)"] = 0
            resolved.append((None, []))
            continue
        if fast and not rate.fast_priced:
            fast_unpriced.add(model)
        resolved.append((rate, [] if source in AGGREGATE_SOURCES else _breakpoints(rate)))
    save_rates()
    key_table = keys.select("source", "model", "_day", "_fast")
    version = price_version(overrides)
    priced = [
        part.drop("computed_cost_usd", "price_version", strict=False).with_columns(
            _costs(narrow, key_table, resolved, overrides), price_version=pl.lit(version)
        )
        for part, narrow in zip(parts, narrows, strict=True)
    ]
    notices = [unpriced_notice(unpriced)] if unpriced else []
    if fast_unpriced:
        notices.append(
            Notice(
                "no fast-mode price known for "
                + ", ".join(sorted(fast_unpriced))
                + "; fast calls priced at standard rates",
                len(fast_unpriced),
            )
        )
    return priced, notices


def unpriced_notice(models: Collection[str]) -> Notice:
    """The warning naming models no price is known for (their cost is unpriced, never $0)."""
    names = ", ".join(sorted(models))
    message = f"no price known for model(s): {names}; their cost is reported as unpriced"
    return Notice(message, len(models))


def unpriced_models(lf: pl.LazyFrame) -> list[str]:
    """The models of priced rows (STORED schema) that have tokens and neither a reported nor a
    computed cost: those `price` found no price for."""
    lacking = (
        schema.has_tokens()
        & pl.col("reported_cost_usd").is_null()
        & pl.col("computed_cost_usd").is_null()
    )
    found = lf.filter(lacking).select(pl.col("model").fill_null("(none)").unique()).collect()
    return sorted(found.get_column("model").to_list())


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
