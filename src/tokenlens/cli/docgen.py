"""Generate docs/cli.md from the typer app: `python -m tokenlens.cli.docgen > docs/cli.md`."""

from __future__ import annotations

import typer

from tokenlens.cli import app

WIDTH = 100


def _help(command: typer.core.TyperCommand | typer.core.TyperGroup, name: str) -> str:
    ctx = typer.Context(command, info_name=name, terminal_width=WIDTH, max_content_width=WIDTH)
    return command.get_help(ctx)


def render() -> str:
    group = typer.main.get_group(app)
    parts = [
        "# tokenlens command line",
        "",
        "Generated from the program itself (`make docs`); a test keeps it current.",
        "",
        "```text",
        _help(group, "tokenlens"),
        "```",
    ]
    for name in sorted(group.commands):
        command = group.commands[name]
        parts += ["", f"## tokenlens {name}", "", "```text"]
        parts.append(_help(command, f"tokenlens {name}"))  # type: ignore[arg-type]
        parts.append("```")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render(), end="")
