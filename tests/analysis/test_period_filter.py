"""Local-day periods as UTC ranges give exactly the rows whose local date is in the period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from tokenlens.analysis.exprs import local_ts, period_filter

# Zones whose clocks change at midnight (the day starts at 01:00, or 23:00 repeats), at noon-ish
# offsets, and with half-hour offsets.
CASES = [
    ("America/Sao_Paulo", date(2018, 11, 4)),  # 00:00 skipped: the day starts at 01:00
    ("America/Sao_Paulo", date(2019, 2, 16)),  # 23:00-24:00 lived twice
    ("Europe/Berlin", date(2025, 3, 30)),
    ("Europe/Berlin", date(2025, 10, 26)),
    ("Asia/Kolkata", date(2025, 9, 1)),
    ("Pacific/Chatham", date(2025, 4, 6)),
    ("UTC", date(2025, 9, 1)),
]


def _instants(around: date) -> pl.DataFrame:
    start = datetime(around.year, around.month, around.day, tzinfo=UTC) - timedelta(days=3)
    minutes = range(0, 6 * 24 * 60, 7)  # every 7 minutes over 6 days
    return pl.DataFrame({"ts": [start + timedelta(minutes=m) for m in minutes]}).with_columns(
        pl.col("ts").dt.cast_time_unit("us")
    )


@pytest.mark.parametrize(("tz", "day"), CASES)
@pytest.mark.parametrize("span", [(0, 0), (-1, 0), (0, 1), (-2, 2)])
def test_utc_range_matches_the_local_date(tz: str, day: date, span: tuple[int, int]) -> None:
    since, until = day + timedelta(days=span[0]), day + timedelta(days=span[1])
    rows = _instants(day)
    local = local_ts(tz).dt.date()
    want = rows.filter(local.is_between(since, until))
    got = rows.filter(period_filter(since, until, tz))
    assert want.height > 0
    assert got.equals(want)
    assert rows.filter(period_filter(since, None, tz)).equals(rows.filter(local >= since))
    assert rows.filter(period_filter(None, until, tz)).equals(rows.filter(local <= until))
