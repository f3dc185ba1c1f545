"""Configuration: a TOML file and environment variables, in platformdirs locations."""

from __future__ import annotations

import csv
import getpass
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from tokenlens.errors import ConfigError

APP = "tokenlens"


def default_store() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "store"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def store_from_env() -> Path | None:
    value = os.environ.get("TOKENLENS_STORE", "").strip()
    return Path(value).expanduser() if value else None


def local_timezone() -> str:
    """The IANA name of this machine's zone (TZ, then /etc/localtime), else UTC."""
    tz = os.environ.get("TZ", "").strip().lstrip(":")
    if (tz and "/" in tz) or tz == "UTC":
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def check_timezone(tz: str) -> None:
    """Refuse a zone name that is not in the IANA database."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {tz!r}",
            hint="Use an IANA name such as UTC, Europe/Paris or America/New_York.",
        ) from None


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class Config:
    """The settings a config file can hold; absent keys keep their documented defaults."""

    path: Path | None = None
    text: str = ""
    user: str | None = None
    price_models: dict[str, dict[str, float]] = field(default_factory=dict)
    price_aliases: dict[str, str] = field(default_factory=dict)
    price_discount: float = 1.0
    user_aliases: dict[str, str] = field(default_factory=dict)
    teams_file: Path | None = None
    teams: dict[str, str] = field(default_factory=dict)
    outliers: dict[str, Any] = field(default_factory=dict)
    leaderboard: dict[str, Any] = field(default_factory=dict)
    badges: dict[str, float] = field(default_factory=dict)
    budgets: list[dict[str, Any]] = field(default_factory=list)
    salt: str | None = None

    def fail(self, key: str, problem: str) -> ConfigError:
        """An error naming the file, the line and the key."""
        return ConfigError(
            f"{self.path}{_line_of(self.text, key)}: key {key!r}: {problem}",
            hint="Fix the file, or run `tokenlens config show` to see the expected keys.",
        )


def _line_of(text: str, key: str) -> str:
    """`:LINE` of the line that sets the key's last part, when it can be found."""
    leaf = key.rsplit(".", 1)[-1].split("[", 1)[0]
    pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(leaf)}[\"']?\s*(=|\])")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return f":{number}"
    return ""


def load(path: Path | None = None) -> Config:
    """Read the config file named, else TOKENLENS_CONFIG, else the default; absent is fine."""
    explicit = path or (
        Path(os.environ["TOKENLENS_CONFIG"]) if os.environ.get("TOKENLENS_CONFIG") else None
    )
    target = explicit or default_config_path()
    if not target.exists():
        if explicit:
            raise ConfigError(f"{target}: no such config file", hint="Check the --config path.")
        return Config()
    try:
        text = target.read_text("utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{target}: {exc}", hint="Fix the TOML syntax at that line.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: cannot read: {exc}", hint="Check the file.") from exc
    cfg = Config(path=target, text=text)
    _parse(cfg, data)
    return cfg


def _table(cfg: Config, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise cfg.fail(key, "must be a table")
    return value


def _number(cfg: Config, key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise cfg.fail(key, f"must be a number from {low:g} to {high:g}")
    return float(value)


def _parse(cfg: Config, data: dict[str, Any]) -> None:
    known = {
        "user",
        "pricing",
        "aliases",
        "teams_file",
        "outliers",
        "leaderboard",
        "budgets",
        "anonymize",
    }
    for key in data:
        if key not in known:
            raise cfg.fail(key, f"unknown setting; known: {', '.join(sorted(known))}")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise cfg.fail("user", "must be a string")
    cfg.user = user
    _parse_pricing(cfg, _table(cfg, data, "pricing"))
    aliases = _table(cfg, data, "aliases")
    for name, target in aliases.items():
        if not isinstance(target, str):
            raise cfg.fail(f"aliases.{name}", "must name one user, as a string")
    cfg.user_aliases = {str(k): str(v) for k, v in aliases.items()}
    teams_file = data.get("teams_file")
    if teams_file is not None:
        if not isinstance(teams_file, str):
            raise cfg.fail("teams_file", "must be a path, as a string")
        base = cfg.path.parent if cfg.path else Path.cwd()
        cfg.teams_file = (base / Path(teams_file).expanduser()).resolve()
        cfg.teams = load_teams(cfg.teams_file, cfg)
    cfg.outliers = dict(_table(cfg, data, "outliers"))
    board = dict(_table(cfg, data, "leaderboard"))
    badges = board.pop("badges", {})
    if not isinstance(badges, dict):
        raise cfg.fail("leaderboard.badges", "must be a table of badge = top share")
    cfg.badges = {
        str(k): _number(cfg, f"leaderboard.badges.{k}", v, 0.0, 1.0) for k, v in badges.items()
    }
    cfg.leaderboard = board
    budgets = data.get("budgets", [])
    if not isinstance(budgets, list) or not all(isinstance(b, dict) for b in budgets):
        raise cfg.fail("budgets", "must be an array of tables: [[budgets]]")
    cfg.budgets = [dict(b) for b in budgets]
    salt = _table(cfg, data, "anonymize").get("salt")
    if salt is not None and (not isinstance(salt, str) or len(salt) < 16):
        raise cfg.fail("anonymize.salt", "must be a string of at least 16 characters")
    cfg.salt = salt


def _parse_pricing(cfg: Config, pricing: dict[str, Any]) -> None:
    cfg.price_discount = _number(cfg, "pricing.discount", pricing.get("discount", 1.0), 0.0, 10.0)
    aliases = pricing.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise cfg.fail("pricing.aliases", "must map model ids to model ids")
    cfg.price_aliases = dict(aliases)
    models = pricing.get("models", {})
    if not isinstance(models, dict):
        raise cfg.fail("pricing.models", "must be a table of models")
    allowed = {
        "input_mtok",
        "output_mtok",
        "cache_read_mtok",
        "cache_write_mtok",
        "cache_write_1h_mtok",
    }
    for name, prices in models.items():
        if not isinstance(prices, dict):
            raise cfg.fail(f"pricing.models.{name}", "must be a table of prices")
        for key, value in prices.items():
            if key not in allowed:
                raise cfg.fail(f"pricing.models.{name}.{key}", f"unknown; use {sorted(allowed)}")
            _number(cfg, f"pricing.models.{name}.{key}", value, 0.0, 1e6)
        cfg.price_models[name] = {k: float(v) for k, v in prices.items()}


_TEAM_USER_COLUMNS = ("user", "email", "login", "username", "name", "employee")
_TEAM_COLUMNS = ("team", "group", "department", "org", "squad")


def load_teams(path: Path, cfg: Config | None = None) -> dict[str, str]:
    """user -> team from a CSV with a header (an HR export): the first user-like and team-like
    columns by name; later rows win for a user listed twice."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = {f.strip().lower(): f for f in reader.fieldnames or []}
            user_col = next((fields[c] for c in _TEAM_USER_COLUMNS if c in fields), None)
            team_col = next((fields[c] for c in _TEAM_COLUMNS if c in fields), None)
            if user_col is None or team_col is None:
                raise ConfigError(
                    f"{path}: teams file needs a user column ({', '.join(_TEAM_USER_COLUMNS)}) "
                    f"and a team column ({', '.join(_TEAM_COLUMNS)})",
                    hint="Give the CSV a header row such as: user,team",
                )
            return {
                row[user_col].strip(): row[team_col].strip()
                for row in reader
                if row.get(user_col) and row.get(team_col)
            }
    except OSError as exc:
        where = f" (teams_file in {cfg.path})" if cfg and cfg.path else ""
        raise ConfigError(
            f"{path}: cannot read the teams file{where}: {exc.strerror}",
            hint="Fix teams_file in the config, or create the CSV.",
        ) from exc


def salt_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "anonymize.salt"


def anonymize_salt(cfg: Config) -> bytes:
    """The config's salt, else one kept in the data folder (made on first use)."""
    if cfg.salt:
        return cfg.salt.encode()
    path = salt_path()
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import secrets  # only here: the salt is made once

    salt = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(salt)
    return salt
