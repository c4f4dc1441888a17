"""Each provider's pure parser over real-shaped payloads, the ugly ones included, and what each
provider module declares: its spec, its id syntax, its quirks."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from opwatch.config import parse_config
from opwatch.errors import ProviderError, UsageError
from opwatch.exitcodes import ExitCode
from opwatch.model import Operation, Progress, State
from opwatch.providers import BUILTIN, provider_class, toloka, trafficops, wesog
from opwatch.providers.parsing import as_id

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


@pytest.mark.parametrize(
    ("name", "state", "progress"),
    [
        # The seed's placeholder counts: 123 good and 123 bad of 123, finished: partial.
        ("seed.json", State.PARTIAL, Progress(100.0, 246, 123, 123, 123)),
        ("running_all_good_null.json", State.RUNNING, Progress(25.0, 50, 200, 50, 0)),
        ("pending.json", State.PENDING, Progress(0.0, 0, 3, 0, 0)),
        ("failed.json", State.FAILED, Progress(100.0, 2, 2, 0, 2)),
        ("succeeded_no_offset.json", State.SUCCEEDED, Progress(100.0, 5, 5, 5, 0)),
        ("partial_more_bad_than_listed.json", State.PARTIAL, Progress(100.0, 10, 10, 6, 4)),
        ("ugly_nulls.json", State.PENDING, Progress(None, None, None, 7, None)),
    ],
)
def test_wesog(name: str, state: State, progress: Progress) -> None:
    operation = wesog.parse_operation(load(f"wesog/{name}"), "7")
    assert operation.state is state
    assert operation.progress == progress


def test_wesog_times_and_kind() -> None:
    operation = wesog.parse_operation(load("wesog/failed.json"), "7")
    assert operation.kind == "upd image"
    assert operation.id == "7"
    assert operation.submitted_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert operation.queued_s == 0.01
    assert operation.elapsed_s == 2.5
    assert operation.error_count == 2
    seed = wesog.parse_operation(load("wesog/seed.json"), "1")
    assert seed.submitted_at is None  # "<string>" is not a time: unknown, not a crash
    assert seed.kind == "add video"


@pytest.mark.parametrize(
    ("name", "state", "progress", "errors"),
    [
        ("seed_fixed.json", State.FAILED, Progress(100.0, 2, 2, 0, 2), 2),
        ("pending.json", State.PENDING, Progress(), None),
        ("running_no_details.json", State.RUNNING, Progress(percent=42.0), None),
        ("success_items_count.json", State.SUCCEEDED, Progress(100.0, total=500), None),
        ("success_partial.json", State.PARTIAL, Progress(100.0, 10, 10, 8, 2), 2),
        ("clone_free_details.json", State.SUCCEEDED, Progress(percent=100.0), None),
        ("unknown_status_and_type.json", State.UNKNOWN, Progress(), None),
    ],
)
def test_toloka(name: str, state: State, progress: Progress, errors: int | None) -> None:
    operation = toloka.parse_operation(load(f"toloka/{name}"))
    assert operation.state is state
    assert operation.progress == progress
    assert operation.error_count == errors


def test_toloka_times_without_zone_are_utc() -> None:
    operation = toloka.parse_operation(load("toloka/success_partial.json"))
    assert operation.submitted_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert operation.finished_at == datetime(2026, 11, 23, 10, 0, 30, 123456, tzinfo=UTC)
    seed = toloka.parse_operation(load("toloka/seed_fixed.json"))
    assert seed.started_at == datetime(2016, 4, 7, 16, 6, 15, 902000, tzinfo=UTC)


def test_the_toloka_seed_body_is_not_json() -> None:
    # The vendor page's sample has `"open_pool" : fase`: a provider sending it gets a clear error
    # that shows the start of what came, not a traceback from the JSON decoder.
    config = parse_config(
        {"profiles": {"crowd": {"provider": "toloka", "token": "t"}}}, Path("c"), {}
    )
    provider = toloka.TolokaProvider(config.get("crowd"), client=None)  # type: ignore[arg-type]
    body = (PAYLOADS / "toloka/seed_fase.txt").read_bytes()
    response = httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    with pytest.raises(ProviderError) as caught:
        provider.decode(response)
    assert caught.value.exit_code is ExitCode.UNREACHABLE
    assert caught.value.transient  # garbage may be a passing proxy's page: retried, then 7
    assert caught.value.message == (
        'Toloka at https://toloka.dev answered 200 with application/json (\'{ "id" : '
        '"57068577e4b0bf7b07a0256f", "type" : "TASK_SUITE.BATCH_CREATE", "statu…\') '
        "instead of JSON (profile 'crowd')"
    )


@pytest.mark.parametrize(
    ("name", "state", "good", "bad", "finished"),
    [
        ("seed_end_time_null.json", State.RUNNING, None, None, None),
        ("running_no_end_time.json", State.RUNNING, 3, 1, None),
        ("succeeded.json", State.SUCCEEDED, 5, 0, datetime(2021, 2, 18, 17, 15, 1, 100000, UTC)),
        ("partial_acme.json", State.PARTIAL, 5, 2, datetime(2021, 2, 18, 17, 15, 1, tzinfo=UTC)),
        ("failed_dnssec.json", State.FAILED, 4, 2, datetime(2021, 2, 18, 17, 14, tzinfo=UTC)),
        ("unknown_status.json", State.UNKNOWN, None, None, None),
    ],
)
def test_trafficops(
    name: str, state: State, good: int | None, bad: int | None, finished: datetime | None
) -> None:
    operation = trafficops.parse_operation(load(f"trafficops/{name}"))
    assert operation.state is state
    assert (operation.progress.good, operation.progress.bad) == (good, bad)
    assert operation.finished_at == finished
    assert operation.started_at is not None


def test_trafficops_without_response_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="expected"):
        trafficops.parse_operation(load("trafficops/no_response_key.json"))


@pytest.mark.parametrize("body", [None, [], "text", 7, [{"id": 1}]])
@pytest.mark.parametrize("parse", [wesog.parse_operation, toloka.parse_operation])
def test_bodies_of_the_wrong_shape(parse: Any, body: Any) -> None:
    with pytest.raises(ProviderError, match="cannot read"):
        parse(body, "1")


def test_toloka_log_rows() -> None:
    rows = [row for step in load("toloka/log_mixed.json") for row in toloka.step_errors(step, "op")]
    assert [(r.item, r.field, r.code, r.step) for r in rows] == [
        ("1", "input_values.image", "VALUE_REQUIRED", "TASK_SUITE_VALIDATE"),
        ("1", "input_values.url", "INVALID_URL", "TASK_SUITE_VALIDATE"),
        ("task-7", "overlap", "INVALID_MIN_VALUE", "TASK_VALIDATE"),
        (None, None, "EMPTY_POOL", "POOL_OPEN"),
    ]
    assert rows[3].message == "Pool has no tasks to open"


@pytest.mark.parametrize(
    ("token", "scheme"),
    [
        ("y0_AgAAAAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "OAuth"),
        ("a" * 22 + "." + "b" * 10 + "." + "c" * 5, "ApiKey"),
        ("a" * 24 + "." + "b" * 10 + "." + "c" * 5, "ApiKey"),
        ("a" * 21 + "." + "b" * 10 + "." + "c" * 5, "OAuth"),
        ("a" * 22 + "." + "b" * 10, "OAuth"),
    ],
)
def test_toloka_auth_scheme(token: str, scheme: str) -> None:
    assert toloka.auth_scheme(token) == scheme


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17", "17"),
        ("/api/4.0/async_status/17", "17"),
        ("/api/5.0/async_status/17/", "17"),
        ("https://to.example.net/api/4.0/async_status/17", "17"),
        ("HTTPS://TO.example.net/api/4.0/async_status/17", "17"),
        ("0", "0"),
    ],
)
def test_trafficops_ids(text: str, expected: str) -> None:
    assert trafficops.TrafficOpsProvider.id_for(text, TO_PROFILE) == expected


TO_PROFILE = parse_config(
    {"profiles": {"cdn": {"provider": "trafficops", "url": "https://to.example.net",
                          "username": "u", "password": "p"}}},
    Path("c.yaml"), {},
).get("cdn")  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        # Only the exact Location path: text that merely ends like one is not a job id (a
        # mistyped profile, `cdn-prd:/api/…`, must not read a job of this Traffic Ops).
        "cdn-prd:/api/4.0/async_status/3",
        "x/api/4.0/async_status/3",
        "/api/4.0/async_status/3?x",
        "https://to.example.net.evil/api/4.0/async_status/3",
        "https://to.example.net/other/api/4.0/async_status/3",
    ],
)
def test_trafficops_refuses_what_only_ends_like_a_location(text: str) -> None:
    with pytest.raises(UsageError):
        trafficops.TrafficOpsProvider.id_for(text, TO_PROFILE)


def test_trafficops_location_of_another_host_names_both_hosts() -> None:
    with pytest.raises(UsageError) as caught:
        trafficops.TrafficOpsProvider.id_for(
            "https://to.prod.example/api/4.0/async_status/3", TO_PROFILE
        )
    assert "https://to.prod.example" in caught.value.message
    assert "https://to.example.net" in caught.value.message


@pytest.mark.parametrize(
    ("cls", "text"),
    [
        (trafficops.TrafficOpsProvider, "abc"),
        (wesog.WesogProvider, "12a"),
        (toloka.TolokaProvider, "a b"),
        (toloka.TolokaProvider, ""),
    ],
)
def test_bad_ids(cls: Any, text: str) -> None:
    with pytest.raises(UsageError):
        cls.normalize_id(text)


@pytest.mark.parametrize(
    ("name", "listed", "note"),
    [
        ("partial_more_bad_than_listed.json", 1, "Wesog counts 3 more failed items than it lists"),
        ("partial_more_bad_than_listed.json", 4, None),
        ("failed.json", 2, None),
    ],
)
def test_wesog_says_when_it_counts_more_failures_than_it_lists(
    name: str, listed: int, note: str | None
) -> None:
    operation = wesog.parse_operation(load(f"wesog/{name}"), "7")
    assert wesog.WesogProvider.listing_note(operation, listed) == note


def test_other_providers_list_every_failure_they_count() -> None:
    partial = toloka.parse_operation(load("toloka/success_partial.json"))
    assert partial.error_count == 2
    assert toloka.TolokaProvider.listing_note(partial, 0) is None
    acme = trafficops.parse_operation(load("trafficops/partial_acme.json"))
    assert trafficops.TrafficOpsProvider.listing_note(acme, 1) is None


@pytest.mark.parametrize(
    ("provider", "present", "missing"),
    [
        ("wesog", set(), "'api_key' is required for Wesog"),
        ("wesog", {"api_key"}, None),
        ("toloka", {"auth_scheme"}, "'token' is required for Toloka"),
        ("trafficops", {"username"}, "Traffic Ops needs 'username' and 'password', or 'token'"),
        ("trafficops", {"password"}, "Traffic Ops needs 'username' and 'password', or 'token'"),
        ("trafficops", {"username", "password"}, None),
        ("trafficops", {"token"}, None),
    ],
)
def test_what_each_provider_needs_to_sign_in(
    provider: str, present: set[str], missing: str | None
) -> None:
    assert BUILTIN[provider].missing_credentials(present) == missing


def test_default_urls() -> None:
    assert BUILTIN["wesog"].default_url is not None
    assert BUILTIN["wesog"].default_url({}) == "https://api.wesog.com"
    assert toloka.default_url({}) == "https://toloka.dev"
    assert toloka.default_url({"environment": "sandbox"}) == "https://sandbox.toloka.dev"
    assert BUILTIN["trafficops"].default_url is None  # every Traffic Ops is someone's own host


def test_the_registry_lists_each_provider_under_its_own_name() -> None:
    assert list(BUILTIN) == ["wesog", "toloka", "trafficops"]
    for name, spec in BUILTIN.items():
        assert spec.name == name
        assert provider_class(name).spec is spec
    assert "nope" not in BUILTIN
    with pytest.raises(KeyError):
        provider_class("nope")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", "abc"), (17, "17"), (None, "asked"), (True, "asked"), (1.5, "asked"), ([1], "asked")],
)
def test_an_id_the_body_names_else_the_one_asked_for(value: Any, expected: str) -> None:
    assert as_id(value, "asked") == expected


def test_operations_name_their_provider() -> None:
    parsed: list[Operation] = [
        wesog.parse_operation(load("wesog/failed.json"), "7"),
        toloka.parse_operation(load("toloka/pending.json")),
        trafficops.parse_operation(load("trafficops/succeeded.json")),
    ]
    assert [operation.provider for operation in parsed] == list(BUILTIN)
