"""Peak memory of `opwatch list` over 100,000 operations per provider: Toloka paged 300 at a
time, Wesog's one array parsed as it arrives, against the same command listing one.

    uv run python bench/list_memory.py [--operations 100000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OPWATCH = Path(sys.executable).parent / "opwatch"

# The simulator runs in its own process: a child's peak RSS counts the memory of the process it
# was forked from, so this one must stay small.
SERVER = """
import os, sys, threading
from opwatch.simulator import Simulator
sim = Simulator()
for provider in ("toloka", "wesog"):
    for i in range({count}):
        sim.add_operation({{"provider": provider, "age_s": 100 + i % 50, "items": 10}})
sim.start()
open(sys.argv[1], "w").write(sim.config_yaml())
os.chmod(sys.argv[1], 0o600)
print("ready", flush=True)
threading.Event().wait()
"""


RUNS = {
    "list crowd -o ref (Toloka)": ["list", "crowd", "-o", "ref"],
    "list media -o json (Wesog)": ["list", "media", "-o", "json"],
    "list media (Wesog, table)": ["list", "media"],
}


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run `argv`; return its peak RSS in MB, its wall seconds and how many lines it printed."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    lines = sum(1 for _ in process.stdout)
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, argv
    return usage.ru_maxrss / 1024, time.perf_counter() - started, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER.format(count=args.operations), str(config)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        env = {**os.environ, "OPWATCH_CONFIG": str(config)}
        try:
            figures = {
                name: (
                    peak_rss_mb([str(OPWATCH), *argv, "--limit", "1"], env)[0],
                    *peak_rss_mb([str(OPWATCH), *argv], env),
                )
                for name, argv in RUNS.items()
            }
        finally:
            server.terminate()
            server.wait()
    print(f"opwatch list over {args.operations:,} operations per provider, against the same "
          "command with --limit 1\n")  # fmt: skip
    for name, (one, rss, seconds, lines) in figures.items():
        print(f"{name:<28} peak RSS {rss:6.1f} MB (--limit 1: {one:5.1f} MB, "
              f"+{rss - one:.1f} MB), {lines:,} lines in {seconds:.1f} s")  # fmt: skip
    print("\ntarget: each at most 50 MB above the baseline, whatever the number of operations")


if __name__ == "__main__":
    main()
