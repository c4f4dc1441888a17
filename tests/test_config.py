"""Config loading: every error names the file, the profile and the key, never a secret."""

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import opwatch.providers
from opwatch.config import Config, find_config_path, load_config, parse_config
from opwatch.errors import ConfigError
from opwatch.exitcodes import ExitCode
from opwatch.model import Operation, OperationError
from opwatch.providers.base import Provider, ProviderSpec

CANARY = "canary-secret-3f9a"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


def load_every_profile(path: Path, env: dict[str, str]) -> None:
    """Load, then use every profile (a secret command runs when its profile is used)."""
    config = load_config(path, env)
    config.resolve([*config.broken, *config.profiles])


def config_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_every_profile(write(tmp_path, text), env or {})
    assert caught.value.exit_code is ExitCode.CONFIG
    return caught.value.message


def test_a_full_config(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
default_profile: crowd
profiles:
  media:
    provider: wesog
    api_key: ${WESOG_API_KEY}
  crowd:
    provider: toloka
    token: ${TOLOKA_TOKEN}
    environment: sandbox
    timeout: 30s
  cdn:
    provider: trafficops
    url: https://to.example.net/
    username: ops
    password: ${TO_PASSWORD:-fallback}
    api_version: 4.0
    verify_tls: false
""",
        ),
        {"WESOG_API_KEY": "w", "TOLOKA_TOKEN": "t"},
    )
    assert config.default_name() == "crowd"
    media, crowd, cdn = config.profiles.values()
    assert media.url == "https://api.wesog.com"
    assert media.secrets["api_key"].reveal() == "w"
    assert media.secret_hint("api_key") == "$WESOG_API_KEY"
    assert crowd.url == "https://sandbox.toloka.dev"
    assert crowd.timeout_s == 30.0
    assert cdn.url == "https://to.example.net"
    assert cdn.options == {"username": "ops", "api_version": "4.0"}
    assert cdn.secrets["password"].reveal() == "fallback"
    assert not cdn.verify_tls
    assert CANARY not in repr(config)


def test_the_only_profile_is_the_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "profiles: {m: {provider: wesog, api_key: k}}"), {})
    assert config.default_name() == "m"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("profiles: [a, b", "is not valid YAML: expected ',' or ']'"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("profiles: {}\n", "defines no profiles"),
        ("profile: {}\n", "unknown top-level key 'profile'"),
        ("profiles: {m: {provider: wesgo, api_key: k}}", "profile 'm': 'provider' must be one of"),
        ("profiles: {m: {provider: wesog, api_key: k, tken: x}}", "unknown key 'tken'"),
        ("profiles: {m: {provider: wesog}}", "'api_key' is required for Wesog"),
        ("profiles: {m: {provider: wesog, api_key: [1]}}", "'api_key' must be a string"),
        ("profiles: {m: {provider: wesog, api_key: k, timeout: soon}}", "'timeout'"),
        ("profiles: {m: {provider: wesog, api_key: k, verify_tls: maybe}}", "true or false"),
        ("profiles: {m: {provider: wesog, api_key: k, url: ftp://x}}", "'url' must look like"),
        ("profiles: {c: {provider: trafficops, username: u, password: p}}", "'url' is required"),
        (
            "profiles: {c: {provider: trafficops, url: 'https://x', username: u}}",
            "needs 'username'",
        ),
        ("profiles: {c: {provider: toloka, token: t, environment: prod}}", "production, sandbox"),
        ("profiles: {m: {provider: wesog, api_key: '${NOPE}'}}", "environment variable NOPE"),
        (
            "profiles: {m: {provider: wesog, api_key: k}}\ndefault_profile: x",
            "'x' is not a profile",
        ),
    ],
)
def test_errors_name_the_file_profile_and_key(tmp_path: Path, text: str, expected: str) -> None:
    message = config_error(tmp_path, text)
    assert expected in message
    assert str(tmp_path / "config.yaml") in message


def test_a_missing_variable_names_it_and_the_profile(tmp_path: Path) -> None:
    message = config_error(tmp_path, "profiles: {crowd: {provider: toloka, token: '${TOKEN}'}}")
    assert "profile 'crowd', key 'token': environment variable TOKEN is not set" in message


def test_one_broken_profile_does_not_stop_the_others(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "profiles: {ok: {provider: wesog, api_key: k}, bad: {provider: toloka, token: '${X}'}}",
        ),
        {},
    )
    assert config.get("ok").secrets["api_key"].reveal() == "k"
    with pytest.raises(ConfigError, match="environment variable X"):
        config.get("bad")


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "profiles: {a: {provider: wesog, api_key: k}}"), {})
    with pytest.raises(ConfigError, match=r"unknown profile 'b' \(profiles in .*: a\)"):
        config.get("b")


def test_yaml_errors_do_not_quote_the_file(tmp_path: Path) -> None:
    message = config_error(tmp_path, f"profiles:\n  m:\n    api_key: {CANARY}\n   bad: [\n")
    assert CANARY not in message
    assert "line" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file at"):
        load_config(tmp_path / "nope.yaml", {})


def test_where_the_config_is_found(tmp_path: Path) -> None:
    assert find_config_path("x.yaml", {"OPWATCH_CONFIG": "y.yaml"}) == Path("x.yaml")
    assert find_config_path(None, {"OPWATCH_CONFIG": "y.yaml"}) == Path("y.yaml")
    assert find_config_path(None, {"XDG_CONFIG_HOME": "/c"}) == Path("/c/opwatch/config.yaml")


def test_a_world_readable_literal_secret_draws_a_warning(tmp_path: Path) -> None:
    text = f"profiles: {{m: {{provider: wesog, api_key: {CANARY}}}}}"
    config = load_config(write(tmp_path, text, mode=0o644), {})
    assert len(config.warnings) == 1
    assert "chmod 600" in config.warnings[0]
    assert CANARY not in config.warnings[0]
    assert load_config(write(tmp_path, text, mode=0o600), {}).warnings == ()
    from_env = "profiles: {m: {provider: wesog, api_key: '${K}'}}"
    assert load_config(write(tmp_path, from_env, mode=0o644), {"K": CANARY}).warnings == ()


def test_a_secret_from_a_command(tmp_path: Path) -> None:
    script = tmp_path / "helper.py"
    script.write_text(f"print('{CANARY}')")
    text = f"profiles: {{m: {{provider: wesog, api_key_command: [{sys.executable}, {script}]}}}}"
    config = load_config(write(tmp_path, text), dict(os.environ))
    assert config.get("m").secrets["api_key"].reveal() == CANARY


def test_a_failing_secret_command_does_not_echo_its_output(tmp_path: Path) -> None:
    script = tmp_path / "helper.py"
    script.write_text(
        f"import sys; print('{CANARY}'); print('{CANARY}', file=sys.stderr); sys.exit(3)"
    )
    text = f"profiles: {{m: {{provider: wesog, api_key_command: '{sys.executable} {script}'}}}}"
    message = config_error(tmp_path, text, dict(os.environ))
    assert "exited with status 3" in message
    assert CANARY not in message


def test_a_missing_secret_command(tmp_path: Path) -> None:
    text = "profiles: {m: {provider: wesog, api_key_command: no-such-helper-xyz}}"
    assert "command not found: no-such-helper-xyz" in config_error(tmp_path, text)


class AcmeProvider(Provider):
    """A provider config has never heard of: only its spec says what a profile holds."""

    spec = ProviderSpec(
        name="acme",
        label="Acme Jobs",
        secret_keys=("secret", "ticket"),
        credentials=(("account", "secret"), ("ticket",)),
        options={"account": None, "region": ("eu", "us")},
        default_url=lambda options: f"https://{options.get('region', 'eu')}.acme.test",
    )

    @staticmethod
    def normalize_id(text: str) -> str:
        return text

    async def fetch(self, op_id: str) -> Operation:
        raise NotImplementedError

    def errors(self, operation: Operation) -> AsyncIterator[OperationError]:
        raise NotImplementedError


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> None:
    where = {**opwatch.providers._WHERE, "acme": f"{__name__}:AcmeProvider"}
    monkeypatch.setattr(opwatch.providers, "_WHERE", where)


def parse_acme(settings: dict[str, object]) -> str:
    """The URL of an `acme` profile with `settings`, or the message of its ConfigError."""
    config = parse_config({"profiles": {"a": {"provider": "acme", **settings}}}, Path("c.yaml"), {})
    try:
        return config.get("a").url
    except ConfigError as exc:
        return exc.message


@pytest.mark.usefixtures("acme")
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"ticket": "t"}, "https://eu.acme.test"),
        ({"ticket": "t", "region": "us"}, "https://us.acme.test"),
        ({"account": "me", "secret": "s", "url": "https://x.test/"}, "https://x.test"),
        ({"account": "me"}, "Acme Jobs needs 'account' and 'secret', or 'ticket'"),
        ({"ticket": "t", "region": "mars"}, "'region' must be one of eu, us (got 'mars')"),
        ({"ticket": "t", "api_key": "k"}, "unknown key 'api_key' for provider acme (known: "
         "account, ca_bundle, provider, region, secret, secret_command, ticket, ticket_command, "
         "timeout, url, verify_tls)"),
        ({"ticket": "t", "ticket_command": "x"}, "give 'ticket' or 'ticket_command', not both"),
    ],
)  # fmt: skip
def test_every_rule_comes_from_the_providers_spec(
    settings: dict[str, object], expected: str
) -> None:
    assert parse_acme(settings).endswith(expected)


@pytest.mark.usefixtures("acme")
def test_the_provider_list_comes_from_the_registry() -> None:
    message = parse_acme({"provider": "acne"})
    assert "'provider' must be one of wesog, toloka, trafficops, acme (got 'acne')" in message


def test_reading_a_config_loads_no_http_code(tmp_path: Path) -> None:
    # opwatch runs thousands of times a day in CI: validating profiles must not pay for httpx.
    path = write(
        tmp_path,
        "profiles:\n"
        "  m: {provider: wesog, api_key: k}\n"
        "  c: {provider: toloka, token: t}\n"
        "  t: {provider: trafficops, url: 'https://x', token: t}\n",
    )
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from opwatch.config import load_config\n"
        f"config = load_config(Path({str(path)!r}), {{}})\n"
        "assert len(config.profiles) == 3, config.broken\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'httpcore')))\n"
        "print(sorted(m for m in sys.modules if m in ('opwatch.http', 'opwatch.transport')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n[]\n"


def test_verify_tls_false_with_a_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    text = (f"profiles: {{m: {{provider: wesog, api_key: k, verify_tls: false, "
            f"ca_bundle: '{bundle}'}}}}")  # fmt: skip
    message = config_error(tmp_path, text)
    assert message.endswith(
        "profile 'm': 'verify_tls: false' and 'ca_bundle' contradict each other; keep "
        "ca_bundle to check the certificate against it, or verify_tls: false not to check"
    )


def test_an_unknown_profile_names_the_closest(tmp_path: Path) -> None:
    text = "profiles: {crowd: {provider: toloka, token: t}, media: {provider: wesog, api_key: k}}"
    config = load_config(write(tmp_path, text, mode=0o600), {})
    with pytest.raises(ConfigError, match=r"unknown profile 'crwod' \(did you mean 'crowd'\? "):
        config.get("crwod")
    with pytest.raises(ConfigError) as caught:
        config.get("zzz")
    assert "did you mean" not in caught.value.message
    assert caught.value.message.endswith(": crowd, media)")


def counted_secret_command(tmp_path: Path, then: str) -> tuple[Config, Path]:
    """A config whose profile 'm' gets its key from a Python command that adds a '.' to a
    counter file (returned beside the config), then runs `then`."""
    counter = tmp_path / "runs"
    script = tmp_path / "helper.py"
    script.write_text(f"import sys; open({str(counter)!r}, 'a').write('.'); {then}")
    text = f"profiles: {{m: {{provider: wesog, api_key_command: [{sys.executable}, {script}]}}}}"
    return load_config(write(tmp_path, text), dict(os.environ)), counter


def test_a_secret_command_runs_when_its_profile_is_used_and_once(tmp_path: Path) -> None:
    config, counter = counted_secret_command(tmp_path, f"print('{CANARY}')")
    assert not counter.exists()  # loading runs nothing
    config.resolve(["m", "m"])
    assert config.get("m").secrets["api_key"].reveal() == CANARY
    assert counter.read_text() == "."


def test_a_failed_secret_command_is_not_run_again(tmp_path: Path) -> None:
    config, counter = counted_secret_command(tmp_path, "sys.exit(1)")
    for _ in range(3):
        problem = config.problem("m")
        assert problem is not None
        assert "exited with status 1" in problem.message
    assert counter.read_text() == "."
