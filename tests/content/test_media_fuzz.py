"""Damaged variants of every image format we accept: the upload check answers with a refusal in
words (``MediaError``) or an accepted description, never another exception (an HTTP 500)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content.pipeline.probe import HEIF_SUPPORTED, MediaError, validate
from tests.content import media_samples as samples


def _seeds(directory: Path) -> dict[str, bytes]:
    made = {
        "jpeg": samples.jpeg_with_gps(directory),
        "png": samples.png_alpha(directory),
        "apng-ish": samples.png_exif_after_idat(directory),
        "gif": samples.simple(directory, "GIF", "a.gif"),
        "webp": samples.simple(directory, "WEBP", "a.webp"),
        "webp-anim": samples.webp_frame_bomb(directory, 64, 48, 3),
        "tiff": samples.simple(directory, "TIFF", "a.tif"),
        "mpo": samples.mpo_hidden_frame(directory, (16, 16)),
        "avif": samples.simple(directory, "AVIF", "a.avif", quality=60),
    }
    if HEIF_SUPPORTED:
        made["heic"] = samples.simple(directory, "HEIF", "a.heic", quality=60)
    return {name: path.read_bytes() for name, path in made.items()}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    return _seeds(tmp_path_factory.mktemp("fuzz-seeds"))


mutations = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["jpeg", "png", "apng-ish", "gif", "webp", "webp-anim", "tiff", "mpo", "avif", "heic"]),
       flips=mutations, cut=st.one_of(st.none(), st.integers(1, 4096)))
def test_damaged_images_are_refused_in_words(seeds, tmp_path, name, flips, cut):
    if name not in seeds:
        return
    data = bytearray(seeds[name])
    for at, value in flips:
        data[at % len(data)] = value
    if cut is not None:
        data = data[: max(1, len(data) - cut)]
    path = tmp_path / f"fuzz-{name}"
    path.write_bytes(bytes(data))
    try:
        validate(path)
    except MediaError as exc:
        assert exc.message
