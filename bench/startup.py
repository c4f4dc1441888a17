"""Start-up cost: `opwatch status REF -o json` as a fresh process, against the bare import of
its four libraries, alternating the two; also `opwatch --version` and `opwatch --help`.

    uv run python bench/startup.py [--runs 20]
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
BARE = [sys.executable, "-c", "import typer, httpx, rich.progress, yaml"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with Simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        ref = sim.add_operation({"provider": "toloka", "age_s": 100})
        config = Path(tmp) / "config.yaml"
        config.write_text(sim.config_yaml())
        config.chmod(0o600)
        # As on a user's machine, the first run writes bytecode caches and the timed runs use
        # them: with PYTHONDONTWRITEBYTECODE set (some sandboxes and CI images set it), every
        # run would compile opwatch's modules again and time the compiler, not the start-up.
        env = {**os.environ, "OPWATCH_CONFIG": str(config)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands = {
            "bare import": BARE,
            "status -o json": [str(OPWATCH), "status", ref, "-o", "json"],
            "--version": [str(OPWATCH), "--version"],
            "--help": [str(OPWATCH), "--help"],
        }
        for argv in commands.values():  # warm the file and bytecode caches once
            timed(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():  # alternating, so drift hits all alike
                times[name].append(timed(argv, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"start-up, median of {args.runs} alternating runs each\n")
    for name, median in medians.items():
        ratio = median / medians["bare import"]
        print(f"{name:<16} {median * 1000:7.1f} ms   ratio to bare import {ratio:5.2f}")
    print("\ntarget: status -o json ratio ≤ 1.00")


if __name__ == "__main__":
    main()
