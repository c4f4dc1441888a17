"""opwatch's own exceptions: each carries the exit code it ends the process with.

Messages are sentences a user can act on, and never contain a secret.
"""

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
        self, message: str, *, transient: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
