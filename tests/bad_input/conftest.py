"""Tests here name corpus files relative to `tests/fixtures/bad`, as a user names files in the
folder they are in, so warnings show the short paths the user typed."""

from __future__ import annotations

import pytest

from tests.bad_input.cli import BAD


@pytest.fixture
def corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
