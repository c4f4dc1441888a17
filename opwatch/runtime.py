"""The outside world as one small object, so tests can replace any part of it.

Streams, terminal flags, environment, clock and sleep, the event loop, SIGTERM handling and the
HTTP transport come in here; nothing else in opwatch reaches for sys.stdout, os.environ or time
directly. `opwatch.cli.main(argv, runtime)` runs the whole CLI in whatever world it is given.
"""

import asyncio
import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

PIPE_WIDTH = 10_000
"""The console width of a pipe or a file: tables there take their natural widths (see
opwatch.render.fit), and text is not folded at any width a reader did not choose."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


YOUNG_COLLECTION_EVERY = 10_000
"""Allocations between two collections of the collector's youngest generation (Python's default
is 700). At 700 a wait on 10,000 operations kept promoting the objects of reads still in
flight, and the full collections that followed (0.2 s each over a 110 MB heap) froze the live
view; at 10,000 those objects die young (bench/scale.py at 10,000 operations: the slowest
live frame 11 ms instead of 34-192 ms, 0.189 ms of CPU per read instead of 0.226)."""


def collect_less_often() -> None:
    """Set the collector's young-generation threshold for the opwatch process; never called
    for a program that uses the Python API, whose collector stays its own."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)


def run_event_loop(main: Coroutine[Any, Any, Any], *, many_reads: bool = False) -> Any:
    """Run `main` on a fresh event loop: asyncio's, or uvloop's for `many_reads`.

    libuv's loop takes 10-20% less CPU per read than asyncio's (bench/scale.py), which pays for
    a wait on thousands of operations; importing and starting it costs 3-4 ms, a tenth of a
    `status` run's own time, which makes a handful of requests (bench/startup.py). Not on
    Windows, nor where uvloop is not installed.
    """
    if many_reads:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


@dataclass
class Runtime:
    """What a command may touch outside itself."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stderr_is_tty: bool = field(default_factory=lambda: sys.stderr.isatty())
    stdout_is_tty: bool = field(default_factory=lambda: sys.stdout.isatty())
    clock: Callable[[], float] = time.monotonic
    """Monotonic seconds, for schedules and deadlines."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    now: Callable[[], datetime] = _utcnow
    """Wall-clock time in UTC, for ages and timestamps."""
    loop: Callable[[Coroutine[Any, Any, Any]], Any] = run_event_loop
    """Runs a command's coroutine to its end on a fresh event loop (tests drive a virtual clock
    from theirs)."""
    sigterm: bool = False
    """Whether SIGTERM ends a run the way Ctrl-C does (code 143). Only the real process asks
    for it: a signal handler is process-wide and would outlive an in-process run."""
    transport: "httpx.AsyncBaseTransport | None" = None
    """Replaces the network in tests; None means real sockets."""
    verbose: bool = False
    """Log each request (never its credentials) on stderr."""
    quiet: bool = False
    """Print nothing on stderr but errors."""

    def run(self, main: Coroutine[Any, Any, T], *, many_reads: bool = False) -> T:
        """Run `main` on this runtime's event loop and return its result; `many_reads` says
        it may poll thousands of times (a wait), for which the faster loop pays its start."""
        if many_reads and self.loop is run_event_loop:
            return cast(T, run_event_loop(main, many_reads=True))
        result: T = self.loop(main)
        return result

    @property
    def color(self) -> bool:
        """Whether people's output on stderr may use colour (https://no-color.org)."""
        return self.stderr_is_tty and not self.env.get("NO_COLOR")

    @property
    def stdout_color(self) -> bool:
        """Whether tables on stdout may use colour: only on a terminal, and not with NO_COLOR."""
        return self.stdout_is_tty and not self.env.get("NO_COLOR")

    @property
    def stdout_width(self) -> int | None:
        """Width for text on stdout: the terminal's, or $COLUMNS, else wide enough that a
        pipe or a file gets whole lines rather than folded ones."""
        if self.stdout_is_tty or self.env.get("COLUMNS"):
            return None
        return PIPE_WIDTH

    def warn(self, message: str) -> None:
        """A warning for people, on stderr."""
        if not self.quiet:
            print(f"opwatch: warning: {message}", file=self.stderr, flush=True)

    def log(self, message: str) -> None:
        """A line of the -v request log, on stderr."""
        if self.verbose:
            print(f"opwatch: {message}", file=self.stderr, flush=True)
