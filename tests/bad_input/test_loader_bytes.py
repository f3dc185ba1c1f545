"""Any bytes at all, fed to any loader, load or raise the project's own error, nothing else.

Random bytes alone rarely get past a loader's first check, so most examples are damaged copies
of real-shaped exports: cut short, overwritten, with hostile tokens spliced in (NaN, huge and
negative numbers, deep brackets, bad UTF-8, stray quotes and line breaks), sometimes gzipped or
re-encoded as UTF-16.
"""

from __future__ import annotations

import contextlib
import gzip
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.bad_input.cli import BAD, tokenlens
from tests.conftest import FIXTURES
from tokenlens import loaders
from tokenlens.errors import TokenlensError
from tokenlens.loaders import detect

MODULES = loaders.all_modules()  # every format module of loaders.MODULES, once each
SOURCES = sorted(detect.SOURCE_FORMATS)
SUFFIXES = (".jsonl", ".json", ".csv", ".ndjson", ".jsonl.gz", ".csv.gz")

# One small, valid file of each shape to damage.
SAMPLES = [
    (BAD / "jsonl/crlf.jsonl").read_bytes(),
    (BAD / "encoding/bom_crlf.csv").read_bytes(),
    (BAD / "values/anthropic_messages.json").read_bytes(),
    (FIXTURES / "cursor/handmade-api-filtered-usage-events.json").read_bytes(),
    (FIXTURES / "cursor/handmade-api-daily-usage-data.json").read_bytes(),
    (FIXTURES / "copilot/premium-usage-2026-aic.csv").read_bytes()[:3000],
    (FIXTURES / "copilot/users-report-bare.ndjson").read_bytes()[:3000],
    (FIXTURES / "copilot/sample-data.csv").read_bytes()[:3000],
    (FIXTURES / "anthropic/claude_code_2025-09-08.json").read_bytes()[:4000],
    (FIXTURES / "codex/session-alpha.jsonl").read_bytes()[:4000],
    next((FIXTURES / "gemini").rglob("*.jsonl")).read_bytes()[:4000],
    next((FIXTURES / "gemini").rglob("*.json")).read_bytes()[:4000],
]
HOSTILE = [
    b"NaN",
    b"Infinity",
    b"-1",
    b"-0",
    b"1e400",
    b"12.5",
    b"99999999999999999999999",
    b'"123"',
    b'"1759312800000"',
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'"',
    b",",
    b"\n",
    b"\r\n",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"[" * 3000,
    b"{" * 50,
    b"]}",
    b"\\",
    b'"2099-01-01T00:00:00Z"',
    b'"1969-12-31"',
    b'"usage":{',
    b'"timestamp":',
]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(("cut", "splice", "overwrite")))
        if how == "cut":
            data = data[:at]
        elif how == "splice":
            data = data[:at] + draw(st.sampled_from(HOSTILE)) + data[at:]
        else:
            noise = draw(st.binary(min_size=1, max_size=16))
            data = data[:at] + noise + data[at + len(noise) :]
    return data


@st.composite
def contents(draw: st.DrawFn) -> tuple[str, bytes]:
    data = draw(st.one_of(st.binary(max_size=600), damaged(), damaged()))
    if draw(st.integers(0, 9)) == 0:
        data = data.decode("utf-8", "replace").encode("utf-16")
    suffix = draw(st.sampled_from(SUFFIXES))
    if suffix.endswith(".gz") and draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
        if draw(st.integers(0, 4)) == 0:
            data = data[: draw(st.integers(0, len(data)))]  # a cut-off archive
    return suffix, data


# Numbers past what a 64-bit column holds, in the places each format keeps them.
HUGE = 2**70
EXAMPLES = [
    (".json", b'{"usageEvents":[{"timestamp":%d,"tokenUsage":{"inputTokens":%d}}]}' % (HUGE, HUGE)),
    (".ndjson", b'{"user_login":"a","day":"2025-10-01","loc_added_sum":%d}' % HUGE),
    (
        ".jsonl",
        b'{"timestamp":1e300,"type":"event_msg","payload":{"type":"token_count",'
        b'"info":{"total_token_usage":{"input_tokens":%d}}}}' % HUGE,
    ),
    (
        ".csv",
        b"date,username,sku,model,quantity,input,output,cache_read,cache_write\n"
        b"2025-10-01,a,s,m,1e400,99999999999999999999,2,3,4\n",
    ),
]


def _file(folder: str, suffix: str, data: bytes) -> Path:
    path = Path(folder) / f"export{suffix}"
    path.write_bytes(data)
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contents())
@example(EXAMPLES[0])
@example(EXAMPLES[1])
@example(EXAMPLES[2])
@example(EXAMPLES[3])
def test_every_loader_reads_any_bytes_or_raises_its_own_error(case: tuple[str, bytes]) -> None:
    suffix, data = case
    with tempfile.TemporaryDirectory() as folder:
        path = _file(folder, suffix, data)
        for module in MODULES:
            with contextlib.suppress(TokenlensError):
                module.scan([path], user="u").frame.collect()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contents(), st.sampled_from(SOURCES))
@example(EXAMPLES[0], "cursor")
@example(EXAMPLES[3], "copilot")
def test_report_with_a_forced_source_loads_or_refuses_cleanly(
    case: tuple[str, bytes], source: str
) -> None:
    suffix, data = case
    with tempfile.TemporaryDirectory() as folder:
        got = tokenlens("report", str(_file(folder, suffix, data)), "--source", source, "--json")
    assert "Traceback" not in got.stderr
    if got.code == 0:
        assert got.doc()["command"] == "report"
    else:
        assert got.code == 1, got.stderr
        lines = got.stderr.splitlines()
        assert lines[-2].startswith("Error: ") and lines[-1].startswith("Hint: "), lines
