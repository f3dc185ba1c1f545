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
    # The csv module quotes a field holding a line break only if the break is in the line
    # terminator: rows with a carriage return are written fully quoted.
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(frame.columns)
    for row in jsonout.records(frame):
        cells = ["" if v is None else neutralize(v) for v in row.values()]
        has_cr = any(isinstance(c, str) and "\r" in c for c in cells)
        (quoted if has_cr else writer).writerow(cells)
    return buffer.getvalue()


def _md_cell(value: Any, text: str) -> str:
    """A Markdown cell: text values neutralized (a number such as -5 is no formula)."""
    shown = neutralize(text) if isinstance(value, str) else text
    return str(shown).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def to_markdown(frame: pl.DataFrame, *, title: str | None = None) -> str:
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines.append("| " + " | ".join(frame.columns) + " |")
    numeric = [frame.schema[c].is_numeric() for c in frame.columns]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for row in frame.iter_rows(named=True):
        cells = [_md_cell(v, fmt.cell(c, jsonout._value(v))) for c, v in row.items()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
