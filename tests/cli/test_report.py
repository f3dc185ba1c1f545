"""`tokenlens report` end to end: JSON by structure, tables by snapshot, errors by exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.helpers import assistant, run, tree
from tokenlens.cli import app

runner = CliRunner()

METRICS = {
    "events",
    "requests",
    "input_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "usd_per_mtok",
    "cache_hit_ratio",
    "unpriced_events",
}


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    root = tmp_path / "projects"
    tree(
        root,
        {
            "-home-u-webapp/s1.jsonl": assistant("m1", "r1", ts="2025-09-01T23:30:00.000Z")
            + assistant("m1", "r1", ts="2025-09-01T23:30:00.000Z", out=40)
            + assistant("m2", "r2", ts="2025-09-02T08:00:00.000Z", inp=1000, read=3000),
            "-home-u-api/s2.jsonl": assistant(
                "m3",
                "r3",
                ts="2025-09-05T12:00:00.000Z",
                model="claude-opus-4-1-20250805",
                write=500,
                session="s2",
                cwd="/home/u/api",
            )
            + '{"type":"assistant","timestamp":"2025-09-05T12:01:00.000Z","message":{"usa',
            "-home-u-api/s3.jsonl": assistant(
                "m4",
                "r4",
                ts="2025-09-06T12:00:00.000Z",
                model="acme-secret-model",
                session="s3",
                cwd="/home/u/api",
            ),
        },
    )
    return root


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["report", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_json_envelope_and_rows_by_day_and_model(projects: Path) -> None:
    doc = _json(str(projects), "--by", "day", "--by", "model", "--tz", "UTC")
    assert set(doc) == {
        "tokenlens",
        "schema_version",
        "command",
        "generated_at",
        "filters",
        "group_by",
        "totals",
        "rows",
        "warnings",
    }
    assert doc["schema_version"] == 1
    assert doc["command"] == "report"
    assert doc["group_by"] == ["day", "model"]
    assert [(r["day"], r["model"]) for r in doc["rows"]] == [
        ("2025-09-01", "claude-sonnet-4-20250514"),
        ("2025-09-02", "claude-sonnet-4-20250514"),
        ("2025-09-05", "claude-opus-4-1-20250805"),
        ("2025-09-06", "acme-secret-model"),
    ]
    first = doc["rows"][0]
    assert set(first) >= METRICS
    assert first["output_tokens"] == 40  # streamed copy: the largest wins
    assert first["events"] == 1
    assert first["cost_usd"] == pytest.approx((100 * 3 + 40 * 15) / 1e6)
    totals = doc["totals"]
    assert totals["events"] == 4
    assert totals["input_tokens"] == 1300
    assert totals["output_tokens"] == 70
    assert totals["cache_read_tokens"] == 3000
    assert totals["cache_write_tokens"] == 500
    assert totals["total_tokens"] == 4870
    assert totals["unpriced_events"] == 1
    assert totals["sessions"] == 3


def test_warnings_carry_counts(projects: Path) -> None:
    doc = _json(str(projects))
    messages = {w["message"]: w.get("count") for w in doc["warnings"]}
    half = [m for m in messages if "half-written" in m]
    assert half and messages[half[0]] == 1
    unpriced = [m for m in messages if "acme-secret-model" in m]
    assert unpriced and messages[unpriced[0]] == 1


def test_unknown_model_is_unpriced_never_zero(projects: Path) -> None:
    doc = _json(str(projects), "--by", "model")
    row = next(r for r in doc["rows"] if r["model"] == "acme-secret-model")
    assert row["cost_usd"] is None
    assert row["usd_per_mtok"] is None
    assert row["unpriced_events"] == 1


def test_time_zone_moves_day_buckets(projects: Path) -> None:
    utc = _json(str(projects), "--by", "day", "--tz", "UTC")
    tokyo = _json(str(projects), "--by", "day", "--tz", "Asia/Tokyo")
    assert [r["day"] for r in utc["rows"]][:2] == ["2025-09-01", "2025-09-02"]
    # 23:30 UTC on the 1st is the 2nd in Tokyo, where both Sonnet calls fall on one day.
    assert tokyo["rows"][0]["day"] == "2025-09-02"
    assert tokyo["rows"][0]["events"] == 2


def test_relative_period_counts_back_from_the_last_event(projects: Path) -> None:
    doc = _json(str(projects), "--since", "2d", "--tz", "UTC")
    assert doc["filters"]["since"] == "2025-09-05"
    assert doc["totals"]["events"] == 2


def test_week_and_month_keys(projects: Path) -> None:
    doc = _json(str(projects), "--by", "week", "--by", "month", "--tz", "UTC")
    assert [(r["week"], r["month"]) for r in doc["rows"]] == [
        ("2025-09-01", "2025-09"),
    ]


def test_filters_by_model_and_project(projects: Path) -> None:
    doc = _json(str(projects), "--model", "opus", "--tz", "UTC")
    assert doc["totals"]["events"] == 1
    doc = _json(str(projects), "--project", "webapp", "--by", "project")
    assert [r["project"] for r in doc["rows"]] == ["/home/u/webapp"]


def test_user_names_local_rows(projects: Path) -> None:
    doc = _json(str(projects), "--user", "alice", "--by", "user")
    assert [r["user"] for r in doc["rows"]] == ["alice"]


def test_totals_equal_the_sum_of_rows(projects: Path) -> None:
    doc = _json(str(projects), "--by", "session", "--by", "model")
    for key in ("events", "input_tokens", "output_tokens", "total_tokens"):
        assert sum(r[key] for r in doc["rows"]) == doc["totals"][key]


def test_csv_neutralizes_formula_cells(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "projects",
        {"p/s.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00.000Z", cwd="=HYPERLINK(1)")},
    )
    result = runner.invoke(app, ["report", str(root), "--by", "project", "--format", "csv"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith("'=HYPERLINK(1)")


TABLE_BY_MODEL = """\
╭─ tokenlens · 2025-09-01 → 2025-09-06 (UTC) ─────────────────────────────────────╮
│ Tokens 4.87K  Cost $0.02  $/Mtok $3.48  Cache hit 62.5%  Requests 4  Sessions 3 │
│ 1 event unpriced (not in cost)                                                  │
╰─────────────────────────────────────────────────────────────────────────────────╯

 Model                      Total tokens   Input   Output      Cost   $/Mtok   Cache hit   Events
 ────────────────────────────────────────────────────────────────────────────────────────────────
 acme-secret-model                   110     100       10         –        –        0.0%        1
 claude-opus-4-1-20250805            610     100       10     $0.01   $19.06        0.0%        1
 claude-sonnet-4-20250514          4.15K   1.10K       50   $0.0050    $1.19       73.2%        2

 Total                             4.87K   1.30K       70     $0.02    $3.48       62.5%        4
"""


def test_table_snapshot(projects: Path) -> None:
    # Hand-checked: Sonnet (100x$3 + 40x$15) + (1,000x$3 + 3,000x$0.30 + 10x$15) = $0.00495;
    # Opus 100x$15 + 500x$18.75 + 10x$75 = $0.011625; $/Mtok over the 4,760 priced tokens.
    result = runner.invoke(app, ["report", str(projects), "--tz", "UTC", "--by", "model"])
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert "\n".join(lines).strip("\n") + "\n" == TABLE_BY_MODEL


def test_narrow_terminal_drops_columns_instead_of_wrapping(projects: Path) -> None:
    result = runner.invoke(app, ["report", str(projects), "--by", "model"], env={"COLUMNS": "60"})
    assert result.exit_code == 0
    table = result.stdout.split("╯", 1)[1]
    assert all(len(line) <= 60 for line in table.splitlines())
    assert "Cost" in table
    assert "Cache write" not in table


def test_empty_explicit_store_is_an_empty_report(tmp_path: Path) -> None:
    home = tree(
        tmp_path / "home",
        {".claude/projects/p/s.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00.000Z")},
    )
    store = tmp_path / "empty-store"
    store.mkdir()
    result = run("report", "--store", str(store), "--json", env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["events"] == 0


def test_default_empty_store_discovers_local_logs(tmp_path: Path) -> None:
    home = tree(
        tmp_path / "home",
        {".claude/projects/p/s.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00.000Z")},
    )
    result = run("report", "--json", env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["events"] == 1


def test_claude_config_dir_lists_several_roots(tmp_path: Path) -> None:
    tree(tmp_path / "a", {"projects/p/s.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00Z")})
    tree(tmp_path / "b", {"projects/p/s.jsonl": assistant("m2", "r2", ts="2025-09-01T10:00:00Z")})
    env = {"CLAUDE_CONFIG_DIR": f"{tmp_path / 'a'},{tmp_path / 'b'}"}
    result = run("report", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["events"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "/no/such/folder"], "Error: /no/such/folder: no such file or folder"),
        (["report", "{empty}"], "Error: no usage logs or exports found under"),
        (["report", "--store", "{bad_store}"], "Error: cannot read the store manifest"),
        (["report", "{empty}", "--tz", "Mars/Olympus"], "Error: unknown time zone"),
        (["report", "--store", "{a_file}"], "Error: the store"),
        (["budget", "--max", "10", "--store", "{a_file}"], "Error: the store"),
        (["outliers", "--store", "{a_file}"], "Error: the store"),
    ],
)
def test_errors_are_one_line_with_a_hint_and_exit_1(
    tmp_path: Path, args: list[str], message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    (empty / "x.jsonl").write_text("") if "Mars/Olympus" in args else None
    (tmp_path / "a_file").write_text("")
    stores = {"bad_store": tmp_path / "bad", "a_file": tmp_path / "a_file"}
    filled = [a.format(empty=empty, **stores) for a in args]
    result = run(*filled)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(message), result.stderr
    assert lines[1].startswith("Hint: ")
    assert "Traceback" not in result.stderr


def test_an_unreadable_file_named_on_the_command_line_is_an_error_exit_1(tmp_path: Path) -> None:
    """Not click's usage error (exit 2): tokenlens' own Error and Hint lines. Root reads any
    file, so the denial is simulated where both click and tokenlens ask the system."""
    path = tmp_path / "usage.csv"
    path.write_text("Date,Kind,Model\n")
    code = (
        "import errno, os, sys\n"
        f"target = {str(path)!r}\n"
        "real_open, real_access = os.open, os.access\n"
        "def denied_open(file, *a, **k):\n"
        "    if os.fspath(file) == target:\n"
        "        raise PermissionError(errno.EACCES, 'Permission denied', target)\n"
        "    return real_open(file, *a, **k)\n"
        "os.open = denied_open\n"
        "def denied_access(file, mode, **k):\n"
        "    return os.fspath(file) != target and real_access(file, mode, **k)\n"
        "os.access = denied_access\n"
        "sys.argv = ['tokenlens', 'report', target]\n"
        "from tokenlens.cli import main\n"
        "main()\n"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"Error: {path}: cannot read: Permission denied"
    assert lines[1].startswith("Hint: ")


def test_bad_option_is_a_usage_error_exit_2(tmp_path: Path) -> None:
    result = run("report", str(tmp_path), "--by", "planet")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def _main_in_a_fresh_process(
    argvs: list[list[str]], after: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `tokenlens.cli.main` once per argv in a fresh interpreter, then the code `after`."""
    code = (
        "import sys\n"
        "from tokenlens.cli import main\n"
        f"for argv in {argvs!r}:\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"{after}\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )


def test_help_and_version_import_neither_polars_nor_pyarrow() -> None:
    out = _main_in_a_fresh_process(
        [["tokenlens", "--help"], ["tokenlens", "--version"], ["tokenlens", "report", "--help"]],
        "print(sorted(m for m in ('polars', 'pyarrow', 'genai_prices') if m in sys.modules))",
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("given", [None, "narenas:3,dirty_decay_ms:5000"])
def test_the_allocator_gets_one_arena_a_core_unless_the_user_chose(given: str | None) -> None:
    code = (
        "import atexit, os, sys\n"
        "atexit.register(lambda: print(os.environ.get('_RJEM_MALLOC_CONF')))\n"
        "sys.argv = ['tokenlens', '--version']\n"
        "from tokenlens.cli import run\n"
        "run()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    default = f"narenas:{os.cpu_count()},dirty_decay_ms:-1,muzzy_decay_ms:-1"
    assert out.splitlines()[-1] == (given or default)


def test_the_cycle_collector_is_off_while_a_command_runs() -> None:
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(gc.isenabled()))\n"
        "sys.argv = ['tokenlens', '--version']\n"
        "from tokenlens.cli import run\n"
        "print(gc.isenabled())\n"
        "run()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert [out.stdout.splitlines()[0], out.stdout.splitlines()[-1]] == ["True", "False"]


def test_warnings_to_a_pipe_are_plain_lines_written_without_rich(projects: Path) -> None:
    # Rich takes about 0.1 s to import; to a file or pipe it would write these same lines.
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    done = _main_in_a_fresh_process(
        [["tokenlens", "report", str(projects), "--json"]],
        "print('rich' in sys.modules, file=sys.stderr)",
        env=env,
    )
    lines = done.stderr.splitlines()
    assert lines[-1] == "False"
    assert lines[:-1] == [
        "Warning: Claude Code: skipped half-written last lines (session still running?) (1) "
        f"[{projects.name}/-home-u-api/s2.jsonl:2]",
        "Warning: no price known for model(s): acme-secret-model; their cost is reported as "
        "unpriced (1)",
    ]


def test_a_report_from_the_store_names_the_models_without_a_price(
    projects: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert run("ingest", str(projects), "--store", str(store)).returncode == 0
    result = run("report", "--store", str(store), "--json")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    message = "no price known for model(s): acme-secret-model; their cost is reported as unpriced"
    assert {"message": message, "count": 1} in warnings
    assert f"Warning: {message} (1)" in result.stderr.splitlines()


def test_a_warm_report_imports_neither_numpy_nor_pyarrow(projects: Path, tmp_path: Path) -> None:
    # The warm path is mostly start-up: numpy alone would add about 0.15 s to it.
    store = tmp_path / "store"
    assert run("ingest", str(projects), "--store", str(store)).returncode == 0
    out = _main_in_a_fresh_process(
        [["tokenlens", "report", "--store", str(store), "--json", "--by", "day"]],
        "print(sorted(m for m in ('numpy', 'pyarrow', 'pandas') if m in sys.modules))",
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_warnings_with_paths_and_brackets_print_plainly(tmp_path: Path) -> None:
    folder = tmp_path / "[exports]"
    tree(folder, {"p/s.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00.000Z")})
    (folder / "p" / "broken.csv").write_text("Model,Request Count,Cost ($)\nx,1,2\n")
    result = run("report", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "[exports]" in result.stderr
