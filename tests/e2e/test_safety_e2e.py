"""Safe with real accounts: what opwatch does with several profiles, wrong credentials and
unreachable servers, counted at the simulator (requests, logins) as well as in the output.

Every case is a mistake a user makes in their first week: a mistyped profile, a wrong password
with hundreds of operations, a server that is down, a helper that prompts for a passphrase.
"""

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opwatch import config as config_module
from opwatch.simulator import OperationSpec, Scenario, Simulator
from tests.e2e.conftest import Cli, after, make_simulator

pytestmark = pytest.mark.e2e

UUID = "1f0c9a2e-5f7b-4c1e-9a37-5e3b1c2d4f60"


@pytest.fixture
def stage(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The simulator's config with its Traffic Ops profile named `cdn-stage`, the default."""
    text = sim.config_yaml().replace("  cdn:\n", "  cdn-stage:\n")
    text = text.replace("default_profile: crowd", "default_profile: cdn-stage")
    path = tmp_path / "stage.yaml"
    path.write_text(text)
    path.chmod(0o600)
    monkeypatch.setenv("OPWATCH_CONFIG", str(path))
    return path


def _job(sim: Simulator) -> str:
    """The id of a finished Traffic Ops job."""
    ref = sim.add_operation({"provider": "trafficops", "duration_s": 1, "age_s": 5})
    return ref.partition(":")[2]


# --- REFs never read another profile ---


@pytest.mark.parametrize(
    "ref",
    [
        "cdn-prd:/api/4.0/async_status/{id}",
        "cdn-prd:https://to.prod.example/api/4.0/async_status/{id}",
        "cdn-prd:{id}",
    ],
)
def test_a_mistyped_profile_is_unknown_and_reads_nothing(
    cli: Cli, sim: Simulator, stage: Path, ref: str
) -> None:
    job = _job(sim)
    result = cli("status", ref.format(id=job))
    assert result.code == 5, result.stderr
    assert "unknown profile 'cdn-prd' (profiles in" in result.stderr
    assert "cdn-stage, crowd, media" in result.stderr  # every profile, for the next try
    assert result.stdout == ""
    # A typo close to a profile's name gets the name.
    result = cli("status", ref.format(id=job).replace("cdn-prd", "cdn-stgae"))
    assert result.code == 5, result.stderr
    assert "unknown profile 'cdn-stgae' (did you mean 'cdn-stage'? profiles in" in result.stderr
    assert sim.stats()["requests"] == 0  # nothing read, from cdn-stage or anywhere


def test_a_mistyped_toloka_profile(cli: Cli, sim: Simulator, stage: Path) -> None:
    for args in (["status", f"crwod:{UUID}"], ["status", UUID, "--profile", "crwod"]):
        result = cli(*args)
        assert result.code == 5, result.stderr
        assert "unknown profile 'crwod' (did you mean 'crowd'?" in result.stderr
    assert sim.stats()["requests"] == 0


@pytest.mark.parametrize("prefix", ["", "cdn-stage:"])
def test_a_location_on_another_host_is_a_usage_error(
    cli: Cli, sim: Simulator, stage: Path, prefix: str
) -> None:
    result = cli("status", f"{prefix}https://to.prod.example/api/4.0/async_status/3")
    assert result.code == 2, result.stderr
    assert "https://to.prod.example" in result.stderr
    assert sim.url in result.stderr  # the profile's own host, named beside the other
    assert sim.stats()["requests"] == 0


def test_locations_of_the_profiles_own_host_are_read(cli: Cli, sim: Simulator, stage: Path) -> None:
    job = _job(sim)
    for ref in (f"{sim.url}/api/4.0/async_status/{job}", f"/api/4.0/async_status/{job}",
                f"cdn-stage:{sim.url}/api/5.0/async_status/{job}"):  # fmt: skip
        result = cli("status", ref, "--json")
        assert result.code == 0, result.stderr
        record = json.loads(result.stdout)
        assert (record["ref"], record["state"]) == (f"cdn-stage:{job}", "succeeded")


def test_comments_and_blank_lines_in_a_ref_list(cli: Cli, sim: Simulator, config: Path) -> None:
    refs = [sim.add_operation({"provider": p, "duration_s": 1, "age_s": 5}) for p in
            ("wesog", "toloka")]  # fmt: skip
    stdin = (
        f"# operations of tonight's import\n\n{refs[0]}   # the images\n  \n{refs[1]}\n#{refs[0]}\n"
    )
    result = cli("status", "-", "--json", stdin=stdin)
    assert result.code == 0, result.stderr
    assert [json.loads(line)["ref"] for line in result.stdout.splitlines()] == refs


# --- one login per profile; a refusal ends the profile, once ---


@pytest.fixture
def many() -> Iterator[tuple[Simulator, Cli, list[str]]]:
    """200 running Traffic Ops jobs, 200 Toloka operations and one Wesog operation that
    finishes, on a simulator whose Traffic Ops speaks only API 4.0 (5.0 and 4.1 answer 501)."""
    scenario = Scenario(
        [OperationSpec("trafficops", duration_s=600) for _ in range(200)]
        + [OperationSpec("toloka", duration_s=600) for _ in range(200)]
        + [OperationSpec("wesog", duration_s=3)]
    )
    simulator, clock = make_simulator(scenario, to_versions=("4.0",))
    with simulator:
        yield simulator, Cli(clock), simulator.refs()


def _config(tmp_path: Path, sim: Simulator, replace: tuple[str, str] = ("", "")) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(sim.config_yaml().replace(*replace) if replace[0] else sim.config_yaml())
    path.chmod(0o600)
    return str(path)


def test_a_version_answered_501_is_not_a_refusal(
    many: tuple[Simulator, Cli, list[str]], tmp_path: Path
) -> None:
    sim, cli, refs = many
    result = cli("status", *refs[:200], "--json", "--config", _config(tmp_path, sim))
    assert result.code == 0, result.stderr
    assert result.stdout.count('"state":"running"') == 200
    # 5.0 and 4.1 answer 501, 4.0 logs in: three login requests, one session for 200 reads.
    assert sim.stats()["by_route"] == {"login": 3, "trafficops": 200}


@pytest.mark.parametrize("command", ["status", "wait"])
def test_a_wrong_password_is_refused_once_and_said_once(
    many: tuple[Simulator, Cli, list[str]], tmp_path: Path, command: str
) -> None:
    sim, cli, refs = many
    path = _config(tmp_path, sim, ("password: sim-password", "password: wrong"))
    result = cli(command, *refs[:200], refs[-1], "--json", "--config", path)
    assert result.code == 6, result.stderr
    # One refused login (after the two 501s), and no read of a job without a session.
    assert sim.stats()["by_route"]["login"] == 3
    assert "trafficops" not in sim.stats()["by_route"]
    said = [line for line in result.stderr.splitlines() if "refused the login" in line]
    assert len(said) == 1, result.stderr
    assert "200 operations of profile 'cdn'" in said[0]
    # The other profile went on: the Wesog operation was waited for (or read) as usual.
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["state"] == ("succeeded" if command == "wait" else "running")
    assert all(r["error"]["exit_code"] == 6 for r in records[:200])


def test_list_errors_with_a_wrong_password(
    many: tuple[Simulator, Cli, list[str]], tmp_path: Path
) -> None:
    sim, cli, refs = many
    path = _config(tmp_path, sim, ("password: sim-password", "password: wrong"))
    result = cli("list-errors", *refs[:200], "--json", "--config", path)
    assert result.code == 6, result.stderr
    assert sim.stats()["by_route"] == {"login": 3}  # 501, 501, then one refusal
    said = [line for line in result.stderr.splitlines() if "refused the login" in line]
    assert len(said) == 1, result.stderr
    assert "200 operations of profile 'cdn' not read" in said[0]


def test_a_wrong_token_is_refused_once(
    many: tuple[Simulator, Cli, list[str]], tmp_path: Path
) -> None:
    sim, cli, refs = many
    path = _config(tmp_path, sim, ("token: sim-toloka-token", "token: wrong"))
    result = cli("wait", *refs[200:400], "--config", path)
    assert result.code == 6, result.stderr
    assert sim.stats()["by_route"] == {"toloka": 1}  # the first read alone, refused
    assert result.stderr.count("credentials of profile 'crowd' were refused") == 1


def test_a_token_revoked_mid_wait_ends_that_profile_at_once(
    many: tuple[Simulator, Cli, list[str]], tmp_path: Path
) -> None:
    sim, cli, refs = many
    # The Toloka token stops working 5 s in; the operations of the other profile go on.
    before: list[int] = []

    def revoke() -> None:
        before.append(sim.stats()["by_route"]["toloka"])
        sim.credentials.update(toloka_token="revoked")

    after(cli.clock, 5, revoke)
    result = cli("wait", *refs[200:260], refs[-1], "--json", "--config", _config(tmp_path, sim))
    assert result.code == 6, result.stderr
    assert cli.clock.t < 15  # at once, not at each operation's next read 30 s later
    refused = sim.stats()["by_route"]["toloka"] - before[0]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["state"] == "succeeded"
    assert all(r["error"]["exit_code"] == 6 for r in records[:60])
    assert result.stderr.count("were refused") == 1
    assert "this ends all 60 operations of profile 'crowd'" in result.stderr
    assert 1 <= refused <= 8  # the reads in flight when the first refusal came back, at most


# --- an unreachable origin: one message per origin ---


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on return: nothing listens there


@pytest.fixture
def dead(tmp_path: Path, sim: Simulator) -> tuple[str, str]:
    """A config whose three profiles point at a port where nothing listens."""
    url = f"http://127.0.0.1:{_dead_port()}"
    return _config(tmp_path, sim, (sim.url, url)), url


@pytest.mark.parametrize(
    ("args", "tty"),
    [(["status"], False), (["wait", "--retries", "2"], False), (["wait", "--retries", "2"], True)],
    ids=["status", "wait, line log", "wait, live view"],
)
def test_an_unreachable_origin_is_said_once(
    cli: Cli, dead: tuple[str, str], args: list[str], tty: bool
) -> None:
    path, url = dead
    refs = [f"media:{n}" for n in range(1001, 1201)]  # 200 operations, one origin
    result = cli(*args, *refs, "--config", path, stderr_is_tty=tty)
    assert result.code == 7, result.stderr
    final = [line for line in result.stderr.splitlines() if "connection refused" in line
             and "retry" not in line]  # fmt: skip
    assert len(final) == 1, result.stderr
    assert f"200 operations of {url}" in final[0]
    if args[0] == "wait" and not tty:
        # The probe's retries, said once each for everyone: not 3 lines for each of 200.
        retries = [line for line in result.stderr.splitlines() if "; retry " in line]
        assert len(retries) == 2
        assert "200 operations wait on" in retries[0]
    lines = result.stderr.splitlines()
    if args[0] == "status":
        assert lines == final  # the one error, nothing per operation
    elif not tty:  # (the live view's frames are lines too)
        # The start, two retries, the one error, then the verdict: one line for the 200
        # operations that error stopped, and the summary.
        assert len(lines) == 6, result.stderr
        assert lines[-2] == f"opwatch: 200 operations of {url} unreachable, as said above"
        assert lines[-1] == "opwatch: 0 of 200 succeeded, 200 unreachable; exit 7"


# --- secrets only for the profiles used ---


def _helper(tmp_path: Path, name: str, body: str) -> str:
    script = tmp_path / f"{name}.py"
    script.write_text(body)
    return f"[{sys.executable}, {script}]"


def test_an_unused_profiles_token_command_never_runs(
    cli: Cli, sim: Simulator, tmp_path: Path
) -> None:
    marker = tmp_path / "crowd-helper-ran"
    helper = _helper(tmp_path, "crowd", f"open({str(marker)!r}, 'a').write('ran\\n')\n"
                     "print('sim-toloka-token')")  # fmt: skip
    path = _config(tmp_path, sim, ("token: sim-toloka-token", f"token_command: {helper}"))
    ref = sim.add_operation({"provider": "wesog", "duration_s": 1, "age_s": 5})
    for command in ("status", "wait", "list-errors"):
        result = cli(command, ref, "--config", path)
        assert result.code == 0, result.stderr
    assert not marker.exists()
    # The profiles it is for use it, once per run however many operations and commands.
    toloka = [sim.add_operation({"provider": "toloka", "duration_s": 2, "age_s": 1,
                                 "fail_fraction": 0.5}) for _ in range(3)]  # fmt: skip
    result = cli("wait", *toloka, "--errors", "--config", path)
    assert result.code == 3, result.stderr
    assert marker.read_text() == "ran\n"
    result = cli("profiles", "--config", path)
    assert result.code == 0
    assert marker.read_text() == "ran\nran\n"  # `opwatch profiles` resolves every profile


def test_a_hanging_helper_of_an_unused_profile_blocks_nothing(
    cli: Cli, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_module, "SECRET_COMMAND_TIMEOUT_S", 0.5)
    helper = _helper(tmp_path, "hang", "import time; time.sleep(30)")
    path = _config(tmp_path, sim, ("token: sim-toloka-token", f"token_command: {helper}"))
    ref = sim.add_operation({"provider": "wesog", "duration_s": 1, "age_s": 5})
    assert cli("status", ref, "--config", path).code == 0
    result = cli("status", f"crowd:{UUID}", "--config", path)
    assert result.code == 5
    assert "did not finish within" in result.stderr
    assert "profile 'crowd'" in result.stderr


def test_verify_tls_false_with_a_ca_bundle(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    extra = f"    verify_tls: false\n    ca_bundle: {bundle}\n"
    path = _config(tmp_path, sim, ("    provider: toloka\n", "    provider: toloka\n" + extra))
    result = cli("status", f"crowd:{UUID}", "--config", path)
    assert result.code == 5
    assert "profile 'crowd': 'verify_tls: false' and 'ca_bundle' contradict" in result.stderr
    assert sim.stats()["requests"] == 0


# --- list-errors on an operation whose errors are gone ---


def test_list_errors_when_the_log_is_gone(cli: Cli, sim: Simulator, config: Path) -> None:
    ref = sim.add_operation({"provider": "toloka", "fail_fraction": 0.5, "age_days": 40,
                             "age_s": 100})  # fmt: skip
    result = cli("list-errors", ref)
    assert result.code == 0, result.stderr
    # The simulator's clock starts 2026-11-23 12:00; the operation finished 40 days before.
    row = next(line for line in result.stdout.splitlines() if line.startswith(ref))
    assert "errors no longer kept since 2026-11-13" in row
    assert "finished on 2026-10-14" in result.stdout
    assert cli("list-errors", ref, "--exit-status").code == 0  # nothing was listed
    json_run = cli("list-errors", ref, "--json")
    assert (json_run.code, json_run.stdout) == (0, "")
    assert "no longer kept" in json_run.stderr
    missing = cli("list-errors", f"crowd:{UUID}")
    assert missing.code == 8  # an operation that does not exist is still not found


# --- bad bytes from a server: a provider error, never a crash ---


class RawServer:
    """A server that answers every request with the same bytes: what no real server should
    send, byte for byte (the simulator speaks proper HTTP)."""

    def __init__(self, reply: bytes) -> None:
        import socketserver

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:  # each request on the connection: its head, then a JSON body
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        chunk = self.rfile.readline()
                        if not chunk:
                            return
                        head += chunk
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                    self.rfile.read(length)
                    self.wfile.write(reply)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "RawServer":
        import threading

        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _reply(status: str, headers: list[bytes], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status}".encode(), *headers, b"Content-Length: %d" % len(body)]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


BAD_BYTES = {
    "a non-ASCII cookie at login": _reply(
        "200 OK",
        [b"Content-Type: application/json", b"Set-Cookie: mojolicious=caf\xc3\xa9"],
        b'{"alerts": []}',
    ),
    "a body that is not UTF-8": _reply(
        "200 OK", [b"Content-Type: application/json"], b'{"response": {"status": "\xff\xfe"}}'
    ),
    "half a surrogate pair": _reply(
        "200 OK", [b"Content-Type: application/json"], b'{"response": {"message": "\\udc80"}}'
    ),
    "a 503 with bytes in its headers and body": _reply(
        "503 Service Unavailable",
        [b"Retry-After: \xff\xfe", b"Content-Type: text/\xe9"],
        b"\xff\xfe<title>\xe9</title>",
    ),
    "a non-ASCII header name": _reply("200 OK", [b"X-\xe9t\xe9: 1"], b"{}"),
}


@pytest.mark.parametrize("reply", BAD_BYTES.values(), ids=BAD_BYTES.keys())
@pytest.mark.parametrize("command", ["status", "wait", "profiles"])
def test_bad_bytes_from_a_server_are_a_provider_error(
    cli: Cli, tmp_path: Path, reply: bytes, command: str
) -> None:
    with RawServer(reply) as server:
        path = tmp_path / "raw.yaml"
        path.write_text(f"profiles: {{cdn: {{provider: trafficops, url: '{server.url}', "
                        "username: u, password: p}}")  # fmt: skip
        path.chmod(0o600)
        args = {"status": ["status", "cdn:1"], "wait": ["wait", "cdn:1", "--retries", "1"],
                "profiles": ["profiles", "--check"]}[command]  # fmt: skip
        result = cli(*args, "--config", str(path))
    # A login's body is not read, only its status and cookies: a bad body there is no harm.
    harmless = command == "profiles" and reply in (BAD_BYTES["a body that is not UTF-8"],
                                                   BAD_BYTES["half a surrogate pair"])  # fmt: skip
    assert result.code == (0 if harmless else 7), result.stderr
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr


# --- profiles --check ---


def test_profiles_check_all_ok(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    result = cli("profiles", "--check", "--json", "--config", _config(tmp_path, sim))
    assert result.code == 0, result.stderr
    records = {r["name"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert {name: r["check"] for name, r in records.items()} == {
        "media": "ok", "crowd": "ok", "cdn": "ok"
    }  # fmt: skip
    # One cheap authenticated request each: Wesog's 404 for no operation, a Toloka list of
    # one, a Traffic Ops login (5.0, served by the simulator).
    assert sim.stats()["by_route"] == {"wesog": 1, "toloka_list": 1, "login": 1}


def test_profiles_check_says_what_the_commands_say(
    cli: Cli, sim: Simulator, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{_dead_port()}"
    text = sim.config_yaml().replace("password: sim-password", "password: wrong")
    text = text.replace(f"url: {sim.url}\n    token", f"url: {dead}\n    token")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    path.chmod(0o600)
    result = cli("profiles", "--check", "--config", str(path))
    assert result.code == 6, result.stderr  # refused comes before unreachable
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    assert rows["media"].rstrip().endswith("ok")
    assert "refused: Traffic Ops refused the login of user 'admin'" in rows["cdn"]
    assert "unreachable: cannot reach Toloka" in rows["crowd"]
    status = cli("status", f"cdn:{_job(sim)}", "--config", str(path))
    assert "Traffic Ops refused the login of user 'admin'" in status.stderr  # the same words
    assert sim.stats()["by_route"]["login"] == 2  # once for the check, once for status
    assert cli("profiles", "--check", "--config", str(path.with_name("none.yaml"))).code == 5
