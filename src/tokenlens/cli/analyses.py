"""Shared pieces of the analysis commands: options, rules from the config, and output."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tokenlens.cli import common, inputs

if TYPE_CHECKING:
    import polars as pl

    from tokenlens.config import Config
    from tokenlens.errors import Notice


class FailOn(str, Enum):
    warn = "warn"
    critical = "critical"


FAIL_ON = typer.Option(
    None, "--fail-on", help="Exit 3 when any flag reaches this severity (for cron alerts)."
)


def select(
    paths: list[Path] | None,
    *,
    store: Path | None,
    user: str | None,
    until: str | None,
    tz: str | None,
    source: list[str] | None,
    model: list[str] | None,
    project: list[str] | None,
    cost_mode: common.CostModeOpt,
    config_file: Path | None,
) -> inputs.Selection:
    """Rows for an analysis: no --since (each analysis has its own window ending at `until`).

    Rows attributed to the organization rather than a person are left out: they would rank,
    trip outlier rules and get budgets as if they were a user.
    """
    sel = inputs.select(
        paths,
        store=store,
        user=user,
        since=None,
        until=until,
        tz=tz,
        sources=source,
        models=model,
        projects=project,
        cost_mode=cost_mode.value,
        config_file=config_file,
    )
    import polars as pl

    from tokenlens import schema

    sel.rows = sel.rows.filter(pl.col("user") != schema.ORGANIZATION)
    return sel


def from_config(cfg: Config, section: str, cls: type[Any], values: dict[str, Any]) -> Any:
    """A rules dataclass from a config section, naming the bad key when there is one."""
    from tokenlens.errors import ConfigError

    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            raise cfg.fail(f"{section}.{key}", f"unknown; known: {', '.join(sorted(names))}")
    try:
        return cls(**values)
    except (ConfigError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise cfg.fail(section, message) from None


def emit(
    output: common.Format,
    *,
    command: str,
    sel: inputs.Selection,
    rows: pl.DataFrame,
    totals: dict[str, Any],
    group_by: list[str],
    notices: list[Notice],
    title: str,
    keys: list[str],
    extra_filters: dict[str, Any] | None = None,
) -> None:
    common.warn_all(notices)
    if output is common.Format.table:
        from tokenlens.render import analyses as view
        from tokenlens.render.console import stdout

        view.render(stdout(), title=title, frame=rows, keys=keys, summary=totals)
        return
    common.emit_frame(
        output,
        command=command,
        generated=datetime.now(UTC),
        filters={**sel.filters, **(extra_filters or {})},
        group_by=group_by,
        totals=totals,
        rows=rows,
        notices=notices,
        title=title,
    )
