"""The table `opwatch list` prints, in blocks as the operations arrive.

A listing can hold 100,000 operations, and a table that measures every row before it prints
the first would hold them all. So the first block sets the column widths (and carries the
header), and every later block is laid out with the same widths: the columns line up, and
memory follows one block. A value wider than its column is cut with an ellipsis, except a
REF, which widens its column from that block on.
"""

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table
from rich.text import Text

from opwatch.durations import format_duration
from opwatch.model import Operation, OpRef
from opwatch.render.table import items_cell, progress_cell, state_text, time_cell

BLOCK_ROWS = 100
"""Rows per block: enough to set fair widths, few enough to show the first ones at once."""
HEADERS = ("REF", "KIND", "STATE", "PROGRESS", "ITEMS", "SUBMITTED", "TIME")
_RIGHT = frozenset({"PROGRESS"})


def submitted_cell(operation: Operation, now: datetime) -> str:
    """How long ago the operation was submitted: `3m05s ago`; empty when the provider does
    not say."""
    if operation.submitted_at is None:
        return ""
    return f"{format_duration(max(0.0, (now - operation.submitted_at).total_seconds()))} ago"


def row_cells(ref: OpRef, operation: Operation, now: datetime) -> tuple[str, ...]:
    """One operation's cells, as plain text, in the order of HEADERS."""
    return (
        str(ref),
        operation.kind or "",
        operation.state.value,
        progress_cell(operation.progress),
        items_cell(operation.progress),
        submitted_cell(operation, now),
        time_cell(operation, now),
    )


class ListTable:
    """Builds the blocks of one listing: the first with the header, each with the widths the
    first one set."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.widths: tuple[int, ...] | None = None

    def block(self, rows: Sequence[tuple[OpRef, Operation]]) -> Table:
        """The table of the next `rows`."""
        cells = [row_cells(ref, operation, self.now) for ref, operation in rows]
        first = self.widths is None
        if self.widths is None:
            self.widths = tuple(
                max([len(header), *(len(row[i]) for row in cells)])
                for i, header in enumerate(HEADERS)
            )
        else:
            # A REF is never cut: people copy it. A longer one (Wesog's ids grow a digit)
            # widens its column from this block on; the other columns keep their widths.
            longest = max(len(row[0]) for row in cells)
            self.widths = (max(self.widths[0], longest), *self.widths[1:])
        table = Table(box=None, pad_edge=False, header_style="bold", show_header=first)
        for header, width in zip(HEADERS, self.widths, strict=True):
            table.add_column(
                header,
                width=width,
                no_wrap=True,
                overflow="ellipsis",
                justify="right" if header in _RIGHT else "left",
            )
        for row, (_, operation) in zip(cells, rows, strict=True):
            state: Text = state_text(operation.state)
            table.add_row(*row[:2], state, *row[3:])
        return table
