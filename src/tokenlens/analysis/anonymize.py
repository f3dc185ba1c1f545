"""Stable salted pseudonyms, so a board can be shared without leaking names.

A pseudonym is `<prefix>-` and the first 16 hex digits (64 bits) of HMAC-SHA256(salt, name):
the same name and salt always give the same pseudonym, another salt gives an unrelated one, and
without the salt a name cannot be recovered or confirmed by guessing. 64 bits keep the chance of
any collision among 85,000 names below 1 in 10^9. The salt must be at least 16 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

import polars as pl

from tokenlens.errors import TokenlensError

MIN_SALT_BYTES: Final = 16
_HEX_DIGITS: Final = 16


def pseudonym(name: str, salt: bytes, *, prefix: str = "user") -> str:
    """`user-` and 16 hex digits of HMAC-SHA256(salt, name), e.g. `user-3f9a2c1b0d4e5f60`."""
    _check_salt(salt)
    digest = hmac.new(salt, name.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:_HEX_DIGITS]}"


def pseudonymize(
    frame: pl.DataFrame, column: str, salt: bytes, *, prefix: str | None = None
) -> pl.DataFrame:
    """Replace the names in `column` by their pseudonyms (nulls stay null).

    Meant for a small output frame: each distinct name is hashed once. The prefix defaults to the
    column's name (`user-...`, `team-...`).
    """
    _check_salt(salt)
    tag = column if prefix is None else prefix
    names = frame.get_column(column).drop_nulls().unique().to_list()
    mapping = {name: pseudonym(name, salt, prefix=tag) for name in names}
    return frame.with_columns(
        pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.String)
    )


def _check_salt(salt: bytes) -> None:
    if len(salt) < MIN_SALT_BYTES:
        raise TokenlensError(
            f"the anonymization salt has {len(salt)} bytes; it needs at least {MIN_SALT_BYTES}",
            hint="Set anonymize.salt in the config to a long random string, or remove it.",
        )
