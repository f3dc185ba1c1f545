"""JSON lines that are cut short, spaced out, huge, deeply nested, or not JSON lines at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_input.cli import BAD, CLAUDE_ABC, assert_refused, report, totals

pytestmark = pytest.mark.usefixtures("corpus")

MALFORMED = "Claude Code: skipped malformed lines holding usage"
HALF_WRITTEN = "Claude Code: skipped half-written last lines (session still running?)"


def test_a_truncated_line_and_a_half_written_last_line_are_skipped_and_named() -> None:
    got = report("jsonl/truncated.jsonl")
    assert got.totals() == totals(2, 400, 500, 0, 40)  # lines 1 and 3: 110 + 830 tokens
    assert got.warnings() == [
        (MALFORMED, 1, "jsonl/truncated.jsonl:2"),
        (HALF_WRITTEN, 1, "jsonl/truncated.jsonl:4"),
    ]


def test_a_complete_last_line_without_a_newline_counts() -> None:
    got = report("jsonl/no_final_newline.jsonl")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []


def test_blank_and_whitespace_lines_are_passed_over_silently() -> None:
    got = report("jsonl/blank_lines.jsonl")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []


def test_crlf_line_endings_read_like_lf() -> None:
    got = report("jsonl/crlf.jsonl")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []


def test_a_json_array_where_json_lines_were_expected_is_read_element_by_element() -> None:
    # `jq -s` or a script's json.dump(indent=2): one pretty-printed array of the lines
    got = report("jsonl/array.jsonl")
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == []


def test_json_lines_where_one_json_document_was_expected_are_read_page_by_page() -> None:
    # two Admin API pages saved one per line, and a third cut off
    got = report("json/anthropic_pages.jsonl")
    assert got.totals() == totals(3, 1310, 300, 5000, 855)
    assert got.warnings() == [
        ("Anthropic: skipped lines that are not valid JSON", 1, "json/anthropic_pages.jsonl:3")
    ]


def test_a_50_mb_line_is_read(tmp_path: Path) -> None:
    text = "x" * (50 << 20)
    huge = (
        '{"type":"assistant","timestamp":"2025-10-01T13:00:00.000Z","sessionId":"s1",'
        '"requestId":"r9","message":{"id":"m9","model":"claude-sonnet-4-20250514",'
        f'"content":[{{"type":"text","text":"{text}"}}],'
        '"usage":{"input_tokens":7,"output_tokens":3}}}\n'
    )
    path = tmp_path / "big.jsonl"
    path.write_bytes((BAD / "jsonl/crlf.jsonl").read_bytes() + huge.encode())
    assert path.stat().st_size > 50 << 20
    got = report(str(path))
    assert got.totals() == totals(4, 607, 500, 1000, 63)
    assert got.warnings() == []


def test_a_line_nested_100000_levels_deep_is_skipped_and_named(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    line = (
        '{"type":"assistant","timestamp":"2025-10-01T13:00:00.000Z",'
        f'"message":{{"id":"m9","usage":{{"input_tokens":7}},"content":{deep}}}}}\n'
    )
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "deep.jsonl").write_bytes((BAD / "jsonl/crlf.jsonl").read_bytes() + line.encode())
    got = report(str(folder))
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == [
        ("Claude Code: skipped lines nested too deeply to read", 1, "logs/deep.jsonl:4")
    ]


def _deep_report(folder: Path) -> Path:
    """An Anthropic messages report with one value nested 100,000 levels deep."""
    folder.mkdir()
    deep = "[" * 100_000 + "]" * 100_000
    path = folder / "messages.json"
    path.write_text(
        '{"data":[{"starting_at":"2025-10-01T00:00:00Z","results":'
        f'[{{"uncached_input_tokens":1,"extra":{deep}}}]}}]}}'
    )
    return path


def test_a_json_document_nested_100000_levels_deep_is_refused(tmp_path: Path) -> None:
    path = _deep_report(tmp_path / "api")
    assert_refused(
        report(str(path)),
        f"{path}: JSON nested too deeply to read",
        "This is not an export as the vendor writes it",
    )


def test_inside_a_folder_the_deep_document_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    _deep_report(tmp_path / "api")
    (tmp_path / "api" / "s1.jsonl").write_bytes((BAD / "jsonl/crlf.jsonl").read_bytes())
    got = report(str(tmp_path / "api"))
    assert got.totals() == CLAUDE_ABC
    assert got.warnings() == [
        ("skipped a file: JSON nested too deeply to read", 1, "api/messages.json")
    ]
