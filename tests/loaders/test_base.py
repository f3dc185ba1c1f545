"""Helpers the loaders share."""

from __future__ import annotations

import polars as pl

from tokenlens.loaders.base import maybe_repeated, utc_millis


def test_the_fast_time_parse_agrees_with_the_general_one() -> None:
    """Wherever the fast parse gives a time, it is the time the format parser gives; it gives
    one for every valid time in the spelling Claude Code and Cursor write. Cells: valid times
    and, from them, every single-character deletion and substitution by a character that could
    confuse it."""
    valid = [
        "2025-10-01T10:00:00.120Z",
        "2024-02-29T23:59:59.999Z",
        "1999-12-31T00:00:00.000Z",
        "2026-02-16T15:00:48.960Z",
    ]
    invalid = ["2025-02-29T00:00:00.000Z", "2025-13-01T00:00:00.000Z", "2025-12-31T24:00:00.000Z"]
    cells = [*valid, *invalid]
    for date in valid:
        for i in range(len(date)):
            cells.append(date[:i] + date[i + 1 :])
            cells.extend(date[:i] + c + date[i + 1 :] for c in "+- .:T0Z9x")
            cells.append(date[:i] + "0" + date[i:])
    got = pl.DataFrame({"cell": cells}).select(
        pl.col("cell"),
        fast=utc_millis(pl.col("cell")),
        general=pl.col("cell")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", strict=False)
        .dt.cast_time_unit("us"),
    )
    wrong = got.filter(pl.col("fast").is_not_null() & pl.col("fast").ne_missing(pl.col("general")))
    assert wrong.height == 0, wrong
    assert got.filter(pl.col("cell").is_in(valid))["fast"].null_count() == 0
    assert got.filter(pl.col("cell").is_in(invalid))["fast"].null_count() == len(invalid)


def test_maybe_repeated_marks_every_repeated_value() -> None:
    """A superset of `is_duplicated` (equal to it here: no hash collides), nulls included."""
    cases: list[list[str | None]] = [
        [],
        ["a"],
        ["a", "a"],
        ["a", "b", "a", "c", "b"],
        [None, None, "x"],
        [None, "x"],
        [f"id-{i % 997}" if i % 3 == 0 else f"id-{i}" for i in range(20_000)],
        [f"id-{i}" for i in range(20_000)],
    ]
    for values in cases:
        series = pl.Series(values, dtype=pl.String)
        assert maybe_repeated(series).to_list() == series.is_duplicated().to_list()
