"""The terminal view of `tokenlens report`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from tokenlens.errors import Notice
from tokenlens.render import fmt, tables

HEADLINE = (
    ("Tokens", "total_tokens"),
    ("Cost", "cost_usd"),
    ("$/Mtok", "usd_per_mtok"),
    ("At blended price", "blended_cost_usd"),
    ("Cache hit", "cache_hit_ratio"),
    ("Requests", "requests"),
    ("Sessions", "sessions"),
)

DEFAULT_METRICS = (
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "cost_usd",
    "usd_per_mtok",
    "cache_hit_ratio",
    "events",
    "sessions",
)


def header(period: str, totals: Mapping[str, Any]) -> Panel:
    parts = Text()
    shown = [(label, key) for label, key in HEADLINE if key in totals]
    for i, (label, key) in enumerate(shown):
        if i:
            parts.append("  ")
        parts.append(f"{label} ", style="dim")
        parts.append(fmt.cell(key, totals.get(key)), style="bold")
    unpriced = totals.get("unpriced_events") or 0
    body: list[Any] = [parts]
    if unpriced:
        noun = "event" if unpriced == 1 else "events"
        body.append(Text(f"{unpriced:,} {noun} unpriced (not in cost)", style="yellow"))
    return Panel(Group(*body), title=f"tokenlens · {period}", title_align="left", expand=False)


def render(
    console: Console,
    *,
    period: str,
    totals: Mapping[str, Any],
    sections: Sequence[tuple[str, Sequence[str], pl.DataFrame]],
    notices: Sequence[Notice] = (),
) -> None:
    console.print(header(period, totals))
    signals = [
        c
        for c in ("blended_cost_usd", "lines_added", "lines_removed", "usd_per_line_added")
        if totals.get(c) is not None
    ]
    for title, keys, frame in sections:
        if frame.height == 0:
            continue
        console.print(
            tables.table(
                frame,
                keys=keys,
                metrics=[*DEFAULT_METRICS, *signals],
                console=console,
                title=title,
                totals=totals,
            )
        )
    if totals.get("events", 0) == 0:
        console.print(Text("No usage in the selected period.", style="dim"))
    del notices
