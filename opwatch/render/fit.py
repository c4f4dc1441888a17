"""Tables that fit the width they are given: which columns stay, and how wide each one is.

rich lays out every cell (word-boundary wrapping, ellipses, alignment), but it never drops a
column, and a table wider than its console is shrunk below the columns' `min_width` and then
cropped evenly, every column alike (rich's Table._calculate_column_widths): a REF loses its
tail with no mark, and a state word becomes `r…`. So the choice of columns and the width of
each is made here, from a declared drop order and each column's narrowest useful width, and
rich is handed exact widths it has no reason to cut.

Three layouts, decided per table:
- natural: every column as wide as its widest cell (pipes, files, `-o wide`): nothing is
  clipped, and lines carry no trailing padding (`Printer.show` strips it);
- fitted: columns that may shrink do, down to their floor; when even that is too wide, whole
  columns drop in the table's documented order; required columns never shrink or drop;
- stacked: when the REF itself leaves no room for the required columns beside it, each REF gets
  a line of its own, whole even past the width (a terminal soft-wraps it, and copying it gives
  the REF, not a fragment), with its row indented under it.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

GAP = 2
"""Columns are two spaces apart (rich's default padding of one either side, no edge)."""
INDENT = 2
"""How far a stacked row sits under its REF."""


@dataclass(frozen=True)
class Column:
    """One column of a fitted table."""

    header: str
    required: bool = False
    """Never drops (REF, STATE, PROGRESS, a message that must not be lost)."""
    floor: int | None = None
    """The narrowest this column may shrink to; None: never narrower than its widest cell
    (REF, STATE and PROGRESS never shrink)."""
    wrap: bool = False
    """When narrower than its cells, wrap them at word boundaries (several lines a row);
    otherwise each cell stays one line and ends with an ellipsis."""
    justify: str = "left"
    style: str | None = None


def cell_width(cell: object) -> int:
    """The natural width of a cell: the longest line of its text."""
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in text.split("\n")), default=0)


def naturals(
    columns: Sequence[Column], rows: Iterable[Sequence[object]], *, headers: bool = True
) -> list[int]:
    """Each column's natural width: its header (when shown) or its widest cell."""
    widths = [cell_len(column.header) if headers else 0 for column in columns]
    for row in rows:
        for index, cell in enumerate(row):
            width = cell_width(cell)
            if width > widths[index]:
                widths[index] = width
    return widths


def fit(
    columns: Sequence[Column],
    natural: Sequence[int],
    width: int | None,
    drop_order: Sequence[str],
) -> list[int | None]:
    """The width of each column (None: dropped) in a table at most `width` wide.

    With `width` None (a pipe, `-o wide`) every column keeps its natural width. Otherwise:
    everything at natural width if it fits; else the shrinkable columns give up width, the
    widest first, down to their floors; and while even the floors do not fit, the next column
    of `drop_order` goes. Columns without a floor keep their natural width whatever happens: a
    table too narrow for them is wider than `width`, never cut.
    """
    if width is None:
        return list(natural)
    kept = list(range(len(columns)))
    droppable = [columns.index(c) for name in drop_order for c in columns if c.header == name]
    while True:
        total = sum(natural[i] for i in kept) + GAP * (len(kept) - 1)
        if total <= width:
            return [natural[i] if i in kept else None for i in range(len(columns))]
        floors = {i: _floor(columns[i], natural[i]) for i in kept}
        if sum(floors.values()) + GAP * (len(kept) - 1) <= width or not droppable:
            return _shrink(natural, kept, floors, total - width, len(columns))
        kept.remove(droppable.pop(0))


def _floor(column: Column, natural: int) -> int:
    if column.floor is None:
        return natural
    return min(natural, max(column.floor, cell_len(column.header) if column.wrap else 1))


def _shrink(
    natural: Sequence[int], kept: list[int], floors: dict[int, int], excess: int, count: int
) -> list[int | None]:
    """Take `excess` columns of width from the widest shrinkable columns, never below a floor."""
    widths = {i: natural[i] for i in kept}
    while excess > 0:
        room = [i for i in kept if widths[i] > floors[i]]
        if not room:
            break  # only required columns left: the table is wider than asked, never cut
        widest = max(room, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return [widths.get(i) for i in range(count)]


def table(
    columns: Sequence[Column],
    widths: Sequence[int | None],
    rows: Iterable[Sequence[RenderableType]],
    *,
    show_header: bool = True,
) -> Table:
    """A rich Table of the kept columns at exactly the given widths."""
    result = Table(box=None, pad_edge=False, show_header=show_header, header_style="bold")
    kept = [index for index, width in enumerate(widths) if width is not None]
    for index in kept:
        column = columns[index]
        result.add_column(
            column.header,
            width=widths[index],
            no_wrap=not column.wrap,
            overflow="fold" if column.wrap else "ellipsis",
            justify=column.justify,  # type: ignore[arg-type]
            style=column.style,
        )
    for row in rows:
        result.add_row(*(row[index] for index in kept))
    return result


def heading(ref: str) -> Text:
    """A REF on a line of its own: whole, even past the width (printed uncropped, the terminal
    soft-wraps it, and a copy of it is the REF)."""
    return Text(ref, style="bold", no_wrap=True, overflow="ignore")


def total_width(widths: Sequence[int | None]) -> int:
    """How wide a table of these column widths is."""
    kept = [width for width in widths if width is not None]
    return sum(kept) + GAP * max(0, len(kept) - 1)


class AtWidth:
    """A renderable laid out at exactly `width`, whatever the console's width: a fitted table
    is never re-squeezed by rich, and a natural one is never cut to the console."""

    def __init__(self, renderable: RenderableType, width: int) -> None:
        self.renderable = renderable
        self.width = max(1, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.renderable, options.update_width(self.width))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)


class Interleaved:
    """The one-line rows of `body`, each with a line of its own before it (a REF too long to
    share a line) and after it (a detail too long for its column), where given. Each row of
    `body` must be one line (every column no_wrap), so that the n-th line after the header
    belongs to the n-th row.

    `before` lines are printed whole, past the width if they must (`crop=False`: a table for
    stdout) or folded onto the next line (`crop=True`: a live frame, which must never be wider
    than the screen); `after` lines end in an ellipsis at the width."""

    def __init__(
        self,
        body: Table,
        body_width: int,
        *,
        before: Sequence[Text | None] = (),
        after: Sequence[Text | None] = (),
        indent: int = 0,
        crop: bool = False,
    ) -> None:
        self.body = body
        self.body_width = max(1, body_width)
        self.before = before
        self.after = after
        self.indent = indent
        self.crop = crop

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.body, options.update_width(self.body_width), pad=False)
        pad = Segment(" " * self.indent)
        rows: Iterator[list[Segment]] = iter(lines)
        if self.body.show_header:
            yield pad
            yield from next(rows)
            yield Segment.line()
        for index, line in enumerate(rows):
            head = self.before[index] if index < len(self.before) else None
            if head is not None and self.crop:
                yield from console.render(head, options)
            elif head is not None:
                yield from head.render(console, end="")  # whole, past the width if it must
                yield Segment.line()
            yield pad
            yield from line
            yield Segment.line()
            tail = self.after[index] if index < len(self.after) else None
            if tail is not None:
                yield from console.render(tail, options)
