"""opwatch as a library: `status`, `wait` and `list_errors` for code that would rather import
than shell out, each with an `_async` twin for code already inside an event loop.

The same core services run under the commands (`opwatch.core`), with the same config, REF
syntax and providers (built-in and declared). Failures are opwatch's own exceptions
(`opwatch.errors`), each carrying the exit code the command would end with (`exc.exit_code`);
a wait that ends with a failed operation or at its deadline is a result, not an exception.
Warnings (a world-readable config, a status word opwatch does not know or a definition does
not list) are Python warnings of the category `OpwatchWarning`, not lines on stderr.
"""

import asyncio
import functools
import os
import warnings
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from opwatch.config import Config, find_config_path, load_config
from opwatch.errors import OpwatchError, UsageError
from opwatch.exitcodes import ExitCode, combine
from opwatch.model import Operation, OperationError, OpRef, Reading, State
from opwatch.runtime import Runtime
from opwatch.watch import Event, Until, WatchOptions

T = TypeVar("T")
P = ParamSpec("P")

Refs = str | OpRef | Iterable[str | OpRef]
"""One REF (`[PROFILE:]ID`, as on the command line) or several."""
ConfigSource = str | os.PathLike[str] | Config | None
"""A config file, an already loaded Config, or None: `$OPWATCH_CONFIG`, else the user's."""


class OpwatchWarning(UserWarning):
    """Something a user should know that does not stop opwatch."""


@dataclass(frozen=True)
class WaitResult:
    """How a wait ended: the last reading of each REF, in REF order, and the exit code
    `opwatch wait` would end with."""

    readings: tuple[Reading, ...]
    code: ExitCode
    """0 all succeeded, 3 one failed (or partial without allow_partial), 4 the deadline."""
    timed_out: bool

    @property
    def ok(self) -> bool:
        """Whether every operation succeeded."""
        return self.code is ExitCode.OK

    @property
    def operations(self) -> list[Operation | None]:
        """The last read of each REF (None for one never read)."""
        return [reading.operation for reading in self.readings]

    @property
    def failed(self) -> list[Operation]:
        """The operations that ended failed or partial."""
        ended = (State.FAILED, State.PARTIAL)
        return [op for op in self.operations if op is not None and op.state in ended]


class _LibraryRuntime(Runtime):
    """The real world, except that warnings are Python warnings: a library prints nothing."""

    def warn(self, message: str) -> None:
        warnings.warn(message, OpwatchWarning, stacklevel=3)


def _runtime() -> _LibraryRuntime:
    return _LibraryRuntime(env=dict(os.environ), stderr_is_tty=False, stdout_is_tty=False)


def _open(config: ConfigSource, runtime: Runtime) -> Config:
    if isinstance(config, Config):
        return config
    path = find_config_path(os.fspath(config) if config is not None else None, runtime.env)
    loaded = load_config(Path(path), runtime.env)
    for message in loaded.warnings:
        runtime.warn(message)
    return loaded


def _refs(refs: Refs, config: Config, profile: str | None) -> list[OpRef]:
    """The REFs as the command line reads them (one place for the rules: commands.common)."""
    from opwatch.commands.common import resolve_refs

    given = [refs] if isinstance(refs, str | OpRef) else list(refs)
    return resolve_refs([str(ref) for ref in given], config, profile)


def _outside_a_loop(name: str, instead: str) -> None:
    """Refuse to run `opwatch.<name>()` inside a running event loop, where its own loop cannot
    start: the message says what to call `instead`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"opwatch.{name}() runs its own event loop; here, {instead}")


def _blocking(
    main: Callable[P, Coroutine[Any, Any, T]], doc: str, *, many_reads: bool = False
) -> Callable[P, T]:
    """The plain twin of an `_async` function: the same parameters (one signature, so the
    twins cannot drift apart), run on a fresh event loop; uvloop's for `many_reads`, as the
    CLI's wait (Runtime.run)."""
    name = main.__name__.removesuffix("_async")

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        _outside_a_loop(name, f"await {name}_async()")
        return _runtime().run(main(*args, **kwargs), many_reads=many_reads)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = doc
    return run


def _raise_first(readings: Iterable[Reading]) -> None:
    """Raise the error that decides the exit code (5, 6, 8, 7 first, as the commands do)."""
    failed = [reading.error for reading in readings if reading.error is not None]
    if failed:
        code = combine([error.exit_code for error in failed])
        raise next(error for error in failed if error.exit_code == code)


# --- status ---


async def status_async(
    refs: Refs, config: ConfigSource = None, *, profile: str | None = None
) -> list[Operation]:
    """One read of each REF, in REF order; raises the error of a read that failed."""
    from opwatch.core import read
    from opwatch.session import Session

    runtime = _runtime()
    cfg = _open(config, runtime)
    targets = _refs(refs, cfg, profile)
    async with Session(cfg, runtime) as session:
        readings = [reading async for reading in read(session, targets)]
    _raise_first(readings)
    return [reading.operation for reading in readings if reading.operation is not None]


status = _blocking(
    status_async,
    """One read of each REF, in REF order (`opwatch status`); raises the error of a read that
    failed, e.g. `opwatch.NotFound` (exit_code 8).""",
)


# --- wait ---


def _options(
    timeout: float | str | None, until: str | Until, interval: float | str | None, **flags: Any
) -> WatchOptions:
    from opwatch.durations import parse_duration

    def seconds(value: float | str | None, what: str) -> float | None:
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise UsageError(f"{what}: {exc}") from None
        if value < 0:
            raise UsageError(f"{what} must not be negative (got {value})")
        return float(value)

    try:
        chosen = Until(until)
    except ValueError:
        raise UsageError(f"until must be 'all' or 'any' (got {until!r})") from None
    return WatchOptions(
        timeout_s=seconds(timeout, "timeout"),
        interval_s=seconds(interval, "interval"),
        until=chosen,
        **flags,
    )


async def wait_async(
    refs: Refs,
    *,
    timeout: float | str | None = 3600.0,
    until: str | Until = "all",
    on_event: Callable[[Event], None] | None = None,
    interval: float | str | None = None,
    fail_fast: bool = False,
    allow_partial: bool = False,
    config: ConfigSource = None,
    profile: str | None = None,
) -> WaitResult:
    """Poll each REF until it is terminal or the deadline passes (`opwatch wait`).

    `timeout` is seconds or a duration (`"15m"`), None waits forever; `interval` None is the
    adaptive schedule. `on_event` gets every Event the engine reports (updates, retries, ends).
    A read that fails for good raises its error; a failed operation or the deadline is in the
    result's `code` (3 or 4).
    """
    from opwatch.core import watcher
    from opwatch.session import Session

    options = _options(timeout, until, interval, fail_fast=fail_fast, allow_partial=allow_partial)
    runtime = _runtime()
    cfg = _open(config, runtime)
    targets = _refs(refs, cfg, profile)
    async with Session(cfg, runtime) as session:
        result = await watcher(session, targets, options, on_event or (lambda event: None)).run()
    readings = tuple(snapshot.reading for snapshot in result.snapshots)
    _raise_first(readings)
    return WaitResult(readings, result.code, result.timed_out)


wait = _blocking(
    wait_async,
    """Poll each REF until it is terminal or the deadline passes (see wait_async).""",
    many_reads=True,
)


# --- list_errors ---


async def list_errors_async(
    refs: Refs, config: ConfigSource = None, *, profile: str | None = None
) -> AsyncGenerator[OperationError, None]:
    """The failed items of each REF, REF after REF, as they arrive (a Toloka log of 100,000
    steps is never held whole); raises the error of a read that failed."""
    from opwatch.core import read_one
    from opwatch.session import Session

    runtime = _runtime()
    cfg = _open(config, runtime)
    targets = _refs(refs, cfg, profile)
    async with Session(cfg, runtime) as session:
        for ref in targets:
            reading = await read_one(session, ref)
            if reading.error is not None or reading.operation is None:
                _raise_first([reading])
                continue
            async for row in session.provider(ref.profile).errors(reading.operation):
                yield row


def list_errors(
    refs: Refs, config: ConfigSource = None, *, profile: str | None = None
) -> Iterator[OperationError]:
    """The failed items of each REF (`opwatch list-errors`), streamed: rows are read as the
    iteration asks for them, on an event loop of its own."""
    _outside_a_loop("list_errors", "use list_errors_async()")
    loop = asyncio.new_event_loop()
    rows = list_errors_async(refs, config, profile=profile)
    try:
        while True:
            try:
                yield loop.run_until_complete(anext(rows))
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(rows.aclose())
        loop.close()


__all__ = [
    "OpwatchError",
    "OpwatchWarning",
    "WaitResult",
    "list_errors",
    "list_errors_async",
    "status",
    "status_async",
    "wait",
    "wait_async",
]
