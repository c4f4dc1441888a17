"""Peak memory of `opwatch list-errors --group` on a 200,000-step Toloka log, against the
bare start-up of the same command.

    uv run python bench/log_memory.py [--steps 200000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OPWATCH = Path(sys.executable).parent / "opwatch"


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run `argv`; return its peak RSS in MB, its wall seconds and its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, argv
    return usage.ru_maxrss / 1024, time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # The simulator runs in its own process: a child's peak RSS counts the memory of the
        # process it was forked from, so this one must stay small.
        scenario = Path(tmp) / "scenario.yaml"
        scenario.write_text(
            "operations:\n  - {provider: toloka, items: 1000, fail_fraction: 0.3, "
            f"log_steps: {args.steps}, age_s: 100}}\n"
        )
        config = Path(tmp) / "config.yaml"
        simulator = subprocess.Popen(
            [str(OPWATCH), "simulate", "--port", "0", "--scenario", str(scenario),
             "--write-config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert simulator.stdout is not None
        ref = simulator.stdout.readline().strip()
        env = {**os.environ, "OPWATCH_CONFIG": str(config)}
        try:
            bare, _, _ = peak_rss_mb([str(OPWATCH), "status", ref, "-o", "json"], env)
            grouped, seconds, out = peak_rss_mb([str(OPWATCH), "list-errors", ref, "--group"], env)
            listed, _, _ = peak_rss_mb([str(OPWATCH), "list-errors", ref, "--limit", "50"], env)
            everything, _, _ = peak_rss_mb([str(OPWATCH), "list-errors", ref, "--json"], env)
        finally:
            simulator.terminate()
            simulator.wait()
    counts = [line.split()[1] for line in out.splitlines()[1:] if line.strip()]
    rows = sum(int(count) for count in counts if count.isdigit())
    print(f"list-errors on a Toloka log of {args.steps:,} steps ({rows:,} error rows)\n")
    print(f"status -o json (the start-up baseline)  peak RSS {bare:7.1f} MB")
    for name, rss in (("--group", grouped), ("--limit 50", listed), ("--json", everything)):
        print(f"list-errors {name:<27} peak RSS {rss:7.1f} MB  (+{rss - bare:.1f} MB)")
    print(f"(--group took {seconds:.1f} s)")
    print("\ntarget: --group at most 100 MB above the bare start-up")


if __name__ == "__main__":
    main()
