"""How `list-errors` shows failed items: a table, a grouped table, GitHub annotations and a
Markdown step summary."""

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from opwatch.explain import Listing

GITHUB_ANNOTATIONS = 50
"""GitHub shows only so many annotations per step; past this, a summary line says how many more."""


def errors_table(listings: list[Listing]) -> RenderableType:
    """One row per failed item, `… and N more` after each operation's shown rows."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("REF", no_wrap=True, overflow="fold", min_width=8)
    table.add_column("ITEM", overflow="fold", max_width=12)
    table.add_column("FIELD", overflow="fold", max_width=24)
    table.add_column("CODE", overflow="fold", max_width=22)
    table.add_column("MESSAGE", overflow="fold", min_width=20)
    notes: list[Text] = []
    for listing in listings:
        ref = str(listing.ref)
        for row in listing.shown:
            table.add_row(ref, row.item or "", row.field or "", row.code or "", row.message or "")
        more = listing.total - len(listing.shown)
        if more > 0:
            table.add_row(ref, "", "", "", Text(f"… and {more} more", style="dim"))
        if listing.gone is not None:
            table.add_row(ref, "", "", "", Text(listing.gone, style="yellow"))
        notes += _notes(listing)
    return RichGroup(table, *notes) if notes else table


def grouped_table(listings: list[Listing]) -> RenderableType:
    """Identical code+field+message folded into one row with a count, the most frequent first."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("REF", no_wrap=True, overflow="fold", min_width=8)
    table.add_column("COUNT", justify="right", no_wrap=True)
    table.add_column("FIELD", overflow="fold", max_width=24)
    table.add_column("CODE", overflow="fold", max_width=22)
    table.add_column("MESSAGE", overflow="fold", min_width=20)
    table.add_column("ITEMS", overflow="fold", max_width=14)
    notes: list[Text] = []
    for listing in listings:
        for group in listing.sorted_groups():
            examples = ", ".join(group.items)
            if group.count > len(group.items) and group.items:
                examples += ", …"
            table.add_row(
                str(listing.ref),
                str(group.count),
                group.field or "",
                group.code or "",
                group.message or "",
                examples,
            )
        if listing.gone is not None:
            table.add_row(str(listing.ref), "", "", "", Text(listing.gone, style="yellow"), "")
        notes += _notes(listing)
    return RichGroup(table, *notes) if notes else table


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


def github_lines(listings: list[Listing]) -> list[str]:
    """GitHub Actions workflow commands: an `::error` per failed item, at most
    GITHUB_ANNOTATIONS, then a `::notice` with the totals."""
    lines: list[str] = []
    total = 0
    for listing in listings:
        total += listing.total
        if listing.error is not None:
            lines.append(f"::error title={_prop(str(listing.ref))}::{_data(listing.error.message)}")
        if listing.gone is not None:
            lines.append(f"::warning title={_prop(str(listing.ref))}::{_data(listing.gone)}")
        for row in listing.shown:
            if len(lines) >= GITHUB_ANNOTATIONS:
                break
            where = " ".join(
                part
                for part in (
                    f"item {row.item}" if row.item else "",
                    row.field or "",
                    f"[{row.code}]" if row.code else "",
                )
                if part
            )
            title = f"{listing.ref} {where}".strip()
            lines.append(f"::error title={_prop(title)}::{_data(row.message or 'failed')}")
    shown = sum(1 for line in lines if line.startswith("::error"))
    summary = f"opwatch: {total} failed items in {len(listings)} operations"
    if total > shown:
        summary += f" ({shown} shown as annotations; run opwatch list-errors -o json for all)"
    lines.append(f"::notice title=opwatch list-errors::{_data(summary)}")
    return lines


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
    return "\n".join(out) + "\n\n"


def _data(text: str) -> str:
    # Workflow command escaping (actions/toolkit): %, CR and LF in the message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
