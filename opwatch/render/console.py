"""opwatch's two streams, each with one rich console: stdout for data, stderr for people.

`Printer` is the one object commands print through. Its consoles are built on first use and then
kept, with colour, width and terminal rules taken from the runtime; rich is imported only then,
so `opwatch status -o json` never loads it.
"""

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, TextIO

from opwatch.runtime import Runtime

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


def make_console(
    file: TextIO,
    *,
    color: bool,
    width: int | None = None,
    terminal: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> "Console":
    """A console on `file`; no colour or styling escapes unless `color`. `env` replaces
    os.environ for rich's own look-ups (COLUMNS, LINES, TERM, NO_COLOR)."""
    from rich.console import Console

    return Console(
        file=file,
        width=width,
        force_terminal=terminal,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=False,
        emoji=False,
        _environ=env,
    )


class Printer:
    """Everything a run prints: data on stdout, people's lines on stderr."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @cached_property
    def data(self) -> "Console":
        """The console for tables on stdout: colour only on a terminal, whole lines in a pipe."""
        runtime = self.runtime
        return make_console(
            runtime.stdout,
            color=runtime.stdout_color,
            width=runtime.stdout_width,
            terminal=runtime.stdout_is_tty or None,
            env=runtime.env,
        )

    @cached_property
    def people(self) -> "Console":
        """The console for the live view on stderr, a terminal."""
        runtime = self.runtime
        return make_console(runtime.stderr, color=runtime.color, terminal=True, env=runtime.env)

    def line(self, text: str, *, flush: bool = False) -> None:
        """One line of data (a JSON Lines record, an annotation) on stdout; `flush` when a
        reader at the other end of a pipe should see it now."""
        print(text, file=self.runtime.stdout, flush=flush)

    def table_width(self, wide: bool = False) -> int | None:
        """The width tables are fitted to: the terminal's (or $COLUMNS); None, natural widths,
        for `-o wide` and in a pipe or a file, where whole lines are what grep or a log wants."""
        runtime = self.runtime
        if wide or not (runtime.stdout_is_tty or runtime.env.get("COLUMNS")):
            return None
        return self.data.width

    def show(self, renderable: "RenderableType") -> None:
        """A table on stdout, never cropped to the console (a fitted table is as wide as the
        terminal already; a natural one is meant whole). Without colour, lines end where their
        text does: rich pads each cell to its column, and a pipe or a file has no use for it."""
        console = self.data
        if self.runtime.stdout_color:
            console.print(renderable, crop=False)
            return
        with console.capture() as captured:
            console.print(renderable, crop=False)
        text = captured.get()
        self.runtime.stdout.write("\n".join(line.rstrip() for line in text.split("\n")))

    def say(self, text: str) -> None:
        """A line for people on stderr, unless -q."""
        if not self.runtime.quiet:
            print(text, file=self.runtime.stderr, flush=True)

    def verdict(self, lines: list[str]) -> None:
        """The closing verdict of a command that judges (opwatch.render.verdict), on stderr,
        unless -q."""
        if not self.runtime.quiet:
            text = "".join(f"opwatch: {line}\n" for line in lines)
            print(text, end="", file=self.runtime.stderr, flush=True)

    def warn(self, message: str) -> None:
        """A warning for people on stderr, unless -q."""
        self.runtime.warn(message)

    def error(self, message: str) -> None:
        """An error on stderr, even with -q."""
        print(f"opwatch: error: {message}", file=self.runtime.stderr, flush=True)

    def flush(self) -> None:
        """Push out what stdout holds (a pipe reader may be waiting for it)."""
        self.runtime.stdout.flush()
