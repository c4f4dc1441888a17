"""What `opwatch list` puts on the wire, mocked at the httpx layer: Toloka's filters and id_gt
paging, Wesog's bare GET /ops, and no request at all for Traffic Ops."""

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from opwatch import core
from opwatch.errors import NotFound, ProviderError, UsageError
from opwatch.listing import ListQuery, parse_since, parse_states
from opwatch.model import State
from opwatch.runtime import Runtime
from opwatch.session import Session
from tests.test_wire import config


def listed(mock: respx.MockRouter, profile: str, query: ListQuery) -> list[Any]:
    runtime = Runtime(env={}, transport=httpx.MockTransport(mock.async_handler))

    async def main() -> list[Any]:
        async with Session(config(), runtime) as session:
            return [op async for op in core.find(session, profile, query)]

    return asyncio.run(main())


def toloka_item(op_id: str, status: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    return {"id": op_id, "type": "POOL.OPEN", "status": status, "submitted": "2026-11-23T10:00:00",
            **extra}  # fmt: skip


def params(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(str(request.url)).query).items()}


@pytest.fixture
def mock() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False)


def test_toloka_pages_by_id_gt_until_has_more_is_false(mock: respx.MockRouter) -> None:
    pages = [
        {"items": [toloka_item("a1"), toloka_item("a2")], "has_more": True},
        {"items": [toloka_item("b1"), toloka_item("b2")], "has_more": True},
        {"items": [toloka_item("c1")], "has_more": False},
    ]
    route = mock.get(url__startswith="https://t.test/api/v1/operations").mock(
        side_effect=[httpx.Response(200, json=page) for page in pages]
    )
    found = listed(mock, "crowd", ListQuery())
    assert [op.id for op in found] == ["a1", "a2", "b1", "b2", "c1"]
    sent = [params(call.request) for call in route.calls]
    assert sent == [
        {"sort": "id", "limit": "300"},
        {"sort": "id", "limit": "300", "id_gt": "a2"},
        {"sort": "id", "limit": "300", "id_gt": "b2"},
    ]
    assert route.calls.last.request.headers["Authorization"] == "OAuth ot"


def test_toloka_filters_go_on_the_wire(mock: respx.MockRouter) -> None:
    route = mock.get(url__startswith="https://t.test/api/v1/operations").mock(
        side_effect=[
            httpx.Response(200, json={"items": [toloka_item("p", "PENDING")], "has_more": False}),
            httpx.Response(200, json={"items": [toloka_item("r")], "has_more": False}),
        ]
    )
    since = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    query = ListQuery(parse_states(["active"]), kind="pool.open", since=since, limit=10)
    assert [op.id for op in listed(mock, "crowd", query)] == ["p", "r"]
    common = {"sort": "id", "limit": "10", "type": "POOL.OPEN",
              "submitted_gte": "2026-11-23T08:30:00.000"}  # fmt: skip
    # One status per request: Toloka's filter takes one word.
    assert [params(call.request) for call in route.calls] == [
        {**common, "status": "PENDING"},
        {**common, "status": "RUNNING"},
    ]


def test_toloka_partial_is_a_success_told_apart_after_parsing(mock: respx.MockRouter) -> None:
    partial = toloka_item("x", "SUCCESS", details={"success_count": 1, "failed_count": 1})
    clean = toloka_item("y", "SUCCESS", details={"success_count": 2, "failed_count": 0})
    route = mock.get(url__startswith="https://t.test/api/v1/operations").respond(
        json={"items": [partial, clean], "has_more": False}
    )
    found = listed(mock, "crowd", ListQuery(states=frozenset({State.PARTIAL})))
    assert [op.id for op in found] == ["x"]
    assert params(route.calls.last.request)["status"] == "SUCCESS"


def test_toloka_has_more_without_an_id_stops_with_an_error(mock: respx.MockRouter) -> None:
    mock.get(url__startswith="https://t.test/api/v1/operations").respond(
        json={"items": [], "has_more": True}
    )
    with pytest.raises(ProviderError, match="gave no id to page on"):
        listed(mock, "crowd", ListQuery())


def test_wesog_sends_no_filters_and_opwatch_filters(mock: respx.MockRouter) -> None:
    ops = [
        {"id": 1, "is_started": True, "is_finished": False, "created_at": "2026-11-23T09:00:00"},
        {"id": 2, "is_started": True, "is_finished": True, "num_bad": 0, "num_good": 3,
         "created_at": "2026-11-23T11:00:00", "method": "add", "resource": "image"},
        {"is_started": False},  # no id: nothing a REF could name
        {"id": 3, "is_started": False, "created_at": "2026-11-23T11:30:00"},
    ]  # fmt: skip
    route = mock.get("https://w.test/ops").respond(json=ops)
    since = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert [op.id for op in listed(mock, "media", ListQuery())] == ["1", "2", "3"]
    assert [op.id for op in listed(mock, "media", ListQuery(since=since))] == ["2", "3"]
    assert [op.id for op in listed(mock, "media", ListQuery(kind="ADD IMAGE"))] == ["2"]
    terminal = parse_states(["terminal"])
    assert [op.id for op in listed(mock, "media", ListQuery(states=terminal))] == ["2"]
    assert [op.id for op in listed(mock, "media", ListQuery(limit=1))] == ["1"]
    assert str(route.calls.last.request.url) == "https://w.test/ops"
    assert route.calls.last.request.headers["API-Key"] == "wk"


@pytest.mark.parametrize(
    ("reply", "error", "said"),
    [
        (httpx.Response(200, content=b'[{"id": 1}, {"id"'), ProviderError, "cut short"),
        (httpx.Response(200, json={"detail": "no"}), ProviderError, "expected a JSON array"),
        (httpx.Response(404, json={"detail": "Not Found"}), NotFound, "has no /ops"),
    ],
)
def test_wesog_bad_lists(
    mock: respx.MockRouter, reply: httpx.Response, error: type[Exception], said: str
) -> None:
    mock.get("https://w.test/ops").mock(return_value=reply)
    with pytest.raises(error, match=said):
        listed(mock, "media", ListQuery())


def test_traffic_ops_lists_nothing_and_sends_nothing(mock: respx.MockRouter) -> None:
    with pytest.raises(UsageError, match="Traffic Ops has no list of operations"):
        listed(mock, "cdn", ListQuery())
    assert mock.calls.call_count == 0


def test_since_reads_durations_and_dates() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse_since("2026-11-20", now) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_since("2026-11-20T08:00+02:00", now) == datetime(2026, 11, 20, 6, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_since("yesterday", now)


def test_the_help_of_state_names_every_word() -> None:
    import typer.main

    from opwatch.cli import app
    from opwatch.listing import STATE_GROUPS

    command = typer.main.get_command(app).commands["list"]  # type: ignore[attr-defined]
    (state,) = [param for param in command.params if param.name == "state"]
    assert f"comma-separated: {', '.join(STATE_GROUPS)}." in state.help
