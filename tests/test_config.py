"""The config file: defaults when absent, every setting read, errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenlens import config
from tokenlens.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_absent_default_config_is_fine() -> None:
    cfg = config.load()
    assert cfg.path is None and cfg.user is None and cfg.budgets == []


def test_every_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "teams.csv").write_text("Email,Department\nalice@corp.com,Payments\nbob,Search\n")
    cfg = config.load(
        _write(
            tmp_path,
            """
user = "alice"
teams_file = "teams.csv"

[aliases]
"alice@corp.com" = "alice"
"alice-gh" = "alice"

[pricing]
discount = 0.85
[pricing.models."acme-coder"]
input_mtok = 1.0

[outliers]
team_z = 4.0

[leaderboard]
window_days = 7
[leaderboard.badges]
emerald = 0.02

[[budgets]]
scope = "user"
source = "claude_code"
period = "month"
min_usd = 100
max_usd = 250

[anonymize]
salt = "0123456789abcdef0123"
""",
        )
    )
    assert cfg.user == "alice"
    assert cfg.user_aliases == {"alice@corp.com": "alice", "alice-gh": "alice"}
    assert cfg.teams == {"alice@corp.com": "Payments", "bob": "Search"}
    assert cfg.price_discount == 0.85
    assert cfg.price_models == {"acme-coder": {"input_mtok": 1.0}}
    assert cfg.outliers == {"team_z": 4.0}
    assert cfg.leaderboard == {"window_days": 7}
    assert cfg.badges == {"emerald": 0.02}
    assert cfg.budgets[0]["max_usd"] == 250
    assert config.anonymize_salt(cfg) == b"0123456789abcdef0123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('user = "a"\n\n[pricing]\ndiscount = "lots"\n', ":4: key 'pricing.discount'"),
        ('[aliases]\n"alice-gh" = 3\n', ":2: key 'aliases.alice-gh'"),
        ("colour = 1\n", ":1: key 'colour': unknown setting"),
        ("[leaderboard.badges]\nemerald = 5\n", ":2: key 'leaderboard.badges.emerald'"),
        ("[pricing\n", "Expected ']'"),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(path) in caught.value.message
    assert expected in caught.value.message


def test_teams_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    (tmp_path / "teams.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="teams file needs a user column"):
        config.load(_write(tmp_path, 'teams_file = "teams.csv"\n'))


def test_salt_is_created_once_and_kept(tmp_path: Path) -> None:
    cfg = config.Config()
    first = config.anonymize_salt(cfg)
    assert len(first) == 64
    assert config.anonymize_salt(cfg) == first
    assert config.salt_path().stat().st_mode & 0o077 == 0
