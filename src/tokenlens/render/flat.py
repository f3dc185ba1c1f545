"""CSV and Markdown output, with spreadsheet formula injection neutralized."""

from __future__ import annotations

import csv
import io
from typing import Any

import polars as pl

from tokenlens.render import fmt, jsonout

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(frame: pl.DataFrame) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in jsonout.records(frame):
        writer.writerow(["" if v is None else neutralize(v) for v in row.values()])
    return buffer.getvalue()


def _md_cell(text: str) -> str:
    return str(neutralize(text)).replace("|", "\\|").replace("\n", " ")


def to_markdown(frame: pl.DataFrame, *, title: str | None = None) -> str:
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines.append("| " + " | ".join(frame.columns) + " |")
    numeric = [frame.schema[c].is_numeric() for c in frame.columns]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for row in frame.iter_rows(named=True):
        cells = [_md_cell(fmt.cell(c, jsonout._value(v))) for c, v in row.items()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
