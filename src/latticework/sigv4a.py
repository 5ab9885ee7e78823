"""SigV4A: the asymmetric form of SigV4 (``AWS4-ECDSA-P256-SHA256``), signed once for a set of Regions.

A SigV4A client signs the same canonical request as SigV4 (the path normalized and encoded once
more for every service but S3, the same query, header and payload lines), with two differences
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/sigv4-authenticated-requests.html):

- the credential scope names no Region (``<date>/<service>/aws4_request``); the Regions the
  signature is good for travel in the signed header ``x-amz-region-set`` (or the presigned
  parameter ``X-Amz-Region-Set``), a comma-separated list whose entries may hold ``*``
  (``*`` alone, ``us-*``);
- the signature is an ECDSA P-256 signature (DER, hex-encoded) over the SHA-256 of the string to
  sign, made with a key pair derived from the secret access key, so a Region's verifier needs no
  per-Region key.

``latticework.sigv4`` parses both algorithms and builds the canonical request; this module holds
what is SigV4A's own: the key derivation, the string to sign, the signature check and the
region-set match. The key pair comes from the secret by NIST SP 800-108 counter-mode
KDF with HMAC-SHA256 (key ``"AWS4A" + secret``, label the algorithm name, context the access key id
and a one-byte counter, 256 bits out); a candidate above n - 2 (n the order of P-256) is refused and
the counter moves on, and the private scalar is candidate + 1, as AWS's signers do
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html,
aws-c-auth ``key_derivation.c``).

Derived keys are cached per (access key, secret): a derivation (HMACs and a scalar multiplication,
~30 µs) would add about half to the ECDSA check every request pays (~65 µs), and the data plane
verifies on every request.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

ALGORITHM = "AWS4-ECDSA-P256-SHA256"
REGION_SET_HEADER = "x-amz-region-set"
REGION_SET_PARAM = "X-Amz-Region-Set"

# The order of the P-256 group (NIST SP 800-186 §3.2.1.3).
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_MAX_COUNTER = 254  # AWS's signers give up past this (each try fails with probability ~2^-32)
_KEYS_KEPT = 4096  # derived key pairs cached (one per access key and secret)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def private_value(access_key: str, secret: str) -> int:
    """The private scalar of the key pair a SigV4A signer derives from these credentials."""
    for counter in range(1, _MAX_COUNTER + 1):
        kdf = KBKDFHMAC(
            algorithm=hashes.SHA256(), mode=Mode.CounterMode, length=32, rlen=4, llen=4,
            location=CounterLocation.BeforeFixed, label=ALGORITHM.encode(),
            context=access_key.encode() + bytes([counter]), fixed=None,
        )
        candidate = int.from_bytes(kdf.derive(("AWS4A" + secret).encode()), "big")
        if candidate <= _N - 2:
            return candidate + 1
    raise ValueError("no SigV4A key can be derived from these credentials")  # never seen in practice


@lru_cache(maxsize=_KEYS_KEPT)
def public_key(access_key: str, secret: str) -> ec.EllipticCurvePublicKey:
    """The public key that verifies what these credentials sign with SigV4A (cached)."""
    return ec.derive_private_key(private_value(access_key, secret), ec.SECP256R1()).public_key()


def scope(date: str, service: str) -> str:
    return f"{date}/{service}/aws4_request"


def string_to_sign(amz_date: str, date: str, service: str, canonical_request: str) -> str:
    """What the ECDSA signature covers: SigV4's string to sign with the Region-less scope."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return "\n".join([ALGORITHM, amz_date, scope(date, service), digest])


def signature_matches(access_key: str, secret: str, to_sign: str, signature: str) -> bool:
    """Whether ``signature`` (hex of a DER ECDSA signature) signs ``to_sign`` with these credentials' key."""
    try:
        public_key(access_key, secret).verify(bytes.fromhex(signature), to_sign.encode(), _ECDSA_SHA256)
    except (ValueError, InvalidSignature):  # not hex, not DER, or not the signature
        return False
    return True


def parse_region_set(value: str) -> tuple[str, ...]:
    """The Regions of an ``x-amz-region-set`` value (comma-separated, blanks around entries ignored)."""
    return tuple(entry for entry in (part.strip() for part in value.split(",")) if entry)


@lru_cache(maxsize=256)
def _pattern(entry: str) -> re.Pattern[str]:
    # '*' stands for any run of characters; everything else is literal.
    return re.compile(".*".join(re.escape(part) for part in entry.split("*")))


def region_set_covers(region_set: tuple[str, ...], region: str) -> bool:
    """Whether a signature for ``region_set`` is good in ``region`` (an entry names it, or matches it with ``*``)."""
    return any(entry == region or ("*" in entry and _pattern(entry).fullmatch(region)) for entry in region_set)
