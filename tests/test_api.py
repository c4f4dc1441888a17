"""The Python API (`opwatch.status`, `wait`, `list_errors` and their `_async` twins) against the
simulator: results in REF order, opwatch's own exceptions with their exit codes, warnings as
Python warnings, streaming rows, and use from inside an event loop."""

import asyncio
import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import opwatch
from opwatch.simulator import OperationSpec, Scenario, Simulator
from opwatch.watch import Event, EventKind

EXAMPLES = Path(__file__).parent.parent / "examples" / "providers"
DONE = {"duration_s": 10, "age_s": 600, "items": 20}
"""Finished ten minutes before the simulator started: every test here reads without waiting."""


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    scenario = Scenario(
        [
            OperationSpec("wesog", **DONE),  # type: ignore[arg-type]
            OperationSpec("wesog", outcome="failed", fail_fraction=1.0, **DONE),  # type: ignore[arg-type]
            OperationSpec("wesog", duration_s=86400, items=10),
            OperationSpec("github-actions", outcome="failed", fail_fraction=0.5, **DONE),  # type: ignore[arg-type]
        ]
    )
    with Simulator(scenario) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def refs(sim: Simulator) -> list[str]:
    return sim.refs()


@pytest.fixture
def config(sim: Simulator, tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    github = f"  gh: {{provider: github-actions, url: '{sim.url}', token: sim-github-token}}\n"
    path.write_text(
        f"providers:\n  github-actions: {{file: {EXAMPLES / 'github-actions.yaml'}}}\n"
        + sim.config_yaml().split("\n", 1)[1]
        + github
    )
    path.chmod(0o600)
    return path


def test_status_reads_each_ref_in_order(config: Path, refs: list[str]) -> None:
    operations = opwatch.status(refs, config)
    assert [op.state for op in operations] == [
        opwatch.State.SUCCEEDED,
        opwatch.State.FAILED,
        opwatch.State.RUNNING,
        opwatch.State.FAILED,
    ]
    assert operations[3].provider == "github-actions"  # a declared provider, like any other
    assert opwatch.status(refs[0], str(config))[0].progress.done == 20


@pytest.mark.parametrize(
    ("ref", "profile", "error", "code"),
    [
        ("1", "nope", opwatch.ConfigError, 5),
        ("media:999999", None, opwatch.NotFound, 8),
        ("media:abc", None, opwatch.UsageError, 2),
    ],
)
def test_failures_are_opwatch_errors_with_their_exit_codes(
    config: Path, ref: str, profile: str | None, error: type[opwatch.OpwatchError], code: int
) -> None:
    with pytest.raises(error) as caught:
        opwatch.status([ref], config, profile=profile)
    assert caught.value.exit_code == code


def test_a_missing_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(opwatch.ConfigError, match="no config file at"):
        opwatch.status(["m:1"], tmp_path / "absent.yaml")


def test_wait_returns_how_it_ended_and_reports_events(config: Path, refs: list[str]) -> None:
    events: list[Event] = []
    result = opwatch.wait(refs[:2], config=config, on_event=events.append)
    assert (result.code, result.ok, result.timed_out) == (opwatch.ExitCode.FAILED, False, False)
    assert [op.state for op in result.failed] == [opwatch.State.FAILED]
    assert [event.kind for event in events] == [EventKind.DONE, EventKind.DONE]
    assert {str(event.snapshot.ref) for event in events} == set(refs[:2])


def test_the_host_programs_collector_is_left_as_it_is(config: Path, refs: list[str]) -> None:
    """The opwatch command collects young objects less often; a program using the API keeps
    its own settings."""
    before = gc.get_threshold()
    opwatch.wait(refs[:2], config=config)
    assert gc.get_threshold() == before


def test_wait_with_no_time_reads_once_and_says_the_deadline_passed(
    config: Path, refs: list[str]
) -> None:
    result = opwatch.wait(refs[2], timeout=0, config=config)
    assert (result.code, result.timed_out) == (opwatch.ExitCode.TIMEOUT, True)
    assert result.operations[0] is not None
    assert result.operations[0].state is opwatch.State.RUNNING


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"timeout": "soon"}, "timeout: 'soon' is not a duration"),
     ({"until": "most"}, "until must be 'all' or 'any'")],
)  # fmt: skip
def test_bad_wait_arguments_are_usage_errors(
    config: Path, refs: list[str], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(opwatch.UsageError, match=message):
        opwatch.wait(refs[0], config=config, **kwargs)  # type: ignore[arg-type]


def test_list_errors_streams_rows_and_stops_when_asked(config: Path, refs: list[str]) -> None:
    rows = list(opwatch.list_errors(refs[1], config))
    assert len(rows) == 20
    assert [row.item for row in rows] == [str(i) for i in range(20)]
    jobs = opwatch.list_errors([refs[3]], config)
    first = next(jobs)
    assert (first.item, first.code) == ("test (0)", "failure")
    jobs.close()  # leaves nothing running: the session and its loop are closed


def test_the_async_twins_run_inside_an_event_loop(config: Path, refs: list[str]) -> None:
    async def main() -> tuple[list[opwatch.Operation], int, int]:
        operations = await opwatch.status_async(refs[:2], config)
        result = await opwatch.wait_async(refs[0], config=config)
        rows = [row async for row in opwatch.list_errors_async(refs[1], config)]
        with pytest.raises(RuntimeError, match=r"await status_async\(\)"):
            opwatch.status(refs[0], config)
        return operations, result.code, len(rows)

    operations, code, count = asyncio.run(main())
    assert [op.state for op in operations] == [opwatch.State.SUCCEEDED, opwatch.State.FAILED]
    assert (code, count) == (0, 20)


def test_warnings_are_python_warnings_and_nothing_is_printed(
    config: Path, refs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    config.chmod(0o644)  # a literal secret readable by others
    with pytest.warns(opwatch.OpwatchWarning, match="holds a literal secret"):
        opwatch.status(refs[0], config)
    assert capsys.readouterr() == ("", "")


def test_import_opwatch_loads_nothing_more() -> None:
    script = (
        "import sys, opwatch\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opwatch.', 'httpx', 'typer'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n"
