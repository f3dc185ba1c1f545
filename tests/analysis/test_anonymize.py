"""Salted pseudonyms: stable for a salt, unrelated across salts, no collisions, no names."""

from __future__ import annotations

import hashlib
import hmac
import re

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenlens.analysis.anonymize import pseudonym, pseudonymize
from tokenlens.errors import TokenlensError

SALT = b"tokenlens-test-salt-0001"
OTHER_SALT = b"another-salt-of-16+bytes"
SHAPE = re.compile(r"^user-[0-9a-f]{16}$")


def names(n: int) -> list[str]:
    """n realistic names: emails, as Cursor and Claude Code report users."""
    return [f"engineer.{i:05d}@corp.example" for i in range(n)]


def test_pseudonym_is_stable_across_runs_and_versions() -> None:
    # Pinned: a board shared last month must keep the same pseudonyms with the same salt.
    assert pseudonym("alice@corp.example", SALT) == "user-121dfd8a5c2c99f7"
    assert pseudonym("red", SALT, prefix="team") == "team-5afa727ca9107a25"


def test_pseudonym_is_the_hmac_of_the_name() -> None:
    digest = hmac.new(SALT, b"bob", hashlib.sha256).hexdigest()
    assert pseudonym("bob", SALT) == f"user-{digest[:16]}"


def test_another_salt_gives_another_pseudonym() -> None:
    assert pseudonym("alice@corp.example", OTHER_SALT) == "user-f0a39ee8c636cd18"
    many = names(1000)
    first = {pseudonym(n, SALT) for n in many}
    second = {pseudonym(n, OTHER_SALT) for n in many}
    assert not first & second


def test_no_collisions_and_no_names_among_85000_users() -> None:
    everyone = names(85_000)
    out = [pseudonym(n, SALT) for n in everyone]
    assert len(set(out)) == 85_000
    assert all(SHAPE.match(p) for p in out)
    assert not any(n in p or n.split("@")[0] in p for n, p in zip(everyone, out, strict=True))


def test_pseudonymize_maps_each_name_once_and_keeps_the_rest() -> None:
    frame = pl.DataFrame(
        {"rank": [1, 2, 3, 4], "user": ["bob", "alice", "bob", None], "tokens": [9, 8, 7, 6]}
    )
    out = pseudonymize(frame, "user", SALT)
    expected = frame.with_columns(
        user=pl.Series(
            [pseudonym("bob", SALT), pseudonym("alice", SALT), pseudonym("bob", SALT), None],
            dtype=pl.String,
        )
    )
    assert_frame_equal(out, expected)
    assert out["user"][0] == "user-" + hmac.new(SALT, b"bob", hashlib.sha256).hexdigest()[:16]


def test_pseudonymize_names_the_prefix_after_the_column() -> None:
    frame = pl.DataFrame({"team": ["red", "blue"]})
    out = pseudonymize(frame, "team", SALT)
    assert out["team"].to_list() == [
        pseudonym("red", SALT, prefix="team"),
        pseudonym("blue", SALT, prefix="team"),
    ]
    assert out["team"][0] == "team-5afa727ca9107a25"


def test_pseudonymize_a_board_of_85000() -> None:
    everyone = names(85_000)
    out = pseudonymize(pl.DataFrame({"user": everyone}), "user", SALT)
    assert out["user"].n_unique() == 85_000
    assert out["user"][12345] == pseudonym(everyone[12345], SALT)
    assert out["user"].is_in(everyone).sum() == 0


def test_pseudonymize_an_empty_frame() -> None:
    frame = pl.DataFrame(schema={"user": pl.String, "rank": pl.Int64})
    assert_frame_equal(pseudonymize(frame, "user", SALT), frame)


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(TokenlensError, match="at least 16"):
        pseudonym("alice", b"short")
    with pytest.raises(TokenlensError, match="at least 16"):
        pseudonymize(pl.DataFrame({"user": ["alice"]}), "user", b"")
