"""Image renditions on real files: orientation, colour, alpha, metadata stripping, limits, marks."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from content.pipeline.images import RenderedImage, Watermark, render_all, render_image
from content.pipeline.presets import IMAGE_PRESETS, ImagePreset, image_presets
from content.pipeline.probe import HEIF_SUPPORTED, MediaError, sniff
from tests.content import media_samples as samples

PNG_FULL = ImagePreset("check_png", "PNG", 100)
WEBP_FULL = ImagePreset("check_webp", "WEBP", 100)
JPEG_FULL = ImagePreset("check_jpeg", "JPEG", 95)


def opened(rendition: RenderedImage) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.data))
    image.load()
    return image


def close(pixel, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=False))


def assert_no_metadata(rendition: RenderedImage) -> None:
    image = opened(rendition)
    exif = image.getexif()
    assert 0x8825 not in exif and len(exif) == 0, f"EXIF left in {rendition.mime}"
    data = rendition.data
    for marker in (b"GPS", b"Exif\x00\x00", samples.CAMERA_MAKE.encode(), b"shot by someone", b"xmpmeta"):
        assert marker not in data, f"{marker!r} left in {rendition.mime}"
    assert "icc_profile" not in image.info and "exif" not in image.info


def test_every_preset_is_rendered_at_its_size(tmp_path):
    source = tmp_path / "big.jpg"
    samples.quadrants((2400, 1600)).save(source, "JPEG", quality=90, exif=samples.camera_exif())
    out = render_all(source, image_presets())
    assert set(out) == set(IMAGE_PRESETS)
    sizes = {name: (r.width, r.height) for name, r in out.items()}
    assert sizes == {
        "thumb": (320, 213),
        "x": (1600, 1067),
        "instagram_square": (1080, 1080),
        "instagram_portrait": (1080, 1350),
        "telegram": (2400, 1600),
        "fanvue": (2400, 1600),
        "bluesky": (2000, 1333),
        "reddit": (2400, 1600),
    }
    for name, rendition in out.items():
        image = opened(rendition)
        assert image.size == sizes[name]
        assert sniff(rendition.data[:64]) == rendition.mime == IMAGE_PRESETS[name].mime


def test_gps_in_the_original_is_absent_from_every_rendition(tmp_path):
    source = samples.jpeg_with_gps(tmp_path, size=(1400, 1000))
    with Image.open(source) as original:
        assert 0x8825 in original.getexif()
    assert b"GPS" in source.read_bytes() or samples.CAMERA_MAKE.encode() in source.read_bytes()
    for rendition in render_all(source, image_presets()).values():
        assert_no_metadata(rendition)


def test_png_source_metadata_is_stripped_too(tmp_path):
    for rendition in render_all(samples.png_alpha(tmp_path), [*image_presets(), PNG_FULL]).values():
        assert_no_metadata(rendition)


def test_exif_orientation_is_applied(tmp_path):
    rendition = render_image(samples.jpeg_rotated(tmp_path, 6), PNG_FULL)
    image = opened(rendition).convert("RGB")
    assert (rendition.width, rendition.height) == image.size == (40, 80)
    # Orientation 6 means "rotate 90° clockwise to display": the stored top-left red corner
    # ends up top-right, and the bottom half is all blue.
    assert close(image.getpixel((30, 10)), (255, 0, 0))
    assert close(image.getpixel((10, 10)), (0, 0, 255))
    assert close(image.getpixel((30, 60)), (0, 0, 255))


@pytest.mark.parametrize(("orientation", "red_at"), [(3, (70, 30)), (8, (10, 70))])
def test_other_orientations(tmp_path, orientation, red_at):
    image = opened(render_image(samples.jpeg_rotated(tmp_path, orientation), PNG_FULL)).convert("RGB")
    assert close(image.getpixel(red_at), (255, 0, 0))


def test_orientation_with_jpeg_draft_decoding(tmp_path):
    source = tmp_path / "tall.jpg"
    samples.quadrants((1600, 800)).save(source, "JPEG", quality=95, exif=samples.camera_exif(6))
    rendition = render_image(source, IMAGE_PRESETS["thumb"])
    image = opened(rendition).convert("RGB")
    assert image.size == (160, 320)
    assert close(image.getpixel((120, 40)), (255, 0, 0))


def test_cmyk_jpeg_becomes_srgb(tmp_path):
    for preset in (JPEG_FULL, WEBP_FULL, IMAGE_PRESETS["thumb"]):
        image = opened(render_image(samples.jpeg_cmyk(tmp_path), preset))
        assert image.mode == "RGB"
        assert close(image.getpixel((10, 10)), (255, 0, 0))


def test_embedded_profile_is_not_carried_into_renditions(tmp_path):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    source = tmp_path / "tagged.jpg"
    samples.quadrants().save(source, "JPEG", quality=95, icc_profile=profile.tobytes())
    image = opened(render_image(source, JPEG_FULL))
    assert "icc_profile" not in image.info
    assert close(image.convert("RGB").getpixel((5, 5)), (255, 0, 0))


def test_alpha_kept_for_png_and_webp_flattened_on_white_for_jpeg(tmp_path):
    source = samples.png_alpha(tmp_path)
    for preset in (PNG_FULL, WEBP_FULL, IMAGE_PRESETS["thumb"]):
        image = opened(render_image(source, preset))
        assert image.mode == "RGBA", preset.name
        assert image.getpixel((image.width - 2, 2))[3] == 0
        assert image.getpixel((2, 2))[3] == 255
    flat = opened(render_image(source, JPEG_FULL))
    assert flat.mode == "RGB"
    assert close(flat.getpixel((60, 5)), (255, 255, 255), tolerance=8)
    assert close(flat.getpixel((5, 5)), (0, 200, 0))


@pytest.mark.parametrize(
    ("fmt", "name", "params"),
    [("WEBP", "a.webp", {"quality": 90}), ("GIF", "a.gif", {}), ("PNG", "a.png", {}), ("AVIF", "a.avif", {})],
)
def test_other_source_formats_render(tmp_path, fmt, name, params):
    rendition = render_image(samples.simple(tmp_path, fmt, name, **params), JPEG_FULL)
    assert (rendition.width, rendition.height) == (64, 48)
    assert close(opened(rendition).getpixel((5, 5)), (255, 0, 0), tolerance=60)


def test_heic_source_renders(tmp_path):
    if not HEIF_SUPPORTED:
        pytest.skip("pillow-heif is not installed, so HEIC is not supported on this worker")
    source = samples.simple(tmp_path, "HEIF", "phone.heic", quality=90, exif=samples.camera_exif().tobytes())
    rendition = render_image(source, JPEG_FULL)
    assert (rendition.width, rendition.height) == (64, 48)
    assert_no_metadata(rendition)


def test_small_sources_are_never_upscaled(tmp_path):
    source = samples.simple(tmp_path, "PNG", "small.png", size=(600, 400))
    out = render_all(source, image_presets("x", "instagram_square", "instagram_portrait"))
    assert (out["x"].width, out["x"].height) == (600, 400)
    assert (out["instagram_square"].width, out["instagram_square"].height) == (400, 400)
    assert (out["instagram_portrait"].width, out["instagram_portrait"].height) == (320, 400)


def test_centred_crop_keeps_the_middle(tmp_path):
    source = tmp_path / "stripes.png"
    image = Image.new("RGB", (3000, 1000), (0, 0, 255))
    image.paste((255, 0, 0), (1000, 0, 2000, 1000))  # the middle third is red
    image.save(source)
    square = opened(render_image(source, IMAGE_PRESETS["instagram_square"]))
    assert square.size == (1000, 1000)  # never upscaled past the source's crop box
    assert close(square.getpixel((5, 500)), (255, 0, 0)) and close(square.getpixel((995, 500)), (255, 0, 0))


def test_bluesky_byte_limit_is_enforced_by_stepping_quality_down(tmp_path):
    source = tmp_path / "noisy.png"
    samples.noise((2000, 1400)).save(source, compress_level=1)
    rendition = render_image(source, IMAGE_PRESETS["bluesky"])
    assert rendition.size_bytes <= 1_000_000
    assert rendition.quality is not None and rendition.quality < IMAGE_PRESETS["bluesky"].quality
    assert opened(rendition).format == "JPEG"


def test_impossible_byte_limit_raises(tmp_path):
    source = tmp_path / "noisy.png"
    samples.noise((64, 64)).save(source)
    impossible = ImagePreset("tiny", "PNG", 100, max_bytes=10)
    with pytest.raises(MediaError) as caught:
        render_image(source, impossible)
    assert caught.value.code == "too_large"


def test_caller_xmp_is_the_only_metadata_written(tmp_path):
    source = tmp_path / "generated.jpg"
    samples.quadrants((400, 300)).save(source, "JPEG", exif=samples.camera_exif(), xmp=b"<x:xmpmeta>old</x:xmpmeta>")
    for preset in (JPEG_FULL, WEBP_FULL, PNG_FULL):
        rendition = render_image(source, preset, xmp=samples.AI_XMP)
        assert b"trainedAlgorithmicMedia" in rendition.data
        assert b">old<" not in rendition.data and samples.CAMERA_MAKE.encode() not in rendition.data
        assert 0x8825 not in opened(rendition).getexif()


def test_text_watermark_is_drawn_in_its_corner(tmp_path):
    source = tmp_path / "grey.png"
    Image.new("RGB", (400, 300), (128, 128, 128)).save(source)
    mark = Watermark(text="@creator", position="bottom_right", opacity=1.0, relative_size=0.4)
    image = opened(render_image(source, PNG_FULL, watermark=mark)).convert("RGB")
    changed = [image.getpixel((x, y)) != (128, 128, 128) for x in range(200, 400, 2) for y in range(200, 300, 2)]
    untouched = [image.getpixel((x, y)) == (128, 128, 128) for x in range(0, 200, 4) for y in range(0, 150, 4)]
    assert any(changed) and all(untouched)


def test_logo_watermark_respects_opacity_and_position(tmp_path):
    source = tmp_path / "white.png"
    Image.new("RGB", (400, 400), (255, 255, 255)).save(source)
    logo = io.BytesIO()
    Image.new("RGBA", (50, 50), (255, 0, 0, 255)).save(logo, "PNG")
    mark = Watermark(logo=logo.getvalue(), position="top_left", opacity=0.5, relative_size=0.25, margin=0.0)
    image = opened(render_image(source, PNG_FULL, watermark=mark)).convert("RGB")
    assert close(image.getpixel((50, 50)), (255, 127, 127), tolerance=6)  # half-blended red
    assert image.getpixel((150, 150)) == (255, 255, 255)


def test_watermark_is_one_of_text_or_logo():
    with pytest.raises(ValueError, match="either text or a logo"):
        Watermark()
    with pytest.raises(ValueError, match="fractions"):
        Watermark(text="x", opacity=0)


def test_thumbnail_is_not_watermarked(tmp_path):
    source = tmp_path / "grey.png"
    Image.new("RGB", (640, 480), (128, 128, 128)).save(source)
    mark = Watermark(text="@creator", opacity=1.0, relative_size=0.5)
    out = render_all(source, image_presets("thumb", "x"), watermark=mark)
    assert opened(out["thumb"]).convert("L").getextrema() == (128, 128)
    low, high = opened(out["x"]).convert("L").getextrema()
    assert low < 100 and high > 200


def test_refuses_what_is_not_an_image(tmp_path):
    with pytest.raises(MediaError) as caught:
        render_image(samples.renamed_exe(tmp_path), JPEG_FULL)
    assert caught.value.code == "unsupported_type"
    with pytest.raises(MediaError) as truncated:
        render_image(samples.truncated_jpeg(tmp_path), JPEG_FULL)
    assert truncated.value.code == "corrupt"
