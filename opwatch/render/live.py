"""What `opwatch wait` shows on stderr as it waits: a live view on a terminal, else plain lines.

Both are made of the frozen snapshots the engine hands over with each event, and draw on the
event loop, timed by the runtime's clock: nothing is shared with another thread. stdout stays
free for data.
"""

import asyncio
import heapq
import operator
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from opwatch.durations import format_duration
from opwatch.model import OpRef, State
from opwatch.render.table import STATE_STYLES, progress_cell, state_text
from opwatch.watch import ERROR, UNREAD, Event, EventKind, Snapshot

HEARTBEAT_S = 60.0
ROWS_RESERVED = 6
"""Lines of the screen kept for the header, the overall bar and the shell prompt."""
SHOWN_IN_AGGREGATE = 5
GLANCE_EVERY_S = 1.0
REFRESH_EVERY_S = 0.25
_ENDED = frozenset({State.SUCCEEDED.value, State.PARTIAL.value, State.FAILED.value, ERROR})
_FAILED = frozenset({ERROR, State.FAILED.value, State.PARTIAL.value})


def state_label(snapshot: Snapshot) -> Text:
    """The outcome word, with retries in progress."""
    if snapshot.error is not None:
        return Text(ERROR, style="bold red")
    if snapshot.fault is not None:
        return Text(f"retry {snapshot.faults_in_a_row}", style="yellow")
    if snapshot.operation is None:
        return Text(UNREAD, style="dim")
    return state_text(snapshot.operation.state)


class LiveView:
    """A rich live view: a bar per operation and an overall bar, or an aggregate when crowded.

    Frames are drawn on the event loop every REFRESH_EVERY_S of the runtime's clock, between
    reads, from the latest snapshots; rich's own refresh thread is not used.
    """

    def __init__(
        self,
        console: Console,
        snapshots: list[Snapshot],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        transient: bool,
    ) -> None:
        self.console = console
        self.clock = clock
        self.sleep = sleep
        self.started = clock()
        self.latest = list(snapshots)
        """The last snapshot of each operation, in REF order."""
        self._index = {item.ref: n for n, item in enumerate(snapshots)}
        # Kept up to date by event(), so that a frame never walks every operation.
        self._counts: Counter[str] = Counter(item.outcome for item in snapshots)
        self._percents = {n: item.percent or 0.0 for n, item in enumerate(snapshots)}
        """How far each unfinished operation is, for the aggregate's slowest."""
        self._failed: dict[OpRef, int] = {}
        """The failed operations, in the order they failed."""
        self._glance: tuple[float, list[int]] = (-1e9, [])
        """When the aggregate's slowest were picked, and them."""
        self._ticker: asyncio.Task[None] | None = None
        self._live = _TimedLive(
            get_renderable=self.render,
            console=console,
            auto_refresh=False,
            transient=transient,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    @property
    def refresh_seconds(self) -> float:
        """CPU spent building and drawing frames, for the scale benchmark."""
        return self._live.cpu_seconds

    def start(self) -> None:
        """Show the first frame and keep refreshing; called on the event loop."""
        self._live.start(refresh=True)
        self._ticker = asyncio.get_running_loop().create_task(self._refresh_every())

    async def _refresh_every(self) -> None:
        while True:
            await self.sleep(REFRESH_EVERY_S)
            self._live.refresh()

    def event(self, event: Event) -> None:
        """Keep the latest snapshot, the counts per outcome, the progress and the failures."""
        snapshot = event.snapshot
        n = self._index[snapshot.ref]
        before = self.latest[n].outcome
        self.latest[n] = snapshot
        label = snapshot.outcome
        if label != before:
            self._counts[before] -= 1
            self._counts[label] += 1
        if snapshot.finished:
            self._percents.pop(n, None)
        else:
            self._percents[n] = snapshot.percent or 0.0
        if label in _FAILED:
            self._failed.setdefault(snapshot.ref, n)

    def stop(self) -> None:
        """Draw the last frame and give the terminal back; safe to call twice."""
        if self._ticker is not None and not self._ticker.done():
            self._ticker.cancel()
        self._live.stop()

    def render(self) -> RenderableType:
        """One frame: a row per operation when they fit the screen, else an aggregate."""
        finished = sum(n for label, n in self._counts.items() if label in _ENDED)
        fits = len(self.latest) <= max(1, self.console.size.height - ROWS_RESERVED)
        body = self._rows(self.latest) if fits else self._aggregate()
        return Group(body, self._overall(finished))

    def _rows(self, items: list[Snapshot]) -> Table:
        table = Table(box=None, pad_edge=False, show_header=False, expand=False)
        table.add_column("ref", no_wrap=True, overflow="ellipsis", max_width=44)
        table.add_column("kind", no_wrap=True, overflow="ellipsis", max_width=24, style="dim")
        table.add_column("bar", no_wrap=True, width=24)
        table.add_column("count", no_wrap=True, justify="right")
        table.add_column("rate", no_wrap=True, justify="right", style="dim")
        table.add_column("eta", no_wrap=True, justify="right")
        table.add_column("state", no_wrap=True)
        for item in items:
            operation = item.operation
            percent = item.percent
            mark = "✓ " if item.finished and item.state is State.SUCCEEDED else ""
            table.add_row(
                mark + str(item.ref),
                (operation.kind if operation else None) or "",
                ProgressBar(
                    total=100.0,
                    completed=percent or 0.0,
                    pulse=percent is None and not item.finished,
                    width=24,
                    complete_style=STATE_STYLES.get(item.state or State.PENDING, "cyan"),
                    finished_style=STATE_STYLES.get(item.state or State.SUCCEEDED, "green"),
                ),
                progress_cell(operation.progress) if operation else "",
                _rate(item),
                _eta(item),
                state_label(item),
            )
        return table

    def _aggregate(self) -> RenderableType:
        """Counts per outcome, and the least advanced and the failed operations."""
        counts = sorted((label, n) for label, n in self._counts.items() if n)
        summary = Text("  ".join(f"{label}: {n}" for label, n in counts))
        slowest = [self.latest[n] for n in self._slowest()]
        failed = [self.latest[n] for n in list(self._failed.values())[:SHOWN_IN_AGGREGATE]]
        parts: list[RenderableType] = [summary]
        if slowest:
            parts += [Text("slowest:", style="bold"), self._rows(slowest)]
        if failed:
            parts += [Text("failed:", style="bold red"), self._rows(failed)]
        return Group(*parts)

    def _slowest(self) -> list[int]:
        """The least advanced operations, picked again at most once a second so that the list
        holds still long enough to read."""
        picked_at, slowest = self._glance
        now = self.clock()
        if now - picked_at >= GLANCE_EVERY_S:
            least = heapq.nsmallest(
                SHOWN_IN_AGGREGATE, self._percents.items(), key=operator.itemgetter(1)
            )
            slowest = [n for n, _ in least]
            self._glance = (now, slowest)
        return slowest

    def _overall(self, finished: int) -> RenderableType:
        total = len(self.latest)
        line = Table.grid(padding=(0, 1))
        line.add_row(
            Text("overall", style="bold"),
            ProgressBar(total=float(total), completed=float(finished), width=24),
            Text(f"{finished}/{total} done"),
            Text(format_duration(self.clock() - self.started), style="dim"),
        )
        return line


class _TimedLive(Live):
    """rich's Live, counting the CPU its refreshes take."""

    cpu_seconds = 0.0

    def refresh(self) -> None:
        began = time.thread_time()
        try:
            super().refresh()
        finally:
            self.cpu_seconds += time.thread_time() - began


class LineLog:
    """Off a terminal: one line per state change, retry or error, and a heartbeat at most
    every minute; plain text, suitable for CI logs."""

    def __init__(
        self, stream: TextIO, snapshots: list[Snapshot], clock: Callable[[], float]
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.latest = {item.ref: item for item in snapshots}
        """The last snapshot of each operation."""
        self._last_line = clock()
        self._last_state: dict[OpRef, State | None] = {}

    def start(self) -> None:
        self._last_line = self.clock()

    def event(self, event: Event) -> None:
        """Write what a person reading the CI log needs to know about `event`."""
        snapshot = event.snapshot
        self.latest[snapshot.ref] = snapshot
        if event.kind is EventKind.RETRY:
            assert event.error is not None
            self._write(
                event.at,
                f"{snapshot.ref} {event.error.message}; retry {snapshot.faults_in_a_row} in "
                f"{format_duration(event.delay_s or 0)}",
            )
        elif event.kind is EventKind.ERROR:
            assert event.error is not None
            if not event.echo:  # one error that ended many operations is said once
                self._write(event.at, f"{snapshot.ref} {ERROR}: {event.error.message}")
        elif self._last_state.get(snapshot.ref, "none") != snapshot.state:
            self._last_state[snapshot.ref] = snapshot.state
            self._write(event.at, f"{snapshot.ref} {_describe(snapshot)}")
        elif self.clock() - self._last_line >= HEARTBEAT_S:
            self._write(event.at, self._heartbeat())

    def stop(self) -> None:
        """Nothing to restore."""

    def _heartbeat(self) -> str:
        counts = Counter(
            item.state.value for item in self.latest.values() if item.state and not item.finished
        )
        waiting = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return f"still waiting: {waiting or 'nothing'}"

    def _write(self, at: datetime, text: str) -> None:
        self._last_line = self.clock()
        print(f"{at:%H:%M:%S} {text}", file=self.stream, flush=True)


def _describe(snapshot: Snapshot) -> str:
    operation = snapshot.operation
    if operation is None:
        return snapshot.outcome
    parts = [operation.state.value]
    progress = progress_cell(operation.progress)
    if progress:
        parts.append(progress)
    if operation.message:
        parts.append(f"- {operation.message}")
    if operation.state is State.UNKNOWN:
        parts.append(f"(provider status {operation.provider_status!r})")
    return " ".join(parts)


def _rate(snapshot: Snapshot) -> str:
    rate = snapshot.rate_per_s
    if rate is None or snapshot.finished:
        return ""
    operation = snapshot.operation
    total = operation.progress.total if operation else None
    if total:
        return f"{rate * total / 100:.1f}/s"
    return f"{rate:.1f}%/s"


def _eta(snapshot: Snapshot) -> str:
    if snapshot.finished:
        return ""
    eta = snapshot.eta_s
    return f"eta {format_duration(eta)}" if eta is not None else ""
