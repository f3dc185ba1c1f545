"""The typer application object; commands register themselves on it."""

from __future__ import annotations

import typer

from tokenlens import __version__

app = typer.Typer(
    name="tokenlens",
    help="Exact token, cost and efficiency reports from AI coding-assistant logs and exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"tokenlens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Exact token, cost and efficiency reports from AI coding-assistant logs and exports."""
