"""The terminal view of `tokenlens sources`."""

from __future__ import annotations

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table


def render(console: Console, frame: pl.DataFrame) -> None:
    local = frame.filter(pl.col("local"))
    found = Table(title="Local logs on this machine", box=box.SIMPLE_HEAD, title_justify="left")
    for name in ("Source", "Files", "First", "Last", "Path"):
        found.add_column(name, justify="right" if name == "Files" else "left")
    for row in local.iter_rows(named=True):
        found.add_row(
            row["name"], f"{row['files']:,}", str(row["first"]), str(row["last"]), row["paths"]
        )
    if local.height:
        console.print(found)
    else:
        console.print("No local logs found (Claude Code, Codex, Gemini).\n")
    where = Table(title="Exports tokenlens reads", box=box.SIMPLE_HEAD, title_justify="left")
    where.add_column("Format")
    where.add_column("Where to get it")
    for row in frame.iter_rows(named=True):
        where.add_row(row["name"], row["where"])
    console.print(where)
