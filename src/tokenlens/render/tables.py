"""Rich tables that fit the terminal by dropping low-value columns instead of wrapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from tokenlens.render import fmt, jsonout

# Lower numbers are kept longest when the terminal is narrow.
PRIORITY: dict[str, int] = {
    "total_tokens": 0,
    "cost_usd": 0,
    "usd_per_mtok": 1,
    "events": 2,
    "output_tokens": 3,
    "cache_hit_ratio": 3,
    "input_tokens": 4,
    "cache_read_tokens": 4,
    "cache_write_tokens": 4,
    "requests": 5,
    "sessions": 5,
    "output_ratio": 6,
    "unpriced_events": 6,
    "lines_added": 6,
    "lines_removed": 7,
    "commits": 7,
    "pull_requests": 7,
    "cache_write_1h_tokens": 8,
    "input_usd_per_mtok": 0,
    "output_usd_per_mtok": 0,
    "cache_read_usd_per_mtok": 1,
    "cache_write_usd_per_mtok": 1,
    "cache_write_1h_usd_per_mtok": 2,
    "override": 2,
    "discount": 2,
    "input_tiers": 3,
    "output_tiers": 3,
    "cache_read_tiers": 8,
    "cache_write_tiers": 8,
    "cache_write_1h_tiers": 8,
    "blended_cost_usd": 1,
    "titles": 1,
    "title_values": 9,
    "flagged_share": 3,
    "models": 7,
    "usd_per_line_added": 5,
    "lines_added_per_mtok": 6,
}

LABELS: dict[str, str] = {
    "events": "Events",
    "requests": "Requests",
    "input_tokens": "Input",
    "cache_write_tokens": "Cache write",
    "cache_write_1h_tokens": "Cache write 1h",
    "cache_read_tokens": "Cache read",
    "output_tokens": "Output",
    "total_tokens": "Total tokens",
    "cost_usd": "Cost",
    "usd_per_mtok": "$/Mtok",
    "cache_hit_ratio": "Cache hit",
    "output_ratio": "Output share",
    "unpriced_events": "Unpriced",
    "sessions": "Sessions",
    "lines_added": "Lines +",
    "lines_removed": "Lines -",
    "commits": "Commits",
    "pull_requests": "PRs",
    "blended_cost_usd": "At blended",
    "usd_per_line_added": "$/line",
    "lines_added_per_mtok": "Lines/Mtok",
    "team": "Team",
    "titles": "Titles",
    "title_values": "Earned with",
    "flagged_share": "In flagged",
    "priced_as": "Priced as",
    "input_usd_per_mtok": "Input $/M",
    "output_usd_per_mtok": "Output $/M",
    "cache_read_usd_per_mtok": "Cache read $/M",
    "cache_write_usd_per_mtok": "Cache write $/M",
    "cache_write_1h_usd_per_mtok": "1h write $/M",
    "input_tiers": "Input tiers",
    "output_tiers": "Output tiers",
    "override": "Override",
    "discount": "Discount",
    "model_family": "Model family",
}


def _cells(frame: pl.DataFrame, columns: Sequence[str]) -> list[list[str]]:
    return [
        [fmt.cell(c, jsonout._value(row[c])) for c in columns]
        for row in frame.iter_rows(named=True)
    ]


def _build(
    frame: pl.DataFrame,
    columns: Sequence[str],
    keys: Sequence[str],
    title: str | None,
    totals: Mapping[str, Any] | None,
) -> Table:
    out = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for name in columns:
        numeric = name not in keys and frame.schema[name].is_numeric()
        out.add_column(
            LABELS.get(name, name.replace("_", " ").capitalize()),
            justify="right" if numeric else "left",
            no_wrap=True,
        )
    for cells in _cells(frame, columns):
        out.add_row(*cells)
    if totals is not None and frame.height > 1:
        out.add_section()
        out.add_row(
            *[
                Text("Total", style="bold")
                if i == 0
                else Text(fmt.cell(c, totals.get(c)) if c not in keys else "", style="bold")
                for i, c in enumerate(columns)
            ]
        )
    return out


def table(
    frame: pl.DataFrame,
    *,
    keys: Sequence[str],
    metrics: Sequence[str],
    console: Console,
    title: str | None = None,
    totals: Mapping[str, Any] | None = None,
) -> Table:
    """A table of the keys and as many metrics as fit the console, by priority."""
    wide = console.options.update_width(10_000)

    def fits(columns: list[str]) -> bool:
        out = _build(frame, [*keys, *columns], keys, title, totals)
        return Measurement.get(console, wide, out).maximum <= console.width

    chosen = list(metrics)
    dropped: list[str] = []
    while chosen and not fits(chosen):
        drop = max(chosen, key=lambda c: (PRIORITY.get(c, 9), chosen.index(c)))
        chosen.remove(drop)
        dropped.append(drop)
    # A wide column may have pushed out narrower ones that fit beside the rest: bring them back.
    for name in sorted(dropped, key=lambda c: PRIORITY.get(c, 9)):
        candidate = [m for m in metrics if m in chosen or m == name]
        if fits(candidate):
            chosen = candidate
    return _build(frame, [*keys, *chosen], keys, title, totals)
