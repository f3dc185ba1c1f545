"""The JSON envelope: a compact document (rows written by polars) parses to the pretty one."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import polars as pl

from tokenlens.errors import Notice
from tokenlens.render import jsonout

ROWS = pl.DataFrame(
    {
        "user": ["ana", 'bo "q" \\ é\n', None],
        "day": [date(2025, 9, 1), date(2025, 9, 2), None],
        "ts": [
            datetime(2025, 9, 1, 12, tzinfo=UTC),
            datetime(2025, 9, 1, 12, 0, 0, 250, tzinfo=UTC),
            None,
        ],
        "events": [1, 2, None],
        "cost_usd": [0.1, 1e-7, math.nan],
        "ratio": [math.inf, 5e20, -0.0],
    }
)


def _doc(rows: pl.DataFrame, *, pretty: bool) -> str:
    return jsonout.envelope(
        command="report",
        generated_at=datetime(2025, 9, 3, tzinfo=UTC),
        filters={"since": date(2025, 9, 1), "user": "rows-"},
        group_by=["user", "day"],
        totals={"events": 3},
        rows=rows,
        warnings=[Notice('a "rows" marker in a message', 1, "rows.csv")],
        pretty=pretty,
    )


def test_compact_and_pretty_documents_hold_the_same_values() -> None:
    compact, pretty = _doc(ROWS, pretty=False), _doc(ROWS, pretty=True)
    assert "\n" not in compact.rstrip("\n")
    assert json.loads(compact) == json.loads(pretty)
    rows = json.loads(compact)["rows"]
    assert rows[0] == {
        "user": "ana",
        "day": "2025-09-01",
        "ts": "2025-09-01T12:00:00Z",
        "events": 1,
        "cost_usd": 0.1,
        "ratio": None,  # infinity is not JSON: null
    }
    assert rows[1]["user"] == 'bo "q" \\ é\n'
    assert rows[1]["ts"] == "2025-09-01T12:00:00.000250Z"
    assert rows[1]["cost_usd"] == 1e-7
    assert rows[2]["cost_usd"] is None  # NaN: null
    assert json.loads(compact)["warnings"][0]["message"] == 'a "rows" marker in a message'


def test_a_compact_document_without_rows() -> None:
    empty = ROWS.head(0)
    assert json.loads(_doc(empty, pretty=False)) == json.loads(_doc(empty, pretty=True))
    assert json.loads(_doc(empty, pretty=False))["rows"] == []
