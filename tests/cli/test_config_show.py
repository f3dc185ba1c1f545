"""`tokenlens config show` prints every threshold with its default, as a config that loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.cli.helpers import run
from tokenlens import config


def test_show_lists_defaults_and_is_a_valid_config(tmp_path: Path) -> None:
    result = run("config", "show")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "team_z = 3.5" in text
    assert "self_ratio = 5.0" in text
    assert "team_median_ratio = 10.0" in text
    assert "emerald = 0.01" in text
    assert "window_days = 30" in text
    data = tomllib.loads(text)
    assert data["outliers"]["days"] == 30
    saved = tmp_path / "config.toml"
    saved.write_text(text)
    cfg = config.load(saved)
    assert cfg.outliers["team_z"] == 3.5


def test_show_marks_values_set_in_the_file(tmp_path: Path) -> None:
    saved = tmp_path / "config.toml"
    saved.write_text("[outliers]\nteam_z = 4.5\n")
    result = run("config", "show", "--config", str(saved))
    assert "team_z = 4.5   # set in the config file" in result.stdout


def test_show_names_the_price_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenlens import rate_cache

    path = rate_cache.default_path()
    assert path is not None
    assert f"# price cache: {path} (not written yet)" in run("config", "show").stdout
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    assert f"# price cache: {path}\n" in run("config", "show").stdout
    monkeypatch.setenv(rate_cache.ENV_OFF, "0")
    assert "# price cache: off (TOKENLENS_PRICE_CACHE=0)" in run("config", "show").stdout
