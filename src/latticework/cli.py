"""The ``latticework`` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from latticework import __version__, config


@click.group()
@click.version_option(__version__, prog_name="latticework")
def main() -> None:
    """Amazon VPC Lattice and AWS PrivateLink on your own machine."""


@main.command()
@click.option("--host", default=config.DEFAULT_HOST, show_default=True, help="Address the API listens on.")
@click.option("--port", default=config.DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="API port (0 picks a free one; the ready line says which).")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite state file [default: $LATTICEWORK_STATE or ~/.local/share/latticework/state.db].")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=lambda: os.environ.get("LATTICEWORK_CONFIG"), help="Accounts file (TOML).")
def up(host: str, port: int, state: Path | None, config_file: Path | None) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM."""
    from latticework.server import Settings, run
    from latticework.store.sql import StoreLocked

    try:
        directory = config.load_directory(config_file)
    except config.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    settings = Settings(host, port, state or config.default_state_path(), directory)
    try:
        sys.exit(run(settings))
    except StoreLocked as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
