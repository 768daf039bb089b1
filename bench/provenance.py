"""What provenance marking costs: XMP + C2PA signing per image, validation, and the extra time it
adds to an AI asset's renditions.

Run: ``.venv/bin/python -m bench.provenance`` (``--runs N``, default 5). Uses a throwaway
development CA; medians of N runs after one warm-up, wall time in this process.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _setup() -> tuple[object, Path]:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from content.provenance.c2pa_sign import SigningCredentials
    from content.provenance.dev_ca import write_dev_signing_files

    out = Path(tempfile.mkdtemp(prefix="bench-c2pa-"))
    files = write_dev_signing_files(out)
    return SigningCredentials(chain_pem=files.chain_path.read_bytes(), key_pem=files.key_path.read_bytes(),
                              alg="es256", timestamp_url=None), out


def _image(size: tuple[int, int], fmt: str) -> bytes:
    from PIL import Image

    noise = Image.effect_noise(size, 40).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _median(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    credentials, out = _setup()
    from content.pipeline import images, presets
    from content.provenance import mark_ai_image, read_manifest

    rows = []
    for label, size, fmt, mime in [("1 MP PNG (a generated image)", (1024, 1024), "PNG", "image/png"),
                                   ("2 MP PNG 832×1216 → presets", (832, 1216), "PNG", "image/png"),
                                   ("24 MP JPEG", (6000, 4000), "JPEG", "image/jpeg")]:
        data = _image(size, fmt)
        signed = mark_ai_image(data, mime, title="bench", credentials=credentials)
        mark = _median(lambda d=data, m=mime: mark_ai_image(d, m, title="bench", credentials=credentials), args.runs)
        read = _median(lambda s=signed, m=mime: read_manifest(s, m), args.runs)
        rows.append((label, mark, read, len(signed) - len(data)))
    print("| image | mark (XMP + sign) | read + validate | bytes added |")
    print("|---|---:|---:|---:|")
    for label, mark, read, added in rows:
        print(f"| {label} | {mark * 1000:.0f} ms | {read * 1000:.0f} ms | {added:,} |")

    source = Path(out) / "gen.png"
    source.write_bytes(_image((832, 1216), "PNG"))
    plain = _median(lambda: images.render_all(source, presets.image_presets()), args.runs)

    def rendered_and_marked() -> None:
        for name, r in images.render_all(source, presets.image_presets()).items():
            mark_ai_image(r.data, r.mime, title=name, credentials=credentials)

    marked = _median(rendered_and_marked, args.runs)
    count = len(presets.image_presets())
    print(f"\nAll {count} image presets of an 832×1216 generated PNG: {plain * 1000:.0f} ms plain, "
          f"{marked * 1000:.0f} ms marked ({(marked - plain) * 1000 / count:.0f} ms per rendition).")


if __name__ == "__main__":
    main()
