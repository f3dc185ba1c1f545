"""The analysis commands end to end: outliers, leaderboard and budget, with their exit codes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.cli.helpers import run

HEADER = (
    "Date,User,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),"
    "Cache Read,Output Tokens,Total Tokens,Cost\n"
)
USERS = ("ann", "ben", "cat", "dan", "eve", "fay")


def team_csv(path: Path, *, spike: float | None = None) -> Path:
    """Six users, ten days from 2025-09-01, $1.00 a day each; `spike` replaces fay's last day."""
    lines = [HEADER]
    for offset in range(10):
        day = date(2025, 9, 1) + timedelta(days=offset)
        for user in USERS:
            cost = spike if (spike is not None and user == "fay" and offset == 9) else 1.0
            lines.append(
                f'"{day}T10:00:00.000Z","{user}@corp.com","On-Demand","claude-4-sonnet","No",'
                f'"0","1000","0","100","1100","{cost:.2f}"\n'
            )
    path.write_text("".join(lines))
    return path


def test_outliers_flag_a_spike_and_fail_on_critical_exits_3(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv", spike=20.0)
    result = run("outliers", str(csv), "--tz", "UTC", "--json", "--fail-on", "critical")
    assert result.returncode == 3, result.stderr
    doc = json.loads(result.stdout)
    assert doc["command"] == "outliers"
    rules = {(r["user"], r["day"], r["rule"], r["severity"]) for r in doc["rows"]}
    assert ("fay@corp.com", "2025-09-10", "self", "critical") in rules
    # MAD is 0 (five users at $1), so 1.2533 x the mean absolute deviation (19/6) scales the
    # z-score: 19 / 3.969 = 4.79, over 3.5 but under twice it: a warning.
    assert ("fay@corp.com", "2025-09-10", "team", "warn") in rules
    assert {r["user"] for r in doc["rows"]} == {"fay@corp.com"}
    assert doc["totals"]["window_end"] == "2025-09-10"
    flag = next(r for r in doc["rows"] if r["rule"] == "self")
    assert (flag["value"], flag["baseline"], flag["ratio"]) == (20.0, 1.0, 20.0)


def test_a_normal_week_has_no_flags_and_exits_0(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv")
    result = run("outliers", str(csv), "--tz", "UTC", "--json", "--fail-on", "warn")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == []


def test_daily_cap_is_a_circuit_breaker(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv", spike=3.0)
    result = run(
        "outliers", str(csv), "--tz", "UTC", "--json", "--daily-cap", "2.5", "--fail-on", "warn"
    )
    assert result.returncode == 3
    caps = [r for r in json.loads(result.stdout)["rows"] if r["rule"] == "daily_cap"]
    assert [(r["user"], r["day"], r["value"]) for r in caps] == [
        ("fay@corp.com", "2025-09-10", 3.0)
    ]


@pytest.mark.parametrize("fmt", ["csv", "markdown", "table"])
def test_outliers_in_every_format(tmp_path: Path, fmt: str) -> None:
    csv = team_csv(tmp_path / "team.csv", spike=20.0)
    result = run("outliers", str(csv), "--tz", "UTC", "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert "fay@corp.com" in result.stdout
