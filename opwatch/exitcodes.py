"""Exit codes, the order in which several outcomes become one, and the help text that lists them.

The numbers are part of the product contract (SPEC.md): scripts branch on them. This module
imports nothing of opwatch, so every other module (errors, model, the commands) can lean on it.
"""

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes opwatch uses, each with what it means to a user.

    The meaning is data, not a docstring, because Python keeps no docstring of an enum member:
    `--help` (help_epilog) and the README's table are both checked against it.
    """

    meaning: str

    def __new__(cls, code: int, meaning: str) -> "ExitCode":
        member = int.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    OK = 0, "every operation succeeded (status: every read worked)"
    BUG = 1, "an unexpected error: a bug, never used on purpose"
    USAGE = 2, "usage error (bad flag or argument)"
    FAILED = 3, "at least one operation failed (or ended partial without --allow-partial)"
    TIMEOUT = 4, "the deadline passed with an operation still pending or running"
    CONFIG = 5, "config error: no config, bad YAML, unknown profile, missing variable"
    AUTH = 6, "authentication or permission refused (401/403, failed login)"
    UNREACHABLE = 7, "provider unreachable or answering garbage after the retry budget"
    NOT_FOUND = 8, "operation not found (404)"
    INTERRUPTED = 130, "interrupted (Ctrl-C)"
    TERMINATED = 143, "terminated (SIGTERM)"


# With several operations, the first code of this list that applies wins (SPEC.md).
PRECEDENCE = (
    ExitCode.CONFIG,
    ExitCode.AUTH,
    ExitCode.NOT_FOUND,
    ExitCode.UNREACHABLE,
    ExitCode.FAILED,
    ExitCode.TIMEOUT,
)


def combine(codes: Iterable[ExitCode]) -> ExitCode:
    """Return the code that speaks for several operations: the first of PRECEDENCE present."""
    present = set(codes)
    for code in PRECEDENCE:
        if code in present:
            return code
    return ExitCode.OK


def help_epilog() -> str:
    """The exit codes as `--help` lists them: one line per code, then the precedence rule."""
    width = max(len(str(int(code))) for code in ExitCode)
    lines = [f"{int(code):<{width}}  {code.meaning}" for code in ExitCode]
    order = ", ".join(str(int(code)) for code in (*PRECEDENCE, ExitCode.OK))
    return "\n".join(
        ["Exit codes:", *lines, f"With several operations, the first that applies of {order}."]
    )
