"""Bytecode for tokenlens' own modules before anything is timed, as `pip install` writes it.

An editable install run with PYTHONDONTWRITEBYTECODE set (as on the benchmark machine) would
otherwise compile every tokenlens module from source on every run: about 0.06 s per command
that a user's installed copy never pays.
"""

from __future__ import annotations

import compileall
import importlib.util
from pathlib import Path


def compile_tokenlens() -> Path:
    """Write `__pycache__` for the tokenlens package this interpreter imports; its folder."""
    spec = importlib.util.find_spec("tokenlens")
    if spec is None or spec.origin is None:
        raise SystemExit("tokenlens is not importable here: install it first (make test)")
    folder = Path(spec.origin).parent
    compileall.compile_dir(folder, quiet=1)
    return folder
