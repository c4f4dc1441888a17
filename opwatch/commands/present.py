"""How results are shown, shared by the commands and the demo: a wait with its progress on
stderr and its final states on stdout, and the error listings of list-errors (and of
`wait --errors`, over the session it waited with)."""

import contextlib
from typing import TYPE_CHECKING, Protocol

from opwatch.commands.common import Output
from opwatch.config import Config
from opwatch.durations import format_duration
from opwatch.errors import OpwatchError, shared_by, shared_errors
from opwatch.exitcodes import ExitCode, combine
from opwatch.explain import Listing
from opwatch.model import OperationError, OpRef, State
from opwatch.render.console import Printer
from opwatch.render.json import event_record, line, reading_record, summary_record
from opwatch.watch import Event, Snapshot, Watcher, WatchOptions, WatchResult

if TYPE_CHECKING:
    from opwatch.session import Session

ERROR_ROWS = 50
"""Rows per operation in an error table, unless --limit says otherwise."""


class Display(Protocol):
    """What shows progress on stderr: the live view, the line log, or nothing. Started and
    stopped on the event loop; each event carries a frozen snapshot."""

    def start(self) -> None: ...
    def event(self, event: Event) -> None: ...
    def warn(self, message: str) -> None: ...
    def stop(self) -> None: ...


class Silent:
    """-q: nothing on stderr while waiting."""

    def start(self) -> None:
        pass

    def event(self, event: Event) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def stop(self) -> None:
        pass


def run_wait(
    cfg: Config,
    out: Printer,
    targets: list[OpRef],
    watch_options: WatchOptions,
    fmt: Output,
    *,
    errors_limit: int | None = None,
) -> WatchResult:
    """Wait on one event loop and one session: progress on stderr, the final states on stdout,
    then, with `errors_limit`, the errors of the operations that did not succeed (`--errors`,
    the demo), and the verdict on stderr. On Ctrl-C or SIGTERM, print the last known states
    and let it propagate."""
    from opwatch import core
    from opwatch.session import Session  # httpx: imported when a command needs it

    runtime = out.runtime
    holder: list[Watcher] = []
    display: Display = Silent()

    async def main() -> WatchResult:
        nonlocal display
        async with Session(cfg, runtime) as session:
            events = fmt is Output.EVENTS

            def report(event: Event) -> None:
                display.event(event)
                if events:
                    out.line(line(event_record(event)), flush=True)

            watcher = core.watcher(session, targets, watch_options, report)
            holder.append(watcher)
            display = _display(out, watcher.snapshots(), fmt, watch_options)
            session.warn = display.warn  # a warning must not tear a live frame
            _announce(out, watcher)
            display.start()
            try:
                result = await watcher.run()
            finally:
                display.stop()
            if runtime.stderr_is_tty and not runtime.quiet:  # the live view (see _display)
                # The live view shows an error as a word in a row; an error that stopped a
                # whole profile or origin gets its message once here (the line log said it).
                # The engine shares one error among the operations it stopped, its message
                # saying how many.
                said: set[int] = set()
                for item in result.snapshots:
                    error = item.error
                    if error and shared_by(error, item.ref.profile) and id(error) not in said:
                        said.add(id(error))
                        out.error(error.message)
            if events:
                out.line(line(summary_record(result, runtime.now())), flush=True)
            verdict = _verdict(result, watch_options)
            _show_final(out, result.snapshots, fmt, verdict)
            if errors_limit is not None:
                await _list_errors_of_unhappy(session, out, result, fmt, errors_limit)
            out.verdict(verdict)
            return result

    try:
        return runtime.run(main(), many_reads=True)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as opwatch.commands.common.Terminated
        display.stop()
        if holder:
            out.warn("stopped; the last known states follow")
            _show_final(out, holder[0].snapshots(), fmt, None)
        raise


def _verdict(result: WatchResult, watch_options: WatchOptions) -> list[str]:
    from opwatch.render.verdict import WaitEnd, verdict

    return verdict(
        [item.reading for item in result.snapshots],
        result.code,
        wait=WaitEnd(result.timed_out, watch_options.timeout_s),
        allow_partial=watch_options.allow_partial,
    )


async def _list_errors_of_unhappy(
    session: "Session", out: Printer, result: WatchResult, fmt: Output, limit: int
) -> None:
    """The failed items of the operations that failed or ended partial: a grouped table after
    the final table (folded into a `::group::` with -o github); with --json or -o events, error
    objects after the operation lines (they have `item` and `code` keys where operations have
    `state`)."""
    unhappy = [s.ref for s in result.snapshots if s.state in (State.FAILED, State.PARTIAL)]
    if not unhappy:
        return
    if fmt in (Output.JSON, Output.EVENTS):
        await show_errors(session, out, unhappy, Output.JSON, limit=limit)
        return
    github = fmt is Output.GITHUB
    if github:
        out.line("::group::What failed (opwatch list-errors --group)")
    else:
        out.line("\nWhat failed (opwatch list-errors --group):")
    table = Output.WIDE if fmt is Output.WIDE else Output.TABLE
    await show_errors(session, out, unhappy, table, limit=limit, group=True)
    if github:
        out.line("::endgroup::")


def _display(
    out: Printer, snapshots: list[Snapshot], fmt: Output, watch_options: WatchOptions
) -> Display:
    runtime = out.runtime
    if runtime.quiet:
        return Silent()
    if fmt is Output.GITHUB:
        from opwatch.render.live import GithubLog

        return GithubLog(runtime.stderr, snapshots, runtime.clock)
    # TERM=dumb: a terminal that cannot move its cursor, so a live view cannot redraw there
    # (rich draws nothing on one until the end); the line log says what happens instead.
    if runtime.stderr_is_tty and runtime.env.get("TERM") != "dumb":
        from opwatch.render.live import LiveView

        return LiveView(
            out.people,
            snapshots,
            clock=runtime.clock,
            sleep=runtime.sleep,
            transient=runtime.stdout_is_tty,
            retries=watch_options.retries,
        )
    from opwatch.render.live import LineLog

    return LineLog(runtime.stderr, snapshots, runtime.clock)


def _announce(out: Printer, watcher: Watcher) -> None:
    count = len(watcher)
    noun = "operation" if count == 1 else "operations"
    timeout_s = watcher.options.timeout_s
    deadline = watcher.deadline_at()
    if deadline is None:
        until = "with no deadline"
    else:
        until = f"until {deadline:%Y-%m-%d %H:%M:%S} UTC (timeout {format_duration(timeout_s)})"
    out.say(f"opwatch: waiting for {count} {noun} {until}")


def _show_final(
    out: Printer, snapshots: list[Snapshot], fmt: Output, verdict: list[str] | None
) -> None:
    now = out.runtime.now()
    if fmt is Output.JSON:
        for item in snapshots:
            out.line(line(reading_record(item.reading, now)))
        out.flush()
        return
    if fmt is Output.EVENTS:
        return
    if fmt is Output.GITHUB:
        if verdict is not None:
            _annotate_wait(out, snapshots, verdict)
        return
    from opwatch.render.table import status_table

    width = out.table_width(wide=fmt is Output.WIDE)
    out.show(status_table([item.reading for item in snapshots], now, width))


def _annotate_wait(out: Printer, snapshots: list[Snapshot], verdict: list[str]) -> None:
    """`wait -o github`: an `::error` for each operation that did not succeed (the verdict's
    line for it), at most GitHub's 10, then a notice with the verdict's summary."""
    from opwatch.render.errors import annotations

    lines = verdict[:-1]
    if lines and lines[-1].startswith("… and "):
        lines = lines[:-1]
    pairs = [(f"opwatch wait: {text.split(' ', 1)[0]}", text) for text in lines]
    for text in annotations(pairs, "opwatch wait", f"opwatch: {verdict[-1]}"):
        out.line(text)
    out.flush()


async def show_errors(
    session: "Session",
    out: Printer,
    targets: list[OpRef],
    fmt: Output,
    *,
    limit: int = ERROR_ROWS,
    group: bool = False,
    exit_status: bool = False,
) -> ExitCode:
    """List the errors of `targets` in `fmt` over an open session; return the exit code.
    `group` folds identical errors in every format. `wait --errors` calls it with the session
    it waited with."""
    from opwatch import core
    from opwatch.render.json import error_record, group_record, line

    def emit(ref: OpRef, row: OperationError) -> None:
        out.line(line(error_record(ref, row)))

    listings: list[Listing] = []
    if fmt is Output.JSON and not group:  # every row, as it arrives
        found = core.list_errors(session, targets, limit=0, group=False, each=emit)
    elif fmt is Output.JSON:  # every group, once its operation's rows are counted
        found = core.list_errors(session, targets, limit=0, group=True)
    else:
        found = core.list_errors(session, targets, limit=limit, group=group)
    stopped: list[tuple[str, OpwatchError]] = []
    async with contextlib.aclosing(found):
        async for listing in found:
            error = listing.error
            if error is not None and shared_by(error, listing.ref.profile) is not None:
                stopped.append((listing.ref.profile, error))  # said once, below
            elif error is not None:
                out.warn(f"{listing.ref}: {error.message}")
            elif listing.gone is not None and fmt is Output.JSON:
                out.warn(f"{listing.ref}: {listing.gone}")  # the table has a row saying it
            if fmt is Output.JSON and group:
                for folded in listing.sorted_groups():
                    out.line(line(group_record(listing, folded)))
            listings.append(listing)
    for message in shared_errors(stopped):
        out.warn(message)
    _show(out, listings, fmt, group)
    codes = [listing.error.exit_code for listing in listings if listing.error is not None]
    if exit_status and any(listing.total for listing in listings):
        codes.append(ExitCode.FAILED)
    return combine(codes)


def _show(out: Printer, listings: list[Listing], fmt: Output, group: bool) -> None:
    if fmt is Output.JSON:
        out.flush()
        return
    from opwatch.render.errors import errors_table, github_lines, grouped_table, markdown_summary

    if fmt is Output.GITHUB:
        for text in github_lines(listings, group=group):
            out.line(text)
        summary_path = out.runtime.env.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as summary:
                summary.write(markdown_summary(listings))
        return
    width = out.table_width(wide=fmt is Output.WIDE)
    out.show(grouped_table(listings, width) if group else errors_table(listings, width))
