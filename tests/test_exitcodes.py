"""The exit codes are typed once, in the enum: --help is generated from it, and the README's
table is checked against it so the two cannot drift apart."""

import re
from pathlib import Path

import pytest

from opwatch.exitcodes import PRECEDENCE, ExitCode, combine, help_epilog

README = Path(__file__).parent.parent / "README.md"


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_readme_table_is_the_enum() -> None:
    section = readme_section("Exit codes")
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.MULTILINE)
    assert [(int(code), meaning.replace("`", "")) for code, meaning in rows] == [
        (int(code), code.meaning) for code in ExitCode
    ]


def test_the_readme_states_the_precedence() -> None:
    order = ", ".join(str(int(code)) for code in (*PRECEDENCE, ExitCode.OK))
    assert f"the code is the first that applies in this order: {order}." in " ".join(
        readme_section("Exit codes").split()
    )


def test_the_help_lists_every_code_with_its_meaning() -> None:
    lines = help_epilog().splitlines()
    assert lines[0] == "Exit codes:"
    assert lines[1] == "0    every operation succeeded (status: every read worked)"
    assert lines[-2] == "143  terminated (SIGTERM)"
    assert lines[-1] == "With several operations, the first that applies of 5, 6, 8, 7, 3, 4, 0."
    assert len(lines) == len(ExitCode) + 2


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], ExitCode.OK),
        ([ExitCode.OK, ExitCode.TIMEOUT, ExitCode.FAILED], ExitCode.FAILED),
        ([ExitCode.FAILED, ExitCode.UNREACHABLE], ExitCode.UNREACHABLE),
        ([ExitCode.UNREACHABLE, ExitCode.NOT_FOUND], ExitCode.NOT_FOUND),
        ([ExitCode.NOT_FOUND, ExitCode.AUTH, ExitCode.TIMEOUT], ExitCode.AUTH),
        ([ExitCode.AUTH, ExitCode.CONFIG], ExitCode.CONFIG),
    ],
)
def test_several_outcomes_make_one_code(codes: list[ExitCode], expected: ExitCode) -> None:
    assert combine(codes) is expected


def test_exitcodes_imports_nothing_of_opwatch() -> None:
    source = (Path(__file__).parent.parent / "opwatch" / "exitcodes.py").read_text()
    assert not re.search(r"^\s*(from|import) opwatch", source, re.MULTILINE)
