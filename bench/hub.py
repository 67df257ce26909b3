"""Hub benchmark: one daphne process on the real Redis layer, measured from real sockets.

Run: ``.venv/bin/python bench/hub.py`` (``make bench`` runs it through bench/run.py).
Redis is REDIS_URL when set, else the embedded one. The database is a throwaway SQLite
file (DATABASE_URL is ignored here: the bench measures the hub, not the database).

Measured, against the targets of the hub issue:
- a notification to each of 1,000 distinct users (one socket each), created by a producer
  process with ``notify`` in one transaction: latency from commit to arrival, p50 / p99, lost;
- a ``job`` frame from ``publish_job`` in a producer process to a socket: p50 / p99;
- how many authenticated idle sockets one process holds (5,000 asked), and daphne's
  memory per socket.
The sockets are aiohttp clients in this process, so client and producer share its CPU
with nothing but each other; daphne and Redis run beside it on the same machine.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERS = 1000
SOCKETS_TARGET = int(os.environ.get("HUB_BENCH_SOCKETS", "5000"))
JOB_SAMPLES = 200
NOTIFY_P99_TARGET_MS = 1000
JOB_P99_TARGET_MS = 25


def phase(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


os.environ.pop("DATABASE_URL", None)
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
os.environ["REELFORGE_TEST_RUN"] = f"bench-{uuid.uuid4().hex[:8]}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run_producer(daphne, *argv: str) -> dict:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "notifications.loadtest",
        *argv,
        cwd=ROOT,
        env=daphne.env,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"producer {argv} exited with {process.returncode}")
    return json.loads(stdout.decode().strip().splitlines()[-1])


async def measure(daphne, users, results: dict) -> None:
    import aiohttp

    from notifications.loadtest import close_sockets, open_sockets

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        baseline_rss = daphne.rss_bytes()
        sockets, failures = await open_sockets(session, daphne, users)
        results["first_failures"] = failures
        phase(f"{len(sockets)} sockets open, {len(failures)} failed")

        # 1. One notification to each of 1,000 users, committed at once by a producer
        # process (as a queue worker would); time zero is its commit.
        marks = await run_producer(daphne, "broadcast", "bench")
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and any(
            not s.of_type("notification") for s in sockets
        ):
            await asyncio.sleep(0.05)
        arrivals = [s.of_type("notification")[0][0] for s in sockets if s.of_type("notification")]
        results["notify_latency"] = [t - marks["commit"] for t in arrivals]
        results["notify_lost"] = len(sockets) - len(arrivals)
        results["pushed_after"] = marks["pushed"] - marks["commit"]
        phase("broadcast measured")

        # 2. Job frames from a producer process, one fresh job id per sample.
        watcher = sockets[0]
        sent_at = await run_producer(
            daphne, "jobs", str(watcher.user_id), str(JOB_SAMPLES), "10000000"
        )
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and len(watcher.of_type("job")) < JOB_SAMPLES:
            await asyncio.sleep(0.05)
        results["job_latency"] = [t - sent_at[str(f["id"])] for t, f in watcher.of_type("job")]
        results["job_lost"] = JOB_SAMPLES - len(results["job_latency"])
        phase("job frames measured")

        # 3. More tabs until the process holds SOCKETS_TARGET sockets, then idle a while.
        extra = SOCKETS_TARGET - len(sockets)
        tabs = [users[i % len(users)] for i in range(extra)]
        more, failures = await open_sockets(session, daphne, tabs)
        sockets += more
        results["more_failures"] = failures
        phase(f"{len(sockets)} sockets open, {len(failures)} more failed")
        await asyncio.sleep(10)
        results["held"] = sum(1 for s in sockets if s.closed_code is None and not s.ws.closed)
        results["rss_per_socket"] = (daphne.rss_bytes() - baseline_rss) / max(len(sockets), 1)
        results["rss_total"] = daphne.rss_bytes()
        codes = collections.Counter(s.closed_code for s in sockets if s.closed_code is not None)
        reasons = collections.Counter(f.split(": ", 1)[-1][:80] for f in results["first_failures"])
        reasons.update(f.split(": ", 1)[-1][:80] for f in failures)
        if codes or reasons:
            phase(f"closed: {dict(codes)}; failures: {reasons.most_common(5)}")
        await close_sockets(sockets)


def main() -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    from config import embedded_redis
    from notifications.loadtest import Daphne, create_signed_in_users, raise_fd_limit

    if settings.REDIS_EMBEDDED:
        embedded_redis.ensure_running()
    raise_fd_limit(4 * SOCKETS_TARGET)
    old_config = setup_databases(verbosity=0, interactive=False)
    results: dict = {}
    log_path = settings.TEST_VAR_DIR / "daphne.log"
    try:
        users = create_signed_in_users(USERS, prefix="bench")
        phase("database ready")
        child_env = {
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "REELFORGE_CHILD_PROCESS": "1",
        }
        with Daphne(env=child_env, log_path=log_path) as daphne:
            asyncio.run(measure(daphne, users, results))
        log = log_path.read_text(errors="replace")
        results["dropped"] = sum(int(n) for n in re.findall(r"(\d+) of \d+ channels over", log))
    finally:
        connections.close_all()
        teardown_databases(old_config, verbosity=0)
        shutil.rmtree(settings.TEST_VAR_DIR, ignore_errors=True)
    met = print_table(results, redis="REDIS_URL" if not settings.REDIS_EMBEDDED else "embedded")
    return 0 if met else 1


def print_table(r: dict, *, redis: str) -> bool:
    """Print the hub table; True when every target is met."""
    ms = 1000.0
    notify = r["notify_latency"]
    job = r["job_latency"]
    failures = len(r["first_failures"]) + len(r["more_failures"])
    notify_p99, job_p99 = percentile(notify, 99) * ms, percentile(job, 99) * ms
    # (metric, measured, target, met: None when the row has no target)
    rows = [
        ("sockets held (authenticated, idle 10 s)", f"{r['held']} / {SOCKETS_TARGET}",
         str(SOCKETS_TARGET), r["held"] >= SOCKETS_TARGET),
        ("handshake failures", str(failures), "0", failures == 0),
        ("daphne memory per socket", f"{r['rss_per_socket'] / 1024:.0f} KB", "-", None),
        ("daphne memory with all sockets", f"{r['rss_total'] / 1024**2:.0f} MB", "-", None),
        (f"notification to {USERS} users, p50", f"{statistics.median(notify) * ms:.0f} ms", "-",
         None),
        (f"notification to {USERS} users, p99", f"{notify_p99:.0f} ms",
         f"<= {NOTIFY_P99_TARGET_MS}", notify_p99 <= NOTIFY_P99_TARGET_MS),
        (f"notification to {USERS} users, last", f"{max(notify) * ms:.0f} ms", "-", None),
        ("  of which publishing (commit -> Redis)", f"{r['pushed_after'] * ms:.0f} ms", "-", None),
        ("notifications lost", str(r["notify_lost"]), "0", r["notify_lost"] == 0),
        ("channel-layer drops (daphne log)", str(r["dropped"]), "0", r["dropped"] == 0),
        ("job frame publish -> client, p50", f"{statistics.median(job) * ms:.1f} ms", "-", None),
        ("job frame publish -> client, p99", f"{job_p99:.1f} ms", f"<= {JOB_P99_TARGET_MS}",
         job_p99 <= JOB_P99_TARGET_MS),
        ("job frames lost", str(r["job_lost"]), "0", r["job_lost"] == 0),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nHub: one daphne process, Redis {redis}, {os.cpu_count()} cores, load {load}")
    print(f"{'metric'.ljust(width)}  {'measured':>14}  {'target':>8}")
    for name, value, target, met in rows:
        missed = "   MISSED" if met is False else ""
        print(f"{name.ljust(width)}  {value:>14}  {target:>8}{missed}")
    return all(met is not False for *_, met in rows)


if __name__ == "__main__":
    sys.exit(main())
