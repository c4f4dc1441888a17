"""How many requests `opwatch wait` spends on a job, and how late it notices the end.

One simulated 60 s operation with steady progress and one without progress, each watched by
opwatch `auto`, a fixed 1 s poll and a fixed 3 s poll, all at once in one run (several
repetitions each). Prints requests and the delay between the operation's end and opwatch's exit.

    uv run python bench/poll_economy.py [--duration 60] [--repeat 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opwatch.simulator import Simulator

OPWATCH = Path(sys.executable).parent / "opwatch"
POLICIES = {"auto": "auto", "fixed 1s": "1s", "fixed 3s": "3s"}
KINDS = {"with progress": True, "without progress": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with Simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(sim.config_yaml())
        config.chmod(0o600)
        env = {**os.environ, "OPWATCH_CONFIG": str(config)}
        runs = []
        for kind, progress in KINDS.items():
            for policy, interval in POLICIES.items():
                for _ in range(args.repeat):
                    ref = sim.add_operation(
                        {"provider": "toloka", "duration_s": args.duration, "items": 1000,
                         "reports_progress": progress}
                    )  # fmt: skip
                    op = sim.operation("toloka", ref.partition(":")[2])
                    assert op is not None
                    ends_at = op.created_mono + args.duration
                    process = subprocess.Popen(
                        [str(OPWATCH), "wait", ref, "--interval", interval, "-q", "--json"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                    )
                    runs.append((kind, policy, ref, ends_at, process))
        exits = {}
        pending = {run[2]: run for run in runs}
        while pending:
            for ref, (_, _, _, _, process) in list(pending.items()):
                if process.poll() is not None:
                    exits[ref] = time.monotonic()
                    assert process.returncode == 0, f"{ref} exited {process.returncode}"
                    del pending[ref]
            time.sleep(0.01)
        by_ref = sim.stats()["by_ref"]

    print(f"opwatch wait on a {args.duration:g} s operation, {args.repeat} runs each\n")
    print(f"{'operation':<18} {'policy':<10} {'requests':>9} {'delay median':>13} {'delay max':>10}"
          f" {'delay/duration':>15}")  # fmt: skip
    for kind in KINDS:
        for policy in POLICIES:
            mine = [run for run in runs if run[0] == kind and run[1] == policy]
            requests = [by_ref[run[2]] for run in mine]
            delays = [exits[run[2]] - run[3] for run in mine]
            median = statistics.median(delays)
            print(
                f"{kind:<18} {policy:<10} {statistics.median(requests):>9.0f} "
                f"{median:>12.2f}s {max(delays):>9.2f}s {median / args.duration:>14.1%}"
            )
    print("\ntargets (auto): with progress ≤ 12 requests and median delay ≤ 1.5 s;")
    print("                without progress ≤ 25 requests and delay ≤ 20% of the duration")


if __name__ == "__main__":
    main()
