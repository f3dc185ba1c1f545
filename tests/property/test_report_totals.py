"""A report's totals are the sum of its rows, for every way of grouping and filtering it.

The store holds every fixture export (all sources). For each `--by` key the command accepts,
singly and in pairs, and for hypothesis-chosen triples, time zones, periods, sources, models,
cost modes and blended prices, `report --format json` must satisfy:

- rows are one per group, sorted by the group keys;
- events, unpriced events, token counts and output signals in the totals equal the sums over the
  rows (exactly; null only when no row reports them); request units and dollars to 1e-12;
- `cost_basis` of the totals is the rows' one basis, or `mixed`;
- sessions: with `--by session` the number of session rows, else between the largest row and
  the sum of the rows;
- every ratio in a row or the totals follows from that object's own sums, and `usd_per_mtok` of
  the totals lies between the rows' smallest and largest;
- the totals equal sums computed here from the exported canonical rows, filtered here.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.property.support import SETTINGS, FixtureStore, cli, report, report_keys
from tokenlens.analysis import exprs

KEYS = report_keys()
INT_SUMS = (
    "events",
    "unpriced_events",
    "input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
    "total_tokens",
    "lines_added",
    "lines_removed",
    "commits",
    "pull_requests",
)
FLOAT_SUMS = ("requests", "cost_usd", "reported_cost_usd", "computed_cost_usd")
TOKENS = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")
PRICED = ("reported", "computed")
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham")
COST_MODES = ("auto", "calculate", "reported")


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def check_ratios(obj: dict[str, Any], where: str) -> None:
    """Each ratio follows from the object's own sums; null when its denominator is 0 or null."""
    tokens = {k: obj[k] or 0 for k in TOKENS}
    total, lines, cost = obj["total_tokens"], obj["lines_added"], obj["cost_usd"]
    input_side = tokens["input_tokens"] + tokens["cache_write_tokens"] + tokens["cache_read_tokens"]
    expected = {
        "cache_hit_ratio": tokens["cache_read_tokens"] / input_side if input_side else None,
        "output_ratio": tokens["output_tokens"] / total if total else None,
        "lines_added_per_mtok": lines * 1e6 / total if total and lines is not None else None,
        "usd_per_line_added": cost / lines if lines and cost is not None else None,
    }
    if total is not None:
        assert total == sum(tokens.values()), f"{where}: total_tokens is not the sum of its parts"
    for name, want in expected.items():
        got = obj[name]
        if want is None:
            assert got is None, f"{where}: {name} is {got}, expected null"
        else:
            assert got is not None and math.isclose(got, want, rel_tol=1e-9), (
                f"{where}: {name} is {got}, expected {want}"
            )


def _order(value: Any) -> tuple[bool, str]:
    return (value is None, "" if value is None else str(value))


def check_sums(doc: dict[str, Any], keys: Sequence[str]) -> None:
    """The totals of a report document are the sums of its rows."""
    group_by = list(dict.fromkeys(keys))
    assert doc["group_by"] == group_by
    rows, totals = doc["rows"], doc["totals"]
    where = f"--by {' '.join(group_by)}"

    for row in rows:
        if "day" in row:
            date.fromisoformat(row["day"])
        if "week" in row:
            assert date.fromisoformat(row["week"]).weekday() == 0, f"{row['week']} is no Monday"
        if "month" in row:
            assert date.fromisoformat(row["month"] + "-01").strftime("%Y-%m") == row["month"]
    groups = [tuple(row[k] for k in group_by) for row in rows]
    assert len(set(groups)) == len(groups), f"{where}: a group appears twice"
    ordered = sorted(groups, key=lambda g: tuple(_order(v) for v in g))
    assert groups == ordered, f"{where}: rows are not sorted by the group keys"

    for name in INT_SUMS:
        values = [row[name] for row in rows if row[name] is not None]
        want = sum(values) if values else None
        if name in ("events", "unpriced_events"):
            want = sum(values)
        assert totals[name] == want, f"{where}: totals {name} {totals[name]} != rows {want}"
    blended = ("blended_cost_usd",) if "blended_cost_usd" in totals else ()
    for name in (*FLOAT_SUMS, *blended):
        values = [row[name] for row in rows if row[name] is not None]
        if not values and name != "requests":
            assert totals[name] is None, f"{where}: totals {name} is {totals[name]}, rows null"
            continue
        assert totals[name] is not None and close(totals[name], math.fsum(values)), (
            f"{where}: totals {name} {totals[name]} != rows {math.fsum(values)}"
        )

    bases = {row["cost_basis"] for row in rows}
    if not rows:
        assert totals["cost_basis"] is None
    elif len(bases) == 1 and "mixed" not in bases:
        assert totals["cost_basis"] == bases.pop(), where
    else:
        assert totals["cost_basis"] == "mixed", f"{where}: rows have {bases}"

    sessions = [row["sessions"] for row in rows]
    if "session" in group_by:
        named = {row["session"] for row in rows if row["session"] is not None}
        assert totals["sessions"] == len(named), where
    elif rows:
        assert max(sessions) <= totals["sessions"] <= sum(sessions), where
    else:
        assert totals["sessions"] == 0

    per_mtok = [row["usd_per_mtok"] for row in rows if row["usd_per_mtok"] is not None]
    if per_mtok:
        low, high = min(per_mtok), max(per_mtok)
        got = totals["usd_per_mtok"]
        assert got is not None and low * (1 - 1e-9) <= got <= high * (1 + 1e-9), (
            f"{where}: totals usd_per_mtok {got} outside the rows' [{low}, {high}]"
        )
    else:
        assert totals["usd_per_mtok"] is None, where

    check_ratios(totals, f"{where}: totals")
    for row, group in zip(rows, groups, strict=True):
        check_ratios(row, f"{where}: row {group}")


def by_args(keys: Sequence[str]) -> list[str]:
    return [arg for key in keys for arg in ("--by", key)]


def test_report_accepts_exactly_the_analysis_group_keys() -> None:
    assert sorted(KEYS) == sorted(exprs.GROUP_KEYS)


SINGLES_AND_PAIRS = [(key,) for key in KEYS] + list(itertools.combinations(KEYS, 2))


@pytest.mark.parametrize("keys", SINGLES_AND_PAIRS, ids="+".join)
def test_totals_are_the_sum_of_rows_for_every_key_and_pair(
    store: FixtureStore, keys: tuple[str, ...]
) -> None:
    doc = report("--store", store.path, "--config", store.config, "--tz", "UTC", *by_args(keys))
    check_sums(doc, keys)
    assert doc["rows"], "a store of every fixture has rows for every grouping"


# ----------------------------------------------------------------------- filters, by hypothesis

FIRST_DAY, LAST_DAY = date(2024, 10, 25), date(2026, 6, 10)  # the fixtures' span, plus a margin
days = st.integers(0, (LAST_DAY - FIRST_DAY).days).map(lambda n: FIRST_DAY + timedelta(days=n))
SOURCES = (
    "claude_code",
    "cursor",
    "copilot",
    "codex",
    "gemini",
    "anthropic",
    "anthropic_api",
    "anthropic_claude_code",
    "anthropic_cost",
)


@dataclass(frozen=True)
class Filters:
    keys: tuple[str, ...]
    tz: str
    since: str | None
    until: str | None
    sources: tuple[str, ...]
    models: tuple[str, ...]
    cost_mode: str
    blended: float | None

    def args(self) -> list[str]:
        out = ["--tz", self.tz, "--cost-mode", self.cost_mode, *by_args(self.keys)]
        for option, value in (("--since", self.since), ("--until", self.until)):
            if value is not None:
                out += [option, value]
        for source in self.sources:
            out += ["--source", source]
        for model in self.models:
            out += ["--model", model]
        if self.blended is not None:
            out += ["--blended-price", str(self.blended)]
        return out


period = st.one_of(st.none(), days.map(date.isoformat), st.sampled_from(("1d", "7d", "4w", "90d")))
filters = st.builds(
    Filters,
    keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(tuple),
    tz=st.sampled_from(ZONES),
    since=period,
    until=st.one_of(st.none(), days.map(date.isoformat)),
    sources=st.lists(st.sampled_from(SOURCES), max_size=2, unique=True).map(tuple),
    models=st.lists(st.sampled_from(("sonnet", "GPT", "opus", "auto")), max_size=1).map(tuple),
    cost_mode=st.sampled_from(COST_MODES),
    blended=st.one_of(st.none(), st.sampled_from((0.0, 3.0, 15.0, 0.37))),
)


def local_day(ts: str, tz: str) -> date:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(ZoneInfo(tz)).date()


def resolve(value: str | None, anchor: date | None) -> date | None:
    """A date option: a calendar date, or `Nd`/`Nw` counted back from the anchor (inclusive)."""
    if value is None:
        return None
    if value[-1] in "dw" and value[:-1].isdigit():
        if anchor is None:
            return None
        days_back = int(value[:-1]) * (7 if value[-1] == "w" else 1)
        return anchor - timedelta(days=days_back - 1)
    return date.fromisoformat(value)


def expected_totals(rows: list[dict[str, Any]], f: Filters) -> dict[str, Any]:
    """Totals computed here from the canonical rows, with the filters applied here."""

    def source_ok(row: dict[str, Any]) -> bool:
        return not f.sources or any(
            row["source"] == s or row["source"].startswith(s + "_") for s in f.sources
        )

    def model_ok(row: dict[str, Any]) -> bool:
        return not f.models or any(m.lower() in (row["model"] or "").lower() for m in f.models)

    kept = [r for r in rows if source_ok(r) and model_ok(r)]
    last = max((local_day(r["ts"], f.tz) for r in kept), default=None)
    until = resolve(f.until, last)
    since = resolve(f.since, until or last)
    kept = [
        r
        for r in kept
        if (since is None or local_day(r["ts"], f.tz) >= since)
        and (until is None or local_day(r["ts"], f.tz) <= until)
    ]

    def usage(r: dict[str, Any]) -> bool:
        reported = any(r[k] is not None for k in TOKENS)
        return reported or r["requests"] is not None or r["reported_cost_usd"] is not None

    out: dict[str, Any] = {
        "events": sum(1 for r in kept if usage(r)),
        "unpriced_events": sum(1 for r in kept if usage(r) and r["cost_basis"] not in PRICED),
        "sessions": len({r["session_id"] for r in kept if r["session_id"] is not None}),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    for name in (*INT_SUMS[2:], "requests", "cost_usd", "reported_cost_usd", "computed_cost_usd"):
        if name == "total_tokens":
            with_tokens = [r for r in kept if any(r[k] is not None for k in TOKENS)]
            values = [sum(r[k] or 0 for k in TOKENS) for r in with_tokens]
        else:
            values = [r[name] for r in kept if r[name] is not None]
        if name == "requests":
            out[name] = math.fsum(values)
        elif not values:
            out[name] = None
        else:
            out[name] = math.fsum(values) if isinstance(values[0], float) else sum(values)
    return out


_EXPORTS: dict[tuple[Path, str], list[dict[str, Any]]] = {}


def exported(store: FixtureStore, cost_mode: str) -> list[dict[str, Any]]:
    """Every canonical row of the store, priced under the cost mode (read once per mode)."""
    key = (store.path, cost_mode)
    if key not in _EXPORTS:
        text = cli(
            "export", "--store", store.path, "--config", store.config, "-f", "ndjson",
            "--cost-mode", cost_mode,
        )  # fmt: skip
        _EXPORTS[key] = [json.loads(line) for line in text.splitlines()]
    return _EXPORTS[key]


@settings(SETTINGS, max_examples=40)
@given(f=filters)
@example(  # a key given twice, a relative period ending at a date, a parent source
    f=Filters(("day", "source", "day"), "UTC", "4w", "2025-09-30", ("anthropic",), (), "auto", 15.0)
)
def test_filtered_totals_are_the_sum_of_rows_and_of_the_canonical_rows(
    store: FixtureStore, f: Filters
) -> None:
    doc = report("--store", store.path, "--config", store.config, *f.args())
    check_sums(doc, f.keys)
    want = expected_totals(exported(store, f.cost_mode), f)
    assert (doc["filters"]["since"], doc["filters"]["until"]) == (want["since"], want["until"])
    for name, value in want.items():
        if name in ("since", "until"):
            continue
        got = doc["totals"][name]
        if isinstance(value, float):
            assert got is not None and close(got, value), f"{name}: report {got}, rows {value}"
        else:
            assert got == value, f"{name}: report {got}, canonical rows {value}"


# ----------------------------------------------------------------------- the other formats

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A JSON value as the CSV output writes it (text that a spreadsheet would run is quoted)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return str(value)


@settings(SETTINGS, max_examples=8)
@given(
    keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(tuple),
    fmt=st.sampled_from(("ndjson", "csv", "markdown", "table")),
    tz=st.sampled_from(ZONES),
)
def test_every_format_shows_the_rows_of_the_json_document(
    store: FixtureStore, keys: tuple[str, ...], fmt: str, tz: str
) -> None:
    common: list[str | Path] = ["--store", store.path, "--config", store.config, "--tz", tz]
    common += by_args(keys)
    doc = report(*common)
    text = cli("report", *common, "--format", fmt)
    if fmt == "ndjson":
        assert [json.loads(line) for line in text.splitlines()] == doc["rows"]
    elif fmt == "csv":
        records = list(csv.reader(io.StringIO(text)))
        assert records[0] == list(doc["rows"][0])
        assert records[1:] == [[csv_cell(v) for v in row.values()] for row in doc["rows"]]
    elif fmt == "markdown":
        lines = text.splitlines()
        assert lines[0].startswith("| " + " | ".join(doc["rows"][0]))
        assert len(lines) == 2 + len(doc["rows"])
    else:
        assert text.strip() and "Total" in text
