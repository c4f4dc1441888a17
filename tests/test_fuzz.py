"""Property-based tests: arbitrary JSON into every parser, arbitrary YAML into the config
loader, arbitrary REFs: the only outcomes are a valid object or opwatch's own error."""

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opwatch.commands.common import resolve_refs
from opwatch.config import Config, load_config, parse_config
from opwatch.errors import OpwatchError
from opwatch.model import Operation, OpRef
from opwatch.providers import toloka, trafficops, wesog
from opwatch.render.json import line, operation_record
from tests.fakes import EPOCH

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)
KEYS = {
    "wesog": ["method", "resource", "num_total", "num_good", "num_bad", "is_started",
              "is_finished", "all_good", "idle_ms", "exec_ms", "created_at", "started_at",
              "finished_at", "errors", "id"],
    "toloka": ["id", "type", "status", "submitted", "started", "finished", "progress",
               "parameters", "details"],
    "trafficops": ["id", "status", "start_time", "end_time", "message"],
}  # fmt: skip


def shaped(provider: str) -> st.SearchStrategy[Any]:
    """Bodies with the provider's own keys holding anything: the likely garbage."""
    body = st.fixed_dictionaries({}, optional=dict.fromkeys(KEYS[provider], json_values))
    return st.builds(lambda b: {"response": b}, body) if provider == "trafficops" else body


def check(parse: Any, payload: Any) -> None:
    try:
        operation = parse(payload, "1")
    except OpwatchError:
        return
    assert isinstance(operation, Operation)
    # Renders as strict JSON (jq rejects NaN and Infinity).
    json.loads(
        line(operation_record(OpRef("p", "1"), operation, EPOCH)),
        parse_constant=lambda name: pytest.fail(f"{name} in JSON output"),
    )


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(payload=json_values | shaped("wesog"))
def test_wesog_parser(payload: Any) -> None:
    check(wesog.parse_operation, payload)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(payload=json_values | shaped("toloka"))
def test_toloka_parser(payload: Any) -> None:
    check(toloka.parse_operation, payload)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(payload=json_values | shaped("trafficops"))
def test_trafficops_parser(payload: Any) -> None:
    check(trafficops.parse_operation, payload)


@settings(max_examples=200)
@given(step=json_values | st.fixed_dictionaries({}, optional={
    "type": json_values, "success": st.booleans() | json_values, "input": json_values,
    "output": json_values}))  # fmt: skip
def test_toloka_log_steps(step: Any) -> None:
    for row in toloka.step_errors(step, "op"):
        assert row.id == "op"


yaml_text = st.text(
    alphabet=st.sampled_from(list("abcdefgptroviuswlkn:_- {}[],'\"\n\t#$&*!|>%@`0123456789")),
    max_size=200,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=yaml_text | st.text(max_size=200))
def test_config_loader_on_arbitrary_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="replace")
    try:
        config = load_config(path, {})
    except OpwatchError:
        return
    assert isinstance(config, Config)


@settings(max_examples=200)
@given(document=json_values | st.fixed_dictionaries(
    {"profiles": st.dictionaries(st.text(max_size=8), json_values | st.fixed_dictionaries(
        {"provider": st.sampled_from(["wesog", "toloka", "trafficops", "x"])},
        optional={"api_key": json_values, "token": json_values, "url": json_values,
                  "username": json_values, "password": json_values, "timeout": json_values,
                  "verify_tls": json_values, "environment": json_values,
                  "auth_scheme": json_values, "api_version": json_values}), max_size=3)},
    optional={"default_profile": json_values}))  # fmt: skip
def test_config_parser_on_arbitrary_documents(document: Any) -> None:
    try:
        config = parse_config(document, Path("c.yaml"), {})
        for name in [*config.profiles, *config.broken]:
            with contextlib.suppress(OpwatchError):
                config.get(name)
    except OpwatchError:
        return


CONFIG = parse_config(
    {
        "default_profile": "crowd",
        "profiles": {
            "media": {"provider": "wesog", "api_key": "k"},
            "crowd": {"provider": "toloka", "token": "t"},
            "cdn": {"provider": "trafficops", "url": "https://x", "token": "t"},
        },
    },
    Path("c.yaml"),
    {},
)


@settings(max_examples=500)
@given(texts=st.lists(st.text(max_size=40), min_size=0, max_size=5))
def test_arbitrary_refs(texts: list[str]) -> None:
    try:
        refs = resolve_refs(texts, CONFIG, None)
    except OpwatchError:
        return
    for ref in refs:
        assert ref.profile in CONFIG.profiles
        assert ref.id
