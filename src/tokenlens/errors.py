"""The project's error and warning types, shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass


class TokenlensError(Exception):
    """A user or data error: one line of message plus a hint on how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(TokenlensError):
    """A path or file the user named cannot be used."""


class StoreError(TokenlensError):
    """The store cannot be read or written."""


class ConfigError(TokenlensError):
    """The configuration file is invalid."""


@dataclass(frozen=True)
class Notice:
    """A counted warning: something was skipped or could not be priced.

    `count` is how many items it covers (None when nothing was counted).
    """

    message: str
    count: int | None = None
    path: str | None = None
