"""opwatch's own exceptions: each carries the exit code it ends the process with.

Messages are sentences a user can act on, and never contain a secret.
"""

from collections.abc import Iterable

from opwatch.exitcodes import ExitCode


class OpwatchError(Exception):
    """Base of every error opwatch reports to the user instead of a traceback."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(OpwatchError):
    """A bad argument, such as an unparseable REF or duration."""

    exit_code = ExitCode.USAGE


class ConfigError(OpwatchError):
    """No config, bad YAML, unknown profile, missing variable, wrong type."""

    exit_code = ExitCode.CONFIG


class AuthError(OpwatchError):
    """The provider refused the credentials (401/403, failed login)."""

    exit_code = ExitCode.AUTH


class NotFound(OpwatchError):
    """The operation does not exist (404)."""

    exit_code = ExitCode.NOT_FOUND


class ProviderError(OpwatchError):
    """The provider could not be reached or answered something opwatch cannot use.

    `transient` faults (connect errors, timeouts, 5xx, 429, a proxy's HTML page) are worth
    retrying; `retry_after` is the delay in seconds the provider asked for, if it did.
    """

    exit_code = ExitCode.UNREACHABLE

    def __init__(
        self,
        message: str,
        *,
        transient: bool = True,
        retry_after: float | None = None,
        origin: str | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
        self.origin = origin
        """`scheme://host[:port]` when no connection to it could be made at all (refused,
        unknown host, TLS refused): every operation of that origin shares the fault, so it is
        retried and reported once for all of them, not once each."""


class NoLongerKept(Exception):
    """The provider no longer keeps an operation's failed items (Toloka drops a log after a
    month). Not a failure of the run: the listing worked and says so, with exit code 0."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def shared_by(error: OpwatchError, profile: str) -> str | None:
    """What else `error`, met reading an operation of `profile`, stops: `profile 'cdn'` for
    a refusal (every operation of the profile), the origin for a failure to connect (every
    operation there); None when it concerns that one operation. Displays say such an error
    once, with how many operations it stopped, not once per operation."""
    if isinstance(error, AuthError):
        return f"profile '{profile}'"
    if isinstance(error, ProviderError) and error.origin is not None:
        return error.origin
    return None


def shared_errors(stopped: Iterable[tuple[str, OpwatchError]]) -> list[str]:
    """One message per error that stopped a whole profile or origin (see `shared_by`), with
    how many operations it stopped, from the (profile, error) of each stopped operation;
    errors of one operation alone are left out."""
    shared: dict[str, tuple[OpwatchError, int]] = {}
    for profile, error in stopped:
        scope = shared_by(error, profile)
        if scope is not None:
            first, count = shared.get(scope, (error, 0))
            shared[scope] = (first, count + 1)
    return [
        f"{error}; {count} operations of {scope} not read" if count > 1 else str(error)
        for scope, (error, count) in shared.items()
    ]
