"""Commands for clients of the data plane: ``vpc resolver``, ``exec --vpc`` and ``ca export``.

They ask the running server (``--endpoint``, else ``$LATTICEWORK_ENDPOINT``,
else the default API address) over its ``/_latticework`` endpoints, which need
no AWS credentials:

- ``GET /_latticework/vpcs/<vpc-id>``: the VPC's resolver and Lattice addresses;
- ``GET /_latticework/ca.pem``: the local CA that signs the certificates of
  HTTPS listeners.

``register(group)`` adds them to a click group.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NoReturn

import click

from latticework import config
from latticework.fabric.exec import SETUP_FAILED, ExecError, VpcInfo, exit_like, run_in_vpc

ENDPOINT_VARIABLE = "LATTICEWORK_ENDPOINT"
DEFAULT_ENDPOINT = f"http://{config.DEFAULT_HOST}:{config.DEFAULT_PORT}"
TIMEOUT = 10.0


class ServerError(click.ClickException):
    """The server could not be reached or refused the request."""


def fetch(endpoint: str, path: str) -> bytes:
    """GET ``path`` from the server's introspection endpoints."""
    url = endpoint.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise ServerError(_message(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerError(f"cannot reach the Latticework server at {endpoint} ({reason}); "
                          f"is `latticework up` running? (--endpoint or ${ENDPOINT_VARIABLE} names another)") from None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read())["message"]
    except (ValueError, KeyError, TypeError, OSError):
        return f"the server answered {exc.code} {exc.reason}"


def fetch_vpc(endpoint: str, vpc_id: str) -> VpcInfo:
    body = json.loads(fetch(endpoint, "/_latticework/vpcs/" + urllib.parse.quote(vpc_id, safe="")))
    return VpcInfo.from_json(body)


def fetch_ca(endpoint: str) -> str:
    return fetch(endpoint, "/_latticework/ca.pem").decode()


endpoint_option = click.option(
    "--endpoint", envvar=ENDPOINT_VARIABLE, default=DEFAULT_ENDPOINT, show_default=True,
    help=f"The Latticework server [env: {ENDPOINT_VARIABLE}].")


@click.group()
def vpc() -> None:
    """VPCs as their clients see them."""


@vpc.command("resolver")
@endpoint_option
@click.argument("vpc_id")
def vpc_resolver(endpoint: str, vpc_id: str) -> None:
    """Print the address of VPC_ID's DNS resolver."""
    info = fetch_vpc(endpoint, vpc_id)
    click.echo(info.resolver)
    if info.resolver_port != 53:
        click.echo(f"(it listens on port {info.resolver_port}: dig -p {info.resolver_port} @{info.resolver} NAME)",
                   err=True)


@click.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--vpc", "vpc_id", required=True, help="The VPC the command runs in.")
@endpoint_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(vpc_id: str, endpoint: str, command: tuple[str, ...]) -> None:
    """Run COMMAND as a client inside a VPC (Linux): names resolve through the VPC's resolver.

    \b
    latticework exec --vpc vpc-0123456789abcdef0 -- curl https://my-service-0abc....on.aws/

    Exits with COMMAND's status. See docs/exec.md for how it works and its limits.
    """
    try:
        info = fetch_vpc(endpoint, vpc_id)
        status = run_in_vpc(info, command, fetch_ca(endpoint))
    except ServerError as exc:  # the wrapper's own failure: not to be confused with the command's status
        _fail(exc.message, SETUP_FAILED)
    except ExecError as exc:
        _fail(str(exc), exc.exit_code)
    exit_like(status)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"latticework exec: {message}", err=True)
    raise SystemExit(code)


@click.group()
def ca() -> None:
    """The local certificate authority HTTPS clients trust."""


@ca.command("export")
@endpoint_option
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write the PEM here instead of standard output.")
def ca_export(endpoint: str, out: Path | None) -> None:
    """Print (or write) Latticework's CA certificate, PEM-encoded."""
    pem = fetch_ca(endpoint)
    if out is None:
        click.echo(pem, nl=not pem.endswith("\n"))
        return
    out.write_text(pem)
    os.chmod(out, 0o644)


def register(group: click.Group) -> None:
    """Add ``vpc``, ``exec`` and ``ca`` to ``group`` (the ``latticework`` command)."""
    for command in (vpc, exec_command, ca):
        group.add_command(command)
