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

import typer
from typer.core import TyperGroup

try:  # Typer >= 0.22 vendors Click; older releases use the click package itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

from flakehunt import stops
from flakehunt.console import err, out, progress_to_stderr
from flakehunt.errors import ExitCode, FlakehuntError, interrupted_exit, storage_problem

# Typer >= 0.22 raises its own Abort (Click's vendored exceptions have none); older ones raise Click's.
_ABORTS = (getattr(click_exceptions, "Abort", typer.Abort), typer.Abort)


class _OneLineErrors(TyperGroup):
    """
    Usage errors as one plain line and exit 2 (Typer would draw a boxed panel); a stop as one
    line and 130 (Ctrl-C) or 143 (SIGTERM). Typer ends a stop that lands outside a command's
    `user_errors` (while it parses, or imports what the command needs) with 130 and no word.
    """

    def make_context(self, *args, **kwargs):  # type: ignore[override]
        with _stops_said():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):  # type: ignore[override]
        with _stops_said():
            return super().invoke(ctx)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        try:
            result = super().main(
                args=args, prog_name="flakehunt", complete_var=complete_var, standalone_mode=False, **extra
            )
        except click_exceptions.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(ExitCode.OK)
        except click_exceptions.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            typer.echo(f"flakehunt: error: {exc.format_message()}{hint}", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except click_exceptions.ClickException as exc:  # e.g. a file option that does not exist
            typer.echo(f"flakehunt: error: {exc.format_message()}", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except _ABORTS as exc:  # Typer before 0.29 and Click turn KeyboardInterrupt into Abort
            line, code = interrupted_exit(exc)
            typer.echo(line, err=True)
            sys.exit(code)
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
store_app = typer.Typer(
    cls=_OneLineErrors, no_args_is_help=True, help="Run stores shared by scheduled probes."
)
app.add_typer(store_app, name="store")


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
    """Turn a FlakehuntError, an interrupt or a full or unwritable disk into one stderr line and its exit code."""
    try:
        yield
    except FlakehuntError as exc:
        if state.debug:
            raise
        typer.echo(f"flakehunt: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        raise typer.Exit(stops.said(exc)) from None
    except OSError as exc:
        problem = storage_problem(exc)
        if problem is None or state.debug:
            raise
        typer.echo(f"flakehunt: error: {problem}", err=True)
        raise typer.Exit(ExitCode.ENVIRONMENT) from None


@contextmanager
def _stops_said() -> Iterator[None]:
    try:
        yield
    except (KeyboardInterrupt, Exception) as exc:
        code = stops.said(exc)
        if code is None:
            raise
        raise typer.Exit(code) from None


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


CaseOption = Annotated[str, typer.Option("--case", help="Case id, usually the ticket number.")]
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]
StoreOption = Annotated[str, typer.Option("--store", help="Run store: a folder or s3://bucket/prefix.")]
S3EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--s3-endpoint", help="S3-compatible server, e.g. http://127.0.0.1:9000.", show_default=False
    ),
]
LocationOption = Annotated[
    str | None,
    typer.Option(help="Name of this runner in the store (default: the host name).", show_default=False),
]
ReadStoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Work on a run store's rounds (folder or s3://...) instead of a case.",
        show_default=False,
    ),
]


# -- investigation ------------------------------------------------------------------------------


@app.command()
def investigate(
    url: Annotated[str, typer.Argument(help="The page the customer reported.")],
    case: CaseOption,
    symptom: Annotated[str | None, typer.Option(help="What the customer saw, in their words.")] = None,
    logs: Annotated[
        list[str] | None, typer.Option(help="CDN/origin log files, folders or globs; repeatable.")
    ] = None,
    har: Annotated[
        list[str] | None, typer.Option(help="A HAR exported from the customer's browser; repeatable.")
    ] = None,
    spec: Annotated[Path | None, typer.Option(help="Probe spec (default: probes/page-health.yaml).")] = None,
    edge_ips: Annotated[str | None, typer.Option(help="Edges to pin probes to: IP,IP,...")] = None,
    browser: Annotated[str | None, typer.Option(help="The customer's browser, e.g. 'Firefox 153'.")] = None,
    device: Annotated[str | None, typer.Option(help="The customer's device, e.g. 'iPhone 15'.")] = None,
    region: Annotated[str | None, typer.Option(help="Where the customer is, e.g. frankfurt.")] = None,
    locale: Annotated[str | None, typer.Option(help="The customer's locale, e.g. de-DE.")] = None,
    vpn: Annotated[bool, typer.Option(help="The customer uses a VPN.")] = False,
    adblock: Annotated[bool, typer.Option(help="The customer uses an ad blocker.")] = False,
    expect: Annotated[
        str | None, typer.Option(help="Expected sequence in the logs, see 'correlate'.")
    ] = None,
    failure: Annotated[str | None, typer.Option(help="SQL predicate marking a failed exchange.")] = None,
    event: Annotated[
        list[str] | None, typer.Option(help="'<time> <label>', e.g. a deploy; repeatable.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Logs from this time (ISO 8601 or an age like 24h).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Logs before this time.")] = None,
    repeat: Annotated[int | None, typer.Option(help="Runs per probe configuration.")] = None,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Only ingest and correlate.")] = False,
    history: Annotated[
        str | None, typer.Option(help="A run store of scheduled probes to attach (see 'watch').")
    ] = None,
    history_since: Annotated[
        str | None, typer.Option(help="Attach store history from this time, e.g. 24h.")
    ] = None,
    geoip_dir: Annotated[Path | None, typer.Option(help="Folder with MaxMind .mmdb files.")] = None,
    format_name: FormatOption = "text",
) -> None:
    """The whole job: open the case, run the probe matrix, ingest logs, correlate, write the report."""
    from flakehunt.case import open_case
    from flakehunt.investigate import Customer
    from flakehunt.investigate import investigate as run_investigation
    from flakehunt.timeparse import parse_event, parse_when, parse_window

    with user_errors():
        start, end = parse_window(since, until)
        result = run_investigation(
            url,
            case=open_case(case),
            customer=Customer(browser, device, region, locale, None, vpn, adblock),
            symptom=symptom,
            spec=spec,
            logs=logs or [],
            har=har or [],
            edge_ips=[ip.strip() for ip in edge_ips.split(",") if ip.strip()] if edge_ips else None,
            since=start,
            until=end,
            expect=expect,
            failure=failure,
            events=[parse_event(text) for text in event or []],
            repeat=repeat,
            geoip_dir=geoip_dir,
            probe=not no_probe,
            history=history,
            history_since=parse_when(history_since or since, option="--history-since")
            if (history_since or since)
            else None,
            on_step=lambda message: err.print(message, style="fh.dim"),
        )
    print_json(result.to_dict()) if format_name == "json" else out.print(result)
    raise typer.Exit(ExitCode.SITE_FAILING if result.site_failing else ExitCode.OK)


@app.command()
def probe(
    spec: Annotated[
        Path | None, typer.Argument(help="A probe spec, e.g. probes/conversion-pixel.yaml.")
    ] = None,
    case: CaseOption = "",
    repeat: Annotated[int | None, typer.Option(help="Runs per configuration (overrides the spec).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Runs at a time (default: 4 per core).")] = None,
    budget_seconds: Annotated[float | None, typer.Option(help="Stop starting runs after this long.")] = None,
    url: Annotated[str | None, typer.Option(help="Probe this site instead of the spec's url.")] = None,
    edge_ips: Annotated[str | None, typer.Option(help="Edges to pin to: IP,IP,... or hostnames.")] = None,
    resolver: Annotated[
        list[str] | None, typer.Option(help="Find edges via this DNS resolver, IP[:PORT] (repeatable).")
    ] = None,
    customer: Annotated[
        list[str] | None, typer.Option(help="The customer's configuration, KEY=VALUE (repeatable).")
    ] = None,
    freshness: Annotated[
        list[str] | None, typer.Option(help="Compare this asset URL across edges (repeatable).")
    ] = None,
    origin: Annotated[
        str | None, typer.Option(help="Origin base URL (for --freshness and equals_origin checks).")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="Append the round to this run store (folder or s3://...); --case is then optional."
        ),
    ] = None,
    location: LocationOption = None,
    s3_endpoint: S3EndpointOption = None,
    format_name: FormatOption = "text",
) -> None:
    """Run a probe spec across its configuration matrix, pinned to each CDN edge."""
    from flakehunt.case import open_case
    from flakehunt.probe import check_freshness, load_spec, run_probe
    from flakehunt.watch.rounds import probe_into_store

    with user_errors():
        edges = [e.strip() for e in edge_ips.split(",") if e.strip()] if edge_ips else None
        if freshness:
            report = check_freshness(freshness, edge_ips=edges or [], resolvers=resolver, origin=origin)
            out.print(report) if format_name != "json" else print_json(report.to_dict())
            raise typer.Exit(ExitCode.SITE_FAILING if report.stale else ExitCode.OK)
        if spec is None or not (case or store):
            raise FlakehuntError(
                "probe needs a SPEC and --case or --store (or --freshness URL); see 'flakehunt probe --help'"
            )
        wanted = dict(item.partition("=")[::2] for item in customer or [])
        with progress_to_stderr("probing", enabled=format_name != "json") as on_progress:
            options = dict(
                repeat=repeat,
                concurrency=concurrency,
                budget_seconds=budget_seconds,
                url=url,
                edge_ips=edges,
                resolvers=resolver,
                customer=wanted or None,
                origin=origin,
                on_progress=on_progress,
            )
            if store:
                result = probe_into_store(
                    spec,
                    store=store,
                    location=location,
                    endpoint=s3_endpoint,
                    case=open_case(case) if case else None,
                    **options,
                )
            else:
                result = run_probe(load_spec(spec), case=open_case(case), **options)
    out.print(result) if format_name != "json" else print_json(result.to_dict())
    raise typer.Exit(ExitCode.SITE_FAILING if result.failed else ExitCode.OK)


@app.command()
def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Log or HAR files, folders, globs, named pipes, or - for stdin.")
    ],
    case: CaseOption,
    format_name: Annotated[
        str | None, typer.Option("--format", help="Skip detection; see 'flakehunt formats'.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Keep exchanges from this time on (ISO 8601, or an age like 24h).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Keep exchanges before this time.")] = None,
    host: Annotated[str | None, typer.Option(help="Keep only exchanges for this Host.")] = None,
    nginx_format: Annotated[
        str | None,
        typer.Option("--nginx-format", help="An nginx log_format string to build the parser from."),
    ] = None,
    fields: Annotated[
        str | None, typer.Option(help="Field names in order, for W3C/TSV files without #Fields.")
    ] = None,
    mapping: Annotated[str | None, typer.Option("--map", help="column=key,... for JSON lines.")] = None,
    geoip_dir: Annotated[Path | None, typer.Option(help="Folder with MaxMind .mmdb files.")] = None,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """
    Parse and normalize logs or HAR files into a case.

    A folder's or glob's files in no known log format (a README) are skipped and listed, and a
    broken HAR among them is named; when no file could be read at all, that is an error (exit 2).
    Subfolders that cannot be read, links to folders (not followed) and links to nothing are
    named in a note. The same content is added once, whatever its name or compression; read
    again with other options (a wider --since), only the lines not yet in the case are added.
    """
    from flakehunt.case import case_exists, discard_if_unused, open_case
    from flakehunt.ingest import ingest_paths
    from flakehunt.timeparse import parse_window

    with user_errors(), progress_to_stderr("ingesting", enabled=output == "text", unit="bytes") as progress:
        start, end = parse_window(since, until)
        new_case = not case_exists(case)
        target = open_case(case)
        try:
            summary = ingest_paths(
                paths,
                case=target,
                format_name=format_name,
                since=start,
                until=end,
                host=host,
                nginx_format=nginx_format,
                fields=fields,
                mapping=mapping,
                geoip_dir=geoip_dir,
                on_progress=progress,
            )
        except FlakehuntError:
            if new_case:  # a typo in a path should not leave a case in 'flakehunt case list'
                discard_if_unused(target)
            raise
    if output == "json":
        print_json(summary.to_dict())
    else:
        out.print(summary)


@app.command()
def formats(
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """The log formats flakehunt reads, with the fields each provides."""
    from flakehunt.formats import describe_formats

    with user_errors():
        listing = describe_formats()
    if output == "json":
        print_json(listing.to_dict())
    else:
        out.print(listing)


@app.command()
def correlate(
    case: CaseOption = "",
    store: ReadStoreOption = None,
    s3_endpoint: S3EndpointOption = None,
    failure: Annotated[
        str | None, typer.Option(help='SQL predicate marking a failed exchange, e.g. "status >= 500".')
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option(help="Expected sequence: \"path = '/checkout' -> path LIKE '/pixel.gif%' within 30s\"."),
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(help="A time and a label, e.g. '2026-11-20T10:00Z deploy v42'; repeatable."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601, or an age like 24h).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time.")] = None,
    format_name: FormatOption = "text",
) -> None:
    """Label failures, explain them by dimension, print ranked hypotheses."""
    from flakehunt.correlate import correlate_case
    from flakehunt.timeparse import parse_event, parse_window

    with user_errors():
        window = dict(zip(("since", "until"), parse_window(since, until), strict=True))
        result = correlate_case(
            _case_or_store(case, store, s3_endpoint, **window),
            failure=failure,
            expect=expect,
            events=[parse_event(text) for text in event or []],
            **window,
        )
    if format_name == "json":
        print_json(result.to_dict())
    else:
        out.print(result)


def _case_or_store(case: str, store: str | None, endpoint: str | None, **window: Any):
    """The case named by --case, or the case-like view of a run store's rounds (--store)."""
    from flakehunt.case import open_case

    if bool(case) == bool(store):
        raise FlakehuntError("give either --case ID or --store URI (a run store of scheduled probes)")
    if store:
        from flakehunt.watch.history import store_case

        return store_case(store, endpoint=endpoint, **window)
    return open_case(case, create=False)


@app.command()
def report(
    case: CaseOption = "",
    store: ReadStoreOption = None,
    s3_endpoint: S3EndpointOption = None,
    since: Annotated[
        str | None, typer.Option(help="With --store: rounds from this time (ISO 8601, or an age like 24h).")
    ] = None,
    audience: Annotated[str, typer.Option(help="customer, engineer or exec.")] = "engineer",
    format_name: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md",
    redact: Annotated[
        bool, typer.Option("--redact/--no-redact", help="Remove IPs, cookies, tokens, emails (default on).")
    ] = True,
    output: Annotated[
        str | None, typer.Option(help="Write here instead of the case's reports/ folder; - for stdout.")
    ] = None,
) -> None:
    """Render the case's report for an audience."""
    from flakehunt.report import render_report
    from flakehunt.timeparse import parse_when

    with user_errors():
        start = parse_when(since, option="--since") if since else None
        rendered = render_report(
            _case_or_store(case, store, s3_endpoint, since=start),
            audience=audience,
            format_name=format_name,
            redact=redact,
            output=output,
        )
    if rendered.path is None:
        typer.echo(rendered.text, nl=False)
    else:
        out.print(rendered)


@app.command()
def watch(
    spec: Annotated[Path, typer.Argument(help="A probe spec.")],
    every: Annotated[str, typer.Option(help="Interval, e.g. 15m.")] = "15m",
    jitter: Annotated[str, typer.Option(help="Random delay per round: 20% of --every, or e.g. 30s.")] = "0",
    duration: Annotated[
        str | None, typer.Option("--for", help="Stop after e.g. 6h (default: never).")
    ] = None,
    store: StoreOption = ".flakehunt/store",
    location: LocationOption = None,
    s3_endpoint: S3EndpointOption = None,
    notify: Annotated[str | None, typer.Option(help="Slack-compatible webhook URL for alerts.")] = None,
) -> None:
    """Scheduled probing: run, append, alert when a failure rate changes. Exit 1 if still alerting."""
    from flakehunt.watch.rounds import watch_spec

    with user_errors():
        summary = watch_spec(
            spec,
            every=every,
            jitter=jitter,
            duration=duration,
            store=store,
            location=location,
            s3_endpoint=s3_endpoint,
            notify_url=notify,
            on_alert=typer.echo,
            on_notify_error=lambda exc: err.print(f"flakehunt: warning: {exc}", markup=False),
            on_round=lambda r: err.print(
                f"round {r.number + 1}: {r.failures}/{r.runs} failed", style="fh.dim"
            ),
        )
    err.print(str(summary), style="fh.dim")
    raise typer.Exit(ExitCode.SITE_FAILING if summary.alerting else ExitCode.OK)


@app.command()
def schedule(
    spec: Annotated[Path, typer.Argument(help="A probe spec.")],
    every: Annotated[str, typer.Option(help="Interval, e.g. 15m.")] = "15m",
    emit: Annotated[str, typer.Option(help="cron, systemd, kubernetes or github-actions.")] = "cron",
    store: Annotated[str | None, typer.Option(help="Run store (default ./.flakehunt/store).")] = None,
    location: LocationOption = None,
    s3_endpoint: S3EndpointOption = None,
    image: Annotated[str, typer.Option(help="Kubernetes: an image with flakehunt and browsers.")] = (
        "flakehunt:latest"
    ),
) -> None:
    """Emit the scheduler config (cron, systemd, Kubernetes, GitHub Actions) that runs the probes."""
    from flakehunt.watch import emit_schedule, parse_interval

    with user_errors():
        text = emit_schedule(
            spec,
            every=parse_interval(every),
            emit=emit,
            store=store,
            location=location,
            s3_endpoint=s3_endpoint,
            executable=_own_executable(),
            image=image,
        )
    typer.echo(text, nl=False)  # not Rich: it would read [Unit] as markup


def _own_executable() -> list[str]:
    """How cron and systemd should start this flakehunt (they do not read the shell's PATH)."""
    import shutil

    found = shutil.which("flakehunt") or shutil.which("flakehunt", path=str(Path(sys.executable).parent))
    return [str(Path(found).absolute())] if found else [sys.executable, "-m", "flakehunt"]


@store_app.command("compact")
def store_compact(
    store: StoreOption,
    s3_endpoint: S3EndpointOption = None,
    grace: Annotated[str, typer.Option(help="Keep replaced files this long for running queries.")] = "1h",
    format_name: FormatOption = "text",
) -> None:
    """Merge a run store's small files into one, without changing what queries return."""
    from datetime import timedelta

    from flakehunt.watch import open_store, parse_interval

    with user_errors():
        keep = timedelta(0) if grace.strip() == "0" else parse_interval(grace, option="--grace")
        summary = open_store(store, endpoint=s3_endpoint).compact(grace=keep)
    if format_name == "json":
        print_json(summary.to_dict())
    else:
        out.print(str(summary), markup=False)


@case_app.command("list")
def case_list() -> None:
    """List the cases."""
    from flakehunt.case import describe_cases

    out.print(describe_cases())


@case_app.command("show")
def case_show(case_id: Annotated[str, typer.Argument(help="Case id.")]) -> None:
    """Print a case's story so far: what was reported and every action taken."""
    from flakehunt.case import open_case, story

    with user_errors():
        out.print(story(open_case(case_id, create=False)))


@case_app.command("rejects")
def case_rejects(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    file: Annotated[str | None, typer.Option(help="Only files whose path contains this.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only reasons that contain this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many lines (0: all).")] = 20,
    format_name: FormatOption = "text",
) -> None:
    """The log lines ingest rejected, with file, line number, reason and text."""
    from flakehunt.case import open_case
    from flakehunt.ingest.rejects import rejected_lines

    with user_errors():
        rejects = rejected_lines(open_case(case_id, create=False), file=file, reason=reason, limit=limit)
    if format_name == "json":
        print_json(rejects.to_dict())
    else:
        out.print(rejects)


@case_app.command("note")
def case_note(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    text: Annotated[str, typer.Argument(help="The note, e.g. 'customer confirmed it happens on the VPN'.")],
    author: Annotated[str | None, typer.Option(help="Who writes it (default: the OS user).")] = None,
) -> None:
    """Add a human note to a case's journal."""
    from flakehunt.case import open_case, record

    with user_errors():
        if not text.strip():
            raise FlakehuntError("the note is empty; say what you learned")
        record(open_case(case_id, create=False), "note", params={"text": text}, outcome=text, author=author)


# -- the simulated world and the environment ----------------------------------------------------


@app.command()
def demo(
    edges: Annotated[int, typer.Option(help="How many simulated edges.")] = 6,
    visitors: Annotated[int, typer.Option(help="Simulated customers in the logs before probing.")] = 300,
) -> None:
    """The whole job against a bundled simulated CDN with a stale edge, no setup needed."""
    from flakehunt.demo import run_demo

    with user_errors():
        result = run_demo(
            edges=edges, visitors=visitors, on_progress=lambda line: err.print(line, style="fh.dim")
        )
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
            typer.echo(f"{name}\t{preset_def.description}")
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
    # The signal handlers are launch.py's (stops.py); commands that stop cleanly on their own
    # (sim, watch) replace them while they run.
    app()
