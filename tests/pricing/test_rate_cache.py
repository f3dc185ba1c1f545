"""Resolved prices kept between runs: the same costs, without loading genai-prices again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import usage_rows
from tokenlens import pricing, rate_cache

ROWS = [
    {"model": "claude-sonnet-4-20250514", "input_tokens": 1000, "output_tokens": 50},
    {"model": "claude-sonnet-4-5-20250929", "input_tokens": 150_000, "cache_read_tokens": 60_000},
    {"model": "no-such-model-anywhere", "input_tokens": 10},
]

# Prices the rows above in a fresh interpreter; prints the costs, the notices and whether
# genai-prices was loaded.
SCRIPT = """
import json, sys
from tests.conftest import usage_rows
from tokenlens import pricing
rows = json.loads(sys.argv[1])
lf, notices = pricing.price(usage_rows(*rows))
costs = lf.collect()["computed_cost_usd"].to_list()
print(json.dumps([costs, [n.message for n in notices], "genai_prices" in sys.modules]))
"""


def _fresh_process() -> tuple[list[float | None], list[str], bool]:
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "src")])}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(ROWS)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=repo,
    )
    costs, notices, loaded = json.loads(done.stdout)
    return costs, notices, loaded


def test_second_run_prices_from_the_cache_without_loading_genai_prices() -> None:
    first = _fresh_process()
    assert first[2] is True  # nothing cached yet: genai-prices resolved the models
    path = rate_cache.default_path()
    assert path is not None and path.is_file()
    second = _fresh_process()
    assert second[2] is False
    assert second[:2] == first[:2]
    assert first[0][:2] == pytest.approx(
        [(1000 * 3 + 50 * 15) / 1e6, (150_000 * 6 + 60_000 * 0.6) / 1e6]
    )
    assert first[0][2] is None  # unknown stays unpriced, from the cache too
    assert first[1] == [
        "no price known for model(s): no-such-model-anywhere; their cost is reported as unpriced"
    ]


def test_a_damaged_cache_file_is_ignored_and_rewritten() -> None:
    path = rate_cache.default_path()
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_text('{"rates": {"not json')
    costs, _, loaded = _fresh_process()
    assert loaded is True
    assert costs[0] == pytest.approx((1000 * 3 + 50 * 15) / 1e6)
    assert len(json.loads(path.read_text())["rates"]) == 3


def test_a_damaged_entry_is_resolved_again() -> None:
    path = rate_cache.default_path()
    assert path is not None
    key = rate_cache._text_key(("claude-sonnet-4-20250514", "anthropic", "2025-09-01", False))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": 1, "rates": {key: ["only", "three", "items"]}}))
    costs, _, _ = _fresh_process()
    assert costs[0] == pytest.approx((1000 * 3 + 50 * 15) / 1e6)
    assert len(json.loads(path.read_text())["rates"][key]) == 4  # replaced by a good entry


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rate_cache.ENV_OFF, "0")
    assert rate_cache.default_path() is None
    lf, _ = pricing.price(usage_rows(*ROWS[:1]))
    assert lf.collect()["computed_cost_usd"][0] == pytest.approx((1000 * 3 + 50 * 15) / 1e6)
    cache_home = Path(os.environ["XDG_CACHE_HOME"])
    assert not cache_home.exists() or not any(cache_home.rglob("rates-*.json"))


def test_one_file_per_genai_prices_release_and_code_version() -> None:
    path = rate_cache.default_path()
    assert path is not None
    from importlib.metadata import version

    assert f"genai-prices-{version('genai-prices')}-f{rate_cache.FORMAT}-" in path.name


def test_the_genai_prices_release_is_read_without_importlib_metadata() -> None:
    from importlib.metadata import version

    assert rate_cache.genai_prices_version() == version("genai-prices")


@pytest.mark.parametrize(
    "entry",
    [
        ["m", "anthropic", {"input_mtok": [3.0]}, True],  # a price without its tiers
        ["m", "anthropic", 5, True],
        ["m", "anthropic", {}, True],  # no price keys: would price at $0
        "abcd",
    ],
)
def test_entries_of_other_shapes_are_resolved_again(entry: object) -> None:
    path = rate_cache.default_path()
    assert path is not None
    key = rate_cache._text_key(("claude-sonnet-4-20250514", "anthropic", "2025-09-01", False))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": 1, "rates": {key: entry}}))
    costs, _, _ = _fresh_process()
    assert costs[0] == pytest.approx((1000 * 3 + 50 * 15) / 1e6)
    assert len(json.loads(path.read_text())["rates"][key]) == 4


def test_a_row_without_a_time_and_an_unknown_model_is_unpriced() -> None:
    import polars as pl

    rows = usage_rows({"model": "no-such-model-anywhere", "input_tokens": 5})
    rows = rows.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("ts"))
    lf, notices = pricing.price(rows)
    assert lf.collect()["computed_cost_usd"].to_list() == [None]
    assert [n.count for n in notices] == [1]
