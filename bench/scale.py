"""`opwatch wait` on thousands of operations across the three providers on one simulator.

For 1,000 and then 10,000 operations whose durations spread from 1 to 60 s: wall time past the
last operation's end, requests made, client CPU per request and client peak RSS, with the client
a separate `opwatch wait` process. Then, at 10,000, the live view recorded into a file-backed
console: its refresh CPU against the client's whole CPU. At 1,000, for reference, the same
polling over bare sockets with no HTTP library (skip it with --no-reference).

    uv run python bench/scale.py [--sizes 1000,10000] [--rate 1000] [--no-reference]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

OPWATCH = Path(sys.executable).parent / "opwatch"
PROVIDERS = ("wesog", "toloka", "trafficops")
LONGEST_S = 60.0


class SimulatorProcess:
    """`opwatch simulate` in its own process, so it does not share the client's CPU."""

    def __init__(self, count: int, folder: Path) -> None:
        scenario = folder / f"scenario-{count}.yaml"
        operations = [
            {
                "provider": PROVIDERS[index % 3],
                "duration_s": 1 + (LONGEST_S - 1) * index / max(1, count - 1),
                "items": 100,
                "fail_fraction": 0.0,
            }
            for index in range(count)
        ]
        scenario.write_text(yaml.safe_dump({"operations": operations}))
        self.config = folder / f"config-{count}.yaml"
        self.process = subprocess.Popen(
            [str(OPWATCH), "simulate", "--port", "0", "--scenario", str(scenario),
             "--write-config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.refs = [self.process.stdout.readline().strip() for _ in range(count)]
        self.started = time.monotonic()  # the operations' clocks started just before
        text = self.config.read_text()
        self.url = next(line.split("url: ")[1] for line in text.splitlines() if "url: " in line)

    def requests(self) -> int:
        return int(httpx.get(f"{self.url}/_sim/stats").json()["requests"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def client_run(sim: SimulatorProcess, rate: float) -> dict[str, float]:
    """One `opwatch wait` over every REF, as a separate process."""
    env = {**os.environ, "OPWATCH_CONFIG": str(sim.config)}
    # As on a user's machine (pip writes bytecode at install), the client runs from bytecode
    # caches: a first read-once wait writes them. With PYTHONDONTWRITEBYTECODE set (some
    # sandboxes and CI images set it), every client would compile its modules again and a
    # tenth of its CPU would be the compiler's.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    warm = [str(OPWATCH), "wait", *sim.refs[:3], "--timeout", "0", "--json", "-q"]
    subprocess.run(warm, env=env, stdout=subprocess.DEVNULL, check=False)
    before = sim.requests()
    process = subprocess.Popen(
        [str(OPWATCH), "wait", "-", "--json", "-q", "--rate", str(rate), "--timeout", "15m"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("\n".join(sim.refs))
    process.stdin.close()
    lines = process.stdout.readlines()
    _, status, usage = os.wait4(process.pid, 0)
    ended = time.monotonic()
    code = os.waitstatus_to_exitcode(status)
    requests = sim.requests() - before
    cpu = usage.ru_utime + usage.ru_stime
    done = sum('"terminal":true' in line for line in lines)
    return {
        "exit code": code,
        "operations ended and seen": done,
        "wall past the last end (s)": ended - (sim.started + LONGEST_S),
        "requests": requests,
        "client CPU (s)": cpu,
        "client CPU per request (ms)": 1000 * cpu / max(1, requests),
        "client peak RSS (MB)": usage.ru_maxrss / 1024,
    }


BARE_SOCKET_CLIENT = """
import asyncio, json, random, sys

host, port, key, ids = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")


async def main():
    connections = asyncio.Queue()
    for _ in range(24):  # opwatch's 8 per profile, 3 profiles
        connections.put_nowait(await asyncio.open_connection(host, port))

    async def poll(op_id):
        request = (f"GET /ops/{op_id} HTTP/1.1\\r\\nHost: {host}:{port}\\r\\nAPI-Key: {key}\\r\\n"
                   "Accept: application/json\\r\\n\\r\\n").encode()
        for _ in range(9):
            reader, writer = await connections.get()
            writer.write(request)
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\\r\\n")[0])
            json.loads(await reader.readexactly(length))
            connections.put_nowait((reader, writer))
            await asyncio.sleep(random.uniform(3, 10))

    await asyncio.gather(*(poll(ids[n % len(ids)]) for n in range(1000)))


try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


def bare_socket_run(sim: SimulatorProcess) -> dict[str, float]:
    """A reference: 1,000 pollers reading 9 times each over bare sockets (opwatch's event loop,
    no HTTP library), each read waking the loop on its own. opwatch's shared read tick goes under
    it: on a quiet loop the wake-ups, not the HTTP, are most of a read's CPU."""
    host, port = sim.url.split("//")[1].split(":")
    ids = ",".join(ref.split(":")[1] for ref in sim.refs if ref.startswith("media:"))
    before = sim.requests()
    process = subprocess.Popen(
        [sys.executable, "-c", BARE_SOCKET_CLIENT, host, port, "sim-wesog-key", ids]
    )
    _, _, usage = os.wait4(process.pid, 0)
    requests = sim.requests() - before
    cpu = usage.ru_utime + usage.ru_stime
    return {"requests": requests, "CPU per request (ms)": 1000 * cpu / max(1, requests)}


def live_view_run(sim: SimulatorProcess, rate: float, folder: Path) -> dict[str, float]:
    """The same wait in this process through opwatch's own wait service, its events going to
    the live view, drawn into a file-backed console of 160x40: the aggregate, with every
    frame extrapolating the operations it shows from their last reads."""
    from opwatch import core
    from opwatch.config import load_config
    from opwatch.model import OpRef
    from opwatch.render.console import make_console
    from opwatch.render.live import LiveView
    from opwatch.runtime import Runtime, collect_less_often
    from opwatch.session import Session
    from opwatch.watch import Event, WatchOptions

    collect_less_often()  # as the opwatch command does
    runtime = Runtime(env={}, quiet=True)
    config = load_config(sim.config, {})
    refs = [OpRef(*ref.split(":", 1)) for ref in sim.refs]

    async def main() -> tuple[float, float, int]:
        events = 0

        def report(event: Event) -> None:
            nonlocal events
            events += 1
            view.event(event)

        async with Session(config, runtime) as session:
            with (folder / "live.txt").open("w") as screen:
                console = make_console(
                    screen, color=True, width=160, terminal=True, env={"LINES": "40"}
                )
                options = WatchOptions(timeout_s=900, rate_per_profile=rate)
                watcher = core.watcher(session, refs, options, report)
                view = LiveView(
                    console,
                    watcher.snapshots(),
                    clock=runtime.clock,
                    sleep=runtime.sleep,
                    transient=False,
                )
                began = time.process_time()
                view.start()
                try:
                    await watcher.run()
                finally:
                    view.stop()
                cpu = time.process_time() - began
                recent = sorted(view.recent_frame_seconds)
                p95 = recent[int(0.95 * (len(recent) - 1))] if recent else 0.0
                return (
                    cpu,
                    view.refresh_seconds,
                    events,
                    view.frames,
                    p95,
                    view.slowest_frame_seconds,
                )

    cpu, refresh, events, frames, p95, slowest = runtime.run(main())
    return {
        "events the live view received": events,
        "client CPU (s)": cpu,
        "live view refresh CPU (s)": refresh,
        "refresh share of client CPU": refresh / cpu,
        "frames drawn": frames,
        "mean frame CPU (ms)": 1000 * refresh / max(1, frames),
        "95th percentile frame (ms)": 1000 * p95,
        "slowest frame CPU (ms)": 1000 * slowest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rate", type=float, default=1000.0, help="--rate per profile")
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the bare-socket reference",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; opwatch wait --rate {args.rate:g} per profile\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for count in (int(size) for size in args.sizes.split(",")):
            sim = SimulatorProcess(count, folder)
            try:
                figures = client_run(sim, args.rate)
            finally:
                sim.stop()
            print(f"{count} operations, client as its own process")
            for name, value in figures.items():
                print(f"  {name:<32} {value:10.3f}" if isinstance(value, float) else
                      f"  {name:<32} {value:10d}")  # fmt: skip
            if count == 1000 and args.reference:
                sim = SimulatorProcess(count, folder)
                try:
                    reference = bare_socket_run(sim)
                finally:
                    sim.stop()
                print("the same load on bare sockets, for reference")
                for name, value in reference.items():
                    print(f"  {name:<32} {value:10.3f}" if isinstance(value, float) else
                          f"  {name:<32} {value:10d}")  # fmt: skip
            if count >= 10_000:
                sim = SimulatorProcess(count, folder)
                try:
                    live = live_view_run(sim, args.rate, folder)
                finally:
                    sim.stop()
                print(f"{count} operations, live view into a file-backed console")
                for name, value in live.items():
                    print(f"  {name:<32} {value:10.3f}" if isinstance(value, float) else
                          f"  {name:<32} {value:10d}")  # fmt: skip
            print()
    print("targets: every end detected; at 1,000: ≤ 0.25 ms CPU per request, ≤ 150 MB RSS;")
    print("         at 10,000: ≤ 300 MB RSS, live view refresh < 10% of the client's CPU,")
    print("         a frame < 20 ms")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"(this benchmark process itself peaked at {usage.ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
