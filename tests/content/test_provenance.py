"""Provenance marking: dev CA, C2PA sign/read/tamper, IPTC XMP round trips, detection on upload."""

from __future__ import annotations

import datetime as dt
import io
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import CommandError, call_command
from PIL import Image

from content.provenance import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    ProvenanceError,
    SigningCredentials,
    SigningNotConfigured,
    SigningRefused,
    add_digital_source_type,
    detect_ai_markers,
    has_ai_marker,
    mark_ai_image,
    read_digital_source_type,
    read_manifest,
    sign_ai_image,
)
from content.provenance.dev_ca import CHAIN_FILENAME, KEY_FILENAME, ROOT_FILENAME
from content.provenance.xmp import read_xmp_packet


@pytest.fixture(scope="session")
def dev_ca(tmp_path_factory):
    out = tmp_path_factory.mktemp("c2pa-dev")
    stdout = io.StringIO()
    call_command("create_dev_signing_ca", "--out", str(out), stdout=stdout)
    return out, stdout.getvalue()


@pytest.fixture(autouse=True)
def signing_settings(settings, dev_ca):
    out, _ = dev_ca
    settings.C2PA_SIGNING_CERT_CHAIN = str(out / CHAIN_FILENAME)
    settings.C2PA_SIGNING_KEY = str(out / KEY_FILENAME)
    settings.C2PA_SIGNING_ALG = "es256"
    settings.C2PA_TRUST_ANCHORS = None
    return settings


def make_image(fmt: str, *, color=(200, 40, 90), mode="RGB", **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (48, 32), color).save(buf, fmt, **save)
    return buf.getvalue()


def flip_pixel_byte(data: bytes, mime: str) -> bytes:
    """Flip one byte inside the compressed image data (not in the manifest)."""
    pos = data.rfind(b"\xff\xda") + 20 if mime == "image/jpeg" else data.find(b"IDAT") + 8
    out = bytearray(data)
    out[pos] ^= 0x55
    return bytes(out)


# Dev CA -------------------------------------------------------------------------------------


def test_dev_ca_writes_chain_and_private_key_and_prints_settings(dev_ca):
    out, printed = dev_ca
    chain = x509.load_pem_x509_certificates((out / CHAIN_FILENAME).read_bytes())
    assert len(chain) == 2
    leaf, root = chain
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature is True
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert leaf.issuer == root.subject
    leaf.verify_directly_issued_by(root)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"
    assert stat.S_IMODE((out / KEY_FILENAME).stat().st_mode) == 0o600
    assert (out / ROOT_FILENAME).exists()
    assert f"C2PA_SIGNING_CERT_CHAIN={out / CHAIN_FILENAME}" in printed
    assert f"C2PA_SIGNING_KEY={out / KEY_FILENAME}" in printed
    assert "PRIVATE KEY" not in printed


def test_dev_ca_refuses_to_overwrite_and_to_write_into_the_repo(dev_ca, settings):
    out, _ = dev_ca
    with pytest.raises(CommandError, match="--force"):
        call_command("create_dev_signing_ca", "--out", str(out), stdout=io.StringIO())
    with pytest.raises(CommandError, match="inside the repository"):
        call_command("create_dev_signing_ca", "--out", str(settings.BASE_DIR / "content"), stdout=io.StringIO())


# C2PA ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_signed_image_reads_back_valid_as_ai_created(fmt, mime):
    signed = sign_ai_image(make_image(fmt), mime, title=f"portrait.{fmt.lower()}")
    info = read_manifest(signed, mime)
    assert info.present and info.valid, info.validation_errors
    assert info.validation_state == "Valid"
    assert info.validation_errors == []
    assert info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert info.actions == ["c2pa.created"]
    assert info.title == f"portrait.{fmt.lower()}"
    assert info.claim_generator == "Atelier"
    assert "Atelier development C2PA signer" in info.signer
    assert info.is_ai_generated
    assert not info.trusted
    # Still a decodable image of the same size.
    assert Image.open(io.BytesIO(signed)).size == (48, 32)


def test_signer_is_trusted_when_its_root_is_a_configured_anchor(signing_settings, dev_ca):
    out, _ = dev_ca
    signing_settings.C2PA_TRUST_ANCHORS = str(out / ROOT_FILENAME)
    info = read_manifest(sign_ai_image(make_image("JPEG"), "image/jpg", title="a.jpg"), "image/jpeg")
    assert info.valid and info.trusted
    assert info.validation_state == "Trusted"


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_one_flipped_byte_in_the_image_data_invalidates_the_manifest(fmt, mime):
    signed = sign_ai_image(make_image(fmt), mime, title="x")
    info = read_manifest(flip_pixel_byte(signed, mime), mime)
    assert info.present
    assert not info.valid
    assert info.validation_state == "Invalid"
    assert "assertion.dataHash.mismatch" in info.validation_errors


def test_ai_edit_records_parent_and_composite_source_type():
    original = make_image("PNG", color=(10, 10, 10))
    edited = make_image("PNG", color=(10, 200, 10))
    signed = sign_ai_image(edited, "image/png", title="edited.png", edit=True, parent=original)
    info = read_manifest(signed, "image/png")
    assert info.valid, info.validation_errors
    assert info.actions == ["c2pa.opened", "c2pa.edited"]
    assert info.digital_source_type == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    with pytest.raises(ProvenanceError, match="parent"):
        sign_ai_image(edited, "image/png", title="edited.png", edit=True)


def test_lone_self_signed_certificate_is_refused():
    """The SDK reports "Signature: the certificate is invalid" when creating the signer."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lone self-signed")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    credentials = SigningCredentials(chain_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=key_pem)
    with pytest.raises(SigningRefused, match="certificate is invalid") as excinfo:
        sign_ai_image(make_image("JPEG"), "image/jpeg", title="x", credentials=credentials)
    assert "PRIVATE KEY" not in str(excinfo.value)
    assert "PRIVATE KEY" not in repr(credentials)


def test_missing_configuration_says_how_to_fix_it(signing_settings):
    signing_settings.C2PA_SIGNING_KEY = None
    with pytest.raises(SigningNotConfigured, match="create_dev_signing_ca"):
        sign_ai_image(make_image("JPEG"), "image/jpeg", title="x")


def test_unsigned_image_has_no_manifest():
    info = read_manifest(make_image("JPEG"), "image/jpeg")
    assert not info.present and not info.valid


# XMP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "save"),
    [
        ("JPEG", "image/jpeg", {}),
        ("PNG", "image/png", {}),
        ("WEBP", "image/webp", {"lossless": False}),
        ("WEBP", "image/webp", {"lossless": True}),
    ],
)
def test_xmp_digital_source_type_is_added_and_survives_a_round_trip(fmt, mime, save):
    plain = make_image(fmt, **save)
    assert read_digital_source_type(plain, mime) is None
    marked = add_digital_source_type(plain, mime)
    assert read_digital_source_type(marked, mime) == TRAINED_ALGORITHMIC_MEDIA
    # Adding again is a no-op, not a second packet.
    assert add_digital_source_type(marked, mime) == marked
    # Pillow still decodes it, sees the same pixels, and exposes the XMP itself.
    with Image.open(io.BytesIO(marked)) as img:
        img.load()
        assert img.size == (48, 32)
        assert Image.open(io.BytesIO(plain)).convert("RGB").tobytes() == img.convert("RGB").tobytes()
        xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
        assert xmp and b"trainedAlgorithmicMedia" in (xmp if isinstance(xmp, bytes) else xmp.encode())


def test_existing_xmp_is_extended_and_a_different_source_type_replaced():
    other = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    other += b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    other += b' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    other += b' Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture">'
    other += b"<dc:creator>Studio</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    photo = make_image("JPEG", xmp=other)
    assert read_digital_source_type(photo, "image/jpeg").endswith("/digitalCapture")
    marked = add_digital_source_type(photo, "image/jpeg", COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA)
    packet = read_xmp_packet(marked, "image/jpeg")
    assert b"<dc:creator>Studio</dc:creator>" in packet
    assert b"digitalCapture" not in packet
    assert read_digital_source_type(marked, "image/jpeg") == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_full_marking_keeps_xmp_and_a_valid_manifest(fmt, mime):
    marked = mark_ai_image(make_image(fmt), mime, title="persona.jpg")
    assert read_digital_source_type(marked, mime) == TRAINED_ALGORITHMIC_MEDIA
    info = read_manifest(marked, mime)
    assert info.valid, info.validation_errors
    assert info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA


# Detection ----------------------------------------------------------------------------------


def test_detection_finds_c2pa_xmp_and_nothing_in_a_plain_file():
    signed = sign_ai_image(make_image("JPEG"), "image/jpeg", title="x")
    xmp_only = add_digital_source_type(make_image("PNG"), "image/png")
    plain = make_image("JPEG")

    assert detect_ai_markers(signed, "image/jpeg") == ["c2pa:ai-manifest:trainedAlgorithmicMedia"]
    assert detect_ai_markers(xmp_only, "image/png") == ["xmp:iptc-digital-source-type:trainedAlgorithmicMedia"]
    assert detect_ai_markers(plain, "image/jpeg") == []
    assert has_ai_marker(signed, "image/jpeg") and has_ai_marker(xmp_only, "image/png")
    assert not has_ai_marker(plain, "image/jpeg")


def test_detection_still_counts_a_tampered_manifest_and_ignores_garbage():
    signed = sign_ai_image(make_image("PNG"), "image/png", title="x")
    assert has_ai_marker(flip_pixel_byte(signed, "image/png"), "image/png")
    assert detect_ai_markers(b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg") == []
    assert detect_ai_markers(b"%PDF-1.4", "application/octet-stream") == []


def test_unparseable_file_reports_no_manifest_with_the_reason():
    info = read_manifest(b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
    assert not info.present and not info.valid
    assert "could not be parsed" in info.validation_errors[0]
