"""Configuration: a TOML file and environment variables, in platformdirs locations."""

from __future__ import annotations

import getpass
import os
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
    path: Path | None = None
    user: str | None = None
    price_models: dict[str, dict[str, float]] = field(default_factory=dict)
    price_aliases: dict[str, str] = field(default_factory=dict)
    price_discount: float = 1.0


def _fail(path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(
        f"{path}: key {key!r}: {problem}",
        hint="Fix the file, or run `tokenlens config show` to see the expected keys.",
    )


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
        data = tomllib.loads(target.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{target}: {exc}", hint="Fix the TOML syntax at that line.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: cannot read: {exc}", hint="Check the file.") from exc
    return _parse(target, data)


def _parse(path: Path, data: dict[str, Any]) -> Config:
    cfg = Config(path=path)
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise _fail(path, "user", "must be a string")
    cfg.user = user
    pricing = data.get("pricing", {})
    if not isinstance(pricing, dict):
        raise _fail(path, "pricing", "must be a table")
    discount = pricing.get("discount", 1.0)
    if not isinstance(discount, int | float) or not 0 < discount <= 10:
        raise _fail(path, "pricing.discount", "must be a number between 0 and 10")
    cfg.price_discount = float(discount)
    aliases = pricing.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise _fail(path, "pricing.aliases", "must map model ids to model ids")
    cfg.price_aliases = dict(aliases)
    models = pricing.get("models", {})
    if not isinstance(models, dict):
        raise _fail(path, "pricing.models", "must be a table of models")
    allowed = {
        "input_mtok",
        "output_mtok",
        "cache_read_mtok",
        "cache_write_mtok",
        "cache_write_1h_mtok",
    }
    for name, prices in models.items():
        if not isinstance(prices, dict):
            raise _fail(path, f"pricing.models.{name}", "must be a table of prices")
        for key, value in prices.items():
            if key not in allowed:
                raise _fail(path, f"pricing.models.{name}.{key}", f"unknown; use {sorted(allowed)}")
            if not isinstance(value, int | float) or value < 0:
                raise _fail(path, f"pricing.models.{name}.{key}", "must be a number >= 0")
        cfg.price_models[name] = {k: float(v) for k, v in prices.items()}
    return cfg
