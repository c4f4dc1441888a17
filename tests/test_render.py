"""Renderers printed into a fixed-width console and compared whole."""

import io
from datetime import UTC, datetime

from rich.console import Console, RenderableType

from opwatch.errors import NotFound
from opwatch.explain import Group, Listing
from opwatch.model import Operation, OperationError, OpRef, Progress, Reading, State
from opwatch.render.errors import errors_table, github_lines, grouped_table, markdown_summary
from opwatch.render.live import LineLog, LiveView
from opwatch.render.table import status_table
from opwatch.watch import Event, EventKind, Snapshot
from tests.fakes import VirtualClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REF = OpRef("crowd", "op1")


def text(renderable: RenderableType, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, emoji=False)
    console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in output.splitlines()) + "\n"


def row(item: str, field: str, code: str, message: str) -> OperationError:
    return OperationError("toloka", "op1", item=item, code=code, field=field, message=message,
                          step="TASK_VALIDATE")  # fmt: skip


def listing() -> Listing:
    rows = [
        row("1", "input_values.image", "VALUE_REQUIRED", "Value must be present"),
        row("4", "input_values.url", "INVALID_URL", "Value must be a valid URL"),
    ]
    return Listing(REF, "toloka", shown=rows, total=5)


def test_errors_table() -> None:
    assert text(errors_table([listing()])) == (
        "REF        ITEM  FIELD               CODE            MESSAGE\n"
        "crowd:op1  1     input_values.image  VALUE_REQUIRED  Value must be present\n"
        "crowd:op1  4     input_values.url    INVALID_URL     Value must be a valid URL\n"
        "crowd:op1                                            … and 3 more\n"
    )


def test_errors_table_notes() -> None:
    clean = Listing(
        OpRef("media", "7"),
        "wesog",
        operation=Operation("wesog", "7", State.PARTIAL, "x", error_count=3),
        total=1,
        shown=[OperationError("wesog", "7", item="2", message="Image too small")],
    )
    gone = Listing(OpRef("crowd", "old"), "toloka", error=NotFound("the log is gone"))
    assert text(errors_table([clean, gone]), width=80) == (
        "REF       ITEM  FIELD  CODE  MESSAGE\n"
        "media:7   2                  Image too small\n"
        "media:7: Wesog counts 2 more failed items than it lists\n"
        "crowd:old: the log is gone\n"
    )


def test_grouped_table() -> None:
    grouped = listing()
    grouped.groups = {
        ("VALUE_REQUIRED", "input_values.image", "Value must be present"): Group(
            "VALUE_REQUIRED", "input_values.image", "Value must be present", 12, ["1", "2", "3"]
        ),
        ("INVALID_URL", "input_values.url", "bad"): Group(
            "INVALID_URL", "input_values.url", "bad", 30, ["4"]
        ),
    }
    assert text(grouped_table([grouped])) == (
        "REF        COUNT  FIELD               CODE            MESSAGE                ITEMS\n"
        "crowd:op1     30  input_values.url    INVALID_URL     bad                    4, …\n"
        "crowd:op1     12  input_values.image  VALUE_REQUIRED  Value must be present  1, 2, 3, …\n"
    )


def test_github_lines_escape_and_summarise() -> None:
    odd = Listing(REF, "toloka", shown=[row("9", "a,b", "X", "50% done\nthen: failed")], total=70)
    lines = github_lines([odd])
    assert lines == [
        "::error title=crowd%3Aop1 item 9 a%2Cb [X]::50%25 done%0Athen: failed",
        "::notice title=opwatch list-errors::opwatch: 70 failed items in 1 operations "
        "(1 shown as annotations; run opwatch list-errors -o json for all)",
    ]


def test_markdown_summary() -> None:
    assert markdown_summary([listing()]) == (
        "### opwatch list-errors\n\n"
        "| ref | item | field | code | message |\n"
        "|---|---|---|---|---|\n"
        "| crowd:op1 | 1 | input_values.image | VALUE_REQUIRED | Value must be present |\n"
        "| crowd:op1 | 4 | input_values.url | INVALID_URL | Value must be a valid URL |\n"
        "| crowd:op1 | | | | … and 3 more |\n\n"
    )


def test_status_table() -> None:
    running = Operation(
        "toloka", "op1", State.RUNNING, "RUNNING", kind="POOL.OPEN",
        progress=Progress(percent=40.0, done=4, total=10, good=3, bad=1),
        started_at=datetime(2026, 11, 23, 11, 58, 30, tzinfo=UTC),
    )  # fmt: skip
    done = Operation(
        "trafficops", "2", State.PARTIAL, "SUCCEEDED", message="5 certs renewed, 2 errors.",
        progress=Progress(percent=100.0, good=5, bad=2), elapsed_s=42.0,
    )  # fmt: skip
    readings = [
        Reading(REF, "toloka", running),
        Reading(OpRef("cdn", "2"), "trafficops", done),
        Reading(OpRef("media", "9"), "wesog", error=NotFound("Wesog has no such operation (404)")),
    ]
    assert text(status_table(readings, NOW), width=120) == (
        "REF           KIND       STATE      PROGRESS  ITEMS        TIME           NOTE\n"
        "crowd:op1     POOL.OPEN  running    4/10 40%  3 ok, 1 bad  running 1m30s\n"
        "cdn:2                    partial        100%  5 ok, 2 bad  took 42s       "
        "5 certs renewed, 2 errors.\n"
        "media:9                  error                                            "
        "Wesog has no such operation (404)\n"
    )


def snapshot(n: int, state: State, percent: float | None) -> Snapshot:
    operation = Operation(
        "toloka", f"op{n}", state, state.value.upper(), progress=Progress(percent=percent)
    )
    return Snapshot(OpRef("crowd", f"op{n}"), "toloka", operation, finished=state.terminal)


def unread(n: int) -> Snapshot:
    return Snapshot(OpRef("crowd", f"op{n}"), "toloka")


def live_view(items: list[Snapshot], height: int) -> LiveView:
    """A live view that has been told of every read of `items`, as the engine does."""
    console = Console(file=io.StringIO(), width=100, height=height, color_system=None)
    clock = VirtualClock()
    view = LiveView(
        console,
        [unread(n) for n in range(len(items))],
        clock=clock.monotonic,
        sleep=clock.sleep,
        transient=False,
    )
    for item in items:
        view.event(Event(EventKind.DONE if item.finished else EventKind.UPDATE, item, NOW))
    return view


def test_live_view_shows_a_row_per_operation_when_they_fit() -> None:
    view = live_view([snapshot(0, State.RUNNING, 40.0), snapshot(1, State.SUCCEEDED, None)], 20)
    lines = text(view.render()).splitlines()
    assert lines[0].startswith("crowd:op0")
    assert "running" in lines[0]
    assert lines[1].startswith("✓ crowd:op1")
    assert "succeeded" in lines[1]
    assert lines[2].startswith("overall")
    assert "1/2 done" in lines[2]


def test_live_view_says_unread_before_the_first_read() -> None:
    console = Console(file=io.StringIO(), width=100, height=20, color_system=None)
    clock = VirtualClock()
    view = LiveView(console, [unread(0)], clock=clock.monotonic, sleep=clock.sleep, transient=False)
    first = text(view.render()).splitlines()[0]
    assert first.startswith("crowd:op0")
    assert first.endswith("unread")


def test_live_view_aggregates_when_crowded() -> None:
    items = [snapshot(n, State.RUNNING, float(n)) for n in range(30)]
    items += [snapshot(30, State.FAILED, None)]
    frame = text(live_view(items, 12).render())
    assert frame.splitlines()[0] == "failed: 1  running: 30"
    assert "slowest:" in frame
    assert "crowd:op0 " in frame  # the least advanced
    assert "crowd:op29" not in frame
    assert "\nfailed:" in frame
    assert "crowd:op30" in frame
    assert "1/31 done" in frame


def test_live_view_aggregate_shows_a_failure_in_the_next_frame() -> None:
    items = [snapshot(n, State.RUNNING, 50.0 + n) for n in range(30)]
    view = live_view(items, 12)
    assert "failed:" not in text(view.render())
    view.event(Event(EventKind.DONE, snapshot(3, State.FAILED, None), NOW))
    frame = text(view.render())
    assert frame.splitlines()[0] == "failed: 1  running: 29"
    assert "crowd:op3 " in frame.split("\nfailed:")[1]


def test_line_log_says_each_change_once() -> None:
    stream = io.StringIO()
    clock = VirtualClock()
    log = LineLog(stream, [unread(0)], clock.monotonic)
    log.start()
    for item in (
        snapshot(0, State.RUNNING, 10.0),
        snapshot(0, State.RUNNING, 20.0),
        snapshot(0, State.SUCCEEDED, 100.0),
    ):
        log.event(Event(EventKind.UPDATE, item, NOW))
    assert stream.getvalue().splitlines() == [
        "12:00:00 crowd:op0 running 10%",
        "12:00:00 crowd:op0 succeeded 100%",
    ]
