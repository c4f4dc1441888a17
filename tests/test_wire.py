"""What goes on the wire, mocked at the httpx layer: URLs, auth headers, login, errors."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from opwatch.config import Config, parse_config
from opwatch.errors import AuthError, NotFound, OpwatchError, ProviderError
from opwatch.exitcodes import ExitCode
from opwatch.model import State
from opwatch.providers.base import Provider
from opwatch.runtime import Runtime
from opwatch.session import Session

APIKEY_TOKEN = "a" * 23 + ".bbbbbbbbbb.cccc"


def config(**extra: dict[str, Any]) -> Config:
    profiles = {
        "media": {"provider": "wesog", "api_key": "wk", "url": "https://w.test"},
        "crowd": {"provider": "toloka", "token": "ot", "url": "https://t.test"},
        "cdn": {"provider": "trafficops", "url": "https://to.test", "username": "ops",
                "password": "pw"},
    }  # fmt: skip
    for name, settings in extra.items():
        profiles[name] = settings
    return parse_config({"profiles": profiles}, Path("test.yaml"), {})


def call(mock: respx.MockRouter, cfg: Config, profile: str, action: Any) -> Any:
    """Run `action` on the provider of `profile`, every request answered by `mock`'s routes."""
    runtime = Runtime(env={}, transport=httpx.MockTransport(mock.async_handler))

    async def main() -> Any:
        async with Session(cfg, runtime) as session:
            return await action(session.provider(profile))

    return asyncio.run(main())


def fetch(mock: respx.MockRouter, cfg: Config, profile: str, op_id: str) -> Any:
    return call(mock, cfg, profile, lambda p: p.fetch(op_id))


@pytest.fixture
def mock() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False)


def test_wesog_sends_the_api_key(mock: respx.MockRouter) -> None:
    route = mock.get("https://w.test/ops/7").respond(json={"is_started": False})
    assert fetch(mock, config(), "media", "7").state is State.PENDING
    assert route.calls.last.request.headers["API-Key"] == "wk"
    assert "Authorization" not in route.calls.last.request.headers


@pytest.mark.parametrize(
    ("token", "scheme", "forced"),
    [("ot", "OAuth", None), (APIKEY_TOKEN, "ApiKey", None), ("ot", "ApiKey", "ApiKey")],
)
def test_toloka_auth_header(
    mock: respx.MockRouter, token: str, scheme: str, forced: str | None
) -> None:
    settings = {"provider": "toloka", "token": token, "url": "https://t.test"}
    if forced:
        settings["auth_scheme"] = forced
    route = mock.get("https://t.test/api/v1/operations/abc").respond(
        json={"id": "abc", "status": "RUNNING"}
    )
    fetch(mock, config(other=settings), "other", "abc")
    assert route.calls.last.request.headers["Authorization"] == f"{scheme} {token}"


def test_toloka_environments() -> None:
    cfg = parse_config(
        {
            "profiles": {
                "p": {"provider": "toloka", "token": "t"},
                "s": {"provider": "toloka", "token": "t", "environment": "sandbox"},
            }
        },
        Path("x"),
        {},
    )
    assert cfg.get("p").url == "https://toloka.dev"
    assert cfg.get("s").url == "https://sandbox.toloka.dev"


def login_ok() -> httpx.Response:
    return httpx.Response(
        200,
        json={"alerts": [{"text": "Successfully logged in.", "level": "success"}]},
        headers=[
            ("Set-Cookie", "mojolicious=s1; Path=/"),
            ("Set-Cookie", "access_token=a1; Path=/"),
        ],
    )


def test_trafficops_logs_in_then_sends_the_cookie(mock: respx.MockRouter) -> None:
    login = mock.post("https://to.test/api/5.0/user/login").mock(return_value=login_ok())
    status = mock.get("https://to.test/api/5.0/async_status/3").respond(
        json={"response": {"id": 3, "status": "PENDING", "start_time": "2021-02-18T17:13:56Z"}}
    )
    assert fetch(mock, config(), "cdn", "3").state is State.RUNNING
    assert json.loads(login.calls.last.request.content) == {"u": "ops", "p": "pw"}
    cookie = status.calls.last.request.headers["Cookie"]
    assert "mojolicious=s1" in cookie


def test_trafficops_version_fallback_on_501(mock: respx.MockRouter) -> None:
    mock.post("https://to.test/api/5.0/user/login").respond(501, json={"alerts": []})
    mock.post("https://to.test/api/4.1/user/login").respond(501, json={"alerts": []})
    mock.post("https://to.test/api/4.0/user/login").mock(return_value=login_ok())
    status = mock.get("https://to.test/api/4.0/async_status/3").respond(
        json={"response": {"id": 3, "status": "SUCCEEDED", "message": "done"}}
    )
    assert fetch(mock, config(), "cdn", "3").state is State.SUCCEEDED
    assert status.called


def test_trafficops_logs_in_again_once_on_401(mock: respx.MockRouter) -> None:
    login = mock.post("https://to.test/api/5.0/user/login").mock(return_value=login_ok())
    status = mock.get("https://to.test/api/5.0/async_status/3").mock(
        side_effect=[
            httpx.Response(401, json={"alerts": [{"text": "signature expired", "level": "error"}]}),
            httpx.Response(200, json={"response": {"id": 3, "status": "PENDING"}}),
        ]
    )
    assert fetch(mock, config(), "cdn", "3").state is State.RUNNING
    assert login.call_count == 2
    assert status.call_count == 2


def test_trafficops_many_reads_share_one_login(mock: respx.MockRouter) -> None:
    login = mock.post("https://to.test/api/5.0/user/login").mock(return_value=login_ok())
    mock.get(url__regex=r"https://to.test/api/5.0/async_status/\d+").respond(
        json={"response": {"id": 1, "status": "PENDING"}}
    )

    async def many(provider: Provider) -> list[Any]:
        return await asyncio.gather(*(provider.fetch(str(n)) for n in range(20)))

    call(mock, config(), "cdn", many)
    assert login.call_count == 1


def test_trafficops_refused_login(mock: respx.MockRouter) -> None:
    mock.post("https://to.test/api/5.0/user/login").respond(
        401, json={"alerts": [{"text": "Invalid username or password.", "level": "error"}]}
    )
    with pytest.raises(AuthError) as caught:
        fetch(mock, config(), "cdn", "3")
    assert "refused the login of user 'ops' for profile 'cdn'" in caught.value.message
    assert "Invalid username or password." in caught.value.message
    assert "pw" not in caught.value.message.replace("password", "")


@pytest.mark.parametrize(
    ("settings", "hint"),
    [
        ({"username": "ops", "password": "${TO_PASSWORD}"}, "check $TO_PASSWORD"),
        ({"token": "tt"}, "check 'token' of profile 'x' in test.yaml"),
    ],
)
def test_a_refused_login_points_at_the_credential_sent(
    mock: respx.MockRouter, settings: dict[str, str], hint: str
) -> None:
    mock.post(url__regex=r"https://to.test/api/5.0/user/login.*").respond(
        401, json={"alerts": [{"text": "Invalid username or password.", "level": "error"}]}
    )
    profiles = {"x": {"provider": "trafficops", "url": "https://to.test", **settings}}
    cfg = parse_config({"profiles": profiles}, Path("test.yaml"), {"TO_PASSWORD": "pw"})
    with pytest.raises(AuthError) as caught:
        fetch(mock, cfg, "x", "3")
    assert caught.value.exit_code is ExitCode.AUTH
    assert caught.value.message.endswith(hint)


def test_trafficops_token_login(mock: respx.MockRouter) -> None:
    login = mock.post("https://to.test/api/5.0/user/login/token").mock(return_value=login_ok())
    mock.get("https://to.test/api/5.0/async_status/3").respond(
        json={"response": {"id": 3, "status": "PENDING"}}
    )
    settings = {"provider": "trafficops", "url": "https://to.test", "token": "tt"}
    fetch(mock, config(tok=settings), "tok", "3")
    assert json.loads(login.calls.last.request.content) == {"t": "tt"}


@pytest.mark.parametrize(
    ("status", "body", "error", "code", "text"),
    [
        (401, {"detail": "Invalid API key"}, AuthError, ExitCode.AUTH, "were refused (401"),
        (403, {"detail": "Forbidden"}, AuthError, ExitCode.AUTH, "not allowed"),
        (404, {"detail": "Operation not found"}, NotFound, ExitCode.NOT_FOUND, "no such"),
        (429, {"detail": "slow down"}, ProviderError, ExitCode.UNREACHABLE, "asks to wait 7s"),
        (500, {"detail": "boom"}, ProviderError, ExitCode.UNREACHABLE, "answered 500: boom"),
        (422, {"detail": [{"loc": ["path", "op_id"], "msg": "not an int"}]}, ProviderError,
         ExitCode.UNREACHABLE, "path.op_id: not an int"),
    ],
)  # fmt: skip
def test_http_errors(
    mock: respx.MockRouter,
    status: int,
    body: Any,
    error: type[OpwatchError],
    code: ExitCode,
    text: str,
) -> None:
    mock.get("https://w.test/ops/7").respond(status, json=body, headers={"Retry-After": "7"})
    with pytest.raises(error) as caught:
        fetch(mock, config(), "media", "7")
    assert caught.value.exit_code is code
    assert text in caught.value.message


def test_429_carries_retry_after(mock: respx.MockRouter) -> None:
    mock.get("https://t.test/api/v1/operations/x").respond(
        429, json={"code": "TOO_MANY_REQUESTS", "message": "slow"}, headers={"Retry-After": "3"}
    )
    with pytest.raises(ProviderError) as caught:
        fetch(mock, config(), "crowd", "x")
    assert caught.value.retry_after == 3.0
    assert caught.value.transient
    assert "TOO_MANY_REQUESTS: slow" in caught.value.message


@pytest.mark.parametrize(
    ("content", "kind", "text"),
    [
        (b"<html><title>502 Bad Gateway</title></html>", "text/html", "text/html ('502 Bad"),
        (b'{"id": "x", "stat', "application/json", "instead of JSON"),
        (b"", "application/json", "an empty body"),
    ],
)
def test_garbage_bodies(mock: respx.MockRouter, content: bytes, kind: str, text: str) -> None:
    mock.get("https://t.test/api/v1/operations/x").respond(
        200, content=content, headers={"Content-Type": kind}
    )
    with pytest.raises(ProviderError) as caught:
        fetch(mock, config(), "crowd", "x")
    assert text in caught.value.message


def test_connection_errors(mock: respx.MockRouter) -> None:
    mock.get("https://w.test/ops/1").mock(side_effect=httpx.ConnectError("refused"))
    mock.get("https://w.test/ops/2").mock(side_effect=httpx.ReadTimeout("slow"))
    mock.get("https://w.test/ops/3").mock(side_effect=httpx.RemoteProtocolError("cut"))
    mock.get("https://w.test/ops/4").mock(side_effect=httpx.DecodingError("bad gzip"))
    messages = []
    for op_id in "1234":
        with pytest.raises(ProviderError) as caught:
            fetch(mock, config(), "media", op_id)
        assert caught.value.transient
        messages.append(caught.value.message)
    assert "connection refused" in messages[0]
    assert "did not answer within 10s" in messages[1]
    assert "closed before a full reply" in messages[2]
    assert "compressed body could not be decompressed" in messages[3]


def test_a_redirect_to_another_host_is_not_followed(mock: respx.MockRouter) -> None:
    mock.get("https://w.test/ops/7").respond(302, headers={"Location": "https://evil.test/x"})
    evil = mock.get("https://evil.test/x").respond(json={})
    with pytest.raises(ProviderError, match="answered 302"):
        fetch(mock, config(), "media", "7")
    assert not evil.called  # the API-Key never leaves for another host


def stream_log(steps: Iterator[dict[str, Any]]) -> httpx.Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        for index, step in enumerate(steps):
            yield (b"," if index else b"") + json.dumps(step).encode()
        yield b"]"

    return httpx.Response(200, content=chunks(), headers={"Content-Type": "application/json"})


def test_toloka_log_of_200000_steps_streams(mock: respx.MockRouter) -> None:
    def steps() -> Iterator[dict[str, Any]]:
        for index in range(200_000):
            if index % 10 == 3:
                yield {
                    "type": "TASK_VALIDATE",
                    "success": False,
                    "input": {"__item_idx": index},
                    "output": {"input_values.url": {"code": "INVALID_URL", "message": "bad"}},
                }
            else:
                yield {"type": "TASK_CREATE", "success": True, "output": {"task_id": str(index)}}

    mock.get("https://t.test/api/v1/operations/x").respond(
        json={"id": "x", "status": "SUCCESS", "details": {"not_valid_count": 20000}}
    )
    mock.get("https://t.test/api/v1/operations/x/log").mock(return_value=stream_log(steps()))

    async def count(provider: Provider) -> tuple[int, str | None, str | None]:
        operation = await provider.fetch("x")
        total, first, last = 0, None, None
        async for row in provider.errors(operation):
            total += 1
            first = first or row.item
            last = row.item
        return total, first, last

    assert call(mock, config(), "crowd", count) == (20_000, "3", "199993")


def test_toloka_log_gone(mock: respx.MockRouter) -> None:
    mock.get("https://t.test/api/v1/operations/x/log").respond(
        404, json={"code": "DOES_NOT_EXIST", "message": "no"}
    )
    from datetime import UTC, datetime

    from opwatch.errors import NoLongerKept
    from opwatch.model import Operation

    finished = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    operation = Operation("toloka", "x", State.FAILED, "FAIL", finished_at=finished)

    async def rows(provider: Provider) -> list[Any]:
        return [r async for r in provider.errors(operation)]

    # The operation was read a moment before: a 404 for its log is a log gone, not an error.
    with pytest.raises(NoLongerKept, match=r"no longer kept since 2026-10-31: .* one month"):
        call(mock, config(), "crowd", rows)


def test_verify_tls_false_warns_once(capsys: pytest.CaptureFixture[str]) -> None:
    settings = {"provider": "wesog", "api_key": "k", "url": "https://w.test", "verify_tls": False}
    cfg = config(insecure=settings)

    async def main() -> None:
        async with Session(cfg, Runtime(env={})) as session:
            session.provider("media")  # verify_tls left at true: nothing to say
            session.provider("insecure")
            session.provider("insecure")

    asyncio.run(main())
    err = capsys.readouterr().err
    assert err.count("does not verify TLS certificates") == 1
    assert "profile 'insecure' does not verify TLS certificates (verify_tls: false)" in err
    assert "'media'" not in err
