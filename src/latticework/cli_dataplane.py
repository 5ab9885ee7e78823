"""Commands for clients of the data plane: ``vpc resolver``, ``exec --vpc [--sign]`` and ``ca export``.

They ask the running server (``--endpoint``, else ``$LATTICEWORK_ENDPOINT``,
else the default API address) through ``latticework.ownpaths_client``: a VPC's
resolver and Lattice addresses, and the local CA that signs the certificates
of HTTPS listeners. A server that cannot be reached or refuses is a click
error (exit status 1; ``exec`` exits 125, as its own setup failures do).

``register(group)`` adds them to a click group.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, NoReturn

import click

from latticework.fabric import signing
from latticework.fabric.credentials import CredentialsError, caller_credentials, frozen
from latticework.fabric.exec import SETUP_FAILED, ExecError, VpcInfo, exit_like, run_in_vpc
from latticework.ownpaths_client import DEFAULT_ENDPOINT, ENDPOINT_VARIABLE, ServerError, ca_pem, vpc_info


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """A ``ServerError`` inside becomes click's error (its message, exit status 1)."""
    try:
        yield
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None


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
    with _reported():
        info = vpc_info(endpoint, vpc_id)
    click.echo(info.resolver)
    if info.resolver_port != 53:
        click.echo(f"(it listens on port {info.resolver_port}: dig -p {info.resolver_port} @{info.resolver} NAME)",
                   err=True)


@click.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--vpc", "vpc_id", required=True, help="The VPC the command runs in.")
@endpoint_option
@click.option("--sign", is_flag=True,
              help="Sign the command's HTTP(S) requests to Lattice services with SigV4 (vpc-lattice-svcs), "
                   "through a local proxy named in http_proxy/https_proxy.")
@click.option("--profile", default=None, help="With --sign: the AWS profile to sign with (default: the "
                                              "environment's credentials, then AWS_PROFILE or the default profile).")
@click.option("--role", "role_arn", default=None,
              help="With --sign: assume this role (STS AssumeRole at --endpoint) and sign as it.")
@click.option("--region", default=None, help="With --sign: the Region of services whose name does not say it "
                                             "(custom domain names) [default: the VPC's].")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(vpc_id: str, endpoint: str, sign: bool, profile: str | None, role_arn: str | None,
                 region: str | None, command: tuple[str, ...]) -> None:
    """Run COMMAND as a client inside a VPC (Linux): names resolve through the VPC's resolver.

    \b
    latticework exec --vpc vpc-0123456789abcdef0 -- curl https://my-service-0abc....on.aws/
    latticework exec --vpc vpc-0123456789abcdef0 --sign -- curl http://my-service-0abc....on.aws/

    Exits with COMMAND's status. See docs/exec.md for how it works and its limits.
    """
    if not sign and (profile or role_arn or region):
        raise click.UsageError("--profile, --role and --region go with --sign")
    try:
        info = vpc_info(endpoint, vpc_id)
        ca = ca_pem(endpoint)
        status = _run_signed(info, command, ca, endpoint, profile, role_arn, region) if sign \
            else run_in_vpc(info, command, ca)
    except (ServerError, CredentialsError) as exc:  # the wrapper's own failure, not to be taken for the command's
        _fail(str(exc), SETUP_FAILED)
    except ExecError as exc:
        _fail(str(exc), exc.exit_code)
    exit_like(status)


def _run_signed(info: VpcInfo, command: tuple[str, ...], ca: str, endpoint: str, profile: str | None,
                role_arn: str | None, region: str | None) -> int:
    """``run_in_vpc`` with the signing proxy running beside the command (``latticework.fabric.signing``)."""
    signer = signing.Signer(caller_credentials(profile, role_arn, endpoint, region or info.region),
                            region or info.region)
    frozen(signer.credentials)  # no credentials, or a role that cannot be assumed: say so before starting
    vpc = signing.Vpc(info.vpc_id, (info.resolver, info.resolver_port), info.lattice, ca)
    with signing.serving(signing.SigningProxy(vpc, signer)) as proxy:
        env = signing.proxy_environment(os.environ, proxy.url)
        trusted = ca if ca.endswith("\n") else ca + "\n"
        return run_in_vpc(info, command, trusted + proxy.ca.pem, env=env)


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
    with _reported():
        pem = ca_pem(endpoint)
    if out is None:
        click.echo(pem, nl=not pem.endswith("\n"))
        return
    out.write_text(pem)
    os.chmod(out, 0o644)


def register(group: click.Group) -> None:
    """Add ``vpc``, ``exec`` and ``ca`` to ``group`` (the ``latticework`` command)."""
    for command in (vpc, exec_command, ca):
        group.add_command(command)
