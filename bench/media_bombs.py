"""Peak memory of the web process and the worker for crafted uploads and the largest allowed image.

Run: ``.venv/bin/python -m bench.media_bombs`` (samples and a scratch SQLite install under
``var/bench/media-bombs/``; about a minute).

**Web.** Each upload goes to a real gunicorn (one sync worker, ``config.wsgi``) started for that
case alone, as a multipart POST to ``/api/v1/assets/`` streamed from disk by httpx. The figure is
the gunicorn worker's ``VmHWM`` (its peak resident set, from ``/proc``) after the request, next
to its ``VmHWM`` after a warm-up request: the difference is what the upload cost.

**Worker.** ``content.services.process_asset`` runs in a child process of its own, as the Celery
task would. Frame bombs never reach a worker (the upload is refused), so for them the asset row
is written directly, as older code let them in, to show the render child refusing them too. The
figures are the child's own ``ru_maxrss`` and that of the render child it started
(``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "media-bombs"
MB = 1024 * 1024

CASES = {
    "gif_bomb": "GIF, 10000×10000 × 100 frames (2.3 KB)",
    "webp_bomb": "animated WebP, 10000×10000 × 100 frames (4.8 KB)",
    "png_200mb": "PNG at the 200 MB limit, 8000×8736 noise",
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DEBUG="1", ATELIER_VAR_DIR=str(WORK / "var"), ATELIER_REQUIRE_2FA="0",
               DJANGO_SETTINGS_MODULE="config.settings", PYTHONPATH=str(ROOT))
    return env


def make_samples() -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    from tests.content import media_samples

    WORK.mkdir(parents=True, exist_ok=True)
    paths = {"gif_bomb": media_samples.gif_frame_bomb(WORK), "webp_bomb": media_samples.webp_frame_bomb(WORK)}
    big = WORK / f"big-{200 * MB}.png"
    paths["png_200mb"] = big if big.exists() else media_samples.png_at_size(WORK, 200 * MB)
    return paths


def _child(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "bench.media_bombs", "--child", *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return proc.stdout.strip().splitlines()[-1]


# --- web ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure_web(path: Path, key: str, creator: int) -> dict[str, object]:
    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "600",
         "--log-level", "warning"], cwd=ROOT, env=_env(), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/api/v1/assets/", headers={"Authorization": f"Bearer {key}"}, timeout=30)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        worker = int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
        baseline = _hwm_kb(worker)
        started = time.monotonic()
        with path.open("rb") as fh:
            response = httpx.post(f"{base}/api/v1/assets/", data={"creator": str(creator)},
                                  files={"file": (path.name, fh, "application/octet-stream")},
                                  headers={"Authorization": f"Bearer {key}"}, timeout=600)
        seconds = time.monotonic() - started
        peak = _hwm_kb(worker)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    body = response.json()
    answer = body.get("error", {}).get("details", {}).get("file", [""])[0] if response.status_code >= 400 else (
        f"asset #{body['asset']['id']} ({body['asset']['width']}×{body['asset']['height']})")
    return {"status": response.status_code, "seconds": round(seconds, 2), "baseline_mb": baseline // 1024,
            "peak_mb": peak // 1024, "answer": answer}


# --- in the children ----------------------------------------------------------------------------------


def child_setup() -> None:
    import django

    django.setup()
    from accounts import services as accounts_services
    from accounts.models import ApiKey, User
    from tests.factories import CreatorFactory

    owner, _ = User.objects.get_or_create(username="bench-owner", defaults={"is_superuser": True, "is_staff": True})
    creator = CreatorFactory(stage_name=f"Bench {time.time_ns()}")
    ApiKey.objects.filter(name="bench").delete()
    key = accounts_services.issue_api_key(owner=owner, name="bench", creators=[creator], scope="write").raw
    print(json.dumps({"key": key, "creator": creator.pk}))


def child_worker(path: str, creator_id: str) -> None:
    """Process one file as the worker would, creating its row directly when the upload was refused."""
    import hashlib

    import django

    django.setup()
    from django.core.files import File
    from django.core.files.storage import storages

    from content import services
    from content.models import Asset
    from content.pipeline.probe import read_head, sniff

    source = Path(path)
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        while chunk := fh.read(MB):
            digest.update(chunk)
    asset = Asset.objects.filter(creator_id=creator_id, sha256=digest.hexdigest()).first()
    if asset is None:
        asset = Asset(creator_id=int(creator_id), kind="image", mime=sniff(read_head(source)),
                      sha256=digest.hexdigest(), size_bytes=source.stat().st_size, original_name=source.name)
        with source.open("rb") as fh:
            asset.file.name = storages["default"].save(services.asset_upload_name(asset, asset.mime), File(fh))
        asset.save()
    started = time.monotonic()
    services.process_asset(asset.pk)
    seconds = time.monotonic() - started
    asset.refresh_from_db()
    print(json.dumps({
        "status": asset.processing, "seconds": round(seconds, 2),
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "render_child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        "renditions": asset.renditions.count(), "error": asset.processing_error[:160]}))


# --- driver ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help="remake the scratch install (not the samples)")
    args = parser.parse_args()
    if args.child:
        {"setup": child_setup, "worker": child_worker}[args.child[0]](*args.child[1:])
        return
    if args.fresh:
        shutil.rmtree(WORK / "var", ignore_errors=True)
    samples = make_samples()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=_env(), check=True)
    results = {}
    for case, path in samples.items():
        account = json.loads(_child("setup"))
        web = measure_web(path, account["key"], account["creator"])
        worker = json.loads(_child("worker", str(path), str(account["creator"])))
        results[case] = {"sample": CASES[case], "bytes": path.stat().st_size, "web": web, "worker": worker}
        print(f"\n{case}: {CASES[case]}, {path.stat().st_size:,} bytes")
        print(f"  web    HTTP {web['status']} in {web['seconds']} s, gunicorn worker peak RSS {web['peak_mb']} MB "
              f"(after warm-up {web['baseline_mb']} MB): {web['answer']}")
        print(f"  worker {worker['status']} in {worker['seconds']} s, worker peak RSS {worker['worker_peak_mb']} MB, "
              f"render child peak RSS {worker['render_child_peak_mb']} MB, {worker['renditions']} renditions"
              + (f": {worker['error']}" if worker["error"] else ""))
    print(f"\nPython {platform.python_version()}, {os.cpu_count()} CPUs")
    (WORK / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
