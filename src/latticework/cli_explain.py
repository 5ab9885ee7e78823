"""``latticework explain``: the auth decision the data plane would take on a request, and why.

It describes the request to the running server (``POST /_latticework/explain``,
``dataplane.explain``), which answers with the same engine and snapshot the
data plane serves with, and prints the decision and, for each layer
(identity, service network, service), whether it was evaluated and which
statements decided. ``--json`` prints the server's answer as is.
"""

from __future__ import annotations

import json
from typing import Any

import click

from latticework.cli_dataplane import _reported, endpoint_option
from latticework.ownpaths_client import explain as ask

LAYER_NAMES = {"identity": "identity-based policies", "network": "service network auth policy",
               "service": "service auth policy"}


@click.command("explain")
@click.option("--vpc", "vpc_id", required=True, help="The VPC the request comes from.")
@click.option("--host", required=True, help="The name the client calls the service by (Host).")
@click.option("--port", type=int, default=None, help="Listener port (needed when the service has several).")
@click.option("--method", default="GET", show_default=True)
@click.option("--path", default="/", show_default=True, help="Path and query, as sent.")
@click.option("--header", "-H", "headers", multiple=True, metavar="NAME:VALUE", help="A request header (repeatable).")
@click.option("--principal", default="anonymous", show_default=True,
              help="anonymous, an access key id, or a principal ARN (IAM user, role, session, account root).")
@click.option("--source-ip", default=None, help="The client's address (aws:SourceIp).")
@click.option("--https", is_flag=True, help="The request comes over TLS (aws:SecureTransport).")
@click.option("--json", "as_json", is_flag=True, help="Print the server's JSON answer.")
@endpoint_option
def explain_command(vpc_id: str, host: str, port: int | None, method: str, path: str, headers: tuple[str, ...],
                    principal: str, source_ip: str | None, https: bool, as_json: bool, endpoint: str) -> None:
    """Explain whether a request from VPC to HOST would be let in by the auth policies in force.

    \b
    latticework explain --vpc vpc-0123456789abcdef0 --host rates-0abc....on.aws \\
        --principal arn:aws:iam::111122223333:role/client --method POST --path /rates

    Exits 0 when the request would be allowed, 3 when denied.
    """
    description: dict[str, Any] = {"vpc": vpc_id, "host": host, "port": port, "method": method, "path": path,
                                   "headers": dict(_header(h) for h in headers), "principal": principal,
                                   "sourceIp": source_ip, "https": https}
    with _reported():
        answer = ask(endpoint, description)
    click.echo(json.dumps(answer, indent=2) if as_json else render(answer))
    raise SystemExit(0 if answer["decision"] == "Allow" else 3)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r} is not NAME:VALUE", param_hint="--header")
    return name.strip(), value.strip()


def render(answer: dict[str, Any]) -> str:
    """The answer for a terminal: the decision, then each layer and its deciding statements."""
    lines = [f"{answer['decision']}: {answer['principal']} -> {answer['action']} on {answer['resource']}"]
    if answer.get("message"):
        lines.append(f"  {answer['message']}")
    for layer, shown in LAYER_NAMES.items():
        found = (answer.get("layers") or {}).get(layer, {})
        if not found.get("evaluated"):
            lines.append(f"  {shown}: not evaluated")
            continue
        mark = "  <- denied here" if answer.get("deniedBy") == layer else ""
        lines.append(f"  {shown}: {found['effect']}{mark}")
        for s in found["statements"]:
            sid = f" ({s['sid']})" if s.get("sid") else ""
            lines.append(f"    {s['policy']} statement {s['number']}{sid}: {json.dumps(s['statement'])}")
    return "\n".join(lines)
