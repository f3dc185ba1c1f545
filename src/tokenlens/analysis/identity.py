"""One person, one name: user aliases across sources, and the team each user belongs to."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl


def apply_identities(
    lf: pl.LazyFrame,
    *,
    aliases: Mapping[str, str] | None = None,
    teams: Mapping[str, str] | None = None,
) -> pl.LazyFrame:
    """Rename users by their aliases (case-insensitive) and add `team` (null when unknown).

    `alice@corp.com` in Cursor, `alice-gh` in Copilot and `alice` in Claude Code become one user
    when the aliases map them to it; teams are looked up after renaming, by the final name or by
    any of its aliases.
    """
    folded = {k.lower(): v for k, v in (aliases or {}).items()}
    user = pl.col("user")
    if folded:
        user = user.str.to_lowercase().replace_strict(folded, default=user, return_dtype=pl.String)
    lf = lf.with_columns(user.alias("user"))
    team_of = {k.lower(): v for k, v in (teams or {}).items()}
    for alias, name in folded.items():
        if alias in team_of:
            team_of.setdefault(name.lower(), team_of[alias])
    team = (
        pl.col("user")
        .str.to_lowercase()
        .replace_strict(team_of, default=None, return_dtype=pl.String)
        if team_of
        else pl.lit(None, pl.String)
    )
    return lf.with_columns(team.alias("team"))
