"""`opwatch config init` and `opwatch config path`: where the starter goes, that it is private,
never overwrites, holds no secret and is a config opwatch accepts; and why a file is read."""

import io
import os
import stat
from pathlib import Path

import pytest

from opwatch.cli import main
from opwatch.commands.config_cmd import starter_config
from opwatch.config import load_config, parse_config
from opwatch.errors import ConfigError
from opwatch.providers import BUILTIN
from opwatch.runtime import Runtime
from tests.e2e.conftest import Run


def run(*args: str, env: dict[str, str] | None = None) -> Run:
    stdout, stderr = io.StringIO(), io.StringIO()
    world = {**os.environ, **(env or {})}
    runtime = Runtime(stdin=io.StringIO(), stdout=stdout, stderr=stderr, env=world,
                      stdout_is_tty=False, stderr_is_tty=False)  # fmt: skip
    code = main(list(args), runtime)
    return Run(code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def user_file(isolated_env: Path) -> Path:
    return isolated_env / ".config" / "opwatch" / "config.yaml"


def test_init_writes_a_private_starter_in_the_user_config_dir(user_file: Path) -> None:
    result = run("config", "init")
    assert result.code == 0, result.stderr
    assert result.stdout == f"{user_file}\n"
    assert stat.S_IMODE(user_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(user_file.parent.stat().st_mode) == 0o700
    assert "set $TOLOKA_TOKEN, $TRAFFICOPS_PASSWORD, $TRAFFICOPS_USERNAME, $WESOG_API_KEY" in (
        result.stderr
    )
    # The next command finds it: every provider's profile, resolving once the variables are set.
    variables = {"WESOG_API_KEY": "k", "TOLOKA_TOKEN": "t", "TRAFFICOPS_USERNAME": "u",
                 "TRAFFICOPS_PASSWORD": "p"}  # fmt: skip
    profiles = run("profiles", "--json", env=variables)
    assert profiles.code == 0, profiles.stderr
    assert profiles.stdout.count('"ok":true') == 3


def test_init_never_overwrites(user_file: Path) -> None:
    user_file.parent.mkdir(parents=True)
    user_file.write_text("profiles: {mine: {provider: wesog, api_key: x}}\n")
    result = run("config", "init", "--provider", "toloka")
    assert result.code == 5
    assert result.stderr == (
        f"opwatch: error: {user_file} already exists; opwatch never overwrites a config (edit "
        "it, or write another with --config PATH)\n"
    )
    assert user_file.read_text() == "profiles: {mine: {provider: wesog, api_key: x}}\n"


def test_init_where_config_or_the_environment_points(tmp_path: Path) -> None:
    flagged = tmp_path / "flag" / "opwatch.yaml"
    assert run("--config", str(flagged), "config", "init", "--provider", "wesog").code == 0
    assert "provider: wesog" in flagged.read_text()
    assert "provider: toloka" not in flagged.read_text()
    named = tmp_path / "env.yaml"
    assert run("config", "init", env={"OPWATCH_CONFIG": str(named)}).code == 0
    assert named.is_file()


def test_init_refuses_an_unknown_provider(user_file: Path) -> None:
    result = run("config", "init", "--provider", "jira")
    assert result.code == 2
    assert "unknown provider 'jira' (choose from wesog, toloka, trafficops)" in result.stderr
    assert not user_file.exists()


@pytest.mark.parametrize("name", list(BUILTIN))
def test_each_starter_is_valid_and_holds_no_secret(name: str, tmp_path: Path) -> None:
    import yaml

    spec = BUILTIN[name]
    text = starter_config([spec])
    document = yaml.safe_load(text)
    profile = document["profiles"][name]
    for key in spec.secret_keys:
        assert profile.get(key) in (None, f"${{{name.upper()}_{key.upper()}}}")
    env = {f"{name}_{key}".upper(): "value" for way in spec.credentials for key in way}
    cfg = parse_config(document, tmp_path / "c.yaml", env)
    assert list(cfg.profiles) == [name]
    assert cfg.broken == {}
    assert document["default_profile"] == name
    # Without the variables the file still loads; the profile is broken until they are set.
    assert list(parse_config(document, tmp_path / "c.yaml", {}).broken) == [name]


def test_the_no_config_error_names_config_init(user_file: Path) -> None:
    result = run("status", "crowd:abc")
    assert result.code == 5
    assert "'opwatch config init' writes a starter one there" in result.stderr
    with pytest.raises(ConfigError, match="config init"):
        load_config(user_file, {})


def test_path_says_which_file_and_why(tmp_path: Path, user_file: Path) -> None:
    default = run("config", "path")
    assert (default.code, default.stdout) == (0, f"{user_file}\n")
    assert "the default" in default.stderr
    assert "does not exist: `opwatch config init`" in default.stderr

    named = tmp_path / "named.yaml"
    named.write_text("profiles: {}\n")
    by_env = run("config", "path", env={"OPWATCH_CONFIG": str(named)})
    assert by_env.stdout == f"{named}\n"
    assert "named by $OPWATCH_CONFIG; it exists" in by_env.stderr

    flagged = tmp_path / "flagged.yaml"
    by_flag = run("config", "path", "--config", str(flagged), env={"OPWATCH_CONFIG": str(named)})
    assert by_flag.stdout == f"{flagged}\n"
    assert "given with --config" in by_flag.stderr
    before = run("--config", str(flagged), "config", "path", env={"OPWATCH_CONFIG": str(named)})
    assert before.stdout == f"{flagged}\n"  # a flag before the command beats the variable too
    assert run("config", "path", "-q").stderr == ""


def test_a_typed_config_wins_over_opwatch_config_for_every_command(tmp_path: Path) -> None:
    typed = tmp_path / "typed.yaml"
    typed.write_text("profiles:\n  typed: {provider: wesog, api_key: x}\n")
    typed.chmod(0o600)
    result = run("--config", str(typed), "profiles", "--json",
                 env={"OPWATCH_CONFIG": str(tmp_path / "absent.yaml")})  # fmt: skip
    assert result.code == 0, result.stderr
    assert '"name":"typed"' in result.stdout
