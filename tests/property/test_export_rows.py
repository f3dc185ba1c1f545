"""An exported row reads the same whatever else is exported with it.

`export` with filters writes exactly the rows of the unfiltered export that pass the filters,
each one character for character (NDJSON and CSV alike), so exports of parts of a store can be
compared, joined or concatenated with an export of the whole.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.support import SETTINGS, FixtureStore, cli

SOURCES = ("claude_code", "cursor", "copilot", "codex", "gemini", "anthropic", "anthropic_cost")
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata")
FIRST_DAY, LAST_DAY = date(2024, 10, 25), date(2026, 6, 10)
days = st.integers(0, (LAST_DAY - FIRST_DAY).days).map(lambda n: FIRST_DAY + timedelta(days=n))

_FULL: dict[tuple[str, str], list[str]] = {}


def export(store: FixtureStore, fmt: str, *args: str) -> list[str]:
    """The exported rows as text: NDJSON lines, or CSV records re-joined (header first)."""
    text = cli("export", "--store", store.path, "--config", store.config, "-f", fmt, *args)
    if fmt == "ndjson":
        return text.splitlines()
    return ["\x1f".join(record) for record in csv.reader(io.StringIO(text))]


def full(store: FixtureStore, fmt: str) -> list[str]:
    key = (str(store.path), fmt)
    if key not in _FULL:
        _FULL[key] = export(store, fmt)
    return _FULL[key]


def kept(row: dict[str, Any], sources: tuple[str, ...], since: date | None, tz: str) -> bool:
    source = row["source"]
    if sources and not any(source == s or source.startswith(s + "_") for s in sources):
        return False
    ts = datetime.fromisoformat(row["ts"].replace("Z", "+00:00"))
    return since is None or ts.astimezone(ZoneInfo(tz)).date() >= since


@settings(SETTINGS, max_examples=15)
@given(
    fmt=st.sampled_from(("ndjson", "csv")),
    sources=st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2, unique=True).map(tuple),
    since=st.one_of(st.none(), days),
    tz=st.sampled_from(ZONES),
)
def test_a_filtered_export_is_the_matching_rows_of_the_full_export(
    store: FixtureStore, fmt: str, sources: tuple[str, ...], since: date | None, tz: str
) -> None:
    whole = full(store, fmt)
    parsed = [json.loads(line) for line in full(store, "ndjson")]
    header: list[str] = []
    if fmt == "csv":
        header, whole = whole[:1], whole[1:]
    assert len(whole) == len(parsed)
    want = [text for text, row in zip(whole, parsed, strict=True) if kept(row, sources, since, tz)]
    args = ["--tz", tz, *(a for s in sources for a in ("--source", s))]
    if since is not None:
        args += ["--since", since.isoformat()]
    got = export(store, fmt, *args)
    if fmt == "csv" and got:
        assert got[:1] == header
        got = got[1:]
    assert got == want
