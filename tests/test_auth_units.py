"""The data plane's auth step without sockets: a botocore-signed request against a snapshot, at a chosen time.

What black-box tests cannot reach without waiting: temporary credentials past their expiry (STS issues
them for 15 minutes at least).
"""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from latticework.config import Credential, Identity
from latticework.dataplane import auth
from latticework.dataplane.exchange import Connection, Request
from latticework.snapshot.model import Route, Service, ServiceNetwork, Snapshot, VpcView

ACCOUNT = "111122223333"
NAME = "rates-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
ALLOW = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
EXPIRES = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
SESSION = Credential("ASIAEXAMPLE", "session-secret", ACCOUNT, session_token="token", expires=EXPIRES,
                     identity=Identity(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/client/s1", type="AssumedRole",
                                       user_id="AROAEXAMPLE:s1", account=ACCOUNT, session_name="s1",
                                       role_arn=f"arn:aws:iam::{ACCOUNT}:role/client",
                                       policies=(json.dumps({"Statement": [{"Effect": "Allow", "Action": "*",
                                                                            "Resource": "*"}]}),)))


class Keys:
    """The snapshot's credentials for this test: one session."""

    def credential(self, access_key: str) -> Credential | None:
        return SESSION if access_key == SESSION.access_key else None


def world() -> tuple[Snapshot, Connection, Route]:
    vpc = VpcView("vpc-1", f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-1", ACCOUNT, "us-east-1", "127.0.0.2",
                  "127.0.0.10")
    service = Service("svc-1", f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:service/svc-1", "rates", ACCOUNT,
                      "us-east-1", NAME, None, None, "AWS_IAM", 60.0, auth_policy=ALLOW)
    network = ServiceNetwork("sn-1", f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:servicenetwork/sn-1", "net",
                             ACCOUNT, "NONE")
    snapshot = Snapshot(1, identities=Keys())  # type: ignore[arg-type]
    return snapshot, Connection(vpc, ("127.0.0.1", 40000), ("127.0.0.10", 80), "http"), Route(service, network)


def signed_at(when: dt.datetime) -> Request:
    """A request botocore's signer signs as if it were ``when``."""
    request = AWSRequest("GET", f"http://{NAME}/rates", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    credentials = Credentials(SESSION.access_key, SESSION.secret_key, SESSION.session_token)
    with mock.patch("botocore.auth.get_current_datetime", lambda: when.replace(tzinfo=None)):
        SigV4Auth(credentials, "vpc-lattice-svcs", "us-east-1").add_auth(request)
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    return Request("GET", "/rates", NAME, headers, "1.1")


def test_a_session_is_served_until_its_expiry_then_refused_with_expired_token():
    snapshot, conn, route = world()
    before = EXPIRES - dt.timedelta(minutes=1)
    found = auth.authorize(snapshot, conn, signed_at(before), route, "/rates", now=before)
    assert dict(found)["x-amzn-lattice-identity"].startswith(f"Principal=arn:aws:sts::{ACCOUNT}:assumed-role/client/s1")
    after = EXPIRES + dt.timedelta(seconds=1)
    refused = auth.authorize(snapshot, conn, signed_at(after), route, "/rates", now=after)
    assert refused == auth.Denied(403, "ExpiredTokenException: The security token included in the request is expired")


def test_a_signature_older_than_five_minutes_is_refused():
    snapshot, conn, route = world()
    signed = EXPIRES - dt.timedelta(minutes=30)
    refused = auth.authorize(snapshot, conn, signed_at(signed), route, "/rates", now=signed + dt.timedelta(minutes=6))
    assert isinstance(refused, auth.Denied) and refused.message.startswith("InvalidSignatureException: Signature expired")
