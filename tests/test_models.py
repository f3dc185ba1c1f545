"""Model families join each source's spelling of a model."""

from __future__ import annotations

import pytest

from tokenlens.models import family, price_refs


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("Claude Sonnet 4", "claude-sonnet-4"),
        ("claude-4-sonnet", "claude-sonnet-4"),
        ("Claude Sonnet 4 (thinking)", "claude-sonnet-4"),
        ("claude-4.5-sonnet-thinking", "claude-sonnet-4.5"),
        ("Claude Sonnet 4.5", "claude-sonnet-4.5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-opus-4-1-20250805", "claude-opus-4.1"),
        ("Claude Opus 4.1", "claude-opus-4.1"),
        ("claude-4.1-opus", "claude-opus-4.1"),
        ("claude-3-5-sonnet-20241022", "claude-sonnet-3.5"),
        ("claude-3.7-sonnet-thinking", "claude-sonnet-3.7"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
        ("GPT-5", "gpt-5"),
        ("GPT-5 mini", "gpt-5-mini"),
        ("gpt-5-codex", "gpt-5-codex"),
        ("Gemini 2.5 Pro", "gemini-2.5-pro"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("auto", "auto"),
    ],
)
def test_family_joins_spellings(name: str, expected: str) -> None:
    assert family(name) == expected


def test_price_refs_try_the_raw_name_first() -> None:
    assert price_refs("Claude Sonnet 4.5") == [
        "Claude Sonnet 4.5",
        "claude-sonnet-4.5",
        "claude-sonnet-4-5",
    ]
    assert price_refs("gpt-5") == ["gpt-5"]
