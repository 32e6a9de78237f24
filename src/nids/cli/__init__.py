"""The ``nids`` command line.

Each domain has a module here whose ``register(app)`` adds its commands; every
command is a few lines that parse flags and call one function of a domain package.
Heavy imports (MLflow, scikit-learn) happen inside the commands, never at import.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from rich.console import Console

from nids.errors import EXIT_INTERNAL, NidsError

# Modules under nids.cli that contribute commands, in help order.
_COMMAND_MODULES = [
    "config",
    "generate",
    "models",
    "data",
    "train",
    "evaluate",
    "retrain",
    "monitor",
    "serve",
    "batch",
    "ab",
]

app = typer.Typer(
    name="nids",
    help="sec-ai NIDS: learn normal network traffic, score flows, raise explained alerts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_registered = False


def build_app() -> typer.Typer:
    """Attach every domain's commands to the app (once) and return it."""
    global _registered
    if not _registered:
        for name in _COMMAND_MODULES:
            importlib.import_module(f"nids.cli.{name}").register(app)
        _registered = True
    return app


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the CLI, turning errors into messages and exit codes."""
    err = Console(stderr=True)
    try:
        build_app()(args=argv, standalone_mode=True)
    except SystemExit as exc:  # typer/click exit with the command's status
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except NidsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        return 130
    except Exception as exc:  # never show a user a raw traceback unless asked
        if os.environ.get("NIDS_DEBUG", "").lower() in {"1", "true", "yes"}:
            raise
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "Set NIDS_DEBUG=1 to see the traceback, and please report it.",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_INTERNAL
    return 0


def run() -> None:
    """Entry used by ``python -m nids`` and thin scripts."""
    sys.exit(main())
