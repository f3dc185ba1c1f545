"""The Anthropic Admin API report loader (FORMATS.md section 6).

No public sample exists: the fixtures are hand-made from the documented response shapes (see
tests/fixtures/anthropic/PROVENANCE.md). Expected numbers are worked out by hand there, and the
per-user-day figures are recomputed here from the JSON with the json module.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.errors import InputError
from tokenlens.loaders import anthropic, detect
from tokenlens.schema import USAGE

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "anthropic"
CC_PAGE = FIXTURES / "claude_code_2025-09-08.json"
CC_LIST = FIXTURES / "claude_code_2025-09-08_09_list.json"
MESSAGES = FIXTURES / "messages_2025-08-01.json"
UNGROUPED = FIXTURES / "messages_ungrouped_2025-08-03.json"
COST = FIXTURES / "cost_2025-08-01.json"
ALL = sorted(FIXTURES.glob("*.json"))
SAMPLE = REPO / "sample_data" / "anthropic" / "claude_code_analytics_2025-09-22_2025-10-10.json"

TOKENS = [
    "input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
]
METRICS = ["lines_added", "lines_removed", "commits", "pull_requests"]


def frame(files: list[Path]) -> pl.DataFrame:
    return anthropic.scan(files, user="ignored").frame.collect()


def sums(df: pl.DataFrame, columns: list[str]) -> tuple[Any, ...]:
    return df.select(pl.col(c).sum() for c in columns).row(0)


def canonical_sort(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("source", "event_id")


def cost_cents(df: pl.DataFrame) -> Decimal:
    """The reported cost in cents, rounded to what the float can hold exactly here."""
    return Decimal(str(round(df.get_column("reported_cost_usd").sum() * 100, 6)))


# --------------------------------------------------------------------------- Claude Code analytics


def _per_user_day(files: list[Path]) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """Lines added/removed, commits and PRs per (actor, day), from unique records (json module)."""
    seen: dict[str, Any] = {}
    for path in files:
        doc = json.loads(path.read_text())
        for r in doc["data"] if isinstance(doc, dict) else doc:
            actor = r.get("actor") or {}
            who = actor.get("email_address") or actor.get("api_key_name")
            tokens_ok = all(
                v >= 0 for m in r.get("model_breakdown", []) for v in m["tokens"].values()
            )
            if who and tokens_ok:
                seen[json.dumps([who, r["date"][:10], r.get("terminal_type")])] = r
    out = {}
    for r in seen.values():
        c = r["core_metrics"]
        who = r["actor"].get("email_address") or r["actor"].get("api_key_name")
        out[(who, r["date"][:10])] = (
            c["lines_of_code"]["added"],
            c["lines_of_code"]["removed"],
            c["commits_by_claude_code"],
            c["pull_requests_by_claude_code"],
        )
    return out


def test_claude_code_report_totals() -> None:
    df = frame([CC_PAGE, CC_LIST])
    assert set(df.get_column("source")) == {"anthropic_claude_code"}
    assert df.height == 10  # 5 model rows + 5 records' metrics rows
    assert sums(df, TOKENS) == (100030, 106230, 0, 1494210, 38430)
    assert cost_cents(df) == Decimal("4657")
    assert sums(df, METRICS) == (697, 189, 7, 2)


def test_lines_commits_and_prs_count_once_per_user_day() -> None:
    df = frame([CC_PAGE, CC_LIST])
    got = {
        (user, day.isoformat()): (a, r, c, p)
        for user, day, a, r, c, p in df.group_by("user", pl.col("ts").dt.date().alias("day"))
        .agg(pl.col(METRICS).sum())
        .iter_rows()
    }
    assert got == _per_user_day([CC_PAGE, CC_LIST])
    assert got[("alice@example.com", "2025-09-08")] == (342, 128, 3, 1)
    # one metrics row per record, on no model and with no tokens
    metrics = df.filter(pl.col("lines_added").is_not_null())
    assert metrics.height == 5
    assert metrics.get_column("model").null_count() == 5
    assert metrics.select(pl.col(TOKENS).null_count().sum()).row(0) == (5, 5, 5, 5, 5)
    assert df.filter(pl.col("model").is_not_null()).get_column("lines_added").null_count() == 5


def test_cents_become_dollars_whether_number_or_string() -> None:
    df = frame([CC_PAGE]).filter(pl.col("model").is_not_null()).sort("user", "model")
    costs = dict(zip(df.get_column("model"), df.get_column("reported_cost_usd"), strict=True))
    assert costs == {
        "claude-opus-4-1-20250805": 12.345,  # "1234.5"
        "claude-haiku-4-5-20251001": 0.425,  # 42.5
        "claude-sonnet-4-5-20250929": 18.6,  # 1860
    }


def test_users_are_emails_or_api_key_names_and_kind_is_customer_type() -> None:
    df = frame([CC_PAGE])
    assert dict(df.select("user", "kind").unique().sort("user").iter_rows()) == {
        "alice@example.com": "api",
        "bob@example.com": "subscription",
        "ci-pipeline": "api",
    }


def test_an_overlapping_download_is_not_double_counted() -> None:
    page, both = frame([CC_PAGE]), frame([CC_PAGE, CC_LIST])
    alice_0908 = (pl.col("user") == "alice@example.com") & (pl.col("ts").dt.day() == 8)
    assert sums(both.filter(alice_0908), TOKENS) == sums(page.filter(alice_0908), TOKENS)
    assert both.filter(alice_0908).height == 3


def test_claude_code_event_ids_name_day_actor_terminal_customer_and_model() -> None:
    ids = set(frame([CC_PAGE]).get_column("event_id"))
    base = (
        "2025-09-08|actor=user_actor:alice@example.com|org=12345678-1234-5678-1234-567812345678"
        "|terminal=vscode|customer=api"
    )
    assert f"{base}|model=claude-sonnet-4-5-20250929" in ids
    assert f"{base}|metrics" in ids


def test_bare_dates_are_days_at_midnight_utc() -> None:
    carol = frame([CC_LIST]).filter(pl.col("user") == "carol@example.com")
    assert {t.isoformat() for t in carol.get_column("ts")} == {"2025-09-09T00:00:00+00:00"}


def test_malformed_records_are_skipped_whole_and_counted() -> None:
    """carol's 09-08 record has a negative token count; one record names no actor."""
    scan = anthropic.scan([CC_PAGE], user="x")
    df = scan.frame.collect()
    assert "carol@example.com" not in set(df.get_column("user"))
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Anthropic: skipped Claude Code analytics records with a negative token count", 1),
        ("Anthropic: skipped malformed Claude Code analytics records", 1),
    ]


# --------------------------------------------------------------------------- messages usage


def test_messages_report_totals_and_cache_split() -> None:
    df = frame([MESSAGES, UNGROUPED])
    assert set(df.get_column("source")) == {"anthropic_api"}
    assert df.height == 5
    assert sums(df, TOKENS) == (28300, 6200, 1100, 69200, 9900)
    assert df.get_column("reported_cost_usd").null_count() == 5
    assert df.get_column("requests").null_count() == 5


def test_messages_user_is_the_most_personal_grouping_field() -> None:
    df = frame([MESSAGES, UNGROUPED])
    assert sorted(set(df.get_column("user"))) == [
        "(organization)",
        "apikey_01Rj2N8SVvo6BePZj99NhmiT",
        "apikey_02Xb7Q1mLp4TzK9wRv3N8sHd",
    ]
    assert df.filter(pl.col("user") == "(organization)").get_column("model").to_list() == [None]


def test_messages_kind_is_service_tier_with_fast_mode_marked() -> None:
    df = frame([MESSAGES])
    assert dict(df.select("model", "kind").unique().sort("model").iter_rows()) == {
        "claude-opus-4-1-20250805": "batch",
        "claude-opus-4-6": "standard+fast",
        "claude-sonnet-4-20250514": "standard",
    }


def test_messages_event_ids_name_the_bucket_and_every_set_grouping_field() -> None:
    ids = frame([UNGROUPED, MESSAGES]).get_column("event_id").to_list()
    assert "2025-08-03T00:00:00Z/2025-08-04T00:00:00Z" in ids
    assert (
        "2025-08-01T00:00:00Z/2025-08-02T00:00:00Z|api_key_id=apikey_02Xb7Q1mLp4TzK9wRv3N8sHd"
        "|model=claude-opus-4-1-20250805|service_tier=batch|context_window=0-200k"
    ) in ids


def test_a_malformed_usage_result_is_counted() -> None:
    notices = anthropic.scan([MESSAGES], user="x").notices
    assert [(n.message, n.count) for n in notices] == [
        ("Anthropic: skipped malformed messages usage results", 1)
    ]


# --------------------------------------------------------------------------- cost report


def test_cost_report_amounts_are_cent_strings() -> None:
    df = frame([COST])
    assert set(df.get_column("source")) == {"anthropic_cost"}
    assert df.height == 6
    expected = sum(Decimal(a) for a in ("123.45", "750.00", "6.075", "1000", "12.5", "2000.5"))
    assert cost_cents(df) == expected == Decimal("3892.525")
    first = df.filter(pl.col("kind") == "tokens/uncached_input_tokens")
    assert first.get_column("reported_cost_usd").to_list() == [1.2345]


def test_cost_rows_carry_no_tokens() -> None:
    df = frame([COST])
    assert df.select(pl.col(TOKENS).null_count()).row(0) == (6,) * 5
    assert sorted(set(df.get_column("kind"))) == [
        "code_execution",
        "tokens/cache_creation.ephemeral_1h_input_tokens",
        "tokens/cache_read_input_tokens",
        "tokens/output_tokens",
        "tokens/uncached_input_tokens",
        "web_search",
    ]
    assert sorted(set(df.get_column("user"))) == [
        "(organization)",
        "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
    ]


def test_a_malformed_cost_item_is_counted() -> None:
    notices = anthropic.scan([COST], user="x").notices
    assert [(n.message, n.count) for n in notices] == [
        ("Anthropic: skipped malformed cost items", 1)
    ]


def test_amounts_in_another_currency_are_not_taken_for_dollars(tmp_path: Path) -> None:
    doc = json.loads(COST.read_text())
    doc["data"][1]["results"][0]["currency"] = "EUR"
    path = tmp_path / "cost.json"
    path.write_text(json.dumps(doc))
    scan = anthropic.scan([path], user="x")
    assert scan.frame.collect().height == 5
    assert ("Anthropic: ignored amounts in a currency other than USD", 1) in [
        (n.message, n.count) for n in scan.notices
    ]


# --------------------------------------------------------------------------- identity across files


def _cost_file(path: Path, days: list[str], amount: str) -> Path:
    buckets = [
        {
            "starting_at": f"{day}T00:00:00Z",
            "ending_at": f"{day[:8]}{int(day[8:]) + 1:02d}T00:00:00Z",
            "results": [
                {"amount": amount, "currency": "USD", "cost_type": "tokens", "workspace_id": None}
            ],
        }
        for day in days
    ]
    path.write_text(json.dumps({"data": buckets, "has_more": False, "next_page": None}))
    return path


def test_the_newest_export_wins_whatever_the_order(tmp_path: Path) -> None:
    old = _cost_file(tmp_path / "old.json", ["2025-08-01"], "100")
    new = _cost_file(tmp_path / "new.json", ["2025-08-01", "2025-08-02"], "150")
    for files in ([old, new], [new, old]):
        df = frame(files)
        assert df.sort("ts").get_column("reported_cost_usd").to_list() == [1.5, 1.5]
    a, b = anthropic.scan([old], user="x").frame, anthropic.scan([new], user="x").frame
    for stacked in (pl.concat([a, b]), pl.concat([b, a])):
        merged = anthropic.dedupe(stacked).collect()
        assert merged.sort("ts").get_column("reported_cost_usd").to_list() == [1.5, 1.5]


def test_between_equally_new_exports_the_larger_figures_win(tmp_path: Path) -> None:
    """Two downloads of one day: the later one, taken after more work, has more tokens."""
    record = json.loads(CC_PAGE.read_text())["data"][0]
    grown = json.loads(json.dumps(record))
    grown["model_breakdown"][0]["tokens"]["output"] += 1000
    grown["core_metrics"]["lines_of_code"]["added"] += 10
    early = tmp_path / "early.json"
    late = tmp_path / "late.json"
    early.write_text(json.dumps([record]))
    late.write_text(json.dumps([grown]))
    for files in ([early, late], [late, early]):
        df = frame(files)
        assert sums(df, ["output_tokens", "lines_added"]) == (12450 + 5680 + 1000, 352)
        assert df.height == 3


def test_rescanning_and_duplicated_files_never_change_totals() -> None:
    once = canonical_sort(frame(ALL))
    assert_frame_equal(canonical_sort(frame(ALL + ALL)), once)


@pytest.mark.parametrize("seed", range(4))
def test_file_order_never_changes_the_result(seed: int) -> None:
    shuffled = list(ALL)
    random.Random(seed).shuffle(shuffled)
    assert_frame_equal(canonical_sort(frame(shuffled)), canonical_sort(frame(ALL)))


def test_dedupe_is_order_independent_and_idempotent() -> None:
    parts = [anthropic.scan([f], user="x").frame for f in ALL]
    stacked = pl.concat([*parts, *parts]).collect()
    expected = canonical_sort(frame(ALL))
    for seed in range(8):
        shuffled = stacked.sample(fraction=1.0, shuffle=True, seed=seed)
        once = anthropic.dedupe(shuffled.lazy()).collect()
        assert_frame_equal(canonical_sort(once), expected)
        assert_frame_equal(anthropic.dedupe(once.lazy()).collect(), once)


def test_dedupe_picks_the_same_copy_whatever_the_pricing_columns_order() -> None:
    """Copies equal in every canonical column but priced differently: the pick is stable."""
    rows = frame([COST])
    a = rows.with_columns(computed_cost_usd=pl.lit(1.0), price_version=pl.lit("v1"))
    b = rows.with_columns(computed_cost_usd=pl.lit(2.0), price_version=pl.lit("v2"))
    ab = anthropic.dedupe(pl.concat([a, b]).lazy()).collect()
    ba = anthropic.dedupe(pl.concat([b, a]).lazy()).collect()
    assert_frame_equal(ab, ba)
    assert ab.height == rows.height


def test_dedupe_keeps_extra_columns() -> None:
    rows = frame([COST]).with_columns(
        computed_cost_usd=pl.lit(None, pl.Float64), price_version=pl.lit("v1")
    )
    out = anthropic.dedupe(pl.concat([rows, rows]).lazy()).collect()
    assert out.columns == rows.columns
    assert out.height == rows.height


def test_as_of_is_the_newest_time_in_each_file() -> None:
    df = frame(ALL)
    got = {
        Path(origin).name: as_of.isoformat()
        for origin, as_of in df.select("origin", "as_of").unique().iter_rows()
    }
    assert got == {
        "claude_code_2025-09-08.json": "2025-09-08T00:00:00+00:00",
        "claude_code_2025-09-08_09_list.json": "2025-09-09T00:00:00+00:00",
        "cost_2025-08-01.json": "2025-08-03T00:00:00+00:00",
        "messages_2025-08-01.json": "2025-08-03T00:00:00+00:00",
        "messages_ungrouped_2025-08-03.json": "2025-08-04T00:00:00+00:00",
    }


def test_rows_are_in_the_canonical_schema() -> None:
    df = frame(ALL)
    assert df.schema == pl.Schema(USAGE)
    assert df.select("source", "event_id").is_unique().all()
    assert set(df.get_column("source")) == set(anthropic.SOURCES)


# --------------------------------------------------------------------------- file shapes and errors


def test_pages_one_per_line_are_read(tmp_path: Path) -> None:
    pages = [json.loads(MESSAGES.read_text()), {"data": json.loads(UNGROUPED.read_text())}]
    path = tmp_path / "pages.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in pages) + "\n")
    got, want = frame([path]), frame([MESSAGES, UNGROUPED])
    assert_frame_equal(
        canonical_sort(got).drop("origin", "as_of"), canonical_sort(want).drop("origin", "as_of")
    )


def test_a_list_of_pages_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pages.json"
    path.write_text(
        json.dumps([json.loads(CC_PAGE.read_text()), {"data": json.loads(CC_LIST.read_text())}])
    )
    assert sums(frame([path]), TOKENS) == sums(frame([CC_PAGE, CC_LIST]), TOKENS)


def test_a_file_that_is_not_json_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(CC_PAGE.read_text()[:500])
    with pytest.raises(InputError, match="not valid JSON"):
        anthropic.scan([path], user="x")


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        anthropic.scan([tmp_path / "missing.json"], user="x")


def test_items_of_an_unknown_shape_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"data": [{"hello": 1}, 3]}))
    scan = anthropic.scan([path], user="x")
    assert scan.frame.collect().height == 0
    assert [(n.message, n.count) for n in scan.notices] == [
        ("Anthropic: skipped items that are neither usage buckets nor Claude Code records", 2)
    ]


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        (CC_PAGE, "anthropic_claude_code"),
        (CC_LIST, "anthropic_claude_code"),
        (MESSAGES, "anthropic_messages"),
        (UNGROUPED, "anthropic_messages"),
        (COST, "anthropic_cost"),
        (SAMPLE, "anthropic_claude_code"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_detect_routes_each_report(path: Path, fmt: str) -> None:
    assert detect.sniff(detect.read_head(path), path.name) == fmt


# --------------------------------------------------------------------------- sample data


def test_sample_data_report_matches_an_independent_reading() -> None:
    records = json.loads(SAMPLE.read_text())
    df = frame([SAMPLE])
    expected_tokens = [
        sum(m["tokens"][k] for r in records for m in r["model_breakdown"])
        for k in ("input", "cache_creation", "cache_read", "output")
    ]
    assert (
        list(sums(df, ["input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens"]))
        == expected_tokens
    )
    assert expected_tokens == [1155663, 7870620, 90687215, 1457263]
    cents = sum(m["estimated_cost"]["amount"] for r in records for m in r["model_breakdown"])
    assert cents == 13540
    assert cost_cents(df) == Decimal(cents)
    assert sums(df, METRICS) == (11262, 3604, 65, 20)
    assert dict(df.group_by("user").agg(pl.col("lines_added").sum()).iter_rows()) == {
        "alice@corp.com": 4195,
        "bob@corp.com": 3505,
        "carol@corp.com": 3562,
    }
    assert anthropic.scan([SAMPLE], user="x").notices == []
