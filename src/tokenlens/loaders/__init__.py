"""Loaders: one module per source, each turning files into canonical USAGE rows."""

from __future__ import annotations

from typing import Final

SOURCES: Final = ("claude_code",)
