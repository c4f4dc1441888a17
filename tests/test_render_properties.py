"""Properties of every fitted output over random REFs, kinds and messages, at every width from
40 to 200 columns: each REF appears whole (a copied REF is the right id), each state word
appears, no message word of list-errors is lost, and a live frame is never wider than the
screen (rich moves the cursor up by the frame's line count)."""

import io
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console, RenderableType

from opwatch.explain import Listing
from opwatch.model import Operation, OperationError, OpRef, Progress, Reading, State
from opwatch.render.errors import errors_table
from opwatch.render.live import LiveView
from opwatch.render.table import status_table
from opwatch.watch import Event, EventKind, Snapshot
from tests.fakes import EPOCH, VirtualClock

IDS = st.one_of(
    st.uuids().map(str),
    st.integers(min_value=0, max_value=10**9).map(str),
    st.text(string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=30),
)
PROFILES = st.text(string.ascii_lowercase, min_size=1, max_size=12)
WORDS = st.text(string.ascii_letters + string.digits + ".,;()'", min_size=1, max_size=18)
SENTENCES = st.lists(WORDS, min_size=0, max_size=14).map(" ".join)
STATES = st.sampled_from(list(State))
WIDTHS = st.integers(min_value=40, max_value=200)


@st.composite
def readings(draw: st.DrawFn) -> list[Reading]:
    refs = draw(st.lists(st.builds(OpRef, PROFILES, IDS), min_size=1, max_size=8, unique=True))
    out = []
    for ref in refs:
        percent = draw(st.none() | st.floats(min_value=0, max_value=100))
        total = draw(st.none() | st.integers(min_value=0, max_value=10**6))
        operation = Operation(
            "wesog",
            ref.id,
            draw(STATES),
            draw(st.none() | WORDS),
            kind=draw(st.none() | WORDS),
            progress=Progress(percent=percent, done=total and total // 2, total=total),
            message=draw(st.none() | SENTENCES),
            started_at=EPOCH,
        )
        out.append(Reading(ref, "wesog", operation))
    return out


def printed(renderable: RenderableType, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, height=50, color_system=None)
    console.print(renderable, crop=False)
    return console.file.getvalue()  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings(), WIDTHS)
def test_status_table_shows_every_ref_whole_and_every_state(
    items: list[Reading], width: int
) -> None:
    screen = printed(status_table(items, EPOCH, width), width)
    lines = screen.splitlines()
    for reading in items:
        assert reading.operation is not None
        ref = str(reading.ref)
        assert any(line.split()[:1] == [ref] for line in lines), (ref, screen)
        assert reading.operation.state.value in screen.split()
    # Only a REF on a line of its own may go past the width (never cut, the terminal wraps it).
    refs = {str(reading.ref) for reading in items}
    assert all(len(line) <= width or line.strip() in refs for line in lines), screen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.builds(OpRef, PROFILES, IDS), st.lists(SENTENCES, min_size=1, max_size=5), WIDTHS)
def test_errors_table_loses_no_word_of_a_message(
    ref: OpRef, messages: list[str], width: int
) -> None:
    rows = [
        OperationError("toloka", ref.id, item=str(n), field="input_values.image",
                       code="VALUE_REQUIRED", message=message)
        for n, message in enumerate(messages)
    ]  # fmt: skip
    screen = printed(
        errors_table([Listing(ref, "toloka", shown=rows, total=len(rows))], width), width
    )
    words = screen.split()
    assert str(ref) in words
    for message in messages:
        for word in message.split():
            # A word longer than its column is folded, never dropped: its pieces are all there.
            assert word in words or word in "".join(words), (word, screen)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    readings(), st.integers(min_value=60, max_value=200), st.integers(min_value=24, max_value=50)
)
def test_live_frames_fit_the_screen_and_show_every_state(
    items: list[Reading], width: int, height: int
) -> None:
    clock = VirtualClock()
    console = Console(file=io.StringIO(), width=width, height=height, color_system=None)
    snapshots = [Snapshot(reading.ref, "wesog") for reading in items]
    view = LiveView(console, snapshots, clock=clock.monotonic, sleep=clock.sleep, transient=False)
    for reading in items:
        assert reading.operation is not None
        finished = reading.operation.terminal
        snapshot = Snapshot(reading.ref, "wesog", reading.operation, finished=finished)
        view.event(Event(EventKind.DONE if finished else EventKind.UPDATE, snapshot, EPOCH))
    clock.t = 7.0
    frame = printed(view.render(), width)
    lines = frame.splitlines()
    assert all(len(line) <= width for line in lines), frame
    assert len(lines) <= height
    if not view.stacked():
        for reading in items:
            assert reading.operation is not None
            row = next(line for line in lines if line.split()[:1] == [str(reading.ref)])
            assert reading.operation.state.value in row.split(), (row, frame)
