"""The dev stack's own PKI: a local CA and one certificate per process, made at every start of
`paymesh dev` (a few milliseconds with P-256 keys), so that no key outlives the run that needs
it. Production takes the same three files per process from mounted Secrets instead.

Each certificate names its process twice: CN=<identity> for people, and the URI SAN
`spiffe://paymesh.local/<identity>` that the services read (mesh.tls.peer_identity). Its other
SANs, 127.0.0.1 and localhost, are what clients check the server's name against.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mesh.tls import TlsFiles, spiffe_id
from paymesh_cli.stack.secrets import write_private

VALID_FOR = datetime.timedelta(days=30)
CA_NAME = "paymesh dev CA"


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def issue_dev_pki(
    directory: Path, identities: Iterable[str], *, uri_san: bool = True
) -> dict[str, TlsFiles]:
    """A new CA and a certificate per identity in `directory` (mode 0700, files 0600):
    ca.pem, <identity>.pem, <identity>-key.pem. The CA's key is not kept: nothing can be signed
    after this call. Returns each identity's files. Without `uri_san`, the certificates name
    their identity by CN only (as some issuers do)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)  # clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(CA_NAME)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    write_private(ca_file, _cert_pem(ca).decode())
    issued: dict[str, TlsFiles] = {}
    for identity in identities:
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        if uri_san:
            sans.insert(0, x509.UniformResourceIdentifier(spiffe_id(identity)))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(identity))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_file, key_file = directory / f"{identity}.pem", directory / f"{identity}-key.pem"
        write_private(cert_file, _cert_pem(cert).decode())
        write_private(key_file, _key_pem(key).decode())
        issued[identity] = TlsFiles(str(ca_file), str(cert_file), str(key_file))
    return issued


def tls_env(files: TlsFiles) -> dict[str, str]:
    """The variables that give a process its mutual TLS files."""
    return {
        "MESH_TLS_CA_FILE": files.ca_file,
        "MESH_TLS_CERT_FILE": files.cert_file,
        "MESH_TLS_KEY_FILE": files.key_file,
    }
