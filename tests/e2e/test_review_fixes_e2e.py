"""Bugs a review found, each seen as a user would meet it: the whole CLI in-process against the
simulator on a virtual clock."""

import io
import re
from pathlib import Path

import pytest

from opwatch.cli import main
from opwatch.exitcodes import ExitCode
from opwatch.runtime import Runtime
from opwatch.simulator import Simulator
from tests.e2e.conftest import Cli, Run


def test_an_infinite_retry_after_is_ignored(sim: Simulator, cli: Cli, config: Path) -> None:
    # `Retry-After: inf` parses as a float; the engine once rounded it into an OverflowError.
    ref = sim.add_operation({"provider": "toloka", "duration_s": 3, "age_s": 1})
    sim.add_fault({"kind": "429", "ref": ref, "count": 1, "retry_after": float("inf")})
    result = cli("wait", ref, "--json")
    assert result.code == 0, result.stderr
    assert '"state":"succeeded"' in result.stdout
    reads = sim.reads_of(ref)
    assert reads[1] - reads[0] < 60  # the engine's own back-off


def test_a_retry_after_of_ages_is_waited_out_for_one_day(
    sim: Simulator, cli: Cli, config: Path
) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 3, "age_s": 1})
    sim.add_fault({"kind": "429", "ref": ref, "count": 1, "retry_after": 1e300})
    result = cli("wait", ref, "--json", "--timeout", "2d")
    assert result.code == 0, result.stderr
    assert '"state":"succeeded"' in result.stdout
    reads = sim.reads_of(ref)
    assert reads[1] - reads[0] == 86_400


CANARY = "c4nary-s3cret"


@pytest.mark.parametrize("command", ["status", "wait"])
@pytest.mark.parametrize(
    ("variable", "proxy", "problem"),
    [
        ("http_proxy", f"http://u:{CANARY}@proxy:abc", "its port is not a number"),
        ("HTTP_PROXY", f"socks5://u:{CANARY}@proxy:1080", "it is a socks5:// proxy"),
        ("all_proxy", f"https://u:{CANARY}@proxy", "it is an https:// proxy"),
        ("http_proxy", f"{CANARY}://proxy:3128", "it is not an http:// proxy"),
        ("http_proxy", f"http://u:{CANARY}@[::zz]:1", "its host is not a valid"),
    ],
)
def test_a_proxy_opwatch_cannot_use_is_a_config_error_that_hides_the_value(
    sim: Simulator, config: Path, command: str, variable: str, proxy: str, problem: str
) -> None:
    # Real sockets (no test transport): the proxy variables are read for the network only.
    stdout, stderr = io.StringIO(), io.StringIO()
    env = {"OPWATCH_CONFIG": str(config), variable: proxy}
    runtime = Runtime(env=env, stdout=stdout, stderr=stderr, stdin=io.StringIO())
    code = main([command, sim.refs()[0]], runtime)
    said = stdout.getvalue() + stderr.getvalue()
    assert code == ExitCode.CONFIG, said
    assert f"the proxy in ${variable} cannot be used: {problem}" in said
    assert CANARY not in said
    assert "internal error" not in said
    assert sim.stats()["requests"] == 0  # refused before any request, not retried in each


EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "providers"


@pytest.fixture
def declared_config(sim: Simulator, tmp_path: Path) -> Path:
    """OpenAI's batches (`other: unknown`) and Azure's operations (`other: running`), declared
    by the shipped definitions and served by the simulator."""
    apis = {"openai-batch": ("openai", "openai_token"), "azure-async": ("azure", "azure_token")}
    providers = "".join(f"  {name}: {{file: {EXAMPLES / name}.yaml}}\n" for name in apis)
    profiles = "".join(
        f"  {profile}: {{provider: {name}, url: '{sim.url}', token: {sim.credentials[key]}}}\n"
        for name, (profile, key) in apis.items()
    )
    path = tmp_path / "declared.yaml"
    path.write_text(f"providers:\n{providers}profiles:\n{profiles}")
    path.chmod(0o600)
    return path


def warnings_of(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("opwatch: warning:")]


@pytest.mark.parametrize(
    ("provider", "state"), [("openai-batch", "unknown"), ("azure-async", "running")]
)
@pytest.mark.parametrize(
    "command", [["status", "-o", "json"], ["wait", "--json", "--timeout", "1m"]]
)
def test_a_word_a_definition_does_not_list_is_warned_of_once(
    sim: Simulator, cli: Cli, declared_config: Path, provider: str, state: str, command: list[str]
) -> None:
    spec = {"provider": provider, "duration_s": 5, "age_s": 60, "status_word": "Archived"}
    refs = [sim.add_operation(spec) for _ in range(2)]
    result = cli(*command, *refs, env={"OPWATCH_CONFIG": str(declared_config)})
    assert f'"state":"{state}"' in result.stdout, result.stderr
    assert warnings_of(result) == [
        f"opwatch: warning: {refs[0]} reports status 'Archived', which the definition in "
        f"{EXAMPLES / provider}.yaml does not list; read as {state}"
    ]


@pytest.mark.parametrize("command", [["status"], ["wait", "--timeout", "1m"]])
def test_a_word_opwatch_does_not_know_is_warned_of_once(
    sim: Simulator, cli: Cli, config: Path, command: list[str]
) -> None:
    spec = {"provider": "toloka", "duration_s": 1, "age_s": 5, "status_word": "ARCHIVED"}
    refs = [sim.add_operation(spec) for _ in range(2)]
    result = cli(*command, *refs)
    assert warnings_of(result) == [
        f"opwatch: warning: {refs[0]} reports status 'ARCHIVED', which opwatch does not know; "
        "it is shown as 'unknown'"
    ]


@pytest.mark.parametrize(
    "url",
    [
        f"http://admin:{CANARY}@127.0.0.1:9",
        f"https://{CANARY}@api.test/v1",
        f"http://admin:{CANARY}@[::1",  # not even a URL: still not echoed
    ],
)
@pytest.mark.parametrize(
    "command", [["status", "media:42"], ["status", "-v", "media:42"], ["profiles"]]
)
def test_credentials_in_a_profile_url_are_refused_unseen(
    cli: Cli, tmp_path: Path, url: str, command: list[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"profiles:\n  media: {{provider: wesog, url: '{url}', api_key: k}}\n")
    config.chmod(0o600)
    result = cli(*command, "--config", str(config))
    assert result.code == ExitCode.CONFIG, result.stderr
    assert CANARY not in result.stdout + result.stderr
    said = result.stdout + result.stderr  # profiles shows it in its table
    assert "'url' must not hold a user name or password; give the credential as 'api_key'" in said


def test_credentials_in_a_definition_url_are_refused_unseen(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "providers:\n"
        "  jobs:\n"
        f"    url: https://bot:{CANARY}@jobs.test\n"
        "    id: '(?P<job>[0-9]+)'\n"
        "    status: /jobs/{job}\n"
        "    state: {word: phase}\n"
        "profiles:\n  j: {provider: jobs}\n"
    )
    config.chmod(0o600)
    result = cli("status", "j:1", "--config", str(config))
    assert result.code == ExitCode.CONFIG, result.stderr
    assert CANARY not in result.stdout + result.stderr
    assert "'url' must not hold a user name or password" in result.stderr


def test_a_warning_during_the_live_view_is_printed_through_it(
    sim: Simulator, cli: Cli, config: Path
) -> None:
    """On a terminal the warning goes through the live view's console, which prints it above
    the frame: a bare line written past rich would tear the frame it redraws."""
    spec = {"provider": "toloka", "duration_s": 1, "age_s": 5, "status_word": "ARCHIVED"}
    ref = sim.add_operation(spec)
    result = cli("wait", ref, "--timeout", "3s", stderr_is_tty=True)
    assert result.code == 4
    # rich erases the frame's lines before it prints the warning, then draws the frame again.
    assert re.search(r"\x1b\[2K(\x1b\[[0-9;]*m)?opwatch: warning: ", result.stderr)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stderr)  # the frames' escapes
    plain = " ".join(plain.split())  # the console wraps the warning at its width
    assert plain.count("reports status 'ARCHIVED'") == 1, plain
    assert f"opwatch: warning: {ref} reports status" in plain
