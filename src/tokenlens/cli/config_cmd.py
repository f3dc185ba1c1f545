"""`tokenlens config`: the settings in force, every threshold with its documented default."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
from pathlib import Path
from typing import Any

import typer

from tokenlens.cli import common
from tokenlens.cli.app import app

config_app = typer.Typer(help="Show the configuration in force.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def field_docs(cls: type[Any]) -> dict[str, str]:
    """The first sentence of each dataclass field's docstring (the string right after it)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            text = " ".join(after.value.value.split())
            docs[node.target.id] = text.split(". ")[0].rstrip(".")
    return docs


def _toml(value: Any) -> str:
    if value is None:
        return "(off)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return f"{value:.1f}"
    return repr(value)


def _section(name: str, cls: type[Any], values: dict[str, Any]) -> list[str]:
    docs = field_docs(cls)
    lines = [f"[{name}]"]
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        value = values.get(f.name, default)
        mark = "" if f.name not in values else "   # set in the config file"
        lines.append(f"# {docs.get(f.name, '')} (default {_toml(default)})")
        setting = f"{f.name} = {_toml(value)}{mark}"
        lines.append(setting if value is not None else f"# {setting}")
    return [*lines, ""]


@config_app.command("show")
def show(config_file: Path | None = common.CONFIG) -> None:
    """Print the settings in force as TOML, each threshold with its default and meaning."""
    from tokenlens import config
    from tokenlens.analysis import outliers

    cfg = config.load(config_file)
    where = cfg.path or config.default_config_path()
    out = [
        f"# config file: {where}" + ("" if cfg.path else " (absent: every default applies)"),
        f"# store: {config.store_from_env() or config.default_store()}",
        f"# anonymization salt: {'in the config' if cfg.salt else config.salt_path()}",
        f"# price cache: {_price_cache()}",
        "",
        (f"user = {_toml(cfg.user)}" if cfg.user else "# user = (off)")
        + "  # name for local logs (else TOKENLENS_USER, else the login)",
        (
            f"teams_file = {_toml(str(cfg.teams_file))}  # {len(cfg.teams)} users"
            if cfg.teams_file
            else "# teams_file = (off)  # a CSV with user and team columns"
        ),
        "",
        "[aliases]  # other names of one user",
        *(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in sorted(cfg.user_aliases.items())),
        "",
        "[pricing]",
        f"discount = {_toml(cfg.price_discount)}  # multiplies every computed cost",
        "[pricing.aliases]  # price a model as another",
        *(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in sorted(cfg.price_aliases.items())),
        *(
            line
            for name, prices in sorted(cfg.price_models.items())
            for line in (
                f"[pricing.models.{json.dumps(name)}]",
                *(f"{k} = {_toml(v)}" for k, v in prices.items()),
            )
        ),
        "",
        *_section("outliers", outliers.OutlierRules, cfg.outliers),
        *_leaderboard_lines(cfg),
        *_budget_lines(cfg),
    ]
    common.emit("\n".join(out).rstrip() + "\n")


def _leaderboard_lines(cfg: Any) -> list[str]:
    from tokenlens.analysis import leaderboard

    signature = inspect.signature(leaderboard.ranked)
    lines = ["[leaderboard]"]
    for name in ("window_days", "top", "rank_by", "cache_wizard_min_tokens"):
        default = signature.parameters[name].default
        lines.append(f"{name} = {_toml(cfg.leaderboard.get(name, default))}  # default {default!r}")
    lines.append("[leaderboard.badges]  # badge = top share of active users")
    badges = dict(leaderboard.DEFAULT_BADGES)
    badges.update(cfg.badges)
    lines += [f"{name} = {_toml(share)}" for name, share in badges.items()]
    return [*lines, ""]


def _budget_lines(cfg: Any) -> list[str]:
    if not cfg.budgets:
        return [
            "# budgets: none. Example (Salesforce-style monthly floor and ceiling per tool):",
            "# [[budgets]]",
            '# scope = "user"        # user, team or source',
            '# source = "claude_code"',
            '# period = "month"      # day, week or month',
            "# min_usd = 100.0",
            "# max_usd = 250.0",
        ]
    lines = []
    for budget in cfg.budgets:
        lines.append("[[budgets]]")
        lines += [f"{k} = {_toml(v)}" for k, v in budget.items()]
    return lines


def _price_cache() -> str:
    """Where resolved prices are kept between runs (see `rate_cache`)."""
    from tokenlens import rate_cache

    path = rate_cache.default_path()
    if path is None:
        return f"off ({rate_cache.ENV_OFF}=0)"
    return str(path) + ("" if path.is_file() else " (not written yet)")
