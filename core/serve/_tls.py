"""A self-signed certificate for ``ownscan serve --tls-self-signed``.

Browsers warn about a certificate nobody vouches for; the user checks it instead by its
SHA-256 fingerprint, which the command prints and the browser's certificate viewer shows.
The key never leaves the private folder (0600); the certificate names the host names and
addresses it is served on, and lasts a year.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

__all__ = ["fingerprint", "self_signed_certificate"]


def self_signed_certificate(folder: Path, hosts: list[str]) -> tuple[Path, Path, str]:
    """Make ``cert.pem`` and ``key.pem`` (0600) in ``folder`` for ``hosts``.

    Parameters
    ----------
    folder
        A private folder.
    hosts
        Host names and IP addresses the certificate must cover (subjectAltName).

    Returns
    -------
    tuple
        ``(certificate path, key path, SHA-256 fingerprint as AA:BB:...)``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for h in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ownscan serve")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    _write_private(cert_path, pem)
    return cert_path, key_path, fingerprint(pem)


def fingerprint(pem: bytes) -> str:
    """The SHA-256 fingerprint of a PEM certificate, as browsers show it (``AA:BB:...``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
