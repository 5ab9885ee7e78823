"""SigV4 verification: botocore signs, ``latticework.api.sigv4`` verifies.

Unit tests cover both signature forms (Authorization header and presigned
query), session tokens, and every way a signature can be wrong, each mapped to
the error code AWS's front door answers. Black-box tests drive the real
server with boto3 and the aws CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import client_for, error_code, status_of
from latticework.api import sigv4
from latticework.api.errors import ServiceError
from latticework.config import Credential, Directory

ACCOUNT = "111122223333"
URL = "http://127.0.0.1:4599/servicenetworks?maxResults=5&nextToken=a%2Fb"
BODY = b'{"name": "payments"}'


@pytest.fixture
def directory() -> Directory:
    directory = Directory()
    directory.add(ACCOUNT, "unit", [Credential("AKIDUNIT", "unit-secret", ACCOUNT),
                                    Credential("AKIDTOKEN", "token-secret", ACCOUNT, session_token="the-token")])
    return directory


def signed(url: str = URL, body: bytes = BODY, *, key="AKIDUNIT", secret="unit-secret", token=None,
           method="POST", headers=None, presign: int | None = None, service="vpc-lattice") -> AWSRequest:
    request = AWSRequest(method, url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    credentials = Credentials(key, secret, token)
    if presign is None:
        SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    else:
        SigV4QueryAuth(credentials, service, "us-east-1", expires=presign).add_auth(request)
    return request


def verify(directory, request: AWSRequest, *, path=None, query=None, body=None, headers=None, now=None):
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    sent = {"host": split.netloc, **{k.lower(): v for k, v in prepared.headers.items()}}
    sent.update(headers or {})
    data = prepared.body if body is None else body
    return sigv4.verify(directory, prepared.method, split.path if path is None else path,
                        split.query if query is None else query, sent,
                        data.encode() if isinstance(data, str) else (data or b""), now=now)


def rejected(directory, request, **changes) -> ServiceError:
    with pytest.raises(ServiceError) as excinfo:
        verify(directory, request, **changes)
    return excinfo.value


# -- header form -------------------------------------------------------------------

def test_header_signature_verifies(directory):
    verified = verify(directory, signed())
    assert (verified.credential.account_id, verified.region, verified.service) == (ACCOUNT, "us-east-1",
                                                                                  "vpc-lattice")


def test_get_without_body_verifies(directory):
    assert verify(directory, signed(method="GET", body=b"")).service == "vpc-lattice"


@pytest.mark.parametrize("url", [
    "http://h/services/svc-0123456789abcdef0/listeners", "http://h/a%20b/c~d", "http://h/?b=2&a=1&a=0",
    "http://h/x?empty=&k=%E2%82%AC", "http://h/tags/arn%3Aaws%3Avpc-lattice%3Aus-east-1%3A1%3Aservice%2Fsvc-1",
])
def test_paths_and_queries_canonicalize_like_botocore(directory, url):
    assert verify(directory, signed(url)).credential.access_key == "AKIDUNIT"


@pytest.mark.parametrize("url", ["http://h/services//listeners", "http://h/services/../listeners",
                                 "http://h/a/./b"])
def test_dot_and_empty_segments_canonicalize_like_botocore(directory, url):
    # botocore (like every non-S3 SigV4 signer) signs the normalised path: empty
    # segments collapsed, dot segments removed, as the SigV4 spec asks
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
    # A client whose identifier is '' or '..' sends such a path as is.
    assert verify(directory, signed(url)).credential.access_key == "AKIDUNIT"


def test_session_token_required_and_checked(directory):
    assert verify(directory, signed(key="AKIDTOKEN", secret="token-secret", token="the-token"))
    assert rejected(directory, signed(key="AKIDTOKEN", secret="token-secret")).code == "UnrecognizedClientException"
    wrong = signed(key="AKIDTOKEN", secret="token-secret", token="other-token")
    assert rejected(directory, wrong).code == "UnrecognizedClientException"
    unexpected = signed(token="a-token")
    assert rejected(directory, unexpected).code == "UnrecognizedClientException"


def test_wrong_secret(directory):
    error = rejected(directory, signed(secret="nope"))
    assert (error.code, error.status) == ("InvalidSignatureException", 403)


def test_unknown_key(directory):
    error = rejected(directory, signed(key="AKIDNOBODY"))
    assert (error.code, error.status) == ("UnrecognizedClientException", 403)


@pytest.mark.parametrize("change", [
    {"path": "/servicenetworkz"}, {"query": "maxResults=6&nextToken=a%2Fb"}, {"query": ""},
    {"body": b'{"name": "payment"}'}, {"headers": {"content-type": "text/plain"}},
    {"headers": {"x-amz-date": "20200101T000000Z"}},
])
def test_tampering_is_detected(directory, change):
    assert rejected(directory, signed(), **change).code == "InvalidSignatureException"


def test_a_body_hash_header_is_checked_against_the_body_received(directory):
    """Signers put x-amz-content-sha256 in the canonical request as given: a body changed on the way must
    not verify under the original's hash."""
    claimed = hashlib.sha256(BODY).hexdigest()
    request = signed(headers={"X-Amz-Content-SHA256": claimed})
    assert verify(directory, request)  # the body it hashed
    error = rejected(directory, request, body=b'{"name": "attacker"}')
    assert (error.code, error.status) == ("InvalidSignatureException", 403)


def test_a_body_hash_header_that_is_not_the_bodys_hash_fails(directory):
    wrong = hashlib.sha256(b"another body").hexdigest()
    assert rejected(directory, signed(headers={"X-Amz-Content-SHA256": wrong})).code == "InvalidSignatureException"


@pytest.mark.parametrize("value", ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"])
def test_streaming_payloads_are_not_taken(directory, value):
    assert rejected(directory, signed(headers={"X-Amz-Content-SHA256": value})).code == "InvalidSignatureException"


def test_an_unsigned_payload_leaves_the_body_out_of_the_signature(directory):
    request = signed(headers={"X-Amz-Content-SHA256": sigv4.UNSIGNED_PAYLOAD})
    assert verify(directory, request, body=b'{"name": "anything"}')


def test_runs_of_spaces_in_header_values_are_collapsed(directory):
    """The canonical form trims a value and collapses each run of spaces to one, on both sides."""
    request = signed(headers={"X-Custom": "  a   b    c  "})
    assert verify(directory, request)
    assert verify(directory, request, headers={"x-custom": "a b c"})  # a proxy normalised the spaces
    assert rejected(directory, request, headers={"x-custom": "a bc"}).code == "InvalidSignatureException"


def test_signed_header_missing(directory):
    request = signed(headers={"X-Custom": "1"})
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    headers = {"host": split.netloc, **{k.lower(): v for k, v in prepared.headers.items() if k.lower() != "x-custom"}}
    with pytest.raises(ServiceError) as excinfo:
        sigv4.verify(directory, "POST", split.path, split.query, headers, BODY)
    assert excinfo.value.code == "InvalidSignatureException"


@pytest.mark.parametrize("minutes", [6, -6, 60])
def test_clock_skew_over_five_minutes(directory, minutes):
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    error = rejected(directory, signed(), now=later)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert error.message.startswith("Signature expired")


def test_clock_skew_within_five_minutes(directory):
    assert verify(directory, signed(), now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=4))


@pytest.mark.parametrize("authorization, code", [
    ("Basic dXNlcjpwYXNz", "IncompleteSignatureException"),
    ("AWS4-HMAC-SHA256", "IncompleteSignatureException"),
    ("AWS4-HMAC-SHA256 Credential=AKIDUNIT/20240101/us-east-1/vpc-lattice/aws4_request", "IncompleteSignatureException"),
    ("AWS4-HMAC-SHA256 Credential=AKIDUNIT/20240101/us-east-1, SignedHeaders=host, Signature=ab",
     "IncompleteSignatureException"),
    # a credential scope must end in aws4_request
    ("AWS4-HMAC-SHA256 Credential=AKIDUNIT/20240101/us-east-1/vpc-lattice/aws4_requests, SignedHeaders=host, "
     "Signature=ab", "IncompleteSignatureException"),
    ("AWS4-HMAC-SHA256 Credential=AKIDUNIT/20240101/us-east-1/vpc-lattice/aws5_request, SignedHeaders=host, "
     "Signature=ab", "IncompleteSignatureException"),
])
def test_malformed_authorization_header(directory, authorization, code):
    headers = {"authorization": authorization, "x-amz-date": "20240101T000000Z", "host": "h"}
    with pytest.raises(ServiceError) as excinfo:
        sigv4.verify(directory, "GET", "/", "", headers, b"")
    assert (excinfo.value.code, excinfo.value.status) == (code, 400)


def test_missing_x_amz_date(directory):
    request = signed()
    prepared = request.prepare()
    headers = {"host": "127.0.0.1:4599", **{k.lower(): v for k, v in prepared.headers.items() if k.lower() != "x-amz-date"}}
    with pytest.raises(ServiceError) as excinfo:
        sigv4.verify(directory, "POST", "/servicenetworks", urlsplit(prepared.url).query, headers, BODY)
    assert excinfo.value.code == "IncompleteSignatureException"


def test_unsigned_request(directory):
    with pytest.raises(ServiceError) as excinfo:
        sigv4.verify(directory, "GET", "/servicenetworks", "", {"host": "h"}, b"")
    assert (excinfo.value.code, excinfo.value.status) == ("MissingAuthenticationTokenException", 403)


# -- presigned form ----------------------------------------------------------------

def test_presigned_query_verifies(directory):
    request = signed(method="GET", body=b"", presign=300)
    assert "X-Amz-Signature=" in request.prepare().url
    assert verify(directory, request).service == "vpc-lattice"


def test_presigned_with_session_token(directory):
    request = signed(method="GET", body=b"", presign=300, key="AKIDTOKEN", secret="token-secret", token="the-token")
    assert "X-Amz-Security-Token=" in request.prepare().url
    assert verify(directory, request)


def test_presigned_expiry(directory):
    request = signed(method="GET", body=b"", presign=60)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    error = rejected(directory, request, now=later)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert verify(directory, request, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30))


def test_presigned_tampered_query(directory):
    request = signed(method="GET", body=b"", presign=300)
    query = urlsplit(request.prepare().url).query.replace("maxResults=5", "maxResults=6")
    assert rejected(directory, request, query=query).code == "InvalidSignatureException"


def test_presigned_wrong_secret(directory):
    request = signed(method="GET", body=b"", presign=300, secret="nope")
    assert rejected(directory, request).code == "InvalidSignatureException"


def test_presigned_missing_parameter(directory):
    request = signed(method="GET", body=b"", presign=300)
    query = "&".join(p for p in urlsplit(request.prepare().url).query.split("&") if not p.startswith("X-Amz-Date"))
    assert rejected(directory, request, query=query).code == "IncompleteSignatureException"


# -- black box -----------------------------------------------------------------------

def test_boto3_wrong_secret(server):
    client = client_for(server, "vpc-lattice", secret="wrong")
    with pytest.raises(ClientError) as excinfo:
        client.list_service_networks()
    assert (error_code(excinfo), status_of(excinfo)) == ("InvalidSignatureException", 403)


def test_boto3_unknown_key(server):
    client = client_for(server, "vpc-lattice", key="AKIDNOBODYKNOWS", secret="x")
    with pytest.raises(ClientError) as excinfo:
        client.list_service_networks()
    assert (error_code(excinfo), status_of(excinfo)) == ("UnrecognizedClientException", 403)


def test_boto3_expired_signature(server):
    client = client_for(server, "vpc-lattice")
    ten_minutes_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=ten_minutes_ago):
        with pytest.raises(ClientError) as excinfo:
            client.list_service_networks()
    assert (error_code(excinfo), status_of(excinfo)) == ("InvalidSignatureException", 403)
    assert "Signature expired" in excinfo.value.response["Error"]["Message"]


def test_sts_wrong_secret(server):
    with pytest.raises(ClientError) as excinfo:
        client_for(server, "sts", secret="wrong").get_caller_identity()
    assert (error_code(excinfo), status_of(excinfo)) == ("SignatureDoesNotMatch", 403)


def test_sts_unknown_key(server):
    with pytest.raises(ClientError) as excinfo:
        client_for(server, "sts", key="AKIDNOBODYKNOWS", secret="x").get_caller_identity()
    assert (error_code(excinfo), status_of(excinfo)) == ("InvalidClientTokenId", 403)


def _aws(server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    aws = Path(sys.executable).with_name("aws")
    return subprocess.run([str(aws), "--endpoint-url", server.url, "--output", "json", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_aws_cli_lists_service_networks(server):
    result = _aws(server, "vpc-lattice", "list-service-networks")
    assert result.returncode == 0, result.stderr
    assert '"items"' in result.stdout


def test_aws_cli_get_caller_identity(server):
    result = _aws(server, "sts", "get-caller-identity")
    assert result.returncode == 0, result.stderr
    assert '"Account": "000000000000"' in result.stdout


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["", ".", "..", "a", "b.c", "%2e", "~x"]), max_size=7), st.booleans())
def test_paths_are_read_as_botocores_signer_reads_them(segments, leading):
    from botocore.utils import normalize_url_path
    from latticework.sigv4 import _remove_dot_segments
    path = ("/" if leading else "") + "/".join(segments)
    assert _remove_dot_segments(path) == normalize_url_path(path)
