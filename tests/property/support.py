"""Shared pieces of the property tests: settings, the CLI run in process, inputs and snapshots."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, Phase, settings
from typer.testing import CliRunner

from tests.conftest import FIXTURES
from tokenlens.cli import app
from tokenlens.loaders import detect

# Reproducible runs: the same examples every time, no example database, no per-example deadline
# (an ingest reads files and writes Parquet). The autouse environment fixture is the same for
# every example of a test, so sharing it across examples is intended.
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# For properties whose every example runs several ingests: no shrinking (it would rerun them
# hundreds of times); the failing example is still reported, and the same one every run.
NO_SHRINK = settings(SETTINGS, phases=[Phase.explicit, Phase.reuse, Phase.generate])

RUNNER = CliRunner()


@dataclass(frozen=True)
class FixtureStore:
    """A store and the config it was written with."""

    path: Path
    config: Path


# The user local logs are credited to; the config below names it, so no login leaks in.
USER = "tester"

# Users joined across tools and mapped to teams, so `--by user` and `--by team` have several
# values, some of them unknown (null team).
CONFIG = f"""\
user = "{USER}"
teams_file = "teams.csv"

[aliases]
"alice@example.com" = "alice"
"dana@example.com" = "alice"
"dev-anna" = "anna"
"""
TEAMS = f"""\
user,team
alice,platform
{USER},platform
anna,web
UserA,web
bob@example.com,data
"""

# Files a loader refuses on purpose when named on the command line: an aggregated Cursor export
# (one row per model, no dates) cannot be placed in time.
REFUSED = frozenset({"handmade-g-aggregated.csv"})


def fixture_files() -> list[Path]:
    """Every fixture export a loader reads, relative to the fixtures folder, in a stable order."""
    found = detect.classify([FIXTURES])
    return sorted(p.relative_to(FIXTURES) for p in found.files() if p.name not in REFUSED)


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "teams.csv").write_text(TEAMS, encoding="utf-8")
    path = folder / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def copy_fixtures(files: Sequence[Path], into: Path) -> list[Path]:
    """Copy fixture files (relative paths) under `into`, keeping their folders."""
    out = []
    for rel in files:
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / rel, target)
        out.append(target)
    return out


def cli(*args: str | Path) -> str:
    """Run tokenlens in process; its stdout. A failing command fails the test with its output."""
    argv = [str(a) for a in args]
    result = RUNNER.invoke(app, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code != 0:
        raise AssertionError(
            f"tokenlens {' '.join(argv)} exited {result.exit_code}:\n{result.output}"
        )
    return result.stdout


def ingest(store: Path, files: Sequence[Path], config: Path) -> None:
    cli("ingest", *files, "--store", store, "--config", config)


def touch(files: Sequence[Path]) -> None:
    """Give files a new modification time, so the next ingest reads them again."""
    for path in files:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def export_rows(store: Path, config: Path) -> list[dict[str, Any]]:
    """The store's canonical rows as exported (NDJSON), in a total order."""
    text = cli("export", "--store", store, "--config", config, "-f", "ndjson", "--tz", "UTC")
    rows = [json.loads(line) for line in text.splitlines()]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


def report(*args: str | Path) -> dict[str, Any]:
    """`report --format json` as a document, without the time it was written."""
    doc: dict[str, Any] = json.loads(cli("report", "--format", "json", *args))
    doc.pop("generated_at")
    return doc


def snapshot(store: Path, config: Path) -> dict[str, Any]:
    """What a user sees of a store: every exported row, and a report grouped by source and day."""
    return {
        "rows": export_rows(store, config),
        "report": report(
            "--store", store, "--config", config, "--tz", "UTC", "--by", "source", "--by", "day"
        ),
    }


def _same(a: Any, b: Any) -> bool:
    """Equal, with floats (dollars) equal to 1e-12 relative: a row's price may differ in the
    last bit with the rows priced beside it (test_pricing.py holds that property on its own)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def difference(expected: dict[str, Any], got: dict[str, Any], limit: int = 6) -> str:
    """How two snapshots differ, in a few lines (empty when they agree)."""
    lines: list[str] = []
    want = {(r["source"], r["event_id"]): r for r in expected["rows"]}
    have = {(r["source"], r["event_id"]): r for r in got["rows"]}
    for name, rows, keyed in (("expected", expected["rows"], want), ("got", got["rows"], have)):
        if len(keyed) != len(rows):
            lines.append(f"{name}: {len(rows) - len(keyed)} (source, event_id) keys repeated")
    missing = sorted(want.keys() - have.keys())
    extra = sorted(have.keys() - want.keys())
    if missing:
        lines.append(f"{len(missing)} rows missing, e.g. {missing[:limit]}")
    if extra:
        lines.append(f"{len(extra)} rows extra, e.g. {extra[:limit]}")
    changed = [
        k
        for k in sorted(want.keys() & have.keys())
        if not all(_same(want[k][c], have[k][c]) for c in want[k])
    ]
    for key in changed[:limit]:
        a, b = want[key], have[key]
        cols = {c: (a[c], b[c]) for c in a if not _same(a[c], b[c])}
        lines.append(f"row {key} differs (expected, got): {cols}")
    if len(changed) > limit:
        lines.append(f"... {len(changed)} rows differ in all")
    if expected["report"] != got["report"]:
        a, b = expected["report"]["totals"], got["report"]["totals"]
        fields = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
        lines.append(f"the report differs; totals (expected, got): {fields}")
    return "\n".join(lines)


def report_keys() -> list[str]:
    """The values `report --by` accepts, read from the command itself."""
    import click

    command = typer.main.get_command(app)
    assert isinstance(command, click.Group)
    params = {p.name: p for p in command.commands["report"].params}
    choice = params["by"].type
    assert isinstance(choice, click.Choice)
    return [str(c) for c in choice.choices]


@contextmanager
def pinned_env(home: Path) -> Iterator[None]:
    """The environment of tests/conftest.py, for fixtures wider than one test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home / "home"))
        mp.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
        mp.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
        for name in ("TOKENLENS_STORE", "TOKENLENS_CONFIG", "TOKENLENS_USER", "CLAUDE_CONFIG_DIR"):
            mp.delenv(name, raising=False)
        mp.setenv("COLUMNS", "100")
        mp.setenv("NO_COLOR", "1")
        mp.setenv("TZ", "UTC")
        yield
