"""The command line: parse options, call loaders, store, pricing and analyses, render.

Heavy libraries (polars, pyarrow, genai-prices) are imported inside the commands, so
`tokenlens --help` and `--version` stay instant.
"""

from __future__ import annotations

import sys

import typer

from tokenlens.cli import export, ingest, report  # registers the commands
from tokenlens.cli.app import app
from tokenlens.errors import TokenlensError

__all__ = ["app", "export", "ingest", "main", "report"]


def main() -> None:
    """Console entry point: one boundary turns project errors into `Error:` + `Hint:`, exit 1."""
    try:
        app(standalone_mode=False, prog_name="tokenlens")
    except TokenlensError as exc:
        from tokenlens.render import console

        console.error(exc.message, exc.hint)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except typer.TyperException as exc:  # usage errors: bad options or values
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        sys.exit(getattr(exc, "exit_code", 2))
