"""CSV and Markdown cells that a spreadsheet would run as formulas are neutralized."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest

from tokenlens.render.flat import to_csv, to_markdown

DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")']


@pytest.mark.parametrize("text", DANGEROUS)
def test_csv_quotes_every_formula_start(text: str) -> None:
    out = to_csv(pl.DataFrame({"project": [text], "tokens": [5]}))
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows == [["project", "tokens"], ["'" + text, "5"]]


@pytest.mark.parametrize("text", DANGEROUS)
def test_markdown_quotes_every_formula_start(text: str) -> None:
    out = to_markdown(pl.DataFrame({"project": [text]}))
    cell = out.splitlines()[2]
    assert cell.startswith("| '")
    assert "\r" not in cell and "\n" not in cell


def test_safe_text_and_numbers_are_left_alone() -> None:
    frame = pl.DataFrame({"project": ["webapp", "a=b", "x-1"], "delta": [-5, 0, 3]})
    rows = list(csv.reader(io.StringIO(to_csv(frame), newline="")))
    assert rows[1:] == [["webapp", "-5"], ["a=b", "0"], ["x-1", "3"]]
    md = to_markdown(frame).splitlines()
    assert md[2].startswith("| webapp |") and "'" not in "".join(md)


def test_markdown_escapes_pipes_and_newlines() -> None:
    md = to_markdown(pl.DataFrame({"project": ["a|b\nc"]})).splitlines()
    assert md[2] == "| a\\|b c |"
