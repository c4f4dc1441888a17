"""rich consoles for opwatch's two streams: stdout for data, stderr for people."""

from typing import TextIO

from rich.console import Console


def make_console(
    file: TextIO, *, color: bool, width: int | None = None, terminal: bool | None = None
) -> Console:
    """A console on `file`; no colour or styling escapes unless `color`."""
    return Console(
        file=file,
        width=width,
        force_terminal=terminal,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=False,
        emoji=False,
    )
