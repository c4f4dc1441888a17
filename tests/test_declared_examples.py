"""The shipped definitions in examples/providers/, read over bodies of each API's documented
shape, and Wesog's definition against the built-in Wesog provider on every Wesog payload."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opwatch.model import Progress, State
from opwatch.providers import declared, wesog

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "providers"
PAYLOADS = Path(__file__).parent / "payloads"


def definition(name: str) -> declared.Definition:
    return declared.load_file(name, EXAMPLES / f"{name}.yaml")


def body(example: str, name: str) -> Any:
    return json.loads((PAYLOADS / "declared" / example / f"{name}.json").read_text())


def read(example: str, name: str, **kwargs: Any) -> tuple[Any, str | None]:
    return declared.read_operation(definition(example), body(example, name), "x", **kwargs)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_every_example_is_a_valid_definition_with_a_token_and_an_example_id() -> None:
    names = sorted(path.stem for path in EXAMPLES.glob("*.yaml"))
    assert names == ["azure-async", "github-actions", "google-lro", "openai-batch", "wesog"]
    for name in names:
        found = definition(name)
        assert found.spec().secret_keys == ("token",), name
        assert found.id_example is not None
        assert found.id_pattern.fullmatch(found.id_example), name


# --- OpenAI batch ---


@pytest.mark.parametrize(
    ("name", "state", "word", "progress"),
    [
        ("validating", State.PENDING, "validating", Progress(None, 0, 0, 0, 0)),
        ("running", State.RUNNING, "in_progress", Progress(42.0, 42, 100, 40, 2)),
        ("succeeded", State.SUCCEEDED, "completed", Progress(100.0, 100, 100, 100, 0)),
        ("partial", State.PARTIAL, "completed", Progress(100.0, 100, 100, 97, 3)),
        ("failed", State.FAILED, "failed", Progress(100.0, 0, 0, 0, 0)),
        ("unknown_word", State.UNKNOWN, "paused", Progress(10.0, 10, 100, 10, 0)),
    ],
)
def test_openai_batch_states_and_counts(
    name: str, state: State, word: str, progress: Progress
) -> None:
    operation, unlisted = read("openai-batch", name)
    assert (operation.state, operation.provider_status, operation.progress) == (
        state,
        word,
        progress,
    )
    assert unlisted == ("paused" if name == "unknown_word" else None)


def test_openai_batch_times_are_epoch_seconds() -> None:
    operation, _ = read("openai-batch", "partial")
    assert operation.submitted_at == datetime(2024, 3, 26, 16, 45, 33, tzinfo=UTC)
    assert operation.started_at == datetime(2024, 3, 26, 16, 45, 38, tzinfo=UTC)
    assert operation.finished_at == datetime(2024, 3, 26, 22, 46, 3, tzinfo=UTC)
    assert operation.kind == "/v1/chat/completions"
    assert operation.error_count == 3


def test_openai_batch_validation_errors_come_from_the_body() -> None:
    rows = list(
        declared.document_errors(definition("openai-batch"), body("openai-batch", "failed"), "b")
    )
    assert [(r.item, r.code, r.field, r.message) for r in rows] == [
        ("7", "invalid_json_line", None, "This line is not parseable as valid JSON."),
        ("12", "missing_required_parameter", "body.model", "Missing required parameter: 'model'."),
    ]


# --- Azure ---


@pytest.mark.parametrize(
    ("name", "state", "percent"),
    [
        ("running", State.RUNNING, 40.0),
        ("succeeded", State.SUCCEEDED, 100.0),
        ("failed", State.FAILED, 100.0),
        ("canceled_lowercase", State.FAILED, 100.0),
        ("unknown_word", State.RUNNING, None),  # any other word is not terminal
    ],
)
def test_azure_states(name: str, state: State, percent: float | None) -> None:
    operation, unlisted = read("azure-async", name)
    assert (operation.state, operation.progress.percent) == (state, percent)
    assert unlisted == ("Provisioning" if name == "unknown_word" else None)


def test_azure_location_flavour_reads_the_http_status() -> None:
    azure = definition("azure-async")
    running = declared.parse_operation(azure, None, "x", http_status=202)
    done = declared.parse_operation(azure, None, "x", http_status=204)
    assert (running.state, running.provider_status) == (State.RUNNING, "accepted (202)")
    assert (done.state, done.provider_status) == (State.SUCCEEDED, "done (200)")


def test_azure_times_with_seven_fraction_digits() -> None:
    operation, _ = read("azure-async", "succeeded")
    assert operation.started_at == at("2024-03-01T10:00:00.123456+00:00")
    assert operation.finished_at == at("2024-03-01T10:02:30.5+00:00")


def test_azure_error_details_are_the_rows() -> None:
    azure = definition("azure-async")
    rows = list(declared.document_errors(azure, body("azure-async", "failed"), "x"))
    assert [(r.code, r.field) for r in rows] == [
        ("SkuNotAvailable", "vmSize"),
        ("QuotaExceeded", "cores"),
    ]
    cancelled = list(
        declared.document_errors(azure, body("azure-async", "canceled_lowercase"), "x")
    )
    assert [(r.code, r.message) for r in cancelled] == [
        ("OperationCanceled", "The operation was canceled.")
    ]
    assert list(declared.document_errors(azure, body("azure-async", "running"), "x")) == []


# --- Google LRO ---


@pytest.mark.parametrize(
    ("name", "state", "word"),
    [
        ("running", State.RUNNING, "running"),
        ("running_done_false", State.RUNNING, "running"),
        ("succeeded", State.SUCCEEDED, "done"),
        ("failed", State.FAILED, "error"),
        ("cancelled", State.FAILED, "cancelled"),
        ("partial", State.PARTIAL, "done, partial failures"),
        ("unknown_word", State.RUNNING, "running"),  # `done: "maybe"` is not done
    ],
)
def test_google_lro_states(name: str, state: State, word: str) -> None:
    operation, _ = read("google-lro", name)
    assert (operation.state, operation.provider_status) == (state, word)


def test_google_lro_counts_are_int64_strings_and_times_come_from_metadata() -> None:
    operation, _ = read("google-lro", "partial")
    assert operation.progress == Progress(100.0, 9, None, 8, 1)
    assert operation.submitted_at == at("2024-03-01T10:00:00+00:00")
    assert operation.finished_at == at("2024-03-01T10:09:00+00:00")
    running, _ = read("google-lro", "running")
    assert running.finished_at is None
    assert str(running.kind).endswith("OperationMetadata")


def test_google_lro_error_rows_name_the_fields() -> None:
    google = definition("google-lro")
    rows = list(declared.document_errors(google, body("google-lro", "failed"), "x"))
    assert [(r.code, r.field, r.message) for r in rows] == [
        ("3", None, "Request contains an invalid argument."),
        (None, "migrate_resource_requests[0].dataset", "Dataset not found."),
        (None, "migrate_resource_requests[2].model", "Model name is malformed."),
    ]
    partial = list(declared.document_errors(google, body("google-lro", "partial"), "x"))
    assert [(r.code, r.message) for r in partial] == [
        ("5", "Resource projects/p/datasets/7 not found.")
    ]


# --- GitHub Actions ---


@pytest.mark.parametrize(
    ("name", "jobs", "state", "word", "progress"),
    [
        ("queued", None, State.PENDING, "queued", Progress()),
        ("running", "jobs_running", State.RUNNING, "in_progress", Progress(100 / 3, 1, 3, 1, 0)),
        ("succeeded", None, State.SUCCEEDED, "success", Progress(100.0)),
        ("failed", "jobs_failed", State.FAILED, "failure", Progress(100.0, 3, 3, 1, 2)),
        ("unknown_word", None, State.UNKNOWN, "superseded", Progress()),
    ],
)  # fmt: skip
def test_github_actions_states_and_job_counts(
    name: str, jobs: str | None, state: State, word: str, progress: Progress
) -> None:
    also = {"run_jobs": body("github-actions", jobs) if jobs else None}
    operation, _ = read("github-actions", name, also=also)
    assert (operation.state, operation.provider_status, operation.progress) == (
        state,
        word,
        progress,
    )
    assert operation.message == "Fix the flaky upload test"
    # Once completed, updated_at is the end, whatever the conclusion says.
    completed = name in ("succeeded", "failed", "unknown_word")
    expected_end = at("2024-03-01T10:03:00+00:00") if completed else None
    assert operation.finished_at == expected_end


def test_github_actions_failed_jobs_are_the_rows() -> None:
    github = definition("github-actions")
    source = github.errors[0]
    rows = list(
        declared.error_rows(
            source, source.rows.search(body("github-actions", "jobs_failed")), "gh", "x"
        )
    )  # type: ignore[union-attr]
    assert [(r.item, r.code, r.step) for r in rows] == [
        ("test (3.11)", "failure", "pytest"),
        ("test (3.12)", "cancelled", None),
    ]
    assert rows[0].message == "https://github.com/octo-org/hello-world/actions/runs/30433642/job/2"


def test_github_actions_ids_take_the_run_page_url() -> None:
    cls = declared.provider_type(definition("github-actions"))
    assert cls.normalize_id(" octo-org/hello-world/30433642 ") == "octo-org/hello-world/30433642"
    url = "https://github.com/octo-org/hello-world/actions/runs/30433642"
    assert cls.normalize_id(url) == url
    github = definition("github-actions")
    groups = github.id_pattern.fullmatch(url).groupdict()  # type: ignore[union-attr]
    assert github.status.fill(groups) == "/repos/octo-org/hello-world/actions/runs/30433642"


# --- Wesog, declared, against the built-in provider ---


@pytest.mark.parametrize("path", sorted((PAYLOADS / "wesog").glob("*.json")), ids=lambda p: p.stem)
def test_wesog_definition_agrees_with_the_built_in_provider(path: Path) -> None:
    payload = json.loads(path.read_text())
    built_in = wesog.parse_operation(payload, "7")
    mine = declared.parse_operation(definition("wesog"), payload, "7")
    assert mine.state is built_in.state
    assert mine.progress == built_in.progress
    assert mine.error_count == built_in.error_count
    assert (mine.submitted_at, mine.started_at, mine.finished_at) == (
        built_in.submitted_at,
        built_in.started_at,
        built_in.finished_at,
    )
    assert mine.kind == built_in.kind

    async def rows_of_built_in() -> list[Any]:
        provider = wesog.WesogProvider.__new__(wesog.WesogProvider)
        return [row async for row in provider.errors(built_in)]

    import asyncio

    theirs = [(r.item, r.code, r.field, r.step, r.message) for r in asyncio.run(rows_of_built_in())]
    ours = [
        (r.item, r.code, r.field, r.step, r.message)
        for r in declared.document_errors(definition("wesog"), payload, "7")
    ]
    assert ours == theirs


# --- any JSON at all ---

_KEYS = {
    "github-actions": ["status", "conclusion", "name", "display_title", "created_at",
                       "run_started_at", "updated_at", "run_jobs"],
    "azure-async": ["status", "percentComplete", "startTime", "endTime", "error"],
    "google-lro": ["done", "error", "metadata", "response"],
    "openai-batch": ["status", "request_counts", "errors", "created_at", "in_progress_at",
                     "completed_at", "failed_at", "error_file_id"],
    "wesog": ["num_total", "num_good", "num_bad", "is_started", "is_finished", "errors",
              "created_at", "method", "resource"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_KEYS))
def test_any_json_reads_as_an_operation_that_renders_as_strict_json(name: str) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from opwatch.model import OpRef
    from opwatch.render.json import line, operation_record
    from tests.fakes import EPOCH
    from tests.test_fuzz import json_values

    found = definition(name)
    shaped = st.fixed_dictionaries({}, optional=dict.fromkeys(_KEYS[name], json_values))

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(payload=json_values | shaped, status=st.sampled_from([200, 202, 204]))
    def check(payload: Any, status: int) -> None:
        operation = declared.parse_operation(found, payload, "1", http_status=status)
        assert isinstance(operation.state, State)
        list(declared.document_errors(found, payload, "1"))
        json.loads(
            line(operation_record(OpRef("p", "1"), operation, EPOCH)),
            parse_constant=lambda constant: pytest.fail(f"{constant} in JSON output"),
        )

    check()
