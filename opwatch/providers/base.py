"""The Provider interface: what a provider declares (ProviderSpec), the hooks where its quirks
go, and the one place where HTTP failures become opwatch's errors.

Only this module catches httpx exceptions. Each provider module declares its ProviderSpec and adds
its endpoints and a pure ``parse_operation(payload) -> Operation`` beside them, which most tests
call directly.

Importing this module, and so any provider module, loads no HTTP library: config validates every
profile from the providers' specs at start-up, and `opwatch profiles` or a bad REF must not pay
for httpx (about as long to import as the whole CLI). httpx arrives with the client
(`opwatch.http`) when a command reads; this module touches it only once a request has failed.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Mapping,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from opwatch.errors import AuthError, NotFound, OpwatchError, ProviderError, UsageError
from opwatch.model import Operation, OperationError, State

if TYPE_CHECKING:
    import httpx

    from opwatch.config import Profile
    from opwatch.http import Http
    from opwatch.listing import ListQuery

EXCERPT_CHARS = 80


class _LoadedOnUse:
    """A module imported when one of its names is first looked up, not when this one is."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if not TYPE_CHECKING:
    # Only the failure paths below look httpx's names up, after the client loaded it.
    httpx = _LoadedOnUse("httpx")


LIST_RETRIES = 3
"""Transient faults in a row one request of a listing may meet before the listing fails."""


@dataclass(frozen=True)
class ProviderSpec:
    """What config needs to know of a provider to validate a profile, declared in the provider's
    module and read without loading any HTTP code."""

    name: str
    """The `provider:` value of a profile: `wesog`, `toloka`, `trafficops`."""
    label: str
    """The provider's name for people: `Wesog`, `Toloka`, `Traffic Ops`."""
    secret_keys: tuple[str, ...]
    """The credential keys a profile may give, each also as `<key>_command`; a refusal points
    at the first of them the profile gives."""
    credentials: tuple[tuple[str, ...], ...]
    """The ways to sign in, each the keys (secrets or options) that together suffice."""
    options: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    """Settings that are not secret: each key's allowed values, or None for any text."""
    default_url: Callable[[Mapping[str, str]], str] | None = None
    """The base URL of a profile that gives none, from its options; None: `url` is required."""

    def missing_credentials(self, present: Collection[str]) -> str | None:
        """What a profile giving the keys `present` lacks to sign in, said as a sentence; None
        when one way to sign in is complete."""
        if any(all(key in present for key in keys) for keys in self.credentials):
            return None
        if len(self.credentials) == 1 and len(self.credentials[0]) == 1:
            return f"'{self.credentials[0][0]}' is required for {self.label}"
        ways = ", or ".join(" and ".join(f"'{key}'" for key in keys) for keys in self.credentials)
        return f"{self.label} needs {ways}"


class Provider(ABC):
    """Reads operations of one profile through one shared HTTP client.

    A provider's quirks that other parts must heed are hooks here, with a neutral default that
    the provider's module overrides where the quirk is (`listing_note`, `error_text`).
    """

    spec: ClassVar[ProviderSpec]
    """The provider's declaration: name, label, secrets, options, sign-in rules, default URL."""

    def __init__(self, profile: Profile, client: Http) -> None:
        self.profile = profile
        self.client = client
        self.warn: Callable[[str], None] = lambda message: None
        """Where a provider says something a user should know once (a status word opwatch
        cannot place); the session points it at the runtime's warnings."""
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        """How a listing waits before trying a request again; the session points it at the
        runtime's clock."""
        self.refused: AuthError | None = None
        """The refusal that ended this profile for the run: set by the first 401/403 (or
        refused login) that a re-login did not cure; every later read raises it at once."""
        self._trusted = False
        """Whether a read got past the credentials (any answer but a refusal)."""
        self._first_read = asyncio.Lock()
        self._failed_connects = 0
        self._unplaced_said: set[str | None] = set()
        """The status words already warned of: a wait reads the same word again and again."""
        self._unreachable: ProviderError | None = None
        """The last failure to connect while no read had got through, shared with the reads
        that queued behind it."""

    @property
    def name(self) -> str:
        """`wesog`, `toloka` or `trafficops`."""
        return self.spec.name

    @property
    def label(self) -> str:
        """The provider's name for people: `Wesog`, `Toloka`, `Traffic Ops`."""
        return self.spec.label

    @staticmethod
    @abstractmethod
    def normalize_id(text: str) -> str:
        """The operation id in `text`, or a UsageError saying what an id looks like."""

    @classmethod
    def id_for(cls, text: str, profile: Profile) -> str:
        """The operation id in `text` for `profile`, or a UsageError: `normalize_id`, unless
        the provider's ids can name a host, which must then be the profile's own."""
        return cls.normalize_id(text)

    @abstractmethod
    async def fetch(self, op_id: str) -> Operation:
        """One read of the operation `op_id`."""

    async def read(self, op_id: str) -> Operation:
        """One read of `op_id`, as every command makes it.

        Until a read has got past the credentials, reads of this profile go one at a time and
        share what the one in flight learns: wrong credentials are refused once, not once per
        operation (a lockout counts refusals), and a server that cannot be reached is tried
        once for all the reads queued behind that try, not once each (200 connect timeouts in
        a row). After a refusal, every read raises that one refusal without asking again.
        """
        if self.refused is not None:
            raise self.refused
        if self._trusted:
            return await self._read_checked(op_id)
        ticket = self._failed_connects
        async with self._first_read:
            if self.refused is not None:
                raise self.refused
            if self._unreachable is not None and self._failed_connects > ticket:
                raise self._unreachable  # the try this read waited for could not connect
            return await self._read_checked(op_id)

    async def _read_checked(self, op_id: str) -> Operation:
        try:
            operation = await self.fetch(op_id)
        except AuthError as exc:
            self.refused = self.refused or exc
            raise self.refused from None
        except ProviderError as exc:
            if exc.origin is not None:
                self._failed_connects += 1
                self._unreachable = exc
            elif not exc.transient:
                self._trusted = True  # an answer, if a useless one: the credentials passed
            raise
        except OpwatchError:
            self._trusted = True  # a 404: the credentials were accepted
            raise
        self._trusted = True
        self._warn_unplaced(op_id, operation)
        return operation

    def _warn_unplaced(self, op_id: str, operation: Operation) -> None:
        """Warn, once per word for the run, of a status word opwatch cannot place: the one
        place it is said, for status, wait and the library alike."""
        why = self.unplaced_status(operation)
        word = operation.provider_status
        if why is None or word in self._unplaced_said:
            return
        self._unplaced_said.add(word)
        said = f"status {word!r}" if word is not None else "no status word"
        self.warn(f"{self.profile.name}:{op_id} reports {said}, {why}")

    async def check(self) -> None:
        """Prove the credentials with one login or one cheap authenticated read; raise the
        error a command would meet (`AuthError`, `ProviderError`) when they do not work."""
        raise ProviderError(f"opwatch cannot check {self.label} profiles", transient=False)

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` of the profile's URL: what one outage takes down."""
        return origin_of(self.profile.url)

    @abstractmethod
    def errors(self, operation: Operation) -> AsyncIterator[OperationError]:
        """The failed items of `operation` (read again from the provider where needed)."""

    def list_operations(self, query: ListQuery) -> AsyncGenerator[Operation, None]:
        """The operations the provider lists, with the filters of `query` its list API has
        applied there (the caller applies them all again, and stops at the limit).

        The default is a provider without a list API: a usage error naming it, before any
        request. A provider with one overrides this with an async generator.
        """
        raise UsageError(
            f"{self.label} has no list of operations (profile '{self.profile.name}'); "
            "pass the ids to status or wait"
        )

    @classmethod
    def listing_note(cls, operation: Operation, listed: int) -> str | None:
        """What a user should know about `operation`'s failed items beyond the `listed` rows
        (a count the rows do not add up to), or None."""
        return None

    def poll_delay(self, operation: Operation, delay: float) -> float:
        """The delay before the next read of `operation`, given the engine's `delay`: a
        provider that knows better (interval bounds, a Retry-After on a success) adjusts it."""
        return delay

    def unplaced_status(self, operation: Operation) -> str | None:
        """Why the status word of `operation` is one opwatch cannot place, said after it
        (`which opwatch does not know; …`), or None when the word is a known one. A declared
        provider names the definition that does not list the word."""
        if operation.state is not State.UNKNOWN:
            return None
        return "which opwatch does not know; it is shown as 'unknown'"

    def credential_in_use(self) -> str:
        """The profile key of the credential this provider sends, for hints on a refusal."""
        keys = self.spec.secret_keys
        return next((key for key in keys if key in self.profile.secrets), keys[0])

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

    async def before_retry(self, error: ProviderError, faults: int, what: str) -> None:
        """Wait before asking for `what` again after its `faults`-th transient fault in a row
        (1, 2, 4 s, or longer when the provider asks), saying so; or raise `error` when it is
        not worth another try. For listings: a 503 on page 40 of 100,000 operations should
        not send a user back to page 1."""
        if not error.transient:
            raise error
        if faults > LIST_RETRIES:
            raise ProviderError(
                f"{error.message} (asked {faults} times for {what})",
                transient=False,
                origin=error.origin,
            )
        from opwatch.watch import backoff  # the engine's, imported when a request failed

        delay = backoff(faults)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        self.warn(f"{error.message}; asking for {what} again in {delay:g}s")
        await self.sleep(delay)

    async def array_items(
        self,
        url: str,
        headers: Mapping[str, str],
        what: str,
        not_found: Callable[[], Exception] | None = None,
    ) -> AsyncGenerator[Any, None]:
        """The items of the JSON array that `GET url` answers, parsed as the bytes arrive: a
        list can hold 100,000 operations, and memory must follow one item, not the array.
        `what` names the array in messages (`the list of operations`); `not_found` makes what
        a 404 means, where it means more than a wrong URL (Toloka: a log dropped)."""
        from opwatch.providers.jsonstream import JSONStreamError, array_items

        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                if not response.is_success:
                    await response.aread()
                    error: Exception = self.http_error(response)
                    if isinstance(error, NotFound):
                        error = (
                            not_found()
                            if not_found is not None
                            else NotFound(f"{self.label} at {self.profile.url} has no {url} (404)")
                        )
                    raise error
                async for item in array_items(response.aiter_bytes()):
                    yield item
        except JSONStreamError as exc:
            raise ProviderError(
                f"{self.label} sent {what} opwatch cannot read ({exc}; profile "
                f"'{self.profile.name}')"
            ) from None
        except httpx.RequestError as exc:
            raise self.transport_error(exc) from None

    def transport_error(self, exc: httpx.RequestError) -> ProviderError:
        """Translate a failure to talk at all: refused, timed out, cut off. A failure to
        connect names the origin: it is the same for every operation there."""
        connect = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        origin = self.origin if connect else None
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError(
                f"{self.label} at {self.profile.url} did not answer within "
                f"{self.profile.timeout_s:g}s (profile '{self.profile.name}')",
                origin=origin,
            )
        return ProviderError(
            f"cannot reach {self.label} at {self.profile.url} (profile "
            f"'{self.profile.name}'): {_transport_reason(exc)}",
            origin=origin,
        )

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET `url` and decode its JSON body."""
        return self.decode(await self.request("GET", url, **kwargs))

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of `response`, or a ProviderError that shows what came instead."""
        try:
            return loads_json(response.content)
        except ValueError:  # UnicodeDecodeError is one
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
            payload = loads_json(response.content)
        except ValueError:
            return _describe_body(response) if response.content else None
        try:
            text = self.error_text(payload)
        except (AttributeError, TypeError, KeyError, IndexError):
            text = None
        return _clip(text) if text else None


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of `url`, lower-cased, without a path."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0].lower()}"


MAX_RETRY_AFTER_S = 86_400.0
"""The longest wait a Retry-After can ask for: one day. A server may send a number or a date
years ahead; no provider means more than a day by it, and a wait must still show a wake-up
time it can print and reach its deadline."""


def has_userinfo(url: str) -> bool:
    """Whether `url` names a user or a password before its host (`https://user:pw@host`).

    Such a URL would put the password wherever opwatch shows the URL: a status note, an
    error, the profiles table, the -v log. Read by hand, so that a URL too broken to parse
    is still judged without showing it.
    """
    authority = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]
    return "@" in authority


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date, capped at
    MAX_RETRY_AFTER_S (one day); None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime  # the email package: only for a date

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        # `inf`, `1e999` and `nan` are floats to Python but no delay RFC 9110 allows (digits
        # only); taken as they are, the engine's schedule overflowed on rounding them.
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""JSON as RFC 8259 has it: NaN and Infinity are not JSON, though Python's parser takes them."""


def loads_json(content: bytes) -> Any:
    """JSON from a reply body (or one line of a JSON Lines body), or ValueError: bytes that are
    not UTF-8, text that is not JSON, or a string holding half a surrogate pair (`"\\udc80"`),
    which no output could print."""
    text = content.decode("utf-8-sig")
    value = _DECODER.decode(text)
    if "\\u" in text and re.search(r"\\u[dD][89abcdefABCDEF]", text):
        # Escaped surrogates: fine in pairs (an emoji), not alone. Rare, so checked only here.
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError: ValueError
    return value


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
