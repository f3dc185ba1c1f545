#!/usr/bin/env python3
"""Check tokenlens against ccusage, to the token, per (UTC day, model).

    python bench/compare_ccusage.py TREE            # TREE holds projects/
    python bench/compare_ccusage.py TREE --via api  # tokenlens through its Python API
    python bench/compare_ccusage.py --probes        # edge cases, one tiny tree each

ccusage runs as `ccusage claude daily --json --offline --timezone UTC --breakdown` with
CLAUDE_CONFIG_DIR=TREE (and a private XDG_CACHE_HOME, so no cache or ledger of an earlier run can
leak in). tokenlens runs as `tokenlens report TREE/projects --by day --by model --tz UTC --json`,
or through `scan_claude_code` when the CLI is missing (`--via auto`, the default).

ccusage names fast-mode entries `<model>-fast`; tokenlens keeps the raw model id (fast mode is in
`kind`), so `-fast` rows are merged into their base model. ccusage counts entries without a model
name (`<synthetic>` or no `model`) in a day's totals but in no model breakdown; that remainder is
compared with tokenlens' `unknown` model. Exit status: 0 when every cell matches, 1 on any
difference (a diff is printed), 2 when a tool fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

CCUSAGE = os.environ.get("CCUSAGE", "/tmp/ccu/node_modules/.bin/ccusage")
TOKENLENS = os.environ.get("TOKENLENS", str(Path(sys.executable).with_name("tokenlens")))
FIELDS = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")
CC_FIELDS = ("inputTokens", "cacheCreationTokens", "cacheReadTokens", "outputTokens")
NO_MODEL = "(no model)"
FAST = "-fast"

Key = tuple[str, str]
Table = dict[Key, tuple[int, int, int, int]]


def _add(table: dict[Key, list[int]], key: Key, values: Iterable[int]) -> None:
    row = table.setdefault(key, [0, 0, 0, 0])
    for i, v in enumerate(values):
        row[i] += int(v)


def _freeze(table: dict[Key, list[int]]) -> Table:
    return {k: (v[0], v[1], v[2], v[3]) for k, v in sorted(table.items()) if any(v)}


def ccusage_json(tree: Path, ccusage: str = CCUSAGE) -> dict[str, object]:
    """ccusage's daily report for TREE (a folder holding projects/), as parsed JSON."""
    with tempfile.TemporaryDirectory(prefix="ccusage-cache-") as cache:
        env = dict(os.environ, CLAUDE_CONFIG_DIR=str(tree), XDG_CACHE_HOME=cache, TZ="UTC")
        cmd = [
            ccusage,
            *("claude", "daily", "--json", "--offline", "--timezone", "UTC", "--breakdown"),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ccusage failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def ccusage_table(report: dict[str, object]) -> Table:
    """Per (day, model) tokens from ccusage JSON; `-fast` merged into its base model."""
    table: dict[Key, list[int]] = {}
    days = report.get("daily", [])
    assert isinstance(days, list)
    for day in days:
        date = day["date"]
        seen = [0, 0, 0, 0]
        for b in day.get("modelBreakdowns", []):
            model = b["modelName"]
            if model.endswith(FAST):
                model = model[: -len(FAST)]
            values = [int(b[f]) for f in CC_FIELDS]
            _add(table, (date, model), values)
            seen = [s + v for s, v in zip(seen, values, strict=True)]
        rest = [int(day[f]) - s for f, s in zip(CC_FIELDS, seen, strict=True)]
        if any(rest):
            _add(table, (date, NO_MODEL), rest)
    return _freeze(table)


def tokenlens_cli_table(tree: Path, tokenlens: str = TOKENLENS) -> Table:
    cmd = [
        tokenlens,
        *("report", str(tree / "projects"), "--by", "day", "--by", "model"),
        *("--tz", "UTC", "--json"),
    ]
    with tempfile.TemporaryDirectory(prefix="tokenlens-home-") as home:
        env = dict(os.environ, TZ="UTC", TOKENLENS_STORE=str(Path(home) / "store"))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"tokenlens failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
    report = json.loads(proc.stdout)
    table: dict[Key, list[int]] = {}
    for row in report["rows"]:
        model = row["model"] if row["model"] not in (None, "unknown") else NO_MODEL
        _add(table, (row["day"], model), (row[f] or 0 for f in FIELDS))
    return _freeze(table)


def tokenlens_api_table(tree: Path) -> Table:
    import polars as pl

    from tokenlens.loaders.claude_code import scan_claude_code

    frame = scan_claude_code([tree / "projects"], user="bench").frame
    grouped = (
        frame.with_columns(
            day=pl.col("ts").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d"),
            model=pl.when(pl.col("model").is_in(["unknown"]) | pl.col("model").is_null())
            .then(pl.lit(NO_MODEL))
            .otherwise(pl.col("model")),
        )
        .group_by("day", "model")
        .agg(pl.col(f).sum() for f in FIELDS)
        .collect()
    )
    table: dict[Key, list[int]] = {}
    for row in grouped.iter_rows(named=True):
        _add(table, (row["day"], row["model"]), (row[f] for f in FIELDS))
    return _freeze(table)


def cli_works(tokenlens: str = TOKENLENS) -> bool:
    if not shutil.which(tokenlens):
        return False
    proc = subprocess.run([tokenlens, "--version"], capture_output=True, check=False)
    return proc.returncode == 0


def tokenlens_table(tree: Path, via: str) -> tuple[Table, str]:
    if via == "cli" or (via == "auto" and cli_works()):
        return tokenlens_cli_table(tree), "cli"
    return tokenlens_api_table(tree), "api"


def diff(ours: Table, theirs: Table) -> list[str]:
    """One line per (day, model) whose tokens differ; empty when all match."""
    out = []
    for key in sorted(set(ours) | set(theirs)):
        a = ours.get(key, (0, 0, 0, 0))
        b = theirs.get(key, (0, 0, 0, 0))
        if a != b:
            deltas = ", ".join(
                f"{f} {x:,} vs {y:,} ({x - y:+,})"
                for f, x, y in zip(FIELDS, a, b, strict=True)
                if x != y
            )
            out.append(f"{key[0]} {key[1]}: {deltas}")
    return out


def totals(table: Table) -> tuple[int, int, int, int]:
    sums = [0, 0, 0, 0]
    for v in table.values():
        sums = [s + x for s, x in zip(sums, v, strict=True)]
    return (sums[0], sums[1], sums[2], sums[3])


def compare(tree: Path, via: str) -> int:
    theirs = ccusage_table(ccusage_json(tree))
    ours, used = tokenlens_table(tree, via)
    problems = diff(ours, theirs)
    tl, cc = totals(ours), totals(theirs)
    print(f"tree: {tree}  (tokenlens via {used}; {ccusage_version()})")
    print(f"cells: tokenlens {len(ours)}, ccusage {len(theirs)}")
    for name, a, b in zip(FIELDS, tl, cc, strict=True):
        print(f"  {name:<20} tokenlens {a:>16,}  ccusage {b:>16,}  {'ok' if a == b else 'DIFF'}")
    if problems:
        print(f"MISMATCH in {len(problems)} (day, model) cells (tokenlens vs ccusage):")
        for line in problems:
            print("  " + line)
        return 1
    print("OK: every (day, model) cell matches to the token")
    return 0


def ccusage_version() -> str:
    proc = subprocess.run([CCUSAGE, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "?"


# ---- probes: one tiny tree per edge case, to pin down who counts what ---------------------

_ENV = (
    '"parentUuid":null,"isSidechain":{side},"userType":"external","cwd":"/p",'
    '"sessionId":"s1","version":"2.1.5","gitBranch":""'
)


def _line(
    mid: str | None,
    rid: str | None,
    *,
    out: int = 10,
    read: int = 100,
    write: int = 50,
    inp: int = 3,
    side: bool = False,
    model: str = "claude-sonnet-4-5-20250929",
    ts: str = "2025-10-01T12:00:00.000Z",
    usage_extra: str = "",
    extra: str = "",
    breakdown: str | None = None,
) -> str:
    ids = f'"id":"{mid}",' if mid else ""
    req = f'"requestId":"{rid}",' if rid else ""
    bd = breakdown
    if bd is None:
        bd = (
            f'"cache_creation":{{"ephemeral_5m_input_tokens":{write},'
            '"ephemeral_1h_input_tokens":0},'
        )
    usage = (
        f'{{"input_tokens":{inp},"cache_creation_input_tokens":{write},'
        f'"cache_read_input_tokens":{read},{bd}"output_tokens":{out}{usage_extra}}}'
    )
    return (
        "{" + _ENV.format(side="true" if side else "false") + f',"message":{{{ids}"type":"message",'
        f'"role":"assistant","model":"{model}","content":[],"stop_reason":null,'
        f'"stop_sequence":null,"usage":{usage}}},{req}"type":"assistant","uuid":"u",'
        f'"timestamp":"{ts}"{extra}}}'
    )


def _progress(mid: str, rid: str, *, out: int = 10, side: str = "true") -> str:
    side_field = f'"isSidechain":{side},' if side else ""
    return (
        '{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/p",'
        '"sessionId":"s1","version":"2.1.5","gitBranch":"","type":"progress","data":{"message":'
        f'{{{side_field}"type":"assistant","message":{{"model":"claude-sonnet-4-5-20250929",'
        f'"id":"{mid}","type":"message","role":"assistant","content":[],"stop_reason":null,'
        '"stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":50,'
        f'"cache_read_input_tokens":100,"output_tokens":{out}}}}},"requestId":"{rid}",'
        '"uuid":"u","timestamp":"2025-10-01T12:00:00.000Z"},"type":"agent_progress",'
        '"agentId":"a1"},"uuid":"v","timestamp":"2025-10-01T12:00:00.000Z"}'
    )


S = "-p/s1.jsonl"
SUB = "-p/s1/subagents/agent-a1.jsonl"
ASIDE = "-p/s1/subagents/aside_question-1.jsonl"

# name -> (what it shows, {relative path: [lines]})
PROBES: dict[str, tuple[str, dict[str, list[str]]]] = {
    "streamed_copies": (
        "copies of one response: the largest total wins",
        {S: [_line("m1", "r1", out=8), _line("m1", "r1", out=322)]},
    ),
    "progress_mirror": (
        "a progress mirror and the subagent line count once",
        {S: [_progress("m2", "r2", out=40)], SUB: [_line("m2", "r2", out=40, side=True)]},
    ),
    "progress_mirror_only": (
        "a mirror whose subagent file is gone still counts",
        {S: [_progress("m2", "r2", out=40)]},
    ),
    "progress_without_sidechain_flag": (
        "a mirror without data.message.isSidechain, plus an aside replay of it",
        {
            S: [_progress("m2", "r2", out=40, side="")],
            ASIDE: [_line("m2", "rX", out=40, read=5000, side=True)],
        },
    ),
    "aside_replay": (
        "a /btw replay (same message.id, new requestId, sidechain) loses to the parent",
        {
            S: [_line("m3", "r3", out=30)],
            ASIDE: [_line("m3", "r3b", out=30, read=9000, side=True), _line("m4", "r4", side=True)],
        },
    ),
    "replay_before_parent": (
        "the sidechain replay sorts before its parent, and the parent has two streamed copies",
        {
            "-p/a.jsonl": [_line("m5", "rb", out=30, read=9000, side=True)],
            "-p/b.jsonl": [_line("m5", "ra", out=5), _line("m5", "ra", out=30)],
        },
    ),
    "two_sidechain_request_ids": (
        "two sidechain lines, one message.id, two requestIds",
        {SUB: [_line("m6", "r6", out=30, side=True), _line("m6", "r6b", out=60, side=True)]},
    ),
    "no_request_id": (
        "message.id without requestId (gateways)",
        {S: [_line("m7", None, out=5), _line("m7", None, out=9)]},
    ),
    "no_message_id": (
        "no message.id: never deduplicated (two identical lines)",
        {S: [_line(None, "r8"), _line(None, "r8")]},
    ),
    "synthetic_with_tokens": (
        "<synthetic> model with non-zero usage",
        {S: [_line("m9", None, model="<synthetic>", extra=',"isApiErrorMessage":true')]},
    ),
    "api_error_real_model": (
        "isApiErrorMessage:true on a real model with usage",
        {S: [_line("m10", "r10", extra=',"isApiErrorMessage":true')]},
    ),
    "missing_model": (
        "a usage line without message.model",
        {S: [_line("m11", "r11").replace('"model":"claude-sonnet-4-5-20250929",', "")]},
    ),
    "null_cache_read": (
        "cache_read_input_tokens: null",
        {
            S: [
                _line("m12", "r12").replace(
                    '"cache_read_input_tokens":100', '"cache_read_input_tokens":null'
                )
            ]
        },
    ),
    "null_field_in_content": (
        'an assistant line whose tool input holds the text "id":null (a Write of JSON)',
        {
            S: [
                _line("m13", "r13").replace(
                    '"content":[]',
                    '"content":[{"type":"tool_use","id":"t","name":"Write","input":'
                    '{"file_path":"x.json","content":"{\\"id\\":null}"}}]',
                )
            ]
        },
    ),
    "zero_breakdown_nonzero_total": (
        "cache_creation {0,0} while cache_creation_input_tokens > 0",
        {
            S: [
                _line(
                    "m14",
                    "r14",
                    write=500,
                    breakdown='"cache_creation":{"ephemeral_5m_input_tokens":0,'
                    '"ephemeral_1h_input_tokens":0},',
                )
            ]
        },
    ),
    "breakdown_differs_from_total": (
        "cache_creation 5m+1h != cache_creation_input_tokens",
        {
            S: [
                _line(
                    "m15",
                    "r15",
                    write=500,
                    breakdown='"cache_creation":{"ephemeral_5m_input_tokens":100,'
                    '"ephemeral_1h_input_tokens":50},',
                )
            ]
        },
    ),
    "missing_input_tokens": (
        "usage without input_tokens",
        {S: [_line("m16", "r16").replace('"input_tokens":3,', "")]},
    ),
    "string_token_count": (
        'a token count written as a string ("3")',
        {S: [_line("m17", "r17").replace('"input_tokens":3', '"input_tokens":"3"')]},
    ),
    "float_token_count": (
        "a token count written as a float (3.0)",
        {S: [_line("m18", "r18").replace('"input_tokens":3', '"input_tokens":3.0')]},
    ),
    "negative_token_count": (
        "a negative token count",
        {S: [_line("m19", "r19").replace('"input_tokens":3', '"input_tokens":-3')]},
    ),
    "unknown_speed": (
        'speed "priority" (neither standard nor fast)',
        {S: [_line("m20", "r20", usage_extra=',"speed":"priority"')]},
    ),
    "bad_version": (
        'version "unknown" (not semver)',
        {S: [_line("m21", "r21").replace('"version":"2.1.5"', '"version":"unknown"')]},
    ),
    "empty_session_id": (
        'sessionId ""',
        {S: [_line("m22", "r22").replace('"sessionId":"s1"', '"sessionId":""')]},
    ),
    "invalid_utf8_in_content": (
        "an invalid UTF-8 byte inside message text",
        {
            S: [
                _line("m23", "r23").replace(
                    '"content":[]', '"content":[{"type":"text","text":"caf\udcff"}]'
                )
            ]
        },
    ),
    "timestamp_without_ms": (
        "timestamp without milliseconds",
        {S: [_line("m24", "r24", ts="2025-10-01T12:00:00Z")]},
    ),
    "timestamp_with_offset": (
        "timestamp with +02:00 offset near midnight",
        {S: [_line("m25", "r25", ts="2025-10-02T01:30:00.000+02:00")]},
    ),
    "duplicate_key": (
        "a duplicated input_tokens key",
        {S: [_line("m26", "r26").replace('"input_tokens":3', '"input_tokens":3,"input_tokens":7')]},
    ),
    "tie_across_midnight": (
        "two copies, equal tokens, on both sides of midnight",
        {
            S: [
                _line("m27", "r27", out=10, ts="2025-10-01T23:59:59.900Z"),
                _line("m27", "r27", out=10, ts="2025-10-02T00:00:00.100Z"),
            ]
        },
    ),
    "two_lines_run_together": (
        "a tool-result user line and the next assistant line with no newline between them",
        {
            S: [
                '{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user",'
                '"content":[{"tool_use_id":"t","type":"tool_result","content":"ok"}]},'
                '"uuid":"a","timestamp":"2025-10-01T11:59:00.000Z"}' + _line("m29", "r29")
            ]
        },
    ),
    "nul_bytes_in_content": (
        "NUL bytes (a lost disk block) inside an assistant line's content",
        {
            S: [
                _line("m30", "r30").replace(
                    '"content":[]', '"content":[{"type":"text","text":"ab\x00\x00cd"}]'
                )
            ]
        },
    ),
    "broken_key_in_content": (
        "a damaged key (':' became ';') inside an assistant line's content",
        {
            S: [
                _line("m31", "r31").replace(
                    '"content":[]', '"content":[{"type";"text","text":"abcd"}]'
                )
            ]
        },
    ),
    "iterations_advisor": (
        "usage.iterations with an advisor_message entry",
        {
            S: [
                _line(
                    "m28",
                    "r28",
                    usage_extra=',"iterations":[{"type":"advisor_message","model":'
                    '"claude-opus-4-5-20251101","input_tokens":1000,"output_tokens":200,'
                    '"cache_read_input_tokens":0,"cache_creation_input_tokens":0}]',
                )
            ]
        },
    ),
}


# Differences seen with ccusage 20.0.24, and why. A probe listed here may differ; any other
# probe must match. All are edge cases; the generated (realistic) trees match exactly.
KNOWN: dict[str, str] = {
    "progress_without_sidechain_flag": "tokenlens reads a mirror without data.message."
    "isSidechain as a sidechain copy, ccusage as a parent copy, so a replay of it wins only "
    "in tokenlens",
    "no_message_id": "tokenlens collapses byte-identical lines without message.id; ccusage "
    "counts every line",
    "synthetic_with_tokens": "tokenlens drops <synthetic> lines; ccusage counts their tokens "
    "in the day total, under no model",
    "api_error_real_model": "tokenlens drops every isApiErrorMessage line; ccusage counts it",
    "null_cache_read": "ccusage drops a line with null in id/model/speed/cache fields; "
    "tokenlens reads the null as 0",
    "zero_breakdown_nonzero_total": "ccusage trusts an all-zero cache_creation breakdown; "
    "tokenlens falls back to cache_creation_input_tokens",
    "missing_input_tokens": "ccusage requires input_tokens and output_tokens; tokenlens "
    "reads a missing one as 0",
    "string_token_count": "ccusage rejects a token count that is a string; tokenlens coerces",
    "float_token_count": "ccusage rejects a token count that is a float; tokenlens coerces",
    "unknown_speed": "ccusage drops the line when speed is neither standard nor fast",
    "bad_version": "ccusage drops a line whose version is not semver",
    "empty_session_id": 'ccusage drops a line whose sessionId is ""',
    "invalid_utf8_in_content": "ccusage rejects invalid UTF-8 anywhere in a line; tokenlens "
    "only where it decodes",
    "duplicate_key": "ccusage rejects duplicate keys; tokenlens keeps the last",
    "iterations_advisor": "GAP IN TOKENLENS: ccusage counts usage.iterations[] entries of "
    "type advisor_message as usage of the advisor model; tokenlens ignores iterations",
}


def run_probes(names: list[str], via: str) -> int:
    """Run each probe through both tools; 1 if one differs that is not in KNOWN."""
    unexpected = 0
    for name, (what, files) in PROBES.items():
        if names and name not in names:
            continue
        with tempfile.TemporaryDirectory(prefix=f"probe-{name}-") as tmp:
            root = Path(tmp)
            for rel, lines in files.items():
                path = root / "projects" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
                path.write_bytes(data)
            try:
                theirs = ccusage_table(ccusage_json(root))
                ours, _ = tokenlens_table(root, via)
            except RuntimeError as exc:
                print(f"ERROR {name}: {exc}")
                unexpected += 1
                continue
        same = ours == theirs
        status = "same" if same else ("known" if name in KNOWN else "DIFF")
        unexpected += status == "DIFF"
        print(f"{status:<5} {name}: {what}")
        if not same:
            print(f"        tokenlens {_fmt(ours)}")
            print(f"        ccusage   {_fmt(theirs)}")
            if name in KNOWN:
                print(f"        why: {KNOWN[name]}")
    return 1 if unexpected else 0


def _fmt(table: Table) -> str:
    if not table:
        return "(nothing)"
    return "; ".join(
        f"{d} {m} in/cw/cr/out={v[0]}/{v[1]}/{v[2]}/{v[3]}" for (d, m), v in table.items()
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree", nargs="?", type=Path, help="folder that holds projects/")
    ap.add_argument("--via", choices=("auto", "cli", "api"), default="auto")
    ap.add_argument("--probes", nargs="*", metavar="NAME", help="run edge-case probes instead")
    ap.add_argument(
        "--write-expected",
        type=Path,
        metavar="FILE",
        help="write ccusage's per (day, model) totals for TREE to FILE (a test fixture)",
    )
    args = ap.parse_args(argv)
    try:
        if args.probes is not None:
            return run_probes(args.probes, args.via)
        if args.tree is None:
            ap.error("give a TREE or --probes")
        if args.write_expected:
            write_expected(args.tree, args.write_expected)
            return 0
        return compare(args.tree, args.via)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def write_expected(tree: Path, out: Path) -> None:
    """ccusage's per (day, model) totals for TREE as a test fixture, one row per line."""
    report = ccusage_json(tree)
    table = ccusage_table(report)
    cc_totals = report["totals"]
    assert isinstance(cc_totals, dict)
    source = (
        f"{ccusage_version()}: ccusage claude daily --json --offline --timezone UTC --breakdown"
        " (CLAUDE_CONFIG_DIR=this folder); '-fast' rows merged into their base model"
    )
    totals_doc = {f: int(cc_totals[c]) for f, c in zip(FIELDS, CC_FIELDS, strict=True)}
    rows = [
        json.dumps({"day": d, "model": m, **dict(zip(FIELDS, v, strict=True))})
        for (d, m), v in table.items()
    ]
    text = (
        "{\n"
        f' "source": {json.dumps(source)},\n'
        f' "totals": {json.dumps(totals_doc)},\n'
        ' "rows": [\n  ' + ",\n  ".join(rows) + "\n ]\n}\n"
    )
    json.loads(text)  # well-formed
    out.write_text(text)
    print(f"wrote {out}: {len(rows)} (day, model) rows")


if __name__ == "__main__":
    sys.exit(main())
