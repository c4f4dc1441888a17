"""Simulated operations: what each provider's API says about one job at a given moment.

An operation moves on the simulated clock: pending for `start_delay_s`, running for
`duration_s` with items done at a steady pace and failures spread evenly, then finished with its
outcome (or never, when `stuck`). Bodies follow PROVIDERS.md, quirks included. Everything is
computed from the clock on each read, so an operation costs a few hundred bytes however many
items or log steps it has.
"""

import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

PROVIDERS = ("wesog", "toloka", "trafficops")
OUTCOMES = ("succeeded", "partial", "failed", "stuck")
PROFILES = {"wesog": "media", "toloka": "crowd", "trafficops": "cdn"}
TO_KINDS = ("acme_renew", "dnssec_refresh", "generic")
DEFAULT_KIND = {"wesog": "add image", "toloka": "TASK_SUITE.BATCH_CREATE", "trafficops": "generic"}
LOG_KEPT_DAYS = 30
"""Toloka keeps an operation's log for one month (PROVIDERS.md)."""
_STUCK_AT = 0.5
"""A stuck operation's progress stops here: the job died half-way and nobody says so."""

# Realistic validation failures, as Toloka reports them: one step can carry several fields.
_FIELD_PROBLEMS = (
    ("input_values.image", "VALUE_REQUIRED", "Value must be present and not equal to null"),
    ("input_values.url", "INVALID_URL", "Value must be a valid URL"),
    ("input_values.label", "VALUE_TOO_LONG", "String length must not exceed 100"),
    ("overlap", "INVALID_MIN_VALUE", "Value must be greater than or equal to 1"),
)
_VARIANTS = 3  # failed-step shapes: one, two or three fields
_WESOG_REASONS = ("Image too small", "Unsupported format", "Download failed", "Duplicate")


@dataclass
class OperationSpec:
    """What to simulate. Every field has a default; YAML scenarios and the admin endpoint give
    the same keys as a mapping."""

    provider: str = "toloka"
    """wesog | toloka | trafficops."""
    id: str | None = None
    """Generated when absent: increasing integers (Wesog, Traffic Ops) or UUID4 (Toloka)."""
    kind: str | None = None
    """Toloka `type`; Wesog `method resource` (`add image`); Traffic Ops `acme_renew`,
    `dnssec_refresh` or `generic` (which picks the job's messages)."""
    duration_s: float = 10.0
    """Simulated seconds from start to finish."""
    start_delay_s: float = 0.0
    """Simulated seconds pending before it runs; negative means it started that long ago."""
    age_s: float = 0.0
    """Created this many simulated seconds before its clock started (already under way or done)."""
    items: int = 100
    fail_fraction: float = 0.0
    """Share of the items that fail, spread evenly across them (0..1)."""
    outcome: str | None = None
    """succeeded | partial | failed | stuck; default from fail_fraction (0, between, 1)."""
    reports_progress: bool = True
    """False: Toloka leaves out `progress` and the counts in `details`."""
    status_word: str | None = None
    """Replaces the provider's final status word: an unknown status for opwatch to tolerate
    (Toloka and Traffic Ops; Wesog has no status word)."""
    log_steps: int | None = None
    """Toloka: steps in the operation log (default: one per item)."""
    age_days: float = 0.0
    """Toloka: a log older than 30 days is gone (404); the operation is that old, finished."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OperationSpec":
        """Build from YAML/JSON, with a ValueError naming any unknown or bad key."""
        if not isinstance(data, dict):
            raise ValueError("an operation must be a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(
                f"unknown operation key(s): {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = {}
        for key, value in data.items():
            values[key] = _coerce(key, value)
        spec = cls(**values)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Raise ValueError when the spec cannot be simulated."""
        if self.provider not in PROVIDERS:
            raise ValueError(
                f"provider must be one of {', '.join(PROVIDERS)}, not {self.provider!r}"
            )
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")
        if not 0.0 <= float(self.fail_fraction) <= 1.0:
            raise ValueError("fail_fraction must be between 0 and 1")
        if not float(self.duration_s) > 0:
            raise ValueError("duration_s must be positive")
        if int(self.items) < 0 or (self.log_steps is not None and int(self.log_steps) < 0):
            raise ValueError("items and log_steps must not be negative")
        if float(self.age_s) < 0 or float(self.age_days) < 0:
            raise ValueError("age_s and age_days must not be negative")
        if self.provider == "trafficops" and self.kind is not None and self.kind not in TO_KINDS:
            raise ValueError(f"a Traffic Ops kind must be one of {', '.join(TO_KINDS)}")
        if self.id is not None and self.provider != "toloka" and not _is_int(str(self.id)):
            raise ValueError(f"a {self.provider} operation id must be an integer")

    @property
    def final(self) -> str:
        """The outcome, explicit or implied by fail_fraction."""
        if self.outcome:
            return self.outcome
        if self.fail_fraction <= 0:
            return "succeeded"
        return "failed" if self.fail_fraction >= 1 else "partial"


_NUMBERS = {"duration_s": float, "start_delay_s": float, "age_s": float, "fail_fraction": float,
            "age_days": float, "items": int, "log_steps": int}  # fmt: skip
_TEXTS = ("provider", "kind", "outcome", "status_word")


def _coerce(key: str, value: Any) -> Any:
    """One spec value from YAML/JSON, checked for its type."""
    if value is None and key in ("id", "kind", "outcome", "status_word", "log_steps"):
        return None
    if key in _NUMBERS:
        kind = _NUMBERS[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key} must be a number, not {value!r}")
        if kind is int and value != int(value):
            raise ValueError(f"{key} must be a whole number, not {value!r}")
        return kind(value)
    if key == "reports_progress":
        if not isinstance(value, bool):
            raise ValueError(f"reports_progress must be true or false, not {value!r}")
        return value
    if key == "id":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"id must be a string or an integer, not {value!r}")
        return str(value)
    if key in _TEXTS and not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {value!r}")
    return value


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit()


def fail_rate(spec: OperationSpec, count: int) -> float:
    """The share of `count` items that fail, such that the outcome comes true at the end:
    a partial operation has at least one good and one bad item (when it has two items)."""
    final = spec.final
    if final == "succeeded":
        return 0.0
    if final == "failed":
        return 1.0
    rate = float(spec.fail_fraction)
    if final == "partial" and count >= 2:
        if math.floor(count * rate) < 1:
            rate = 1.5 / count
        elif math.floor(count * rate) >= count:
            rate = (count - 0.5) / count
    return rate


def failures_before(index: int, rate: float) -> int:
    """How many of items 0..index-1 fail: failures spread evenly, item i failing when
    floor((i + 1) * rate) > floor(i * rate)."""
    return math.floor(index * rate)


def failing_indices(done: int, rate: float) -> Iterator[int]:
    """The indices below `done` that fail, in order, without walking the good ones."""
    if rate <= 0:
        return
    for k in range(1, failures_before(done, rate) + 1):
        # The k-th failure is the first i with floor((i + 1) * rate) >= k; correct float drift.
        i = max(0, math.ceil(k / rate) - 1)
        while math.floor((i + 1) * rate) < k:
            i += 1
        while i > 0 and math.floor(i * rate) >= k:
            i -= 1
        yield i


@dataclass
class Phase:
    """Where an operation stands at one moment."""

    started: bool
    finished: bool
    fraction: float
    """Share of the run behind it, 0..1 (a stuck one stops at one half)."""
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
    """One simulated operation, its clock started at `created_mono` (time.monotonic) and
    `created_wall`; `age` simulated seconds of its life were already behind it then."""

    spec: OperationSpec
    id: str
    created_mono: float
    created_wall: datetime
    speed: float
    serial: int = 0

    @property
    def profile(self) -> str:
        return PROFILES[self.spec.provider]

    @property
    def ref(self) -> str:
        return f"{self.profile}:{self.id}"

    @property
    def kind(self) -> str:
        return self.spec.kind or DEFAULT_KIND[self.spec.provider]

    @property
    def age(self) -> float:
        """Simulated seconds lived before the clock started."""
        spec = self.spec
        return spec.age_s + spec.age_days * 86400.0 + max(0.0, -spec.start_delay_s)

    def rebase(self, mono: float, wall: datetime) -> None:
        """Start the clock now (scenario operations start with the simulator)."""
        self.created_mono, self.created_wall = mono, wall

    def wall(self, sim_seconds: float) -> datetime:
        """The wall time of a simulated instant (seconds since creation). The past before the
        clock started is shown as it was; from then on time runs `speed` times faster."""
        offset = sim_seconds - self.age
        if offset <= 0:
            return self.created_wall + timedelta(seconds=offset)
        return self.created_wall + timedelta(seconds=offset / self.speed)

    def phase(self, now_mono: float | None = None) -> Phase:
        """The operation's state at `now_mono` (time.monotonic, default now)."""
        spec = self.spec
        now = time.monotonic() if now_mono is None else now_mono
        elapsed = max(0.0, now - self.created_mono) * self.speed + self.age
        delay = max(0.0, spec.start_delay_s)
        stuck = spec.final == "stuck"
        started = elapsed >= delay
        running_for = max(0.0, elapsed - delay)
        finished = started and not stuck and running_for >= spec.duration_s
        if finished:
            fraction = 1.0
        else:
            fraction = min(running_for / spec.duration_s, _STUCK_AT if stuck else 1.0)
        items = spec.items
        done = items if finished else math.floor(items * fraction)
        return Phase(
            started=started,
            finished=finished,
            fraction=fraction,
            done=done,
            bad=failures_before(done, fail_rate(spec, items)),
            created_at=self.wall(0.0),
            started_at=self.wall(delay) if started else None,
            finished_at=self.wall(delay + spec.duration_s) if finished else None,
        )

    def state(self, now: float | None = None) -> str:
        """pending | running | stuck | succeeded | partial | failed, as simulated."""
        phase = self.phase(now)
        if not phase.started:
            return "pending"
        if not phase.finished:
            return "stuck" if self.spec.final == "stuck" else "running"
        return self.spec.final

    # --- Wesog ---

    def wesog_body(self, now: float | None = None) -> dict[str, Any]:
        """`GET /ops/{id}`: counts, flags, timings and the failed items so far."""
        phase = self.phase(now)
        method, _, resource = self.kind.partition(" ")
        rate = fail_rate(self.spec, self.spec.items)
        errors = [
            {"id": i, "msg": _WESOG_REASONS[i % len(_WESOG_REASONS)]}
            for i in failing_indices(phase.done, rate)
        ]
        return {
            "id": int(self.id),
            "method": method,
            "resource": resource or None,
            "num_total": self.spec.items,
            "num_good": phase.good,
            "num_bad": phase.bad,
            "is_started": phase.started,
            "is_finished": phase.finished,
            # Unknown (null) while nothing has failed yet and more may; false once one failed.
            "all_good": None if phase.bad == 0 and not phase.finished else phase.bad == 0,
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

    # --- Toloka ---

    def toloka_status(self, now: float | None = None, phase: Phase | None = None) -> str:
        phase = phase or self.phase(now)
        if not phase.started:
            return "PENDING"
        if not phase.finished:
            return "RUNNING"
        if self.spec.status_word:
            return self.spec.status_word
        return "FAIL" if self.spec.final == "failed" else "SUCCESS"

    def toloka_body(self, now: float | None = None) -> dict[str, Any]:
        """`GET /api/v1/operations/{id}`."""
        phase = self.phase(now)
        kind = self.kind
        batch = kind.endswith("BATCH_CREATE")
        body: dict[str, Any] = {
            "id": self.id,
            "type": kind,
            "status": self.toloka_status(phase=phase),
            # Toloka sends UTC without a zone (PROVIDERS.md).
            "submitted": _iso(phase.created_at, ""),
            "parameters": {"skip_invalid_items": True} if batch else {},
        }
        if phase.started_at:
            body["started"] = _iso(phase.started_at, "")
        if phase.finished_at:
            body["finished"] = _iso(phase.finished_at, "")
        if self.spec.reports_progress:
            body["progress"] = math.floor(phase.fraction * 100)
            if batch and phase.started:
                # Counts so far; invalid items are skipped (skip_invalid_items), not failed.
                body["details"] = {
                    "total_count": self.spec.items,
                    "valid_count": phase.good,
                    "not_valid_count": phase.bad,
                    "success_count": phase.good,
                    "failed_count": 0,
                }
        if phase.finished and kind in ("POOL.CLONE", "TRAINING.CLONE"):
            body["details"] = {"pool_id": str(100000 + self.serial)}
        return body

    def log_gone(self) -> bool:
        """Whether Toloka has already thrown this operation's log away."""
        return self.spec.age_days > LOG_KEPT_DAYS

    def toloka_log_size(self, now: float | None = None) -> int:
        """Steps in the log so far."""
        phase = self.phase(now)
        if not self.kind.endswith("BATCH_CREATE"):
            return 1 if phase.finished and self.spec.final == "failed" else 0
        total = self.spec.log_steps if self.spec.log_steps is not None else self.spec.items
        return total if phase.finished else math.floor(total * phase.fraction)

    def toloka_log_chunks(
        self, steps: int, *, chunk_steps: int = 2000, close: bool = True
    ) -> Iterator[bytes]:
        """The first `steps` steps of the log as pieces of one JSON array, generated as they
        are sent (a log can hold hundreds of thousands of steps). Without `close` the array
        is never closed: a truncated body."""
        kind = self.kind
        if not kind.endswith("BATCH_CREATE"):
            steps_json = [] if steps == 0 else [json.dumps(self._failed_step(kind))]
            yield ("[" + ",".join(steps_json) + ("]" if close else "")).encode()
            return
        total = self.spec.log_steps if self.spec.log_steps is not None else self.spec.items
        rate = fail_rate(self.spec, total)
        if kind.startswith("USER_BONUS"):
            ok_tpl = _ok_template("USER_BONUS_PERSIST", "user_bonus_id")
            bad_type = "USER_BONUS_VALIDATE"
        elif kind.startswith("TASK."):
            ok_tpl = _ok_template("TASK_CREATE", "task_id")
            bad_type = "TASK_VALIDATE"
        else:
            ok_tpl = _ok_template("TASK_SUITE_CREATE", "task_suite_id")
            bad_type = "TASK_SUITE_VALIDATE"
        bad_tpls = [_bad_template(bad_type, variant) for variant in range(_VARIANTS)]
        prefix = f"{self.serial:08x}-0000-4000-8000-"
        pieces: list[str] = ["["]
        for index in range(steps):
            before = failures_before(index, rate)
            sep = "," if index else ""
            if failures_before(index + 1, rate) > before:
                pieces.append(sep + bad_tpls[before % len(bad_tpls)] % index)
            else:
                pieces.append(sep + ok_tpl % (index, prefix, index))
            if len(pieces) >= chunk_steps:
                yield "".join(pieces).encode()
                pieces = []
        if close:
            pieces.append("]")
        if pieces:
            yield "".join(pieces).encode()

    def toloka_log(self, now: float | None = None) -> list[dict[str, Any]]:
        """The log so far as objects (for tests and small logs)."""
        text = b"".join(self.toloka_log_chunks(self.toloka_log_size(now)))
        steps: list[dict[str, Any]] = json.loads(text)
        return steps

    def _failed_step(self, kind: str) -> dict[str, Any]:
        """The one failed step of a non-batch operation, e.g. POOL_OPEN on an empty pool."""
        code, message = ("EMPTY_POOL", "Pool has no tasks to open")
        if not kind.startswith(("POOL.OPEN", "TRAINING.OPEN")):
            code, message = ("INTERNAL_ERROR", "Operation failed")
        return {
            "type": kind.replace(".", "_"),
            "success": False,
            "input": {"pool_id": str(100000 + self.serial)},
            "output": {
                "code": code,
                "message": message,
                "request_id": f"{self.serial:08x}-0000-4000-8000-000000000000",
            },
        }

    # --- Traffic Ops ---

    def trafficops_body(self, now: float | None = None) -> dict[str, Any]:
        """`GET /api/{version}/async_status/{id}`."""
        phase = self.phase(now)
        job: dict[str, Any] = {
            "id": int(self.id),
            "status": "PENDING",  # jobs start at once; PENDING is what running looks like
            "start_time": _iso(phase.started_at or phase.created_at, "Z", micro=True),
            "message": _to_message(self.kind, self.spec.final, phase),
        }
        if phase.finished:
            job["status"] = self.spec.status_word or (
                "FAILED" if self.spec.final == "failed" else "SUCCEEDED"
            )
            # end_time is left out while the job runs (the docs show null; servers omit it).
            job["end_time"] = _iso(phase.finished_at, "Z", micro=True)
        return {"response": job}

    def summary(self) -> dict[str, Any]:
        """For GET /_sim/operations: the spec and where the operation stands."""
        phase = self.phase()
        return {
            "ref": self.ref,
            "profile": self.profile,
            "provider": self.spec.provider,
            "id": self.id,
            "kind": self.kind,
            "state": self.state(),
            "done": phase.done,
            "bad": phase.bad,
            "total": self.spec.items,
            "spec": asdict(self.spec),
        }


def _ok_template(step_type: str, id_key: str) -> str:
    """A success step with %d (index), %s (id prefix), %012x (index) to fill in."""
    return (
        f'{{"type":"{step_type}","success":true,"input":{{"__item_idx":%d}},'
        f'"output":{{"{id_key}":"%s%012x"}}}}'
    )


def _bad_template(step_type: str, variant: int) -> str:
    """A failed validation step with %d (index) to fill in. The k-th failed step has the
    first 1 + k % 3 fields of the list: a missing image always, a bad URL and label often
    (tests/e2e count the rows each gives)."""
    problems = _FIELD_PROBLEMS[: 1 + variant % 3]
    output = {path: {"code": code, "message": text} for path, code, text in problems}
    step = {
        "type": step_type,
        "success": False,
        "input": {"__item_idx": 0, "input_values": {"url": "ftp://example"}},
        "output": output,
    }
    return json.dumps(step, separators=(",", ":")).replace('"__item_idx":0', '"__item_idx":%d')


def _to_message(kind: str, final: str, phase: Phase) -> str:
    """Traffic Ops' free-text message, overwritten as the job goes."""
    good, bad = phase.good, phase.bad
    if kind == "dnssec_refresh":
        if not phase.finished:
            return "DNSSEC refresh in progress"
        if bad:
            return f"DNSSEC refresh failed (updated {good} keys, but {bad} errors occurred)"
        return "Successfully refreshed DNSSEC keys"
    if kind == "acme_renew":
        if not phase.started or (phase.done == 0 and not phase.finished):
            return "Async job has started."
        verb = "complete" if phase.finished else "in progress"
        return f"ACME renewal {verb}. {good} certs renewed, {bad} errors."
    if not phase.finished:
        return "Async job has started."
    if final == "failed":
        return "Job failed."
    return f"Job completed with {bad} errors." if bad else "Job completed."


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
    return round((end - start).total_seconds() * 1000)


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes, as the APIs send."""
    return json.dumps(payload, separators=(",", ":")).encode()
