"""Scenarios: which operations (and faults) a simulator starts with, and how fast its clock runs.

A scenario file is YAML: `{speed?: number, operations: [OperationSpec mapping, ...],
faults?: [fault mapping, ...]}`. Operations of a scenario start their clocks when the simulator
starts serving, and so do the `duration_s` of its faults; `age_s` (or a negative
`start_delay_s`) puts part of an operation's life in the past.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opwatch.simulator.faults import Fault
from opwatch.simulator.operations import OperationSpec
from opwatch.simulator.providers import PROVIDERS

_TOP_KEYS = ("speed", "operations", "faults")


@dataclass(frozen=True)
class Scenario:
    """Operations to create at start, faults to switch on, and the clock's speed."""

    operations: list[OperationSpec] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    speed: float | None = None


def load_scenario(path: Path | str) -> Scenario:
    """Read a YAML scenario file.

    Raises ValueError naming the file and the entry that is wrong.
    """
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ValueError(f"cannot read scenario {path}: {reason}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"scenario {path} is not valid YAML{where}") from None
    return scenario_from_dict(document, str(path))


def scenario_from_dict(document: Any, source: str = "scenario") -> Scenario:
    """Check and build a scenario from parsed YAML/JSON; ValueError messages name `source`."""
    if not isinstance(document, dict) or not isinstance(document.get("operations"), list):
        raise ValueError(f"{source} must be a mapping with an 'operations' list")
    unknown = sorted(str(key) for key in document if key not in _TOP_KEYS)
    if unknown:
        raise ValueError(
            f"{source}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_TOP_KEYS)})"
        )
    operations = []
    for index, entry in enumerate(document["operations"]):
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: operation {index + 1} must be a mapping")
        try:
            operations.append(OperationSpec.from_dict(entry))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: operation {index + 1}: {exc}") from None
    faults = document.get("faults") or []
    if not isinstance(faults, list):
        raise ValueError(f"{source}: 'faults' must be a list of mappings")
    for index, entry in enumerate(faults):
        try:
            Fault.from_dict(entry)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: fault {index + 1}: {exc}") from None
    speed = document.get("speed")
    if speed is not None and (
        isinstance(speed, bool) or not isinstance(speed, int | float) or speed <= 0
    ):
        raise ValueError(f"{source}: 'speed' must be a positive number")
    return Scenario(operations, [dict(f) for f in faults], None if speed is None else float(speed))


def default_scenario() -> Scenario:
    """Every state of every provider, at any moment: finished ones already old, running ones
    long, pending ones waiting, stuck ones forever, an unknown status word each (where the API
    has status words), and each provider's own quirks (`extra_samples`)."""
    ops: list[OperationSpec] = []
    day = 86400.0
    for provider in (p for p in PROVIDERS if not p.declared):
        name = provider.name
        batch, other, failing = provider.sample_kinds
        ops += [
            # succeeded, partial and failed, finished ten minutes before the start
            OperationSpec(name, kind=batch, duration_s=60, age_s=600, items=40),
            OperationSpec(name, kind=batch, duration_s=60, age_s=600, items=40, fail_fraction=0.25),
            OperationSpec(name, kind=failing, duration_s=30, age_s=600, items=10, outcome="failed"),
            # running for a day, pending for a day, stuck forever
            OperationSpec(name, kind=batch, duration_s=day, items=1000, fail_fraction=0.1),
            OperationSpec(name, kind=other, duration_s=60, start_delay_s=day, items=10),
            OperationSpec(name, kind=batch, duration_s=60, items=10, outcome="stuck"),
            # an unknown final status word (or a plain finished one where the API has none)
            OperationSpec(
                name,
                kind=batch,
                duration_s=10,
                age_s=600,
                items=5,
                status_word=provider.sample_status_word,
            ),
        ]
    for provider in PROVIDERS:
        ops += [OperationSpec.from_dict(dict(extra)) for extra in provider.extra_samples]
    return Scenario(operations=ops)


def demo_scenario() -> Scenario:
    """A curated mix for `opwatch demo`: about 15 seconds at speed 1, all three providers."""
    return Scenario(
        operations=[
            OperationSpec("wesog", kind="add image", duration_s=8, items=120),
            OperationSpec("wesog", kind="upd video", duration_s=10, items=80, fail_fraction=0.1),
            OperationSpec(
                "toloka",
                kind="TASK_SUITE.BATCH_CREATE",
                duration_s=12,
                items=200,
                fail_fraction=0.08,
                start_delay_s=1,
            ),
            OperationSpec(
                "toloka",
                kind="POOL.OPEN",
                duration_s=6,
                items=1,
                outcome="failed",
                reports_progress=False,
            ),
            OperationSpec(
                "trafficops", kind="acme_renew", duration_s=14, items=12, fail_fraction=0.17
            ),
            OperationSpec("trafficops", kind="dnssec_refresh", duration_s=5, items=6),
        ]
    )
