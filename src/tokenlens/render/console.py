"""Consoles: stdout for results, stderr for warnings, errors and progress.

Messages to a stderr that is a file or a pipe (cron, CI, `2>log`) are plain text, as Rich would
write them there, but without loading Rich (about 0.1 s).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def stdout() -> Console:
    """Results. Width: COLUMNS, else the terminal, else 100 when piped."""
    from rich.console import Console

    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() else None
    if width is None and not sys.stdout.isatty():
        width = 100
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)


def stderr() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def _plain() -> bool:
    """True when Rich would write stderr without styles: not a terminal, colour not forced."""
    forced = os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE")
    return not forced and not sys.stderr.isatty()


def _say(style: str, label: str, message: str) -> None:
    if _plain():
        sys.stderr.write(f"{label} {message}\n" if label else f"{message}\n")
        return
    from rich.markup import escape

    text = f"[{style}]{label}[/] {escape(message)}" if label else escape(message)
    stderr().print(text, markup=True, highlight=False)


def error(message: str, hint: str | None) -> None:
    _say("bold red", "Error:", message)
    if hint:
        _say("dim", "Hint:", hint)


def warn(message: str) -> None:
    _say("yellow", "Warning:", message)


def info(message: str) -> None:
    _say("", "", message)
