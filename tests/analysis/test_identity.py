"""Aliases join one person's names across sources; teams come from the teams file."""

from __future__ import annotations

import polars as pl

from tests.conftest import usage_rows
from tokenlens.analysis.identity import apply_identities


def test_aliases_and_teams() -> None:
    rows = usage_rows(
        {"user": "alice@corp.com", "source": "cursor"},
        {"user": "Alice-GH", "source": "copilot"},
        {"user": "alice", "source": "claude_code"},
        {"user": "dave", "source": "claude_code"},
    )
    out = apply_identities(
        rows,
        aliases={"alice@corp.com": "alice", "alice-gh": "alice"},
        teams={"alice@corp.com": "Payments"},
    ).collect()
    assert out["user"].to_list() == ["alice", "alice", "alice", "dave"]
    assert out["team"].to_list() == ["Payments", "Payments", "Payments", None]


def test_no_aliases_keeps_names_and_adds_a_null_team() -> None:
    out = apply_identities(usage_rows({"user": "Bob"})).collect()
    assert out["user"].to_list() == ["Bob"]
    assert out.schema["team"] == pl.String
    assert out["team"].to_list() == [None]
