"""`opwatch wait`: poll until every operation is terminal or the deadline passes."""

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Annotated, Protocol

import typer

from opwatch.commands.common import (
    ConfigOption,
    JsonOption,
    Output,
    OutputOption,
    ProfileOption,
    QuietOption,
    RefsArgument,
    Terminated,
    VerboseOption,
    finish,
    iter_ref_texts,
    make_runtime,
    open_config,
    options,
    resolve_refs,
)
from opwatch.config import Config
from opwatch.durations import format_duration, parse_duration
from opwatch.errors import UsageError
from opwatch.exitcodes import ExitCode
from opwatch.model import OpRef, State
from opwatch.render.json import event_record, line, reading_record, summary_record
from opwatch.runtime import Runtime
from opwatch.watch import (
    DEFAULT_RATE_PER_PROFILE,
    DEFAULT_RETRIES,
    Event,
    Until,
    Watched,
    Watcher,
    WatchOptions,
    WatchResult,
)


class Display(Protocol):
    """What shows progress on stderr: the live view, the line log, or nothing."""

    def start(self) -> None: ...
    def event(self, event: Event) -> None: ...
    def stop(self) -> None: ...


class Silent:
    """-q: nothing on stderr while waiting."""

    def start(self) -> None:
        pass

    def event(self, event: Event) -> None:
        pass

    def stop(self) -> None:
        pass


def wait(
    ctx: typer.Context,
    refs: RefsArgument,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            metavar="DURATION",
            help="One deadline for all operations: 90s, 15m, 2h; 0 reads once; none waits forever.",
        ),
    ] = "1h",
    interval: Annotated[
        str,
        typer.Option(
            "--interval",
            metavar="auto|DURATION",
            help="Time between reads; auto adapts to each operation's progress.",
        ),
    ] = "auto",
    until: Annotated[
        Until, typer.Option("--until", help="Stop when all or any operation is done.")
    ] = Until.ALL,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed operation.")
    ] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="An operation that ended partial succeeded.")
    ] = False,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            metavar="N",
            help="Transient faults in a row one operation may meet before it ends with code 7.",
        ),
    ] = DEFAULT_RETRIES,
    errors: Annotated[
        bool,
        typer.Option(
            "--errors", help="Afterwards, list the errors of the operations that did not succeed."
        ),
    ] = False,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            min=0.1,
            metavar="N",
            help="At most N requests per second to one profile, on average.",
        ),
    ] = DEFAULT_RATE_PER_PROFILE,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    output: OutputOption = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Poll until every operation is terminal or the deadline passes.

    The final table (or JSON Lines with --json) goes to stdout; progress goes to stderr: a live
    view on a terminal, one line per change elsewhere. -o events streams JSON Lines as it goes.
    """
    opts = options(
        ctx, config=config, profile=profile, output=output, json=json, verbose=verbose, quiet=quiet
    )
    runtime = make_runtime(opts)

    def run() -> ExitCode:
        fmt = opts.format([Output.TABLE, Output.JSON, Output.EVENTS])
        watch_options = WatchOptions(
            timeout_s=_timeout(timeout),
            interval_s=_interval(interval),
            until=until,
            fail_fast=fail_fast,
            allow_partial=allow_partial,
            retries=retries,
            rate_per_profile=rate,
        )
        cfg = open_config(opts, runtime)
        targets = resolve_refs(iter_ref_texts(refs, lambda: runtime.stdin), cfg, opts.profile)
        result = run_wait(cfg, runtime, targets, watch_options, fmt)
        if errors:
            list_errors_of_unhappy(cfg, runtime, result, fmt)
        return result.code

    finish(run, runtime)


def run_wait(
    cfg: Config, runtime: Runtime, targets: list[OpRef], watch_options: WatchOptions, fmt: Output
) -> WatchResult:
    """Wait, show progress, print the final states; on Ctrl-C or SIGTERM print the last known."""
    from opwatch.session import Session  # httpx: imported when a command needs it

    holder: list[Watcher] = []
    terminated: list[bool] = []
    display: Display = Silent()

    async def main() -> WatchResult:
        nonlocal display
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def on_sigterm() -> None:
            terminated.append(True)
            task.cancel()

        # Not available off the main thread or on some platforms; Ctrl-C still works there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        async with Session(cfg, runtime) as session:
            emit = _events_writer(runtime) if fmt is Output.EVENTS else None

            def report(event: Event) -> None:
                display.event(event)
                if emit:
                    emit(event)

            watcher = Watcher(session, targets, watch_options, runtime, report)
            holder.append(watcher)
            display = _display(runtime, watcher.watched)
            _announce(runtime, watcher)
            display.start()
            try:
                result = await watcher.run()
            finally:
                display.stop()
            if fmt is Output.EVENTS:
                print(line(summary_record(result, runtime.now())), file=runtime.stdout, flush=True)
            else:
                _show_final(runtime, result.watched, fmt)
            return result

    try:
        return _run_loop(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        display.stop()
        if holder:
            runtime.warn("stopped; the last known states follow")
            _show_final(runtime, holder[0].watched, fmt)
        if terminated:
            raise Terminated from None
        raise KeyboardInterrupt from None


def _run_loop(main: Coroutine[None, None, WatchResult]) -> WatchResult:
    """asyncio.run, on uvloop where it is installed (not on Windows): libuv's event loop takes
    a quarter less CPU per read than asyncio's, and a wait may make thousands (bench/scale.py)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def list_errors_of_unhappy(
    cfg: Config, runtime: Runtime, result: WatchResult, fmt: Output, *, limit: int = 50
) -> None:
    """`wait --errors`: the failed items of the operations that failed or ended partial.

    A grouped table after the final table; with --json or -o events, error objects after the
    operation lines (they have `item` and `code` keys where operations have `state`)."""
    from opwatch.commands.list_errors import explain

    unhappy = [item.ref for item in result.watched if item.state in (State.FAILED, State.PARTIAL)]
    if not unhappy:
        return
    if fmt is Output.TABLE:
        print("\nWhat failed (opwatch list-errors --group):", file=runtime.stdout)
    table = fmt is Output.TABLE
    chosen = Output.TABLE if table else Output.JSON
    asyncio.run(explain(cfg, runtime, unhappy, chosen, limit=limit, group=table))


def _display(runtime: Runtime, watched: list[Watched]) -> Display:
    if runtime.quiet:
        return Silent()
    if runtime.stderr_is_tty:
        from opwatch.render.console import make_console
        from opwatch.render.live import LiveView

        console = make_console(runtime.stderr, color=runtime.color, terminal=True)
        return LiveView(console, watched, transient=runtime.stdout_is_tty)
    from opwatch.render.live import LineLog

    return LineLog(runtime.stderr, watched, runtime.clock)


def _announce(runtime: Runtime, watcher: Watcher) -> None:
    count = len(watcher.watched)
    noun = "operation" if count == 1 else "operations"
    timeout_s = watcher.options.timeout_s
    deadline = watcher.deadline_at()
    if deadline is None:
        until = "with no deadline"
    else:
        until = f"until {deadline:%Y-%m-%d %H:%M:%S} UTC (timeout {format_duration(timeout_s)})"
    if not runtime.quiet:
        print(f"opwatch: waiting for {count} {noun} {until}", file=runtime.stderr, flush=True)


def _show_final(runtime: Runtime, watched: list[Watched], fmt: Output) -> None:
    now = runtime.now()
    if fmt is Output.JSON:
        for item in watched:
            print(line(reading_record(item.reading, now)), file=runtime.stdout)
        runtime.stdout.flush()
        return
    if fmt is Output.EVENTS:
        return
    from opwatch.render.console import make_console
    from opwatch.render.table import status_table

    console = make_console(
        runtime.stdout,
        color=runtime.stdout_color,
        width=runtime.stdout_width,
        terminal=runtime.stdout_is_tty or None,
    )
    console.print(status_table([item.reading for item in watched], now))


def _events_writer(runtime: Runtime) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        print(line(event_record(event)), file=runtime.stdout, flush=True)

    return emit


def _timeout(text: str) -> float | None:
    if text.strip().lower() in ("none", "never", "inf"):
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None


def _interval(text: str) -> float | None:
    if text.strip().lower() == "auto":
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}; or auto") from None
    if seconds < 0.1:
        raise UsageError("--interval must be at least 100ms")
    return seconds
