"""The outside world as one small object, so tests can replace any part of it.

Streams, terminal flags, environment, clock and sleep, and the HTTP transport come in here;
nothing else in opwatch reaches for sys.stdout, os.environ or time directly.
"""

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import httpx


PIPE_WIDTH = 160


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
    transport: "httpx.AsyncBaseTransport | None" = None
    """Replaces the network in tests; None means real sockets."""
    verbose: bool = False
    """Log each request (never its credentials) on stderr."""
    quiet: bool = False
    """Print nothing on stderr but errors."""

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
        """Width for tables on stdout: the terminal's, or $COLUMNS, else wide enough that a
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
