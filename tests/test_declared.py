"""Providers declared in YAML: config, validation messages, what goes on the wire, paging,
polling hints, and that a config without declared providers never imports jmespath."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from opwatch.config import Config, load_config, parse_config
from opwatch.errors import ConfigError, NotFound, ProviderError, UsageError
from opwatch.exitcodes import ExitCode
from opwatch.model import State
from opwatch.providers import provider_class
from opwatch.runtime import Runtime
from opwatch.session import Session

CANARY = "canary-token-51c2"

JOBS = {
    "label": "Jobs",
    "url": "https://jobs.test",
    "id": {"pattern": "(?P<team>[a-z]+)/(?P<job>[0-9]+)", "example": "ops/42"},
    "status": "/v2/teams/{team}/jobs/{job}",
    "auth": {"scheme": "bearer", "secret": "token"},
    "headers": {"Accept": "application/json", "X-Api": "2"},
    "state": {
        "word": "phase",
        "rules": [{"when": "phase == 'DONE' && failed > `0`", "state": "partial"}],
        "words": {"queued": "pending", "running": "running", "done": "succeeded", "bad": "failed"},
        "ignore_case": True,
        "other": "running",
    },
    "progress": {"total": "total", "good": "ok", "bad": "failed"},
    "times": {"submitted": "created", "format": "epoch_ms"},
    "errors": {
        "url": "/v2/teams/{team}/jobs/{job}/errors",
        "paging": "link",
        "rows": "items",
        "item": "row",
        "code": "code",
        "message": "text",
    },
    "error_message": "error.detail",
}


def config(definition: dict[str, Any] | None = None, **profile: Any) -> Config:
    settings = {
        key: value
        for key, value in {"provider": "jobs", "token": CANARY, **profile}.items()
        if value is not None
    }
    document = {"providers": {"jobs": definition or JOBS}, "profiles": {"j": settings}}
    return parse_config(document, Path("c.yaml"), {})


def with_changes(**changes: Any) -> dict[str, Any]:
    """JOBS with top-level keys replaced (None removes one)."""
    changed = {**JOBS, **changes}
    return {key: value for key, value in changed.items() if value is not None}


def call(mock: respx.MockRouter, cfg: Config, action: Any, runtime: Runtime | None = None) -> Any:
    runtime = runtime or Runtime(env={}, transport=httpx.MockTransport(mock.async_handler))

    async def main() -> Any:
        async with Session(cfg, runtime) as session:
            return await action(session.provider("j"))

    return asyncio.run(main())


def rows(mock: respx.MockRouter, cfg: Config, op_id: str = "ops/42") -> list[Any]:
    async def action(provider: Any) -> list[Any]:
        operation = await provider.fetch(op_id)
        return [row async for row in provider.errors(operation)]

    return call(mock, cfg, action)


@pytest.fixture
def mock() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False)


STATUS = "https://jobs.test/v2/teams/ops/jobs/42"


# --- config ---


def test_a_declared_provider_is_a_profile_like_any_other(mock: respx.MockRouter) -> None:
    cfg = config()
    assert cfg.get("j").url == "https://jobs.test"
    assert list(cfg.providers) == ["jobs"]
    route = mock.get(STATUS).respond(
        json={"phase": "Running", "total": 10, "ok": 3, "failed": 1, "created": 1711471533000}
    )
    operation = call(mock, cfg, lambda p: p.fetch("ops/42"))
    assert (operation.state, operation.provider_status) == (State.RUNNING, "Running")
    assert (operation.progress.done, operation.progress.percent) == (4, 40.0)
    assert operation.submitted_at.isoformat() == "2024-03-26T16:45:33+00:00"
    sent = route.calls.last.request.headers
    assert sent["Authorization"] == f"Bearer {CANARY}"
    assert (sent["Accept"], sent["X-Api"]) == ("application/json", "2")


def test_definitions_from_a_file_and_found_by_name(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "jobs.yaml").write_text(yaml.safe_dump(JOBS))
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "other.yaml").write_text(
        yaml.safe_dump({**JOBS, "label": "Other", "url": "https://other.test"})
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        "providers:\n  jobs: {file: defs/jobs.yaml}\n"
        "profiles:\n"
        "  a: {provider: jobs, token: '${JOBS_TOKEN}'}\n"
        "  b: {provider: other, token_command: 'echo from-a-command'}\n"
    )
    path.chmod(0o600)
    cfg = load_config(path, {"JOBS_TOKEN": CANARY})
    assert cfg.get("a").secrets["token"].reveal() == CANARY
    assert cfg.get("a").secrets["token"].source == "$JOBS_TOKEN"
    assert cfg.get("b").secrets["token"].reveal() == "from-a-command"
    assert cfg.get("b").url == "https://other.test"
    assert provider_class("other").spec.label == "Other"


def test_basic_and_header_auth(mock: respx.MockRouter) -> None:
    basic = with_changes(auth={"scheme": "basic", "secret": "password", "username": "user"})
    route = mock.get(STATUS).respond(json={"phase": "done"})
    call(mock, config(basic, token=None, user="me", password=CANARY), lambda p: p.fetch("ops/42"))
    # base64("me:canary-token-51c2")
    assert route.calls.last.request.headers["Authorization"] == "Basic bWU6Y2FuYXJ5LXRva2VuLTUxYzI="
    header = with_changes(auth={"header": "PRIVATE-TOKEN", "secret": "token"})
    call(mock, config(header), lambda p: p.fetch("ops/42"))
    assert route.calls.last.request.headers["PRIVATE-TOKEN"] == CANARY
    assert "Authorization" not in route.calls.last.request.headers


def test_a_profile_without_the_definitions_secret_says_which_key() -> None:
    cfg = config(token=None)
    with pytest.raises(ConfigError, match="'token' is required for Jobs"):
        cfg.get("j")


CONFIG_ERRORS = [
    ({"state": {**JOBS["state"], "word": "phase[?"}}, "'state.word' is not a JMESPath expression"),
    ({"kind": "length(a, b)"}, "'kind' calls length() with 2 arguments, it takes 1"),
    ({"message": "shout(a)"}, "'message' calls an unknown JMESPath function shout()"),
    ({"state": {**JOBS["state"], "words": {"queued": "waiting"}}},
     "'state.words.queued' is not a state: 'waiting' (states: pending, running, succeeded"),
    ({"state": {**JOBS["state"], "other": "done"}}, "'state.other' is not a state: 'done'"),
    ({"state": {"word": "phase", "rules": [{"when": "x"}]}}, "'state.rules[0].state' is required"),
    ({"state": {"word": "phase", "rules": [{"http_status": "ok", "state": "running"}]}},
     "'state.rules[0].http_status' must be HTTP status codes"),
    ({"status": "/v2/jobs/{job_id}"},
     "'status' uses {job_id}, which the id pattern does not define (its groups: job, team)"),
    ({"errors": {**JOBS["errors"], "url": "/files/{file}"}},
     "'errors.url' uses {file}, which the id pattern does not define"),
    ({"status": "https://elsewhere.test/{job}"}, "'status' must be a path under the profile's url"),
    ({"id": "(?P<job>[0-9]+"}, "'id.pattern' is not a regular expression"),
    ({"id": {"pattern": "[0-9]+", "example": "abc"}}, "'id.example' 'abc' does not match"),
    ({"status": None}, "'status' is required"),
    ({"progres": {"total": "n"}}, "'progres' is not a key of a definition here"),
    ({"times": {"format": "unix"}}, "'times.format' must be one of rfc3339, epoch_s, epoch_ms"),
    ({"auth": {"scheme": "digest"}}, "'auth.scheme' must be bearer, basic or header"),
    ({"errors": {**JOBS["errors"], "paging": {"token": "next"}}},
     "'errors.paging' is 'link' or {token: EXPRESSION, param: NAME}"),
    ({"errors": {"rows": "items"}}, "'errors' maps no column"),
    ({"polling": {"min_interval": "soon"}}, "'polling.min_interval' 'soon' is not a duration"),
    ({"polling": {"min_interval": "1m", "max_interval": "5s"}},
     "'polling.min_interval' is more than polling.max_interval"),
    ({"polling": {"etag": "yes"}}, "'polling.etag' must be true or false"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "expected"), CONFIG_ERRORS)
def test_bad_definitions_are_config_errors_naming_provider_and_key(
    changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        config(with_changes(**changes))
    assert caught.value.exit_code is ExitCode.CONFIG
    assert caught.value.message.startswith("provider 'jobs' (c.yaml: providers.jobs): ")
    assert expected in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("providers", "expected"),
    [
        (["jobs"], "'providers' must be a mapping of provider names to definitions"),
        ({"wesog": JOBS}, "providers.wesog: 'wesog' is a built-in provider"),
        ({"Jobs": JOBS}, "provider 'Jobs' (c.yaml: providers.Jobs): 'name' must be lower-case"),
        ({"jobs": {"file": "nowhere.yaml"}}, "provider 'jobs': no definition file at nowhere.yaml"),
    ],
)
def test_bad_providers_entries(providers: Any, expected: str) -> None:
    document = {"providers": providers, "profiles": {"j": {"provider": "wesog", "api_key": "k"}}}
    with pytest.raises(ConfigError) as caught:
        parse_config(document, Path("c.yaml"), {})
    assert expected in caught.value.message


def test_an_unknown_provider_names_the_providers_directory(tmp_path: Path) -> None:
    document = {"profiles": {"j": {"provider": "jobz", "token": "t"}}}
    cfg = parse_config(document, tmp_path / "c.yaml", {})
    with pytest.raises(ConfigError) as caught:
        cfg.get("j")
    assert "'provider' must be one of wesog, toloka, trafficops (got 'jobz')" in str(caught.value)
    assert f"or a definition in {tmp_path}/providers/NAME.yaml" in str(caught.value)


def test_a_bad_file_found_by_name_breaks_only_its_profile(tmp_path: Path) -> None:
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "jobs.yaml").write_text(
        "id: '[0-9]+'\nstatus: /x/{nope}\nstate: {word: a}\n"
    )
    document = {
        "profiles": {
            "j": {"provider": "jobs", "token": "t"},
            "w": {"provider": "wesog", "api_key": "k"},
        }
    }
    cfg = parse_config(document, tmp_path / "c.yaml", {})
    assert list(cfg.profiles) == ["w"]
    with pytest.raises(ConfigError, match=r"'status' uses \{nope\}"):
        cfg.get("j")


def test_start_up_without_declared_providers_imports_no_jmespath(tmp_path: Path) -> None:
    # A config of built-in providers must not pay for the expression language.
    plain = tmp_path / "plain.yaml"
    plain.write_text("profiles:\n  m: {provider: wesog, api_key: k}\n")
    declared = tmp_path / "declared.yaml"
    declared.write_text(
        "providers:\n  jobs: " + json.dumps(JOBS) + "\nprofiles:\n  j: {provider: jobs, token: t}\n"
    )
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from opwatch.config import load_config\n"
        "load_config(Path(sys.argv[1]), {}).get(sys.argv[2])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jmespath')[:1])\n"
    )

    def loaded(path: Path, profile: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, str(path), profile],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert loaded(plain, "m") == "[]"
    assert loaded(declared, "j") == "['jmespath']"  # the check can see jmespath when it is there


# --- ids and URLs ---


def test_ids_must_match_the_whole_pattern() -> None:
    cls = provider_class(config().get("j").provider)
    assert cls.normalize_id(" ops/42 ") == "ops/42"
    with pytest.raises(UsageError, match="a Jobs operation id looks like ops/42"):
        cls.normalize_id("ops/42/extra")


def test_values_are_encoded_into_the_path(mock: respx.MockRouter) -> None:
    loose = with_changes(id={"pattern": "(?P<team>.+)/(?P<job>[0-9]+)"})
    route = mock.get(url__startswith="https://jobs.test/").respond(json={"phase": "done"})
    call(mock, config(loose), lambda p: p.fetch("a?b#c@d/7"))
    assert route.calls.last.request.url.raw_path == b"/v2/teams/a%3Fb%23c%40d/jobs/7"
    with pytest.raises(UsageError, match=r"'\.\.' segment"):
        call(mock, config(loose), lambda p: p.fetch("../7"))


# --- reading ---


def test_an_expression_that_fails_reads_as_null(mock: respx.MockRouter) -> None:
    counted = with_changes(progress={"total": "length(items)"}, kind="join(', ', tags)")
    mock.get(STATUS).respond(json={"phase": "running", "tags": [1, 2]})
    operation = call(mock, config(counted), lambda p: p.fetch("ops/42"))
    assert (operation.progress.total, operation.kind) == (None, None)


def test_a_word_the_definition_does_not_list_warns_once(mock: respx.MockRouter) -> None:
    mock.get(STATUS).respond(json={"phase": "Paused"})
    warnings: list[str] = []
    runtime = Runtime(env={}, transport=httpx.MockTransport(mock.async_handler))
    runtime.warn = warnings.append  # type: ignore[method-assign]

    async def three_reads(provider: Any) -> Any:
        return [await provider.read("ops/42") for _ in range(3)]

    operations = call(mock, config(), three_reads, runtime)
    assert {op.state for op in operations} == {State.RUNNING}  # `other: running`
    assert warnings == [
        "j:ops/42 reports status 'Paused', which the definition in c.yaml: providers.jobs "
        "does not list; read as running"
    ]


def test_http_failures_are_opwatch_errors(mock: respx.MockRouter) -> None:
    mock.get(STATUS).respond(404, json={"error": {"detail": "no job 42"}})
    with pytest.raises(NotFound, match=r"Jobs has no such operation \(404: no job 42\)"):
        call(mock, config(), lambda p: p.fetch("ops/42"))


def test_a_status_rule_may_decide_on_an_error_status(mock: respx.MockRouter) -> None:
    gone = with_changes(
        state={"word": "phase", "rules": [{"http_status": 410, "state": "failed", "word": "gone"}]}
    )
    mock.get(STATUS).respond(410, text="<html>Gone</html>")
    operation = call(mock, config(gone), lambda p: p.fetch("ops/42"))
    assert (operation.state, operation.provider_status) == (State.FAILED, "gone")


def test_etag_reuses_the_last_body_on_304(mock: respx.MockRouter) -> None:
    tagged = with_changes(polling={"etag": True})
    route = mock.get(STATUS)
    route.side_effect = [
        httpx.Response(200, json={"phase": "running", "total": 5}, headers={"ETag": '"v1"'}),
        httpx.Response(304, headers={"ETag": '"v1"'}),
    ]

    async def two_reads(provider: Any) -> Any:
        return [await provider.fetch("ops/42") for _ in range(2)]

    first, second = call(mock, config(tagged), two_reads)
    assert route.calls[0].request.headers.get("If-None-Match") is None
    assert route.calls[1].request.headers["If-None-Match"] == '"v1"'
    assert (second.state, second.progress.total) == (first.state, 5)


def test_polling_bounds_and_retry_after_on_a_success(mock: respx.MockRouter) -> None:
    bounded = with_changes(polling={"min_interval": "5s", "max_interval": "40s"})
    route = mock.get(STATUS)
    route.side_effect = [
        httpx.Response(200, json={"phase": "running"}),
        httpx.Response(200, json={"phase": "running"}, headers={"Retry-After": "90"}),
    ]

    async def delays(provider: Any) -> list[float]:
        found = []
        for _ in range(2):
            operation = await provider.fetch("ops/42")
            found += [provider.poll_delay(operation, 1.0), provider.poll_delay(operation, 300.0)]
        return found

    assert call(mock, config(bounded), delays) == [5.0, 40.0, 90.0, 90.0]


# --- error rows ---


def test_error_rows_follow_link_pages_on_the_profiles_origin(mock: respx.MockRouter) -> None:
    mock.get(STATUS).respond(json={"phase": "done", "failed": 3})
    errors = STATUS + "/errors"
    mock.get(errors, params={"page": "2"}).respond(
        json={"items": [{"row": 9, "code": "E2", "text": "late"}]}
    )
    mock.get(errors).respond(
        json={"items": [{"row": 1, "code": "E1", "text": "bad"}, {"row": 4, "code": "E1"}]},
        headers={"Link": f'<{errors}?page=2>; rel="next", <{errors}?page=2>; rel="last"'},
    )
    found = rows(mock, config())
    assert [(r.item, r.code, r.message) for r in found] == [
        ("1", "E1", "bad"),
        ("4", "E1", None),
        ("9", "E2", "late"),
    ]


def test_a_link_to_another_host_is_refused_and_gets_no_credential(
    mock: respx.MockRouter,
) -> None:
    mock.get(STATUS).respond(json={"phase": "done"})
    mock.get(STATUS + "/errors").respond(
        json={"items": [{"row": 1}]},
        headers={"Link": '<https://evil.test/steal?page=2>; rel="next"'},
    )
    elsewhere = mock.get(url__startswith="https://evil.test/").respond(json={"items": []})
    with pytest.raises(ProviderError) as caught:
        rows(mock, config())
    assert "https://evil.test/steal" in caught.value.message
    assert "refused" in caught.value.message
    assert CANARY not in caught.value.message
    assert not elsewhere.called


def test_error_rows_by_token_paging(mock: respx.MockRouter) -> None:
    paged = with_changes(
        errors={
            "url": "/v2/teams/{team}/jobs/{job}/errors?limit=2",
            "paging": {"token": "next_page", "param": "page_token"},
            "rows": "items",
            "code": "code",
        }
    )
    mock.get(STATUS).respond(json={"phase": "done"})
    errors = STATUS + "/errors"
    mock.get(errors, params={"limit": "2", "page_token": "t2"}).respond(
        json={"items": [{"code": "C"}], "next_page": None}
    )
    mock.get(errors, params={"limit": "2"}).respond(
        json={"items": [{"code": "A"}, {"code": "B"}], "next_page": "t2"}
    )
    assert [r.code for r in rows(mock, config(paged))] == ["A", "B", "C"]


def test_error_rows_from_a_json_lines_file_named_by_the_body(mock: respx.MockRouter) -> None:
    filed = with_changes(
        errors={
            "url": "/files/{file}/content",
            "with": {"file": "error_file"},
            "format": "jsonl",
            "item": "custom_id",
            "message": "error.message",
        }
    )
    mock.get(STATUS).respond(json={"phase": "done", "error_file": "f-1"})
    mock.get("https://jobs.test/files/f-1/content").respond(
        text='{"custom_id": "r1", "error": {"message": "too long"}}\n\n{"custom_id": "r2"}\n'
    )
    assert [(r.item, r.message) for r in rows(mock, config(filed))] == [
        ("r1", "too long"),
        ("r2", None),
    ]
    # No error file named yet: nothing to read, and nothing requested.
    mock.get(STATUS).respond(json={"phase": "running", "error_file": None})
    assert rows(mock, config(filed)) == []
