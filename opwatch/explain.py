"""What failed in an operation: its error rows, kept within bounds however many there are.

A Toloka log can hold hundreds of thousands of steps, so rows are consumed as a stream: only the
rows a table shows (`limit`) and the group counts are kept; JSON output takes every row through
a callback as it arrives.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opwatch.errors import NoLongerKept, OpwatchError
from opwatch.model import Operation, OperationError, OpRef
from opwatch.providers import provider_class

if TYPE_CHECKING:
    from opwatch.session import Session

EXAMPLES_PER_GROUP = 3

GroupKey = tuple[str | None, str | None, str | None]
"""(code, field, message): rows alike in these fold into one group."""


@dataclass
class Group:
    """Identical errors folded together."""

    code: str | None
    field: str | None
    message: str | None
    count: int = 0
    items: list[str] = dataclasses.field(default_factory=list)
    """The first few items that had this error."""


@dataclass
class Listing:
    """The errors of one operation."""

    ref: OpRef
    provider: str
    operation: Operation | None = None
    error: OpwatchError | None = None
    """Why the operation or its errors could not be read."""
    gone: str | None = None
    """Why the operation's errors cannot be listed any more, and since when (the provider
    drops them after a while): a listing that worked, with nothing left to list."""
    shown: list[OperationError] = dataclasses.field(default_factory=list)
    """The first `limit` rows."""
    total: int = 0
    """Rows listed in all."""
    groups: dict[GroupKey, Group] = dataclasses.field(default_factory=dict)
    items_named: int = 0
    """Distinct items the rows name, counted as they stream: a provider lists the rows of one
    item together (a Toloka step carries all of its fields), so a change of item is a new one."""
    last_item: str | None = None

    @property
    def failed_items(self) -> int:
        """How many items failed: the provider's own count where it gives one (Wesog's num_bad
        may count more than `errors` lists), else the items the rows name, else the rows."""
        named = self.items_named or self.total
        if self.operation is not None and self.operation.error_count is not None:
            return max(self.operation.error_count, self.items_named)
        return named

    @property
    def note(self) -> str | None:
        """The provider's word on these rows, where its quirks make them not the whole story
        (a failed count the rows do not add up to); None when there is nothing to add."""
        if self.operation is None:
            return None
        return provider_class(self.provider).listing_note(self.operation, self.total)

    def sorted_groups(self) -> list[Group]:
        """Groups, the most frequent first."""
        return sorted(self.groups.values(), key=lambda g: (-g.count, g.code or "", g.field or ""))


async def read_errors(
    session: "Session",
    ref: OpRef,
    *,
    limit: int | None,
    group: bool,
    each: Callable[[OpRef, OperationError], None] | None = None,
) -> Listing:
    """Read `ref` and its failed items; keep `limit` rows (None: all) and, with `group`, the
    group counts; pass every row to `each` as it arrives."""
    provider = session.provider(ref.profile)
    listing = Listing(ref, provider.name)
    try:
        listing.operation = await provider.read(ref.id)
        async for row in provider.errors(listing.operation):
            listing.total += 1
            if row.item is not None and row.item != listing.last_item:
                listing.items_named += 1
                listing.last_item = row.item
            if each is not None:
                each(ref, row)
            if limit is None or len(listing.shown) < limit:
                listing.shown.append(row)
            if group:
                _count(listing.groups, row)
    except NoLongerKept as exc:
        listing.gone = exc.message
    except OpwatchError as exc:
        listing.error = exc
    return listing


list_errors = read_errors
"""The former name, which `opwatch.commands.list_errors` still imports."""


def _count(groups: dict[GroupKey, Group], row: OperationError) -> None:
    key = (row.code, row.field, row.message)
    found = groups.get(key)
    if found is None:
        found = groups[key] = Group(row.code, row.field, row.message)
    found.count += 1
    if row.item is not None and len(found.items) < EXAMPLES_PER_GROUP:
        found.items.append(row.item)
