"""Loaders: one module per source, each turning files into canonical USAGE rows.

A loader module exposes:

- `SOURCES`: the `source` values its rows carry;
- `EXPORTS`: `ExportKind`s, one per file format it reads, with where to get it;
- `scan(files, *, user) -> Scan`: rows in the USAGE schema, deduplicated by its own rule;
- `dedupe(lf) -> lf`: the same rule over canonical rows, for merging into the store; it must not
  depend on row order.

Modules are named here and imported only when used, so start-up stays light. Which module reads
a file is decided by `detect` from the file's content.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

# format id (from detect) -> loader module
MODULES: Final[dict[str, str]] = {
    "claude_code": "tokenlens.loaders.claude_code",
    "cursor_csv": "tokenlens.loaders.cursor",
    "cursor_api_events": "tokenlens.loaders.cursor",
    "cursor_daily": "tokenlens.loaders.cursor",
    "copilot_premium_csv": "tokenlens.loaders.copilot",
    "copilot_usage_csv": "tokenlens.loaders.copilot",
    "copilot_metrics_users": "tokenlens.loaders.copilot",
    "copilot_metrics_legacy": "tokenlens.loaders.copilot",
    "anthropic_claude_code": "tokenlens.loaders.anthropic",
    "anthropic_messages": "tokenlens.loaders.anthropic",
    "anthropic_cost": "tokenlens.loaders.anthropic",
    "codex": "tokenlens.loaders.codex",
    "gemini": "tokenlens.loaders.gemini",
}


def module(format_id: str) -> ModuleType:
    return importlib.import_module(MODULES[format_id])


def all_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in dict.fromkeys(MODULES.values())]
