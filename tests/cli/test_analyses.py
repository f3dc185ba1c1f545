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


def test_leaderboard_ranks_with_badges_titles_and_anonymizes(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv", spike=20.0)
    result = run("leaderboard", str(csv), "--tz", "UTC", "--rank-by", "cost", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    rows = doc["rows"]
    assert [r["user"] for r in rows] == [f"{u}@corp.com" for u in ("fay", *USERS[:5])]
    assert rows[0]["rank"] == 1
    assert rows[0]["cost_usd"] == 29.0  # nine $1 days and the $20 spike
    # Six active users: emerald and platinum cover ceil(0.06) = ceil(0.3) = 1 rank, gold 1,
    # silver ceil(1.5) = 2, bronze 3; rank 1 takes the rarest badge.
    assert [r["badge"] for r in rows] == ["emerald", "silver", "bronze", None, None, None]
    assert doc["totals"]["active"] == 6
    assert doc["totals"]["window_end"] == "2025-09-10"
    # Every user has 11,000 tokens; fay's spike day has the same tokens, so the name decides.
    assert rows[1]["titles"] == ["Token Legend", "Model Connoisseur"]
    hidden = run(
        "leaderboard", str(csv), "--tz", "UTC", "--rank-by", "cost", "--json", "--anonymize"
    )
    names = [r["user"] for r in json.loads(hidden.stdout)["rows"]]
    assert all(n.startswith("user-") and "corp" not in n for n in names)
    again = run(
        "leaderboard", str(csv), "--tz", "UTC", "--rank-by", "cost", "--json", "--anonymize"
    )
    assert [r["user"] for r in json.loads(again.stdout)["rows"]] == names


def test_budget_over_exits_3_and_under_only_with_the_flag(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv", spike=20.0)
    over = run("budget", str(csv), "--tz", "UTC", "--max", "15", "--json")
    assert over.returncode == 3, over.stderr
    rows = {r["user"]: r for r in json.loads(over.stdout)["rows"]}
    fay = rows["fay@corp.com"]
    # September, as of the 10th: $29 spent in 10 days, projected over 30 days = $87.
    assert fay["spend_usd"] == pytest.approx(29.0)
    assert fay["projected_usd"] == pytest.approx(87.0)
    assert fay["status"] == "over"
    assert rows["ann@corp.com"]["status"] == "ok"
    assert rows["ann@corp.com"]["period"] == "2025-09"
    under = run("budget", str(csv), "--tz", "UTC", "--min", "50", "--max", "500", "--json")
    assert under.returncode == 0
    assert {r["status"] for r in json.loads(under.stdout)["rows"]} == {"under", "ok"}
    flagged = run("budget", str(csv), "--tz", "UTC", "--min", "50", "--fail-on-under")
    assert flagged.returncode == 3


def test_budgets_from_the_config(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[[budgets]]\nscope = "user"\nsource = "cursor"\nperiod = "week"\nmax_usd = 5.0\n'
    )
    result = run("budget", str(csv), "--tz", "UTC", "--json", "--config", str(cfg))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    # 2025-09-10 is a Wednesday: the week from Monday the 8th holds three $1 days, so $3 spent
    # and $7 projected for the week: over the $5 ceiling only in projection, so "ok".
    assert len(rows) == 6
    assert {(r["period"], r["source"], r["spend_usd"], r["status"]) for r in rows} == {
        ("2025-W37", "cursor", 3.0, "ok")
    }
    assert [r["projected_usd"] for r in rows] == pytest.approx([7.0] * 6)


def test_bad_budget_in_config_names_the_key(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[budgets]]\nscope = "planet"\nmax_usd = 5.0\n')
    result = run("budget", str(csv), "--config", str(cfg))
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {cfg}")
    assert "budgets" in result.stderr.splitlines()[0]


def test_organization_rows_stay_off_the_board_and_budgets(tmp_path: Path) -> None:
    csv = team_csv(tmp_path / "team.csv")
    org = tmp_path / "copilot.csv"
    org.write_text(
        '"date","username","product","sku","model","quantity","unit_type",'
        '"applied_cost_per_quantity","gross_amount","discount_amount","net_amount",'
        '"exceeds_quota","total_monthly_quota","organization","cost_center_name"\n'
        '"2025-09-10","","copilot","copilot_premium_request","Code Review model","500",'
        '"requests","0.04","20.0","0","20.0","FALSE","0","corp",""\n'
    )
    board = run("leaderboard", str(csv), str(org), "--tz", "UTC", "--json", "--rank-by", "cost")
    assert board.returncode == 0, board.stderr
    users = [r["user"] for r in json.loads(board.stdout)["rows"]]
    assert "(organization)" not in users and len(users) == 6
    budget = run("budget", str(csv), str(org), "--tz", "UTC", "--json", "--max", "15")
    assert "(organization)" not in {r["user"] for r in json.loads(budget.stdout)["rows"]}
    report = run("report", str(csv), str(org), "--tz", "UTC", "--json", "--by", "user")
    assert "(organization)" in {r["user"] for r in json.loads(report.stdout)["rows"]}
