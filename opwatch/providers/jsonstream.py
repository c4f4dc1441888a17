"""Items of a JSON array, parsed as the bytes arrive: a Toloka log can hold 200,000 steps.

Memory stays bounded by one item plus one chunk, whatever the array's length.
"""

import codecs
import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

_WHITESPACE = " \t\r\n"


class JSONStreamError(ValueError):
    """The bytes are not a JSON array (or were cut short)."""


async def array_items(chunks: AsyncIterable[bytes]) -> AsyncIterator[Any]:
    """Yield each item of the JSON array the byte `chunks` spell, in order."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()  # a character may span two chunks
    buffer = ""
    position = 0
    expect = _OPEN

    async for chunk in chunks:
        buffer = buffer[position:] + utf8.decode(chunk)
        position = 0
        while (position := _skip_space(buffer, position)) < len(buffer):
            char = buffer[position]
            if expect == _OPEN:
                if char != "[":
                    raise JSONStreamError("expected a JSON array")
                expect, position = _FIRST, position + 1
            elif expect == _END:
                raise JSONStreamError("unexpected data after the array")
            elif char == "]" and expect in (_FIRST, _SEPARATOR):
                expect, position = _END, position + 1
            elif expect == _SEPARATOR:
                if char != ",":
                    raise JSONStreamError(f"expected ',' or ']' but found {char!r}")
                expect, position = _ITEM, position + 1
            else:
                try:
                    item, end = decoder.raw_decode(buffer, position)
                except json.JSONDecodeError:
                    if len(buffer) - position > MAX_ITEM_CHARS:
                        raise JSONStreamError("an item of the array is too large") from None
                    break  # not complete yet: wait for more bytes
                if end == len(buffer) and isinstance(item, int | float):
                    break  # a number at the end of a chunk may go on in the next one
                yield item
                expect, position = _SEPARATOR, end
    utf8.decode(b"", final=True)
    if expect != _END:
        # Whatever is left cannot complete the array: it was cut short (or never was one).
        raise JSONStreamError(
            "expected a JSON array" if expect == _OPEN else "the array was cut short"
        )


_OPEN, _FIRST, _ITEM, _SEPARATOR, _END = range(5)
MAX_ITEM_CHARS = 64 * 1024 * 1024


def _skip_space(buffer: str, position: int) -> int:
    while position < len(buffer) and buffer[position] in _WHITESPACE:
        position += 1
    return position
