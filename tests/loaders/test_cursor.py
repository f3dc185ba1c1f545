"""The Cursor loader (FORMATS.md section 2): dashboard CSV variants A-G and the Admin API JSON.

Expected numbers are recomputed here from the files with the csv / json modules (a second reading
independent of the loader) and also written out as literals checked by hand; the tables are in
tests/fixtures/cursor/PROVENANCE.md.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens import schema
from tokenlens.errors import InputError, Notice
from tokenlens.loaders import MODULES, cursor, detect

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "cursor"
SAMPLE = REPO / "sample_data" / "cursor" / "team-usage-events-2025-10-10.csv"

DETAILS = FIXTURES / "usage-details-2025-08-30.csv"  # A
TOKENS = FIXTURES / "usage-tokens-2025-08-30.csv"  # B
EVENTS_0831 = FIXTURES / "usage-events-2025-08-31.csv"  # C
EVENTS_0911 = FIXTURES / "usage-events-2025-09-11.csv"  # C, Cost "Included"
EVENTS_0912 = FIXTURES / "usage-events-2025-09-12.csv"  # C, Cost numbers
EVENTS_0217 = FIXTURES / "usage-events-2026-02-17.csv"  # C, errored and aborted rows
D_REQUESTS = FIXTURES / "handmade-d-team-requests.csv"
D_COST = FIXTURES / "handmade-d-team-cost.csv"
E_AGENTS = FIXTURES / "handmade-e-cloud-agents.csv"
F_TEAM = FIXTURES / "handmade-f-team-agents.csv"
G_AGGREGATED = FIXTURES / "handmade-g-aggregated.csv"
API_EVENTS = FIXTURES / "handmade-api-filtered-usage-events.json"
API_DAILY = FIXTURES / "handmade-api-daily-usage-data.json"

REAL_SHA256 = {
    DETAILS: "ccd740bc86076650b6aef1832a35fe4c153a2f30cb9572f672c18d10313ed923",
    TOKENS: "cab2fde893d3dc813c91815e4e691422aaaf2d98e0567ebd5f7ea947b8751861",
    EVENTS_0831: "ebe1c1a55ebefab42f9a4eb65a17d399ba38be2304bf85404e3c46da07aab742",
    EVENTS_0911: "4893338e32740d632766e708e23064051b145073a40bb076ca8c358f4e6633fd",
    EVENTS_0912: "7718f8297a1ac5060fe39d99ee82a80caba9dcb8e46004f18f2c551073a06e04",
    EVENTS_0217: "b9a82ad23b263f589a5fb82fc720d9bcead9fd64010372bf70060eac3c64ca17",
}

SPLIT_C = ("Input (w/ Cache Write)", "Input (w/o Cache Write)", "Cache Read", "Output Tokens")
SPLIT_B = ("Input (w/ Cache Write)", "Input (w/o Cache Write)", "Cache Read", "Output")
NO_COST = ("Included", "-", "Free", "")
HEADER_C = (
    "Date,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),Cache Read,"
    "Output Tokens,Total Tokens,Cost"
)


# --------------------------------------------------------------------------- helpers


def load(*paths: Path, user: str = "me") -> pl.DataFrame:
    return cursor.scan(list(paths), user=user).frame.collect()


def total_tokens(frame: pl.DataFrame) -> int:
    return int(frame.select(schema.total_tokens().sum()).item())


def cost_sum(frame: pl.DataFrame) -> float:
    return float(frame.get_column("reported_cost_usd").fill_null(0).sum())


def canonical_order(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("ts", "event_id")


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def dollars(cell: str) -> Decimal:
    return Decimal(0) if cell.strip() in NO_COST else Decimal(cell.replace("$", ""))


def identity(row: dict[str, str]) -> tuple[str, ...]:
    """Every column but Cost/Requests: the FORMATS.md identity of a dashboard row."""
    return tuple(v for k, v in row.items() if k not in ("Cost", "Cost ($)", "Requests"))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def messages(notices: list[Notice]) -> str:
    return " | ".join(n.message for n in notices)


# --------------------------------------------------------------------------- fixtures themselves


def test_real_fixtures_are_unedited_copies() -> None:
    for path, digest in REAL_SHA256.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path.name


def test_detect_routes_every_fixture_to_this_loader() -> None:
    expected = {
        API_EVENTS: "cursor_api_events",
        API_DAILY: "cursor_daily",
        SAMPLE: "cursor_csv",
        **dict.fromkeys(FIXTURES.glob("*.csv"), "cursor_csv"),
    }
    for path, fmt in expected.items():
        assert detect.sniff(detect.read_head(path), path.name) == fmt, path.name
        assert MODULES[fmt] == "tokenlens.loaders.cursor"


def test_module_declares_its_source_and_exports() -> None:
    assert cursor.SOURCES == ("cursor",)
    assert len(cursor.EXPORTS) == 3
    for export in cursor.EXPORTS:
        assert export.source == "cursor"
        assert export.where and "\n" not in export.where


def test_frame_is_in_the_usage_schema() -> None:
    scan = cursor.scan([EVENTS_0912, API_EVENTS, API_DAILY, D_REQUESTS], user="me")
    assert scan.source == "cursor"
    assert scan.frame.collect_schema() == pl.Schema(schema.USAGE)
    assert set(load(EVENTS_0912).get_column("source")) == {"cursor"}


# --------------------------------------------------------------------------- overlapping downloads


def test_overlapping_downloads_count_each_shared_row_once() -> None:
    older, newer = rows_of(EVENTS_0911), rows_of(EVENTS_0912)
    shared = {identity(r) for r in older} & {identity(r) for r in newer}
    union = {identity(r): r for r in older} | {identity(r): r for r in newer}
    expected_tokens = sum(int(r[c]) for r in union.values() for c in SPLIT_C)
    assert len(shared) == 95
    assert (len(union), expected_tokens) == (122, 44_703_559)

    frame = load(EVENTS_0911, EVENTS_0912)
    assert frame.height == 122
    assert total_tokens(frame) == expected_tokens
    assert frame.get_column("event_id").n_unique() == 122


def test_shared_rows_are_priced_from_the_newer_download() -> None:
    older, newer = rows_of(EVENTS_0911), rows_of(EVENTS_0912)
    newer_ids = {identity(r) for r in newer}
    assert all(r["Cost"] == "Included" for r in older)
    expected = sum(dollars(r["Cost"]) for r in newer) + sum(
        dollars(r["Cost"]) for r in older if identity(r) not in newer_ids
    )
    assert expected == Decimal("14.07")

    frame = load(EVENTS_0911, EVENTS_0912)
    assert cost_sum(frame) == pytest.approx(float(expected), abs=1e-9)
    row = frame.filter(
        pl.col("ts") == pl.datetime(2025, 9, 10, 14, 10, 54, 253000, time_zone="UTC")
    )
    assert row.get_column("reported_cost_usd").to_list() == [0.28]
    assert row.get_column("origin").to_list() == [str(EVENTS_0912)]
    only_older = frame.filter(pl.col("origin") == str(EVENTS_0911))
    assert only_older.height == 4
    assert only_older.get_column("reported_cost_usd").null_count() == 4


def test_file_order_never_changes_the_result() -> None:
    forward = load(EVENTS_0911, EVENTS_0912)
    backward = load(EVENTS_0912, EVENTS_0911)
    assert_frame_equal(canonical_order(forward), canonical_order(backward))
    mixed = [EVENTS_0912, TOKENS, API_EVENTS, DETAILS, EVENTS_0831, F_TEAM, EVENTS_0911]
    assert_frame_equal(
        canonical_order(load(*mixed)), canonical_order(load(*reversed(mixed))), check_exact=True
    )


def test_rescanning_or_copying_a_download_changes_nothing(tmp_path: Path) -> None:
    once = canonical_order(load(EVENTS_0911, EVENTS_0912))
    twice = canonical_order(load(EVENTS_0911, EVENTS_0912, EVENTS_0911, EVENTS_0912))
    assert_frame_equal(once, twice)
    copy = tmp_path / "usage-events-2025-09-12 (1).csv"
    shutil.copyfile(EVENTS_0912, copy)
    with_copy = load(EVENTS_0911, EVENTS_0912, copy)
    assert with_copy.height == 122
    assert total_tokens(with_copy) == total_tokens(once)
    assert cost_sum(with_copy) == pytest.approx(cost_sum(once), abs=1e-9)


def test_store_merge_gets_the_same_result_in_either_ingest_order() -> None:
    """The store concatenates new rows before stored ones and applies `dedupe`."""
    first, second = load(EVENTS_0911), load(EVENTS_0912)
    expected = canonical_order(load(EVENTS_0911, EVENTS_0912))
    for new, old in ((second, first), (first, second)):
        merged = cursor.dedupe(pl.concat([new, old]).lazy()).collect()
        assert_frame_equal(canonical_order(merged), expected)


def test_dedupe_is_idempotent_and_ignores_row_order() -> None:
    parts = [
        load(p)
        for p in (DETAILS, TOKENS, EVENTS_0831, EVENTS_0911, EVENTS_0912, F_TEAM, API_EVENTS)
    ]
    parts.append(load(API_DAILY))
    union = pl.concat(parts)
    once = cursor.dedupe(union.lazy()).collect()
    assert_frame_equal(canonical_order(cursor.dedupe(once.lazy()).collect()), canonical_order(once))
    for seed in range(3):
        shuffled = union.sample(fraction=1.0, shuffle=True, seed=seed)
        again = cursor.dedupe(shuffled.lazy()).collect()
        assert_frame_equal(canonical_order(again), canonical_order(once))
    everything = load(
        DETAILS, TOKENS, EVENTS_0831, EVENTS_0911, EVENTS_0912, F_TEAM, API_EVENTS, API_DAILY
    )
    assert_frame_equal(canonical_order(once), canonical_order(everything))


def test_dedupe_keeps_the_store_columns_of_the_winning_copy() -> None:
    """The store merges rows that also carry price columns; they travel with their row."""
    stored = load(EVENTS_0911).with_columns(
        computed_cost_usd=pl.lit(0.5), price_version=pl.lit("v1")
    )
    new = load(EVENTS_0912).with_columns(computed_cost_usd=pl.lit(0.7), price_version=pl.lit("v2"))
    for parts in ([new, stored], [stored, new]):
        merged = cursor.dedupe(pl.concat(parts).lazy()).collect()
        assert merged.columns == [*schema.USAGE, "computed_cost_usd", "price_version"]
        assert merged.height == 122
        from_new = merged.filter(pl.col("origin") == str(EVENTS_0912))
        assert from_new.height == 118
        assert set(from_new.get_column("price_version")) == {"v2"}
        assert set(merged.filter(pl.col("origin") == str(EVENTS_0911))["price_version"]) == {"v1"}


def _one_row_download(path: Path, date: str, newest: str, cost: str) -> Path:
    """A download holding one event (and a later one, so the file's newest Date is `newest`)."""
    return write(
        path,
        f"{HEADER_C}\n"
        f'"{newest}","Included","auto","No","0","10","0","5","15","0.00"\n'
        f'"{date}","Included","auto","No","100","0","2000","50","2150","{cost}"\n',
    )


def test_between_two_numeric_costs_the_newer_download_wins(tmp_path: Path) -> None:
    date = "2025-10-01T10:00:00.000Z"
    older = _one_row_download(tmp_path / "a.csv", date, "2025-10-02T09:00:00.000Z", "0.10")
    newer = _one_row_download(tmp_path / "b.csv", date, "2025-10-05T09:00:00.000Z", "0.12")
    for files in ([older, newer], [newer, older]):
        frame = load(*files).filter(pl.col("ts").dt.day() == 1)
        assert frame.get_column("reported_cost_usd").to_list() == [0.12]
    stored, new = load(newer), load(older)
    merged = cursor.dedupe(pl.concat([new, stored]).lazy()).collect()
    assert merged.filter(pl.col("ts").dt.day() == 1).get_column("reported_cost_usd").to_list() == [
        0.12
    ]


def test_a_number_beats_included_even_from_an_older_download(tmp_path: Path) -> None:
    date = "2025-10-01T10:00:00.000Z"
    older = _one_row_download(tmp_path / "a.csv", date, "2025-10-02T09:00:00.000Z", "0.10")
    newer = _one_row_download(tmp_path / "b.csv", date, "2025-10-05T09:00:00.000Z", "Included")
    for files in ([older, newer], [newer, older]):
        frame = load(*files).filter(pl.col("ts").dt.day() == 1)
        assert frame.get_column("reported_cost_usd").to_list() == [0.10]


def test_identical_rows_in_one_file_are_one_event_with_a_notice(tmp_path: Path) -> None:
    """Real files never repeat a Date (millisecond times); a repeated row is a repeated record."""
    for path in (DETAILS, TOKENS, EVENTS_0831, EVENTS_0911, EVENTS_0912, EVENTS_0217):
        dates = [r["Date"] for r in rows_of(path)]
        assert len(dates) == len(set(dates)), path.name
    row = '"2025-10-01T10:00:00.000Z","Included","auto","No","100","0","2000","50","2150","0.01"\n'
    path = write(tmp_path / "dup.csv", f"{HEADER_C}\n{row}{row}")
    scan = cursor.scan([path], user="me")
    assert scan.frame.collect().height == 1
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Cursor: rows repeating an identical row in one file counted once", 1)
    ]


# --------------------------------------------------------------------------- every row an event


def test_every_row_of_a_download_is_an_event() -> None:
    rows = rows_of(EVENTS_0217)
    frame = load(EVENTS_0217)
    assert frame.height == len(rows) == 177
    assert total_tokens(frame) == sum(int(r[c]) for r in rows for c in SPLIT_C) == 52_332_634
    expected_cost = sum(dollars(r["Cost"]) for r in rows)
    assert expected_cost == Decimal("19.92")
    assert cost_sum(frame) == pytest.approx(float(expected_cost), abs=1e-9)
    assert frame.get_column("requests").to_list() == [1.0] * 177


def test_errored_and_aborted_rows_keep_their_kind_and_cost() -> None:
    expected = sorted(
        (r["Date"], r["Kind"], float(r["Cost"]), sum(int(r[c]) for c in SPLIT_C))
        for r in rows_of(EVENTS_0217)
        if not r["Kind"].startswith("Included")
    )
    assert expected == [
        ("2026-01-24T12:55:55.313Z", "Aborted, Not Charged", 0.0, 0),
        ("2026-01-25T14:38:44.763Z", "Errored, No Charge", 0.01, 11_876),
        ("2026-01-25T14:38:49.915Z", "Errored, No Charge", 0.0, 0),
    ]
    got = (
        load(EVENTS_0217)
        .filter(~pl.col("kind").str.starts_with("Included"))
        .select(
            pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            "kind",
            "reported_cost_usd",
            schema.total_tokens(),
        )
        .sort("ts")
    )
    assert got.rows() == expected


def test_event_id_is_a_readable_string_of_every_identity_column() -> None:
    frame = load(EVENTS_0217)
    row = frame.filter(pl.col("kind") == "Errored, No Charge").sort("ts").row(0, named=True)
    assert (
        row["event_id"] == "events|2026-01-25T14:38:44.763Z|me|||Errored, No Charge|auto|No|"
        "2404/0/9472/0"
    )
    team = load(F_TEAM).sort("ts").row(-1, named=True)
    assert team["event_id"] == (
        "events|2026-03-02T12:44:09.876Z|automation:auto-weekly-deps|"
        "bc-0b9d3f52-6a1e-4c3b-8f27-5e4d2c1b0a99|auto-weekly-deps|Included|"
        "claude-4.5-sonnet-thinking|No|15400/0/402300/7100"
    )
    assert_frame_equal(load(EVENTS_0217).select("event_id"), frame.select("event_id"))


# --------------------------------------------------------------------------- old export shapes


def test_details_and_tokens_exports_of_the_same_events_count_once() -> None:
    details, tokens = rows_of(DETAILS), rows_of(TOKENS)
    key_a = {(r["Date"], r["Kind"], r["Model"], r["Tokens"]) for r in details}
    key_b = {(r["Date"], r["Kind"], r["Model"], r["Total Tokens"]) for r in tokens}
    assert key_a == key_b
    assert len(key_a) == 96
    expected = sum(int(r[c]) for r in tokens for c in SPLIT_B)
    assert expected == sum(int(r["Tokens"]) for r in details) == 10_809_440

    for files in ([DETAILS, TOKENS], [TOKENS, DETAILS]):
        scan = cursor.scan(files, user="me")
        frame = scan.frame.collect()
        assert frame.height == 96
        assert total_tokens(frame) == expected
        assert frame.get_column("event_id").str.starts_with("tokens|").all()
        assert frame.get_column("output_tokens").sum() == sum(int(r["Output"]) for r in tokens)
        assert "only a token total" not in messages(scan.notices)
    stored, new = load(TOKENS), load(DETAILS)
    merged = cursor.dedupe(pl.concat([new, stored]).lazy()).collect()
    assert_frame_equal(canonical_order(merged), canonical_order(stored))


def test_details_export_alone_keeps_its_total_in_input_tokens() -> None:
    rows = rows_of(DETAILS)
    scan = cursor.scan([DETAILS], user="me")
    frame = scan.frame.collect()
    assert frame.height == 96
    assert frame.get_column("input_tokens").sum() == sum(int(r["Tokens"]) for r in rows)
    for col in ("cache_write_tokens", "cache_read_tokens", "output_tokens"):
        assert frame.get_column(col).null_count() == 96
    assert total_tokens(frame) == 10_809_440
    first = frame.sort("ts").row(-1, named=True)
    assert first["event_id"] == (
        "details|2025-08-29T15:39:20.571Z|me|||Included in Pro|auto|No|total:2747"
    )
    assert [(n.count, "only a token total" in n.message) for n in scan.notices] == [(96, True)]


def test_tokens_export_and_the_next_events_export_count_shared_events_once() -> None:
    tokens, events = rows_of(TOKENS), rows_of(EVENTS_0831)
    split_b = {r["Date"]: tuple(r[c] for c in SPLIT_B) for r in tokens}
    split_c = {r["Date"]: tuple(r[c] for c in SPLIT_C) for r in events}
    shared = set(split_b) & set(split_c)
    assert len(shared) == 92
    assert all(split_b[d] == split_c[d] for d in shared)
    b_only = [r for r in tokens if r["Date"] not in split_c]
    expected = sum(int(r[c]) for r in events for c in SPLIT_C) + sum(
        int(r[c]) for r in b_only for c in SPLIT_B
    )
    assert (len(split_c) + len(b_only), expected) == (112, 13_131_977)

    frame = load(DETAILS, TOKENS, EVENTS_0831)
    assert frame.height == 112
    assert total_tokens(frame) == expected
    # the shared events keep the 10-column copy: its Kind and Max Mode
    shared_rows = frame.filter(pl.col("origin") == str(EVENTS_0831))
    assert shared_rows.height == 108
    assert set(shared_rows.get_column("kind")) == {"Included", "Errored, Not Charged"}
    assert frame.filter(pl.col("origin") == str(TOKENS)).height == 4


def test_you_becomes_the_user_argument() -> None:
    assert {r["User"] for r in rows_of(TOKENS)} == {"You"}
    assert set(load(TOKENS, user="kenichiro").get_column("user")) == {"kenichiro"}
    assert set(load(EVENTS_0912, user="kenichiro").get_column("user")) == {"kenichiro"}


# --------------------------------------------------------------------------- variants D, E, F, G


def test_team_export_with_a_requests_column() -> None:
    rows = rows_of(D_REQUESTS)
    frame = load(D_REQUESTS, user="nobody").sort("ts", descending=True)
    assert frame.get_column("user").to_list() == [r["User"] for r in rows]
    assert frame.get_column("requests").to_list() == [1.0, 4.0, 0.0, 0.0, 1.0]
    assert frame.get_column("reported_cost_usd").null_count() == 5
    assert total_tokens(frame) == sum(int(r["Total Tokens"] or 0) for r in rows) == 1_163_450
    free = frame.filter(pl.col("kind") == "Free").row(0, named=True)
    assert [free[c] for c in schema.TOKENS] == [None] * 4


def test_team_export_with_dollar_costs() -> None:
    frame = load(D_COST).sort("ts", descending=True)
    assert frame.get_column("reported_cost_usd").to_list() == [0.07, None, None, 0.0]
    assert frame.get_column("kind").to_list() == [
        "On-Demand",
        "Included",
        "Aborted, Not Charged",
        "User API Key",
    ]
    assert frame.get_column("requests").to_list() == [1.0] * 4
    assert total_tokens(frame) == 85_500 + 131_500 + 456_200


def test_cloud_agent_export_without_a_user_column() -> None:
    rows = rows_of(E_AGENTS)
    frame = load(E_AGENTS, user="dev@example.com").sort("ts", descending=True)
    assert frame.height == 5
    assert set(frame.get_column("user")) == {"dev@example.com"}
    assert frame.get_column("requests").to_list() == [4.0, 1.0, 2.0, 0.0, 0.0]
    assert total_tokens(frame) == sum(int(r["Total Tokens"] or 0) for r in rows) == 433_716
    first = frame.row(0, named=True)
    assert (first["input_tokens"], first["cache_write_tokens"], first["output_tokens"]) == (
        120_319,
        0,
        5_963,
    )
    assert (
        "|bc-5f0c2a8e-4d71-4b8e-9a53-1c2e7d9f0a11|auto-7d2e91|"
        in frame.row(2, named=True)["event_id"]
    )


def test_team_export_names_automation_runs() -> None:
    frame = load(F_TEAM, user="nobody").sort("ts", descending=True)
    assert frame.get_column("user").to_list() == [
        "automation:auto-weekly-deps",
        "frank@example.com",
        "grace@example.com",
        "N/A",
        "frank@example.com",
    ]
    assert frame.get_column("reported_cost_usd").to_list() == [0.38, 0.05, 1.92, 0.0, 0.01]
    assert frame.get_column("kind").to_list()[-1] == "Errored, No Charge"


def test_aggregated_export_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError) as caught:
        cursor.scan([G_AGGREGATED], user="me")
    assert "aggregated" in caught.value.message
    assert caught.value.hint is not None and "Export CSV" in caught.value.hint


def test_columns_are_matched_by_name_not_position(tmp_path: Path) -> None:
    rows = rows_of(EVENTS_0217)
    order = list(reversed(list(rows[0])))
    path = tmp_path / "shuffled.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=order, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    expected = load(EVENTS_0217).drop("origin")
    assert_frame_equal(canonical_order(load(path).drop("origin")), canonical_order(expected))


# --------------------------------------------------------------------------- cells and bad input


def test_cost_and_request_labels(tmp_path: Path) -> None:
    header = (
        "Date,User,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),"
        "Cache Read,Output Tokens,Total Tokens,Requests,Cost ($)"
    )
    cells = [
        ("1", "Included", 1.0, None),
        ("-", "-", 0.0, None),
        ("Free", "Free", 0.0, None),
        ("", "", None, None),
        ("2.5", "$1.50", 2.5, 1.5),
        ("3", "0.19", 3.0, 0.19),
        ("abc", "N/A", None, None),
    ]
    lines = [header] + [
        f'"2025-10-01T10:00:0{i}.000Z","a@x.com","On-Demand","gpt-5","No",'
        f'"0","1","0","1","2","{req}","{cost}"'
        for i, (req, cost, _, _) in enumerate(cells)
    ]
    scan = cursor.scan([write(tmp_path / "labels.csv", "\n".join(lines) + "\n")], user="me")
    frame = scan.frame.collect().sort("ts")
    assert frame.get_column("requests").to_list() == [c[2] for c in cells]
    assert frame.get_column("reported_cost_usd").to_list() == [c[3] for c in cells]
    found = {n.message: n.count for n in scan.notices}
    assert found == {
        "Cursor: Cost cells not understood, read as no cost (N/A)": 1,
        "Cursor: Requests cells not understood, read as unknown": 1,
    }


def test_malformed_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    good = '"2025-10-01T10:00:00.000Z","Included","auto","No","100","0","2000","50","2150","0.01"'
    lines = [
        HEADER_C,
        good,
        '"yesterday","Included","auto","No","1","0","2","3","6","0.01"',
        '"2025-10-01T10:00:01.000Z","Included","auto","No","12x","0","2","3","6","0.01"',
        '"2025-10-01T10:00:02.000Z","Included","auto","No","-5","0","2","3","6","0.01"',
        # a Kind with a comma left unquoted shifts the row: its token cells are not numbers
        "2025-10-01T10:00:03.000Z,Errored, No Charge,auto,No,0,0,0,0,0,0.00",
        # a short row: some token cells filled, the rest missing
        '"2025-10-01T10:00:04.000Z","Included","auto","No","100"',
    ]
    scan = cursor.scan([write(tmp_path / "bad.csv", "\n".join(lines) + "\n")], user="me")
    frame = scan.frame.collect()
    assert frame.height == 1
    assert total_tokens(frame) == 2150
    where = str(tmp_path / "bad.csv")
    assert [(n.message, n.count, n.path) for n in scan.notices] == [
        ("Cursor: skipped rows with an unreadable Date", 1, f"{where}:3"),
        ("Cursor: skipped rows with a token count that is not a number", 2, f"{where}:4,6"),
        ("Cursor: skipped rows with a negative token count", 1, f"{where}:5"),
        (
            "Cursor: skipped rows with some token cells empty (a short or shifted row)",
            1,
            f"{where}:7",
        ),
    ]


def test_counts_parsed_while_reading_equal_the_text_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cells the CSV reader takes as integers: spaces before, a plus sign, leading zeros, blank
    # cells, a negative count, a short row and a Total that disagrees.
    row = '"2025-10-01T10:00:{:02d}.000Z","Included","auto","No",{},"0.01"'
    cells = [
        '"100","0","2000","50","2150"',
        '" 12","+3","007","0","22"',
        '"-5","0","2","3","0"',
        '"","","","",""',
        '"1","2","","4","7"',
        '"1","2","3","4","99"',
    ]
    lines = [HEADER_C, *(row.format(i, c) for i, c in enumerate(cells))]
    path = write(tmp_path / "counts.csv", "\n".join(lines) + "\n")
    text, _, _ = cursor._read_text(path)
    assert text.schema["input_tokens"] == pl.Int64  # read as integers: the fast path ran
    fast = cursor.scan([path], user="me")
    monkeypatch.setattr(cursor, "_COUNT_COLUMNS", ())
    text, _, _ = cursor._read_text(path)
    assert text.schema["input_tokens"] == pl.String
    slow = cursor.scan([path], user="me")
    assert_frame_equal(fast.frame.collect(), slow.frame.collect())
    assert fast.notices == slow.notices
    assert [n.message for n in fast.notices] == [
        "Cursor: skipped rows with a negative token count",
        "Cursor: skipped rows with some token cells empty (a short or shifted row)",
        "Cursor: Total Tokens differs from the sum of the four token columns (used)",
    ]
    assert fast.frame.collect().get_column("event_id").to_list()[1] == (
        "events|2025-10-01T10:00:01.000Z|me|||Included|auto|No|12/3/7/0"
    )


@pytest.mark.parametrize("cut", ['"', '"5', '"50","2'])
def test_a_download_cut_off_inside_a_count_cell_drops_that_line(tmp_path: Path, cut: str) -> None:
    good = '"2025-10-01T10:00:00.000Z","Included","auto","No","100","0","2000","50","2150","0.01"'
    cut_line = '"2025-10-01T11:00:00.000Z","Included","auto","No",' + cut
    path = write(tmp_path / "cut.csv", f"{HEADER_C}\n{good}\n{cut_line}")
    scan = cursor.scan([path], user="me")
    assert total_tokens(scan.frame.collect()) == 2150
    assert scan.frame.collect().height == 1
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Cursor: skipped a cut-off last line", 1)
    ]


def test_a_cut_off_last_line_is_skipped_and_crlf_is_read(tmp_path: Path) -> None:
    good = '"2025-10-01T10:00:00.000Z","Included","auto","No","100","0","2000","50","2150","0.01"'
    cut = write(tmp_path / "cut.csv", f'{HEADER_C}\n{good}\n"2025-10-01T11:00:00.000Z","Incl')
    scan = cursor.scan([cut], user="me")
    assert total_tokens(scan.frame.collect()) == 2150
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Cursor: skipped a cut-off last line", 1)
    ]
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(f"{HEADER_C}\r\n{good}\r\n".encode())
    frame = load(crlf)
    assert frame.get_column("reported_cost_usd").to_list() == [0.01]
    assert frame.get_column("event_id").to_list() == [
        "events|2025-10-01T10:00:00.000Z|me|||Included|auto|No|100/0/2000/50"
    ]


def test_other_iso_dates_are_read(tmp_path: Path) -> None:
    row = '"2025-10-01T12:00:00+02:00","Included","auto","No","1","0","2","3","6","0.01"'
    frame = load(write(tmp_path / "offset.csv", f"{HEADER_C}\n{row}\n"))
    assert frame.get_column("ts").dt.strftime("%Y-%m-%dT%H:%M:%S").to_list() == [
        "2025-10-01T10:00:00"
    ]
    assert frame.get_column("event_id").to_list() == [
        "events|2025-10-01T10:00:00.000Z|me|||Included|auto|No|1/0/2/3"
    ]


def test_one_event_spelled_two_ways_is_one_event(tmp_path: Path) -> None:
    row = '"{}","Included","auto","No","1","0","2","3","6","{}"'
    short = write(tmp_path / "a.csv", f"{HEADER_C}\n{row.format('2025-10-01T10:00:00Z', '-')}\n")
    full = write(
        tmp_path / "b.csv", f"{HEADER_C}\n{row.format('2025-10-01T10:00:00.000Z', '0.02')}\n"
    )
    frame = load(short, full)
    assert frame.get_column("reported_cost_usd").to_list() == [0.02]


def test_dates_in_other_spellings_give_the_same_time_and_id(tmp_path: Path) -> None:
    """Padded cells and other ISO-8601 spellings leave the fast parse for the general one."""
    row = '"{}","Included","auto","No","1","0","2","3","6","0.01"'
    spellings = [
        "2025-10-01T10:00:00.120Z",
        " 2025-10-01T10:00:00.120Z ",
        "2025-10-01T10:00:00.12Z",
        "2025-10-01T10:00:00.120000Z",
        "2025-10-01T10:00:00.120+00:00",
    ]
    for i, date in enumerate(spellings):
        path = write(tmp_path / f"{i}.csv", f"{HEADER_C}\n{row.format(date)}\n")
        frame = cursor.scan([path], user="me").frame.collect()
        assert frame.get_column("ts").to_list() == [
            datetime(2025, 10, 1, 10, 0, 0, 120000, tzinfo=UTC)
        ], date
        assert frame.get_column("event_id").to_list() == [
            "events|2025-10-01T10:00:00.120Z|me|||Included|auto|No|1/0/2/3"
        ], date


def test_slash_dates_are_refused_not_guessed(tmp_path: Path) -> None:
    """`10/1/2025` may be January or October: such rows are skipped and counted, and an ISO
    date after them is still read (a format guessed from the first cell would refuse it)."""
    row = '"{}","Included","auto","No","1","0","2","{}","{}","0.01"'
    lines = [
        row.format("10/1/2025 10:00", 3, 6),
        row.format("2025-10-01T12:00:00.120+02:00", 4, 7),
        row.format("13/10/2025 10:00", 5, 8),
    ]
    path = write(tmp_path / "resaved.csv", HEADER_C + "\n" + "\n".join(lines) + "\n")
    scan = cursor.scan([path], user="me")
    frame = scan.frame.collect()
    assert frame.get_column("ts").to_list() == [datetime(2025, 10, 1, 10, 0, 0, 120000, tzinfo=UTC)]
    assert [(n.message, n.count, n.path) for n in scan.notices] == [
        ("Cursor: skipped rows with an unreadable Date", 2, f"{path}:2,4")
    ]


def test_total_tokens_that_disagree_are_reported(tmp_path: Path) -> None:
    row = '"2025-10-01T10:00:00.000Z","Included","auto","No","1","2","3","4","11","0.01"'
    scan = cursor.scan([write(tmp_path / "sum.csv", f"{HEADER_C}\n{row}\n")], user="me")
    assert total_tokens(scan.frame.collect()) == 10
    assert [n.count for n in scan.notices if "Total Tokens differs" in n.message] == [1]


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    row = b'"2025-10-01T10:00:00.000Z","Incl\xffuded","auto","No","1","0","2","3","6","0.01"\n'
    path.write_bytes(HEADER_C.encode() + b"\n" + row)
    frame = load(path)
    assert frame.height == 1
    assert total_tokens(frame) == 6


def test_bom_and_header_only_files(tmp_path: Path) -> None:
    row = '"2025-10-01T10:00:00.000Z","Included","auto","No","1","0","2","3","6","0.01"\n'
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + f"{HEADER_C}\n{row}".encode())
    assert load(bom).height == 1
    assert load(write(tmp_path / "empty.csv", f"{HEADER_C}\n")).height == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("nothing.csv", "Foo,Bar\n1,2\n"),
        ("blank.csv", ""),
        ("other.json", '{"hello": "world"}'),
        ("broken.json", '{"usageEvents": [ {"timestamp": '),
    ],
)
def test_files_that_are_not_cursor_exports_raise_input_error(
    tmp_path: Path, name: str, content: str
) -> None:
    with pytest.raises(InputError) as caught:
        cursor.scan([write(tmp_path / name, content)], user="me")
    assert str(tmp_path / name) in caught.value.message
    assert caught.value.hint


# --------------------------------------------------------------------------- Admin API


def test_api_usage_events() -> None:
    doc = json.loads(API_EVENTS.read_text())
    valid = [e for e in doc["usageEvents"] if str(e.get("timestamp", "")).isdigit()]
    scan = cursor.scan([API_EVENTS], user="fallback")
    frame = scan.frame.collect().sort("ts")
    assert frame.height == len(valid) == 4
    assert frame.get_column("user").to_list() == [
        "automation:auto-weekly-deps",
        "ci-bot",
        "grace@example.com",
        "frank@example.com",
    ]
    expected_cents = sum(Decimal(str(e["chargedCents"])) for e in valid)
    assert cost_sum(frame) == pytest.approx(float(expected_cents / 100), abs=1e-12)
    assert frame.get_column("reported_cost_usd").to_list() == pytest.approx(
        [0.382, 0.0, 0.08, 0.039], abs=1e-12
    )
    assert frame.get_column("requests").to_list() == [1.0, 0.5, 2.0, 1.0]
    expected_tokens = sum(
        sum(
            e["tokenUsage"][k]
            for k in ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens")
        )
        for e in valid
        if "tokenUsage" in e
    )
    assert total_tokens(frame) == expected_tokens == 424_800 + 5_500 + 25_800
    not_token_based = frame.filter(pl.col("user") == "grace@example.com").row(0, named=True)
    assert [not_token_based[c] for c in schema.TOKENS] == [None] * 4
    frank = frame.filter(pl.col("user") == "frank@example.com").row(0, named=True)
    assert (frank["input_tokens"], frank["cache_read_tokens"], frank["output_tokens"]) == (
        5000,
        20000,
        800,
    )
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Cursor: skipped malformed usage events", 2)
    ]


def test_api_event_outranks_the_csv_copy_of_the_same_event() -> None:
    frame = load(F_TEAM, API_EVENTS)
    assert frame.height == 5 + 4 - 1
    automation = frame.filter(pl.col("user") == "automation:auto-weekly-deps")
    assert automation.height == 1
    assert automation.get_column("kind").to_list() == ["Included in Business"]
    assert automation.get_column("reported_cost_usd").to_list() == [0.382]


def test_api_pages_saved_as_json_lines_or_an_array(tmp_path: Path) -> None:
    doc = json.loads(API_EVENTS.read_text())
    first = {**doc, "usageEvents": doc["usageEvents"][:2]}
    second = {**doc, "usageEvents": doc["usageEvents"][2:]}
    lines = write(tmp_path / "pages.jsonl", json.dumps(first) + "\n" + json.dumps(second) + "\n")
    array = write(tmp_path / "pages.json", json.dumps([first, second]))
    expected = canonical_order(load(API_EVENTS)).drop("origin")
    for path in (lines, array):
        assert detect.sniff(detect.read_head(path), path.name) == "cursor_api_events"
        assert_frame_equal(canonical_order(load(path)).drop("origin"), expected)


def test_daily_usage_rows_carry_accepted_lines_and_no_tokens() -> None:
    doc = json.loads(API_DAILY.read_text())
    usable = [r for r in doc["data"] if "day" in r or "date" in r]
    scan = cursor.scan([API_DAILY], user="fallback")
    frame = scan.frame.collect().sort("ts", "user")
    assert frame.height == len(usable) == 4
    assert frame.get_column("lines_added").sum() == sum(r["acceptedLinesAdded"] for r in usable)
    assert frame.get_column("lines_removed").sum() == sum(r["acceptedLinesDeleted"] for r in usable)
    assert (frame.get_column("lines_added").sum(), frame.get_column("lines_removed").sum()) == (
        1360,
        314,
    )
    for col in (*schema.TOKENS, "requests", "reported_cost_usd", "model"):
        assert frame.get_column(col).null_count() == 4, col
    assert frame.get_column("ts").dt.strftime("%Y-%m-%d %H:%M").to_list() == [
        "2026-03-01 00:00",
        "2026-03-01 00:00",
        "2026-03-02 00:00",
        "2026-03-02 00:00",
    ]
    assert frame.get_column("event_id").to_list()[0] == "daily|2026-03-01|frank@example.com"
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Cursor: skipped malformed daily usage rows", 1)
    ]


def test_daily_usage_from_a_later_download_wins(tmp_path: Path) -> None:
    def day(added: int, last: str) -> dict[str, object]:
        return {
            "data": [
                {
                    "day": "2026-03-02",
                    "email": "a@x.com",
                    "acceptedLinesAdded": added,
                    "acceptedLinesDeleted": 1,
                    "totalLinesAdded": added,
                },
                {
                    "day": last,
                    "email": "a@x.com",
                    "acceptedLinesAdded": 0,
                    "acceptedLinesDeleted": 0,
                    "totalLinesAdded": 0,
                },
            ]
        }

    early = write(tmp_path / "early.json", json.dumps(day(10, "2026-03-02")))
    late = write(tmp_path / "late.json", json.dumps(day(40, "2026-03-05")))
    for files in ([early, late], [late, early]):
        frame = load(*files).filter(pl.col("ts").dt.day() == 2)
        assert frame.get_column("lines_added").to_list() == [40]
    # two downloads ending the same day: the day was still going in the one with fewer lines
    morning = write(tmp_path / "morning.json", json.dumps(day(25, "2026-03-02")))
    for files in ([early, morning], [morning, early]):
        assert load(*files).get_column("lines_added").to_list() == [25]


# --------------------------------------------------------------------------- the demo export


def test_sample_team_export() -> None:
    rows = rows_of(SAMPLE)
    scan = cursor.scan([SAMPLE], user="nobody")
    frame = scan.frame.collect()
    assert scan.notices == []
    assert frame.height == len(rows) == 105
    assert set(frame.get_column("user")) == {"alice@corp.com", "bob@corp.com", "carol@corp.com"}
    days = frame.get_column("ts").dt.date()
    assert (str(days.min()), str(days.max())) == ("2025-09-22", "2025-10-10")
    assert total_tokens(frame) == sum(int(r[c]) for r in rows for c in SPLIT_C)
    expected = sum(dollars(r["Cost"]) for r in rows)
    assert cost_sum(frame) == pytest.approx(float(expected), abs=1e-9)
