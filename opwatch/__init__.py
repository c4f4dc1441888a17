"""opwatch: check, wait on and explain long-running asynchronous operations of remote APIs.

As a library: `opwatch.status(refs)`, `opwatch.wait(refs, timeout=...)`,
`opwatch.list_errors(refs)` and their `_async` twins (see `opwatch.api`). Names are loaded on
first use, so `import opwatch` (and the command's start-up) costs nothing more.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_WHERE = {
    "status": "opwatch.api",
    "status_async": "opwatch.api",
    "wait": "opwatch.api",
    "wait_async": "opwatch.api",
    "list_errors": "opwatch.api",
    "list_errors_async": "opwatch.api",
    "WaitResult": "opwatch.api",
    "OpwatchWarning": "opwatch.api",
    "Operation": "opwatch.model",
    "OperationError": "opwatch.model",
    "State": "opwatch.model",
    "ExitCode": "opwatch.exitcodes",
    "OpwatchError": "opwatch.errors",
    "UsageError": "opwatch.errors",
    "ConfigError": "opwatch.errors",
    "AuthError": "opwatch.errors",
    "NotFound": "opwatch.errors",
    "ProviderError": "opwatch.errors",
}

if TYPE_CHECKING:
    from opwatch.api import (
        OpwatchWarning,
        WaitResult,
        list_errors,
        list_errors_async,
        status,
        status_async,
        wait,
        wait_async,
    )
    from opwatch.errors import (
        AuthError,
        ConfigError,
        NotFound,
        OpwatchError,
        ProviderError,
        UsageError,
    )
    from opwatch.exitcodes import ExitCode
    from opwatch.model import Operation, OperationError, State


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'opwatch' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [  # noqa: RUF022  the order of _WHERE: the API, then the model, then the errors
    "__version__",
    "status",
    "status_async",
    "wait",
    "wait_async",
    "list_errors",
    "list_errors_async",
    "WaitResult",
    "OpwatchWarning",
    "Operation",
    "OperationError",
    "State",
    "ExitCode",
    "OpwatchError",
    "UsageError",
    "ConfigError",
    "AuthError",
    "NotFound",
    "ProviderError",
]
