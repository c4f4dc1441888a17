"""Many REFs: reads stream in REF order through a bounded window, whatever their number."""

import asyncio
import io
import tracemalloc
from pathlib import Path

from opwatch.commands.common import iter_ref_texts, resolve_refs
from opwatch.config import parse_config
from opwatch.core import READ_WINDOW, read
from opwatch.model import OpRef
from tests.fakes import ScriptedSession, Timeline, VirtualClock, steady


class EveryId(dict[str, Timeline]):
    """A script with the same operation behind every id."""

    def __missing__(self, key: str) -> Timeline:
        return Timeline(steady(10.0))


def stream(count: int) -> tuple[int, int, list[str]]:
    """Read `count` REFs, keeping nothing; return (reads, peak traced bytes, first ids)."""
    session = ScriptedSession(VirtualClock(), EveryId())
    refs = (OpRef("p", str(n)) for n in range(count))
    first: list[str] = []

    async def main() -> int:
        seen = 0
        async for reading in read(session, refs):  # type: ignore[arg-type]
            if len(first) < 3:
                first.append(reading.ref.id)
            seen += 1
        return seen

    tracemalloc.start()
    seen = asyncio.run(main())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seen, peak, first


def test_reads_keep_ref_order_and_bounded_memory() -> None:
    small = stream(2_000)
    large = stream(20_000)
    assert small[0] == 2_000
    assert large[0] == 20_000
    assert large[2] == ["0", "1", "2"]
    # Ten times the REFs, about the same peak: memory follows the window, not the count.
    assert large[1] < small[1] * 1.5
    assert READ_WINDOW <= 256


def test_100000_refs_from_stdin() -> None:
    config = parse_config(
        {"profiles": {"media": {"provider": "wesog", "api_key": "k"}}}, Path("c.yaml"), {}
    )
    stdin = io.StringIO("\n".join(f"media:{n} {n}" for n in range(100_000)))
    refs = resolve_refs(iter_ref_texts(["-"], lambda: stdin), config, None)
    assert len(refs) == 100_000  # `media:7` and `7` are the same operation
    assert refs[-1] == OpRef("media", "99999")
