"""C2PA manifests for AI-made images: sign on the way out, read back for the asset page.

Art. 50(2) of the EU AI Act asks that synthetic images be marked in a machine-readable way; a
C2PA manifest with the IPTC ``digitalSourceType`` is the marking platforms read. Signing uses the
agency's certificate chain (leaf first, then intermediates/root) and its private key, both read
from files named in settings so that no key ever lives in the database or the repository.

Settings (all optional until something is signed):
``C2PA_SIGNING_CERT_CHAIN``  path to the PEM chain, leaf first
``C2PA_SIGNING_KEY``         path to the PEM private key of the leaf
``C2PA_SIGNING_ALG``         ``es256`` (default, EC P-256), ``es384``, ``es512``, ``ps256``, ``ed25519`` …
``C2PA_TIMESTAMP_URL``       RFC 3161 time-stamp authority; unset means no time-stamp
``C2PA_TRUST_ANCHORS``       PEM bundle of roots this installation trusts when reading manifests
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa
from django.conf import settings

from content.provenance.dev_ca import ROOT_FILENAME

logger = logging.getLogger(__name__)

CLAIM_GENERATOR = "Atelier"
IPTC_DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC_DIGITAL_SOURCE_TYPE + "trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = IPTC_DIGITAL_SOURCE_TYPE + "compositeWithTrainedAlgorithmicMedia"

SUPPORTED_ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")

# The SDK reports an unknown signer as a failure even when the manifest itself is intact and its
# state is "Valid"; trust is a separate question, answered by ManifestInfo.trusted.
UNTRUSTED_CODE = "signingCredential.untrusted"

_NOT_AN_ASSET_HINTS = ("asset could not be parsed", "not supported", "unsupported")

_MIME_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


class ProvenanceError(Exception):
    """Provenance could not be written or read; the message is safe to show staff."""


class SigningNotConfigured(ProvenanceError):
    """No usable certificate chain or key: run ``manage.py create_dev_signing_ca`` in development."""


class SigningRefused(ProvenanceError):
    """The SDK refused to sign, most often because the certificate breaks the C2PA profile."""


@dataclass(frozen=True)
class SigningCredentials:
    """A chain and key loaded into memory; ``repr`` never shows the key."""

    chain_pem: bytes
    key_pem: bytes = field(repr=False)
    alg: str = "es256"
    timestamp_url: str | None = None


@dataclass(frozen=True)
class ManifestInfo:
    """What the asset page needs to show about an image's C2PA manifest.

    ``valid`` means the manifest is intact and its signature verifies over these exact bytes;
    ``trusted`` additionally means the signer chains up to a configured trust anchor.
    """

    present: bool
    valid: bool = False
    trusted: bool = False
    validation_state: str | None = None
    validation_errors: list[str] = field(default_factory=list)
    digital_source_type: str | None = None
    actions: list[str] = field(default_factory=list)
    title: str | None = None
    signer: str | None = None
    claim_generator: str | None = None

    @property
    def is_ai_generated(self) -> bool:
        """True when the manifest declares AI-made or AI-edited content."""
        return self.digital_source_type in (TRAINED_ALGORITHMIC_MEDIA, COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA)


def normalize_mime(mime: str) -> str:
    """Map the common non-standard spellings browsers send to what the SDK recognises."""
    mime = (mime or "").split(";")[0].strip().lower()
    return _MIME_ALIASES.get(mime, mime)


def _read_setting_file(name: str) -> bytes:
    value = getattr(settings, name, None)
    if not value:
        raise SigningNotConfigured(f"{name} is not set; run `manage.py create_dev_signing_ca` for a development chain")
    path = Path(value)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningNotConfigured(f"{name} points to {path}, which cannot be read: {exc.strerror}") from None


def load_signing_credentials() -> SigningCredentials:
    """Read the configured chain and key from disk.

    Read on every call rather than cached so that a rotated certificate takes effect without
    a restart.
    """
    alg = str(getattr(settings, "C2PA_SIGNING_ALG", "es256") or "es256").lower()
    if alg not in SUPPORTED_ALGORITHMS:
        raise SigningNotConfigured(f"C2PA_SIGNING_ALG={alg!r} is not one of {', '.join(SUPPORTED_ALGORITHMS)}")
    chain_pem = _read_setting_file("C2PA_SIGNING_CERT_CHAIN")
    key_pem = _read_setting_file("C2PA_SIGNING_KEY")
    if b"BEGIN CERTIFICATE" not in chain_pem:
        raise SigningNotConfigured("C2PA_SIGNING_CERT_CHAIN does not contain a PEM certificate")
    if b"PRIVATE KEY" not in key_pem:
        raise SigningNotConfigured("C2PA_SIGNING_KEY does not contain a PEM private key")
    return SigningCredentials(
        chain_pem=chain_pem,
        key_pem=key_pem,
        alg=alg,
        timestamp_url=getattr(settings, "C2PA_TIMESTAMP_URL", None) or None,
    )


def _as_bytes(src: bytes | str | Path) -> bytes:
    if isinstance(src, bytes | bytearray | memoryview):
        return bytes(src)
    return Path(src).read_bytes()


def _error_text(exc: Exception) -> str:
    """First line of an SDK error: enough to act on, and the SDK never echoes key material."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def sign_ai_image(
    src: bytes | str | Path,
    mime: str,
    *,
    title: str,
    edit: bool = False,
    parent: bytes | str | Path | None = None,
    parent_title: str | None = None,
    generator_version: str | None = None,
    credentials: SigningCredentials | None = None,
    thumbnail: bool = False,
) -> bytes:
    """Return a copy of the image carrying a signed C2PA manifest that declares it AI-made.

    ``thumbnail`` embeds the SDK's claim thumbnail; off by default because it adds a few hundred KB
    to every file (platform size limits count it) and ten times the signing time, while the
    signed image itself is what viewers show.

    ``edit=False``: a ``c2pa.created`` action with ``trainedAlgorithmicMedia`` (generated from a
    prompt). ``edit=True``: ``c2pa.edited`` with ``compositeWithTrainedAlgorithmicMedia`` (an
    existing picture changed by a model); C2PA requires an edit to open a parent, so the original
    image must be given as ``parent`` and is recorded as the ``parentOf`` ingredient.
    """
    mime = normalize_mime(mime)
    if mime not in c2pa.Builder.get_supported_mime_types():
        raise ProvenanceError(f"C2PA signing does not support {mime or 'an unknown type'}")
    if edit and parent is None:
        raise ProvenanceError("an AI edit needs the original image as parent: C2PA edits must open a parent")
    if not edit and parent is not None:
        raise ProvenanceError("a parent image only makes sense for an AI edit (edit=True)")
    credentials = credentials or load_signing_credentials()
    data = _as_bytes(src)
    parent_data = _as_bytes(parent) if parent is not None else None

    generator: dict[str, str] = {"name": CLAIM_GENERATOR}
    if generator_version:
        generator["version"] = generator_version
    if edit:
        action = {"action": "c2pa.edited", "digitalSourceType": COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA}
    else:
        action = {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}
    manifest = {
        "claim_generator_info": [generator],
        "title": title,
        "format": mime,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }

    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(credentials.alg, credentials.chain_pem, credentials.key_pem, credentials.timestamp_url)
        )
    except c2pa.C2paError as exc:
        raise SigningRefused(f"the signing certificate or key was refused: {_error_text(exc)}") from None

    out = io.BytesIO()
    try:
        context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": bool(thumbnail)}}})
        with signer, c2pa.Builder(manifest, context=context) as builder:
            if parent_data is not None:
                # With the EDIT intent the SDK writes the mandatory c2pa.opened action that points
                # at the parent ingredient, ahead of our c2pa.edited.
                builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
                builder.add_ingredient(
                    {"title": parent_title or "original", "relationship": "parentOf"},
                    _sniff_mime(parent_data) or mime,
                    io.BytesIO(parent_data),
                )
            builder.sign(signer, mime, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise SigningRefused(f"C2PA signing failed: {_error_text(exc)}") from None
    return out.getvalue()


def _sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _reader_context() -> c2pa.Context | None:
    anchors_path = getattr(settings, "C2PA_TRUST_ANCHORS", None)
    if not anchors_path and settings.DEBUG:
        # A laptop trusts the development CA it signs with (see content.studio.signing_credentials).

        dev_root = Path(settings.VAR_DIR) / "c2pa-dev" / ROOT_FILENAME
        anchors_path = str(dev_root) if dev_root.is_file() else None
    if not anchors_path:
        return None
    try:
        anchors = Path(anchors_path).read_text()
    except OSError as exc:
        raise ProvenanceError(
            f"C2PA_TRUST_ANCHORS points to {anchors_path}, which cannot be read: {exc.strerror}"
        ) from None
    return c2pa.Context.from_dict({"trust": {"trust_anchors": anchors}, "verify": {"verify_trust": True}})


def _signer_label(signature_info: dict) -> str | None:
    parts = [signature_info.get("common_name"), signature_info.get("issuer")]
    parts = [p for p in parts if p]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"{parts[0]} (issued by {parts[1]})"


def _actions_of(manifest: dict) -> list[dict]:
    actions: list[dict] = []
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            actions.extend((assertion.get("data") or {}).get("actions") or [])
    return actions


def read_manifest(data: bytes | str | Path, mime: str) -> ManifestInfo:
    """Read and validate the active C2PA manifest embedded in an image.

    A damaged manifest or a file the SDK cannot parse is reported as present-but-invalid rather
    than raised, because the asset page must still render and say what is wrong.
    """
    mime = normalize_mime(mime)
    if isinstance(data, bytes | bytearray | memoryview):
        return _read_manifest_from(io.BytesIO(bytes(data)), mime)
    # A file is handed to the SDK as a stream: an upload at the size limit is never held in memory.
    with Path(data).open("rb") as stream:
        return _read_manifest_from(stream, mime)


def _read_manifest_from(stream: Any, mime: str) -> ManifestInfo:
    context = _reader_context()
    try:
        if context is not None:
            reader = c2pa.Reader.try_create(mime, stream, None, context)
        else:
            reader = c2pa.Reader.try_create(mime, stream)
    except c2pa.C2paError as exc:
        text = _error_text(exc)
        # An unparseable or unsupported container holds no manifest we could find; anything else
        # (a broken JUMBF store, a malformed claim) means a manifest is there but damaged.
        if any(hint in text.lower() for hint in _NOT_AN_ASSET_HINTS):
            return ManifestInfo(present=False, validation_errors=[text])
        return ManifestInfo(present=True, validation_state="Invalid", validation_errors=[text])
    if reader is None:
        return ManifestInfo(present=False)

    with reader:
        store = json.loads(reader.json())
        manifest = reader.get_active_manifest() or {}
    state = store.get("validation_state")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = [f.get("code", "unknown") for f in results.get("failure") or []]
    if not results and store.get("validation_status"):
        failures = [s.get("code", "unknown") for s in store["validation_status"]]
    errors = [code for code in failures if code != UNTRUSTED_CODE]

    actions = _actions_of(manifest)
    source_types = [a.get("digitalSourceType") for a in actions if a.get("digitalSourceType")]
    generators = manifest.get("claim_generator_info") or []
    return ManifestInfo(
        present=True,
        valid=state in ("Valid", "Trusted") and not errors,
        trusted=state == "Trusted",
        validation_state=state,
        validation_errors=errors,
        digital_source_type=source_types[-1] if source_types else None,
        actions=[a.get("action", "") for a in actions],
        title=manifest.get("title"),
        signer=_signer_label(manifest.get("signature_info") or {}),
        claim_generator=(generators[0].get("name") if generators else manifest.get("claim_generator")),
    )
