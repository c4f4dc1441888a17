"""`opwatch providers` and `opwatch providers check`, run in-process through the real CLI."""

import io
import json
from pathlib import Path

import yaml

from opwatch.cli import main
from opwatch.runtime import Runtime

EXAMPLES = Path(__file__).parent.parent / "examples" / "providers"
SAMPLES = Path(__file__).parent / "payloads" / "declared"


def run(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    runtime = Runtime(stdin=io.StringIO(), stdout=stdout, stderr=stderr, env={})
    code = main(list(args), runtime)
    return code, stdout.getvalue(), stderr.getvalue()


def test_providers_lists_built_in_and_declared_ones(tmp_path: Path) -> None:
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "gh.yaml").write_text((EXAMPLES / "github-actions.yaml").read_text())
    openai = yaml.safe_load((EXAMPLES / "openai-batch.yaml").read_text())
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": {"batch": openai},
                "profiles": {"m": {"provider": "wesog", "api_key": "k"}},
            }
        )
    )
    code, out, _ = run("providers", "--config", str(config), "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["name"], r["source"]) for r in records] == [
        ("wesog", "built in"),
        ("toloka", "built in"),
        ("trafficops", "built in"),
        ("batch", f"{config}: providers.batch"),
        ("gh", str(tmp_path / "providers" / "gh.yaml")),
    ]
    assert records[3]["keys"] == ["token"]
    assert records[3]["url"] == "https://api.openai.com"
    code, out, _ = run("providers", "--config", str(config))
    assert out.splitlines()[0].split() == [
        "PROVIDER",
        "NAME",
        "PROFILE",
        "KEYS",
        "DEFAULT",
        "URL",
        "FROM",
    ]
    assert "GitHub Actions" in out


def test_a_broken_definition_in_the_providers_directory_exits_5(tmp_path: Path) -> None:
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "bad.yaml").write_text(
        "id: '[0-9]+'\nstatus: /x\nstate: {word: 'a['}\n"
    )
    code, out, _ = run("providers", "--config", str(tmp_path / "config.yaml"), "--json")
    assert code == 5
    bad = json.loads(out.splitlines()[-1])
    assert (bad["name"], bad["ok"]) == ("bad", False)
    assert "'state.word' is not a JMESPath expression" in bad["problem"]


def test_check_validates_a_definition() -> None:
    code, out, _ = run("providers", "check", str(EXAMPLES / "openai-batch.yaml"))
    assert code == 0
    assert "provider 'openai-batch' (OpenAI Batch) is valid" in out
    assert "an id looks like: batch_abc123" in out


def test_check_of_a_bad_definition_is_one_line_and_exit_5(tmp_path: Path) -> None:
    bad = tmp_path / "jobs.yaml"
    bad.write_text("id: '(?P<job>[0-9]+)'\nstatus: /jobs/{run}\nstate: {word: status}\n")
    code, out, err = run("providers", "check", str(bad))
    assert (code, out) == (5, "")
    assert err == (
        f"opwatch: error: provider 'jobs' ({bad}): 'status' uses {{run}}, which the id pattern "
        "does not define (its groups: job)\n"
    )


def test_check_with_a_sample_shows_the_operation_and_its_error_rows() -> None:
    code, out, err = run(
        "providers", "check", str(EXAMPLES / "azure-async.yaml"),
        "--sample", str(SAMPLES / "azure-async" / "failed.json"),
    )  # fmt: skip
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "state          failed (provider status: Failed)"
    assert "error rows     2 in the body" in out
    assert (
        "  - code SkuNotAvailable, field vmSize: The requested size Standard_X is not available "
        "in westus." in lines
    )


def test_check_with_a_sample_as_json_and_an_unlisted_word() -> None:
    code, out, err = run(
        "providers", "check", str(EXAMPLES / "azure-async.yaml"), "--json",
        "--sample", str(SAMPLES / "azure-async" / "unknown_word.json"),
    )  # fmt: skip
    assert code == 0
    record = json.loads(out.splitlines()[0])
    assert (record["state"], record["provider_status"]) == ("running", "Provisioning")
    assert "'Provisioning' is not in state.words; read as running" in err


def test_check_with_a_sample_that_is_not_json_exits_2(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text("<html>")
    code, _, err = run("providers", "check", str(EXAMPLES / "wesog.yaml"), "--sample", str(body))
    assert code == 2
    assert err == f"opwatch: error: {body} is not a JSON body: JSONDecodeError\n"
