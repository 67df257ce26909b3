"""Run every benchmark under bench/ (``make bench``); each prints its own table.

Benchmarks measure speed and memory on purpose-made media; they are never part
of ``make test`` because this machine is shared and timings are noisy.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ORDER = ["exports.py", "hub.py"]


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = [BENCH_DIR / name for name in ORDER if (BENCH_DIR / name).exists()]
    scripts += sorted(
        p
        for p in BENCH_DIR.glob("*.py")
        if p.name not in ORDER and p.name not in {"run.py"} and not p.name.startswith("_")
    )
    failures = 0
    for script in scripts:
        if wanted and script.stem not in wanted:
            continue
        print(f"\n=== bench/{script.name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=BENCH_DIR.parent)
        print(f"(bench/{script.name} took {time.monotonic() - started:.0f} s, exit {code})")
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
