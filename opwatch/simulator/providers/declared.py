"""Four operation APIs opwatch reads through a declared provider (examples/providers/), as
their vendors document them: a GitHub Actions workflow run and its jobs, an Azure Resource
Manager async operation, a Google long-running operation and an OpenAI batch with its error file.

They are here so each shipped definition can be run through the real CLI against the shapes it
was written for; they answer only with a bearer token, like the real ones. They are `declared`:
the default scenario and the config the simulator writes leave them out, since a profile of
theirs needs the definition, which the user brings (`providers:` in the config).
"""

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

from opwatch.simulator.http import Request
from opwatch.simulator.providers.base import Reply, Routed, SimProvider
from opwatch.simulator.timeline import Phase, SimOperation, fail_rate, failing_indices, iso

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opwatch.simulator.operations import OperationSpec
    from opwatch.simulator.server import Simulator

RETRY_AFTER_S = 1
"""What Azure's simulated status answers say in Retry-After while running (real: 10-60 s)."""


class _Bearer(SimProvider):
    """What the four share: ids of their own syntax around a counter, and a bearer token."""

    declared = True
    first_id = 1
    sample_status_word = None
    id_format: ClassVar[str]
    """The id with `{n}` for the counter."""

    def check(self, spec: "OperationSpec") -> None:
        if spec.id is not None and self._number(str(spec.id)) is None:
            example = self.id_format.format(n=1)
            raise ValueError(f"a {self.name} operation id looks like {example}")

    def canonical_id(self, given: str) -> str:
        return given

    def new_id(self, numbers: "Iterator[int]") -> str:
        return self.id_format.format(n=next(numbers))

    def _number(self, op_id: str) -> str | None:
        pattern = re.escape(self.id_format).replace(re.escape("{n}"), "([0-9]+)")
        found = re.fullmatch(pattern, op_id)
        return found.group(1) if found else None

    @property
    def token_key(self) -> str:
        """The key of its one credential, the bearer token (named once, in `credentials`)."""
        (key,) = self.credentials
        return key

    def _authorized(self, sim: "Simulator", request: Request) -> bool:
        return request.header("authorization") == f"Bearer {sim.credentials[self.token_key]}"

    def _read(self, sim: "Simulator", request: Request, op_id: str, route: str) -> Routed:
        """The operation `op_id`'s status, or the API's refusal or 404."""
        operation = sim.operation(self.name, op_id)
        ref = operation.ref if operation else None
        if not self._authorized(sim, request):
            return Routed(Reply(401, self.error(401, "Bad credentials")), route, ref)
        if operation is None:
            return Routed(Reply(404, self.error(404, "Not Found")), route)
        return Routed(self.reply(sim, operation, request), route, ref)

    def reply(self, sim: "Simulator", operation: SimOperation, request: Request) -> Reply:
        return Reply(200, operation.body())

    def profile_yaml(self, url: str, credentials: Mapping[str, str]) -> str:
        return (
            f"  {self.profile}:\n    provider: {self.name}\n    url: {url}\n"
            f"    token: {credentials[self.token_key]}\n"
        )


def _failing(operation: SimOperation, phase: Phase) -> list[int]:
    return list(failing_indices(phase.done, fail_rate(operation.spec, operation.spec.items)))


def _word(operation: SimOperation, phase: Phase, words: Mapping[str, str]) -> str:
    """The API's word for where the operation stands; a scenario's status_word replaces the
    final one (a word the definition does not know)."""
    if not phase.started:
        return words["pending"]
    if not phase.finished:
        return words["running"]
    return operation.spec.status_word or words[operation.spec.final]


# --- GitHub Actions ---


class GitHubActions(_Bearer):
    """`GET /repos/{o}/{r}/actions/runs/{id}` and its `/jobs` (Link paging, ETag → 304)."""

    name = "github-actions"
    profile = "gh"
    default_kind = "CI"
    routes = ("github_run", "github_jobs")
    credentials: ClassVar[Mapping[str, str]] = {"github_token": "sim-github-token"}
    id_format = "octo-org/hello-world/{n}"
    sample_kinds = ("CI", "Release", "CI")
    _RUN = re.compile(r"^/repos/([^/]+/[^/]+)/actions/runs/([0-9]+)(/jobs)?/?$")

    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        found = self._RUN.match(request.path) if request.method == "GET" else None
        if found is None:
            return None
        op_id = f"{found.group(1)}/{found.group(2)}"
        return self._read(sim, request, op_id, "github_jobs" if found.group(3) else "github_run")

    def reply(self, sim: "Simulator", operation: SimOperation, request: Request) -> Reply:
        if request.path.rstrip("/").endswith("/jobs"):
            payload, headers = self._jobs_page(sim.url, operation, request)
        else:
            payload, headers = operation.body(), ()
        # GitHub's ETag: the same body answers 304 to If-None-Match, free of rate limit.
        tag = '"' + hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest() + '"'
        if request.header("if-none-match") == tag:
            return Reply(304, body=b"", headers=(("ETag", tag),))
        return Reply(200, payload, headers=(("ETag", tag), *headers))

    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        ended = dict.fromkeys(("succeeded", "partial", "failed"), "completed")
        status = _word(operation, phase, {"pending": "queued", "running": "in_progress", **ended})
        if phase.finished and operation.spec.status_word:
            status = "completed"
        conclusion = None
        if status == "completed":
            outcome = "success" if operation.spec.final == "succeeded" else "failure"
            conclusion = operation.spec.status_word or outcome
        repo, _, number = operation.id.rpartition("/")
        return {
            "id": int(number),
            "name": operation.kind,
            "display_title": f"Simulated run {number}",
            "event": "push",
            "status": status,
            "conclusion": conclusion,
            "created_at": iso(phase.created_at, "Z"),
            "run_started_at": iso(phase.started_at or phase.created_at, "Z"),
            "updated_at": iso(phase.finished_at or phase.started_at or phase.created_at, "Z"),
            "html_url": f"https://github.com/{repo}/actions/runs/{number}",
        }

    def _jobs_page(
        self, base_url: str, operation: SimOperation, request: Request
    ) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
        """One page of the run's jobs: one job per item, the failing ones with a failed step."""
        query = parse_qs(request.query)
        per_page = min(100, int((query.get("per_page") or ["30"])[0]))
        page = max(1, int((query.get("page") or ["1"])[0]))
        phase = operation.phase()
        failing = set(_failing(operation, phase))
        total = operation.spec.items
        repo, _, number = operation.id.rpartition("/")
        jobs = []
        for i in range((page - 1) * per_page, min(total, page * per_page)):
            if i < phase.done:
                status, conclusion = "completed", "failure" if i in failing else "success"
            else:
                status, conclusion = ("in_progress" if phase.started else "queued"), None
            steps = [{"name": "Set up job", "status": "completed", "conclusion": "success",
                      "number": 1}]  # fmt: skip
            if conclusion == "failure":
                steps.append({"name": "Run tests", "status": "completed",
                              "conclusion": "failure", "number": 2})  # fmt: skip
            page_url = f"https://github.com/{repo}/actions/runs/{number}/job/{i + 1}"
            jobs.append({"id": i + 1, "name": f"test ({i})", "status": status,
                         "conclusion": conclusion, "steps": steps,
                         "html_url": page_url})  # fmt: skip
        headers: tuple[tuple[str, str], ...] = ()
        if page * per_page < total:
            following = f"{request.path}?filter=latest&per_page={per_page}&page={page + 1}"
            # GitHub's Link carries absolute URLs.
            headers = (("Link", f'<{base_url}{following}>; rel="next"'),)
        return {"total_count": total, "jobs": jobs}, headers

    def error(self, status: int, text: str) -> Any:
        return {"message": text, "documentation_url": "https://docs.github.com/rest"}


# --- Azure ---


class AzureAsync(_Bearer):
    """An Azure-AsyncOperation status URL, Retry-After while it runs."""

    name = "azure-async"
    profile = "azure"
    default_kind = "Microsoft.Compute/virtualMachines/write"
    routes = ("azure_status",)
    credentials: ClassVar[Mapping[str, str]] = {"azure_token": "sim-azure-token"}
    id_format = (
        "/subscriptions/sim/providers/Microsoft.Compute/locations/westus/operations/{n}"
        "?api-version=2024-03-01"
    )
    sample_kinds = ("deploy", "deploy", "deploy")
    _STATUS = re.compile(
        r"^/subscriptions/sim/providers/Microsoft\.Compute/locations/westus/operations/[0-9]+$"
    )

    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        if request.method != "GET" or not self._STATUS.match(request.path):
            return None
        return self._read(sim, request, f"{request.path}?{request.query}", "azure_status")

    def reply(self, sim: "Simulator", operation: SimOperation, request: Request) -> Reply:
        body = operation.body()
        terminal = body["status"].lower() in ("succeeded", "failed", "canceled")
        headers = () if terminal else (("Retry-After", str(RETRY_AFTER_S)),)
        return Reply(200, body, headers=headers)

    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        # Azure has no partial: an operation with failed parts failed, the parts in details.
        status = _word(operation, phase, {"pending": "Accepted", "running": "InProgress",
                                          "succeeded": "Succeeded", "partial": "Failed",
                                          "failed": "Failed"})  # fmt: skip
        body: dict[str, Any] = {
            "id": operation.id.partition("?")[0],
            "name": operation.id.partition("?")[0].rsplit("/", 1)[-1],
            "status": status,
            "startTime": iso(phase.started_at, "+00:00", micro=True),
            "percentComplete": round(phase.fraction * 100, 1),
        }
        if phase.finished:
            body["endTime"] = iso(phase.finished_at, "+00:00", micro=True)
        if status == "Failed":
            body["error"] = {
                "code": "DeploymentFailed",
                "message": "At least one resource deployment operation failed.",
                "details": [
                    {"code": "QuotaExceeded", "target": f"resources[{i}]",
                     "message": f"Resource {i} exceeds the regional core quota."}
                    for i in _failing(operation, phase)
                ],
            }  # fmt: skip
        return body

    def error(self, status: int, text: str) -> Any:
        return {"error": {"code": "Throttled" if status == 429 else str(status), "message": text}}


# --- Google LRO ---


class GoogleLro(_Bearer):
    """`GET /v1/{name}` of a google.longrunning.Operation with Vertex AI's metadata."""

    name = "google-lro"
    profile = "vertex"
    default_kind = "BatchMigrateResources"
    routes = ("google_operation",)
    credentials: ClassVar[Mapping[str, str]] = {"google_token": "sim-google-token"}
    id_format = "projects/sim/locations/us-central1/operations/{n}"
    sample_kinds = ("BatchMigrateResources", "ImportData", "ImportData")
    _OPERATION = re.compile(r"^/v1/(projects/sim/locations/us-central1/operations/[0-9]+)$")

    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        found = self._OPERATION.match(request.path) if request.method == "GET" else None
        if found is None:
            return None
        return self._read(sim, request, found.group(1), "google_operation")

    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        kind = operation.kind
        generic: dict[str, Any] = {
            "createTime": iso(phase.created_at, "Z", micro=True),
            "updateTime": iso(phase.finished_at or phase.started_at or phase.created_at, "Z"),
        }
        body: dict[str, Any] = {
            "name": operation.id,
            "metadata": {
                "@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{kind}OperationMetadata",
                "genericMetadata": generic,
                # int64 counts are strings in proto3's JSON mapping.
                "completionStats": {"successfulCount": str(phase.good),
                                    "failedCount": str(phase.bad)},
            },
        }  # fmt: skip
        if not phase.finished:
            return body  # `done` is left out while it runs (AIP-151)
        body["done"] = True
        failing = _failing(operation, phase)
        final = operation.spec.final
        if final == "failed":
            body["error"] = {
                "code": 3,
                "message": "Request contains an invalid argument.",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": f"requests[{i}]", "description": "Not found."}
                                        for i in failing],
                }],
            }  # fmt: skip
            return body
        if final == "partial":
            generic["partialFailures"] = [
                {"code": 5, "message": f"Resource {i} not found."} for i in failing
            ]
        body["response"] = {
            "@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{kind}Response"
        }
        return body

    def error(self, status: int, text: str) -> Any:
        names = {401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
        return {"error": {"code": status, "message": text, "status": names.get(status, "UNKNOWN")}}


# --- OpenAI batch ---


class OpenAIBatch(_Bearer):
    """`GET /v1/batches/{id}` and the JSON Lines error file `GET /v1/files/{id}/content`."""

    name = "openai-batch"
    profile = "openai"
    default_kind = "/v1/chat/completions"
    routes = ("openai_batch", "openai_file")
    credentials: ClassVar[Mapping[str, str]] = {"openai_token": "sim-openai-token"}
    id_format = "batch_sim{n}"
    sample_kinds = ("/v1/chat/completions", "/v1/embeddings", "/v1/chat/completions")
    _BATCH = re.compile(r"^/v1/batches/(batch_sim[0-9]+)$")
    _FILE = re.compile(r"^/v1/files/file-err-sim([0-9]+)/content$")

    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        if request.method != "GET":
            return None
        if found := self._BATCH.match(request.path):
            return self._read(sim, request, found.group(1), "openai_batch")
        if found := self._FILE.match(request.path):
            routed = self._read(sim, request, f"batch_sim{found.group(1)}", "openai_file")
            return Routed(routed.reply, routed.route, routed.ref, poll=False)
        return None

    def reply(self, sim: "Simulator", operation: SimOperation, request: Request) -> Reply:
        if not request.path.endswith("/content"):
            return Reply(200, operation.body())
        phase = operation.phase()
        lines = [
            json.dumps({"id": f"batch_req_{i}", "custom_id": f"request-{i}",
                        "response": {"status_code": 400, "request_id": f"req_{i}", "body": {
                            "error": {"message": "This model's maximum context length is "
                                      "8192 tokens.", "type": "invalid_request_error",
                                      "param": "messages", "code": "context_length_exceeded"}}},
                        "error": None})
            for i in _failing(operation, phase)
        ]  # fmt: skip
        data = "".join(line + "\n" for line in lines).encode()
        return Reply(200, body=data, content_type="application/octet-stream")

    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        status = _word(operation, phase, {"pending": "validating", "running": "in_progress",
                                          "succeeded": "completed", "partial": "completed",
                                          "failed": "completed"})  # fmt: skip
        number = operation.id.removeprefix("batch_sim")

        def epoch(moment: Any) -> int | None:
            return int(moment.timestamp()) if moment is not None else None

        return {
            "id": operation.id,
            "object": "batch",
            "endpoint": operation.kind,
            "errors": None,
            "input_file_id": f"file-in-sim{number}",
            "completion_window": "24h",
            "status": status,
            "output_file_id": f"file-out-sim{number}" if phase.finished else None,
            "error_file_id": f"file-err-sim{number}" if phase.finished and phase.bad else None,
            "created_at": epoch(phase.created_at),
            "in_progress_at": epoch(phase.started_at),
            "completed_at": epoch(phase.finished_at),
            "failed_at": None,
            "request_counts": {
                "total": operation.spec.items,
                "completed": phase.good,
                "failed": phase.bad,
            },
        }

    def error(self, status: int, text: str) -> Any:
        return {"error": {"message": text, "type": "invalid_request_error", "code": None}}


GITHUB_ACTIONS = GitHubActions()
AZURE_ASYNC = AzureAsync()
GOOGLE_LRO = GoogleLro()
OPENAI_BATCH = OpenAIBatch()
DECLARED = (GITHUB_ACTIONS, AZURE_ASYNC, GOOGLE_LRO, OPENAI_BATCH)
