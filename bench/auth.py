"""Auth section: the L7 mix through a service with an AWS_IAM auth policy, every request SigV4-signed.

On the ``proxies`` fixture's Latticework (the L7 section's server and targets), a second copy of the
routed service (``topology.routed_service``: the same rules and weighted groups, its own client VPC and
network) gets ``authType`` ``AWS_IAM`` and an auth policy of two statements (an Allow for the caller's
account on ``GET`` and a Deny for ``/admin*``), so every request is verified and evaluated
against both.

The load generator is ``wrk -t1`` with ``lua/signed.lua``: it cycles through ``SIGNED`` requests of the
L7 mix, each signed beforehand by botocore's ``SigV4Auth`` (signing name ``vpc-lattice-svcs``,
``UNSIGNED-PAYLOAD``; each with its own signed ``x-request-n`` header, so no two signatures are alike),
re-signed before every run so none is older than SigV4's five minutes. The data plane keeps no verdicts: every request
costs a full verification (canonical request, HMAC, constant-time compare) and a policy evaluation;
only the derived signing key is cached, as AWS's own verifiers do.

The caller is a role session when the server serves IAM (``AssumeRole`` for a role whose identity policy
allows ``vpc-lattice-svcs:Invoke``: the identity layer is evaluated too), else the account's own
credentials (the identity layer then passes without a policy).

Rows, each interleaved best-of-rounds in this run: signed+AWS_IAM vs the same mix on the NONE service
(what auth costs), and vs HAProxy without auth (goal >= 0.5x).
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from common import Goal, Load, Row, plural, say, wait_port, wrk
from l7 import HTTP_PORT, HTTPS_PORT, MIX, Proxies, best_of, faster
from latticework.ownpaths_client import vpc_info
from topology import REGION, client, routed_service

SECTION = "L7 auth"
SIGNED = 2000  # distinct signed requests cycled by wrk


def build(p: Proxies) -> tuple[str, str, Credentials, str]:
    """The AWS_IAM copy of the routed service: (its Lattice address, its name, the caller's credentials, who)."""
    topology = routed_service(p.server.url, [p.targets["blue-1"], p.targets["blue-2"]], [p.targets["green-1"]],
                              HTTP_PORT, HTTPS_PORT, name="bench-iam")
    lattice = client(p.server.url, "vpc-lattice")
    account = topology.service["arn"].split(":")[4]
    lattice.put_auth_policy(resourceIdentifier=topology.service["id"], policy=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
             "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*/admin*"}]}))
    lattice.update_service(serviceIdentifier=topology.service["id"], authType="AWS_IAM")
    credentials, who = caller(p.server.url, account)
    address = vpc_info(p.server.url, topology.vpc).lattice
    wait_port(address, HTTP_PORT)
    return address, topology.name, credentials, who


def caller(endpoint: str, account: str) -> tuple[Credentials, str]:
    """A role session allowed to invoke, or the account's own credentials where IAM is not served."""
    iam = client(endpoint, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": account},
                                                     "Action": "sts:AssumeRole"}]}
    invoke = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke",
                                                      "Resource": "*"}]}
    try:
        iam.create_role(RoleName="bench-client", AssumeRolePolicyDocument=json.dumps(trust))
    except Exception as exc:  # noqa: BLE001 - an API the server does not serve answers an error
        say(f"  {SECTION}: no IAM role ({type(exc).__name__}); signing with the account's own credentials")
        return Credentials("test", "test"), "the account's own credentials"
    iam.put_role_policy(RoleName="bench-client", PolicyName="invoke", PolicyDocument=json.dumps(invoke))
    # An account's root may not assume roles (as in AWS): a user allowed to does.
    iam.create_user(UserName="bench-runner")
    iam.put_user_policy(UserName="bench-runner", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="bench-runner")["AccessKey"]
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                       aws_secret_access_key=key["SecretAccessKey"])
    found = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/bench-client", RoleSessionName="bench",
                            DurationSeconds=3600)["Credentials"]
    return Credentials(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"]), "a role session"


def sign_requests(path: Path, name: str, credentials: Credentials, count: int = SIGNED) -> Path:
    """``count`` requests of the L7 mix, each signed (each with its own ``x-request-n``)."""
    lines = []
    for i in range(count):
        target, extra = MIX[i % len(MIX)]
        request = AWSRequest("GET", f"http://{name}{target}", headers={
            "Host": name, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-request-n": str(i), **extra})
        SigV4Auth(credentials, "vpc-lattice-svcs", REGION).add_auth(request)
        fields = [f"{k}: {v}" for k, v in request.headers.items()]
        lines.append("\t".join(["GET", target, *fields]))
    path.write_text("\n".join(lines) + "\n")
    return path


def run(ctx) -> list[Row]:
    p: Proxies = ctx.fixture("proxies")
    seconds, rounds = ctx.seconds(8, 3), ctx.rounds()
    address, name, credentials, who = build(p)
    signed = ctx.work / "signed-requests.txt"

    def measure(label: str) -> Load:
        if label == "AWS_IAM signed":
            return wrk(f"http://{address}:{HTTP_PORT}/", seconds, 32, script="signed.lua",
                       signed=sign_requests(signed, name, credentials))
        if label == "NONE":
            return wrk(f"http://{p.lattice}:{HTTP_PORT}/", seconds, 32, p.name)
        return wrk(f"http://127.0.0.1:{p.haproxy['HTTP']}/", seconds, 32, p.name)

    labels = ["AWS_IAM signed", "NONE", "haproxy"]
    for label in labels:
        check = measure(label) if label == "AWS_IAM signed" else None
        if check is not None and check.errors:
            raise RuntimeError(f"signed requests were refused: {check.detail}")
    best, every = best_of(rounds, labels, measure, faster)
    ctx.raw[SECTION] = {"seconds": seconds, "rounds": rounds, "caller": who, "signed requests": SIGNED,
                        "runs": every}
    for label, load in best.items():
        say(f"  {SECTION} {label:15s} c=32  {load.rate:9.0f} req/s  p50 {load.p50:7.2f} ms  p99 {load.p99:7.2f} ms  "
            f"errors {load.errors}  (best of {rounds})")
    signed_load, errors = best["AWS_IAM signed"], best["AWS_IAM signed"].errors
    note = f"signed by {who}" + (f"; {plural(errors, 'error')}" if errors else "")
    return [
        Row(SECTION, "req/s, 32 connections: AWS_IAM + SigV4 every request / same mix, auth NONE", signed_load.rate,
            best["NONE"].rate, "req/s", None, note),
        Row(SECTION, "req/s, 32 connections: AWS_IAM + SigV4 every request / HAProxy without auth",
            signed_load.rate, best["haproxy"].rate, "req/s", Goal(">=", 0.5), note),
        Row(SECTION, "p99, 32 connections: AWS_IAM + SigV4 every request / HAProxy without auth", signed_load.p99,
            best["haproxy"].p99, "ms"),
    ]
