"""Vectorized pricing equals genai-prices' own per-request calculation, and hand-checked bills."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import polars as pl
import pytest
from genai_prices import Usage, calc_price

from tests.conftest import usage_rows
from tokenlens import pricing

SEP_2025 = datetime(2025, 9, 1, 12, tzinfo=UTC)


def _priced(*rows: dict[str, object], **kw: object) -> pl.DataFrame:
    lf, _ = pricing.price(usage_rows(*rows), **kw)  # type: ignore[arg-type]
    return lf.collect()


def test_sonnet_4_bill_matches_hand_computation() -> None:
    # 1,000 input at $3, 500 cache read at $0.30, 200 5-minute writes at $3.75,
    # 100 one-hour writes at $6, 50 output at $15 (per million).
    out = _priced(
        {
            "input_tokens": 1000,
            "cache_read_tokens": 500,
            "cache_write_tokens": 300,
            "cache_write_1h_tokens": 100,
            "output_tokens": 50,
        }
    )
    expected = (1000 * 3 + 500 * 0.3 + 200 * 3.75 + 100 * 6 + 50 * 15) / 1e6
    assert out["computed_cost_usd"][0] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.00525)


def test_long_context_tier_applies_to_every_token_once_total_input_passes_200k() -> None:
    # Sonnet 4.5: above 200K total input, input is $6 and output $22.50 for all tokens.
    below, above = _priced(
        {"model": "claude-sonnet-4-5-20250929", "input_tokens": 200_000, "output_tokens": 1000},
        {
            "model": "claude-sonnet-4-5-20250929",
            "input_tokens": 150_000,
            "cache_read_tokens": 50_001,
            "output_tokens": 1000,
        },
    )["computed_cost_usd"]
    assert below == pytest.approx((200_000 * 3 + 1000 * 15) / 1e6)
    assert above == pytest.approx((150_000 * 6 + 50_001 * 0.6 + 1000 * 22.5) / 1e6)


def test_tiers_with_different_starts_per_kind_price_each_segment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Input has tiers at 32K and 128K, output one at 64K: four segments of total input.
    rate = pricing.ModelRate(
        "m",
        "test",
        {
            "input_mtok": (1.0, ((32_000, 2.0), (128_000, 4.0))),
            "output_mtok": (10.0, ((64_000, 20.0),)),
            "cache_read_mtok": None,  # billed at the input price of the segment
            "cache_write_mtok": None,
            "cache_write_1h_mtok": None,
        },
    )
    monkeypatch.setattr(pricing, "resolve", lambda *a, **k: rate)
    inputs = [10_000, 32_000, 32_001, 64_000, 64_001, 128_001]
    rows = [
        {"model": "m", "input_tokens": n - 1000, "cache_read_tokens": 1000, "output_tokens": 100}
        for n in inputs
    ]
    costs = _priced(*rows)["computed_cost_usd"].to_list()
    # (input price, output price) per row: a tier applies once the total input is above its start
    prices = [(1, 10), (1, 10), (2, 10), (2, 10), (2, 20), (4, 20)]
    expected = [(n * pin + 100 * pout) / 1e6 for n, (pin, pout) in zip(inputs, prices, strict=True)]
    assert costs == pytest.approx(expected, rel=1e-12)


CASES = [
    ("claude-sonnet-4-20250514", SEP_2025, (1234, 5678, 910, 11_000, 120_000)),
    ("claude-opus-4-1-20250805", SEP_2025, (10, 2000, 0, 30_000, 5)),
    ("claude-sonnet-4-5-20250929", SEP_2025, (3, 900, 40_000, 250_000, 0)),
    ("claude-haiku-4-5-20251001", datetime(2025, 11, 2, tzinfo=UTC), (7, 77, 7, 777, 7777)),
    ("claude-opus-4-6", datetime(2026, 2, 1, tzinfo=UTC), (100, 300, 0, 260_000, 0)),
    ("claude-opus-4-6", datetime(2026, 4, 1, tzinfo=UTC), (100, 300, 0, 260_000, 0)),
    ("claude-3-5-haiku-20241022", SEP_2025, (500, 600, 200, 0, 1000)),
]


@pytest.mark.parametrize(("model", "when", "tokens"), CASES)
def test_cost_equals_genai_prices_per_request(
    model: str, when: datetime, tokens: tuple[int, int, int, int, int]
) -> None:
    uncached, output, write_1h, read, write_5m = tokens
    out = _priced(
        {
            "model": model,
            "ts": when,
            "input_tokens": uncached,
            "output_tokens": output,
            "cache_read_tokens": read,
            "cache_write_tokens": write_5m + write_1h,
            "cache_write_1h_tokens": write_1h,
        }
    )
    usage = Usage(
        input_tokens=uncached + read + write_5m + write_1h,
        cache_read_tokens=read,
        cache_write_tokens=write_5m + write_1h,
        cache_write_1h_tokens=write_1h,
        output_tokens=output,
    )
    ref = calc_price(usage, model, provider_id="anthropic", genai_request_timestamp=when)
    assert out["computed_cost_usd"][0] == pytest.approx(float(ref.total_price), rel=1e-12)


def test_prices_follow_the_request_date() -> None:
    # Opus 4.6 lost its long-context tier on 2026-03-13.
    tokens = {"model": "claude-opus-4-6", "input_tokens": 300_000, "output_tokens": 0}
    before, after = _priced(
        {**tokens, "ts": datetime(2026, 3, 12, 23, tzinfo=UTC)},
        {**tokens, "ts": datetime(2026, 3, 13, 1, tzinfo=UTC)},
    )["computed_cost_usd"]
    assert before == pytest.approx(300_000 * 10 / 1e6)
    assert after == pytest.approx(300_000 * 5 / 1e6)


def test_unknown_model_is_unpriced_not_zero() -> None:
    lf, notices = pricing.price(
        usage_rows({"model": "my-private-model", "input_tokens": 10, "output_tokens": 5})
    )
    out = pricing.with_cost(lf).collect()
    assert out["computed_cost_usd"][0] is None
    assert out["cost_usd"][0] is None
    assert out["cost_basis"][0] == "unpriced"
    assert [n.count for n in notices] == [1]
    assert "my-private-model" in notices[0].message


def test_overrides_price_private_models_and_apply_discounts() -> None:
    ov = pricing.Overrides(
        models={"my-private-model": {"input_mtok": 2.0, "output_mtok": 8.0}},
        aliases={"proxy/sonnet": "claude-sonnet-4-20250514"},
        discount=0.5,
    )
    out = _priced(
        {"model": "my-private-model", "input_tokens": 1_000_000, "output_tokens": 1_000_000},
        {"model": "proxy/sonnet", "input_tokens": 1_000_000},
        overrides=ov,
    )
    assert out["computed_cost_usd"].to_list() == pytest.approx([5.0, 1.5])


@pytest.mark.parametrize(
    ("mode", "cost", "basis"),
    [
        ("auto", [0.5, 0.003, None], ["reported", "computed", "unpriced"]),
        ("calculate", [0.003, 0.003, None], ["computed", "computed", "unpriced"]),
        ("reported", [0.5, None, None], ["reported", "unpriced", "unpriced"]),
    ],
)
def test_cost_modes(mode: pricing.CostMode, cost: list[float | None], basis: list[str]) -> None:
    lf, _ = pricing.price(
        usage_rows(
            {"input_tokens": 1000, "reported_cost_usd": 0.5},
            {"input_tokens": 1000},
            {"model": "nobody-knows-me", "input_tokens": 1000},
        )
    )
    out = pricing.with_cost(lf, mode).collect()
    assert out["cost_usd"].to_list() == pytest.approx(cost)
    assert out["cost_basis"].to_list() == basis


def test_display_names_are_priced_through_their_family() -> None:
    out = _priced(
        {"model": "Claude Sonnet 4", "source": "copilot", "input_tokens": 1_000_000},
        {"model": "claude-4-sonnet", "source": "cursor", "output_tokens": 1_000_000},
    )
    assert out["computed_cost_usd"].to_list() == pytest.approx([3.0, 15.0])


def test_rows_without_tokens_get_no_computed_cost() -> None:
    lf, _ = pricing.price(
        usage_rows(
            {
                "model": "claude-sonnet-4-20250514",
                "input_tokens": None,
                "cache_write_tokens": None,
                "cache_write_1h_tokens": None,
                "cache_read_tokens": None,
                "output_tokens": None,
                "reported_cost_usd": 0.04,
            }
        )
    )
    out = pricing.with_cost(lf).collect()
    assert out["computed_cost_usd"][0] is None
    assert out["cost_usd"][0] == pytest.approx(0.04)
    assert out["cost_basis"][0] == "reported"


def test_every_key_gets_its_own_rate_when_priced_together() -> None:
    # Rows meet their (source, model, UTC day, fast) key through one integer code: each row of
    # every combination, a model without a price and a row without a model among them, costs
    # what it costs priced alone.
    combos = itertools.product(
        ("claude_code", "anthropic_api"),
        ("claude-sonnet-4-20250514", "claude-opus-4-1-20250805", "no-such-model-x", None),
        (datetime(2025, 9, 1, 12, tzinfo=UTC), datetime(2025, 3, 2, 23, tzinfo=UTC)),
        ("main", "main+fast"),
    )
    rows = [
        {"source": s, "model": m, "ts": t, "kind": k, "input_tokens": 1000 + i, "output_tokens": 7}
        for i, (s, m, t, k) in enumerate(combos)
    ]
    together = _priced(*rows).get_column("computed_cost_usd").to_list()
    alone = [_priced(row).get_column("computed_cost_usd").item() for row in rows]
    assert together == alone
    priced = [c for c, row in zip(together, rows, strict=True) if c is not None]
    assert len(priced) == 16  # two sources, two known models, two days, two speeds
    assert len(set(priced)) == 16
