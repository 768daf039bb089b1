"""Fault benchmark (not in CI): publishing on time while workers, a beat and Redis are killed.

2,000 publications due within two minutes on two platforms (X: no idempotency key, lookups by the
account's recent posts; Bluesky: record keys), two workers and two beats, against the loopback
platform of `bench.fault_platform` (fsyncs every accepted post; 5 % errors, 2 % hangs past the
client timeout). With faults: a worker SIGKILLed every 15 s for three minutes (and restarted, as a
supervisor would), Redis killed and restarted empty once, a beat killed once. Measures, from the
platform's own log: duplicates, lost, p50/p99 lag (accepted − due), outcomes left to a person.

    python -m bench.faults [--code DIR] [--no-faults] [--n 2000] [--cap SECONDS]

`--code` runs the workers and beats from another checkout (e.g. `git worktree add /tmp/before main`)
so the same harness measures before and after. Needs PostgreSQL at 127.0.0.1:5432 (database
`atelier_bench_faults`, or `BENCH_FAULTS_DB`, is dropped and recreated) and the redis-server binary: a private Redis on
its own port, so killing it disturbs nobody.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from statistics import quantiles

ROOT = Path(__file__).resolve().parent.parent
# Two people measuring at once on one server each pass their own database name.
DB = os.environ.get("BENCH_FAULTS_DB", "atelier_bench_faults")
TIMEOUT = 5  # the connectors' client timeout; hangs last longer
HANG = 8

SETUP = r"""
import io, json, sys
from datetime import date, datetime, timedelta, UTC
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from accounts.models import Creator
from compliance import services as compliance
from content.models import Asset
from scheduling import approval, services
from scheduling.models import PlatformAccount, Post, PostAsset, Publication

N, T0, SPREAD, ACCOUNTS = {n}, datetime.fromtimestamp({t0}, UTC), {spread}, {accounts}
creator = Creator.objects.create(stage_name="Bench", slug="bench-faults")
performer = compliance.create_performer(legal_name="Bench Performer", date_of_birth=date(1990, 1, 1),
                                        creators=[creator])
compliance.record_verification(performer=performer, document_kind="passport", result="approved", actor=None,
                               front=b"\xff\xd8\xff" + b"0" * 64)
compliance.record_consent(performer=performer, platforms=["x", "bluesky"], max_rating="explicit",
                          uses=["publication", "promotion_on_social"], signed_at=timezone.now() - timedelta(days=1))
buffer = io.BytesIO()
Image.new("RGB", (64, 48), (200, 120, 150)).save(buffer, "JPEG")
asset = Asset(creator=creator, kind="image", mime="image/jpeg", sha256="f" * 64, size_bytes=len(buffer.getvalue()),
              rating="sfw", status=Asset.Status.APPROVED, production_date=date(2026, 1, 1), title="Bench")
asset.file.save("bench-faults.jpg", ContentFile(buffer.getvalue()), save=True)
asset.performers.add(performer)
accounts = []
for i in range(ACCOUNTS):
    x = PlatformAccount.objects.create(creator=creator, platform="x", handle=f"bench_x{{i}}", external_id="2244994945",
                                       state="connected")
    services.store_credentials(x, {{"access_token": "x-access-1"}})
    b = PlatformAccount.objects.create(creator=creator, platform="bluesky", handle=f"bench{{i}}.bsky.social",
                                       state="connected")
    services.store_credentials(b, {{"identifier": "creator.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"}})
    accounts += [x, b]
posts = Post.objects.bulk_create([Post(creator=creator, caption=f"Bench post {{i}} of the fault run",
                                       approved_at=timezone.now()) for i in range(N)])
PostAsset.objects.bulk_create([PostAsset(post=p, asset=asset) for p in posts])
Publication.objects.bulk_create([
    Publication(post=posts[i], account=accounts[i % len(accounts)], status="scheduled",
                scheduled_at=T0 + timedelta(seconds=SPREAD * i / N)) for i in range(N)], batch_size=2000)
versions = approval.current_versions(posts)  # the approved version includes the targets
for p in posts:
    p.approved_version = versions[p.pk]
Post.objects.bulk_update(posts, ["approved_version"], batch_size=2000)
print("ready", Publication.objects.count())
"""

REPORT = r"""
import json
from django.db.models import Count
from scheduling.models import Publication
rows = [dict(text=p.caption_override or p.post.caption, due=p.scheduled_at.timestamp(), status=p.status,
             platform=p.account.platform, attempts=p.attempts)
        for p in Publication.objects.select_related("post", "account")]
print("REPORT" + json.dumps(rows))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self, code: Path, faults: bool, n: int, cap: float) -> None:
        self.code, self.faults, self.n, self.cap = code, faults, n, cap
        self.var = ROOT / "var" / "bench-faults" / ("faults" if faults else "calm")
        self.var.mkdir(parents=True, exist_ok=True)
        self.ledger = self.var / "accepted.jsonl"
        self.ledger.unlink(missing_ok=True)
        self.redis_port, self.x_port, self.bsky_port = free_port(), free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.events: list[tuple[float, str]] = []
        self.control = "SCHEDULING_CONTROL_QUEUE" in (code / "config" / "settings.py").read_text()
        self.env = {**os.environ,
                    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
                    "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                    "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "localhost",
                    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuv",
                    "ATELIER_ENCRYPTION_KEYS": "Zm9yLXRlc3RzLW9ubHktZm9yLXRlc3RzLW9ubHktMDA=",
                    "ATELIER_VAR_DIR": str(self.var / "var"),
                    "X_API_URL": f"http://127.0.0.1:{self.x_port}", "X_WEB_URL": f"http://127.0.0.1:{self.x_port}",
                    "BLUESKY_PDS_URL": f"http://127.0.0.1:{self.bsky_port}",
                    "CONNECTOR_TIMEOUT_SECONDS": str(TIMEOUT)}
        for key in ("SCHEDULING_CONNECTORS", "CELERY_BROKER_URL", "PYTHONPATH", "VIRTUAL_ENV"):
            self.env.pop(key, None)

    def log(self, what: str) -> None:
        self.events.append((time.time(), what))
        print(f"[{time.strftime('%H:%M:%S')}] {what}", flush=True)

    def manage(self, script: str) -> str:
        out = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=self.code,
                             env=self.env, capture_output=True, text=True, timeout=900)
        if out.returncode:
            raise RuntimeError(out.stderr[-4000:])
        return out.stdout

    def prepare(self) -> None:
        for sql in (f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True,
                           stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=self.code, env=self.env,
                       check=True)

    def spawn(self, name: str, cmd: list[str], cwd: Path | None = None) -> None:
        out = open(self.var / f"{name}.log", "ab")  # noqa: SIM115 — lives with the process
        self.procs[name] = subprocess.Popen(cmd, cwd=cwd or self.code, env=self.env, stdout=out, stderr=out,
                                            start_new_session=True)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)

    def redis(self) -> None:
        self.spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"])
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.redis_port)) == 0:
                    return
            time.sleep(0.05)

    def worker(self, name: str) -> None:
        queues = ["-Q", "celery"] if self.control else []
        self.spawn(name, [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "2",
                          "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING", *queues])

    def control_worker(self) -> None:
        self.spawn("control", [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1",
                               "-n", "control@%h", "--without-gossip", "--without-mingle", "-l", "WARNING",
                               "-Q", "control"])

    def beat(self, name: str) -> None:
        self.spawn(name, [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "WARNING",
                          "-s", str(self.var / f"{name}-schedule")])

    def go(self) -> dict:
        self.redis()
        self.prepare()
        self.spawn("platform", [sys.executable, "-m", "bench.fault_platform", str(self.ledger), str(self.x_port),
                                str(self.bsky_port), "--hang", str(HANG), *(["--faults"] if self.faults else [])],
                   cwd=ROOT)
        t0 = time.time() + 75
        # 25 accounts per platform: 40 posts each stay inside X's 100 per 15 minutes.
        print(self.manage(SETUP.format(n=self.n, t0=t0, spread=120, accounts=25)).strip().splitlines()[-1])
        for name in ("w1", "w2"):
            self.worker(name)
        if self.control:
            self.control_worker()
        self.beat("beat1")
        self.beat("beat2")
        load_start = os.getloadavg()
        while time.time() < t0:
            time.sleep(0.2)
        self.log("first publication due")
        plan = []
        if self.faults:
            plan += [(15 * k, f"kill w{1 + k % 2}") for k in range(1, 13)]
            plan += [(60, "kill beat1"), (90, "kill redis")]
            if self.control:
                plan.append((120, "kill control"))
        plan.sort()
        for at, what in plan:
            while time.time() < t0 + at:
                time.sleep(0.1)
            name = what.split()[1]
            self.kill(name)
            self.log(f"{what} (SIGKILL)")
            time.sleep(2 if name != "beat1" else 5)
            if name == "redis":
                self.redis()
            elif name == "beat1":
                self.beat(name)
            elif name == "control":
                self.control_worker()
            else:
                self.worker(name)
            self.log(f"{name} restarted")
        last_fault = self.events[-1][0] if plan else t0
        settled_since, last = None, None
        while time.time() < t0 + self.cap:
            time.sleep(5)
            rows = self.report()
            pending = sum(r["status"] in ("scheduled", "claimed", "publishing", "approved") for r in rows)
            state = (pending, sum(r["status"] == "unknown" for r in rows))
            if pending == 0 and state == last:
                settled_since = settled_since or time.time()
                if time.time() - settled_since > 150 or state[1] == 0:
                    break
            else:
                settled_since = None
            last = state
        ended = time.time()
        load_end = os.getloadavg()
        rows = self.report()
        for name in list(self.procs):
            self.kill(name)
        return self.measure(rows, t0, last_fault, ended, load_start, load_end)

    def report(self) -> list[dict]:
        out = self.manage(REPORT)
        return json.loads(out[out.index("REPORT") + 6:].strip())

    def measure(self, rows: list[dict], t0: float, last_fault: float, ended: float, load_start: tuple,
                load_end: tuple) -> dict:
        accepted: dict[str, list[float]] = {}
        for line in self.ledger.read_text().splitlines():
            item = json.loads(line)
            accepted.setdefault(item["text"], []).append(item["at"])
        lags = []
        by_status: dict[str, int] = {}
        for row in rows:
            by_status[row["status"]] = by_status.get(row["status"], 0) + 1
            times = accepted.get(row["text"])
            lag = (min(times) - row["due"]) if times else float("inf")
            lags.append(lag)
        duplicates = sum(len(t) - 1 for t in accepted.values() if len(t) > 1)
        out_texts = set(accepted)
        lost = sum(1 for r in rows if r["text"] not in out_texts and r["status"] not in ("unknown",)
                   and r["status"] not in ("scheduled", "claimed", "publishing"))
        false_published = sum(1 for r in rows if r["status"] == "published" and r["text"] not in out_texts)
        unknown = by_status.get("unknown", 0)
        not_out = sum(1 for lag in lags if lag == float("inf"))
        finite = sorted(lag for lag in lags if lag != float("inf"))
        cuts = quantiles(lags if not_out == 0 else [*finite, *[1e9] * not_out], n=100) if len(lags) > 1 else [0] * 99

        def show(v: float) -> str:
            return f"> {int(ended - t0)} s (not out)" if v >= 1e9 else f"{v:.1f} s"

        result = {
            "code": str(self.code), "faults": self.faults, "n": len(rows),
            "duplicates": duplicates, "lost": lost, "published_but_not_on_platform": false_published,
            "p50_lag": show(cuts[49]), "p99_lag": show(cuts[98]), "max_lag": show(max(lags)),
            "left_to_a_person": f"{unknown} ({100 * unknown / max(1, len(rows)):.2f} %)",
            "not_out_at_end": not_out, "statuses": by_status,
            "last_post_accepted_after_last_fault":
                f"{max(min(t) for t in accepted.values()) - last_fault:.1f} s" if accepted and self.faults else "-",
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in load_end],
            "ran_for": f"{ended - t0:.0f} s after the first due time",
        }
        return result


def main() -> None:
    args = sys.argv[1:]
    code = Path(args[args.index("--code") + 1]).resolve() if "--code" in args else ROOT
    n = int(args[args.index("--n") + 1]) if "--n" in args else 2000
    cap = float(args[args.index("--cap") + 1]) if "--cap" in args else 900
    result = Run(code, "--no-faults" not in args, n, cap).go()
    print(json.dumps(result, indent=2), flush=True)
    out = ROOT / "var" / "bench-faults" / "results.jsonl"
    with out.open("a") as fh:
        fh.write(json.dumps({"at": time.strftime("%Y-%m-%d %H:%M:%S"), **result}) + "\n")


if __name__ == "__main__":
    main()
