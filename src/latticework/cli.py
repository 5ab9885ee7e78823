"""The ``latticework`` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from latticework import __version__, config, fabric
from latticework.cli_dataplane import register
from latticework.cli_explain import explain_command
from latticework.fabric import leases
from latticework.demo import run as run_demo
from latticework.ownpaths_client import DEFAULT_ENDPOINT, ENDPOINT_VARIABLE
from latticework.server import Settings, run as run_server
from latticework.store.sql import StoreLocked


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
@click.option("--fabric", "fabric_range", default=None,
              help=f"Loopback range VPC address blocks are carved from; it must overlap no other running server's "
                   f"[default: the range this state file used last, else {fabric.DEFAULT_RANGE}, else a free one].")
@click.option("--dns-port", default=53, show_default=True, type=click.IntRange(0, 65535),
              help="Port of every VPC's DNS resolver (exec needs 53).")
@click.option("--workers", default=lambda: os.cpu_count() or 1, show_default="the number of CPUs",
              type=click.IntRange(1, 256), help="Processes serving data-plane traffic (they share each listener).")
@click.option("--no-dataplane", is_flag=True, help="Serve the APIs only: no listeners, resolvers or health checks.")
@click.option("--aws-upstream", "aws_upstreams", multiple=True, metavar="SERVICE=URL",
              help="Where requests to an AWS service through VPC endpoints go, e.g. s3=http://127.0.0.1:5000 "
                   "(repeatable) [default: the service's real endpoint].")
def up(host: str, port: int, state: Path | None, config_file: Path | None, fabric_range: str | None, dns_port: int,
       workers: int, no_dataplane: bool, aws_upstreams: tuple[str, ...]) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM."""
    try:
        directory = config.load_directory(config_file)
        upstreams = config.load_aws_upstreams(config_file, aws_upstreams)
        addresses = fabric.Fabric.parse(fabric_range) if fabric_range else None
    except (config.ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    settings = Settings(host, port, state or config.default_state_path(), directory, not no_dataplane, addresses,
                        dns_port, workers, upstreams)
    try:
        sys.exit(run_server(settings))
    except (StoreLocked, leases.LeaseError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--endpoint", default=lambda: os.environ.get(ENDPOINT_VARIABLE, DEFAULT_ENDPOINT),
              show_default=f"${ENDPOINT_VARIABLE} or {DEFAULT_ENDPOINT}",
              help="Server to use; when none answers there, the demo starts its own.")
@click.option("--requests", "count", default=1000, show_default=True, type=click.IntRange(1, 100000),
              help="Requests to send through the blue/green split.")
@click.option("--keep", is_flag=True, help="Leave the demo's resources in place.")
@click.option("--fabric", "fabric_range", default=None,
              help="Loopback range of the server the demo starts when none answers [default: a free one].")
def demo(endpoint: str, count: int, keep: bool, fabric_range: str | None) -> None:
    """Build the payment-service example end to end and send traffic through it."""
    sys.exit(run_demo(endpoint, count, keep, fabric_range))


register(main)  # vpc resolver, exec, ca export
main.add_command(explain_command)

if __name__ == "__main__":
    main()
