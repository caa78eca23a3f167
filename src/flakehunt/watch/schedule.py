"""
`flakehunt schedule`: the same probing, run by the scheduler a team already has.

Each emitter writes a complete artefact that runs
`flakehunt probe SPEC --store URI --location NAME --format json` every interval: a crontab
line, systemd service and timer units, a Kubernetes ConfigMap (the spec) and CronJob, or a
GitHub Actions workflow. Cron-style schedulers only repeat exactly at steps that divide the
hour or the day, so an interval they cannot keep (7m) is refused with the nearest ones they can.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml

from flakehunt.errors import FlakehuntError
from flakehunt.watch.interval import format_interval
from flakehunt.watch.runstore import check_location, default_location

EMITTERS = ("cron", "systemd", "kubernetes", "github-actions")
K8S_STORE = "/var/lib/flakehunt/store"
GITHUB_MIN = timedelta(minutes=5)  # GitHub Actions runs scheduled workflows at most every 5 minutes

# Every interval a 5-field cron expression repeats exactly, and the expression for it.
_CRON: dict[timedelta, str] = {
    **{timedelta(minutes=m): "* * * * *" if m == 1 else f"*/{m} * * * *" for m in (1, 2, 3, 4, 5, 6)},
    **{timedelta(minutes=m): f"*/{m} * * * *" for m in (10, 12, 15, 20, 30)},
    **{timedelta(hours=h): "0 * * * *" if h == 1 else f"0 */{h} * * *" for h in (1, 2, 3, 4, 6, 8, 12)},
    timedelta(days=1): "0 0 * * *",
    timedelta(days=7): "0 0 * * 0",
}


@dataclass(frozen=True)
class Job:
    """What every emitter runs: the probe command, its name, where it runs and stores."""

    spec: Path
    every: timedelta
    store: str
    location: str
    s3_endpoint: str | None
    executable: tuple[str, ...]

    @property
    def name(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.spec.stem.lower()).strip("-") or "spec"
        return f"flakehunt-probe-{slug}"[:52].rstrip("-")  # CronJob names: at most 52 characters

    def argv(self, spec: str | None = None, store: str | None = None) -> list[str]:
        args = ["probe", spec or str(self.spec), "--store", store or self.store, "--location", self.location]
        if self.s3_endpoint:
            args += ["--s3-endpoint", self.s3_endpoint]
        return [*args, "--format", "json"]


def emit_schedule(
    spec: Path,
    *,
    every: timedelta,
    emit: str,
    store: str | None = None,
    location: str | None = None,
    s3_endpoint: str | None = None,
    executable: str | Sequence[str] = "flakehunt",
    image: str = "flakehunt:latest",
) -> str:
    """
    The scheduler artefact that runs `flakehunt probe` on `spec` every `every`.

    Parameters
    ----------
    spec
        The probe spec; must exist (Kubernetes gets its text in a ConfigMap).
    emit
        One of `EMITTERS`.
    store
        Run store URI; default `./.flakehunt/store` (made absolute) for cron and systemd, a
        PersistentVolumeClaim for Kubernetes; GitHub Actions needs an `s3://` store.
    location
        Default: this host's name (cron, systemd), `kubernetes` or `github-actions`.
    executable
        How cron and systemd start flakehunt (they do not read your shell's PATH): a path, or
        words such as `[sys.executable, "-m", "flakehunt"]`.
    image
        Kubernetes only: an image with flakehunt and its browsers.

    Raises
    ------
    FlakehuntError
        Unknown emitter, missing spec, or an interval the scheduler cannot repeat exactly.
    """
    if emit not in EMITTERS:
        raise FlakehuntError(f"--emit has unknown scheduler {emit!r}; choose one of: {', '.join(EMITTERS)}")
    if not spec.is_file():
        raise FlakehuntError(f"no probe spec at {str(spec)!r}; give the path of a spec file")
    if emit == "github-actions" and not (store or "").startswith("s3://"):
        raise FlakehuntError(
            "github-actions runners keep no files between runs; pass --store s3://bucket/prefix"
        )
    scheduler_location = {"kubernetes": "kubernetes", "github-actions": "github-actions"}.get(emit)
    job = Job(
        spec=spec if emit in ("kubernetes", "github-actions") else spec.resolve(),
        every=every,
        store=store or (K8S_STORE if emit == "kubernetes" else str(Path(".flakehunt/store").resolve())),
        location=check_location(location or scheduler_location or default_location()),
        s3_endpoint=s3_endpoint,
        executable=(executable,) if isinstance(executable, str) else tuple(executable),
    )
    if emit == "cron":
        return emit_cron(job)
    if emit == "systemd":
        return emit_systemd(job)
    if emit == "kubernetes":
        return emit_kubernetes(job, image=image)
    return emit_github_actions(job)


def cron_expression(every: timedelta, *, scheduler: str = "cron", minimum: timedelta | None = None) -> str:
    """
    The 5-field cron expression for `every`, or an error naming the nearest intervals cron keeps.

    >>> cron_expression(timedelta(minutes=15))
    '*/15 * * * *'
    >>> cron_expression(timedelta(minutes=7))
    Traceback (most recent call last):
    ...
    flakehunt.errors.FlakehuntError: cron cannot repeat exactly every 7m; nearest: --every 6m or --every 10m
    """
    choices = sorted(step for step in _CRON if minimum is None or step >= minimum)
    if every in choices:
        return _CRON[every]
    below = [step for step in choices if step < every][-1:]
    above = [step for step in choices if step > every][:1]
    nearest = " or ".join(f"--every {format_interval(step)}" for step in [*below, *above])
    floor = f" (at most every {format_interval(minimum)})" if minimum else ""
    raise FlakehuntError(
        f"{scheduler} cannot repeat exactly every {format_interval(every)}{floor}; nearest: {nearest}"
    )


def emit_cron(job: Job) -> str:
    """One crontab line (`crontab -e`); `%` is escaped, as cron would read it as a newline."""
    command = " ".join(shlex.quote(arg) for arg in [*job.executable, *job.argv()]).replace("%", r"\%")
    header = f"# flakehunt: probe {job.spec.name} every {format_interval(job.every)} from {job.location}\n"
    return f"{header}{cron_expression(job.every)} {command}\n"


def emit_systemd(job: Job) -> str:
    """A service and a timer unit, each under a `# /etc/systemd/system/NAME` line."""
    calendar = _systemd_calendar(job.every)
    when = (
        [f"OnCalendar={calendar}", "Persistent=true"]
        if calendar
        else [f"OnActiveSec={_seconds(job.every)}", f"OnUnitActiveSec={_seconds(job.every)}"]
    )
    exec_start = " ".join(_systemd_quote(arg) for arg in [*job.executable, *job.argv()])
    about = f"flakehunt probe {job.spec.name} every {format_interval(job.every)} from {job.location}"
    service = [
        "[Unit]",
        f"Description={about}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={exec_start}",
        # AWS_* credentials for an s3:// store, if any: KEY=value lines, readable by root only.
        "EnvironmentFile=-/etc/flakehunt/env",
    ]
    timer = [
        "[Unit]",
        f"Description=Timer: {about}",
        "",
        "[Timer]",
        *when,
        "AccuracySec=1s",
        f"Unit={job.name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return (
        f"# /etc/systemd/system/{job.name}.service\n" + "\n".join(service) + "\n\n"
        f"# /etc/systemd/system/{job.name}.timer\n" + "\n".join(timer) + "\n"
    )


def emit_kubernetes(job: Job, *, image: str) -> str:
    """A ConfigMap holding the spec and a CronJob running it, as one multi-document manifest."""
    s3 = job.store.startswith("s3://")
    spec_path = f"/etc/flakehunt/probes/{job.spec.name}"
    container: dict = {
        "name": "probe",
        "image": image,
        "command": ["flakehunt"],
        "args": job.argv(spec=spec_path),
        "volumeMounts": [{"name": "spec", "mountPath": "/etc/flakehunt/probes", "readOnly": True}],
    }
    volumes: list[dict] = [{"name": "spec", "configMap": {"name": job.name}}]
    if s3:  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION from a Secret the team creates
        container["envFrom"] = [{"secretRef": {"name": "flakehunt-s3", "optional": True}}]
    else:
        container["volumeMounts"].append({"name": "store", "mountPath": job.store})
        volumes.append({"name": "store", "persistentVolumeClaim": {"claimName": "flakehunt-store"}})
    labels = {"app.kubernetes.io/name": "flakehunt", "app.kubernetes.io/component": "probe"}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": job.name, "labels": labels},
        "data": {job.spec.name: job.spec.read_text()},
    }
    cron_job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": job.name, "labels": labels},
        "spec": {
            "schedule": cron_expression(job.every, scheduler="a Kubernetes CronJob"),
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",  # a slow round never overlaps the next
            "startingDeadlineSeconds": max(60, _seconds(job.every) // 2),
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,  # the probe retries its own errors; exit 1 means "site failing"
                    "activeDeadlineSeconds": _seconds(job.every),
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"restartPolicy": "Never", "containers": [container], "volumes": volumes},
                    },
                }
            },
        },
    }
    header = f"# flakehunt: probe {job.spec.name} every {format_interval(job.every)}; kubectl apply -f -\n"
    return header + yaml.dump_all([config_map, cron_job], Dumper=_Dumper, sort_keys=False, width=1000)


def emit_github_actions(job: Job) -> str:
    """A workflow for `.github/workflows/`, in a Debian container with Chromium and Firefox ESR."""
    setup = (
        "apt-get update && apt-get install -y --no-install-recommends"
        " python3 python3-venv chromium firefox-esr ca-certificates\n"
        "python3 -m venv /opt/flakehunt && /opt/flakehunt/bin/pip install flakehunt\n"
    )
    workflow = {
        "name": f"flakehunt probe {job.spec.stem}",
        "on": {
            "schedule": [
                {"cron": cron_expression(job.every, scheduler="GitHub Actions", minimum=GITHUB_MIN)}
            ],
            "workflow_dispatch": {},
        },
        "permissions": {"contents": "read"},
        "concurrency": {"group": job.name, "cancel-in-progress": False},
        "jobs": {
            "probe": {
                "runs-on": "ubuntu-latest",
                "container": "debian:trixie-slim",
                "timeout-minutes": max(1, _seconds(job.every) // 60),
                "env": {
                    "AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
                    "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
                    "AWS_REGION": "${{ vars.AWS_REGION }}",
                },
                "steps": [
                    {"uses": "actions/checkout@v4"},
                    {"name": "Install flakehunt and the browsers", "run": setup},
                    {
                        "name": "Probe",
                        "run": " ".join(
                            shlex.quote(a) for a in ["/opt/flakehunt/bin/flakehunt", *job.argv()]
                        ),
                    },
                ],
            }
        },
    }
    header = f"# .github/workflows/{job.name}.yml: probe every {format_interval(job.every)}\n"
    return header + yaml.dump(workflow, Dumper=_Dumper, sort_keys=False, width=1000)


class _Dumper(yaml.SafeDumper):
    """Plain YAML as people write it: no &anchors, multi-line strings as `|` blocks."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _systemd_calendar(every: timedelta) -> str | None:
    """An OnCalendar= expression for the intervals a calendar repeats exactly; None for the rest."""
    minutes = _seconds(every) // 60
    if every not in _CRON:
        return None
    if minutes < 60:
        return "*-*-* *:*:00" if minutes == 1 else f"*-*-* *:00/{minutes}:00"
    if minutes < 24 * 60:
        hours = minutes // 60
        return "*-*-* *:00:00" if hours == 1 else f"*-*-* 00/{hours}:00:00"
    return "*-*-* 00:00:00" if minutes == 24 * 60 else "Sun *-*-* 00:00:00"


def _systemd_quote(arg: str) -> str:
    # systemd.service(5), "Command lines": double quotes group words; `%` starts a specifier.
    escaped = arg.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _seconds(every: timedelta) -> int:
    return int(every.total_seconds())
