"""Human formatting of numbers (no Rich here, shared by tables and Markdown)."""

from __future__ import annotations

import math
from typing import Any


def tokens(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= size:
            return f"{v / size:,.2f}{unit}" if abs(v) < 100 * size else f"{v / size:,.1f}{unit}"
    return f"{int(v):,}"


def count(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value)
    return f"{int(v):,}" if v == int(v) else f"{v:,.2f}"


def usd(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)
    if v != 0 and abs(v) < 0.01:
        return f"${v:.4f}"
    return f"${v:,.2f}"


def ratio(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}%"


def plain(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    return str(value)


def times(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.1f}x"


FORMATTERS = {
    "events": count,
    "requests": count,
    "sessions": count,
    "unpriced_events": count,
    "input_tokens": tokens,
    "cache_write_tokens": tokens,
    "cache_write_1h_tokens": tokens,
    "cache_read_tokens": tokens,
    "output_tokens": tokens,
    "total_tokens": tokens,
    "cost_usd": usd,
    "spend_usd": usd,
    "projected_usd": usd,
    "min_usd": usd,
    "max_usd": usd,
    "ratio": times,
    "flagged_share": ratio,
    "models": count,
    "blended_cost_usd": usd,
    "reported_cost_usd": usd,
    "computed_cost_usd": usd,
    "usd_per_line_added": usd,
    "lines_added_per_mtok": count,
    "usd_per_mtok": usd,
    "cache_hit_ratio": ratio,
    "output_ratio": ratio,
    "lines_added": count,
    "lines_removed": count,
    "commits": count,
    "pull_requests": count,
}


def cell(column: str, value: Any) -> str:
    return FORMATTERS.get(column, plain)(value)
