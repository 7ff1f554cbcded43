"""How every `vod` subcommand reports a VodError: one line naming the file and cause."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from core.errors import VodError

err = Console(stderr=True, highlight=False)
EXIT_ERROR = 1


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """VodError -> one line on stderr naming the file and the cause, non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VodError as e:
            err.print(f"[red]error:[/red] {escape(e.one_line())}", markup=True, soft_wrap=True)
            if e.detail and click.get_current_context().find_root().params.get("verbose"):
                err.print(e.detail, markup=False)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)

    return wrapper
