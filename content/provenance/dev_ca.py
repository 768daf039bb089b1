"""A throwaway certificate authority for signing C2PA manifests in development.

C2PA validators refuse a lone self-signed signing certificate (the claim signer must not be
its own trust anchor), so development needs the same shape as production: a root CA and a leaf
issued by it. The leaf follows the C2PA certificate profile: not a CA, ``digitalSignature`` key
usage, and an extended key usage from the accepted list (we use ``emailProtection`` together with
``documentSigning``); ``anyExtendedKeyUsage`` is refused by the SDK.
See https://spec.c2pa.org/specifications/specifications/2.1/specs/C2PA_Specification.html#_certificate_profile
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CHAIN_FILENAME = "c2pa-chain.pem"
KEY_FILENAME = "c2pa-signing-key.pem"
ROOT_FILENAME = "c2pa-dev-root-ca.pem"

# id-kp-documentSigning (RFC 9336), on the C2PA list of accepted EKUs.
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class DevSigningFiles:
    """Where the generated material landed; the key file is readable by its owner only."""

    chain_path: Path
    key_path: Path
    root_path: Path


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def build_dev_chain(*, organization: str = "Atelier development", valid_days: int = 365) -> tuple[bytes, bytes, bytes]:
    """Return ``(chain_pem, key_pem, root_pem)``: leaf then root, an unencrypted P-256 key (ES256).

    The root's private key is discarded on purpose: nothing else should ever be issued by a
    development CA, so there is no reason to keep it around.
    """
    now = dt.datetime.now(dt.UTC)
    not_before = now - dt.timedelta(minutes=5)
    not_after = now + dt.timedelta(days=valid_days)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{organization} root CA", organization)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root_cert = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{organization} C2PA signer", organization))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    root_pem = root_cert.public_bytes(pem)
    chain_pem = leaf_cert.public_bytes(pem) + root_pem
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return chain_pem, key_pem, root_pem


def write_dev_signing_files(out_dir: Path, *, overwrite: bool = False) -> DevSigningFiles:
    """Generate a fresh chain and key into ``out_dir``.

    Refuses to replace existing files unless asked: a silently rotated key would make every
    manifest signed so far look like it came from an unknown signer.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = DevSigningFiles(out_dir / CHAIN_FILENAME, out_dir / KEY_FILENAME, out_dir / ROOT_FILENAME)
    existing = [p for p in (files.chain_path, files.key_path, files.root_path) if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"signing files already exist: {', '.join(str(p) for p in existing)}")

    chain_pem, key_pem, root_pem = build_dev_chain()
    files.chain_path.write_bytes(chain_pem)
    files.root_path.write_bytes(root_pem)
    # Create the key file with 0600 from the start, so it is never briefly world-readable.
    files.key_path.unlink(missing_ok=True)
    fd = os.open(files.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    return files
