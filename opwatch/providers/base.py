"""The Provider interface, and the one place where HTTP failures become opwatch's errors.

Only this module catches httpx exceptions. Each provider module adds its endpoints and a pure
``parse_operation(payload) -> Operation`` beside them, which most tests call directly.
"""

import functools
import json
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from opwatch.config import Profile
from opwatch.errors import AuthError, NotFound, OpwatchError, ProviderError
from opwatch.http import Http
from opwatch.model import Operation, OperationError

EXCERPT_CHARS = 80


class Provider(ABC):
    """Reads operations of one profile through one shared HTTP client."""

    name: ClassVar[str]
    """`wesog`, `toloka` or `trafficops`."""
    label: ClassVar[str]
    """The provider's name for people: `Wesog`, `Toloka`, `Traffic Ops`."""
    credential_key: ClassVar[str]
    """The profile key whose credential a 401/403 points the user at."""

    def __init__(self, profile: Profile, client: Http) -> None:
        self.profile = profile
        self.client = client

    @staticmethod
    @abstractmethod
    def normalize_id(text: str) -> str:
        """The operation id in `text`, or a UsageError saying what an id looks like."""

    @abstractmethod
    async def fetch(self, op_id: str) -> Operation:
        """One read of the operation `op_id`."""

    @abstractmethod
    def errors(self, operation: Operation) -> AsyncIterator[OperationError]:
        """The failed items of `operation` (read again from the provider where needed)."""

    def credential_in_use(self) -> str:
        """The profile key of the credential this provider sends, for hints on a refusal."""
        return self.credential_key

    def error_text(self, payload: Any) -> str | None:
        """The human message in one of this provider's error bodies, if it has one."""
        return None

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and return its response, whatever the status; raise opwatch's error
        when there is no response at all."""
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise self.transport_error(exc) from None

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; return a 2xx response or raise opwatch's error for what went wrong."""
        response = await self.send(method, url, **kwargs)
        if response.is_success:
            return response
        raise self.http_error(response)

    def transport_error(self, exc: httpx.RequestError) -> ProviderError:
        """Translate a failure to talk at all: refused, timed out, cut off."""
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError(
                f"{self.label} at {self.profile.url} did not answer within "
                f"{self.profile.timeout_s:g}s (profile '{self.profile.name}')"
            )
        return ProviderError(
            f"cannot reach {self.label} at {self.profile.url} (profile "
            f"'{self.profile.name}'): {_transport_reason(exc)}"
        )

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET `url` and decode its JSON body."""
        return self.decode(await self.request("GET", url, **kwargs))

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of `response`, or a ProviderError that shows what came instead."""
        try:
            return _DECODER.decode(response.content.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            raise ProviderError(
                f"{self.label} at {self.profile.url} answered {response.status_code} with "
                f"{_describe_body(response)} instead of JSON (profile '{self.profile.name}')"
            ) from None

    def http_error(self, response: httpx.Response) -> OpwatchError:
        """Translate a non-2xx response into the error a user can act on."""
        code = response.status_code
        detail = self._detail(response)
        said = f": {detail}" if detail else ""
        profile = self.profile
        if code in (401, 403):
            verb = "refused" if code == 401 else "not allowed to read this"
            return AuthError(
                f"the {self.label} credentials of profile '{profile.name}' were {verb} "
                f"({code}{said}); check {profile.secret_hint(self.credential_in_use())}"
            )
        if code == 404:
            return NotFound(f"{self.label} has no such operation (404{said})")
        if code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = f"; it asks to wait {retry_after:g}s" if retry_after is not None else ""
            return ProviderError(
                f"{self.label} is rate-limiting profile '{profile.name}' (429{said}){wait}",
                retry_after=retry_after,
            )
        if code >= 500 or code == 408:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return ProviderError(
                f"{self.label} at {profile.url} answered {code}{said}", retry_after=retry_after
            )
        return ProviderError(
            f"{self.label} at {profile.url} answered {code}{said}", transient=False
        )

    def _detail(self, response: httpx.Response) -> str | None:
        try:
            payload = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return _describe_body(response) if response.content else None
        try:
            text = self.error_text(payload)
        except (AttributeError, TypeError, KeyError, IndexError):
            text = None
        return _clip(text) if text else None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


TIMESTAMPS_KEPT = 32_768
"""Parsed times remembered: a watched operation sends the same start time on every read."""
_FRACTION = re.compile(r"\.(\d+)")
_SHORT_OFFSET = re.compile(r"([+-]\d\d)$")


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an ISO 8601 string; None when absent or unreadable.

    Strings without a zone are UTC: Toloka documents its times as UTC and sends no offset.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    return _parse_iso(value)


@functools.lru_cache(maxsize=TIMESTAMPS_KEPT)
def _parse_iso(value: str) -> datetime | None:
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _SHORT_OFFSET.sub(r"\1:00", text)  # `+00`, as PostgreSQL prints it
    # fromisoformat wants 3 or 6 fraction digits before 3.12; pad or cut to 6.
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def as_int(value: object) -> int | None:
    """An integer count, or None for anything else (bool, null, a string of words)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_text(value: object) -> str | None:
    """A string field, or None when the provider sent something else."""
    return value if isinstance(value, str) else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""JSON as RFC 8259 has it: NaN and Infinity are not JSON, though Python's parser takes them."""


def _transport_reason(exc: httpx.RequestError) -> str:
    # The transport knows the causes (an untrusted certificate, a refused TLS version, refused,
    # unknown host, a broken reply); imported here, where a failure is being reported.
    from opwatch.transport import describe

    return describe(exc)


def _describe_body(response: httpx.Response) -> str:
    kind = response.headers.get("Content-Type", "no content type").split(";")[0]
    text = response.content[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    excerpt = title.group(1) if title else text
    if not response.content:
        return f"an empty body ({kind})"
    return f"{kind} ({_clip(excerpt)!r})"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"
