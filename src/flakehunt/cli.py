"""
The command line: parse, call one library function, print. The only module that imports typer.

Every user mistake leaves as one `flakehunt: error: ...` line on stderr with exit code 2 (see
errors.ExitCode); anything that is not a FlakehuntError is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from flakehunt.console import err, out
from flakehunt.errors import ExitCode, FlakehuntError, NotImplementedYetError


class _OneLineErrors(TyperGroup):
    """Usage errors as one plain line and exit 2 (Typer would draw a boxed panel), Ctrl-C as 130."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        try:
            result = super().main(
                args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(ExitCode.OK)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"flakehunt: error: {exc.format_message()}{hint}", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except click.ClickException as exc:  # e.g. a file option that does not exist
            click.echo(f"flakehunt: error: {exc.format_message()}", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except click.Abort:
            click.echo("flakehunt: interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        sys.exit(result if isinstance(result, int) else ExitCode.OK)


app = typer.Typer(
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold customer data
    help="Reproduce and explain intermittent web bugs: real browsers across CDN edges, logs, statistics.",
)
case_app = typer.Typer(cls=_OneLineErrors, no_args_is_help=True, help="The cases and their journals.")
app.add_typer(case_app, name="case")


class _State:
    debug = False


state = _State()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for expected errors too.")] = False,
) -> None:
    state.debug = debug


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a FlakehuntError into one stderr line and its exit code."""
    try:
        yield
    except FlakehuntError as exc:
        if state.debug:
            raise
        typer.echo(f"flakehunt: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("flakehunt: interrupted", err=True)
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


CaseOption = Annotated[str, typer.Option("--case", help="Case id, usually the ticket number.")]
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]


def _not_yet(command: str, issue: int) -> None:
    with user_errors():
        raise NotImplementedYetError(f"'flakehunt {command}' is not implemented yet (issue #{issue})")


# -- investigation ------------------------------------------------------------------------------


@app.command()
def investigate(
    url: Annotated[str, typer.Argument(help="The page the customer reported.")],
    case: CaseOption,
) -> None:
    """The whole job: open the case, run the probe matrix, ingest logs, correlate, write the report."""
    _not_yet("investigate", 6)


@app.command()
def probe(
    spec: Annotated[
        Path | None, typer.Argument(help="A probe spec, e.g. probes/conversion-pixel.yaml.")
    ] = None,
    case: CaseOption = "",
    repeat: Annotated[int | None, typer.Option(help="Runs per configuration (overrides the spec).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Runs at a time (default: CPU cores).")] = None,
    budget_seconds: Annotated[float | None, typer.Option(help="Stop starting runs after this long.")] = None,
    url: Annotated[str | None, typer.Option(help="Probe this site instead of the spec's url.")] = None,
    edge_ips: Annotated[str | None, typer.Option(help="Edges to pin to: IP,IP,... or hostnames.")] = None,
    customer: Annotated[
        list[str] | None, typer.Option(help="The customer's configuration, KEY=VALUE (repeatable).")
    ] = None,
    freshness: Annotated[
        list[str] | None, typer.Option(help="Compare this asset URL across edges (repeatable).")
    ] = None,
    origin: Annotated[
        str | None, typer.Option(help="Origin base URL (for --freshness and equals_origin checks).")
    ] = None,
    format_name: FormatOption = "text",
) -> None:
    """Run a probe spec across its configuration matrix, pinned to each CDN edge."""
    from flakehunt.case import open_case
    from flakehunt.probe import check_freshness, load_spec, run_probe
    from flakehunt.probe.progress import progress_bar

    with user_errors():
        edges = [e.strip() for e in edge_ips.split(",") if e.strip()] if edge_ips else None
        if freshness:
            report = check_freshness(freshness, edge_ips=edges or [], origin=origin)
            out.print(report) if format_name != "json" else print_json(report.to_dict())
            raise typer.Exit(ExitCode.SITE_FAILING if report.stale else ExitCode.OK)
        if spec is None or not case:
            raise FlakehuntError(
                "probe needs a SPEC and --case (or --freshness URL); see 'flakehunt probe --help'"
            )
        wanted = dict(item.partition("=")[::2] for item in customer or [])
        with progress_bar(err, enabled=format_name != "json") as on_progress:
            result = run_probe(
                load_spec(spec),
                case=open_case(case),
                repeat=repeat,
                concurrency=concurrency,
                budget_seconds=budget_seconds,
                url=url,
                edge_ips=edges,
                customer=wanted or None,
                origin=origin,
                on_progress=on_progress,
            )
    out.print(result) if format_name != "json" else print_json(result.to_dict())
    raise typer.Exit(ExitCode.SITE_FAILING if result.failed else ExitCode.OK)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Log or HAR files, folders or globs.")],
    case: CaseOption,
    format_name: Annotated[
        str | None, typer.Option("--format", help="Skip detection; see 'flakehunt formats'.")
    ] = None,
) -> None:
    """Parse and normalize logs or HAR files into a case."""
    _not_yet("ingest", 3)


@app.command()
def formats() -> None:
    """The log formats flakehunt reads, with the fields each provides."""
    _not_yet("formats", 3)


@app.command()
def correlate(case: CaseOption, format_name: FormatOption = "text") -> None:
    """Label failures, explain them by dimension, print ranked hypotheses."""
    _not_yet("correlate", 5)


@app.command()
def report(
    case: CaseOption,
    audience: Annotated[str, typer.Option(help="customer, engineer or exec.")] = "engineer",
    format_name: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md",
) -> None:
    """Render the case's report for an audience."""
    _not_yet("report", 6)


@app.command()
def watch(
    spec: Annotated[Path, typer.Argument(help="A probe spec.")],
    every: Annotated[str, typer.Option(help="Interval, e.g. 15m.")] = "15m",
) -> None:
    """Scheduled probing: run, append, alert when a failure rate changes."""
    _not_yet("watch", 7)


@app.command()
def schedule(
    spec: Annotated[Path, typer.Argument(help="A probe spec.")],
    every: Annotated[str, typer.Option(help="Interval, e.g. 15m.")] = "15m",
    emit: Annotated[str, typer.Option(help="cron, systemd, kubernetes or github-actions.")] = "cron",
) -> None:
    """Emit the scheduler config (cron, systemd, Kubernetes, GitHub Actions) that runs the probes."""
    _not_yet("schedule", 7)


@case_app.command("list")
def case_list() -> None:
    """List the cases."""
    _not_yet("case list", 6)


@case_app.command("show")
def case_show(case_id: Annotated[str, typer.Argument(help="Case id.")]) -> None:
    """Print a case's story so far."""
    _not_yet("case show", 6)


@case_app.command("note")
def case_note(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    text: Annotated[str, typer.Argument(help="The note.")],
) -> None:
    """Add a human note to a case's journal."""
    _not_yet("case note", 6)


# -- the simulated world and the environment ----------------------------------------------------


@app.command()
def demo(
    edges: Annotated[int, typer.Option(help="How many simulated edges.")] = 6,
) -> None:
    """The whole job against a bundled simulated CDN with a stale edge, no setup needed."""
    from flakehunt.demo import run_demo

    with user_errors():
        result = run_demo(edges=edges, on_progress=lambda line: err.print(line, style="fh.dim"))
    out.print(result)


@app.command()
def sim(
    preset: Annotated[str, typer.Option(help="Scenario preset; see 'flakehunt sim --list'.")] = "stale-edge",
    edges: Annotated[int | None, typer.Option(help="How many edges (default: the preset's).")] = None,
    port: Annotated[int, typer.Option(help="Port for every edge; 0 picks a free one.")] = 0,
    logs: Annotated[Path | None, typer.Option(help="Folder for the CDN and origin logs.")] = None,
    list_presets: Annotated[bool, typer.Option("--list", help="List the presets and exit.")] = False,
) -> None:
    """Run the simulated multi-edge CDN in the foreground, to try probes and ingest by hand."""
    from flakehunt.edgesim import PRESETS, serve_forever

    if list_presets:
        for name, preset_def in PRESETS.items():
            out.print(f"{name}\t{preset_def.description}")
        return
    with user_errors():
        serve_forever(preset=preset, edges=edges, port=port, logs_dir=logs, announce=_announce)


def _announce(description: dict) -> None:
    # One JSON line on stdout (for scripts), then a human hint on stderr.
    typer.echo(json.dumps(description, separators=(",", ":")))
    err.print("serving; Ctrl-C to stop", style="fh.dim")


@app.command()
def doctor(
    geoip_dir: Annotated[Path | None, typer.Option(help="Folder with MaxMind .mmdb files.")] = None,
    format_name: FormatOption = "text",
) -> None:
    """Which browsers, GeoIP databases and formats are available, and what is missing."""
    from flakehunt.doctor import check_environment

    with user_errors():
        report = check_environment(geoip_dir=geoip_dir)
    if format_name == "json":
        print_json(report.to_dict())
    else:
        out.print(report)
    if not report.ok:
        raise typer.Exit(ExitCode.ENVIRONMENT)


def main() -> None:
    app()
