"""What `opwatch wait` shows on stderr as it waits: a live view on a terminal, else plain lines
(folded into a `::group::` for GitHub).

Both are made of the frozen snapshots the engine hands over with each event, and draw on the
event loop, timed by the runtime's clock: nothing is shared with another thread. stdout stays
free for data.

The live view has one line per operation, fitted to the terminal's width like the tables
(opwatch.render.fit): REF, percent and state always; then, as width allows, the detail (why a
read is being retried, an unknown status, a provider's message when that is all the progress
it reports, the ETA, how old the last read is), a bar, the counts and the kind. Between reads,
the bar, percent and ETA move on at the rate measured so far, but never to done: only a read
says an operation finished. When the operations do not fit the screen's height, an aggregate
takes their place.
"""

import asyncio
import heapq
import itertools
import operator
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.control import Control
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from opwatch.durations import format_duration
from opwatch.model import OpRef, State
from opwatch.render.fit import INDENT, Column, Interleaved, fit, naturals, table, total_width
from opwatch.render.table import STATE_STYLES, items_cell, one_line, progress_cell, state_text
from opwatch.watch import ERROR, UNREAD, Event, EventKind, Snapshot

HEARTBEAT_S = 60.0
HEARTBEAT_SHOWN = 20
"""Unfinished operations a heartbeat names (a screenful); past them, how many more."""
ROWS_RESERVED = 6
"""Lines of the screen kept for the header, the overall bar and the shell prompt."""
SHOWN_IN_AGGREGATE = 5
"""Rows per section of the aggregate at most, fewer when the screen is short."""
GLANCE_EVERY_S = 1.0
REFRESH_EVERY_S = 0.25
CROWDED_REFRESH_EVERY_S = 0.5
"""The aggregate (thousands of operations) is drawn twice a second: it is a summary, and its
frame, the dearest one, is most of what the live view costs then (bench/scale.py)."""
STALE_READ_S = 10.0
"""A read older than this is said to be (`read 25s ago`): the figures beside it are guesses."""
EXTRAPOLATE_UP_TO = 99.0
"""Between reads the percent moves on at the measured rate, up to here: only a read says done."""
BAR_WIDTH = 20
DETAIL_INLINE = 30
"""The widest the detail column grows to; a longer detail gets a line under its row."""

LIVE_COLUMNS = (
    Column("REF", required=True),
    Column("KIND", floor=8, style="dim"),
    Column("BAR", floor=6),
    Column("COUNT", justify="right"),
    Column("PERCENT", required=True, justify="right"),
    Column("STATE", required=True),
    Column("DETAIL", floor=10),
)
LIVE_DROP_ORDER = ("KIND", "COUNT", "BAR", "DETAIL")
"""The live view's columns, first to go when the terminal is narrow (README, "Live view")."""

_ENDED = frozenset({State.SUCCEEDED.value, State.PARTIAL.value, State.FAILED.value, ERROR})
_OUTCOME_ORDER = (
    UNREAD,
    State.PENDING.value,
    State.RUNNING.value,
    State.UNKNOWN.value,
    State.SUCCEEDED.value,
    State.PARTIAL.value,
    State.FAILED.value,
    ERROR,
)


def state_label(snapshot: Snapshot) -> Text:
    """The outcome word: the state read last, `unread` before the first read, `error` when
    the watch ended with one."""
    if snapshot.error is not None:
        return Text(ERROR, style="bold red")
    if snapshot.operation is None:
        return Text(UNREAD, style="dim")
    return state_text(snapshot.operation.state)


class LiveView:
    """A rich live view: a line per operation and an overall bar, or an aggregate when crowded.

    Frames are drawn on the event loop every REFRESH_EVERY_S of the runtime's clock, between
    reads, from the latest snapshots; rich's own refresh thread is not used. Everything a frame
    needs is kept up to date by event(), so that a frame never walks every operation.
    """

    def __init__(
        self,
        console: Console,
        snapshots: list[Snapshot],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        transient: bool,
        retries: int | None = None,
    ) -> None:
        self.console = console
        self.clock = clock
        self.sleep = sleep
        self.retries = retries
        self.started = clock()
        self.latest = list(snapshots)
        """The last snapshot of each operation, in REF order."""
        self._index = {item.ref: n for n, item in enumerate(snapshots)}
        self._ref_width = max((cell_len(str(item.ref)) for item in snapshots), default=0)
        self._counts: Counter[str] = Counter(item.outcome for item in snapshots)
        self._read_at: dict[int, float] = {}
        """When each operation was last read successfully (the runtime's clock)."""
        self._retry_at: dict[int, float] = {}
        """When each operation that is being retried will be read again."""
        self._ends: dict[int, float] = {}
        """Predicted end of each unfinished operation that reports progress."""
        self._no_progress: dict[int, None] = {}
        """Unfinished operations read at least once that report no progress, in REF order."""
        self._sections: dict[str, dict[int, None]] = {"failed": {}, "partial": {}, "errors": {}}
        """Operations that ended badly, in the order they did."""
        self._glance: tuple[float, list[int]] = (-1e9, [])
        """When the aggregate's slowest were picked, and them."""
        self._ticker: asyncio.Task[None] | None = None
        self._crowded = False
        """Whether the last frame was the aggregate."""
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

    @property
    def frames(self) -> int:
        """Frames drawn so far."""
        return self._live.frames

    @property
    def slowest_frame_seconds(self) -> float:
        """CPU of the most expensive frame so far."""
        return self._live.slowest_frame

    @property
    def recent_frame_seconds(self) -> list[float]:
        """CPU of each of the last thousand frames."""
        return list(self._live.recent)

    def start(self) -> None:
        """Show the first frame and keep refreshing; called on the event loop."""
        self._live.start(refresh=True)
        self._ticker = asyncio.get_running_loop().create_task(self._refresh_every())

    async def _refresh_every(self) -> None:
        while True:
            await self.sleep(CROWDED_REFRESH_EVERY_S if self._crowded else REFRESH_EVERY_S)
            self._live.refresh()

    def event(self, event: Event) -> None:
        """Keep the latest snapshot, the counts per outcome, read times and the sections."""
        snapshot = event.snapshot
        n = self._index[snapshot.ref]
        before = self.latest[n].outcome
        self.latest[n] = snapshot
        label = snapshot.outcome
        if label != before:
            self._counts[before] -= 1
            self._counts[label] += 1
        now = self.clock()
        if event.kind is EventKind.RETRY:
            self._retry_at[n] = now + (event.delay_s or 0.0)
        else:
            self._retry_at.pop(n, None)
            if event.kind in (EventKind.UPDATE, EventKind.DONE):
                self._read_at[n] = now
        if snapshot.finished:
            self._ends.pop(n, None)
            self._no_progress.pop(n, None)
        elif snapshot.eta_s is not None and n in self._read_at:
            self._ends[n] = self._read_at[n] + snapshot.eta_s
            self._no_progress.pop(n, None)
        elif snapshot.operation is not None:
            self._ends.pop(n, None)
            self._no_progress[n] = None
        section = {State.FAILED.value: "failed", State.PARTIAL.value: "partial", ERROR: "errors"}
        if label in section:
            self._sections[section[label]].setdefault(n, None)

    def warn(self, message: str) -> None:
        """A warning, printed above the live frame: rich moves the frame below it."""
        self.console.print(Text(f"opwatch: warning: {message}", style="yellow"))

    def stop(self) -> None:
        """Draw the last frame and give the terminal back; safe to call twice."""
        if self._ticker is not None and not self._ticker.done():
            self._ticker.cancel()
        self._live.stop()

    def render(self) -> RenderableType:
        """One frame: a line per operation when they fit the screen, else an aggregate."""
        finished = sum(n for label, n in self._counts.items() if label in _ENDED)
        room = max(1, self.console.size.height - ROWS_RESERVED)
        per_row = 2 if self.stacked() else 1
        body: RenderableType | None = None
        if len(self.latest) * per_row <= room:
            body, lines = self._lines(range(len(self.latest)), detail_lines=True)[0]
            if lines > room:
                body, _ = self._lines(range(len(self.latest)))[0]
        self._crowded = body is None
        if body is None:
            body = self._aggregate(room, per_row)
        return Group(body, self._overall(finished))

    def stacked(self) -> bool:
        """Whether the terminal is too narrow for the longest REF beside a percent and a
        state: then each REF takes a line of its own, its figures indented under it."""
        return self._ref_width + 4 + 9 + 2 * 2 > self.console.size.width

    def _lines(
        self, *groups: Iterable[int], detail_lines: bool = False
    ) -> list[tuple[RenderableType, int]]:
        """A renderable per group of operations, all with the same columns and widths, and how
        many lines each takes. With `detail_lines`, a detail too long for its column (at most
        DETAIL_INLINE wide) gets a line of its own under its row: a retry's reason, an unknown
        status or a provider's message is never cut to a few letters."""
        now = self.clock()
        width = self.console.size.width
        picked = [list(group) for group in groups]
        rows = [[self._cells(n, now) for n in group] for group in picked]
        stacked = self.stacked()
        skip = 1 if stacked else 0
        columns = LIVE_COLUMNS[skip:]
        room = max(1, width - INDENT) if stacked else width
        flat = [row[skip:] for group in rows for row in group]
        natural = naturals(columns, flat, headers=False)
        detail = [column.header for column in columns].index("DETAIL")
        if detail_lines:
            # The column holds short details (an ETA); longer ones take a line of their own.
            natural[detail] = min(natural[detail], DETAIL_INLINE)
        widths = fit(columns, natural, room, LIVE_DROP_ORDER)
        shown: list[tuple[RenderableType, int]] = []
        for group, group_rows in zip(picked, rows, strict=True):
            cells = [
                self._finish(n, row[skip:], widths, columns, now)
                for n, row in zip(group, group_rows, strict=True)
            ]
            after: list[Text | None] = []
            if detail_lines:
                for n, row, cell in zip(group, group_rows, cells, strict=True):
                    fits = widths[detail] is not None and row[-1].cell_len <= (widths[detail] or 0)
                    if fits:
                        after.append(None)
                        continue
                    after.append(_detail_line(self._detail(n, self.latest[n], now)))
                    if widths[detail] is not None:
                        cell[detail] = Text()
            body = table(columns, widths, cells, show_header=False)
            before: list[Text | None] = []
            if stacked:
                before = [Text(str(self.latest[n].ref), overflow="fold") for n in group]
            count = len(group) + len(before) + sum(1 for line in after if line is not None)
            body_width = total_width(widths)
            frame = Interleaved(
                body, body_width, before=before, after=after, indent=skip * INDENT, crop=True
            )
            shown.append((frame, count))
        return shown

    def _cells(self, n: int, now: float) -> list[Text]:
        """One operation's cells as text, to measure (the bar as blanks of its natural width)."""
        item = self.latest[n]
        operation = item.operation
        percent, _ = self._progress_now(n, item, now)
        return [
            Text(str(item.ref)),
            Text(one_line(operation.kind if operation else None)),
            Text(" " * BAR_WIDTH),
            Text(progress_cell_counts(item)),
            Text(f"{percent:.0f}%" if percent is not None else ""),
            state_label(item),
            _joined(self._detail(n, item, now)),
        ]

    def _finish(
        self,
        n: int,
        cells: list[Text],
        widths: list[int | None],
        columns: tuple[Column, ...],
        now: float,
    ) -> list[RenderableType]:
        """The cells to draw: the bar as a bar, and the detail cut between its parts, not
        inside one, when the column is narrower than all of it."""
        item = self.latest[n]
        out: list[RenderableType] = list(cells)
        names = [column.header for column in columns]
        percent, _ = self._progress_now(n, item, now)
        if percent is not None or (not item.finished and self.console.color_system):
            # Without a percent there is nothing to fill; a colour terminal shows a pulse (on a
            # monochrome one a pulse would look like a full bar).
            state = item.state or State.PENDING
            out[names.index("BAR")] = ProgressBar(
                total=100.0,
                completed=percent or 0.0,
                pulse=percent is None,
                width=None,
                complete_style=STATE_STYLES.get(state, "cyan"),
                finished_style=STATE_STYLES.get(state, "green"),
                animation_time=now,
            )
        else:
            out[names.index("BAR")] = Text()
        room = widths[names.index("DETAIL")]
        if room is not None:
            out[names.index("DETAIL")] = _joined(self._detail(n, item, now), room)
        return out

    def _progress_now(
        self, n: int, item: Snapshot, now: float
    ) -> tuple[float | None, float | None]:
        """Percent and seconds left as of `now`: the last read's, moved on at the measured rate
        since then, never past EXTRAPOLATE_UP_TO (nor back from what a read said)."""
        percent = item.percent
        if item.finished or percent is None:
            return percent, None
        read_at = self._read_at.get(n)
        rate, eta = item.rate_per_s, item.eta_s
        if read_at is None or rate is None:
            return percent, eta
        since = max(0.0, now - read_at)
        moved = min(percent + rate * since, max(percent, EXTRAPOLATE_UP_TO))
        return moved, (max(0.0, eta - since) if eta is not None else None)

    def _detail(self, n: int, item: Snapshot, now: float) -> list[tuple[str, str]]:
        """What else there is to know, as (text, style) parts, the most pressing first."""
        parts: list[tuple[str, str]] = []
        operation = item.operation
        if item.error is not None:
            parts.append((one_line(item.error.message), "red"))
        elif item.fault is not None and not item.finished:
            budget = f"/{self.retries}" if self.retries else ""
            due = self._retry_at.get(n, now) - now
            when = f"in {format_duration(due)}" if due >= 0.5 else "now"
            fault = one_line(item.fault.message)
            parts.append((f"retry {item.faults_in_a_row}{budget} {when}: {fault}", "yellow"))
        if operation is not None and operation.state is State.UNKNOWN:
            status = operation.provider_status
            parts.append((f"status {status!r} unknown to opwatch", "magenta"))
        if operation is not None and item.finished:
            if operation.state in (State.PARTIAL, State.FAILED):
                parts.append((items_cell(operation.progress), ""))
            if operation.message:
                parts.append((one_line(operation.message), "dim"))
        elif operation is not None:
            _, eta = self._progress_now(n, item, now)
            if item.percent is None and operation.message:
                parts.append((one_line(operation.message), ""))  # its only progress (Traffic Ops)
            if eta is not None:
                parts.append((f"eta {format_duration(eta)}" if eta >= 0.5 else "due now", ""))
            rate = _rate(item)
            if rate:
                parts.append((rate, "dim"))
            read_at = self._read_at.get(n)
            if read_at is not None and now - read_at >= STALE_READ_S:
                parts.append((f"read {format_duration(now - read_at)} ago", "dim"))
        return [part for part in parts if part[0]]

    def _aggregate(self, room: int, per_row: int) -> RenderableType:
        """Counts per outcome, then sections as the screen allows: the unfinished with the
        latest predicted end, those that report no progress, the failed, the partial and the
        errors, each with `… and N more`."""
        counts = [(label, self._counts[label]) for label in _OUTCOME_ORDER if self._counts[label]]
        summary = Text("  ".join(f"{label}: {n}" for label, n in counts))
        sections = [
            ("slowest (latest predicted end)", self._slowest(), len(self._ends), "bold"),
            ("no progress reported", None, len(self._no_progress), "bold"),
            ("failed", None, len(self._sections["failed"]), "bold red"),
            ("partial", None, len(self._sections["partial"]), "bold yellow"),
            ("errors", None, len(self._sections["errors"]), "bold red"),
        ]
        sources: dict[str, Iterable[int]] = {
            "no progress reported": self._no_progress,
            "failed": self._sections["failed"],
            "partial": self._sections["partial"],
            "errors": self._sections["errors"],
        }
        present = [section for section in sections if section[2]]
        shown = _allot([size for _, _, size, _ in present], room - 1, per_row)
        picked = []
        for (title, first, _, _), k in zip(present, shown, strict=True):
            source = first if first is not None else sources[title]
            picked.append(list(itertools.islice(source, k)))
        tables = self._lines(*picked)
        parts: list[RenderableType] = [summary]
        for (title, _, size, style), rows, (lines, _) in zip(present, picked, tables, strict=True):
            parts.append(Text(f"{title}: {size}", style=style))
            if rows:
                parts.append(lines)
            if size > len(rows):
                parts.append(Text(f"… and {size - len(rows)} more", style="dim"))
        return Group(*parts)

    def _slowest(self) -> list[int]:
        """The unfinished operations with the latest predicted end, picked again at most once a
        second so that the list holds still long enough to read."""
        picked_at, slowest = self._glance
        now = self.clock()
        slowest = [n for n in slowest if n in self._ends]  # some may have finished since
        if now - picked_at >= GLANCE_EVERY_S or len(slowest) < min(
            SHOWN_IN_AGGREGATE, len(self._ends)
        ):
            latest = heapq.nlargest(
                SHOWN_IN_AGGREGATE, self._ends.items(), key=operator.itemgetter(1)
            )
            slowest = [n for n, _ in latest]
            self._glance = (now, slowest)
        return slowest

    def _overall(self, finished: int) -> RenderableType:
        total = len(self.latest)
        line = Table.grid(padding=(0, 1))
        width = self.console.size.width
        line.add_row(
            Text("overall", style="bold"),
            ProgressBar(total=float(total), completed=float(finished), width=min(24, width // 4)),
            Text(f"{finished}/{total} done"),
            Text(format_duration(self.clock() - self.started), style="dim"),
        )
        return line


def _detail_line(parts: list[tuple[str, str]]) -> Text | None:
    """A row's detail on a line of its own, indented under the row, cut at the screen's edge."""
    if not parts:
        return None
    line = _joined(parts)
    line.pad_left(4)
    return line


def _joined(parts: list[tuple[str, str]], room: int | None = None) -> Text:
    """Parts two spaces apart; with `room`, as many whole parts as fit in it, or the first
    one cut with an ellipsis when not even it does."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for text_part, style in parts:
        gap = 2 if text else 0
        if room is not None and text and len(text) + gap + cell_len(text_part) > room:
            break
        if gap:
            text.append("  ")
        text.append(text_part, style=style)
    return text


def progress_cell_counts(snapshot: Snapshot) -> str:
    """`420/1000` as the last read said (counts are never extrapolated)."""
    operation = snapshot.operation
    if operation is None:
        return ""
    progress = operation.progress
    if progress.done is None or progress.total is None:
        return ""
    return f"{progress.done}/{progress.total}"


def _allot(sizes: list[int], room: int, per_row: int = 1) -> list[int]:
    """Rows for each section of the aggregate within `room` lines: a header each, rows one at
    a time in turn (at most SHOWN_IN_AGGREGATE, `per_row` lines each), and a `… and N more`
    line where some are left."""
    shown = [0] * len(sizes)

    def cost() -> int:
        return sum(
            1 + k * per_row + (1 if size > k else 0) for k, size in zip(shown, sizes, strict=True)
        )

    grew = True
    while grew:
        grew = False
        for index, size in enumerate(sizes):
            if shown[index] < min(SHOWN_IN_AGGREGATE, size):
                shown[index] += 1
                if cost() > room:
                    shown[index] -= 1
                else:
                    grew = True
    return shown


class _TimedLive(Live):
    """rich's Live, counting the CPU its refreshes take, and redrawing from the top of the
    screen after a resize."""

    def __init__(self, **options: Any) -> None:
        self.cpu_seconds = 0.0
        self.frames = 0
        self.slowest_frame = 0.0
        self.recent: deque[float] = deque(maxlen=1000)
        """CPU of each of the last thousand frames."""
        self._drawn_size: tuple[int, int] | None = None
        super().__init__(**options)

    def refresh(self) -> None:
        began = time.thread_time()
        try:
            size = (self.console.size.width, self.console.size.height)
            if self._drawn_size not in (None, size) and self.console.is_terminal:
                self._redraw_from_top()
            self._drawn_size = size
            super().refresh()
        finally:
            spent = time.thread_time() - began
            self.cpu_seconds += spent
            self.frames += 1
            self.slowest_frame = max(self.slowest_frame, spent)
            self.recent.append(spent)

    def _redraw_from_top(self) -> None:
        # A terminal that changed size has re-wrapped (or cut) the last frame: how many lines
        # it takes now is unknowable, and rich would move up by the old count, leaving pieces
        # of it above the next frame. So clear the screen and draw the next frame at the top.
        # rich has no public way to forget the last frame's shape.
        self._live_render._shape = None
        self.console.control(Control.clear(), Control.home())


class LineLog:
    """Off a terminal: one line per state change (with its counts), retry or error, and at
    most every minute a heartbeat naming what is still unfinished; plain text for CI logs."""

    def __init__(
        self, stream: TextIO, snapshots: list[Snapshot], clock: Callable[[], float]
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.latest = {item.ref: item for item in snapshots}
        """The last snapshot of each operation."""
        self._last_line = clock()
        self._last_state: dict[OpRef, State | None] = {}
        self._read_at: dict[OpRef, float] = {}

    def start(self) -> None:
        self._last_line = self.clock()

    def event(self, event: Event) -> None:
        """Write what a person reading the CI log needs to know about `event`."""
        snapshot = event.snapshot
        self.latest[snapshot.ref] = snapshot
        if event.kind in (EventKind.UPDATE, EventKind.DONE):
            self._read_at[snapshot.ref] = self.clock()
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
            self._write(event.at, f"{snapshot.ref} {describe(snapshot)}")
        elif self.clock() - self._last_line >= HEARTBEAT_S:
            self._heartbeat(event.at)

    def warn(self, message: str) -> None:
        """A warning, as a line of the log."""
        print(f"opwatch: warning: {message}", file=self.stream, flush=True)

    def stop(self) -> None:
        """Nothing to restore."""

    def _heartbeat(self, at: datetime) -> None:
        now = self.clock()
        waiting = [item for item in self.latest.values() if not item.finished]
        total = len(self.latest)
        lines = [f"still waiting for {len(waiting)} of {total}:"]
        for item in waiting[:HEARTBEAT_SHOWN]:
            lines.append(f"  {item.ref} {self._where(item, now)}")
        if len(waiting) > HEARTBEAT_SHOWN:
            lines.append(f"  … and {len(waiting) - HEARTBEAT_SHOWN} more")
        for text in lines:
            self._write(at, text)

    def _where(self, item: Snapshot, now: float) -> str:
        """`running 42% (420/1000), eta 3m10s`, as of the last read."""
        operation = item.operation
        if operation is None:
            return UNREAD
        parts = [operation.state.value]
        progress = progress_cell(operation.progress)
        if progress:
            parts.append(progress)
        elif operation.message:
            parts.append(f"- {one_line(operation.message)}")
        text = " ".join(parts)
        read_at = self._read_at.get(item.ref)
        since = now - read_at if read_at is not None else 0.0
        if item.eta_s is not None:
            text += f", eta {format_duration(max(0.0, item.eta_s - since))}"
        if item.fault is not None:
            text += f", retrying: {one_line(item.fault.message)}"
        if since >= STALE_READ_S:
            text += f", read {format_duration(since)} ago"
        return text

    def _write(self, at: datetime, text: str) -> None:
        self._last_line = self.clock()
        print(f"{at:%H:%M:%S} {text}", file=self.stream, flush=True)


class GithubLog(LineLog):
    """`wait -o github`: the line log, folded into one `::group::` block of the job's log, so
    that the annotations and the verdict after it stand out."""

    def __init__(
        self, stream: TextIO, snapshots: list[Snapshot], clock: Callable[[], float]
    ) -> None:
        super().__init__(stream, snapshots, clock)
        self._open = False

    def start(self) -> None:
        super().start()
        count = len(self.latest)
        noun = "operation" if count == 1 else "operations"
        print(f"::group::opwatch wait: {count} {noun}", file=self.stream, flush=True)
        self._open = True

    def stop(self) -> None:
        if self._open:
            self._open = False
            print("::endgroup::", file=self.stream, flush=True)


def describe(snapshot: Snapshot) -> str:
    """A state change for the line log: `partial 80/80 100%, 72 ok, 8 bad - message`."""
    operation = snapshot.operation
    if operation is None:
        return snapshot.outcome
    text = operation.state.value
    progress = progress_cell(operation.progress)
    if progress:
        text += f" {progress}"
    items = items_cell(operation.progress)
    if items and (operation.terminal or operation.progress.bad):
        text += f", {items}"
    if operation.message:
        text += f" - {one_line(operation.message)}"
    if operation.state is State.UNKNOWN:
        text += f" (provider status {operation.provider_status!r})"
    return text


def _rate(snapshot: Snapshot) -> str:
    rate = snapshot.rate_per_s
    if rate is None or snapshot.finished:
        return ""
    operation = snapshot.operation
    total = operation.progress.total if operation else None
    if total:
        return f"{rate * total / 100:.1f}/s"
    return f"{rate:.1f}%/s"
