"""Bugs a review found, pinned where a unit test says it best."""

import asyncio
import io
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import opwatch
from opwatch.cli import main
from opwatch.config import parse_config
from opwatch.errors import AuthError, ConfigError, NoLongerKept, ProviderError
from opwatch.exitcodes import ExitCode
from opwatch.model import Operation, OperationError, State
from opwatch.providers.base import MAX_RETRY_AFTER_S, parse_retry_after
from opwatch.runtime import Runtime
from opwatch.session import Session, proxy_for
from opwatch.simulator import Scenario, Simulator

EXAMPLES = Path(__file__).parent.parent / "examples" / "providers"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["inf", "1e999", "-inf", "nan", "Infinity"])
def test_a_retry_after_that_is_no_number_of_seconds_is_ignored(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("1e300", MAX_RETRY_AFTER_S),
        ("Mon, 23 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_S),
        ("Sun, 01 Jan 2000 00:00:00 GMT", 0.0),
    ],
)
def test_a_retry_after_is_capped_at_one_day(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    ("url", "env", "proxy"),
    [
        # Only the variable the profile's URL would use is checked: a broken one for the
        # other scheme, or one no_proxy exempts, stops nothing.
        ("http://api.test", {"https_proxy": "socks5://s", "http_proxy": "p:3128"}, "http://p:3128"),
        ("http://api.test", {"all_proxy": "http://p:abc", "no_proxy": "api.test"}, None),
        ("http://api.test", {"ALL_PROXY": "HTTP://P:3128"}, "HTTP://P:3128"),
    ],
)
def test_a_proxy_variable_is_checked_only_where_it_is_used(
    url: str, env: dict[str, str], proxy: str | None
) -> None:
    assert proxy_for(httpx.URL(url), env) == proxy


def test_an_unusable_proxy_names_its_variable_not_its_value() -> None:
    env = {"ALL_PROXY": "socks5h://user:hunter2@proxy:1080"}
    with pytest.raises(ConfigError) as caught:
        proxy_for(httpx.URL("https://api.test"), env)
    assert str(caught.value) == (
        "the proxy in $ALL_PROXY cannot be used: it is a socks5h:// proxy; "
        "opwatch speaks to http:// proxies only"
    )


def test_the_library_warns_once_of_a_word_opwatch_does_not_know(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Simulator(Scenario()) as sim:
        spec = {"provider": "toloka", "duration_s": 1, "age_s": 600, "status_word": "ARCHIVED"}
        refs = [sim.add_operation(spec) for _ in range(3)]
        path = tmp_path / "config.yaml"
        path.write_text(sim.config_yaml())
        path.chmod(0o600)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            operations = opwatch.status(refs, path)
    assert [op.state for op in operations] == [State.UNKNOWN] * 3
    assert [str(w.message) for w in caught if w.category is opwatch.OpwatchWarning] == [
        f"{refs[0]} reports status 'ARCHIVED', which opwatch does not know; "
        "it is shown as 'unknown'"
    ]
    assert capsys.readouterr() == ("", "")


BATCH = {
    "id": "batch_1",
    "status": "completed",
    "request_counts": {"total": 3, "completed": 1, "failed": 2},
    "error_file_id": "file-err",
}


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'{"custom_id": "r1"}\n{"custom_id": "caf\xe9"}\n', 2),  # Latin-1, not UTF-8
        (b'{"custom_id": "r1", "n": NaN}\n', 1),  # Python's parser takes NaN; JSON does not
        (b'{"custom_id": "\\udc80"}\n', 1),  # half a surrogate pair: no output could print it
    ],
)
def test_an_error_file_that_is_not_json_lines_is_a_provider_error(
    tmp_path: Path, content: bytes, line: int
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/files/file-err/content":
            return httpx.Response(200, content=content)
        return httpx.Response(200, json=BATCH)

    config = tmp_path / "config.yaml"
    config.write_text(
        f"providers:\n  openai-batch: {{file: {EXAMPLES / 'openai-batch.yaml'}}}\n"
        "profiles:\n  openai: {provider: openai-batch, url: 'https://batch.test', token: t}\n"
    )
    config.chmod(0o600)
    stdout, stderr = io.StringIO(), io.StringIO()
    runtime = Runtime(
        stdin=io.StringIO(),
        stdout=stdout,
        stderr=stderr,
        env={"OPWATCH_CONFIG": str(config)},
        transport=httpx.MockTransport(answer),
    )
    code = main(["list-errors", "openai:batch_1"], runtime)
    assert code == ExitCode.UNREACHABLE, stderr.getvalue()
    assert stderr.getvalue() == (
        "opwatch: warning: openai:batch_1: OpenAI Batch sent an error file opwatch cannot read: "
        f"line {line} is not JSON\n"
    )


TOLOKA_LOG = "https://t.test/api/v1/operations/x/log"


def toloka_rows(handler: Any) -> list[OperationError]:
    """The error rows of Toloka operation `x`, its log answered by `handler`."""
    document = {
        "profiles": {"crowd": {"provider": "toloka", "token": "t", "url": "https://t.test"}}
    }
    cfg = parse_config(document, Path("c.yaml"), {})
    operation = Operation("toloka", "x", State.FAILED, "FAIL")

    async def main() -> list[OperationError]:
        runtime = Runtime(env={}, transport=httpx.MockTransport(handler))
        async with Session(cfg, runtime) as session:
            return [row async for row in session.provider("crowd").errors(operation)]

    return asyncio.run(main())


def test_toloka_lists_its_log_through_the_shared_array_reader() -> None:
    step = {"type": "T", "success": False, "output": {"code": "E", "message": "m"}}
    rows = toloka_rows(lambda request: httpx.Response(200, json=[step, {**step, "success": True}]))
    assert [(row.code, row.message) for row in rows] == [("E", "m")]


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (httpx.Response(404, json={"code": "DOES_NOT_EXIST"}), NoLongerKept, "no longer kept"),
        (httpx.Response(401, json={"code": "NOT_AUTHENTICATED"}), AuthError, "were refused"),
        (httpx.Response(200, content=b"[{}, {"), ProviderError, "sent the log of operation x"),
    ],
)
def test_toloka_log_failures(reply: httpx.Response, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        toloka_rows(lambda request: reply)


def test_toloka_log_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderError, match=r"cannot reach Toloka at https://t\.test"):
        toloka_rows(refuse)


@pytest.fixture
def wesog_config(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A config of the simulator's profiles, and the REF of a Wesog operation finished long
    ago (read without waiting)."""
    with Simulator(Scenario()) as sim:
        ref = sim.add_operation({"provider": "wesog", "duration_s": 1, "age_s": 600})
        path = tmp_path / "config.yaml"
        path.write_text(sim.config_yaml())
        path.chmod(0o600)
        yield path, ref


def test_the_library_waits_on_uvloop_as_the_command_does(wesog_config: tuple[Path, str]) -> None:
    path, ref = wesog_config
    loops: list[str] = []
    result = opwatch.wait(
        ref,
        config=path,
        on_event=lambda event: loops.append(type(asyncio.get_running_loop()).__module__),
    )
    assert result.ok
    assert len(loops) >= 1
    assert set(loops) == {"uvloop"}


@pytest.mark.parametrize(
    ("call", "advice"),
    [
        (lambda path, ref: opwatch.wait(ref, config=path), r"here, await wait_async\(\)"),
        (
            lambda path, ref: next(opwatch.list_errors(ref, path)),
            r"here, use list_errors_async\(\)",
        ),
    ],
)
def test_the_plain_twins_refuse_a_running_loop(
    wesog_config: tuple[Path, str], call: Callable[[Path, str], object], advice: str
) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"runs its own event loop; " + advice):
            call(*wesog_config)

    asyncio.run(main())
