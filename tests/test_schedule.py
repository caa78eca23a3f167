"""`flakehunt schedule`: every emitted artefact is parsed and checked by its ecosystem's own tools."""

from __future__ import annotations

import configparser
import itertools
import json
import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
import yaml

from flakehunt.errors import FlakehuntError
from flakehunt.watch.interval import parse_interval
from flakehunt.watch.schedule import EMITTERS, emit_schedule

FIFTEEN = timedelta(minutes=15)
RELATIVE_SPEC = Path("probes/checkout-flow.yaml")  # as a repository's workflow names it
SPEC_TEXT = "name: checkout-flow\nurl: https://shop.example.com/\nrepeat: 5\n"


@pytest.fixture(autouse=True)
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in a folder that looks like a repository with probes/checkout-flow.yaml."""
    path = tmp_path / "probes" / "checkout-flow.yaml"
    path.parent.mkdir()
    path.write_text(SPEC_TEXT)
    monkeypatch.chdir(tmp_path)
    return path


def probe_argv(argv: list[str], *, spec: str, store: str, location: str) -> None:
    assert argv == ["probe", spec, "--store", store, "--location", location, "--format", "json"]


# -- cron ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("every", ["1m", "5m", "15m", "30m", "1h", "6h", "1d", "7d"])
def test_cron_line_repeats_exactly_at_the_interval(spec: Path, every: str) -> None:
    croniter = pytest.importorskip("croniter", reason="croniter is a dev dependency").croniter
    text = emit_schedule(spec, every=parse_interval(every), emit="cron", store="/srv/store", location="fra")
    [line] = [line for line in text.splitlines() if line and not line.startswith("#")]
    fields = line.split(maxsplit=5)
    expression, command = " ".join(fields[:5]), fields[5]
    assert croniter.is_valid(expression)
    runs = croniter(expression, datetime(2026, 2, 27, 23, 31, tzinfo=UTC))
    times = [runs.get_next(datetime) for _ in range(12)]
    gaps = {later - earlier for earlier, later in itertools.pairwise(times)}
    assert gaps == {parse_interval(every)}
    argv = shlex.split(command)
    assert argv[0] == "flakehunt"
    probe_argv(argv[1:], spec=str(spec.resolve()), store="/srv/store", location="fra")


def test_cron_refuses_an_interval_it_cannot_keep_and_names_the_nearest(spec: Path) -> None:
    with pytest.raises(FlakehuntError) as caught:
        emit_schedule(spec, every=timedelta(minutes=7), emit="cron")
    assert str(caught.value) == "cron cannot repeat exactly every 7m; nearest: --every 6m or --every 10m"
    with pytest.raises(FlakehuntError, match="nearest: --every 1h or --every 2h"):
        emit_schedule(spec, every=timedelta(minutes=90), emit="cron")
    with pytest.raises(FlakehuntError, match=r"nearest: --every 1m$"):
        emit_schedule(spec, every=timedelta(seconds=30), emit="cron")


def test_cron_escapes_percent_signs(tmp_path: Path) -> None:
    croniter = pytest.importorskip("croniter", reason="croniter is a dev dependency").croniter
    odd = tmp_path / "100% checkout.yaml"
    odd.write_text(SPEC_TEXT)
    line = emit_schedule(odd, every=FIFTEEN, emit="cron", store="/srv/store", location="fra").splitlines()[1]
    assert r"100\%" in line and croniter.is_valid(" ".join(line.split()[:5]))


# -- systemd -------------------------------------------------------------------------------------

_SYSTEMD_KEYS = {
    ".service": {
        "Unit": {"Description", "Wants", "After"},
        "Service": {"Type", "ExecStart", "EnvironmentFile"},
    },
    ".timer": {
        "Unit": {"Description"},
        "Timer": {"OnCalendar", "Persistent", "OnActiveSec", "OnUnitActiveSec", "AccuracySec", "Unit"},
        "Install": {"WantedBy"},
    },
}


def split_units(text: str, folder: Path) -> dict[str, configparser.ConfigParser]:
    parts = re.split(r"^# /etc/systemd/system/(\S+)\n", text, flags=re.MULTILINE)
    assert parts[0] == ""
    units = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        (folder / name).write_text(body)
        parser = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
        parser.optionxform = str  # systemd keys are case-sensitive
        parser.read_string(body)
        units[name] = parser
    return units


@pytest.mark.parametrize(("every", "calendar"), [("15m", "*-*-* *:00/15:00"), ("7m", None), ("6h", None)])
def test_systemd_units_are_well_formed(spec: Path, tmp_path: Path, every: str, calendar: str | None) -> None:
    flakehunt = shutil.which("flakehunt") or "/usr/bin/env"
    text = emit_schedule(
        spec,
        every=parse_interval(every),
        emit="systemd",
        store="/srv/store",
        location="fra",
        executable=flakehunt,
    )
    units = split_units(text, tmp_path)
    assert sorted(units) == ["flakehunt-probe-checkout-flow.service", "flakehunt-probe-checkout-flow.timer"]
    for name, parser in units.items():
        allowed = _SYSTEMD_KEYS[Path(name).suffix]
        assert set(parser.sections()) == set(allowed)
        for section in parser.sections():
            assert set(parser[section]) <= allowed[section], f"{name} [{section}]"
    service = units["flakehunt-probe-checkout-flow.service"]["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == flakehunt
    probe_argv(argv[1:], spec=str(spec.resolve()), store="/srv/store", location="fra")
    timer = units["flakehunt-probe-checkout-flow.timer"]["Timer"]
    assert timer["Unit"] == "flakehunt-probe-checkout-flow.service"
    if every == "15m":
        assert timer["OnCalendar"] == calendar
    elif every == "6h":
        assert timer["OnCalendar"] == "*-*-* 00/6:00:00"
    else:
        assert (timer["OnActiveSec"], timer["OnUnitActiveSec"]) == ("420", "420"), "7m: a monotonic timer"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("every", ["15m", "7m", "1d"])
def test_systemd_analyze_accepts_the_units(spec: Path, tmp_path: Path, every: str) -> None:
    flakehunt = shutil.which("flakehunt") or "/usr/bin/env"
    text = emit_schedule(spec, every=parse_interval(every), emit="systemd", executable=flakehunt)
    units = split_units(text, tmp_path)
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / name) for name in units)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    ours = [line for line in checked.stderr.splitlines() if "flakehunt-probe" in line]
    assert checked.returncode == 0 and ours == [], checked.stderr
    calendar = units["flakehunt-probe-checkout-flow.timer"]["Timer"].get("OnCalendar")
    if calendar:
        shown = subprocess.run(
            ["systemd-analyze", "calendar", "--iterations=3", calendar], capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stderr
        elapses = re.findall(r"(?:Next elapse|Iter\. #\d): \w+ (\S+ \S+)", shown.stdout)
        times = [datetime.fromisoformat(t) for t in elapses]
        assert {b - a for a, b in itertools.pairwise(times)} == {parse_interval(every)}


# -- Kubernetes ----------------------------------------------------------------------------------


def test_kubernetes_manifest_validates_against_the_cronjob_schema(spec: Path) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate not installed"
    )
    croniter = pytest.importorskip("croniter", reason="croniter is a dev dependency").croniter
    text = emit_schedule(spec, every=FIFTEEN, emit="kubernetes", image="registry.example/flakehunt:1")
    config_map, cron_job = yaml.safe_load_all(text)
    for document in (config_map, cron_job):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    assert config_map["data"] == {"checkout-flow.yaml": SPEC_TEXT}, "the spec travels in the ConfigMap"
    assert croniter.is_valid(cron_job["spec"]["schedule"])
    assert cron_job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "registry.example/flakehunt:1"
    probe_argv(
        container["args"],
        spec="/etc/flakehunt/probes/checkout-flow.yaml",
        store="/var/lib/flakehunt/store",
        location="kubernetes",
    )
    assert {volume["name"] for volume in pod["volumes"]} == {"spec", "store"}


def test_kubernetes_with_an_s3_store_reads_credentials_from_a_secret(spec: Path) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate not installed"
    )
    text = emit_schedule(
        spec, every=FIFTEEN, emit="kubernetes", store="s3://probes/shop", s3_endpoint="http://minio:9000"
    )
    _, cron_job = yaml.safe_load_all(text)
    kubernetes_validate.validate(cron_job, kubernetes_validate.latest_version(), strict=True)
    [container] = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "flakehunt-s3", "optional": True}}]
    assert container["args"][-4:] == ["--s3-endpoint", "http://minio:9000", "--format", "json"]


def test_kubernetes_refuses_what_cron_cannot_keep(spec: Path) -> None:
    with pytest.raises(FlakehuntError, match=r"^a Kubernetes CronJob cannot repeat exactly every 7m"):
        emit_schedule(spec, every=timedelta(minutes=7), emit="kubernetes")


# -- GitHub Actions ------------------------------------------------------------------------------


def github_workflow_schema() -> dict:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema (its vendored schemas) not installed")
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "github-workflows.json"
    return json.loads(vendored.read_text())


def test_github_actions_workflow_validates_against_the_workflow_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    croniter = pytest.importorskip("croniter", reason="croniter is a dev dependency").croniter
    text = emit_schedule(RELATIVE_SPEC, every=FIFTEEN, emit="github-actions", store="s3://probes/shop")
    workflow = yaml.safe_load(text)
    schema = github_workflow_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [error.message for error in validator.iter_errors(workflow)]
    assert errors == []
    [schedule] = workflow["on"]["schedule"]
    runs = croniter(schedule["cron"], datetime(2026, 1, 1, tzinfo=UTC))
    first, second = runs.get_next(datetime), runs.get_next(datetime)
    assert second - first == FIFTEEN
    step = workflow["jobs"]["probe"]["steps"][-1]
    argv = shlex.split(step["run"])
    probe_argv(
        argv[1:], spec="probes/checkout-flow.yaml", store="s3://probes/shop", location="github-actions"
    )


def test_a_broken_workflow_fails_the_same_check() -> None:
    """The schema check can fail: a workflow without `runs-on` is rejected."""
    jsonschema = pytest.importorskip("jsonschema")
    workflow = yaml.safe_load(
        emit_schedule(RELATIVE_SPEC, every=FIFTEEN, emit="github-actions", store="s3://probes/shop")
    )
    del workflow["jobs"]["probe"]["runs-on"]
    schema = github_workflow_schema()
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(workflow))


def test_github_actions_needs_a_shared_store_and_five_minutes(spec: Path) -> None:
    with pytest.raises(FlakehuntError, match="keep no files between runs; pass --store s3://"):
        emit_schedule(spec, every=FIFTEEN, emit="github-actions")
    with pytest.raises(FlakehuntError, match=r"at most every 5m\); nearest: --every 5m$"):
        emit_schedule(spec, every=timedelta(minutes=2), emit="github-actions", store="s3://b/p")


# -- shared --------------------------------------------------------------------------------------


def test_unknown_emitter_and_missing_spec_are_one_line(spec: Path, tmp_path: Path) -> None:
    with pytest.raises(FlakehuntError, match="--emit has unknown scheduler 'anacron'; choose one of: cron,"):
        emit_schedule(spec, every=FIFTEEN, emit="anacron")
    with pytest.raises(FlakehuntError, match="no probe spec at"):
        emit_schedule(tmp_path / "missing.yaml", every=FIFTEEN, emit="cron")
    assert set(EMITTERS) == {"cron", "systemd", "kubernetes", "github-actions"}


# -- the commands --------------------------------------------------------------------------------


def test_schedule_command_prints_the_artefact_and_refuses_7m_in_one_line() -> None:
    from typer.testing import CliRunner

    from flakehunt.cli import app

    runner = CliRunner()
    done = runner.invoke(
        app, ["schedule", "probes/checkout-flow.yaml", "--every", "15m", "--location", "fra"]
    )
    assert done.exit_code == 0, done.stderr
    line = done.stdout.splitlines()[1]
    assert line.startswith("*/15 * * * * /") and line.endswith(" --location fra --format json")
    units = runner.invoke(app, ["schedule", "probes/checkout-flow.yaml", "--emit", "systemd"])
    assert "[Unit]" in units.stdout, "printed as text, not Rich markup"
    refused = runner.invoke(app, ["schedule", "probes/checkout-flow.yaml", "--every", "7m"])
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert refused.stderr == (
        "flakehunt: error: cron cannot repeat exactly every 7m; nearest: --every 6m or --every 10m\n"
    )


def test_store_compact_command(tmp_path: Path) -> None:
    import polars as pl
    from typer.testing import CliRunner

    from flakehunt.cli import app
    from flakehunt.watch import open_store

    store = open_store(str(tmp_path / "store"))
    for n in range(3):
        store.append_round(pl.DataFrame({"outcome": ["pass", "fail"]}), location="fra", round_id=str(n))
    before = store.read().sort("round_id", "outcome")
    done = CliRunner().invoke(
        app, ["store", "compact", "--store", str(tmp_path / "store"), "--grace", "0", "--format", "json"]
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) | {"written": None} == {
        "merged": 3,
        "rows": 6,
        "written": None,
        "removed": 3,
    }
    assert store.read().sort("round_id", "outcome").equals(before)
