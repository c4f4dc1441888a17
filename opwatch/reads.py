"""Single reads of operations, many at once, results kept in REF order."""

import asyncio
from collections.abc import AsyncGenerator, Iterable

from opwatch.errors import OpwatchError
from opwatch.model import OpRef, Reading
from opwatch.session import Session

# Reads in flight at once; the per-profile connection limit paces the requests themselves.
WINDOW = 256


async def read_one(session: Session, ref: OpRef) -> Reading:
    """One read of `ref`; a failure is kept in the Reading, not raised."""
    provider = session.provider(ref.profile)
    try:
        operation = await provider.fetch(ref.id)
    except OpwatchError as exc:
        return Reading(ref, provider.name, error=exc)
    return Reading(ref, provider.name, operation=operation)


async def read_all(session: Session, refs: Iterable[OpRef]) -> AsyncGenerator[Reading, None]:
    """Read every REF, at most WINDOW at a time, yielding results in REF order."""
    pending: list[asyncio.Task[Reading]] = []
    try:
        for ref in refs:
            pending.append(asyncio.ensure_future(read_one(session, ref)))
            if len(pending) >= WINDOW:
                yield await pending.pop(0)
        while pending:
            yield await pending.pop(0)
    finally:
        # The caller stopped early (a closed pipe, Ctrl-C): no read may outlive the session.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
