"""Consoles: stdout for results, stderr for warnings, errors and progress."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.markup import escape


def stdout() -> Console:
    """Results. Width: COLUMNS, else the terminal, else 100 when piped."""
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() else None
    if width is None and not sys.stdout.isatty():
        width = 100
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def error(message: str, hint: str | None) -> None:
    out = stderr()
    out.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False)
    if hint:
        out.print(f"[dim]Hint:[/] {escape(hint)}", markup=True, highlight=False)


def warn(message: str) -> None:
    stderr().print(f"[yellow]Warning:[/] {escape(message)}", markup=True, highlight=False)


def info(message: str) -> None:
    stderr().print(message, markup=False, highlight=False)
