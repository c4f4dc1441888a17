"""Help pages: plain text in whole sentences, each command listing the outputs it accepts, and
no square brackets swallowed as markup."""

import io
import re
from typing import Any

import pytest
import typer.main

from opwatch.cli import app, main
from opwatch.runtime import Runtime

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


def help_page(*args: str) -> str:
    stdout, stderr = io.StringIO(), io.StringIO()
    runtime = Runtime(stdout=stdout, stderr=stderr, env={}, stdout_is_tty=False)
    assert main([*args, "--help"], runtime) == 0
    assert stderr.getvalue() == ""
    return stdout.getvalue()


@pytest.mark.parametrize(
    ("command", "formats"),
    [
        ("status", "table|wide|json"),
        ("wait", "table|wide|json|events|github"),
        ("list-errors", "table|wide|json|github"),
        ("profiles", "table|json"),
    ],
)
def test_each_command_lists_the_outputs_it_accepts(command: str, formats: str) -> None:
    page = help_page(command)
    assert f"-o, --output {formats}" in page
    described = page.split("Output format.")[1].split("--json")[0]
    for fmt in formats.split("|"):
        assert f"{fmt}:" in " ".join(described.split())


def test_help_is_plain_text_in_whole_sentences() -> None:
    for args in ((), ("status",), ("wait",), ("list-errors",), ("demo",), ("simulate",)):
        page = help_page(*args)
        assert not set("╭╮╰╯│─") & set(page), args  # no boxes, in a pipe or anywhere
        prose = page.replace("[ARGS]...", "").replace("{REF...}", "").replace("REF...", "")
        assert "..." not in prose, args  # no sentence cut short
    commands = help_page().split("Commands:")[1].split("\n\n")[0].splitlines()
    assert all(line.rstrip().endswith(".") for line in commands if line.strip())
    codes = help_page("wait").split("Exit codes:")[1].splitlines()
    assert codes[1].split() == ["0", "every", "operation", "succeeded", "(status:", "every",
                                "read", "worked)"]  # fmt: skip


def test_a_usage_error_is_one_plain_line() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    runtime = Runtime(stdout=stdout, stderr=stderr, env={}, stdout_is_tty=False)
    assert main(["wait", "media:1", "-o", "wide", "--until", "some"], runtime) == 2
    assert stderr.getvalue().count("\n") == 1
    assert stderr.getvalue().startswith("opwatch: error: invalid value for '--until'")
