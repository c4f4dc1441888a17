"""Toloka, the crowdsourcing API: `GET /api/v1/operations/{id}`, the operation's log, and the
list of operations.

Everything opwatch knows of Toloka is here: its spec (what a profile holds, which host each
environment is), its id syntax, its auth scheme rule, its parser and its streamed error log.
"""

import math
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from opwatch.errors import NoLongerKept, ProviderError, UsageError
from opwatch.model import Operation, OperationError, Progress, State
from opwatch.providers.base import Provider, ProviderSpec
from opwatch.providers.parsing import (
    as_id,
    as_int,
    as_object,
    as_text,
    done_count,
    expect_object,
    parse_timestamp,
)

if TYPE_CHECKING:
    from opwatch.listing import ListQuery

URLS = {
    # The toloka.yandex.com hosts of the vendor pages were switched off in 2023 (PROVIDERS.md).
    "production": "https://toloka.dev",
    "sandbox": "https://sandbox.toloka.dev",
}


def default_url(options: Mapping[str, str]) -> str:
    """The host of the profile's `environment`, production unless it says sandbox."""
    return URLS[options.get("environment", "production")]


SPEC = ProviderSpec(
    name="toloka",
    label="Toloka",
    secret_keys=("token",),
    credentials=(("token",),),
    options={"environment": tuple(URLS), "auth_scheme": ("OAuth", "ApiKey")},
    default_url=default_url,
)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_STATES = {
    "PENDING": State.PENDING,
    "RUNNING": State.RUNNING,
    "SUCCESS": State.SUCCEEDED,
    "FAIL": State.FAILED,
}
LOG_KEPT = "Toloka keeps an operation's log for one month"
PAGE_LIMIT = 300
"""The most operations one page of `GET /api/v1/operations` holds (its `limit`: default 50,
at most 300; PROVIDERS.md)."""
_STATUS_WORDS = {state: word for word, state in _STATES.items()} | {State.PARTIAL: "SUCCESS"}
"""The `status` filter for each state: a partial operation is a SUCCESS with failed items."""
LOG_KEPT_FOR = timedelta(days=30)


def auth_scheme(token: str) -> str:
    """`ApiKey` or `OAuth`, told apart as Toloka's official client does: an API key has
    exactly two dots and the first at index 22, 23 or 24."""
    if token.count(".") == 2 and token.index(".") in (22, 23, 24):
        return "ApiKey"
    return "OAuth"


def parse_operation(payload: Any, op_id: str | None = None) -> Operation:
    """Read one Toloka operation body into an Operation.

    Times come without a zone and are UTC. `details` is free-form per type: counts are read
    only when present (batch creations carry them; some bodies only `items_count`).
    """
    payload = expect_object(payload, SPEC.label)
    status = as_text(payload.get("status"))
    state = _STATES.get(status or "", State.UNKNOWN)  # unknown words are tolerated, not fatal
    details = as_object(payload.get("details"))
    total = as_int(details.get("total_count"))
    if total is None:
        total = as_int(details.get("items_count"))
    good = as_int(details.get("success_count"))
    failed = as_int(details.get("failed_count"))
    not_valid = as_int(details.get("not_valid_count"))
    # The counts overlap: the vendor's example has valid 0, not_valid 2 and failed 2 of total 2,
    # so failed_count includes the items that did not validate. The larger one is the bad count.
    bad = None if failed is None and not_valid is None else max(failed or 0, not_valid or 0)
    if state is State.SUCCEEDED and bad:
        state = State.PARTIAL
    done = done_count(good, bad)
    percent = payload.get("progress")
    percent_value = None
    if (
        isinstance(percent, int | float)
        and not isinstance(percent, bool)
        and math.isfinite(percent)
    ):
        percent_value = min(100.0, max(0.0, float(percent)))
    elif state.terminal:
        percent_value = 100.0
    return Operation(
        provider="toloka",
        id=as_id(payload.get("id"), op_id),
        state=state,
        provider_status=status,
        kind=as_text(payload.get("type")),
        progress=Progress(percent=percent_value, done=done, total=total, good=good, bad=bad),
        error_count=bad,
        submitted_at=parse_timestamp(payload.get("submitted")),
        started_at=parse_timestamp(payload.get("started")),
        finished_at=parse_timestamp(payload.get("finished")),
        raw=payload,
    )


def step_errors(step: Any, op_id: str) -> list[OperationError]:
    """The error rows of one log step: none for a success, one per field of a validation
    failure, one for any other failure (`POOL_OPEN`'s `EMPTY_POOL`)."""
    if not isinstance(step, dict) or step.get("success") is not False:
        return []
    kind = as_text(step.get("type"))
    given, output = as_object(step.get("input")), as_object(step.get("output"))
    item = given.get("__item_idx", given.get("id"))
    item_text = None if item is None or isinstance(item, dict | list) else str(item)
    if "code" in output and not isinstance(output.get("code"), dict):
        return [
            OperationError(
                provider="toloka",
                id=op_id,
                item=item_text,
                code=as_text(output.get("code")),
                step=kind,
                message=as_text(output.get("message")),
            )
        ]
    rows = [
        # Validation steps map a field path to {code, message}; one step can carry several.
        OperationError(
            provider="toloka",
            id=op_id,
            item=item_text,
            code=as_text(problem.get("code")),
            field=str(path),
            step=kind,
            message=as_text(problem.get("message")),
        )
        for path, problem in output.items()
        if isinstance(problem, dict)
    ]
    return rows or [OperationError(provider="toloka", id=op_id, item=item_text, step=kind)]


def _status_filters(states: Iterable[State] | None) -> list[str | None]:
    """The `status` values to list, in Toloka's order; [None] (no filter) when any state is
    wanted, or `unknown`, which is a status word opwatch does not know."""
    if states is None or State.UNKNOWN in states:
        return [None]
    wanted = {_STATUS_WORDS[state] for state in states}
    return [word for word in _STATES if word in wanted]


def _log_gone(operation: Operation) -> str:
    """Why an operation's errors cannot be listed any more, and since when."""
    ended = operation.finished_at or operation.submitted_at
    if ended is None:
        return f"errors no longer kept: {LOG_KEPT}, and this operation's log is gone"
    gone = ended + LOG_KEPT_FOR
    return (
        f"errors no longer kept since {gone:%Y-%m-%d}: {LOG_KEPT}, and this operation "
        f"{'finished' if operation.finished_at else 'was submitted'} on {ended:%Y-%m-%d}"
    )


class TolokaProvider(Provider):
    """Reads Toloka operations and their logs."""

    spec: ClassVar[ProviderSpec] = SPEC

    @staticmethod
    def normalize_id(text: str) -> str:
        """Toloka ids are UUIDs (24 hex digits in old examples); accept any plain token."""
        cleaned = text.strip()
        if not _ID.match(cleaned):
            raise UsageError(
                "a Toloka operation id looks like 1f0c9a2e-5f7b-4c1e-9a37-5e3b1c2d4f60"
            )
        return cleaned

    async def fetch(self, op_id: str) -> Operation:
        """One read of `GET /api/v1/operations/{op_id}`."""
        payload = await self.get_json(f"/api/v1/operations/{op_id}", headers=self._auth())
        return parse_operation(payload, op_id)

    async def list_operations(self, query: "ListQuery") -> AsyncGenerator[Operation, None]:
        """`GET /api/v1/operations`, page after page: `sort=id` and `id_gt=<the last id>` until
        `has_more` is false, as Toloka documents its paging (PROVIDERS.md). The filters Toloka
        has go on the wire (`status`, `type`, `submitted_gte`); one `status` per request, so
        states of several status words are listed one word after the other."""
        base: dict[str, str] = {
            "sort": "id",
            "limit": str(min(PAGE_LIMIT, query.limit or PAGE_LIMIT)),
        }
        if query.kind:
            base["type"] = query.kind.upper()  # Toloka's types are upper-case enum names
        if query.since:
            # Toloka's times are UTC without a zone (PROVIDERS.md); it reads its filters alike.
            since = query.since.astimezone(UTC).replace(tzinfo=None)
            base["submitted_gte"] = since.isoformat(timespec="milliseconds")
        for word in _status_filters(query.states):
            params = base if word is None else {**base, "status": word}
            async for operation in self._pages(params):
                yield operation

    async def _pages(self, params: dict[str, str]) -> AsyncGenerator[Operation, None]:
        """Every page of the list `params` select, one request each, parsed as it comes."""
        last: str | None = None
        pages = faults = 0
        while True:
            query = params if last is None else {**params, "id_gt": last}
            try:
                payload = await self.get_json(
                    f"/api/v1/operations?{urlencode(query)}", headers=self._auth()
                )
            except ProviderError as exc:
                faults += 1
                await self.before_retry(exc, faults, f"page {pages + 1} of the list")
                continue
            pages, faults = pages + 1, 0
            page = expect_object(payload, SPEC.label)
            items = page.get("items")
            if not isinstance(items, list):
                raise ProviderError(
                    f"Toloka answered a list without 'items' (profile '{self.profile.name}')"
                )
            for item in items:
                operation = parse_operation(item)  # raises unless the item is an object
                if isinstance(item.get("id"), str) and _ID.match(operation.id):
                    last = operation.id
                    yield operation
                # else: an item without an id is nothing a REF can name, nor a page mark
            if page.get("has_more") is not True:
                return
            if last is None or not items:
                # has_more with nothing to page from: asking again would loop for ever.
                raise ProviderError(
                    f"Toloka says more operations follow but gave no id to page on "
                    f"(profile '{self.profile.name}')"
                )

    async def errors(self, operation: Operation) -> AsyncIterator[OperationError]:
        """Error rows from `GET /api/v1/operations/{id}/log`, parsed as the bytes arrive."""
        # The operation was just read, so a 404 for its log means the log is gone: Toloka
        # keeps it a month (PROVIDERS.md). That is an answer, not a failure: the listing
        # worked, and says the errors are gone.
        steps = self.array_items(
            f"/api/v1/operations/{operation.id}/log",
            self._auth(),
            f"the log of operation {operation.id}",
            not_found=lambda: NoLongerKept(_log_gone(operation)),
        )
        async for step in steps:
            for row in step_errors(step, operation.id):
                yield row

    async def check(self) -> None:
        """One authenticated read of the cheapest kind: a list of at most one operation."""
        await self.get_json("/api/v1/operations?limit=1", headers=self._auth())

    def error_text(self, payload: Any) -> str | None:
        """`{"request_id", "code", "message"}`: `CODE: message`."""
        if not isinstance(payload, dict):
            return None
        code, message = as_text(payload.get("code")), as_text(payload.get("message"))
        return ": ".join(part for part in (code, message) if part) or None

    def _auth(self) -> dict[str, str]:
        token = self.profile.secrets["token"].reveal()
        scheme = self.profile.options.get("auth_scheme") or auth_scheme(token)
        return {"Authorization": f"{scheme} {token}"}
