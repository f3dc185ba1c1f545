"""Model families: one name for a model however a source spells it.

`claude-sonnet-4-20250514` (API), `Claude Sonnet 4` (Copilot) and `claude-4-sonnet` (Cursor) are
all `claude-sonnet-4`. Reports group on it with `--by model_family`; pricing uses it to find a
price for display names that the price data does not list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Final

_CLAUDE_TIERS: Final = ("opus", "sonnet", "haiku")
_DATE_SUFFIX: Final = re.compile(r"[-@](20\d{6}|\d{4}-\d{2}-\d{2}|latest|v\d+(:\d+)?)$")
_DECORATIONS: Final = re.compile(
    r"(\s*\((thinking|preview|max|fast)\)|-(thinking|fast|max|high|low|medium)|\s+(thinking|max))$"
)
_VERSION: Final = r"(\d+(?:[.-]\d)?)"


def _version(text: str) -> str:
    return text.replace("-", ".")


def _claude(name: str) -> str | None:
    """claude-{tier}-{major.minor} from the API, Copilot and Cursor spellings."""
    if "claude" not in name and not name.startswith(_CLAUDE_TIERS):
        return None
    body = name.removeprefix("anthropic.").removeprefix("anthropic/")
    for tier in _CLAUDE_TIERS:
        # claude-sonnet-4-5, claude sonnet 4.5, sonnet-4.5
        m = re.search(rf"{tier}[- ]{_VERSION}(?![\d])", body)
        if m:
            return f"claude-{tier}-{_version(m.group(1))}"
        # claude-4.5-sonnet, claude-3-5-sonnet (version before tier)
        m = re.search(rf"claude[- ]{_VERSION}[- ]{tier}", body)
        if m:
            return f"claude-{tier}-{_version(m.group(1))}"
    return None


@cache
def family(model: str | None) -> str | None:
    """The family of one model name (lower case, no date, no decorations)."""
    if model is None:
        return None
    name = model.strip().lower()
    for prefix in ("models/", "openai/", "google/", "anthropic/"):
        name = name.removeprefix(prefix)
    previous = None
    while previous != name:
        previous = name
        name = _DATE_SUFFIX.sub("", name)
        name = _DECORATIONS.sub("", name)
    claude = _claude(name)
    if claude:
        return claude
    return re.sub(r"\s+", "-", name)


def families(models: Iterable[str | None]) -> dict[str, str]:
    """Model -> family for each distinct name given."""
    return {m: f for m in set(models) if m is not None and (f := family(m)) is not None}


def price_refs(model: str) -> list[str]:
    """Names to try, in order, when looking a model up in the price data."""
    refs = [model]
    fam = family(model)
    if fam and fam != model.lower():
        refs.append(fam)
        refs.append(re.sub(r"(\d)\.(\d)", r"\1-\2", fam))
    return list(dict.fromkeys(refs))
