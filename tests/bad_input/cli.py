"""Running tokenlens on bad input the way a user does, and reading what it said.

The CLI runs in this process through its console entry point (`tokenlens.cli.main`), so the error
boundary, the exit codes and both streams are the real ones, and a test may stand in for the file
system (an unreadable file when the tests run as root).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tokenlens.cli import main

BAD = FIXTURES / "bad"
TOKENS = ("input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens")

Warning = tuple[str, int | None, str | None]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def doc(self) -> dict[str, Any]:
        assert self.code == 0, self.stderr
        assert "Traceback" not in self.stderr
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    def totals(self) -> dict[str, Any]:
        """Events and token totals of the report."""
        totals = self.doc()["totals"]
        return {k: totals[k] for k in ("events", *TOKENS, "total_tokens")}

    def warnings(self) -> list[Warning]:
        """(message, count, where) of each warning, pricing's aside."""
        return [
            (w["message"], w.get("count"), w.get("path"))
            for w in self.doc()["warnings"]
            if not w["message"].startswith("no price known")
        ]


def tokenlens(*args: str) -> Outcome:
    """`tokenlens ARGS...`: exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["tokenlens", *args]
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    assert isinstance(code, int), code
    return Outcome(code, out.getvalue(), err.getvalue())


def report(*args: str) -> Outcome:
    """`tokenlens report ARGS... --json --tz UTC`."""
    return tokenlens("report", *args, "--json", "--tz", "UTC")


def totals(events: int, inp: int, write: int, read: int, out: int) -> dict[str, int]:
    return {
        "events": events,
        "input_tokens": inp,
        "cache_write_tokens": write,
        "cache_read_tokens": read,
        "output_tokens": out,
        "total_tokens": inp + write + read + out,
    }


# The totals of the three good lines every Claude Code case carries (110 + 1,220 + 830 tokens).
CLAUDE_ABC = totals(3, 600, 500, 1000, 60)
# The three rows of the Cursor CSV cases (3,340 + 560 + 10,100 tokens).
CURSOR_ROWS = totals(3, 700, 1100, 12000, 200)


def assert_refused(outcome: Outcome, error: str, hint: str) -> None:
    """Exit 1 with one `Error:` line and one `Hint:` line, nothing on stdout, no traceback."""
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert outcome.stdout == ""
    assert "Traceback" not in outcome.stderr
    lines = outcome.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == f"Error: {error}"
    assert lines[1].startswith(f"Hint: {hint}"), lines[1]


@contextlib.contextmanager
def unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`path` (a file or a folder) cannot be read while the block runs.

    `chmod 000` does it for an ordinary user. Root reads through any mode, so there opening the
    file or listing the folder is made to fail with the error the system would give.
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    target = os.path.realpath(path)

    def refused(name: Any) -> bool:
        return isinstance(name, str | bytes | os.PathLike) and os.path.realpath(name) == target

    def denied(name: Any) -> PermissionError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(name))

    real_open, real_os_open, real_scandir = io.open, os.open, os.scandir

    def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if refused(file):
            raise denied(file)
        return real_open(file, *args, **kwargs)

    def fake_os_open(file: Any, *args: Any, **kwargs: Any) -> int:
        if refused(file):
            raise denied(file)
        return real_os_open(file, *args, **kwargs)

    def fake_scandir(folder: Any = ".") -> Any:
        if refused(folder):
            raise denied(folder)
        return real_scandir(folder)

    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", fake_open)
        patch.setattr(io, "open", fake_open)
        patch.setattr(os, "open", fake_os_open)
        patch.setattr(os, "scandir", fake_scandir)
        yield
