"""What a simulated provider is: the interface the simulator's core calls, and the reply a
route builds before any fault reshapes it.

A provider module holds everything about one API: its routes (`handle`), what it says about an
operation (`body`), its error bodies (`error`), its ids, credentials and config profile. The
core (`server.py`) owns the state they share: operations, sessions, statistics, the clock and
the faults.
"""

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from opwatch.simulator.http import Request
from opwatch.simulator.timeline import Phase, SimOperation, dumps

if TYPE_CHECKING:  # the core imports the providers: types only
    from opwatch.simulator.operations import OperationSpec
    from opwatch.simulator.server import Simulator

JSON = "application/json"

Stream = Callable[[bool, bool], Iterator[bytes]]
"""A chunked body: stream(half, close) yields its pieces; `half` sends half of it, and without
`close` a JSON array is never closed (a body cut short)."""


@dataclass(frozen=True)
class Reply:
    """What a route answers, before any fault reshapes it."""

    status: int
    payload: Any = None
    body: bytes | None = None
    """Raw bytes instead of `payload` as JSON."""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()
    stream: Stream | None = None

    def data(self) -> bytes:
        """The whole body as bytes (a stream generated to its end)."""
        if self.body is not None:
            return self.body
        if self.stream is not None:
            return b"".join(self.stream(False, True))
        return dumps(self.payload)


@dataclass(frozen=True)
class Routed:
    """A request a provider recognised: the reply, and what the core needs to count it and
    to find a fault for it."""

    reply: Reply
    route: str | None
    """The route's name, as faults and statistics know it; None: neither counted nor faulted
    (a path the provider does not serve at all)."""
    ref: str | None = None
    """The operation it is about, if it exists."""
    poll: bool = True
    """Whether it reads the operation (counted by REF); a Toloka log is not a poll."""


class SimProvider(ABC):
    """One simulated API. Instances are stateless singletons listed in `providers/__init__.py`;
    all state lives in the `Simulator` passed to `handle`."""

    name: ClassVar[str]
    """As scenarios and OperationSpec.provider spell it: `wesog`."""
    profile: ClassVar[str]
    """The profile of the config the simulator writes, and the first part of its REFs."""
    default_kind: ClassVar[str]
    routes: ClassVar[tuple[str, ...]]
    """The names of its routes, for faults and statistics."""
    login_routes: ClassVar[tuple[str, ...]] = ()
    """Routes where a `login_fail` fault acts."""
    credentials: ClassVar[Mapping[str, str]] = {}
    """The simulator's (fake) secrets, by the key `Simulator(credentials=…)` replaces."""
    first_id: ClassVar[int | None] = 1
    """Ids are increasing integers from this one; None: UUID4 strings."""
    sample_kinds: ClassVar[tuple[str, str, str]]
    """For the default scenario: a batch kind, another kind, and the kind of a failed one."""
    sample_status_word: ClassVar[str | None] = "ARCHIVED"
    """An unknown final status word for the default scenario; None when the API has none."""
    extra_samples: ClassVar[tuple[Mapping[str, Any], ...]] = ()
    """More operations (OperationSpec mappings) for the default scenario: the API's quirks."""
    declared: ClassVar[bool] = False
    """An API opwatch reads through a definition the user brings (examples/providers/): left
    out of the default scenario and of the config the simulator writes."""

    def check(self, spec: "OperationSpec") -> None:
        """Raise ValueError when `spec` cannot be simulated by this provider."""
        if spec.id is not None and self.first_id is not None and not is_digits(str(spec.id)):
            raise ValueError(f"a {self.name} operation id must be an integer")

    def canonical_id(self, given: str) -> str:
        """An id as the API spells it (integers without leading zeros)."""
        return given if self.first_id is None else str(int(given))

    def new_id(self, numbers: Iterator[int]) -> str:
        """A fresh id: the next of `numbers` (counted from first_id), or a UUID4."""
        return str(uuid.uuid4()) if self.first_id is None else str(next(numbers))

    @abstractmethod
    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        """The reply to `request` if it is one of this API's paths, else None."""

    @abstractmethod
    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        """What the API says about `operation` at `phase` (a status read)."""

    @abstractmethod
    def error(self, status: int, text: str) -> Any:
        """The API's error body for `status` (used by faults too)."""

    @abstractmethod
    def profile_yaml(self, url: str, credentials: Mapping[str, str]) -> str:
        """This provider's profile in the config the simulator writes (indented YAML)."""


def is_digits(text: str) -> bool:
    """Whether `text` is a plain decimal integer (no sign, no Unicode digits)."""
    return text.isascii() and text.isdigit()
