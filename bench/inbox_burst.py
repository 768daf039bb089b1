"""Inbox webhook burst (not in CI): signed Fanvue `message.received` events at a fixed rate while a worker
is SIGKILLed and Redis is restarted.

The production shape of `docker-compose.yml`: gunicorn (3 processes of 8 threads) serving the real app, two
Celery workers on the default queue, one on the control queue, one beat, PostgreSQL and a private Redis. A creator
with a Fanvue account and a webhook receiver (`analytics.ingest.create_receiver`); a separate client process
sends `message.received` events, each with its own message uuid, spread over many fans, signed
`X-Fanvue-Signature: t=…,v0=HMAC-SHA256(secret, "{t}.{body}")`, at `--rate` per second for `--seconds`, over
many concurrent connections (asyncio, a plain HTTP/1.1 writer: the client must cost less than the server).
Mid-burst a default worker is SIGKILLed (and restarted, as a supervisor would) and Redis is killed and
restarted empty. Then it waits until every accepted event is processed and reports:
- acceptance: each request's latency measured by the client (p50/p99/max), non-2xx and failed requests;
- processing lag: the inbox `Message.created_at` minus the moment the client sent the request;
- messages expected vs recorded (lost), duplicated external ids, events left unprocessed or with an error.

    python -m bench.inbox_burst [--rate 500] [--seconds 60] [--no-faults] [--fans 2000] [--connections 64]

Needs PostgreSQL at 127.0.0.1:5432 (database `atelier_bench_burst`, or `BENCH_BURST_DB` — dropped and
recreated) and the redis-server binary (a private Redis on its own port, so killing it disturbs nobody).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_BURST_DB", "atelier_bench_burst")
SECRET = "bench-burst-signing-secret-0123456789"  # noqa: S105 — the bench receiver's own
CREATOR_UUID = "7b1f0c5e-0000-4000-8000-000000000001"

SETUP = r"""
from accounts.models import Creator
from analytics import ingest
from scheduling.models import PlatformAccount
creator = Creator.objects.create(stage_name="Burst", slug="bench-burst")
account = PlatformAccount.objects.create(creator=creator, platform="fanvue", handle="burst", state="connected",
                                         external_id="{creator_uuid}", options={{"creator_uuid": "{creator_uuid}"}})
receiver, _ = ingest.create_receiver(account, secret="{secret}")
print("TOKEN" + receiver.token + " " + str(account.pk))
"""

REPORT = r"""
import json
from django.db.models import Count
from analytics.models import InboundEvent
from inbox.models import Message
account = {account}
messages = {{m[0]: m[1].timestamp() for m in Message.objects.filter(account_id=account, direction="in")
            .values_list("external_id", "created_at")}}
duplicates = (Message.objects.filter(account_id=account).exclude(external_id="").values("external_id")
              .annotate(n=Count("pk")).filter(n__gt=1).count())
events = InboundEvent.objects.filter(account_id=account)
print("REPORT" + json.dumps(dict(
    messages=messages, duplicates=duplicates, events=events.count(),
    pending=events.filter(processed_at__isnull=True, error="").count(),
    errors=list(events.exclude(error="").values_list("error", flat=True)[:5]),
    with_error=events.exclude(error="").count())))
"""

COUNT = r"""
from analytics.models import InboundEvent
from inbox.models import Message
print("COUNT", Message.objects.filter(account_id={account}).count(),
      InboundEvent.objects.filter(account_id={account}, processed_at__isnull=True, error="").count())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cut(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return quantiles(values, n=100, method="inclusive")[q - 1]


# --- The client (its own process) ------------------------------------------------------------------------


def body_for(i: int, fans: int) -> tuple[str, bytes]:
    message = str(uuid.uuid4())
    fan = f"00000000-0000-4000-8000-{i % fans:012d}"
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    payload = {"messageUuid": message, "recipientUuid": CREATOR_UUID, "timestamp": now,
               "sender": {"uuid": fan, "handle": f"fan{i % fans}", "displayName": f"Fan {i % fans}"},
               "message": {"uuid": message, "text": f"hello #{i}", "hasMedia": False, "mediaUuids": [],
                           "createdAt": now}}
    return message, json.dumps(payload, separators=(",", ":")).encode()


async def post_once(port: int, path: str, body: bytes) -> int:
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      f"X-Fanvue-Signature: t={t},v0={mac}\r\nX-Fanvue-Event: message.received\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
        await writer.drain()
        status = await reader.readline()
        await reader.read()  # to the end: the server closes
        return int(status.split()[1])
    finally:
        writer.close()


async def fire(port: int, token: str, rate: float, seconds: float, fans: int, connections: int,
               ledger: Path) -> None:
    path = f"/hooks/fanvue/{token}/"
    total = int(rate * seconds)
    start = time.time() + 0.5
    rows: list[str] = []
    counter = iter(range(total))

    async def slot() -> None:
        for i in counter:
            scheduled = start + i / rate
            if time.time() > start + seconds + 1:
                return  # a server that falls behind does not stretch the burst: what it could not take is not sent
            delay = scheduled - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            message, body = body_for(i, fans)
            sent = time.time()
            try:
                status = await asyncio.wait_for(post_once(port, path, body), 30)
            except (OSError, TimeoutError, IndexError, ValueError) as exc:
                status = f"{type(exc).__name__}"
            done = time.time()
            rows.append(json.dumps({"uuid": message, "scheduled": scheduled, "sent": sent, "done": done,
                                    "status": status}))

    await asyncio.gather(*(slot() for _ in range(connections)))
    ledger.write_text("\n".join(rows) + "\n")


def client_main(args: list[str]) -> None:
    port, token, rate, seconds, fans, connections, ledger = args
    asyncio.run(fire(int(port), token, float(rate), float(seconds), int(fans), int(connections), Path(ledger)))


# --- The harness -----------------------------------------------------------------------------------------


class Run:
    def __init__(self, rate: float, seconds: float, faults: bool, fans: int, connections: int) -> None:
        self.rate, self.seconds, self.faults, self.fans, self.connections = rate, seconds, faults, fans, connections
        self.var = ROOT / "var" / "bench-burst"
        self.var.mkdir(parents=True, exist_ok=True)
        self.ledger = self.var / "sent.jsonl"
        self.ledger.unlink(missing_ok=True)
        self.redis_port, self.web_port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ,
                    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
                    "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                    "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1,localhost",
                    # TLS ends at the proxy in front of gunicorn in production; the bench speaks plain HTTP.
                    "SECURE_SSL_REDIRECT": "0",
                    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuv",
                    "ATELIER_ENCRYPTION_KEYS": "Zm9yLXRlc3RzLW9ubHktZm9yLXRlc3RzLW9ubHktMDA=",
                    "ATELIER_VAR_DIR": str(self.var / "var")}
        for key in ("CELERY_BROKER_URL", "PYTHONPATH", "VIRTUAL_ENV", "CELERY_TASK_ALWAYS_EAGER"):
            self.env.pop(key, None)
        self.events: list[str] = []
        self.cpu: dict[str, float] = {}

    def log(self, what: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {what}")
        print(f"[{time.strftime('%H:%M:%S')}] {what}", flush=True)

    def manage(self, script: str) -> str:
        out = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=ROOT,
                             env=self.env, capture_output=True, text=True, timeout=900)
        if out.returncode:
            raise RuntimeError(out.stderr[-4000:])
        return out.stdout

    def prepare(self) -> tuple[str, int]:
        for sql in (f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True,
                           stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=self.env,
                       check=True)
        out = self.manage(SETUP.format(secret=SECRET, creator_uuid=CREATOR_UUID))
        token, account = out[out.index("TOKEN") + 5:].split()
        return token, int(account)

    def spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.var / f"{name}.log", "ab")  # noqa: SIM115 — lives with the process
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=out,
                                            start_new_session=True)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)

    def wait_port(self, port: int, seconds: float = 60) -> None:
        end = time.time() + seconds
        while time.time() < end:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"nothing listens on {port}")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) of each role's process group so far, from /proc."""
        tick = os.sysconf("SC_CLK_TCK")
        groups = {proc.pid: name for name, proc in self.procs.items()}
        used: dict[str, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            name = groups.get(int(fields[2]))  # process group id
            if name:
                role = "workers" if name in ("w1", "w2", "control") else name
                used[role] = used.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return used

    def redis(self) -> None:
        self.spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"])
        self.wait_port(self.redis_port)

    def worker(self, name: str) -> None:
        queue = "control" if name == "control" else "celery"
        self.spawn(name, [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork",
                          "-c", "1" if name == "control" else "2", "-n", f"{name}@%h", "--without-gossip",
                          "--without-mingle", "-l", "WARNING", "-Q", queue])

    def start(self) -> None:
        # As docker-compose.yml runs it: 3 processes of 8 threads (a request mostly waits on PostgreSQL's commit).
        self.spawn("web", [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
                           f"127.0.0.1:{self.web_port}", "--workers", "3", "--worker-class", "gthread",
                           "--threads", "8", "--log-level", "warning"])
        for name in ("w1", "w2", "control"):
            self.worker(name)
        self.spawn("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "WARNING",
                            "-s", str(self.var / "beat-schedule")])
        self.wait_port(self.web_port)
        time.sleep(8)  # workers and beat connected, gunicorn's workers booted

    def go(self) -> dict:
        self.redis()
        token, account = self.prepare()
        self.start()
        baseline = self.warm_up(token, account)
        load_start = os.getloadavg()
        cpu_start = self.cpu_seconds()
        client = subprocess.Popen([sys.executable, "-m", "bench.inbox_burst", "--client", str(self.web_port), token,
                                   str(self.rate), str(self.seconds), str(self.fans), str(self.connections),
                                   str(self.ledger)], cwd=ROOT, env=self.env)
        t0 = time.time() + 0.5
        self.log(f"burst: {self.rate:g}/s for {self.seconds:g} s")
        plan = [(self.seconds / 3, "kill w1"), (2 * self.seconds / 3, "kill redis")] if self.faults else []
        for at, what in plan:
            while time.time() < t0 + at:
                time.sleep(0.05)
            name = what.split()[1]
            self.kill(name)
            self.log(f"{what} (SIGKILL)")
            time.sleep(1)
            if name == "redis":
                self.redis()
            else:
                self.worker(name)
            self.log(f"{name} restarted")
        client.wait()
        burst_end = time.time()
        load_burst = os.getloadavg()
        self.log("burst sent; waiting for processing")
        sent = [json.loads(line) for line in self.ledger.read_text().splitlines() if line.strip()]
        accepted = sum(1 for r in sent if r["status"] == 200)
        while time.time() < burst_end + 600:
            recorded, pending = map(int, self.manage(COUNT.format(account=account)).split()[1:])
            if recorded >= baseline + accepted and pending == 0:
                break
            time.sleep(2)
        drained = time.time()
        cpu_end = self.cpu_seconds()
        self.cpu = {role: round(cpu_end.get(role, 0) - cpu_start.get(role, 0), 1) for role in ("web", "workers")}
        report = self.manage(REPORT.format(account=account))
        for name in list(self.procs):
            self.kill(name)
        return self.measure(sent, json.loads(report[report.index("REPORT") + 6:]), baseline, burst_end, drained,
                            load_start, load_burst)

    def warm_up(self, token: str, account: int) -> int:
        """A slow trickle first, until every process has booted and answered: gunicorn's workers load the app
        on their first request and the Celery workers take seconds to start on a busy machine, which would
        otherwise be measured as the burst's first seconds. Returns the messages recorded by it."""
        ledger = self.var / "warm-up.jsonl"
        subprocess.run([sys.executable, "-m", "bench.inbox_burst", "--client", str(self.web_port), token, "5", "20",
                        str(self.fans), "4", str(ledger)], cwd=ROOT, env=self.env, check=True)
        rows = [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]
        accepted = sum(1 for r in rows if r["status"] == 200)
        end = time.time() + 300
        while time.time() < end:
            recorded, pending = map(int, self.manage(COUNT.format(account=account)).split()[1:])
            if recorded >= accepted and pending == 0:
                break
            time.sleep(2)
        time.sleep(5)
        self.log(f"warmed up: {recorded} messages")
        return recorded

    def measure(self, sent: list[dict], db: dict, baseline: int, burst_end: float, drained: float, load_start: tuple,
                load_burst: tuple) -> dict:
        ok = [r for r in sent if r["status"] == 200]
        latency = sorted(1000 * (r["done"] - r["sent"]) for r in sent)
        behind = sorted(1000 * (r["done"] - r["scheduled"]) for r in sent)
        recorded: dict[str, float] = db["messages"]
        lags = sorted(recorded[r["uuid"]] - r["sent"] for r in ok if r["uuid"] in recorded)
        lost = sum(1 for r in ok if r["uuid"] not in recorded)
        span = max(r["sent"] for r in sent) - min(r["sent"] for r in sent) if sent else 0
        return {
            "rate": self.rate, "seconds": self.seconds, "faults": self.faults, "faults_at": self.events,
            "planned": int(self.rate * self.seconds), "sent": len(sent),
            "achieved_rate": round(len(sent) / span, 1) if span else 0,
            "non_2xx": sum(1 for r in sent if r["status"] != 200),
            "statuses": {str(s): sum(1 for r in sent if r["status"] == s) for s in {r["status"] for r in sent}},
            "acceptance_ms": {"p50": round(cut(latency, 50), 1), "p99": round(cut(latency, 99), 1),
                              "max": round(latency[-1], 1)},
            "acceptance_from_schedule_ms": {"p50": round(cut(behind, 50), 1), "p99": round(cut(behind, 99), 1),
                                            "max": round(behind[-1], 1)},
            "lag_s": {"p50": round(cut(lags, 50), 2), "p99": round(cut(lags, 99), 2),
                      "max": round(lags[-1], 2) if lags else None},
            "expected": len(ok), "recorded": len(recorded) - baseline, "lost": lost, "duplicates": db["duplicates"],
            "events": db["events"], "events_pending": db["pending"], "events_with_error": db["with_error"],
            "errors": db["errors"], "drained_after_burst_s": round(drained - burst_end, 1),
            "cpu_seconds_burst_and_drain": self.cpu,
            "cpu_ms_per_event": {role: round(1000 * v / max(1, len(sent)), 1) for role, v in self.cpu.items()},
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end_of_burst": [round(x, 2) for x in load_burst],
        }


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--client":
        client_main(args[1:])
        return

    def opt(name: str, default: float) -> float:
        return float(args[args.index(name) + 1]) if name in args else default

    run = Run(opt("--rate", 500), opt("--seconds", 60), "--no-faults" not in args, int(opt("--fans", 2000)),
              int(opt("--connections", 64)))
    try:
        result = run.go()
    finally:
        for name in list(run.procs):
            run.kill(name)
    print(json.dumps(result, indent=2), flush=True)
    with (ROOT / "var" / "bench-burst" / "results.jsonl").open("a") as fh:
        fh.write(json.dumps({"at": time.strftime("%Y-%m-%d %H:%M:%S"), **result}) + "\n")


if __name__ == "__main__":
    main()
