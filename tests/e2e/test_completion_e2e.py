"""Shell completion as a shell runs it: the script `opwatch --show-completion` prints, sourced in
a real bash, completing commands, options, profile names and REF prefixes from the config; and
the zsh and fish protocols on the installed command. Nothing is read but the config's names."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import OPWATCH

pytestmark = pytest.mark.e2e

CONFIG = """\
default_profile: alpha
profiles:
  alpha:
    provider: toloka
    url: http://127.0.0.1:1
    token_command: touch {marker}
  beta:
    provider: wesog
    api_key: ${{NOT_SET_ANYWHERE}}
  bravo:
    provider: trafficops
    url: http://127.0.0.1:1
    token: literal
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(marker=tmp_path / "secret-command-ran"))
    path.chmod(0o600)
    return path


def environment(config: Path | None) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{OPWATCH.parent}{os.pathsep}{os.environ['PATH']}"}
    if config is not None:
        env["OPWATCH_CONFIG"] = str(config)
    return env


def bash_complete(line: str, config: Path | None) -> list[str]:
    """What Tab offers at the end of `line` in a bash that sourced opwatch's script."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    script = (
        'eval "$(opwatch --show-completion bash)"\n'
        f"COMP_WORDS=({' '.join(shlex.quote(word) for word in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_opwatch_completion opwatch\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=environment(config),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing may land in the user's command line or terminal
    return [word for word in done.stdout.splitlines() if word]


def test_bash_completes_profile_names_from_the_config(config: Path) -> None:
    assert bash_complete("opwatch list b", config) == ["beta", "bravo"]
    assert bash_complete("opwatch status --profile a", config) == ["alpha"]
    assert bash_complete("opwatch wait br", config) == ["bravo:"]
    assert bash_complete("opwatch wait ", config) == ["alpha:", "beta:", "bravo:"]
    # Neither the secret helper ran nor did anything touch the network (url is port 1).
    assert not (config.parent / "secret-command-ran").exists()


def test_bash_completes_commands_and_options(config: Path) -> None:
    assert bash_complete("opwatch li", config) == ["list-errors", "list"]
    assert bash_complete("opwatch list --st", config) == ["--state"]
    assert bash_complete("opwatch config ", config) == ["init", "path"]


def test_a_config_named_on_the_line_is_the_one_read(config: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("profiles:\n  zulu: {provider: wesog, api_key: x}\n")
    assert bash_complete(f"opwatch --config {other} list ", config) == ["zulu"]
    assert bash_complete(f"opwatch list --config {other} ", config) == ["zulu"]


def test_no_or_a_broken_config_completes_nothing_quietly(tmp_path: Path) -> None:
    assert bash_complete("opwatch list ", None) == []
    broken = tmp_path / "broken.yaml"
    broken.write_text("profiles: [unclosed\n")
    assert bash_complete("opwatch list ", broken) == []


@pytest.mark.parametrize(
    ("shell", "script_has", "protocol"),
    [
        ("zsh", "compdef _opwatch_completion opwatch", {"_TYPER_COMPLETE_ARGS": "opwatch list b"}),
        ("fish", "complete --command opwatch", {"_TYPER_COMPLETE_ARGS": "opwatch list b",
                                                "_TYPER_COMPLETE_FISH_ACTION": "get-args"}),
    ],
)  # fmt: skip
def test_zsh_and_fish(config: Path, shell: str, script_has: str, protocol: dict[str, str]) -> None:
    env = environment(config)
    script = subprocess.run(
        [str(OPWATCH), "--show-completion", shell],
        capture_output=True,
        text=True,
        env={**env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
        timeout=60,
        check=True,
    )
    assert script_has in script.stdout
    # What the script runs on Tab (the shells themselves need not be installed here).
    offered = subprocess.run(
        [str(OPWATCH)],
        capture_output=True,
        text=True,
        env={**env, "_OPWATCH_COMPLETE": f"complete_{shell}", **protocol},
        timeout=60,
        check=True,
    )
    assert "beta" in offered.stdout
    assert "bravo" in offered.stdout
    assert "alpha" not in offered.stdout
