"""`nids config`: show the effective configuration and where each value comes from."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from nids.settings import Settings

config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)


@config_app.command("show")
def show() -> None:
    """Print every setting, its environment variable and its effective value."""
    settings = Settings()
    table = Table("setting", "environment variable", "value")
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name == "api_token" and value is not None:
            value = "********"
        table.add_row(name, env_var_names(name)[0], str(value))
    Console().print(table)


def env_var_names(field_name: str) -> list[str]:
    """The environment variables that set a field, preferred first."""
    field = Settings.model_fields[field_name]
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return [str(c) for c in choices]
    return [f"NIDS_{field_name.upper()}"]


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
