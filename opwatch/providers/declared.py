"""Providers declared as data: an operation API described in YAML instead of a Python module.

Most operation APIs look alike (a status URL, an auth header, a state word, maybe counts, maybe
an error list), so a definition says where each of those is and opwatch does the rest: a
`Definition` is validated once, when the config loads, into a `Provider` subclass that the
registry serves like a built-in one. Fields are read with JMESPath, the language botocore's
waiters and `az wait --custom` use; an expression that fails on a body (a missing field, a
function given null) reads as null, which opwatch shows as unknown, never as a crash.

This module imports jmespath; config imports this module only for a config that declares a
provider, so a config of built-in providers pays nothing for it. Like every provider module, it
imports no HTTP library at the top (base.py).

Every URL a declared provider requests stays on its profile's origin: templates are paths under
the profile's `url`, the values put into them are percent-encoded, and a `Link` header that
points anywhere else is refused, so the credential goes nowhere but the profile's host.
"""

from __future__ import annotations

import base64
import json
import re
import string
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlencode, urljoin, urlsplit

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.functions import Functions

from opwatch.durations import parse_duration
from opwatch.errors import ConfigError, ProviderError, UsageError
from opwatch.model import Operation, OperationError, Progress, State
from opwatch.providers.base import (
    Provider,
    ProviderSpec,
    has_userinfo,
    loads_json,
    parse_retry_after,
)
from opwatch.providers.parsing import as_int, done_count, parse_timestamp

if TYPE_CHECKING:
    import httpx

    from opwatch.config import Profile
    from opwatch.http import Http

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""A declared provider's name: what a profile's `provider:` says and a file is called."""
STATES = {state.value: state for state in State}
TIME_FORMATS = ("rfc3339", "epoch_s", "epoch_ms")
ERROR_COLUMNS = ("item", "code", "field", "step", "message")
PROGRESS_KEYS = ("percent", "done", "total", "good", "bad")
TIME_KEYS = ("submitted", "started", "finished")
MAX_ERROR_PAGES = 10_000
"""A guard against a server whose `next` never ends; far beyond any real listing."""

_TOP_KEYS = frozenset(
    {
        "label",
        "description",
        "url",
        "id",
        "status",
        "auth",
        "headers",
        "state",
        "kind",
        "message",
        "progress",
        "times",
        "error_count",
        "also",
        "errors",
        "error_message",
        "polling",
    }
)
_FUNCTIONS = Functions().FUNCTION_TABLE
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
"""transport.DEFAULT_PORTS, not imported from there: validating a definition when the config
loads must not import httpx (start-up)."""


# --- the parts of a definition ---------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A compiled JMESPath expression that never raises on a body: a failure reads as null."""

    text: str
    compiled: Any = field(repr=False, compare=False)

    def search(self, document: Any) -> Any:
        """The expression's value on `document`, or None when it cannot be evaluated there."""
        try:
            return self.compiled.search(document)
        except (JMESPathError, TypeError, ValueError, ArithmeticError, RecursionError):
            # `length(null)` raises, as do functions given a wrong type (DECLARED-APIS.md):
            # a field the provider left out must read as unknown, not end the watch.
            return None


@dataclass(frozen=True)
class Template:
    """A URL path under the profile's `url`, with `{name}` holes filled by percent-encoding."""

    text: str

    def fill(self, values: Mapping[str, str]) -> str:
        """The path with every hole filled; `/` stays (Google names are paths), everything
        that could change the URL's meaning (`?`, `#`, `@`, `%`, spaces) is encoded."""
        parts = []
        for literal, name, _, _ in string.Formatter().parse(self.text):
            parts.append(literal)
            if name is not None:
                value = values[name]
                if ".." in value.split("/"):
                    raise UsageError(f"an id part may not contain a '..' segment (got {value!r})")
                parts.append(quote(value, safe="/"))
        path = "".join(parts)
        if not path.startswith("/"):
            # A template that opens with a hole ({path}) must still give a path, never a host.
            raise UsageError(f"the id gives {path!r}, which is not a path starting with '/'")
        return path


@dataclass(frozen=True)
class Auth:
    """How the profile's secret travels: one header, with an optional prefix."""

    secret: str
    """The profile key holding the credential (also accepted as `<key>_command`)."""
    header: str = "Authorization"
    prefix: str = ""
    username: str | None = None
    """For basic auth: the profile key (not secret) holding the user name."""

    def headers(self, profile: Profile) -> dict[str, str]:
        """The header to send, built from the profile's secret."""
        value = profile.secrets[self.secret].reveal()
        if self.username is not None:
            pair = f"{profile.options.get(self.username, '')}:{value}".encode()
            value = base64.b64encode(pair).decode("ascii")
        return {self.header: self.prefix + value}


@dataclass(frozen=True)
class Rule:
    """One ordered state rule: when its conditions hold, the operation is in `state`."""

    state: State
    when: Expression | None = None
    """A JMESPath condition on the body, true by JMESPath's rules (0 is true, [] is false)."""
    http_status: frozenset[int] = frozenset()
    """HTTP status codes the read must have answered with (any, when empty)."""
    word: str | None = None
    """The provider status to show when this rule decides (for APIs without a status word)."""

    def holds(self, document: Any, http_status: int) -> bool:
        """Whether every condition of this rule holds."""
        if self.http_status and http_status not in self.http_status:
            return False
        return self.when is None or truthy(self.when.search(document))


@dataclass(frozen=True)
class StateReading:
    """From a body to opwatch's state: rules first, then the word table, then `other`."""

    word: Expression | None = None
    rules: tuple[Rule, ...] = ()
    words: Mapping[str, State] = field(default_factory=dict)
    """The provider's words (case-folded with `ignore_case`) and the state each means."""
    ignore_case: bool = False
    other: State = State.UNKNOWN
    """The state of a word the table does not list: new words must not break a wait."""

    def read(self, document: Any, http_status: int) -> tuple[State, str | None, str | None]:
        """(state, the provider's word, the word if the table does not list it)."""
        word = text(self.word.search(document)) if self.word else None
        for rule in self.rules:
            if rule.holds(document, http_status):
                return rule.state, rule.word or word, None
        if word is None:
            return State.UNKNOWN, None, None
        state = self.words.get(word.casefold() if self.ignore_case else word)
        if state is None:
            return self.other, word, word
        return state, word, None


@dataclass(frozen=True)
class ErrorSource:
    """Where error rows come from: the operation's own body, or another URL (paged)."""

    columns: Mapping[str, Expression]
    """item, code, field, step, message: each read from one row."""
    rows: Expression | None = None
    """The list of rows in a JSON document (None: the document is the list)."""
    url: Template | None = None
    """None: rows come from the operation's own body."""
    variables: Mapping[str, Expression] = field(default_factory=dict)
    """Holes of `url` filled from the operation's body (an error file's id); a null one
    means there is nothing to read yet."""
    format: str = "json"
    """`json` or `jsonl` (JSON Lines: one row per line)."""
    paging: str | None = None
    """None, `link` (a `Link: <…>; rel="next"` header) or `token` (a field of the page)."""
    token: Expression | None = None
    token_param: str | None = None


@dataclass(frozen=True)
class Polling:
    """What the API says about how often to ask."""

    min_interval_s: float | None = None
    max_interval_s: float | None = None
    retry_after: bool = True
    """Honour a Retry-After on successful reads too (Azure sends one with each 202)."""
    etag: bool = False
    """Send If-None-Match with the last ETag; a 304 reuses the last body (GitHub: free of
    rate limit)."""


@dataclass(frozen=True)
class Definition:
    """A validated provider definition."""

    name: str
    label: str
    source: str
    """Where it was declared, for messages: a file, or `config.yaml: providers.NAME`."""
    id_pattern: re.Pattern[str]
    status: Template
    state: StateReading
    id_example: str | None = None
    description: str | None = None
    default_url: str | None = None
    auth: Auth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Expression] = field(default_factory=dict)
    """kind, message, error_count, progress.* and times.*, each an expression on the body."""
    time_format: str = "rfc3339"
    also: Mapping[str, Template] = field(default_factory=dict)
    """Further documents read with each status read, put beside the body's keys under
    these names (GitHub: a run's jobs, for its counts)."""
    errors: tuple[ErrorSource, ...] = ()
    error_message: Expression | None = None
    """The human message in the API's error bodies."""
    polling: Polling = field(default_factory=Polling)

    def spec(self) -> ProviderSpec:
        """What config validates a profile of this provider with."""
        auth = self.auth
        if auth is None:
            secrets: tuple[str, ...] = ()
            credentials: tuple[tuple[str, ...], ...] = ((),)
            options: dict[str, tuple[str, ...] | None] = {}
        elif auth.username is not None:
            secrets = (auth.secret,)
            credentials = ((auth.username, auth.secret),)
            options = {auth.username: None}
        else:
            secrets, credentials, options = (auth.secret,), ((auth.secret,),), {}
        url = self.default_url
        return ProviderSpec(
            name=self.name,
            label=self.label,
            secret_keys=secrets,
            credentials=credentials,
            options=options,
            default_url=(lambda options: url) if url else None,
        )


# --- reading a body --------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """JMESPath's truth: false, null, and an empty string, list or object are false; 0 is true."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list | dict) and not value)


def text(value: Any) -> str | None:
    """A field as text: numbers and booleans as JSON writes them, objects as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _percent(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float) or value != value:
        return None
    return min(100.0, max(0.0, float(value)))


def _time(value: Any, time_format: str) -> datetime | None:
    if time_format == "rfc3339":
        return parse_timestamp(value)  # a time without a zone is UTC (parsing.py)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if time_format == "epoch_ms" else value
    if seconds <= 0:
        return None  # OpenAI sends 0/null for "not yet"; the epoch itself is never meant
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def context(payload: Any, also: Mapping[str, Any] | None) -> Any:
    """The document expressions see: the body, with the `also` documents beside its keys."""
    if not also:
        return payload
    base = payload if isinstance(payload, dict) else {}
    return {**base, **also}


def read_operation(
    definition: Definition,
    payload: Any,
    op_id: str | None = None,
    *,
    http_status: int = 200,
    also: Mapping[str, Any] | None = None,
) -> tuple[Operation, str | None]:
    """(the operation in `payload`, a status word the definition does not list, if any).

    Pure: no I/O. Any JSON at all gives an Operation; what cannot be read is unknown.
    """
    document = context(payload, also)
    state, word, unlisted = definition.state.read(document, http_status)
    values = {key: expression.search(document) for key, expression in definition.fields.items()}
    good, bad = as_int(values.get("good")), as_int(values.get("bad"))
    done = as_int(values.get("done"))
    if done is None and "done" not in definition.fields:
        done = done_count(good, bad)  # processed items are the good and the bad ones
    total = as_int(values.get("total"))
    percent = _percent(values.get("percent"))
    if percent is None and done is not None and total:
        percent = min(100.0, 100.0 * done / total)
    elif percent is None and state.terminal:
        percent = 100.0  # a finished operation has come all the way, whatever it counted
    error_count = as_int(values.get("error_count")) if "error_count" in values else bad
    kind = text(values.get("kind")) or None
    fmt = definition.time_format
    operation = Operation(
        provider=definition.name,
        id=str(op_id) if op_id is not None else "",
        state=state,
        provider_status=word,
        kind=kind,
        progress=Progress(percent=percent, done=done, total=total, good=good, bad=bad),
        error_count=error_count,
        message=text(values.get("message")) or None,
        submitted_at=_time(values.get("submitted"), fmt),
        started_at=_time(values.get("started"), fmt),
        finished_at=_time(values.get("finished"), fmt),
        raw=payload,
    )
    return operation, unlisted


def parse_operation(
    definition: Definition,
    payload: Any,
    op_id: str | None = None,
    *,
    http_status: int = 200,
    also: Mapping[str, Any] | None = None,
) -> Operation:
    """The operation `definition` reads in `payload` (see read_operation)."""
    return read_operation(definition, payload, op_id, http_status=http_status, also=also)[0]


def error_rows(
    source: ErrorSource, rows: Any, provider: str, op_id: str
) -> Iterator[OperationError]:
    """One OperationError per row of `rows` (a list; anything else holds none)."""
    for row in rows if isinstance(rows, list) else []:
        if row is None:
            continue
        cells = {key: text(source.columns[key].search(row)) for key in source.columns}
        yield OperationError(
            provider=provider, id=op_id, **{k: v or None for k, v in cells.items()}
        )


def body_errors(
    source: ErrorSource, payload: Any, provider: str, op_id: str
) -> Iterator[OperationError]:
    """The error rows `source` (one without a `url`) finds in the operation's own body."""
    rows = source.rows.search(payload) if source.rows else payload
    return error_rows(source, rows, provider, op_id)


def document_errors(definition: Definition, payload: Any, op_id: str) -> Iterator[OperationError]:
    """The error rows held in the operation's own body (sources without a `url`)."""
    for source in definition.errors:
        if source.url is None:
            yield from body_errors(source, payload, definition.name, op_id)


# --- the provider ----------------------------------------------------------------------------


class DeclaredProvider(Provider):
    """Reads operations of an API declared in YAML; one subclass per definition."""

    definition: ClassVar[Definition]

    def __init__(self, profile: Profile, client: Http) -> None:
        super().__init__(profile, client)
        self._cache: dict[str, tuple[str, int, Any]] = {}
        """Last (ETag, status, body) per path, for If-None-Match."""
        self._retry_after: dict[str, float] = {}
        """The Retry-After of each operation's last read, in seconds."""
        self._unlisted: dict[str, str] = {}
        """The status word of each operation whose last read the definition does not list."""

    @classmethod
    def normalize_id(cls, text: str) -> str:
        """An id as the definition's pattern has it (the whole text must match)."""
        cleaned = text.strip()
        if cls.definition.id_pattern.fullmatch(cleaned) is None:
            example = cls.definition.id_example
            shown = (
                f"like {example}" if example else f"matching {cls.definition.id_pattern.pattern}"
            )
            raise UsageError(f"a {cls.definition.label} operation id looks {shown}")
        return cleaned

    async def fetch(self, op_id: str) -> Operation:
        """One read of the status URL (and of the `also` documents)."""
        definition = self.definition
        groups = self._groups(op_id)
        allowed = frozenset(code for rule in definition.state.rules for code in rule.http_status)
        status, payload, response = await self._get(definition.status.fill(groups), allowed)
        also = {}
        for name, template in definition.also.items():
            also[name] = (await self._get(template.fill(groups), frozenset()))[1]
        if definition.polling.retry_after:
            delay = parse_retry_after(response.headers.get("Retry-After"))
            if delay is not None:
                self._retry_after[op_id] = delay
            else:
                self._retry_after.pop(op_id, None)
        operation, unlisted = read_operation(
            definition, payload, op_id, http_status=status, also=also
        )
        if unlisted is None:
            self._unlisted.pop(op_id, None)
        else:
            self._unlisted[op_id] = unlisted  # for unplaced_status, right after this read
        return operation

    async def errors(self, operation: Operation) -> AsyncIterator[OperationError]:
        """Rows from the body, then from each error URL, page by page."""
        for source in self.definition.errors:
            if source.url is None:
                for row in body_errors(source, operation.raw, self.name, operation.id):
                    yield row
                continue
            values = self._groups(operation.id)
            for name, expression in source.variables.items():
                value = text(expression.search(operation.raw))
                if not value:
                    break  # e.g. no error file yet: nothing to list from this source
                values[name] = value
            else:
                async for row in self._listed(source, source.url.fill(values), operation.id):
                    yield row

    def unplaced_status(self, operation: Operation) -> str | None:
        """A word the definition does not list, named with where it is declared (its state
        is `other`, which need not be unknown); else as for any provider."""
        if operation.id in self._unlisted:
            definition = self.definition
            return (
                f"which the definition in {definition.source} does not list; "
                f"read as {definition.state.other.value}"
            )
        return super().unplaced_status(operation)

    def error_text(self, payload: Any) -> str | None:
        """The message the definition's `error_message` reads in an error body."""
        expression = self.definition.error_message
        return text(expression.search(payload)) if expression else None

    def poll_delay(self, operation: Operation, delay: float) -> float:
        """The engine's delay held within the definition's bounds, and never sooner than the
        Retry-After of the last read."""
        polling = self.definition.polling
        if polling.min_interval_s is not None:
            delay = max(delay, polling.min_interval_s)
        if polling.max_interval_s is not None:
            delay = min(delay, polling.max_interval_s)
        return max(delay, self._retry_after.get(operation.id, 0.0))

    @classmethod
    def listing_note(cls, operation: Operation, listed: int) -> str | None:
        """A failed count beyond the rows listed (Wesog: `num_bad` 4, one `errors[]` entry)."""
        unlisted = (operation.error_count or 0) - listed
        if unlisted <= 0 or not cls.definition.errors:
            return None
        return f"{cls.definition.label} counts {unlisted} more failed items than it lists"

    # -- requests --

    def _groups(self, op_id: str) -> dict[str, str]:
        found = self.definition.id_pattern.fullmatch(op_id)
        if found is None:
            raise UsageError(f"{op_id!r} is not a {self.label} operation id")
        return {name: value or "" for name, value in found.groupdict().items()}

    def _headers(self) -> dict[str, str]:
        headers = dict(self.definition.headers)
        if self.definition.auth is not None:
            headers.update(self.definition.auth.headers(self.profile))
        return headers

    async def _get(self, path: str, allowed: frozenset[int]) -> tuple[int, Any, httpx.Response]:
        """GET `path`: (status, decoded body or None when empty, response). A status a state
        rule names is read like a success (Azure's Location flavour: 202, no body)."""
        headers = self._headers()
        cached = self._cache.get(path) if self.definition.polling.etag else None
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        response = await self.send("GET", path, headers=headers)
        if response.status_code == 304 and cached is not None:
            return cached[1], cached[2], response
        if not response.is_success and response.status_code not in allowed:
            raise self.http_error(response)
        if not response.content.strip():
            payload = None
        elif response.is_success:
            payload = self.decode(response)
        else:
            try:
                payload = self.decode(response)
            except ProviderError:
                payload = None  # a status a rule decides on may come with any body
        etag = response.headers.get("ETag")
        if etag and self.definition.polling.etag:
            self._cache[path] = (etag, response.status_code, payload)
        return response.status_code, payload, response

    async def _listed(
        self, source: ErrorSource, path: str, op_id: str
    ) -> AsyncIterator[OperationError]:
        """Every row at `path` and the pages after it."""
        seen = {path}
        for _ in range(MAX_ERROR_PAGES):
            if source.format == "jsonl":
                rows, response = await self._lines(path)
                page: Any = None
            else:
                page, response = await self._page(path)
                rows = source.rows.search(page) if source.rows else page
            for row in error_rows(source, rows, self.name, op_id):
                yield row
            following = self._next(source, path, page, response)
            if following is None or following in seen:
                return
            seen.add(following)
            path = following

    async def _page(self, path: str) -> tuple[Any, httpx.Response]:
        response = await self.request("GET", path, headers=self._headers())
        return (self.decode(response) if response.content.strip() else None), response

    async def _lines(self, path: str) -> tuple[list[Any], httpx.Response]:
        """A JSON Lines document, one row per non-blank line.

        Read whole: OpenAI's error file holds one line per failed request of a batch (at most
        50,000), a few MB.
        """
        response = await self.request("GET", path, headers=self._headers())
        rows = []
        # Split as bytes, on \n and \r only: str.splitlines would also split at U+2028 inside
        # a string, which JSON allows unescaped. Each line is read as every body is (base.py):
        # a line that is not UTF-8, or holds NaN, is not JSON.
        for number, line in enumerate(response.content.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(loads_json(line))
            except ValueError:  # UnicodeDecodeError is one
                raise ProviderError(
                    f"{self.label} sent an error file opwatch cannot read: line {number} is "
                    "not JSON",
                    transient=False,
                ) from None
        return rows, response

    def _next(
        self, source: ErrorSource, path: str, page: Any, response: httpx.Response
    ) -> str | None:
        """The path of the next page, if there is one."""
        if source.paging == "link":
            target = response.links.get("next", {}).get("url")
            if not target:
                return None
            return self.on_origin(urljoin(str(response.request.url), target))
        if source.paging == "token" and source.token is not None and source.token_param:
            token = text(source.token.search(page))
            if not token:
                return None
            return _with_param(path, source.token_param, token)
        return None

    def on_origin(self, url: str) -> str:
        """The path under the profile's `url` that `url` names; refused when it is anywhere
        else, so that the credential goes only where the profile says."""
        return path_on_origin(url, self.profile.url, self.label)


def path_on_origin(url: str, base: str, label: str) -> str:
    """`url` as a path under `base`, or a ProviderError when it leaves `base`'s origin."""
    target, home = urlsplit(url), urlsplit(base)

    def origin(parts: Any) -> tuple[str, str, int | None]:
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)

    prefix = home.path.rstrip("/")
    if origin(target) != origin(home) or not (
        target.path == prefix or target.path.startswith(prefix + "/")
    ):
        raise ProviderError(
            f"{label} pointed to {target.scheme}://{target.netloc}{target.path} for the next "
            f"page, which is not under the profile's url {base}: refused, so the credential "
            "is not sent elsewhere",
            transient=False,
        )
    path = target.path[len(prefix) :] or "/"
    return f"{path}?{target.query}" if target.query else path


def _with_param(path: str, name: str, value: str) -> str:
    """`path` with the query parameter `name` set to `value` (replacing an earlier one)."""
    head, _, query = path.partition("?")
    kept = [part for part in query.split("&") if part and part.split("=")[0] != name]
    return f"{head}?{'&'.join([*kept, urlencode({name: value})])}"


# --- validation: from YAML to a Definition ---------------------------------------------------


class _Where:
    """Messages that name the provider, where it is declared and the key."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"provider '{self.name}' ({self.source}): '{key}' {problem}")


def _mapping(
    where: _Where, key: str, value: Any, allowed: frozenset[str] | None = None
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(key, "must be a mapping")
    if allowed is not None:
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise where.error(
                f"{key}.{unknown[0]}" if key else unknown[0],
                f"is not a key of a definition here (known: {', '.join(sorted(allowed))})",
            )
    return {str(k): v for k, v in value.items()}


def _string(where: _Where, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(key, "must be a string")
    return str(value)


def _expression(where: _Where, key: str, value: Any) -> Expression:
    source = _string(where, key, value)
    try:
        compiled = jmespath.compile(source)
    except JMESPathError as exc:
        position = getattr(exc, "lex_position", None)
        reason = getattr(exc, "message", None) or getattr(exc, "msg", None) or "cannot parse"
        at = f" at character {position + 1}" if isinstance(position, int) else ""
        raise where.error(
            key, f"is not a JMESPath expression: {reason}{at} in {source!r}"
        ) from None
    _check_functions(where, key, compiled.parsed, source)
    return Expression(source, compiled)


def _check_functions(where: _Where, key: str, node: Any, source: str) -> None:
    """Unknown functions and wrong argument counts: jmespath reports them only when an
    expression runs, where they would read as null on every body."""
    if not isinstance(node, dict):
        return
    if node.get("type") == "function_expression":
        name = node.get("value")
        entry = _FUNCTIONS.get(name)
        if entry is None:
            raise where.error(key, f"calls an unknown JMESPath function {name}() in {source!r}")
        signature = entry["signature"]
        given = len(node.get("children", []))
        variadic = bool(signature) and signature[-1].get("variadic")
        if given < len(signature) or (not variadic and given > len(signature)):
            raise where.error(
                key, f"calls {name}() with {given} arguments, it takes {len(signature)}"
            )
    for child in node.get("children", []):
        _check_functions(where, key, child, source)


def _state_name(where: _Where, key: str, value: Any) -> State:
    state = STATES.get(str(value).strip().lower()) if isinstance(value, str) else None
    if state is None:
        raise where.error(key, f"is not a state: {value!r} (states: {', '.join(STATES)})")
    return state


def _template(where: _Where, key: str, value: Any, defined: frozenset[str]) -> Template:
    source = _string(where, key, value)
    if not source.startswith(("/", "{")):
        raise where.error(
            key, f"must be a path under the profile's url, starting with '/' (got {source!r})"
        )
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise where.error(key, f"is not a URL template: {exc}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _IDENTIFIER.match(name) or spec or conversion:
            raise where.error(key, f"has a hole {{{name}}} that is not a plain {{name}}")
        if name not in defined:
            known = ", ".join(sorted(defined)) or "none"
            raise where.error(
                key,
                f"uses {{{name}}}, which the id pattern does not define (its groups: {known})",
            )
    return Template(source)


def _interval(where: _Where, key: str, value: Any) -> float:
    try:
        return parse_duration(_string(where, key, value))
    except ValueError as exc:
        raise where.error(key, str(exc)) from None


def _flag(where: _Where, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.error(key, f"must be true or false (got {value!r})")
    return value


def definition_from(name: str, body: Any, source: str) -> Definition:
    """Validate a definition as YAML gives it; a ConfigError names provider, key and problem."""
    where = _Where(name, source)
    if not NAME.match(name):
        raise where.error("name", "must be lower-case letters, digits, '-' or '_'")
    body = _mapping(where, "", body, _TOP_KEYS)
    for required in ("id", "status", "state"):
        if required not in body:
            raise where.error(required, "is required")

    raw_id = body["id"]
    raw_id = {"pattern": raw_id} if isinstance(raw_id, str) else raw_id
    raw_id = _mapping(where, "id", raw_id, frozenset({"pattern", "example"}))
    pattern_text = _string(where, "id.pattern", raw_id.get("pattern"))
    try:
        pattern = re.compile(pattern_text)
    except re.error as exc:
        raise where.error("id.pattern", f"is not a regular expression: {exc}") from None
    groups = frozenset(pattern.groupindex)
    example = _string(where, "id.example", raw_id["example"]) if "example" in raw_id else None
    if example is not None and not pattern.fullmatch(example):
        raise where.error("id.example", f"{example!r} does not match id.pattern")

    status = _template(where, "status", body["status"], groups)
    also = {
        str(key): _template(where, f"also.{key}", value, groups)
        for key, value in _mapping(where, "also", body.get("also", {})).items()
    }

    auth = _auth(where, body["auth"]) if "auth" in body else None
    headers = {
        key: _string(where, f"headers.{key}", value)
        for key, value in _mapping(where, "headers", body.get("headers", {})).items()
    }

    fields: dict[str, Expression] = {}
    for key in ("kind", "message", "error_count"):
        if key in body:
            fields[key] = _expression(where, key, body[key])
    progress = _mapping(where, "progress", body.get("progress", {}), frozenset(PROGRESS_KEYS))
    for key, value in progress.items():
        fields[key] = _expression(where, f"progress.{key}", value)
    times = _mapping(where, "times", body.get("times", {}), frozenset({*TIME_KEYS, "format"}))
    time_format = str(times.pop("format", "rfc3339"))
    if time_format not in TIME_FORMATS:
        raise where.error(
            "times.format", f"must be one of {', '.join(TIME_FORMATS)} (got {time_format!r})"
        )
    for key, value in times.items():
        fields[key] = _expression(where, f"times.{key}", value)

    raw_errors = body.get("errors", [])
    raw_errors = [raw_errors] if isinstance(raw_errors, dict) else raw_errors
    if not isinstance(raw_errors, list):
        raise where.error("errors", "must be a mapping, or a list of them")
    errors = tuple(
        _errors(where, f"errors[{n}]" if len(raw_errors) > 1 else "errors", raw, groups)
        for n, raw in enumerate(raw_errors)
    )

    url = _string(where, "url", body["url"]) if "url" in body else None
    if url is not None and has_userinfo(url):
        # Before the message below, which shows the URL: it would print the password.
        raise where.error(
            "url", "must not hold a user name or password; a profile gives it (see auth.secret)"
        )
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        raise where.error("url", f"must look like https://host[:port] (got {url!r})")
    return Definition(
        name=name,
        label=_string(where, "label", body.get("label", name)),
        source=source,
        id_pattern=pattern,
        id_example=example,
        status=status,
        state=_state(where, body["state"]),
        description=_string(where, "description", body["description"])
        if "description" in body
        else None,
        default_url=url.rstrip("/") if url else None,
        auth=auth,
        headers=headers,
        fields=fields,
        time_format=time_format,
        also=also,
        errors=errors,
        error_message=_expression(where, "error_message", body["error_message"])
        if "error_message" in body
        else None,
        polling=_polling(where, body.get("polling", {})),
    )


def _auth(where: _Where, raw: Any) -> Auth:
    raw = _mapping(
        where, "auth", raw, frozenset({"scheme", "secret", "header", "prefix", "username"})
    )
    scheme = str(raw.get("scheme", "header"))
    secret = _string(where, "auth.secret", raw.get("secret", "token"))
    if not _IDENTIFIER.match(secret):
        raise where.error("auth.secret", f"must be a profile key name (got {secret!r})")
    if scheme == "bearer":
        return Auth(secret, prefix="Bearer ")
    if scheme == "basic":
        username = _string(where, "auth.username", raw.get("username", "username"))
        if not _IDENTIFIER.match(username) or username == secret:
            raise where.error(
                "auth.username",
                f"must be a profile key name other than the secret's (got {username!r})",
            )
        return Auth(secret, prefix="Basic ", username=username)
    if scheme == "header":
        header = _string(where, "auth.header", raw.get("header", "Authorization"))
        return Auth(
            secret, header=header, prefix=_string(where, "auth.prefix", raw.get("prefix", ""))
        )
    raise where.error("auth.scheme", f"must be bearer, basic or header (got {scheme!r})")


def _state(where: _Where, raw: Any) -> StateReading:
    raw = _mapping(
        where, "state", raw, frozenset({"word", "rules", "words", "ignore_case", "other"})
    )
    ignore_case = _flag(where, "state.ignore_case", raw.get("ignore_case", False))
    rules = []
    raw_rules = raw.get("rules", [])
    if not isinstance(raw_rules, list):
        raise where.error("state.rules", "must be a list of {when, http_status, state, word}")
    for n, rule in enumerate(raw_rules):
        key = f"state.rules[{n}]"
        rule = _mapping(where, key, rule, frozenset({"when", "http_status", "state", "word"}))
        if "state" not in rule:
            raise where.error(f"{key}.state", "is required")
        codes = rule.get("http_status", [])
        codes = codes if isinstance(codes, list) else [codes]
        if not all(
            isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes
        ):
            raise where.error(
                f"{key}.http_status", f"must be HTTP status codes (got {rule['http_status']!r})"
            )
        rules.append(
            Rule(
                state=_state_name(where, f"{key}.state", rule["state"]),
                when=_expression(where, f"{key}.when", rule["when"]) if "when" in rule else None,
                http_status=frozenset(codes),
                word=_string(where, f"{key}.word", rule["word"]) if "word" in rule else None,
            )
        )
    words = {}
    for word, state in _mapping(where, "state.words", raw.get("words", {})).items():
        words[word.casefold() if ignore_case else word] = _state_name(
            where, f"state.words.{word}", state
        )
    if "word" not in raw and not rules:
        raise where.error("state", "needs a 'word' expression or 'rules'")
    return StateReading(
        word=_expression(where, "state.word", raw["word"]) if "word" in raw else None,
        rules=tuple(rules),
        words=words,
        ignore_case=ignore_case,
        other=_state_name(where, "state.other", raw.get("other", "unknown")),
    )


def _errors(where: _Where, key: str, raw: Any, groups: frozenset[str]) -> ErrorSource:
    raw = _mapping(
        where,
        key,
        raw,
        frozenset({"url", "with", "format", "rows", "paging", *ERROR_COLUMNS}),
    )
    variables = {
        name: _expression(where, f"{key}.with.{name}", value)
        for name, value in _mapping(where, f"{key}.with", raw.get("with", {})).items()
    }
    url = (
        _template(where, f"{key}.url", raw["url"], groups | frozenset(variables))
        if "url" in raw
        else None
    )
    fmt = str(raw.get("format", "json"))
    if fmt not in ("json", "jsonl"):
        raise where.error(f"{key}.format", f"must be json or jsonl (got {fmt!r})")
    if url is None and (fmt != "json" or "paging" in raw or variables):
        raise where.error(
            key, "reads rows from the operation's body: 'format', 'paging' and 'with' need a 'url'"
        )
    columns = {
        column: _expression(where, f"{key}.{column}", raw[column])
        for column in ERROR_COLUMNS
        if column in raw
    }
    if not columns:
        raise where.error(key, f"maps no column: give at least one of {', '.join(ERROR_COLUMNS)}")
    paging, token, param = None, None, None
    if "paging" in raw:
        value = raw["paging"]
        if value == "link":
            paging = "link"
        else:
            spec = _mapping(where, f"{key}.paging", value, frozenset({"token", "param"}))
            if "token" not in spec or "param" not in spec:
                raise where.error(f"{key}.paging", "is 'link' or {token: EXPRESSION, param: NAME}")
            paging = "token"
            token = _expression(where, f"{key}.paging.token", spec["token"])
            param = _string(where, f"{key}.paging.param", spec["param"])
    return ErrorSource(
        columns=columns,
        rows=_expression(where, f"{key}.rows", raw["rows"]) if "rows" in raw else None,
        url=url,
        variables=variables,
        format=fmt,
        paging=paging,
        token=token,
        token_param=param,
    )


def _polling(where: _Where, raw: Any) -> Polling:
    raw = _mapping(
        where, "polling", raw, frozenset({"min_interval", "max_interval", "retry_after", "etag"})
    )
    low = (
        _interval(where, "polling.min_interval", raw["min_interval"])
        if "min_interval" in raw
        else None
    )
    high = (
        _interval(where, "polling.max_interval", raw["max_interval"])
        if "max_interval" in raw
        else None
    )
    if low is not None and high is not None and low > high:
        raise where.error("polling.min_interval", "is more than polling.max_interval")
    return Polling(
        min_interval_s=low,
        max_interval_s=high,
        retry_after=_flag(where, "polling.retry_after", raw.get("retry_after", True)),
        etag=_flag(where, "polling.etag", raw.get("etag", False)),
    )


# --- from a file or a config entry to a registered provider ----------------------------------


def provider_type(definition: Definition) -> type[DeclaredProvider]:
    """A Provider subclass for `definition`, as the registry serves built-in ones."""
    return type(
        f"Declared_{definition.name.replace('-', '_')}",
        (DeclaredProvider,),
        {"spec": definition.spec(), "definition": definition, "__doc__": definition.description},
    )


def load_file(name: str, path: Path, where: str | None = None) -> Definition:
    """The definition in the YAML file at `path`, called `name`."""
    import yaml

    source = where or str(path)
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"provider '{name}': no definition file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"provider '{name}': cannot read {path}: {exc.__class__.__name__}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise ConfigError(f"provider '{name}': {path} is not valid YAML: {problem}{at}") from None
    return definition_from(name, body, source)


def declare(name: str, entry: Any, config_dir: Path, where: str) -> type[DeclaredProvider]:
    """Validate the `providers:` entry `name` of a config (inline, or `{file: PATH}` relative
    to the config's directory) and register it; return its Provider class."""
    if isinstance(entry, dict) and set(entry) == {"file"}:
        file = Path(_string(_Where(name, where), "file", entry["file"])).expanduser()
        path = file if file.is_absolute() else config_dir / file
        definition = load_file(name, path)
    else:
        definition = definition_from(name, entry, where)
    return register(definition)


def register(definition: Definition) -> type[DeclaredProvider]:
    """Make `definition` a provider the registry serves by its name."""
    from opwatch.providers import register_declared

    cls = provider_type(definition)
    register_declared(cls)
    return cls
