"""`tokenlens leaderboard`: who used most, who spent most, and the waste beside the volume."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import typer

from tokenlens.cli import analyses, common
from tokenlens.cli.app import app


class RankBy(str, Enum):
    tokens = "tokens"
    cost = "cost"
    usd_per_mtok = "usd-per-mtok"
    lines_added = "lines-added"
    efficiency = "efficiency"


class BoardBy(str, Enum):
    user = "user"
    team = "team"


def _days(text: str) -> int:
    match = re.fullmatch(r"(\d+)([dw])", text.strip().lower())
    if not match or int(match.group(1)) < 1:
        raise typer.BadParameter(
            f"{text!r} is not a window such as 30d or 4w", param_hint="--window"
        )
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


@app.command()
def leaderboard(
    paths: list[Path] | None = common.PATHS,
    window: str | None = typer.Option(
        None, "--window", help="Days ranked, ending at --until or the last event (default 30d)."
    ),
    top: int | None = typer.Option(None, "--top", min=1, help="Rows shown (default 250)."),
    rank_by: RankBy | None = typer.Option(None, "--rank-by", help="What ranks (default tokens)."),
    by: BoardBy = typer.Option(BoardBy.user, "--by", help="Rank users or teams."),
    anonymize: bool = typer.Option(
        False, "--anonymize", help="Stable salted pseudonyms instead of names, to share the board."
    ),
    store: Path | None = common.STORE,
    user: str | None = common.USER,
    until: str | None = common.UNTIL,
    tz: str | None = common.TZ,
    source: list[str] | None = common.SOURCE,
    model: list[str] | None = common.MODEL,
    project: list[str] | None = common.PROJECT,
    fmt: common.Format = common.FORMAT,
    json_: bool = common.JSON,
    cost_mode: common.CostModeOpt = common.COST_MODE,
    config_file: Path | None = common.CONFIG,
) -> None:
    """Rank users with badges (emerald to bronze by percentile) and titles, with cost, $/Mtok,
    cache-hit ratio, lines per Mtok and the share of tokens in flagged sessions beside the rank."""
    sel = analyses.select(
        paths,
        store=store,
        user=user,
        until=until,
        tz=tz,
        source=source,
        model=model,
        project=project,
        cost_mode=cost_mode,
        config_file=config_file,
    )
    import polars as pl

    from tokenlens.analysis import leaderboard as board
    from tokenlens.analysis import outliers

    cfg = sel.cfg
    settings = dict(cfg.leaderboard)
    known = {"window_days", "top", "rank_by", "cache_wizard_min_tokens"}
    for key in settings:
        if key not in known:
            raise cfg.fail(f"leaderboard.{key}", f"unknown; known: {', '.join(sorted(known))}")
    days = _days(window) if window else int(settings.get("window_days", 30))
    badges = dict(board.DEFAULT_BADGES)
    badges.update(cfg.badges)
    badge_list = tuple(badges.items())
    metric = rank_by.value if rank_by else str(settings.get("rank_by", "tokens"))
    shown = top or int(settings.get("top", 250))
    summary: dict[str, object] = {"active": 0, "window_start": None, "window_end": sel.end}
    if sel.end is None:
        rows = pl.DataFrame(schema=board.output_schema(by.value))
    else:
        rules = analyses.from_config(
            cfg, "outliers", outliers.OutlierRules, {**cfg.outliers, "days": days}
        )
        rows, active = board.ranked(
            sel.rows,
            until=sel.end,
            window_days=days,
            tz=sel.tz,
            top=shown,
            rank_by=metric,
            badges=badge_list,
            cache_wizard_min_tokens=int(settings.get("cache_wizard_min_tokens", 1_000_000)),
            flag_rules=rules,
            by=by.value,
        )
        first, last = board.window(sel.end, days)
        cutoffs = board.badge_cutoffs(badge_list, active)
        summary = {
            "active": active,
            "window_start": first,
            "window_end": last,
            "rank_by": metric,
            "badge_cutoffs": cutoffs.to_dicts(),
        }
    if anonymize:
        from tokenlens import config
        from tokenlens.analysis import anonymize as anon

        rows = anon.pseudonymize(rows, by.value, config.anonymize_salt(cfg))
    output = common.Format.json if json_ else fmt
    if output is not common.Format.json:
        rows = rows.with_columns(
            pl.col("titles").list.join(", "),
            pl.col("title_values")
            .list.eval(
                pl.concat_str(
                    pl.element().struct.field("title"),
                    pl.lit(": "),
                    pl.element().struct.field("value").round(2).cast(pl.String),
                    pl.lit(" "),
                    pl.element().struct.field("unit"),
                )
            )
            .list.join("; "),
        )
    analyses.emit(
        output,
        command="leaderboard",
        sel=sel,
        rows=rows,
        totals=summary,
        group_by=[by.value],
        notices=sel.notices,
        title="Leaderboard",
        keys=["rank", by.value, "badge"],
        extra_filters={"window_days": days, "rank_by": metric, "anonymize": anonymize},
    )
