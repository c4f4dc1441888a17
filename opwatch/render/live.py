"""What `opwatch wait` shows on stderr as it waits: a live view on a terminal, else plain lines.

Both read the engine's `Watched` objects and never write them. stdout stays free for data.
"""

import heapq
import operator
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from opwatch.durations import format_duration
from opwatch.model import State
from opwatch.render.table import STATE_STYLES, progress_cell, state_text
from opwatch.watch import Event, EventKind, Watched

HEARTBEAT_S = 60.0
ROWS_RESERVED = 6
"""Lines of the screen kept for the header, the overall bar and the shell prompt."""
SHOWN_IN_AGGREGATE = 5
GLANCE_EVERY_S = 1.0
_ENDED = frozenset({"succeeded", "partial", "failed", "error"})
_FAILED = frozenset({"error", "failed", "partial"})


def percent_of(watched: Watched) -> float | None:
    """How far the operation is, 0-100, when it says; 100 once terminal."""
    operation = watched.operation
    if operation is None:
        return None
    if operation.terminal:
        return 100.0
    return operation.progress.percent_done


def state_label(watched: Watched) -> Text:
    """The state word, or what stopped the watch, with retries in progress."""
    if watched.error is not None:
        return Text("error", style="bold red")
    if watched.last_fault is not None:
        return Text(f"retry {watched.faults_in_a_row}", style="yellow")
    if watched.operation is None:
        return Text("reading", style="dim")
    return state_text(watched.operation.state)


class LiveView:
    """A rich live view: a bar per operation and an overall bar, or an aggregate when crowded."""

    def __init__(self, console: Console, watched: list[Watched], *, transient: bool) -> None:
        self.console = console
        self.watched = watched
        self.started = time.monotonic()
        # Kept up to date by event(), so that a frame never walks every operation. Frames are
        # drawn on rich's thread: it reads these through copies made in one step.
        self._counts: Counter[str] = Counter({"reading": len(watched)})
        self._labels: dict[int, str] = {}
        self._by_id = {id(item): item for item in watched}
        self._percents = {
            id(item): percent_of(item) or 0.0 for item in watched if not item.finished
        }
        """How far each unfinished operation is, for the aggregate's slowest."""
        self._failed: dict[int, Watched] = {}
        """The failed operations, in the order they failed."""
        self._glance: tuple[float, list[Watched]] = (-1.0, [])
        """When the aggregate's slowest were picked, and them."""
        self._live = _TimedLive(
            get_renderable=self.render,
            console=console,
            refresh_per_second=4,
            transient=transient,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    @property
    def refresh_seconds(self) -> float:
        """CPU spent building and drawing frames, for the scale benchmark."""
        return self._live.cpu_seconds

    def start(self) -> None:
        self._live.start()

    def event(self, event: Event) -> None:
        """Keep the counts per state, the progress and the failures up to date."""
        watched = event.watched
        key = id(watched)
        label = _label(watched)
        before = self._labels.get(key, "reading")
        if label != before:
            self._labels[key] = label
            self._counts[before] -= 1
            self._counts[label] += 1
        if watched.finished:
            self._percents.pop(key, None)
        else:
            self._percents[key] = percent_of(watched) or 0.0
        if label in _FAILED:
            self._failed[key] = watched

    def stop(self) -> None:
        self._live.stop()

    def render(self) -> RenderableType:
        """One frame: a row per operation when they fit the screen, else an aggregate."""
        finished = sum(n for label, n in dict(self._counts).items() if label in _ENDED)
        fits = len(self.watched) <= max(1, self.console.size.height - ROWS_RESERVED)
        body = self._rows(self.watched) if fits else self._aggregate()
        return Group(body, self._overall(finished))

    def _rows(self, items: list[Watched]) -> Table:
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
            percent = percent_of(item)
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
        """Counts per state, and the least advanced and the failed operations."""
        counts = sorted((label, n) for label, n in dict(self._counts).items() if n)
        summary = Text("  ".join(f"{label}: {n}" for label, n in counts))
        slowest = self._slowest()
        failed = list(dict(self._failed).values())[:SHOWN_IN_AGGREGATE]
        parts: list[RenderableType] = [summary]
        if slowest:
            parts += [Text("slowest:", style="bold"), self._rows(slowest)]
        if failed:
            parts += [Text("failed:", style="bold red"), self._rows(failed)]
        return Group(*parts)

    def _slowest(self) -> list[Watched]:
        """The least advanced operations, picked again at most once a second so that the list
        holds still long enough to read."""
        picked_at, slowest = self._glance
        now = time.monotonic()
        if now - picked_at >= GLANCE_EVERY_S:
            least = heapq.nsmallest(
                SHOWN_IN_AGGREGATE, dict(self._percents).items(), key=operator.itemgetter(1)
            )
            slowest = [self._by_id[key] for key, _ in least]
            self._glance = (now, slowest)
        return slowest

    def _overall(self, finished: int) -> RenderableType:
        total = len(self.watched)
        line = Table.grid(padding=(0, 1))
        line.add_row(
            Text("overall", style="bold"),
            ProgressBar(total=float(total), completed=float(finished), width=24),
            Text(f"{finished}/{total} done"),
            Text(format_duration(time.monotonic() - self.started), style="dim"),
        )
        return line


class _TimedLive(Live):
    """rich's Live, counting the CPU its refreshes take (they run on its own thread)."""

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

    def __init__(self, stream: TextIO, watched: list[Watched], clock: Callable[[], float]) -> None:
        self.stream = stream
        self.watched = watched
        self.clock = clock
        self._last_line = clock()
        self._last_state: dict[int, State | None] = {}

    def start(self) -> None:
        self._last_line = self.clock()

    def event(self, event: Event) -> None:
        """Write what a person reading the CI log needs to know about `event`."""
        watched = event.watched
        key = id(watched)
        if event.kind is EventKind.RETRY:
            assert event.error is not None
            self._write(
                event.at,
                f"{watched.ref} {event.error.message}; retry {watched.faults_in_a_row} in "
                f"{format_duration(event.delay_s or 0)}",
            )
        elif event.kind is EventKind.ERROR:
            assert event.error is not None
            self._write(event.at, f"{watched.ref} error: {event.error.message}")
        elif self._last_state.get(key, "none") != watched.state:
            self._last_state[key] = watched.state
            self._write(event.at, f"{watched.ref} {_describe(watched)}")
        elif self.clock() - self._last_line >= HEARTBEAT_S:
            self._write(event.at, self._heartbeat())

    def stop(self) -> None:
        """Nothing to restore."""

    def _heartbeat(self) -> str:
        counts = Counter(
            item.state.value for item in self.watched if item.state and not item.finished
        )
        waiting = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return f"still waiting: {waiting or 'nothing'}"

    def _write(self, at: datetime, text: str) -> None:
        self._last_line = self.clock()
        print(f"{at:%H:%M:%S} {text}", file=self.stream, flush=True)


def _describe(watched: Watched) -> str:
    operation = watched.operation
    if operation is None:
        return "unreadable"
    parts = [operation.state.value]
    progress = progress_cell(operation.progress)
    if progress:
        parts.append(progress)
    if operation.message:
        parts.append(f"- {operation.message}")
    if operation.state is State.UNKNOWN:
        parts.append(f"(provider status {operation.provider_status!r})")
    return " ".join(parts)


def _rate(watched: Watched) -> str:
    rate = watched.rate_per_s
    if rate is None or watched.finished:
        return ""
    operation = watched.operation
    total = operation.progress.total if operation else None
    if total:
        return f"{rate * total / 100:.1f}/s"
    return f"{rate:.1f}%/s"


def _eta(watched: Watched) -> str:
    if watched.finished:
        return ""
    eta = watched.eta_s
    return f"eta {format_duration(eta)}" if eta is not None else ""


def _label(watched: Watched) -> str:
    """The word a watched operation is counted under."""
    if watched.error is not None:
        return "error"
    return watched.state.value if watched.state else "reading"
