"""Spot uploads that already declare themselves AI-made, so they can be filed as AI-origin.

Two independent signals are checked because tools differ in what they write: generators such
as DALL·E, Firefly or Midjourney exports embed a C2PA manifest, while others only set the IPTC
DigitalSourceType in XMP. Either is enough; a manifest that fails validation still counts,
since the question here is "did someone say this is AI", not "can we prove who signed it".
"""

from __future__ import annotations

import logging
from pathlib import Path

from content.provenance.c2pa_sign import ProvenanceError, normalize_mime, read_manifest
from content.provenance.xmp import SUPPORTED_MIME_TYPES as XMP_MIME_TYPES
from content.provenance.xmp import XmpError, read_digital_source_type, source_type_in_packet

logger = logging.getLogger(__name__)

# IPTC source types that mean a model produced or altered the content.
# https://cv.iptc.org/newscodes/digitalsourcetype/
AI_SOURCE_TYPE_CODES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    }
)

C2PA_AI_MANIFEST = "c2pa:ai-manifest"
C2PA_MANIFEST = "c2pa:manifest"
XMP_AI_SOURCE_TYPE = "xmp:iptc-digital-source-type"


def _code(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def is_ai_source_type(uri: str | None) -> bool:
    """True for IPTC DigitalSourceType URIs (or bare codes) that denote AI involvement."""
    return uri is not None and _code(uri) in AI_SOURCE_TYPE_CODES


def detect_ai_markers(data: bytes, mime: str) -> list[str]:
    """Markers found in the file, each as ``kind:detail``; empty when the file declares nothing.

    ``c2pa:ai-manifest:<sourceType>`` – a C2PA manifest with an AI digital source type;
    ``c2pa:manifest`` – a C2PA manifest without one (shown to staff, not proof of AI);
    ``xmp:iptc-digital-source-type:<sourceType>`` – the IPTC property in XMP.
    Unreadable files yield no markers instead of an error: detection must never block an upload.
    """
    mime = normalize_mime(mime)
    markers = _manifest_markers(data, mime)

    if mime in XMP_MIME_TYPES:
        try:
            source_type = read_digital_source_type(data, mime)
        except XmpError as exc:
            logger.warning("XMP could not be read from a %s upload: %s", mime, exc)
        else:
            if source_type and is_ai_source_type(source_type):
                markers.append(f"{XMP_AI_SOURCE_TYPE}:{_code(source_type)}")
    return markers


def _manifest_markers(source: bytes | Path, mime: str) -> list[str]:
    """The C2PA part of detection: an AI marker with its source type, a plain "has a manifest", or
    nothing (a manifest that cannot be read is logged, never an upload error)."""
    try:
        manifest = read_manifest(source, mime)
    except ProvenanceError as exc:
        logger.warning("C2PA manifest could not be checked for a %s upload: %s", mime, exc)
        return []
    if not manifest.present:
        return []
    source_type = manifest.digital_source_type
    if source_type and is_ai_source_type(source_type):
        return [f"{C2PA_AI_MANIFEST}:{_code(source_type)}"]
    return [C2PA_MANIFEST]


def detect_ai_markers_in_file(path: str | Path, mime: str, *, xmp: bytes | None) -> list[str]:
    """``detect_ai_markers`` for an upload on disk, reading it as a stream.

    ``xmp`` is the packet the header walk already found (``pipeline.headers``), so the file is
    never loaded whole to look for it: the upload request stays small at the size limit.
    """
    mime = normalize_mime(mime)
    markers = _manifest_markers(Path(path), mime)
    if xmp:
        try:
            source_type = source_type_in_packet(xmp)
        except XmpError as exc:
            logger.warning("XMP could not be read from a %s upload: %s", mime, exc)
        else:
            if source_type and is_ai_source_type(source_type):
                markers.append(f"{XMP_AI_SOURCE_TYPE}:{_code(source_type)}")
    return markers


def has_ai_marker(data: bytes, mime: str) -> bool:
    """Whether an upload should be filed as ``origin=ai`` on the strength of its own metadata."""
    return any(marker != C2PA_MANIFEST for marker in detect_ai_markers(data, mime))
