"""Help texts as rich prints them: square brackets that rich reads as markup vanish from help."""

import re
from typing import Any

import typer.main

from opwatch.cli import app

# rich.markup's tag pattern: `[` then a lower-case letter, `#`, `/` or `@` opens a style tag.
RICH_TAG = re.compile(r"(?<!\\)\[[a-z#/@][^[]*?]")


def _texts(command: Any) -> list[tuple[str, str]]:
    texts = [(command.name or "", command.help or "")]
    texts += [
        (f"{command.name} {param.name}", getattr(param, "help", None) or "")
        for param in command.params
    ]
    for sub in getattr(command, "commands", {}).values():
        texts += _texts(sub)
    return texts


def test_no_help_text_is_swallowed_as_rich_markup() -> None:
    texts = _texts(typer.main.get_command(app))
    assert len(texts) > 30
    swallowed = [(where, text) for where, text in texts if RICH_TAG.search(text)]
    assert swallowed == []
