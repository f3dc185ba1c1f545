"""Shared fixtures: canonical rows built inline, and a pinned environment for the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tokenlens import schema

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


def usage_rows(*rows: dict[str, Any]) -> pl.LazyFrame:
    """Canonical USAGE rows from partial dicts; absent columns are null, tokens 0."""
    filled = []
    for i, row in enumerate(rows):
        base: dict[str, Any] = {
            "source": "claude_code",
            "event_id": f"e{i}",
            "ts": datetime(2025, 9, 1, 12, tzinfo=UTC),
            "user": "u",
            "model": "claude-sonnet-4-20250514",
            "kind": "main",
            "input_tokens": 0,
            "cache_write_tokens": 0,
            "cache_write_1h_tokens": 0,
            "cache_read_tokens": 0,
            "output_tokens": 0,
            "requests": 1.0,
        }
        base.update(row)
        filled.append(base)
    return schema.conform(pl.DataFrame(filled, infer_schema_length=None).lazy())


@pytest.fixture(autouse=True)
def _pinned_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the real home, config, cache or store; output is plain and 100 columns wide."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("TOKENLENS_PRICE_CACHE", raising=False)
    monkeypatch.delenv("TOKENLENS_STORE", raising=False)
    monkeypatch.delenv("TOKENLENS_CONFIG", raising=False)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TZ", "UTC")
    yield
