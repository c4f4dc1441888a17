"""Record `opwatch demo` as docs/demo.svg for the README: the CI-style progress lines, then
the coloured final tables, as a terminal would show them.

    uv run python docs/record_demo.py
"""

import io
from pathlib import Path

from rich.console import Console
from rich.text import Text

from opwatch.cli import main as opwatch
from opwatch.runtime import Runtime


def main() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    runtime = Runtime(stdout=stdout, stderr=stderr, stdout_is_tty=True, stderr_is_tty=False, env={})
    code = opwatch(["demo", "--speed", "3"], runtime)
    assert code == 0, stderr.getvalue()
    console = Console(record=True, width=150, file=io.StringIO(), force_terminal=True)
    console.print("$ opwatch demo", style="bold")
    console.print(Text(stderr.getvalue().rstrip(), style="dim"))
    console.print(Text.from_ansi(stdout.getvalue().rstrip()))
    target = Path(__file__).parent / "demo.svg"
    target.write_text(console.export_svg(title="opwatch demo"))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
