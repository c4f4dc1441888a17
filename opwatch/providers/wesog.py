"""Wesog, the media indexing API: `GET {url}/ops/{op_id}` and `GET {url}/ops` with the `API-Key`
header.

Everything opwatch knows of Wesog is here: its spec (what a profile holds), its id syntax, its
parser, its error bodies and the quirk that its counts outrun its error list.
"""

import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from opwatch.errors import ProviderError, UsageError
from opwatch.model import Operation, OperationError, Progress, State
from opwatch.providers.base import Provider, ProviderSpec
from opwatch.providers.parsing import (
    as_id,
    as_int,
    as_text,
    done_count,
    expect_object,
    parse_timestamp,
)

if TYPE_CHECKING:
    from opwatch.listing import ListQuery

DEFAULT_URL = "https://api.wesog.com"
SPEC = ProviderSpec(
    name="wesog",
    label="Wesog",
    secret_keys=("api_key",),
    credentials=(("api_key",),),
    default_url=lambda options: DEFAULT_URL,
)
_ID = re.compile(r"^\d+$")


def parse_operation(payload: Any, op_id: str | None = None) -> Operation:
    """Read one Wesog operation body into an Operation.

    The documentation is thin and contradicts itself, so every field may be null, missing or of
    the wrong type: such a field reads as unknown (None), never as a crash or a made-up 0.
    """
    payload = expect_object(payload, SPEC.label)
    total, good, bad = (as_int(payload.get(k)) for k in ("num_total", "num_good", "num_bad"))
    started = payload.get("is_started") is True
    finished = payload.get("is_finished") is True
    state, status = _state(started, finished, good, bad)
    done = done_count(good, bad)
    percent = None
    if done is not None and total:
        percent = min(100.0, 100.0 * done / total)
    elif finished:
        percent = 100.0
    method, resource = as_text(payload.get("method")), as_text(payload.get("resource"))
    kind = " ".join(word for word in (method, resource) if word) or None
    idle_ms, exec_ms = as_int(payload.get("idle_ms")), as_int(payload.get("exec_ms"))
    errors = payload.get("errors")
    error_count = bad if bad is not None else (len(errors) if isinstance(errors, list) else None)
    return Operation(
        provider="wesog",
        id=as_id(payload.get("id"), op_id),
        state=state,
        provider_status=status,
        kind=kind,
        progress=Progress(percent=percent, done=done, total=total, good=good, bad=bad),
        error_count=error_count,
        submitted_at=parse_timestamp(payload.get("created_at")),
        started_at=parse_timestamp(payload.get("started_at")),
        finished_at=parse_timestamp(payload.get("finished_at")),
        # idle_ms is created → started and exec_ms started → finished (seed 000).
        queued_s=idle_ms / 1000 if idle_ms is not None else None,
        elapsed_s=exec_ms / 1000 if exec_ms is not None and finished else None,
        raw=payload,
    )


def _state(started: bool, finished: bool, good: int | None, bad: int | None) -> tuple[State, str]:
    """The state rules of PROVIDERS.md; Wesog has no status word, so opwatch names one."""
    if not started and not finished:
        return State.PENDING, "not started"
    if not finished:
        return State.RUNNING, "started"
    if bad is None:
        return State.UNKNOWN, "finished, counts missing"
    if bad == 0:
        return State.SUCCEEDED, "finished"
    if good:
        return State.PARTIAL, "finished, some bad"
    return State.FAILED, "finished, none good"


class WesogProvider(Provider):
    """Reads Wesog operations."""

    spec: ClassVar[ProviderSpec] = SPEC

    @staticmethod
    def normalize_id(text: str) -> str:
        """Wesog operation ids are integers."""
        cleaned = text.strip()
        if not _ID.match(cleaned):
            raise UsageError("a Wesog operation id is a whole number, like 1842")
        return str(int(cleaned))

    async def fetch(self, op_id: str) -> Operation:
        """One read of `GET /ops/{op_id}`."""
        payload = await self.get_json(f"/ops/{op_id}", headers=self._auth())
        return parse_operation(payload, op_id)

    async def list_operations(self, query: "ListQuery") -> AsyncGenerator[Operation, None]:
        """`GET /ops`: every operation of the tenant in one array. Wesog documents no filters
        and no paging for it (PROVIDERS.md), so nothing of `query` goes on the wire: the array
        is parsed as it arrives and the caller filters. A transient fault before the first
        entry is tried again; after it, the array would start over, so it ends the listing."""
        faults = 0
        while True:
            began = False
            try:
                async for item in self.array_items("/ops", self._auth(), "a list of operations"):
                    began = True
                    operation = parse_operation(item)
                    if _ID.match(operation.id):  # an entry without an id: no REF names it
                        yield operation
                return
            except ProviderError as exc:
                if began:
                    raise
                faults += 1
                await self.before_retry(exc, faults, "the list")

    async def check(self) -> None:
        """One authenticated read of an operation that does not exist: Wesog checks the
        API-Key before it looks the id up (401 first), so a 404 proves the key, and costs less
        than `GET /ops`, which lists every operation of the tenant unpaged."""
        response = await self.send("GET", "/ops/0", headers=self._auth())
        if response.status_code != 404 and not response.is_success:
            raise self.http_error(response)

    async def errors(self, operation: Operation) -> AsyncIterator[OperationError]:
        """The operation's `errors[]`: the failed element ids (positions in the batch, most
        likely; shown as given) with Wesog's reason."""
        entries = operation.raw.get("errors") if isinstance(operation.raw, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            item = entry.get("id")
            yield OperationError(
                provider="wesog",
                id=operation.id,
                item=None if item is None else str(item),
                message=as_text(entry.get("msg")),
            )

    @classmethod
    def listing_note(cls, operation: Operation, listed: int) -> str | None:
        """Wesog's `num_bad` can exceed the entries of its `errors[]` (nothing documented ties
        the two; tests/payloads/wesog/partial_more_bad_than_listed.json has 4 bad, 1 listed):
        say how many failed items the listing cannot show."""
        unlisted = (operation.error_count or 0) - listed
        if unlisted <= 0:
            return None
        return f"Wesog counts {unlisted} more failed items than it lists"

    def error_text(self, payload: Any) -> str | None:
        """FastAPI-shaped bodies: `{"detail": "..."}` or, for 422, a list of `{loc, msg}`."""
        detail = payload.get("detail") if isinstance(payload, dict) else None
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            parts = []
            for entry in detail:
                if isinstance(entry, dict):
                    where = ".".join(str(p) for p in entry.get("loc") or [])
                    parts.append(f"{where}: {entry.get('msg')}" if where else str(entry.get("msg")))
            return "; ".join(parts) or None
        return None

    def _auth(self) -> dict[str, str]:
        return {"API-Key": self.profile.secrets["api_key"].reveal()}
