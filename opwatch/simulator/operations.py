"""Simulated operations: what each provider's API says about one job at a given moment.

An operation moves on the simulated clock: pending for `start_delay_s`, running for
`duration_s` with items done at a steady pace and failures spread evenly, then finished with its
outcome (or never, when `stuck`). Bodies follow PROVIDERS.md, quirks included.
"""

import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

PROVIDERS = ("wesog", "toloka", "trafficops")
OUTCOMES = ("succeeded", "partial", "failed", "stuck")
PROFILES = {"wesog": "media", "toloka": "crowd", "trafficops": "cdn"}

# Realistic validation failures, several fields per failed step, as Toloka reports them.
_FIELD_PROBLEMS = (
    ("input_values.image", "VALUE_REQUIRED", "Value must be present and not equal to null"),
    ("input_values.url", "INVALID_URL", "Value must be a valid URL"),
    ("input_values.label", "VALUE_TOO_LONG", "String length must not exceed 100"),
    ("overlap", "INVALID_MIN_VALUE", "Value must be greater than or equal to 1"),
)
_WESOG_REASONS = ("Image too small", "Unsupported format", "Download failed", "Duplicate")


@dataclass
class OperationSpec:
    """What to simulate. Every field has a default; YAML scenarios and the admin endpoint
    give the same keys."""

    provider: str = "toloka"
    id: str | None = None
    kind: str | None = None
    """Toloka `type`; Wesog `method resource` (`add image`); Traffic Ops `acme_renew`,
    `dnssec_refresh` or `generic`."""
    duration_s: float = 10.0
    start_delay_s: float = 0.0
    age_s: float = 0.0
    """Created this many simulated seconds before the simulator started (finished already)."""
    items: int = 100
    fail_fraction: float = 0.0
    outcome: str | None = None
    """succeeded | partial | failed | stuck; default from fail_fraction."""
    reports_progress: bool = True
    status_word: str | None = None
    """Replaces the provider's final status word: an unknown status for opwatch to tolerate."""
    log_steps: int | None = None
    """Toloka: steps in the operation log (default: one per item)."""
    age_days: float = 0.0
    """Toloka: a log older than 30 days is gone (404)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OperationSpec":
        """Build from YAML/JSON, with a ValueError naming any unknown or bad key."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown operation key(s): {', '.join(sorted(map(str, unknown)))}")
        spec = cls(**data)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Raise ValueError when the spec cannot be simulated."""
        if self.provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if not 0.0 <= float(self.fail_fraction) <= 1.0:
            raise ValueError("fail_fraction must be between 0 and 1")
        if float(self.duration_s) <= 0 or int(self.items) < 0:
            raise ValueError("duration_s must be positive and items not negative")

    @property
    def final(self) -> str:
        """The outcome, explicit or implied by fail_fraction."""
        if self.outcome:
            return self.outcome
        if self.fail_fraction <= 0:
            return "succeeded"
        return "failed" if self.fail_fraction >= 1 else "partial"


@dataclass
class Phase:
    """Where an operation stands at one moment."""

    started: bool
    finished: bool
    fraction: float
    done: int
    bad: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def good(self) -> int:
        return self.done - self.bad


@dataclass
class SimOperation:
    """One simulated operation, created at `created_mono` on the simulator's clock."""

    spec: OperationSpec
    id: str
    created_mono: float
    created_wall: datetime
    speed: float
    serial: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return PROFILES[self.spec.provider]

    @property
    def ref(self) -> str:
        return f"{self.profile}:{self.id}"

    def phase(self, now_mono: float | None = None) -> Phase:
        """The operation's state at `now_mono` (time.monotonic)."""
        spec = self.spec
        now = time.monotonic() if now_mono is None else now_mono
        elapsed = (now - self.created_mono) * self.speed + spec.age_s
        stuck = spec.final == "stuck"
        started = elapsed >= spec.start_delay_s
        running_for = max(0.0, elapsed - spec.start_delay_s)
        finished = started and not stuck and running_for >= spec.duration_s
        fraction = 1.0 if finished else min(running_for / spec.duration_s, 0.5 if stuck else 1.0)
        items = spec.items
        done = items if finished else math.floor(items * fraction)
        bad = self.failures_among(done)

        def wall(sim_seconds: float) -> datetime:
            return self.created_wall + timedelta(seconds=(sim_seconds - spec.age_s) / self.speed)

        return Phase(
            started=started,
            finished=finished,
            fraction=fraction,
            done=done,
            bad=bad,
            created_at=wall(0.0),
            started_at=wall(spec.start_delay_s) if started else None,
            finished_at=wall(spec.start_delay_s + spec.duration_s) if finished else None,
        )

    def failures_among(self, done: int) -> int:
        """How many of the first `done` items failed: failures are spread evenly."""
        final = self.spec.final
        if final == "failed":
            return done
        if final == "succeeded":
            return 0
        return math.floor(done * self.spec.fail_fraction)

    def item_fails(self, index: int) -> bool:
        """Whether item `index` fails, consistent with failures_among."""
        return self.failures_among(index + 1) > self.failures_among(index)

    # --- bodies, one per provider ---

    def wesog_body(self, now: float | None = None) -> dict[str, Any]:
        phase = self.phase(now)
        method, _, resource = (self.spec.kind or "add image").partition(" ")
        counts = self.spec.reports_progress or phase.finished
        errors = [
            {"id": i, "msg": _WESOG_REASONS[i % len(_WESOG_REASONS)]}
            for i in range(phase.done)
            if self.item_fails(i)
        ]
        all_good = None if phase.bad == 0 and not phase.finished else phase.bad == 0
        return {
            "id": int(self.id),
            "method": method,
            "resource": resource or None,
            "num_total": self.spec.items,
            "num_good": phase.good if counts else None,
            "num_bad": phase.bad if counts else None,
            "is_started": phase.started,
            "is_finished": phase.finished,
            "all_good": all_good,
            "do_wait": False,
            "do_urgent": False,
            "do_strict": False,
            "idle_ms": _ms(phase.created_at, phase.started_at),
            "exec_ms": _ms(phase.started_at, phase.finished_at),
            "created_at": _iso(phase.created_at, "+00:00"),
            "started_at": _iso(phase.started_at, "+00:00"),
            "finished_at": _iso(phase.finished_at, "+00:00"),
            "errors": errors,
        }

    def toloka_status(self, now: float | None = None) -> str:
        phase = self.phase(now)
        if not phase.started:
            return "PENDING"
        if not phase.finished:
            return "RUNNING"
        if self.spec.status_word:
            return self.spec.status_word
        return "FAIL" if self.spec.final == "failed" else "SUCCESS"

    def toloka_body(self, now: float | None = None) -> dict[str, Any]:
        phase = self.phase(now)
        kind = self.spec.kind or "TASK_SUITE.BATCH_CREATE"
        body: dict[str, Any] = {
            "id": self.id,
            "type": kind,
            "status": self.toloka_status(now),
            # Toloka sends UTC without a zone (PROVIDERS.md).
            "submitted": _iso(phase.created_at, ""),
            "parameters": {"skip_invalid_items": True} if "BATCH" in kind else {},
        }
        if phase.started_at:
            body["started"] = _iso(phase.started_at, "")
        if phase.finished_at:
            body["finished"] = _iso(phase.finished_at, "")
        if self.spec.reports_progress:
            body["progress"] = math.floor(phase.fraction * 100)
        if phase.finished and kind.endswith("BATCH_CREATE"):
            items, bad = self.spec.items, phase.bad
            body["details"] = {
                "total_count": items,
                "valid_count": items - bad,
                "not_valid_count": bad,
                "success_count": items - bad,
                "failed_count": 0,
            }
        elif phase.finished and kind == "POOL.CLONE":
            body["details"] = {"pool_id": "1" + self.id[:6]}
        return body

    def toloka_log(self) -> Iterator[dict[str, Any]]:
        """The operation's log, step by step (generated, never held whole)."""
        kind = self.spec.kind or "TASK_SUITE.BATCH_CREATE"
        if not kind.endswith("BATCH_CREATE"):
            if self.spec.final == "failed":
                yield {
                    "type": kind.replace(".", "_"),
                    "success": False,
                    "input": {"pool_id": "1234"},
                    "output": {
                        "code": "EMPTY_POOL",
                        "message": "Pool has no tasks to open",
                        "request_id": str(uuid.UUID(int=self.serial)),
                    },
                }
            return
        created, validate = (
            ("TASK_CREATE", "TASK_VALIDATE")
            if kind.startswith("TASK.")
            else ("TASK_SUITE_CREATE", "TASK_SUITE_VALIDATE")
        )
        done = self.phase().done
        steps = self.spec.log_steps if self.spec.log_steps is not None else done
        for index in range(steps):
            if self.item_fails(index % max(1, self.spec.items)):
                problems = _FIELD_PROBLEMS[: 1 + index % 3]
                yield {
                    "type": validate,
                    "success": False,
                    "input": {"__item_idx": index, "input_values": {"url": "ftp://x"}},
                    "output": {
                        path: {"code": code, "message": text} for path, code, text in problems
                    },
                }
            else:
                yield {
                    "type": created,
                    "success": True,
                    "input": {"__item_idx": index},
                    "output": {"task_suite_id" if "SUITE" in created else "task_id": f"t{index}"},
                }

    def trafficops_body(self, now: float | None = None) -> dict[str, Any]:
        phase = self.phase(now)
        job: dict[str, Any] = {
            "id": int(self.id),
            "status": "PENDING",
            "start_time": _iso(phase.started_at or phase.created_at, "Z", micro=True),
            "message": _to_message(self.spec, phase),
        }
        if phase.finished:
            job["status"] = self.spec.status_word or (
                "FAILED" if self.spec.final == "failed" else "SUCCEEDED"
            )
            # end_time is left out while the job runs; real servers never send null here.
            job["end_time"] = _iso(phase.finished_at, "Z", micro=True)
        return {"response": job}

    def summary(self) -> dict[str, Any]:
        """For GET /_sim/operations."""
        phase = self.phase()
        state = "pending" if not phase.started else "running" if not phase.finished else "finished"
        return {"ref": self.ref, "provider": self.spec.provider, "id": self.id, "phase": state}


def _to_message(spec: OperationSpec, phase: Phase) -> str:
    kind = spec.kind or "acme_renew"
    if kind == "dnssec_refresh":
        if not phase.finished:
            return "DNSSEC refresh in progress"
        if spec.final == "failed" or phase.bad:
            good, bad = phase.good, phase.bad
            return f"DNSSEC refresh failed (updated {good} keys, but {bad} errors occurred)"
        return "Successfully refreshed DNSSEC keys"
    if kind == "acme_renew":
        if not phase.started or (phase.done == 0 and not phase.finished):
            return "Async job has started."
        verb = "complete" if phase.finished else "in progress"
        return f"ACME renewal {verb}. {phase.good} certs renewed, {phase.bad} errors."
    if not phase.finished:
        return "Async job has started."
    return "Job failed." if spec.final == "failed" else "Job completed."


def _iso(moment: datetime | None, zone: str, *, micro: bool = False) -> str | None:
    if moment is None:
        return None
    text = (
        moment.astimezone(UTC)
        .replace(tzinfo=None)
        .isoformat(timespec="microseconds" if micro else "milliseconds")
    )
    return text + zone


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes, as the APIs send."""
    return json.dumps(payload, separators=(",", ":")).encode()
