"""SigV4A verification: botocore's CRT signers (awscrt) sign, ``latticework.sigv4`` verifies.

botocore signs SigV4A only through awscrt (``botocore.crt.auth.CrtSigV4AsymAuth`` and its
presigning twin); the signatures are ECDSA with a random nonce, so they are checked by verifying,
never compared. The key derivation is pinned by aws-c-auth's published vector (the public key of
fixed credentials) and by a presigned URL from aws-c-auth's SigV4A test suite, signed by AWS's
signer and verified here unchanged. The same CRT signs SigV4 too: the canonicalization cases run
with both algorithms, so the canonical request both share agrees with the CRT's as with botocore's.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import botocore.auth  # before botocore.crt.auth, which imports it and is imported back by it
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtSigV4AsymAuth, CrtSigV4AsymQueryAuth, CrtSigV4Auth
from hypothesis import given
from hypothesis import strategies as st

from latticework import sigv4, sigv4a
from latticework.api import sigv4 as api_sigv4
from latticework.api.errors import ServiceError
from latticework.config import Credential, Directory

ACCOUNT = "111122223333"
URL = "http://127.0.0.1:4599/servicenetworks?maxResults=5&nextToken=a%2Fb"
BODY = b'{"name": "payments"}'
SERVICE = "vpc-lattice"


@pytest.fixture
def directory() -> Directory:
    directory = Directory()
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    directory.add(ACCOUNT, "unit", [Credential("AKIDUNIT", "unit-secret", ACCOUNT),
                                    Credential("AKIDTOKEN", "token-secret", ACCOUNT, session_token="the-token"),
                                    Credential("AKIDOLD", "old-secret", ACCOUNT, session_token="old", expires=past)])
    return directory


def signed(url: str = URL, body: bytes = BODY, *, key="AKIDUNIT", secret="unit-secret", token=None, method="POST",
           headers=None, region_set="us-east-1", presign: int | None = None, signer=None) -> AWSRequest:
    """A request signed by botocore's CRT signer: SigV4A by default, or ``signer`` (e.g. CrtSigV4Auth)."""
    request = AWSRequest(method, url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    credentials = Credentials(key, secret, token)
    if presign is not None:
        CrtSigV4AsymQueryAuth(credentials, SERVICE, region_set, expires=presign).add_auth(request)
    else:
        (signer or CrtSigV4AsymAuth)(credentials, SERVICE, region_set).add_auth(request)
    return request


def sent(request: AWSRequest, headers=None) -> tuple[str, str, str, dict[str, str], bytes]:
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    fields = {"host": split.netloc, **{k.lower(): v for k, v in prepared.headers.items()}}
    fields.update(headers or {})
    data = prepared.body or b""
    return prepared.method, split.path, split.query, fields, data.encode() if isinstance(data, str) else data


def verify(directory, request: AWSRequest, *, path=None, query=None, body=None, headers=None, now=None):
    method, raw_path, raw_query, fields, data = sent(request, headers)
    return sigv4.verify(directory, method, raw_path if path is None else path, raw_query if query is None else query,
                        fields, data if body is None else body, now=now)


def rejected(directory, request, **changes) -> sigv4.SignatureError:
    with pytest.raises(sigv4.SignatureError) as excinfo:
        verify(directory, request, **changes)
    return excinfo.value


def test_the_signer_signs_sigv4a_with_a_region_set_header():
    fields = sent(signed(region_set="us-east-1,us-west-2"))[3]
    assert fields["authorization"].startswith(f"{sigv4a.ALGORITHM} Credential=AKIDUNIT/")
    assert "/vpc-lattice/aws4_request, SignedHeaders=" in fields["authorization"]
    assert "x-amz-region-set" in fields["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert fields["x-amz-region-set"] == "us-east-1,us-west-2"


# -- header form -------------------------------------------------------------------

def test_header_signature_verifies(directory):
    verified = verify(directory, signed())
    assert (verified.credential.account_id, verified.service) == (ACCOUNT, SERVICE)
    assert (verified.region, verified.region_set) == ("", ("us-east-1",))
    assert verified.signed_for("us-east-1") and not verified.signed_for("us-east-2")


def test_get_without_body_verifies(directory):
    assert verify(directory, signed(method="GET", body=b"")).service == SERVICE


@pytest.mark.parametrize("signer", [CrtSigV4AsymAuth, CrtSigV4Auth], ids=["sigv4a", "sigv4"])
@pytest.mark.parametrize("url", [
    "http://h/services/svc-0123456789abcdef0/listeners", "http://h/a%20b/c~d", "http://h/?b=2&a=1&a=0",
    "http://h/x?empty=&k=%E2%82%AC", "http://h/tags/arn%3Aaws%3Avpc-lattice%3Aus-east-1%3A1%3Aservice%2Fsvc-1",
    "http://h/services//listeners", "http://h/services/../listeners", "http://h/a/./b", "http://h/a/b/",
])
def test_paths_and_queries_canonicalize_like_the_crt(directory, url, signer):
    # The CRT normalizes and double-encodes the path for every service but S3, like botocore's own signer.
    verified = verify(directory, signed(url, signer=signer))
    assert verified.region_set == (("us-east-1",) if signer is CrtSigV4AsymAuth else None)


def test_session_token_required_and_checked(directory):
    request = signed(key="AKIDTOKEN", secret="token-secret", token="the-token")
    assert "x-amz-security-token" in sent(request)[3]["authorization"]
    assert verify(directory, request).credential.access_key == "AKIDTOKEN"
    assert rejected(directory, signed(key="AKIDTOKEN", secret="token-secret")).code == "UnrecognizedClientException"
    wrong = signed(key="AKIDTOKEN", secret="token-secret", token="other-token")
    assert rejected(directory, wrong).code == "UnrecognizedClientException"


# -- region sets -------------------------------------------------------------------

@pytest.mark.parametrize("region_set, region, covered", [
    ("*", "us-east-1", True), ("*", "ap-southeast-4", True),
    ("us-east-1,us-west-2", "us-west-2", True), ("us-east-1,us-west-2", "us-east-1", True),
    ("us-east-1,us-west-2", "eu-west-1", False),
    ("us-*", "us-west-2", True), ("us-*", "eu-west-1", False), ("us-*", "aus-east-1", False),
    ("eu-*,us-east-1", "eu-central-1", True), ("us-east-1", "us-east-2", False), ("us-east-1", "us-east-10", False),
])
def test_region_set(directory, region_set, region, covered):
    verified = verify(directory, signed(region_set=region_set))
    assert verified.region_set == tuple(region_set.split(","))
    assert verified.signed_for(region) is covered


def test_the_region_set_is_signed(directory):
    request = signed(region_set="us-east-1")
    error = rejected(directory, request, headers={"x-amz-region-set": "*"})
    assert (error.code, error.status, error.message) == ("InvalidSignatureException", 403, sigv4.MISMATCH)


def test_a_region_set_outside_the_signed_headers_is_refused(directory):
    fields = sent(signed())[3]
    authorization = fields["authorization"].replace(";x-amz-region-set", "")
    error = rejected(directory, signed(), headers={"authorization": authorization})
    assert (error.code, error.status) == ("IncompleteSignatureException", 400)
    unsent = {k: v for k, v in fields.items() if k != "x-amz-region-set"}
    method, path, query, _, body = sent(signed())
    with pytest.raises(sigv4.SignatureError) as excinfo:
        sigv4.verify(directory, method, path, query, unsent, body)
    assert excinfo.value.code == "IncompleteSignatureException"


def test_region_sets_parse_as_aws_lists_them():
    assert sigv4a.parse_region_set("us-east-1, us-west-2 ,") == ("us-east-1", "us-west-2")
    assert sigv4a.parse_region_set("") == ()
    assert not sigv4a.region_set_covers((), "us-east-1")
    assert not sigv4a.region_set_covers(("us.east-1",), "us-east-1")  # only '*' is a wildcard


@given(st.from_regex(r"[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]", fullmatch=True))
def test_a_region_is_covered_by_itself_its_prefix_and_star(region):
    assert sigv4a.region_set_covers((region,), region)
    assert sigv4a.region_set_covers(("*",), region)
    assert sigv4a.region_set_covers((region.split("-")[0] + "-*",), region)
    assert not sigv4a.region_set_covers((region + "x",), region)


# -- refusals ----------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    {"path": "/servicenetworkz"}, {"query": "maxResults=6&nextToken=a%2Fb"}, {"query": ""},
    {"body": b'{"name": "payment"}'}, {"headers": {"content-type": "text/plain"}},
    {"headers": {"x-amz-date": "20200101T000000Z"}},
])
def test_tampering_is_detected(directory, change):
    error = rejected(directory, signed(), **change)
    assert (error.code, error.status, error.message) == ("InvalidSignatureException", 403, sigv4.MISMATCH)


def test_wrong_secret(directory):
    error = rejected(directory, signed(secret="nope"))
    assert (error.code, error.status) == ("InvalidSignatureException", 403)


def test_unknown_key(directory):
    error = rejected(directory, signed(key="AKIDNOBODY"))
    assert (error.code, error.status) == ("UnrecognizedClientException", 403)


def test_expired_credential(directory):
    error = rejected(directory, signed(key="AKIDOLD", secret="old-secret", token="old"))
    assert (error.code, error.status) == ("ExpiredTokenException", 403)


@pytest.mark.parametrize("minutes", [6, -6])
def test_clock_skew_over_five_minutes(directory, minutes):
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    error = rejected(directory, signed(), now=later)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert error.message.startswith("Signature expired")


def _with_signature(directory, signature: str) -> sigv4.SignatureError:
    fields = sent(signed())[3]
    authorization = fields["authorization"].rpartition("Signature=")[0] + "Signature=" + signature
    return rejected(directory, signed(), headers={"authorization": authorization})


@pytest.mark.parametrize("signature", [
    "zz", "30", "3006020101020101", "ab" * 32,  # not hex, truncated DER, r = s = 1, an HMAC's length
])
def test_a_signature_that_is_no_ecdsa_signature_does_not_match(directory, signature):
    assert _with_signature(directory, signature).code == "InvalidSignatureException"


def test_another_requests_signature_does_not_match(directory):
    other = sent(signed(body=b"{}"))[3]["authorization"].rpartition("Signature=")[2]
    assert _with_signature(directory, other).code == "InvalidSignatureException"


@pytest.mark.parametrize("credential", [
    "AKIDUNIT/20240101/us-east-1/vpc-lattice/aws4_request",  # SigV4's scope: SigV4A names no Region
    "AKIDUNIT/20240101/vpc-lattice", "AKIDUNIT/20240101/vpc-lattice/aws4_requests", "AKIDUNIT",
])
def test_malformed_authorization_header(directory, credential):
    authorization = f"{sigv4a.ALGORITHM} Credential={credential}, SignedHeaders=host;x-amz-region-set, Signature=30"
    headers = {"authorization": authorization, "x-amz-date": "20240101T000000Z", "host": "h", "x-amz-region-set": "*"}
    with pytest.raises(sigv4.SignatureError) as excinfo:
        sigv4.verify(directory, "GET", "/", "", headers, b"")
    assert (excinfo.value.code, excinfo.value.status) == ("IncompleteSignatureException", 400)


def test_authorization_without_signature(directory):
    headers = {"authorization": f"{sigv4a.ALGORITHM} Credential=AKIDUNIT/20240101/vpc-lattice/aws4_request",
               "x-amz-date": "20240101T000000Z", "host": "h", "x-amz-region-set": "*"}
    with pytest.raises(sigv4.SignatureError) as excinfo:
        sigv4.verify(directory, "GET", "/", "", headers, b"")
    assert excinfo.value.code == "IncompleteSignatureException"


# -- presigned form ----------------------------------------------------------------

def test_presigned_query_verifies(directory):
    request = signed(method="GET", body=b"", presign=300, region_set="*")
    query = urlsplit(request.prepare().url).query
    assert f"X-Amz-Algorithm={sigv4a.ALGORITHM}" in query and "X-Amz-Region-Set=%2A" in query
    verified = verify(directory, request)
    assert verified.region_set == ("*",) and verified.signed_for("eu-west-3")


def test_presigned_with_session_token(directory):
    request = signed(method="GET", body=b"", presign=300, key="AKIDTOKEN", secret="token-secret", token="the-token")
    assert "X-Amz-Security-Token=" in request.prepare().url
    assert verify(directory, request).credential.access_key == "AKIDTOKEN"


def test_presigned_expiry(directory):
    request = signed(method="GET", body=b"", presign=60)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    error = rejected(directory, request, now=later)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert verify(directory, request, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30))


@pytest.mark.parametrize("old, new", [("maxResults=5", "maxResults=6"), ("X-Amz-Region-Set=us-east-1",
                                                                          "X-Amz-Region-Set=%2A")])
def test_presigned_tampered_query(directory, old, new):
    request = signed(method="GET", body=b"", presign=300)
    query = urlsplit(request.prepare().url).query
    assert old in query
    assert rejected(directory, request, query=query.replace(old, new)).code == "InvalidSignatureException"


def test_presigned_without_region_set(directory):
    request = signed(method="GET", body=b"", presign=300)
    query = "&".join(p for p in urlsplit(request.prepare().url).query.split("&")
                     if not p.startswith("X-Amz-Region-Set="))
    assert rejected(directory, request, query=query).code == "IncompleteSignatureException"


# -- published vectors ---------------------------------------------------------------

def test_key_derivation_matches_aws_c_auth():
    """aws-c-auth tests/key_derivation_tests.c: the public key derived from fixed credentials
    ("derived in synchronicity with Golang and IAM implementations")."""
    numbers = sigv4a.public_key("AKISORANDOMAASORANDOM", "q+jcrXGc+0zWN6uzclKVhvMmUsIfRPa4rlRandom").public_numbers()
    assert f"{numbers.x:064x}" == "15d242ceebf8d8169fd6a8b5a746c41140414c3b07579038da06af89190fffcb"
    assert f"{numbers.y:064x}" == "0515242cedd82e94799482e4c0514b505afccf2c0c98d6a553bf539f424c5ec0"


def test_an_aws_signed_presigned_url_verifies():
    """aws-c-auth tests/aws-signing-test-suite/v4a/get-vanilla: query-signed-request.txt, signed with
    the credentials of its context.json (AWS's SigV4 example key) at 2015-08-30T12:36:00Z."""
    directory = Directory()
    directory.add(ACCOUNT, "example", [Credential("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ACCOUNT)])
    query = ("X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fservice%2Faws4_request"
             "&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Region-Set=us-east-1"
             "&X-Amz-Signature=3046022100c57d8a142ae302eb396afb515da12ec3020a836331dfdbf6c8e4f14c0661c0a1022100e1da9728"
             "157dad97d80217afb04aa9b99f61dcdef57a056a7f198fb1b728f7c3")
    when = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.timezone.utc)
    verified = sigv4.verify(directory, "GET", "/", query, {"host": "example.amazonaws.com"}, b"", now=when)
    assert (verified.service, verified.region_set) == ("service", ("us-east-1",))
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(directory, "GET", "/", query.replace("us-east-1", "us-east-2"), {"host": "example.amazonaws.com"},
                     b"", now=when)


def test_the_string_to_sign_of_aws_c_auths_vector():
    """aws-c-auth's get-vanilla query-canonical-request.txt and query-string-to-sign.txt."""
    canonical = ("GET\n/\nX-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fservice"
                 "%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Region-Set=us-east-1&X-Amz-SignedHeaders=host\n"
                 "host:example.amazonaws.com\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert sigv4a.string_to_sign("20150830T123600Z", "20150830", "service", canonical) == (
        "AWS4-ECDSA-P256-SHA256\n20150830T123600Z\n20150830/service/aws4_request\n"
        "367f580f0138ac98f22166a3bc5286fb61ab0fba16667aadfce7054aaadf0677")


def test_derived_keys_are_cached():
    sigv4a.public_key.cache_clear()
    first = sigv4a.public_key("AKIDCACHE", "cache-secret")
    assert sigv4a.public_key("AKIDCACHE", "cache-secret") is first
    assert sigv4a.public_key("AKIDCACHE", "other-secret") is not first
    assert sigv4a.public_key.cache_info().hits == 1


# -- the API -------------------------------------------------------------------------

def test_the_api_answers_sigv4a_as_an_algorithm_it_does_not_take(directory):
    """The API acts in the Region of SigV4's scope; a SigV4A scope names none."""
    method, path, query, fields, body = sent(signed())
    with pytest.raises(ServiceError) as excinfo:
        api_sigv4.verify(directory, method, path, query, fields, body)
    assert (excinfo.value.code, excinfo.value.status) == ("IncompleteSignatureException", 400)
    with pytest.raises(ServiceError) as excinfo:  # a bad SigV4A signature is refused as such first
        api_sigv4.verify(directory, method, path, query, fields, body + b" ")
    assert excinfo.value.code == "InvalidSignatureException"


def test_the_rest_of_the_suite_signs_with_botocores_own_signer():
    """conftest keeps awscrt from taking over botocore's clients (their signer is patched by other tests)."""
    assert botocore.auth.AUTH_TYPE_MAPS["v4"] is botocore.auth.SigV4Auth
