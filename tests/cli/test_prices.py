"""`tokenlens prices`: per-million rates in use, tiers, overrides, and the unpriced."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import run
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_data" / "claude" / "projects"


def test_prices_of_the_models_in_the_data() -> None:
    result = run("prices", "--path", str(SAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["model"]: r for r in json.loads(result.stdout)["rows"]}
    sonnet = rows["claude-sonnet-4-20250514"]
    assert sonnet["priced_as"] == "anthropic/claude-sonnet-4-0"
    assert (sonnet["input_usd_per_mtok"], sonnet["output_usd_per_mtok"]) == (3.0, 15.0)
    assert (sonnet["cache_write_usd_per_mtok"], sonnet["cache_write_1h_usd_per_mtok"]) == (
        3.75,
        6.0,
    )
    assert rows["claude-sonnet-4-5-20250929"]["input_tiers"] == ">200,000: $6"


def test_named_models_overrides_and_unpriced(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[pricing.models."acme-coder"]\ninput_mtok = 1.5\noutput_mtok = 6\n')
    result = run(
        "prices",
        "acme-coder",
        "Claude Sonnet 4",
        "mystery-model",
        "--on",
        "2025-10-01",
        "--json",
        "--config",
        str(cfg),
    )
    assert result.returncode == 0, result.stderr
    rows = {r["model"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["acme-coder"]["override"] == "model"
    assert rows["acme-coder"]["input_usd_per_mtok"] == 1.5
    assert rows["Claude Sonnet 4"]["priced_as"] == "anthropic/claude-sonnet-4-0"
    assert rows["mystery-model"]["priced_as"] is None
    assert "no price known for: mystery-model" in result.stderr
