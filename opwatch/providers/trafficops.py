"""Traffic Ops (Apache Traffic Control): `GET /api/{version}/async_status/{id}` behind a login.

Everything opwatch knows of Traffic Ops is here: its spec (two ways to sign in, API versions, no
default host), its id syntax (a job number or the Location its 202 names), its login with
version fallback and re-login, and its parser of free-text job messages.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from opwatch.errors import AuthError, ProviderError, UsageError
from opwatch.model import Operation, OperationError, Progress, State
from opwatch.providers.base import Provider, ProviderSpec, origin_of
from opwatch.providers.parsing import as_id, as_text, done_count, parse_timestamp

if TYPE_CHECKING:
    import httpx

    from opwatch.config import Profile
    from opwatch.http import Http

API_VERSIONS = ("5.0", "4.1", "4.0")
"""The versions with `async_status` (not 3.x), newest first: the order a login tries them."""
SPEC = ProviderSpec(
    name="trafficops",
    label="Traffic Ops",
    secret_keys=("password", "token"),
    # A login takes a user and password, or a token (`/user/login/token`).
    credentials=(("username", "password"), ("token",)),
    options={"username": None, "api_version": API_VERSIONS},
    default_url=None,  # every Traffic Ops is an organisation's own server
)
_ID = re.compile(r"^\d+$")
# A job's 202 reply names its status as `Location: /api/4.0/async_status/17` (always 4.0).
# Only that exact path is a Location: any text that merely ends like one (a mistyped profile
# in `cdn-prd:/api/4.0/async_status/3`) must not read a job of another Traffic Ops.
_LOCATION = re.compile(r"/api/\d+(?:\.\d+)?/async_status/(\d+)/?")
_URL = re.compile(r"(https?://[^/?#\s]+)(/.*)", re.IGNORECASE)
_STATES = {"PENDING": State.RUNNING, "SUCCEEDED": State.SUCCEEDED, "FAILED": State.FAILED}
_ERRORS = re.compile(r"(\d+)\s+errors?\b", re.IGNORECASE)
_GOOD = re.compile(
    r"(?:updated\s+(\d+))|(?:(\d+)\s+(?:\w+\s+)?(?:renewed|updated|refreshed|generated))",
    re.IGNORECASE,
)


def message_counts(message: str | None) -> tuple[int | None, int | None]:
    """(good, bad) counts in a job's free-text message, where the text has them:
    `ACME renewal complete. 5 certs renewed, 2 errors.` → (5, 2)."""
    if not message:
        return None, None
    bad_match = _ERRORS.search(message)
    good_match = _GOOD.search(message)
    good = int(next(g for g in good_match.groups() if g)) if good_match else None
    return good, int(bad_match.group(1)) if bad_match else None


def parse_operation(payload: Any, op_id: str | None = None) -> Operation:
    """Read one `{"response": {...}}` async status body into an Operation.

    `PENDING` means running: jobs start at once. A `SUCCEEDED` job whose message reports errors
    finished partial. `end_time` is left out while the job runs (the docs show null): both work.
    """
    job = payload.get("response") if isinstance(payload, dict) else None
    if not isinstance(job, dict):
        raise ProviderError(
            'Traffic Ops answered a body opwatch cannot read: expected {"response": {...}}'
        )
    status = as_text(job.get("status"))
    state = _STATES.get((status or "").upper(), State.UNKNOWN)  # any string can appear
    message = as_text(job.get("message"))
    good, bad = message_counts(message)
    if state is State.SUCCEEDED and bad:
        state = State.PARTIAL
    return Operation(
        provider="trafficops",
        id=as_id(job.get("id"), op_id),
        state=state,
        provider_status=status,
        progress=Progress(
            percent=100.0 if state.terminal else None,
            done=done_count(good, bad),
            good=good,
            bad=bad,
        ),
        error_count=bad,
        message=message,
        started_at=parse_timestamp(job.get("start_time")),
        finished_at=parse_timestamp(job.get("end_time")),
        raw=payload,
    )


class TrafficOpsProvider(Provider):
    """Reads Traffic Ops async jobs, logging in with a cookie session first."""

    spec: ClassVar[ProviderSpec] = SPEC

    def __init__(self, profile: Profile, client: Http) -> None:
        super().__init__(profile, client)
        pinned = profile.options.get("api_version")
        self._versions = (pinned,) if pinned else API_VERSIONS
        self.version: str | None = None
        """The API version the server answered the login on."""
        self._login_lock = asyncio.Lock()
        self._logins = 0
        """Logins done; a 401 on a session older than the latest login needs none of its own."""

    @staticmethod
    def normalize_id(text: str) -> str:
        """A job id, or the `Location` value of the 202 reply that started it."""
        cleaned = text.strip()
        if _ID.match(cleaned):
            return str(int(cleaned))
        location = _LOCATION.fullmatch(cleaned)
        if location:
            return location.group(1)
        raise UsageError(
            "a Traffic Ops job id is a whole number, or a Location like /api/4.0/async_status/17"
        )

    @classmethod
    def id_for(cls, text: str, profile: Profile) -> str:
        """A job id, its Location path, or the Location as a full URL on the profile's own
        origin: a URL of another host names a job of another Traffic Ops, which this profile
        must not read in its place."""
        url = _URL.fullmatch(text.strip())
        if url is None:
            return cls.normalize_id(text)
        given, mine = origin_of(url.group(1)), origin_of(profile.url)
        if given != mine:
            raise UsageError(
                f"{url.group(1)} is not the host of profile '{profile.name}' ({mine}); "
                "name the profile of that host, or give the job number"
            )
        return cls.normalize_id(url.group(2))

    async def fetch(self, op_id: str) -> Operation:
        """One read of `GET /api/{version}/async_status/{op_id}`; logs in again once on 401,
        as the official Go client does (sessions last 6 h and can be dropped any time)."""
        logins = await self._logged_in()
        response = await self.send("GET", f"/api/{self.version}/async_status/{op_id}")
        if response.status_code == 401:
            await self._login(after=logins)
            response = await self.send("GET", f"/api/{self.version}/async_status/{op_id}")
        if not response.is_success:
            raise self.http_error(response)
        return parse_operation(self.decode(response), op_id)

    async def errors(self, operation: Operation) -> AsyncIterator[OperationError]:
        """A failed job, or one that succeeded with errors, yields one row with its message;
        the message is all Traffic Ops says about what went wrong."""
        if operation.state in (State.FAILED, State.PARTIAL):
            yield OperationError(provider="trafficops", id=operation.id, message=operation.message)

    def error_text(self, payload: Any) -> str | None:
        """`{"alerts": [{"text", "level"}]}`: the texts, joined."""
        alerts = payload.get("alerts") if isinstance(payload, dict) else None
        if not isinstance(alerts, list):
            return None
        texts = [a.get("text") for a in alerts if isinstance(a, dict)]
        return "; ".join(t for t in texts if isinstance(t, str)) or None

    async def _logged_in(self) -> int:
        """Log in unless done; return the login count the next request's session belongs to."""
        if self._logins == 0:
            await self._login(after=0)
        return self._logins

    async def check(self) -> None:
        """A login: the one authenticated step every read begins with."""
        await self._login(after=self._logins)

    async def _login(self, after: int) -> None:
        """Log in, unless another read already did since login number `after`. One login at
        a time, and a refused one is final for the run: the reads waiting on it raise that
        refusal instead of trying again (a lockout counts failed logins per user)."""
        async with self._login_lock:
            if self.refused is not None:
                raise self.refused
            if self._logins > after:
                return
            for version in self._versions if self.version is None else (self.version,):
                response = await self._send_login(version)
                # A version the server does not implement answers 501; try the next older one.
                if response.status_code == 501 and self.version is None:
                    continue
                if response.status_code in (401, 403):
                    self.refused = self._login_refused(response)
                    raise self.refused
                if not response.is_success:
                    raise self.http_error(response)
                self.version = version
                self._logins += 1
                return
            raise ProviderError(
                f"Traffic Ops at {self.profile.url} implements none of API versions "
                f"{', '.join(self._versions)} (it answered 501 to each)",
                transient=False,
            )

    async def _send_login(self, version: str) -> httpx.Response:
        secrets = self.profile.secrets
        if "password" in secrets:
            body = {"u": self.profile.options.get("username"), "p": secrets["password"].reveal()}
            return await self.send("POST", f"/api/{version}/user/login", json=body)
        body = {"t": secrets["token"].reveal()}
        return await self.send("POST", f"/api/{version}/user/login/token", json=body)

    def _login_refused(self, response: httpx.Response) -> AuthError:
        said = self._detail(response)
        who = (
            f"user '{self.profile.options.get('username')}'"
            if "password" in self.profile.secrets
            else "the token"
        )
        return AuthError(
            f"Traffic Ops refused the login of {who} for profile '{self.profile.name}' "
            f"({response.status_code}{': ' + said if said else ''}); "
            f"check {self.profile.secret_hint(self.credential_in_use())}"
        )
