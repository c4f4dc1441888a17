"""What opwatch does, under every command, the demo and the benchmarks: read (`read`), wait
(`watcher`), list errors (`list_errors`), find operations (`find`).

Each service takes an open `Session`, so that one run shares one event loop, one connection pool
and one login per profile (`wait --errors` lists errors over the session it waited with). They
print nothing and import no rich: results come back, progress goes to a callback.

`status` runs thousands of times a day in CI and needs only `read`: the wait engine and the
error listing are imported by the services that use them, not with this module.
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import TYPE_CHECKING

from opwatch.errors import OpwatchError
from opwatch.model import Operation, OperationError, OpRef, Reading

if TYPE_CHECKING:
    import random

    from opwatch.explain import Listing
    from opwatch.listing import ListQuery
    from opwatch.session import Session
    from opwatch.watch import Event, Watcher, WatchOptions

READ_WINDOW = 256
"""Reads in flight at once; the per-profile connection limit paces the requests themselves."""


async def read_one(session: "Session", ref: OpRef) -> Reading:
    """One read of `ref`; a failure is kept in the Reading, not raised."""
    provider = session.provider(ref.profile)
    try:
        operation = await provider.read(ref.id)
    except OpwatchError as exc:
        return Reading(ref, provider.name, error=exc)
    return Reading(ref, provider.name, operation=operation)


async def read(session: "Session", refs: Iterable[OpRef]) -> AsyncGenerator[Reading, None]:
    """Read every REF once, at most READ_WINDOW at a time, yielding results in REF order:
    memory follows the window, not the number of REFs."""
    pending: list[asyncio.Task[Reading]] = []
    try:
        for ref in refs:
            pending.append(asyncio.ensure_future(read_one(session, ref)))
            if len(pending) >= READ_WINDOW:
                yield await pending.pop(0)
        while pending:
            yield await pending.pop(0)
    finally:
        # The caller stopped early (a closed pipe, Ctrl-C): no read may outlive the session.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def watcher(
    session: "Session",
    refs: Iterable[OpRef],
    options: "WatchOptions",
    report: "Callable[[Event], None]",
    rng: "random.Random | None" = None,
) -> "Watcher":
    """The wait service: the engine for one wait on the session's runtime, reporting every read
    as an Event with a frozen snapshot. `await it.run()` waits and returns the WatchResult;
    `it.snapshots()` says where each operation stands meanwhile (what Ctrl-C prints)."""
    from opwatch.watch import Watcher

    return Watcher(session, refs, options, session.runtime, report, rng)


async def list_errors(
    session: "Session",
    refs: Iterable[OpRef],
    *,
    limit: int | None,
    group: bool,
    each: Callable[[OpRef, OperationError], None] | None = None,
) -> "AsyncGenerator[Listing, None]":
    """The failed items of each REF, one Listing per REF in REF order: `limit` rows kept per
    operation (None: all), group counts with `group`, every row passed to `each` as it comes."""
    from opwatch.explain import read_errors

    for ref in refs:
        yield await read_errors(session, ref, limit=limit, group=group, each=each)


async def find(
    session: "Session", profile: str, query: "ListQuery"
) -> AsyncGenerator[Operation, None]:
    """The operations `profile`'s provider lists that pass every filter of `query`, as they
    arrive, up to its limit; a provider without a list API is a UsageError naming it.

    The provider sends the filters its API has; every one is checked again here, so all
    providers answer alike. Stopping early (the limit, a closed pipe) closes the provider's
    listing, and with it the request in flight.
    """
    if query.limit == 0:
        return
    listed = 0
    async with contextlib.aclosing(session.provider(profile).list_operations(query)) as found:
        async for operation in found:
            if not query.matches(operation):
                continue
            yield operation
            listed += 1
            if query.limit is not None and listed >= query.limit:
                return
