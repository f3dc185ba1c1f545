"""Terminal views of the analysis commands: a one-line summary and a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from rich.console import Console
from rich.text import Text

from tokenlens.render import fmt, jsonout, tables


def render(
    console: Console,
    *,
    title: str,
    frame: pl.DataFrame,
    keys: Sequence[str],
    summary: Mapping[str, Any],
) -> None:
    line = Text(f"{title}: ", style="bold")
    parts = [
        f"{k.replace('_', ' ')} {fmt.cell(k, jsonout._value(v))}"
        for k, v in summary.items()
        if v is not None and not isinstance(v, list | dict)
    ]
    line.append("  ".join(parts))
    console.print(line)
    if frame.height == 0:
        console.print(Text("Nothing to show.", style="dim"))
        return
    shown = frame.with_columns(
        [pl.col(c).list.join(", ") for c, t in frame.schema.items() if t == pl.List(pl.String)]
    )
    present = [k for k in keys if k in shown.columns]
    metrics = [c for c in shown.columns if c not in present]
    console.print(tables.table(shown, keys=present, metrics=metrics, console=console))
