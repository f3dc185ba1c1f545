"""The GitHub Copilot loader (FORMATS.md section 3).

Expected totals are computed again inside each test from the fixture files with the `csv` and
`json` modules (and `decimal` for exact sums), never with tokenlens. The table in
tests/fixtures/copilot/PROVENANCE.md lists them for readers. `_reference_union` restates the
identity rule (whole row without the `aic_*` columns, n-th identical row of each file = the same
event) independently of the loader.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.errors import InputError
from tokenlens.loaders import copilot, detect
from tokenlens.loaders.copilot import ORG_USER, dedupe, scan
from tokenlens.schema import USAGE

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "copilot"
SAMPLE = REPO / "sample_data" / "copilot"

LEGACY_CSV = FIXTURES / "sample-data.csv"  # real
TOKENS_CSV = FIXTURES / "ai-usage-token-example.csv"  # real
USERS_WRAPPED = FIXTURES / "organization-users-1-day-report.json"  # real (mock of the API)
LEGACY_METRICS = FIXTURES / "organization_metrics_response_sample.json"  # real
USAGE_2025 = FIXTURES / "premium-usage-2025.csv"  # hand-made
USAGE_AIC = FIXTURES / "premium-usage-2026-aic.csv"  # hand-made
AI_2026 = FIXTURES / "ai-usage-2026-repository.csv"  # hand-made
USERS_BARE = FIXTURES / "users-report-bare.ndjson"  # hand-made

NANO = Decimal("1e-9")
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
AI_TOKEN_HEADERS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_tokens": "cache_read",
    "cache_write_tokens": "cache_write",
}


# --------------------------------------------------------------------------- helpers


def _read(*paths: Path) -> pl.DataFrame:
    return scan(list(paths), user="local-login").frame.collect()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _nano(text: str) -> Decimal:
    """The loader's rounding rule (1e-9) applied to a cell, in exact decimal arithmetic."""
    return Decimal(text).quantize(NANO)


def _exact(total: float | None) -> Decimal:
    """A float sum from the frame, rounded to 1e-9, as an exact decimal."""
    assert total is not None
    return Decimal(repr(round(total, 9))).quantize(NANO)


def _sum(frame: pl.DataFrame, column: str) -> Any:
    return frame.get_column(column).sum()


def _no_origin(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("origin").sort("event_id")


def _reference_union(*paths: Path) -> list[dict[str, str]]:
    """Rows of several usage-report downloads, each event once.

    A row's identity is all its cells except `aic_*`; a file holding k identical rows holds k
    events, and a second file holding m of them adds max(0, m - k).
    """
    best: Counter[tuple[tuple[str, str], ...]] = Counter()
    for path in paths:
        seen = Counter(
            tuple(sorted((k, v) for k, v in row.items() if not k.startswith("aic_")))
            for row in _rows(path)
        )
        for key, count in seen.items():
            best[key] = max(best[key], count)
    return [dict(key) for key, count in best.items() for _ in range(count)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- fixtures, API


def test_fixtures_are_unedited_copies() -> None:
    table = (FIXTURES / "PROVENANCE.md").read_text(encoding="utf-8")
    listed = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", table, re.M)}
    on_disk = {p.name for p in FIXTURES.iterdir() if p.name != "PROVENANCE.md"}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize(
    ("path", "format_id"),
    [
        (LEGACY_CSV, "copilot_premium_csv"),
        (TOKENS_CSV, "copilot_usage_csv"),
        (USAGE_2025, "copilot_usage_csv"),
        (USAGE_AIC, "copilot_usage_csv"),
        (AI_2026, "copilot_usage_csv"),
        (USERS_WRAPPED, "copilot_metrics_users"),
        (USERS_BARE, "copilot_metrics_users"),
        (LEGACY_METRICS, "copilot_metrics_legacy"),
    ],
)
def test_detect_routes_each_report_to_this_loader(path: Path, format_id: str) -> None:
    found = detect.sniff(detect.read_head(path), path.name)
    assert found == format_id
    assert format_id in {kind.name for kind in copilot.EXPORTS}


def test_exports_name_every_format_with_a_one_line_download_hint() -> None:
    assert copilot.SOURCES == ("copilot",)
    assert [k.name for k in copilot.EXPORTS] == [
        "copilot_usage_csv",
        "copilot_premium_csv",
        "copilot_metrics_users",
        "copilot_metrics_legacy",
    ]
    for kind in copilot.EXPORTS:
        assert kind.source == "copilot"
        assert kind.where and "\n" not in kind.where


def test_every_format_yields_the_usage_schema() -> None:
    result = scan(
        [LEGACY_CSV, TOKENS_CSV, USERS_WRAPPED, LEGACY_METRICS, USAGE_2025, AI_2026, USERS_BARE],
        user="x",
    )
    assert result.source == "copilot"
    frame = result.frame.collect()
    assert frame.schema == pl.Schema(USAGE)
    assert frame.get_column("source").unique().to_list() == ["copilot"]
    assert frame.get_column("event_id").is_unique().all()
    assert frame.get_column("ts").null_count() == 0


# --------------------------------------------------------------------------- real samples


def test_legacy_premium_report_requests_match_the_file() -> None:
    rows = _rows(LEGACY_CSV)
    frame = _read(LEGACY_CSV)
    assert frame.height == len(rows) == 10
    expected = sum(_nano(r["Requests Used"]) for r in rows)
    assert expected == Decimal("89.25")
    assert _exact(_sum(frame, "requests")) == expected
    assert frame.get_column("reported_cost_usd").null_count() == frame.height
    for column in TOKEN_COLUMNS:
        assert frame.get_column(column).null_count() == frame.height
    assert Counter(frame.get_column("user").to_list()) == Counter(r["User"] for r in rows)
    assert set(frame.get_column("kind").to_list()) == {"premium_request"}
    assert frame.get_column("as_of").unique().to_list() == [
        datetime(2025, 8, 10, 12, 0, tzinfo=UTC)
    ]


def test_ai_usage_token_example_totals() -> None:
    rows = _rows(TOKENS_CSV)
    frame = _read(TOKENS_CSV)
    assert frame.height == len(rows) == 8
    assert _exact(_sum(frame, "requests")) == sum(_nano(r["quantity"]) for r in rows)
    assert _exact(_sum(frame, "reported_cost_usd")) == sum(_nano(r["net_amount"]) for r in rows)
    for column, header in AI_TOKEN_HEADERS.items():
        assert _sum(frame, column) == sum(int(r[header]) for r in rows if r[header])
    assert [_sum(frame, c) for c in TOKEN_COLUMNS] == [785, 140, 68, 36]
    assert set(frame.get_column("kind").to_list()) == {"copilot_premium_request"}
    assert set(frame.get_column("project").to_list()) == {"test-org-one"}


def test_an_empty_token_cell_is_null_not_zero() -> None:
    frame = _read(TOKENS_CSV)
    empty = frame.filter(pl.col("cache_read_tokens").is_null())
    assert empty.height == 1
    assert empty.get_column("ts").item() == datetime(2026, 3, 6, tzinfo=UTC)
    assert empty.get_column("input_tokens").item() == 95
    zero = frame.filter(pl.col("output_tokens") == 0)
    assert zero.height == 1  # a written 0 stays 0


def test_users_report_wrapped_mock_totals() -> None:
    doc = json.loads(USERS_WRAPPED.read_text(encoding="utf-8"))
    users = doc["day_totals"]
    frame = _read(USERS_WRAPPED)
    assert frame.height == len(users) == 2
    assert _sum(frame, "lines_added") == sum(u["loc_added_sum"] for u in users) == 435
    assert _sum(frame, "lines_removed") == sum(u["loc_deleted_sum"] for u in users) == 29
    assert _sum(frame, "requests") == sum(u["user_initiated_interaction_count"] for u in users)
    cli = [u["totals_by_cli"]["token_usage"] for u in users]
    assert _sum(frame, "input_tokens") == sum(t["prompt_tokens_sum"] for t in cli) == 23_845_646
    assert _sum(frame, "output_tokens") == sum(t["output_tokens_sum"] for t in cli) == 748_058
    assert frame.get_column("cache_read_tokens").null_count() == 2
    assert set(frame.get_column("user").to_list()) == {u["user_login"] for u in users}
    assert set(frame.get_column("model").to_list()) == {"claude-sonnet-4.6"}
    assert set(frame.get_column("ts").to_list()) == {datetime(2026, 4, 25, tzinfo=UTC)}


def test_legacy_metrics_totals() -> None:
    days = json.loads(LEGACY_METRICS.read_text(encoding="utf-8"))
    frame = _read(LEGACY_METRICS)
    assert frame.height == len(days) == 21
    accepted = sum(
        lang["total_code_lines_accepted"]
        for day in days
        for editor in day.get("copilot_ide_code_completions", {}).get("editors", [])
        for model in editor["models"]
        for lang in model["languages"]
    )
    chats = sum(
        model["total_chats"]
        for day in days
        for editor in day.get("copilot_ide_chat", {}).get("editors", [])
        for model in editor["models"]
    ) + sum(
        model["total_chats"]
        for day in days
        for model in day.get("copilot_dotcom_chat", {}).get("models", [])
    )
    assert (accepted, chats) == (10_726, 2_036)
    assert _sum(frame, "lines_added") == accepted
    assert _sum(frame, "requests") == chats
    assert set(frame.get_column("user").to_list()) == {ORG_USER}
    for column in (*TOKEN_COLUMNS, "lines_removed", "reported_cost_usd"):
        assert frame.get_column(column).null_count() == frame.height
    first = frame.filter(pl.col("ts") == datetime(2024, 11, 4, tzinfo=UTC))
    assert (first.get_column("lines_added").item(), first.get_column("requests").item()) == (
        20,
        44.0,
    )


# --------------------------------------------------------------------------- usage reports


def test_usage_report_2025_exact_sums() -> None:
    rows = _rows(USAGE_2025)
    frame = _read(USAGE_2025)
    assert frame.height == len(rows) == 9
    assert _exact(_sum(frame, "requests")) == sum(_nano(r["quantity"]) for r in rows)
    assert _exact(_sum(frame, "reported_cost_usd")) == sum(_nano(r["net_amount"]) for r in rows)
    assert _exact(_sum(frame, "requests")) == Decimal("34.36")


def test_quantities_carry_no_float_artifacts() -> None:
    frame = _read(USAGE_2025, USAGE_AIC)
    values = frame.get_column("requests").drop_nulls().to_list()
    assert 3.63 in values
    assert 4.8 in values
    assert all(v == round(v, 9) for v in values)


def test_line_items_sharing_date_user_model_and_sku_are_all_kept() -> None:
    frame = _read(USAGE_2025)
    same = frame.filter(
        (pl.col("user") == "dev-anna")
        & (pl.col("model") == "Claude Sonnet 4")
        & (pl.col("ts") == datetime(2025, 10, 1, tzinfo=UTC))
    )
    assert sorted(same.get_column("requests").to_list()) == [1.0, 3.63]


def test_an_exact_duplicate_row_in_one_file_counts_twice() -> None:
    frame = _read(USAGE_2025)
    twins = frame.filter(pl.col("model") == "Coding Agent model")
    assert twins.height == 2
    assert twins.get_column("event_id").n_unique() == 2
    assert sorted(i.rsplit("|", 1)[1] for i in twins.get_column("event_id").to_list()) == [
        "#1",
        "#2",
    ]


def test_empty_username_rows_belong_to_the_organization() -> None:
    rows = _rows(USAGE_2025)
    frame = _read(USAGE_2025)
    org = frame.filter(pl.col("user") == ORG_USER)
    assert org.height == sum(1 for r in rows if not r["username"]) == 2
    assert set(org.get_column("model").to_list()) == {"Code Review model"}
    assert set(org.get_column("project").to_list()) == {"acme-corp"}


def test_premium_request_rows_have_null_tokens() -> None:
    frame = _read(USAGE_2025, USAGE_AIC)
    for column in (*TOKEN_COLUMNS, "cache_write_1h_tokens"):
        assert frame.get_column(column).null_count() == frame.height


def test_aic_columns_are_information_only() -> None:
    rows = _rows(USAGE_AIC)
    frame = _read(USAGE_AIC)
    assert frame.height == len(rows) == 8
    requests = sum(_nano(r["quantity"]) for r in rows if r["quantity"])
    assert _exact(_sum(frame, "requests")) == requests == Decimal("13.83")
    assert _exact(_sum(frame, "reported_cost_usd")) == sum(_nano(r["net_amount"]) for r in rows)
    aic = sum(_nano(r["aic_gross_amount"]) for r in rows)
    assert _exact(_sum(frame, "reported_cost_usd")) != aic
    assert frame.filter(pl.col("requests").is_null()).height == 1  # the empty quantity cell


def test_overlapping_download_adds_only_new_rows() -> None:
    union = _reference_union(USAGE_2025, USAGE_AIC)
    frame = _read(USAGE_2025, USAGE_AIC)
    assert frame.height == len(union) == 12
    assert _exact(_sum(frame, "requests")) == sum(
        _nano(r["quantity"]) for r in union if r["quantity"]
    )
    assert _exact(_sum(frame, "reported_cost_usd")) == sum(_nano(r["net_amount"]) for r in union)
    assert _exact(_sum(frame, "requests")) == Decimal("37.96")
    assert _exact(_sum(frame, "reported_cost_usd")) == Decimal("0.6032")


def test_the_newer_download_supplies_as_of_for_shared_rows() -> None:
    frame = _read(USAGE_2025, USAGE_AIC)
    shared = frame.filter(pl.col("ts") == datetime(2025, 10, 2, tzinfo=UTC))
    assert shared.height == 3
    assert set(shared.get_column("as_of").to_list()) == {datetime(2025, 10, 4, tzinfo=UTC)}
    assert set(shared.get_column("origin").to_list()) == {str(USAGE_AIC)}


def test_ai_usage_report_2026_with_repository_and_credits() -> None:
    rows = _rows(AI_2026)
    frame = _read(AI_2026).sort("event_id")
    assert frame.height == len(rows) == 4
    assert _exact(_sum(frame, "requests")) == sum(_nano(r["quantity"]) for r in rows)
    assert _exact(_sum(frame, "reported_cost_usd")) == sum(_nano(r["net_amount"]) for r in rows)
    for column, header in AI_TOKEN_HEADERS.items():
        assert _sum(frame, column) == sum(int(r[header]) for r in rows if r[header])
        empty = sum(1 for r in rows if not r[header])
        assert frame.get_column(column).null_count() == empty
    assert Counter(frame.get_column("project").to_list()) == Counter(
        r["repository"] or r["organization"] for r in rows
    )
    assert set(frame.get_column("kind").to_list()) == {
        "copilot_ai_credit",
        "coding_agent_ai_credit",
    }
    known = frame.get_column("cache_write_tokens").is_not_null()
    assert frame.filter(known).get_column("cache_write_1h_tokens").to_list() == [0, 0, 0]
    assert frame.filter(~known).get_column("cache_write_1h_tokens").to_list() == [None]


def test_a_reordered_header_gives_the_same_event_ids(tmp_path: Path) -> None:
    rows = _rows(USAGE_2025)
    names = list(reversed(list(rows[0])))
    target = tmp_path / "reordered.csv"
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    assert _no_origin(_read(target)).equals(_no_origin(_read(USAGE_2025)))


def test_separator_characters_inside_cells_do_not_merge_rows(tmp_path: Path) -> None:
    target = _write(
        tmp_path / "pipes.csv",
        '"date","username","sku","model","quantity"\n'
        '"2025-10-01","x|y","z","GPT-5","1"\n'
        '"2025-10-01","x","y|z","GPT-5","1"\n'
        '"2025-10-01","x\\","|z","GPT-5","1"\n',
    )
    frame = _read(target)
    assert frame.height == 3
    assert frame.get_column("event_id").n_unique() == 3


def test_slash_dates_are_refused_not_guessed(tmp_path: Path) -> None:
    """`10/01/2025` (a report re-saved by a spreadsheet) may be January or October."""
    target = _write(
        tmp_path / "resaved.csv",
        '"date","username","sku","model","quantity"\n'
        '"10/01/2025","x","z","GPT-5","1"\n'
        '"2025-10-02","x","z","GPT-5","2"\n',
    )
    scan = copilot.scan([target], user="me")
    frame = scan.frame.collect()
    assert frame.get_column("ts").to_list() == [datetime(2025, 10, 2, tzinfo=UTC)]
    assert [n.count for n in scan.notices] == [1]


# --------------------------------------------------------------------------- legacy CSV


def test_legacy_timestamps_keep_seven_fractional_digits_to_the_microsecond(
    tmp_path: Path,
) -> None:
    target = _write(
        tmp_path / "premiumRequestUsageReport.csv",
        "Timestamp,User,Model,Requests Used,Exceeds Monthly Quota,Total Monthly Quota\n"
        "2025-06-18T10:43:41.8378480Z,octocat,claude-sonnet-4,1.00,false,Unlimited\n"
        "2025-06-18T11:02:07Z,octocat,gpt-4.1,0.75,FALSE,300\n"
        "2025-06-19T08:15:00.1234567Z,hubot,o3-mini,2.50,True,300\n",
    )
    frame = _read(target).sort("ts")
    assert frame.get_column("ts").to_list() == [
        datetime(2025, 6, 18, 10, 43, 41, 837848, tzinfo=UTC),
        datetime(2025, 6, 18, 11, 2, 7, tzinfo=UTC),
        datetime(2025, 6, 19, 8, 15, 0, 123456, tzinfo=UTC),
    ]
    assert frame.get_column("requests").to_list() == [1.0, 0.75, 2.5]
    assert set(frame.get_column("as_of").to_list()) == {
        datetime(2025, 6, 19, 8, 15, 0, 123456, tzinfo=UTC)
    }


# --------------------------------------------------------------------------- metrics JSON


def _user_records() -> list[dict[str, Any]]:
    records = []
    for line in USERS_BARE.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return [r for r in records if r.get("user_login")]


def test_bare_ndjson_users_report() -> None:
    records = _user_records()
    result = scan([USERS_BARE], user="x")
    frame = result.frame.collect().sort("ts", "user")
    assert frame.height == len(records) == 3
    assert _sum(frame, "lines_added") == sum(r["loc_added_sum"] for r in records)
    assert _sum(frame, "lines_removed") == sum(r["loc_deleted_sum"] for r in records)
    assert _sum(frame, "requests") == sum(r["user_initiated_interaction_count"] for r in records)
    cli = [r["totals_by_cli"]["token_usage"] for r in records if "totals_by_cli" in r]
    assert _sum(frame, "input_tokens") == sum(t["prompt_tokens_sum"] for t in cli)
    assert _sum(frame, "output_tokens") == sum(t["output_tokens_sum"] for t in cli)
    no_cli = frame.filter(pl.col("user") == "dev-ben")
    assert no_cli.get_column("input_tokens").to_list() == [None]
    assert no_cli.get_column("model").to_list() == [None]  # two models that day
    assert frame.filter(pl.col("user") == "dev-anna").get_column("model").to_list() == [
        "claude-sonnet-4.5",
        "claude-sonnet-4.5",  # the "others" bucket is not a model
    ]
    counts = {n.message: n.count for n in result.notices}
    assert counts == {
        "GitHub Copilot: skipped malformed metrics records": 1,
        "GitHub Copilot: skipped organization/enterprise-level metrics records "
        "(tokenlens reads the users-1-day and users-28-day reports)": 1,
    }


def test_users_report_shapes_give_the_same_events(tmp_path: Path) -> None:
    records = _user_records()
    array = _write(tmp_path / "users.json", json.dumps(records, indent=2))
    wrapped = _write(
        tmp_path / "users-wrapped.json",
        json.dumps({"report_start_day": "2025-10-14", "day_totals": records}),
    )
    single = _write(tmp_path / "one.json", json.dumps(records[0], indent=1))
    bare = _no_origin(_read(USERS_BARE))
    assert_frame_equal(_no_origin(_read(array)), bare)
    assert_frame_equal(_no_origin(_read(wrapped)), bare)
    # a one-record file is only as recent as that record's day
    assert_frame_equal(_no_origin(_read(single)).drop("as_of"), bare.head(1).drop("as_of"))
    assert _read(USERS_BARE, array, wrapped, single).height == 3


def test_newest_report_wins_for_a_user_day(tmp_path: Path) -> None:
    base = {"day": "2025-10-14", "user_id": 7001, "user_login": "dev-anna"}
    early = _write(tmp_path / "a.ndjson", json.dumps({**base, "loc_added_sum": 10}) + "\n")
    late = _write(
        tmp_path / "b.ndjson",
        json.dumps({**base, "loc_added_sum": 25})
        + "\n"
        + json.dumps({**base, "day": "2025-10-15", "loc_added_sum": 1})
        + "\n",
    )
    frame = _read(early, late).sort("ts")
    assert frame.get_column("lines_added").to_list() == [25, 1]
    one = scan([early], user="x").frame
    two = scan([late], user="x").frame
    for parts in ([one, two], [two, one]):
        merged = dedupe(pl.concat(parts)).collect().sort("ts")
        assert merged.get_column("lines_added").to_list() == [25, 1]


# --------------------------------------------------------------------------- identity, dedupe


ALL = [LEGACY_CSV, TOKENS_CSV, USERS_WRAPPED, LEGACY_METRICS, USAGE_2025, USAGE_AIC, AI_2026]


def test_rescanning_a_copy_of_a_file_changes_nothing(tmp_path: Path) -> None:
    for path in ALL:
        copy = tmp_path / f"copy-{path.name}"
        shutil.copyfile(path, copy)
        once = _read(path)
        twice = _read(path, copy)
        assert twice.height == once.height, path.name
        assert_frame_equal(
            twice.drop("origin").sort("event_id"), once.drop("origin").sort("event_id")
        )


def test_file_order_never_changes_the_result(tmp_path: Path) -> None:
    # names chosen so that sorting by path reverses the argument order
    later = tmp_path / "a-later.csv"
    earlier = tmp_path / "b-earlier.csv"
    shutil.copyfile(USAGE_AIC, later)
    shutil.copyfile(USAGE_2025, earlier)
    forward = _read(earlier, later, USERS_BARE).sort("event_id")
    backward = _read(USERS_BARE, later, earlier).sort("event_id")
    assert_frame_equal(forward, backward)
    parts = [scan([p], user="x").frame for p in (earlier, later, USERS_BARE)]
    one_way = dedupe(pl.concat(parts)).collect().sort("event_id")
    other_way = dedupe(pl.concat(parts[::-1])).collect().sort("event_id")
    assert_frame_equal(one_way, other_way)
    assert_frame_equal(one_way, forward)


def test_dedupe_is_order_independent_and_idempotent(tmp_path: Path) -> None:
    copy = tmp_path / "copy.csv"  # same events, another origin: the tie-break must decide
    shutil.copyfile(USAGE_2025, copy)
    parts = [scan([p], user="x").frame.collect() for p in [*ALL, copy]]
    stacked = pl.concat(parts)
    expected = dedupe(stacked.lazy()).collect().sort("event_id")
    for seed in range(5):
        shuffled = stacked.sample(fraction=1.0, shuffle=True, seed=seed)
        got = dedupe(shuffled.lazy()).collect().sort("event_id")
        assert_frame_equal(got, expected)
    again = dedupe(expected.lazy()).collect().sort("event_id")
    assert_frame_equal(again, expected)
    assert expected.height == _read(*ALL).height


def test_two_versions_from_one_file_path_resolve_the_same_way_in_any_order() -> None:
    rows = scan([USERS_BARE], user="x").frame.collect()
    edited = rows.with_columns(lines_added=pl.col("lines_added") + 1)  # same origin and as_of
    one_way = dedupe(pl.concat([rows, edited]).lazy()).collect().sort("event_id")
    other_way = dedupe(pl.concat([edited, rows]).lazy()).collect().sort("event_id")
    assert one_way.height == rows.height
    assert_frame_equal(one_way, other_way)
    assert_frame_equal(dedupe(one_way.lazy()).collect().sort("event_id"), one_way)


# --------------------------------------------------------------------------- bad input


def test_malformed_csv_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    header = (
        '"date","username","product","sku","model","quantity","net_amount",'
        '"input","output","cache_read","cache_write"\n'
    )
    rest = ',"","",""\n'  # the other token cells, empty
    good = '"2025-10-01","dev-anna","copilot","copilot_premium_request","GPT-5","2","0.08",""'
    target = _write(
        tmp_path / "report.csv",
        header
        + good
        + rest
        + '"not-a-date","dev-anna","copilot","copilot_premium_request","GPT-5","1","0.04",""'
        + rest
        + '"2025-10-02","dev-ben","copilot","copilot_premium_request","GPT-5","lots","0",""'
        + rest
        + '"2025-10-02","dev-ben","copilot","copilot_premium_request","GPT-5","1","0","12x"'
        + rest
        + '"2025-10-02","dev-ben","copilot","copilot_premium_request","GPT-5","1","0","","","",""'
        + ',"x"\n'
        + "\n"
        + '"2025-10-03","dev-ben","copilot","copilot_premium_request","GPT-5","0.5","0.02",""'
        + rest,
    )
    result = scan([target], user="x")
    frame = result.frame.collect()
    assert frame.height == 2
    assert _exact(_sum(frame, "requests")) == Decimal("2.5")
    where = str(target)
    assert [(n.message, n.count, n.path) for n in result.notices] == [
        ("GitHub Copilot: skipped malformed usage report rows", 4, f"{where}:3,4,5,6")
    ]


def test_other_github_products_in_a_metered_report_are_skipped(tmp_path: Path) -> None:
    target = _write(
        tmp_path / "metered.csv",
        "date,product,sku,quantity,unit_type,net_amount,organization,repository\n"
        "2025-10-01,actions,actions_linux,120,minutes,0.96,acme-corp,acme-corp/api\n"
        "2025-10-01,copilot,copilot_premium_request,40,requests,1.6,acme-corp,\n"
        "2025-10-01,copilot,copilot_enterprise,1,user-months,39,acme-corp,\n"
        "2025-10-01,packages,packages_storage,2.5,gigabyte-hours,0.01,acme-corp,\n",
    )
    result = scan([target], user="x")
    frame = result.frame.collect().sort("reported_cost_usd")
    assert frame.get_column("kind").to_list() == ["copilot_premium_request", "copilot_enterprise"]
    assert frame.get_column("requests").to_list() == [40.0, None]  # seats are not requests
    assert frame.get_column("reported_cost_usd").to_list() == [1.6, 39.0]
    assert set(frame.get_column("user").to_list()) == {ORG_USER}  # no username column
    assert [(n.message, n.count) for n in result.notices] == [
        ("GitHub Copilot: skipped rows of other GitHub products (actions, packages)", 2)
    ]


def test_bytes_that_are_not_utf8_do_not_stop_the_report(tmp_path: Path) -> None:
    target = tmp_path / "latin1.csv"
    target.write_bytes(
        b'"date","username","sku","model","quantity"\n'
        b'"2025-10-01","caf\xe9","copilot_premium_request","GPT-5","1.5"\n'
    )
    result = scan([target], user="x")
    frame = result.frame.collect()
    assert frame.get_column("requests").to_list() == [1.5]
    assert frame.get_column("user").item().startswith("caf")
    assert [(n.message, n.count, n.path) for n in result.notices] == [
        ("GitHub Copilot: read rows holding invalid UTF-8 (bad bytes replaced)", 1, f"{target}:2")
    ]


def test_malformed_legacy_metrics_days_are_skipped_and_counted(tmp_path: Path) -> None:
    days = json.loads(LEGACY_METRICS.read_text(encoding="utf-8"))[:3]
    broken = [*days, {"date": "not a day"}, 7, {"date": "2024-11-07", "copilot_ide_chat": 1}]
    target = _write(tmp_path / "metrics.json", json.dumps(broken))
    result = scan([target], user="x")
    assert result.frame.collect().height == 3
    assert [(n.message, n.count) for n in result.notices] == [
        ("GitHub Copilot: skipped malformed metrics records", 3)
    ]


def test_a_users_file_that_is_not_json_is_an_input_error(tmp_path: Path) -> None:
    target = _write(tmp_path / "users.json", '{"user_login": "dev-anna", "day": \n')
    with pytest.raises(InputError, match="not JSON"):
        scan([target], user="x")


def test_a_file_that_is_not_a_copilot_report_is_an_input_error(tmp_path: Path) -> None:
    target = _write(tmp_path / "other.csv", "Date,Kind,Model,Tokens,Cost\n")
    with pytest.raises(InputError, match="not a GitHub Copilot report"):
        scan([target], user="x")


def test_a_header_only_report_gives_no_rows(tmp_path: Path) -> None:
    target = _write(tmp_path / "empty.csv", USAGE_2025.read_text().splitlines()[0] + "\n")
    result = scan([target], user="x")
    assert result.frame.collect().height == 0
    assert [(n.message, n.count) for n in result.notices] == [
        ("GitHub Copilot: the file holds a header and no rows", None)
    ]


# --------------------------------------------------------------------------- sample_data


def test_sample_data_report_is_read_whole() -> None:
    reports = sorted(SAMPLE.glob("*.csv"))
    assert reports
    rows = [row for path in reports for row in _rows(path)]
    frame = _read(*reports)
    assert frame.height == len(rows)
    assert _exact(_sum(frame, "requests")) == sum(_nano(r["quantity"]) for r in rows)
    assert _exact(_sum(frame, "reported_cost_usd")) == sum(_nano(r["net_amount"]) for r in rows)
    assert set(frame.get_column("user").to_list()) <= {"alice-gh", "bob-gh", "carol-gh", ORG_USER}
    days = frame.get_column("ts")
    assert days.min() == datetime(2025, 10, 1, tzinfo=UTC)
    assert days.max() == datetime(2025, 10, 10, tzinfo=UTC)
