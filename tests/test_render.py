"""Renderers printed into fixed-width consoles and compared whole, at 40, 60, 80, 120 and 200
columns (and at natural width, as a pipe gets them): the status table, list-errors plain and
grouped, the live view's rows and aggregate. The expected screens are in tests/render/; set
WRITE_SCREENS=1 to write them afresh after a deliberate change, then read the diff."""

import difflib
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from opwatch.errors import NotFound, ProviderError
from opwatch.explain import Group, Listing
from opwatch.model import Operation, OperationError, OpRef, Progress, Reading, State
from opwatch.render.errors import errors_table, github_lines, grouped_table, markdown_summary
from opwatch.render.live import LineLog, LiveView
from opwatch.render.table import status_table
from opwatch.watch import Event, EventKind, Snapshot
from tests.fakes import VirtualClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
UUID = "6d4f0e2c-1c3b-4f7e-9a51-01935fc6c4aa"
SCREENS = Path(__file__).parent / "render"
WIDTHS = (40, 60, 80, 120, 200)


def text(renderable: RenderableType, width: int | None = 100, height: int = 40) -> str:
    """What the renderable prints on a console `width` wide (None: a pipe), as Printer.show
    prints it: uncropped, without trailing blanks."""
    console = Console(
        file=io.StringIO(), width=width or 10_000, height=height, color_system=None, emoji=False
    )
    console.print(renderable, crop=False)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in output.splitlines()) + "\n"


def screen(name: str, actual: str) -> None:
    """Compare `actual` with tests/render/NAME.txt, whole."""
    path = SCREENS / f"{name}.txt"
    if os.environ.get("WRITE_SCREENS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "\n".join(
            difflib.unified_diff(expected.splitlines(), actual.splitlines(), "expected", "actual")
        )
        pytest.fail(f"{name} differs:\n{diff}")


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, second, tzinfo=UTC)


READINGS = [
    Reading(
        OpRef("crowd", UUID),
        "toloka",
        Operation(
            "toloka", UUID, State.RUNNING, "RUNNING", kind="TASK_SUITE.BATCH_CREATE",
            progress=Progress(percent=42.0, done=84, total=200, good=80, bad=4),
            started_at=at(11, 58, 30),
        ),
    ),
    Reading(
        OpRef("cdn", "17"),
        "trafficops",
        Operation(
            "trafficops", "17", State.PARTIAL, "SUCCEEDED", kind="acme_renew",
            message="ACME renewal complete. 5 certs renewed, 2 errors.",
            progress=Progress(good=5, bad=2), started_at=at(11, 50), finished_at=at(11, 52, 14),
        ),
    ),
    Reading(
        OpRef("media", "1003"),
        "wesog",
        Operation(
            "wesog", "1003", State.FAILED, "finished", kind="upd video",
            progress=Progress(percent=100.0, done=10, total=10, good=0, bad=10), elapsed_s=30.0,
        ),
    ),
    Reading(
        OpRef("cdn", "7"),
        "trafficops",
        Operation(
            "trafficops", "7", State.UNKNOWN, "ARCHIVED", kind="dnssec_refresh",
            started_at=at(11, 0),
        ),
    ),
    Reading(OpRef("media", "99"), "wesog", error=NotFound("Wesog has no operation 99 (404)")),
]  # fmt: skip


@pytest.mark.parametrize("width", [*WIDTHS, None])
def test_status_table_at_every_width(width: int | None) -> None:
    screen(f"status-{width or 'pipe'}", text(status_table(READINGS, NOW, width), width))


def test_status_table_is_one_line_per_operation_at_80_columns() -> None:
    lines = text(status_table(READINGS, NOW, 80), 80).splitlines()
    assert len(lines) == 1 + len(READINGS)
    assert all(len(line) <= 80 for line in lines)
    for line, reading in zip(lines[1:], READINGS, strict=True):
        assert line.startswith(str(reading.ref) + " ")


def test_status_table_drops_columns_in_the_documented_order() -> None:
    headers = {
        width: text(status_table(READINGS, NOW, width), width).splitlines()[0].split()
        for width in (200, 120, 80)
    }
    assert headers[200] == ["REF", "KIND", "STATE", "PROGRESS", "ITEMS", "TIME", "NOTE"]
    assert headers[120] == ["REF", "STATE", "PROGRESS", "ITEMS", "TIME", "NOTE"]  # KIND first
    assert headers[80] == ["REF", "STATE", "PROGRESS", "TIME"]  # then ITEMS, then NOTE


def test_piped_status_table_has_natural_widths_and_no_trailing_blanks() -> None:
    piped = text(status_table(READINGS, NOW, None), None)
    assert "ACME renewal complete. 5 certs renewed, 2 errors." in piped
    assert "TASK_SUITE.BATCH_CREATE" in piped
    assert all(line == line.rstrip() for line in piped.splitlines())


def error(item: str, field: str | None, code: str | None, message: str) -> OperationError:
    return OperationError(
        "toloka", UUID, item=item, code=code, field=field, message=message, step="TASK_VALIDATE"
    )


def listings() -> list[Listing]:
    toloka = Listing(
        OpRef("crowd", UUID),
        "toloka",
        shown=[
            error("1", "input_values.image", "VALUE_REQUIRED",
                  "Value must be present in every task of the suite"),
            error("4", "input_values.url", "INVALID_URL", "Value must be a valid URL"),
        ],
        total=5,
    )  # fmt: skip
    toloka.groups = {
        ("VALUE_REQUIRED", "input_values.image", "m"): Group(
            "VALUE_REQUIRED", "input_values.image", "Value must be present", 12, ["1", "2", "3"]
        ),
        ("INVALID_URL", "input_values.url", "m"): Group(
            "INVALID_URL", "input_values.url", "Value must be a valid URL", 3, ["4"]
        ),
    }
    cdn = Listing(
        OpRef("cdn", "3"),
        "trafficops",
        shown=[
            OperationError(
                "trafficops", "3", message="DNSSEC refresh failed (updated 4 keys, but 2 errors)"
            )
        ],
        total=1,
    )
    dnssec = "DNSSEC refresh failed (updated 4 keys, but 2 errors)"
    cdn.groups = {(None, None, "m"): Group(None, None, dnssec, 1)}
    gone = Listing(OpRef("crowd", "old"), "toloka", error=NotFound("the log is gone"))
    return [toloka, cdn, gone]


@pytest.mark.parametrize("width", [*WIDTHS, None])
def test_errors_table_at_every_width(width: int | None) -> None:
    screen(f"errors-{width or 'pipe'}", text(errors_table(listings(), width), width))


@pytest.mark.parametrize("width", [*WIDTHS, None])
def test_grouped_table_at_every_width(width: int | None) -> None:
    screen(f"grouped-{width or 'pipe'}", text(grouped_table(listings(), width), width))


def test_errors_table_never_loses_a_message_word() -> None:
    for width in WIDTHS:
        words = text(errors_table(listings(), width), width).split()
        message = "Value must be present in every task of the suite"
        for word in message.split(" "):
            assert word in words, (width, word)


def test_github_lines_escape_and_summarise() -> None:
    odd = Listing(
        OpRef("crowd", "op1"),
        "toloka",
        shown=[error("9", "a,b", "X", "50% done\nthen: failed")],
        total=70,
        items_named=60,
    )
    assert github_lines([odd]) == [
        "::error title=crowd%3Aop1 item 9 a%2Cb [X]::50%25 done%0Athen: failed",
        "::notice title=opwatch list-errors::opwatch: 70 error rows (60 failed items) in 1 of "
        "1 operation; the first 1 rows are annotations (GitHub shows 10 a step): opwatch "
        "list-errors -o json lists them all",
    ]


def test_github_lines_stop_at_ten_with_true_totals() -> None:
    many = [
        Listing(
            OpRef("crowd", f"op{n}"),
            "toloka",
            shown=[error(str(i), "f", "C", "bad") for i in range(4)],
            total=4,
            items_named=4,
        )
        for n in range(5)
    ]
    clean = Listing(OpRef("media", "1"), "wesog")
    lines = github_lines([*many, clean])
    assert len(lines) == 11
    assert all(line.startswith("::error ") for line in lines[:10])
    assert lines[10].startswith(
        "::notice title=opwatch list-errors::opwatch: 20 error rows (20 failed items) in 5 of "
        "6 operations; the first 10 rows are annotations"
    )


def test_github_lines_grouped() -> None:
    lines = github_lines(listings(), group=True)
    assert lines[0] == (
        f"::error title=crowd%3A{UUID} input_values.image [VALUE_REQUIRED] (12 rows)::"
        "Value must be present"
    )
    assert lines[-1].startswith("::notice title=opwatch list-errors::opwatch: 6 error rows")


def test_markdown_summary() -> None:
    assert markdown_summary(listings()[:2]) == (
        "### opwatch list-errors\n\n"
        "| ref | item | field | code | message |\n"
        "|---|---|---|---|---|\n"
        f"| crowd:{UUID} | 1 | input_values.image | VALUE_REQUIRED | "
        "Value must be present in every task of the suite |\n"
        f"| crowd:{UUID} | 4 | input_values.url | INVALID_URL | Value must be a valid URL |\n"
        f"| crowd:{UUID} | | | | … and 3 more |\n"
        "| cdn:3 |  |  |  | DNSSEC refresh failed (updated 4 keys, but 2 errors) |\n"
        "\n6 error rows (6 failed items) in 2 of 2 operations.\n\n"
    )


def snap(ref: str, operation: Operation | None = None, **fields: object) -> Snapshot:
    profile, op_id = ref.split(":", 1)
    provider = {"crowd": "toloka", "cdn": "trafficops"}.get(profile, "wesog")
    return Snapshot(OpRef(profile, op_id), provider, operation, **fields)  # type: ignore[arg-type]


def op(state: State, status: str, **fields: object) -> Operation:
    return Operation("wesog", "x", state, status, **fields)  # type: ignore[arg-type]


def live_events() -> list[Event]:
    """Seven operations, one of each thing the live view has to say."""
    wes = op(State.RUNNING, "running", kind="add image",
             progress=Progress(done=300, total=1000, good=300, bad=0))  # fmt: skip
    partial = op(State.PARTIAL, "finished", kind="add image",
                 progress=Progress(percent=100.0, done=40, total=40, good=30, bad=10))  # fmt: skip
    return [
        Event(EventKind.UPDATE, snap(
            f"crowd:{UUID}",
            op(State.RUNNING, "RUNNING", kind="TASK_SUITE.BATCH_CREATE",
               progress=Progress(percent=42.0, done=84, total=200)),
            rate_per_s=0.5, eta_s=116.0), NOW),
        Event(EventKind.UPDATE, snap(
            "cdn:17",
            op(State.RUNNING, "PENDING", kind="acme_renew",
               message="ACME renewal in progress. 3 certs renewed, 1 errors.")), NOW),
        Event(EventKind.RETRY, snap(
            "media:1004", wes, fault=ProviderError("Wesog answered 503 Service Unavailable"),
            faults_in_a_row=2, retries=2), NOW,
            error=ProviderError("Wesog answered 503 Service Unavailable"), delay_s=8.0),
        Event(EventKind.UPDATE, snap(
            "cdn:7", op(State.UNKNOWN, "ARCHIVED", kind="dnssec_refresh")), NOW),
        Event(EventKind.DONE, snap(
            "media:1001",
            op(State.SUCCEEDED, "finished", kind="add image",
               progress=Progress(percent=100.0, done=40, total=40)), finished=True), NOW),
        Event(EventKind.DONE, snap("media:1002", partial, finished=True), NOW),
        Event(EventKind.ERROR, snap(
            "media:99", error=NotFound("Wesog has no operation 99 (404)"), finished=True), NOW,
            error=NotFound("Wesog has no operation 99 (404)")),
    ]  # fmt: skip


def live_view(
    events: list[Event], width: int, height: int, clock: VirtualClock | None = None
) -> LiveView:
    """A live view that has been told of every event, as the engine does."""
    clock = clock or VirtualClock()
    console = Console(
        file=io.StringIO(), width=width, height=height, color_system=None, emoji=False
    )
    refs = list(dict.fromkeys(event.snapshot.ref for event in events))
    view = LiveView(
        console,
        [Snapshot(ref, "wesog") for ref in refs],
        clock=clock.monotonic,
        sleep=clock.sleep,
        transient=False,
        retries=5,
    )
    for event in events:
        view.event(event)
    return view


@pytest.mark.parametrize("width", WIDTHS)
def test_live_rows_at_every_width(width: int) -> None:
    clock = VirtualClock()
    view = live_view(live_events(), width, 24, clock)
    clock.t = 5.0  # five seconds after the reads: the Toloka job moved on at 0.5%/s
    screen(f"live-{width}", text(view.render(), width))


def test_live_rows_at_80x24_and_120x40_say_everything() -> None:
    for width, height in ((80, 24), (120, 40)):
        clock = VirtualClock()
        view = live_view(live_events(), width, height, clock)
        clock.t = 5.0
        frame = text(view.render(), width)
        lines = frame.splitlines()
        assert all(len(line) <= width for line in lines), frame
        assert len(lines) <= height - 2
        for event in live_events():
            assert str(event.snapshot.ref) in frame
        for words in (
            "44%  running",  # 42% read 5 s ago, moving on at 0.5%/s
            "eta 1m51s",
            "retry 2/5 in 3.0s: Wesog answered 503 Service Unavailable",
            "status 'ARCHIVED' unknown to opwatch",
            "ACME renewal in progress. 3 certs renewed, 1 errors.",
            "succeeded",
            "partial",
            "30 ok, 10 bad",
            "Wesog has no operation 99 (404)",
        ):
            assert words in frame, (width, words)


def test_live_extrapolation_never_reaches_done_and_old_reads_say_so() -> None:
    clock = VirtualClock()
    view = live_view(live_events()[:1], 120, 24, clock)
    clock.t = 400.0  # far past the predicted end, and no read has said it is done
    row, detail = text(view.render(), 120).splitlines()[:2]
    assert row.endswith(" 99%  running")
    assert detail == "    due now  1.0/s  read 6m40s ago"


def crowded_events() -> list[Event]:
    events = []
    for n in range(100):
        ref = f"media:{2000 + n}" if n < 60 else f"crowd:{n:08x}-0000-4000-8000-000000000000"
        if n % 10 == 0:
            failed = op(State.FAILED, "FAIL", progress=Progress(done=10, total=10, good=0, bad=10))
            events.append(Event(EventKind.DONE, snap(ref, failed, finished=True), NOW))
        elif n % 10 == 1:
            partial = op(State.PARTIAL, "SUCCESS",
                         progress=Progress(done=80, total=80, good=72, bad=8))  # fmt: skip
            events.append(Event(EventKind.DONE, snap(ref, partial, finished=True), NOW))
        elif n % 10 == 2:
            quiet = op(State.RUNNING, "PENDING", message="DNSSEC refresh in progress")
            events.append(Event(EventKind.UPDATE, snap(ref, quiet), NOW))
        elif n % 10 == 3:
            done = op(State.SUCCEEDED, "SUCCESS", progress=Progress(percent=100.0))
            events.append(Event(EventKind.DONE, snap(ref, done, finished=True), NOW))
        else:
            rate = 0.1 + n / 100
            running = op(State.RUNNING, "RUNNING", progress=Progress(percent=float(n % 50)))
            eta = (100 - n % 50) / rate
            events.append(
                Event(EventKind.UPDATE, snap(ref, running, rate_per_s=rate, eta_s=eta), NOW)
            )
    return events


@pytest.mark.parametrize(("width", "height"), [(40, 24), (60, 24), (80, 24), (120, 40), (200, 50)])
def test_live_aggregate_at_every_width(width: int, height: int) -> None:
    clock = VirtualClock()
    view = live_view(crowded_events(), width, height, clock)
    clock.t = 3.0
    frame = text(view.render(), width, height)
    screen(f"aggregate-{width}x{height}", frame)
    assert len(frame.splitlines()) <= height - 2


def test_live_aggregate_words_are_true() -> None:
    clock = VirtualClock()
    view = live_view(crowded_events(), 120, 40, clock)
    frame = text(view.render(), 120, 40)
    slowest = frame.split("slowest (latest predicted end): 60\n")[1].split("\n… and")[0]
    # The latest predicted ends: the least advanced of the slowest, not a job without progress
    # (which is listed apart) nor one that finished.
    assert [line.split()[0] for line in slowest.splitlines()] == [
        "media:2004", "media:2005", "media:2006", "media:2007", "media:2008"
    ]  # fmt: skip
    assert "no progress reported: 10\n" in frame
    assert "failed: 10\n" in frame
    assert "partial: 10\n" in frame
    assert frame.count("… and 5 more") == 3


def test_live_aggregate_shows_a_failure_in_the_next_frame() -> None:
    events = crowded_events()
    view = live_view(events, 120, 40)
    before = text(view.render(), 120, 40)
    assert "errors:" not in before
    view.event(
        Event(
            EventKind.ERROR,
            snap("media:2005", error=NotFound("gone"), finished=True),
            NOW,
            error=NotFound("gone"),
        )
    )
    frame = text(view.render(), 120, 40)
    assert frame.splitlines()[0] == "running: 69  succeeded: 10  partial: 10  failed: 10  error: 1"
    assert "errors: 1\nmedia:2005" in frame


def test_line_log_says_each_change_once_with_its_counts() -> None:
    stream = io.StringIO()
    clock = VirtualClock()
    log = LineLog(stream, [snap("media:1")], clock.monotonic)
    log.start()
    for progress, state in (((10, 0), State.RUNNING), ((20, 0), State.RUNNING),
                            ((72, 8), State.PARTIAL)):  # fmt: skip
        done = progress[0] + progress[1]
        counts = Progress(done=done, total=80, good=progress[0], bad=progress[1])
        log.event(Event(EventKind.UPDATE, snap("media:1", op(state, "x", progress=counts)), NOW))
    assert stream.getvalue().splitlines() == [
        "12:00:00 media:1 running 10/80",
        "12:00:00 media:1 partial 80/80, 72 ok, 8 bad",
    ]


def test_line_log_heartbeat_names_the_unfinished() -> None:
    stream = io.StringIO()
    clock = VirtualClock()
    events = live_events()[:3]
    log = LineLog(stream, [event.snapshot for event in events], clock.monotonic)
    log.start()
    for event in events:
        log.event(event)
    clock.t = 61.0
    log.event(events[0])  # read again, nothing changed, a minute after the last line
    assert stream.getvalue().splitlines()[-4:] == [
        "12:00:00 still waiting for 3 of 3:",
        f"12:00:00   crowd:{UUID} running 84/200 42%, eta 1m56s",
        "12:00:00   cdn:17 running - ACME renewal in progress. 3 certs renewed, 1 errors., "
        "read 1m01s ago",
        "12:00:00   media:1004 running 300/1000, retrying: Wesog answered 503 Service Unavailable",
    ]


def test_the_readme_pictures_the_live_view_as_it_is() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert (SCREENS / "live-80.txt").read_text(encoding="utf-8") in readme


def test_a_resize_redraws_from_the_top_of_the_screen() -> None:
    screen_file = io.StringIO()
    console = Console(file=screen_file, width=120, height=40, force_terminal=True)
    clock = VirtualClock()
    events = live_events()
    view = LiveView(
        console,
        [event.snapshot for event in events],
        clock=clock.monotonic,
        sleep=clock.sleep,
        transient=True,
    )
    live = view._live
    live.start(refresh=True)
    try:
        live.refresh()
        same_size = screen_file.getvalue()[len(screen_file.getvalue()) // 2 :]
        assert "\x1b[1A" in same_size  # an ordinary frame moves up over the last one
        screen_file.seek(0)
        screen_file.truncate()
        console.width = 80  # the terminal shrank: the last frame was re-wrapped by it
        live.refresh()
        resized = screen_file.getvalue()
        assert resized.startswith("\x1b[2J\x1b[H")  # cleared, drawn at the top
        assert "\x1b[1A" not in resized  # no move up by a line count that no longer holds
    finally:
        live.stop()
