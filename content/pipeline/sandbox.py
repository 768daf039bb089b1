"""Decode and render one upload in a child process that has a memory ceiling and a deadline.

A decoder fed a crafted file can ask for gigabytes or spin for minutes; in the Celery worker
itself that would take the worker down with it (and leave the asset "processing" forever). So
the worker hands the file to ``python -m content.pipeline.sandbox``, which limits its own address
space (``RLIMIT_AS``, inherited by the ffmpeg it starts) before touching a pixel, proves the data
decodes, renders every preset into files, and writes a small JSON answer. The parent kills the
whole process group at the deadline. Whatever happens — a refusal, ``MemoryError``, a crash, a
kill — comes back as a ``MediaError`` with words for staff.

Framework-free like the rest of the pipeline: the child imports no Django.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .images import Watermark, render_all, render_image
from .presets import IMAGE_PRESETS, VIDEO_PRESETS, image_presets
from .probe import Limits, MediaError, format_duration, verify_decode
from .video import poster_frame, transcode_mp4

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RESULT_NAME = "result.json"
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "video/mp4": "mp4"}


@dataclass(frozen=True, slots=True)
class RenderedFile:
    """One rendition written by the child; the parent stores it and deletes the directory."""

    preset: str
    path: str
    mime: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class RenderResult:
    files: list[RenderedFile]
    notes: list[str]  # presets skipped for one platform (too long for X, ...), shown to staff


def render_isolated(
    kind: str,
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    limits: Limits,
    memory_bytes: int,
    timeout_s: float,
    watermark: Watermark | None = None,
) -> RenderResult:
    """Verify and render ``source`` (an ``image``, ``video`` or ``audio`` file) in a limited child.

    Raises ``MediaError`` with the limit's real numbers when the child ran out of memory or time.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    job: dict[str, Any] = {"kind": kind, "source": str(source), "out_dir": str(out),
                           "limits": dataclasses.asdict(limits), "memory_bytes": int(memory_bytes),
                           "watermark": _watermark_job(watermark, out)}
    job_path = out / "job.json"
    job_path.write_text(json.dumps(job))
    env = {**os.environ, "MALLOC_ARENA_MAX": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "content.pipeline.sandbox", str(job_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        cwd=PROJECT_ROOT, env=env, start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise MediaError("timeout", f"Processing took longer than {format_duration(timeout_s)}, the limit, "
                                    "and was stopped.") from exc
    result_path = out / RESULT_NAME
    if not result_path.exists():
        raise MediaError("crashed", _crash_message(proc.returncode, memory_bytes, stderr))
    answer = json.loads(result_path.read_text())
    if "error" in answer:
        raise MediaError(answer["error"]["code"], answer["error"]["message"])
    return RenderResult(files=[RenderedFile(**f) for f in answer["files"]], notes=answer["notes"])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """The child and any ffmpeg it started share a session; stop them all."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _crash_message(returncode: int, memory_bytes: int, stderr: bytes) -> str:
    limit = f"{memory_bytes // (1024 * 1024):,} MB"
    if returncode < 0:
        try:
            how = signal.Signals(-returncode).name
        except ValueError:
            how = f"signal {-returncode}"
        return (f"Processing stopped ({how}): decoding this file needs more than {limit} of memory, the limit, "
                "or the decoder crashed on it.")
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    return f"Processing stopped (exit {returncode}) within a {limit} memory limit. {tail[0][:300]}".strip()


def _watermark_job(watermark: Watermark | None, out: Path) -> dict[str, Any] | None:
    if watermark is None:
        return None
    job = {"text": watermark.text, "logo_path": None, "position": watermark.position,
           "opacity": watermark.opacity, "relative_size": watermark.relative_size, "margin": watermark.margin}
    if watermark.logo is not None:
        logo = out / "watermark-logo"
        logo.write_bytes(watermark.logo)
        job["logo_path"] = str(logo)
    return job


# --- in the child ----------------------------------------------------------------------------------


def _watermark_from(job: dict[str, Any] | None) -> Watermark | None:
    if job is None:
        return None
    logo = Path(job["logo_path"]).read_bytes() if job["logo_path"] else None
    return Watermark(text=None if logo else job["text"], logo=logo, position=job["position"],
                     opacity=job["opacity"], relative_size=job["relative_size"], margin=job["margin"])


def _write(out: Path, preset: str, data: bytes, mime: str, width: int, height: int) -> dict[str, Any]:
    path = out / f"{preset}.{_EXTENSIONS.get(mime, 'bin')}"
    path.write_bytes(data)
    return {"preset": preset, "path": str(path), "mime": mime, "width": width, "height": height}


def _render(job: dict[str, Any]) -> dict[str, Any]:
    source, out = job["source"], Path(job["out_dir"])
    limits = Limits(**job["limits"])
    files: list[dict[str, Any]] = []
    notes: list[str] = []
    verify_decode(source, limits)
    if job["kind"] == "image":
        rendered = render_all(source, image_presets(), watermark=_watermark_from(job["watermark"]), limits=limits)
        for name, r in rendered.items():
            files.append(_write(out, name, r.data, r.mime, r.width, r.height))
    elif job["kind"] == "video":
        poster = poster_frame(source)
        files.append(_write(out, "poster", poster, "image/jpeg", 0, 0))
        thumb = render_image(files[0]["path"], IMAGE_PRESETS["thumb"])
        files.append(_write(out, "thumb", thumb.data, thumb.mime, thumb.width, thumb.height))
        for preset in VIDEO_PRESETS.values():
            target = out / f"{preset.name}.mp4"
            try:
                info = transcode_mp4(source, preset, target)
            except MediaError as exc:
                notes.append(f"{preset.name}: {exc.message}")
                continue
            files.append({"preset": preset.name, "path": str(target), "mime": "video/mp4",
                          "width": info.width or 0, "height": info.height or 0})
    return {"files": files, "notes": notes}


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    memory = int(job.get("memory_bytes") or 0)
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        answer = _render(job)
    except MediaError as exc:
        answer = {"error": {"code": exc.code, "message": exc.message}}
    except MemoryError:
        answer = {"error": {"code": "memory", "message": (
            f"Decoding this file needs more than {memory // (1024 * 1024):,} MB of memory, the limit.")}}
    except Exception as exc:  # an unforeseen decoder failure is still an answer staff can read
        answer = {"error": {"code": "failed", "message": f"Processing failed ({type(exc).__name__}: {exc})"[:500]}}
    out = Path(job["out_dir"])
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".result-")
    with os.fdopen(fd, "w") as fh:
        json.dump(answer, fh)
    os.replace(tmp, out / RESULT_NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
