"""Each shipped definition (examples/providers/) through the whole CLI (`opwatch.cli.main`,
in-process, on a virtual clock the simulator shares) against the simulator's rendition of its
API: states and exit codes, error rows, a wait to the end, Retry-After on a 429 and on a
running Azure operation."""

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opwatch.simulator import Scenario, Simulator
from tests.e2e.conftest import Cli, Run, make_simulator

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parent.parent / "examples" / "providers"
# simulated provider → (its profile in the config the test writes, its token's key)
APIS = {
    "github-actions": ("gh", "github_token"),
    "azure-async": ("azure", "azure_token"),
    "google-lro": ("vertex", "google_token"),
    "openai-batch": ("openai", "openai_token"),
}
FINISHED = {"duration_s": 30, "age_s": 600, "items": 8}
"""Ended ten minutes before the simulator started."""


@pytest.fixture
def sim_and_cli() -> Iterator[tuple[Simulator, Cli]]:
    simulator, clock = make_simulator(Scenario())
    with simulator:
        yield simulator, Cli(clock)


@pytest.fixture
def sim(sim_and_cli: tuple[Simulator, Cli]) -> Simulator:
    return sim_and_cli[0]


@pytest.fixture
def cli(sim_and_cli: tuple[Simulator, Cli]) -> Cli:
    return sim_and_cli[1]


@pytest.fixture
def config(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every example declared by file, one profile each, pointing at the simulator."""
    path = tmp_path_factory.mktemp("declared") / "config.yaml"
    providers = "".join(f"  {name}: {{file: {EXAMPLES / name}.yaml}}\n" for name in APIS)
    profiles = "".join(
        f"  {profile}: {{provider: {name}, url: '{sim.url}', token: {sim.credentials[key]}}}\n"
        for name, (profile, key) in APIS.items()
    )
    path.write_text(f"providers:\n{providers}profiles:\n{profiles}")
    path.chmod(0o600)
    return path


@pytest.fixture
def opwatch(cli: Cli, config: Path) -> Callable[..., Run]:
    return lambda *args: cli(*args, env={"OPWATCH_CONFIG": str(config)})


def records(run: Run) -> list[dict[str, object]]:
    return [json.loads(line) for line in run.stdout.splitlines()]


# GitHub and Azure have no partial (a run or a deployment with failed parts failed), and Google
# no status word.
CASES = [
    (name, outcome, state, code)
    for name in APIS
    for outcome, state, code in [
        ("succeeded", "succeeded", 0),
        ("partial", "failed" if name in ("github-actions", "azure-async") else "partial", 3),
        ("failed", "failed", 3),
        ("running", "running", 4),
    ]
]


@pytest.mark.parametrize(("name", "outcome", "state", "code"), CASES)
def test_status_reads_each_state(
    sim: Simulator, opwatch: Callable[..., Run], name: str, outcome: str, state: str, code: int
) -> None:
    spec: dict[str, object] = {"provider": name, **FINISHED}
    if outcome == "running":
        spec.update(duration_s=86400, age_s=60, fail_fraction=0.1)
    else:
        spec.update(outcome=outcome, fail_fraction={"partial": 0.25}.get(outcome, 0.0))
    ref = sim.add_operation(spec)
    run = opwatch("status", ref, "--json", "--exit-status")
    assert run.code == code, run.stderr
    (record,) = records(run)
    assert (record["ref"], record["state"], record["provider"]) == (ref, state, name)
    assert sim.credentials[APIS[name][1]] not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("name", "word", "state"),
    [
        ("github-actions", "superseded", "unknown"),
        ("azure-async", "Provisioning", "running"),  # Azure: any other word is not terminal
        ("openai-batch", "archived", "unknown"),
    ],
)
def test_an_unknown_word_warns_and_never_crashes(
    sim: Simulator, opwatch: Callable[..., Run], name: str, word: str, state: str
) -> None:
    ref = sim.add_operation({"provider": name, **FINISHED, "status_word": word})
    run = opwatch("status", ref, "--json")
    assert run.code == 0, run.stderr
    (record,) = records(run)
    assert (record["state"], record["provider_status"]) == (state, word)
    assert f"{ref} reports status '{word}', which the definition in" in run.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("github-actions", {"item": "test (0)", "code": "failure", "step": "Run tests"}),
        ("azure-async", {"code": "QuotaExceeded", "field": "resources[0]"}),
        ("google-lro", {"field": "requests[0]", "message": "Not found."}),
        ("openai-batch", {"item": "request-0", "code": "context_length_exceeded",
                          "field": "messages"}),
    ],
)  # fmt: skip
def test_list_errors_reads_the_failed_items(
    sim: Simulator, opwatch: Callable[..., Run], name: str, expected: dict[str, str]
) -> None:
    ref = sim.add_operation({"provider": name, **FINISHED, "outcome": "failed"})
    run = opwatch("list-errors", ref, "--json")
    assert run.code == 0, run.stderr
    rows = records(run)
    first = {key: rows[-1 if name == "google-lro" else 0][key] for key in expected}
    if name == "google-lro":  # the operation's own error comes first, then each field
        assert [row["field"] for row in rows] == [None, *(f"requests[{i}]" for i in range(8))]
        first = {key: rows[1][key] for key in expected}
    else:
        assert len(rows) == 8
    assert first == expected


def test_github_jobs_are_read_across_link_pages(
    sim: Simulator, opwatch: Callable[..., Run]
) -> None:
    # 150 jobs: the definition asks 100 a page, GitHub's Link header names the second page.
    ref = sim.add_operation(
        {"provider": "github-actions", **FINISHED, "items": 150, "outcome": "failed"}
    )
    run = opwatch("list-errors", ref, "--json")
    assert run.code == 0, run.stderr
    assert len(records(run)) == 150


@pytest.mark.parametrize("name", list(APIS))
def test_wait_follows_an_operation_to_its_end(
    sim: Simulator, opwatch: Callable[..., Run], name: str
) -> None:
    ref = sim.add_operation({"provider": name, "duration_s": 2, "items": 4})
    run = opwatch("wait", ref, "--timeout", "30s", "--json")
    assert run.code == 0, run.stderr
    (record,) = records(run)
    assert record["state"] == "succeeded"
    assert len(sim.reads_of(ref)) >= 2


def test_a_429_with_retry_after_is_waited_out(sim: Simulator, opwatch: Callable[..., Run]) -> None:
    ref = sim.add_operation({"provider": "openai-batch", **FINISHED})
    sim.add_fault({"kind": "429", "ref": ref, "count": 1, "retry_after": 1.5})
    run = opwatch("wait", ref, "--timeout", "30s", "--json")
    assert run.code == 0, run.stderr
    first, second = sim.reads_of(ref)[:2]
    assert second - first == pytest.approx(1.5, abs=0.11)  # to the tick, never sooner
    assert "429" in run.stderr


def test_azure_retry_after_on_a_running_operation_paces_the_reads(
    sim: Simulator, opwatch: Callable[..., Run]
) -> None:
    ref = sim.add_operation({"provider": "azure-async", "duration_s": 2.5, "items": 4})
    run = opwatch("wait", ref, "--timeout", "30s", "--json")
    assert run.code == 0, run.stderr
    reads = sim.reads_of(ref)
    assert len(reads) >= 3
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(reads)), reads
