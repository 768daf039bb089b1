"""Provenance marking for AI-made images: signed C2PA manifests, IPTC XMP, and detection on upload.

Order matters when marking: write the XMP first, then sign, because the C2PA manifest hashes
the final bytes and any later change invalidates it. ``mark_ai_image`` does both in that order.
"""

from __future__ import annotations

from pathlib import Path

from content.provenance.c2pa_sign import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestInfo,
    ProvenanceError,
    SigningCredentials,
    SigningNotConfigured,
    SigningRefused,
    load_signing_credentials,
    normalize_mime,
    read_manifest,
    sign_ai_image,
)
from content.provenance.detect import detect_ai_markers, has_ai_marker, is_ai_source_type
from content.provenance.xmp import (
    SUPPORTED_MIME_TYPES as XMP_MIME_TYPES,
)
from content.provenance.xmp import (
    XmpError,
    add_digital_source_type,
    read_digital_source_type,
)


def mark_ai_image(
    data: bytes,
    mime: str,
    *,
    title: str,
    edit: bool = False,
    parent: bytes | str | Path | None = None,
    credentials: SigningCredentials | None = None,
) -> bytes:
    """XMP DigitalSourceType, then a signed C2PA manifest: the full marking for one file.

    Formats without XMP support here are still signed; the manifest carries the source type.
    """
    source_type = COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if edit else TRAINED_ALGORITHMIC_MEDIA
    mime = normalize_mime(mime)
    if mime in XMP_MIME_TYPES:
        data = add_digital_source_type(data, mime, source_type)
    return sign_ai_image(data, mime, title=title, edit=edit, parent=parent, credentials=credentials)


__all__ = [
    "COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA",
    "TRAINED_ALGORITHMIC_MEDIA",
    "ManifestInfo",
    "ProvenanceError",
    "SigningCredentials",
    "SigningNotConfigured",
    "SigningRefused",
    "XmpError",
    "add_digital_source_type",
    "detect_ai_markers",
    "has_ai_marker",
    "is_ai_source_type",
    "load_signing_credentials",
    "mark_ai_image",
    "read_digital_source_type",
    "read_manifest",
    "sign_ai_image",
]
