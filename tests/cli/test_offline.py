"""No command opens a network connection: prices come from the data shipped with genai-prices.

Every socket is blocked for the whole test, and every command the CLI registers is run on the
sample data (all six formats, with a config of aliases, teams and budgets). A command added
later without a case here fails `test_every_command_is_covered`.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.conftest import ROOT
from tokenlens.cli import app

runner = CliRunner()
SAMPLE = ROOT / "sample_data"
CONFIG = SAMPLE / ".tokenlens" / "config.toml"


class NetworkBlockedError(AssertionError):
    """Raised by any attempt to resolve a host or open an internet socket."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def blocked(*args: object, **kwargs: object) -> Any:
            attempts.append(f"{what}{args!r}")
            raise NetworkBlockedError(f"network access attempted: {what}")

        return blocked

    class GuardedSocket(socket.socket):
        def __init__(self, family: int = -1, *args: Any, **kwargs: Any) -> None:
            if family in (socket.AF_INET, socket.AF_INET6, -1):
                attempts.append(f"socket({family})")
                raise NetworkBlockedError("network access attempted: socket()")
            super().__init__(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", refuse("gethostbyname"))
    yield attempts


def command_paths(group: typer.Typer, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every leaf command the application registers, as its words on the command line."""
    found: set[tuple[str, ...]] = set()
    for cmd in group.registered_commands:
        name = cmd.name or (cmd.callback.__name__ if cmd.callback else "")
        found.add((*prefix, name.replace("_", "-")))
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        group_name = sub.name or sub.typer_instance.info.name
        assert isinstance(group_name, str)
        found |= command_paths(sub.typer_instance, (*prefix, group_name))
    return found


def cases(store: Path) -> dict[tuple[str, ...], list[str]]:
    data = str(SAMPLE)
    common = ["--config", str(CONFIG), "--tz", "UTC"]
    return {
        ("ingest",): ["ingest", data, "--store", str(store), "--config", str(CONFIG)],
        ("report",): ["report", data, *common, "--by", "source", "--json"],
        ("export",): ["export", "--store", str(store), *common, "--format", "csv"],
        ("sources",): ["sources", "--json"],
        ("prices",): ["prices", "--path", data, "--config", str(CONFIG), "--json"],
        ("outliers",): ["outliers", "--store", str(store), *common, "--json"],
        ("leaderboard",): ["leaderboard", "--store", str(store), *common, "--json"],
        ("budget",): ["budget", "--store", str(store), *common, "--json"],
        ("config", "show"): ["config", "show", "--config", str(CONFIG)],
        ("store", "check"): ["store", "check", "--store", str(store)],
        ("store", "compact"): ["store", "compact", "--store", str(store)],
    }


def test_every_command_is_covered(tmp_path: Path) -> None:
    assert command_paths(app) == set(cases(tmp_path))


def test_every_command_runs_with_sockets_blocked(
    tmp_path: Path, no_network: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    store = tmp_path / "store"
    ran = []
    for path, args in cases(store).items():  # ingest first: the later commands read its store
        result = runner.invoke(app, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            path,
            result.exception,
        )
        assert result.exit_code == 0, (path, result.output)
        ran.append(path)
        if "--json" in args:
            json.loads(result.stdout)
    assert no_network == []
    assert len(ran) == len(cases(store))


def test_the_guard_does_catch_a_connection(no_network: list[str]) -> None:
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("example.com", 443))
    with pytest.raises(NetworkBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert len(no_network) == 2
