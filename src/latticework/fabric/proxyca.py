"""The certificates the signing proxy of ``latticework exec --sign`` presents to its command.

To sign a request sent over HTTPS the proxy has to read it, so it ends the
command's TLS itself, with a certificate for the host the command asked
for. ``ProxyCA`` issues them: a certificate authority made for one run of
``exec``, whose key exists only in the proxy's memory. The command trusts it
because ``exec`` adds its certificate to the CA bundle it hands the command
(``CA_BUNDLE_VARIABLES``); nothing else on the host does, and it is gone
when the proxy stops.

It is not the server's CA (``latticework ca export``, whose key the server
keeps in its state directory): the proxy runs as the user of ``exec``, who
may not read that directory, and no one should be able to obtain
certificates for arbitrary names from the server.

Keys are ECDSA P-256 (made in well under a millisecond, where an RSA key
takes 50-100 ms); every leaf shares one key, so issuing is one signature.
Certificates are valid for ``VALIDITY`` from an hour ago (clocks that lag a
little still accept them), and a leaf is made once per host name and kept
(``HOSTS_KEPT`` at most). ``ssl`` loads certificates from files only: each
chain is written to a temporary file readable by the owner alone and removed
once loaded.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)
CLOCK_SKEW = dt.timedelta(hours=1)
HOSTS_KEPT = 1024


class ProxyCA:
    """An in-memory CA and the TLS server contexts of the hosts it has issued certificates for."""

    def __init__(self, common_name: str):
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Latticework"),
                          x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.cert = _ca_certificate(name, self._key)
        self._contexts: dict[str, ssl.SSLContext] = {}

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def context_for(self, host: str) -> ssl.SSLContext:
        """A server context presenting a certificate for ``host`` (a DNS name or an IP address)."""
        context = self._contexts.get(host)
        if context is None:
            if len(self._contexts) >= HOSTS_KEPT:
                self._contexts.clear()
            context = self._contexts[host] = self._context(host)
        return context

    def _context(self, host: str) -> ssl.SSLContext:
        leaf = _leaf_certificate(host, self._leaf_key.public_key(), self.cert, self._key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])  # requests are read as HTTP/1.1 (see fabric.signing)
        _load(context, leaf, self._leaf_key)
        return context


def _ca_certificate(name: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    public = key.public_key()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))


def _leaf_certificate(host: str, public: ec.EllipticCurvePublicKey, ca_cert: x509.Certificate,
                      ca_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    # No subject: the name is in the SAN alone (RFC 5280 §4.2.1.6: the SAN is then critical).
    return (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(ca_cert.subject)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName([_general_name(host)]), critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _load(context: ssl.SSLContext, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd, path = tempfile.mkstemp(suffix=".pem")  # created 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem + cert.public_bytes(serialization.Encoding.PEM))
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
