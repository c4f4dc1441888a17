"""How `list-errors` shows failed items: a table or a grouped table fitted to the width, GitHub
annotations, and a Markdown step summary.

A message is never lost: MESSAGE never drops, it wraps at word boundaries (a row may take
several lines), and a FIELD or CODE column that has to go is folded into the message instead.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.padding import Padding
from rich.text import Text

from opwatch.explain import Group, Listing
from opwatch.render.fit import (
    INDENT,
    AtWidth,
    Column,
    fit,
    heading,
    naturals,
    table,
    total_width,
)

GITHUB_ANNOTATIONS = 10
"""GitHub shows at most 10 error annotations per step (and 50 per job); later ones are dropped
without a word. So opwatch writes at most this many per run, then one notice with the totals."""

ERROR_COLUMNS = (
    Column("REF", required=True),
    Column("ITEM", required=True),
    Column("FIELD"),
    Column("CODE"),
    Column("MESSAGE", required=True, floor=20, wrap=True),
)
ERROR_DROP_ORDER = ("CODE", "FIELD")
"""list-errors: when the width runs out, each operation's REF moves to a line above its rows;
then CODE, then FIELD leave their columns and go to the front of the MESSAGE instead
(`input_values.url INVALID_URL: Value must be a valid URL`), which wraps at word boundaries."""

GROUP_COLUMNS = (
    Column("REF", required=True),
    Column("COUNT", required=True, justify="right"),
    Column("FIELD"),
    Column("CODE"),
    # Wider than list-errors' floor: a few example items are worth less than a message read
    # in one or two lines, so ITEMS goes before MESSAGE is squeezed to three.
    Column("MESSAGE", required=True, floor=30, wrap=True),
    Column("ITEMS", floor=8, wrap=True),
)
GROUP_DROP_ORDER = ("ITEMS", "CODE", "FIELD")
"""list-errors --group: ITEMS (a few examples only) goes first, then CODE and FIELD, which
fold into the message as above."""


@dataclass(frozen=True)
class _Row:
    """One row before layout: the cells by column name, and the message's style (dim for a
    `… and N more`, yellow for errors no longer kept)."""

    ref: str
    cells: dict[str, str]
    style: str = ""


def errors_table(listings: list[Listing], width: int | None = None) -> RenderableType:
    """One row per failed item, `… and N more` after each operation's shown rows."""
    rows: list[list[_Row]] = []
    for listing in listings:
        ref = str(listing.ref)
        block = [
            _Row(ref, {"ITEM": r.item or "", "FIELD": r.field or "", "CODE": r.code or "",
                       "MESSAGE": r.message or ""})
            for r in listing.shown
        ]  # fmt: skip
        more = listing.total - len(listing.shown)
        if more > 0:
            block.append(_Row(ref, {"MESSAGE": f"… and {more} more"}, style="dim"))
        if listing.gone is not None:
            block.append(_Row(ref, {"MESSAGE": listing.gone}, style="yellow"))
        rows.append(block)
    return _layout(listings, rows, ERROR_COLUMNS, ERROR_DROP_ORDER, width)


def grouped_table(listings: list[Listing], width: int | None = None) -> RenderableType:
    """Identical code+field+message folded into one row with a count, the most frequent first."""
    rows: list[list[_Row]] = []
    for listing in listings:
        ref = str(listing.ref)
        block = [
            _Row(ref, {"COUNT": str(g.count), "FIELD": g.field or "", "CODE": g.code or "",
                       "MESSAGE": g.message or "", "ITEMS": _examples(g)})
            for g in listing.sorted_groups()
        ]  # fmt: skip
        if listing.gone is not None:
            block.append(_Row(ref, {"MESSAGE": listing.gone}, style="yellow"))
        rows.append(block)
    return _layout(listings, rows, GROUP_COLUMNS, GROUP_DROP_ORDER, width)


def _examples(group: Group) -> str:
    examples = ", ".join(group.items)
    if group.count > len(group.items) and group.items:
        examples += ", …"
    return examples


def _layout(
    listings: list[Listing],
    blocks: list[list[_Row]],
    columns: Sequence[Column],
    drop_order: Sequence[str],
    width: int | None,
) -> RenderableType:
    """One table with a REF column when every column fits beside it; else each operation's
    REF on a line of its own and its rows indented under it, so that the width a REF column
    would repeat on every row goes to the message. Notes follow each operation (stacked) or
    the table."""
    flat = [row for block in blocks for row in block]
    notes = [_notes(listing) for listing in listings]
    kept, widths, cells = _fitted(columns, drop_order, flat, width)
    if width is None or (len(kept) == len(columns) and total_width(widths) <= width):
        body = AtWidth(table(kept, widths, cells), total_width(widths))
        all_notes = [note for group in notes for note in group]
        return RichGroup(body, *all_notes) if all_notes else body
    rest = columns[1:]
    kept, widths, _ = _fitted(rest, drop_order, flat, max(1, width - INDENT))
    parts: list[RenderableType] = []
    for listing, block, block_notes in zip(listings, blocks, notes, strict=True):
        if block:
            _, _, cells = _fitted(rest, drop_order, block, None, keep=kept)
            parts.append(heading(str(listing.ref)))
            body = AtWidth(table(kept, widths, cells), total_width(widths))
            parts.append(Padding(body, (0, 0, 0, INDENT)))
        parts += block_notes
    return RichGroup(*parts)


def _fitted(
    columns: Sequence[Column],
    drop_order: Sequence[str],
    rows: list[_Row],
    width: int | None,
    *,
    keep: Sequence[Column] | None = None,
) -> tuple[list[Column], list[int | None], list[list[Text]]]:
    """The columns kept, their widths and the cells, dropping (and folding into MESSAGE) the
    columns of `drop_order` one at a time until the rest fits `width`."""
    candidates = [len(drop_order)] if keep is not None else range(len(drop_order) + 1)
    for dropped in candidates:
        if keep is not None:
            kept = list(keep)
            gone = [c.header for c in columns if c not in kept]
        else:
            gone = list(drop_order[:dropped])
            kept = [c for c in columns if c.header not in gone]
        cells = [_cells(row, kept, gone) for row in rows]
        widths: list[int | None] = list(fit(kept, naturals(kept, cells), width, ()))
        if width is None or total_width(widths) <= width:
            break
    return kept, widths, cells


def _cells(row: _Row, kept: Sequence[Column], gone: Sequence[str]) -> list[Text]:
    out: list[Text] = []
    for column in kept:
        name = column.header
        if name == "REF":
            out.append(Text(row.ref))
        elif name == "MESSAGE":
            out.append(_message(row, gone))
        else:
            out.append(Text(row.cells.get(name, "")))
    return out


def _message(row: _Row, gone: Sequence[str]) -> Text:
    """The message, led by the FIELD and CODE whose columns were dropped."""
    message = Text(style=row.style)
    folded = [row.cells.get(name, "") for name in ("FIELD", "CODE") if name in gone]
    folded = [part for part in folded if part]
    if folded:
        message.append(" ".join(folded) + ": ", style="dim")
    message.append(row.cells.get("MESSAGE", ""))
    return message


def _notes(listing: Listing) -> list[Text]:
    notes = []
    if listing.error is not None:
        notes.append(Text(f"{listing.ref}: {listing.error.message}", style="red"))
    elif listing.total == 0 and listing.gone is None:
        state = listing.operation.state.value if listing.operation else "unknown"
        notes.append(Text(f"{listing.ref}: no failed items ({state})", style="dim"))
    note = listing.note
    if note:
        notes.append(Text(f"{listing.ref}: {note}", style="yellow"))
    return notes


@dataclass(frozen=True)
class Totals:
    """What a list-errors run found, counted over everything (not just what was shown)."""

    rows: int
    """Error rows listed."""
    items: int
    """Failed items: the provider's own count where it gives one, else the items the rows name."""
    with_errors: int
    """Operations with at least one error row."""
    operations: int
    """Operations asked about."""
    unreadable: int
    """Operations whose errors could not be read."""

    @classmethod
    def of(cls, listings: list[Listing]) -> "Totals":
        return cls(
            rows=sum(listing.total for listing in listings),
            items=sum(listing.failed_items for listing in listings),
            with_errors=sum(1 for listing in listings if listing.total),
            operations=len(listings),
            unreadable=sum(1 for listing in listings if listing.error is not None),
        )

    def sentence(self) -> str:
        """`70 error rows (64 failed items) in 2 of 3 operations`."""
        rows = _count(self.rows, "error row")
        items = _count(self.items, "failed item")
        text = f"{rows} ({items}) in {self.with_errors} of {_count(self.operations, 'operation')}"
        if self.unreadable:
            text += f"; {self.unreadable} could not be read"
        return text


def github_lines(listings: list[Listing], *, group: bool = False) -> list[str]:
    """GitHub Actions workflow commands: an `::error` per failed item (per group with `group`,
    and per operation whose errors could not be read), at most GITHUB_ANNOTATIONS in all, then
    one `::notice` with the true totals."""
    errors: list[str] = []
    warnings: list[str] = []
    """Operations whose errors are no longer kept: said apart from the capped errors."""
    for listing in listings:
        if listing.gone is not None:
            warnings.append(f"::warning title={_prop(str(listing.ref))}::{_data(listing.gone)}")
        if len(errors) > GITHUB_ANNOTATIONS:
            continue  # enough to show; the totals come from the listings, not from these
        if listing.error is not None:
            errors.append(_annotation(str(listing.ref), listing.error.message))
        if group:
            for g in listing.sorted_groups():
                where = _where(None, g.field, g.code)
                title = " ".join(
                    part for part in (str(listing.ref), where, f"({g.count} rows)") if part
                )
                errors.append(_annotation(title, g.message or "failed"))
        else:
            for row in listing.shown:
                title = f"{listing.ref} {_where(row.item, row.field, row.code)}".strip()
                errors.append(_annotation(title, row.message or "failed"))
    shown = errors[:GITHUB_ANNOTATIONS]
    totals = Totals.of(listings)
    summary = f"opwatch: {totals.sentence()}"
    kind = "groups" if group else "rows"
    if totals.rows > len(shown) or len(errors) > len(shown):
        summary += (
            f"; the first {len(shown)} {kind} are annotations (GitHub shows "
            f"{GITHUB_ANNOTATIONS} a step): opwatch list-errors -o json lists them all"
        )
    return [*shown, *warnings, f"::notice title=opwatch list-errors::{_data(summary)}"]


def _where(item: str | None, field: str | None, code: str | None) -> str:
    parts = (f"item {item}" if item else "", field or "", f"[{code}]" if code else "")
    return " ".join(part for part in parts if part)


def _annotation(title: str, message: str) -> str:
    return f"::error title={_prop(title)}::{_data(message)}"


def annotations(pairs: Sequence[tuple[str, str]], notice_title: str, notice: str) -> list[str]:
    """`::error` lines for (title, message) pairs, at most GITHUB_ANNOTATIONS, then a notice."""
    lines = [_annotation(title, message) for title, message in pairs[:GITHUB_ANNOTATIONS]]
    return [*lines, f"::notice title={_prop(notice_title)}::{_data(notice)}"]


def markdown_summary(listings: list[Listing], limit: int = 20) -> str:
    """A Markdown table for `$GITHUB_STEP_SUMMARY`."""
    out = [
        "### opwatch list-errors",
        "",
        "| ref | item | field | code | message |",
        "|---|---|---|---|---|",
    ]
    for listing in listings:
        for row in listing.shown[:limit]:
            cells = (str(listing.ref), row.item, row.field, row.code, row.message)
            out.append("| " + " | ".join(_md(c) for c in cells) + " |")
        more = listing.total - min(limit, len(listing.shown))
        if more > 0:
            out.append(f"| {_md(str(listing.ref))} | | | | … and {more} more |")
        if listing.error is not None:
            out.append(f"| {_md(str(listing.ref))} | | | error | {_md(listing.error.message)} |")
        if listing.gone is not None:
            out.append(f"| {_md(str(listing.ref))} | | | | {_md(listing.gone)} |")
    out += ["", f"{Totals.of(listings).sentence()}."]
    return "\n".join(out) + "\n\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _data(text: str) -> str:
    # Workflow command escaping (actions/toolkit): %, CR and LF in the message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
