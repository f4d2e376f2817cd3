"""`anfl`: what people do outside the Dagster UI.

Commands are stable; scripts and tests drive the product through them. `anfl
run` executes the same `scan_project` job the UI launches, in-process, against
the same Dagster instance under ANFL_HOME, so runs show up in the UI too.
Errors print one line and exit non-zero; `--debug` shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import click

from anfl_assets.domain.vectors import INDEXES, LEVELS
from anfl_assets.settings import Settings


# Dagster's own event log stays in the instance (and the UI); the terminal gets a summary.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class CliError(click.ClickException):
    """An expected failure: one line, exit code 1."""


def _settings() -> Settings:
    settings = Settings.from_env()
    settings.ensure_dirs()
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    return settings


def _warehouse(settings: Settings):
    from anfl_assets.domain.warehouse import Warehouse

    return Warehouse(settings.warehouse_file, settings.lock_timeout_s)


def _instance():
    from dagster import DagsterInstance

    return DagsterInstance.get()


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """ANFL: inventory and take care of a project estate."""
    ctx.obj = {"debug": debug}


@cli.command("demo-estate")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--seed", default=7, show_default=True, help="Same seed, same bytes.")
def demo_estate(directory: Path, seed: int) -> None:
    """Write the sample AeonNovaProject estate (and ground_truth.json) under DIRECTORY."""
    from anfl_assets.domain.demo_estate import write_demo_estate

    try:
        truth = write_demo_estate(directory, seed=seed)
    except FileExistsError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"wrote {truth['files']} files ({truth['bytes']:,} bytes) to "
               f"{(directory / 'AeonNovaProject').resolve()}; ground truth in {directory / 'ground_truth.json'}")


@cli.group()
def project() -> None:
    """Register and list projects (each one is a Dagster partition)."""


@project.command("add")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
def project_add(name: str, path: Path) -> None:
    """Register project NAME rooted at PATH."""
    from anfl_assets.domain.projects import ProjectError, register_project

    settings = _settings()
    try:
        proj, created = register_project(_warehouse(settings), name, path)
    except ProjectError as exc:
        raise CliError(str(exc)) from exc
    instance = _instance()
    if not instance.has_dynamic_partition("projects", name):
        instance.add_dynamic_partitions("projects", [name])
    verb = "registered" if created else "already registered"
    click.echo(f"{verb} {proj.name} -> {proj.root}" + (" (git)" if proj.is_git else ""))


@project.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def project_list(as_json: bool) -> None:
    """List registered projects."""
    from anfl_assets.domain.projects import list_projects

    projects = list_projects(_warehouse(_settings()))
    if as_json:
        click.echo(json.dumps([{"name": p.name, "root": str(p.root), "is_git": p.is_git,
                                "added_at": p.added_at} for p in projects], default=_json_default))
        return
    _print_table(["name", "root", "is_git", "added_at"],
                 [(p.name, str(p.root), p.is_git, p.added_at) for p in projects])


@cli.command("run")
@click.argument("project_name", required=False)
@click.option("--select", "selection", default=None,
              help="Comma-separated asset names (default: every asset).")
def run(project_name: str | None, selection: str | None) -> None:
    """Materialize assets for PROJECT (default: every registered project), in-process."""
    from anfl_assets.domain import progress
    from anfl_assets.domain.projects import get_project, list_projects

    settings = _settings()
    wh = _warehouse(settings)
    names = [get_project(wh, project_name).name] if project_name else [p.name for p in list_projects(wh)]
    if not names:
        raise CliError("no projects registered; add one with `anfl project add NAME PATH`")
    from dagster import AssetCheckSeverity, AssetKey

    from anfl_assets.definitions import make_definitions

    defs = make_definitions(settings)
    job = defs.resolve_job_def("scan_project")
    asset_selection = None
    if selection:
        known = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
        wanted = [s.strip() for s in selection.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise CliError(f"unknown asset(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        asset_selection = [AssetKey.from_user_string(s) for s in wanted]
    instance = _instance()
    failed = []
    for name in names:
        if not instance.has_dynamic_partition("projects", name):
            instance.add_dynamic_partitions("projects", [name])
        with _progress_bar(name) as sink:
            progress.set_sink(sink)
            try:
                result = job.execute_in_process(partition_key=name, instance=instance,
                                                asset_selection=asset_selection, raise_on_error=False,
                                                run_config=QUIET_RUN_CONFIG,
                                                tags={"anfl/launched_by": "cli"})
            finally:
                progress.set_sink(None)
        checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
        failing = [e.event_specific_data for e in checks if not e.event_specific_data.passed]
        warned = [c.asset_check_key.name for c in failing if c.severity == AssetCheckSeverity.WARN]
        failed_checks = [c.asset_check_key.name for c in failing if c.severity != AssetCheckSeverity.WARN]
        if result.success:
            click.echo(f"{name}: materialized {len(result.get_asset_materialization_events())} asset(s), "
                       f"{len(checks) - len(failing)}/{len(checks)} checks passed"
                       + (f" (warning: {', '.join(warned)})" if warned else "")
                       + (f" (failed: {', '.join(failed_checks)})" if failed_checks else "")
                       + f"; run {result.run_id}")
        else:
            errors = [e.message for e in result.all_events if e.is_failure]
            failed.append(name)
            click.echo(f"{name}: run {result.run_id} failed: {errors[-1] if errors else 'see the Dagster UI'}",
                       err=True)
    if failed:
        raise CliError(f"{len(failed)} project(s) failed: {', '.join(failed)}")


@cli.command("sql")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of row objects.")
def sql(query: str, as_json: bool) -> None:
    """Run QUERY on the warehouse (read-only) and print the result."""
    import duckdb

    wh = _warehouse(_settings())
    try:
        table = wh.query(query)
    except duckdb.Error as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    rows = table.to_pylist()
    if as_json:
        click.echo(json.dumps(rows, default=_json_default))
    else:
        _print_table(table.column_names, [tuple(r.values()) for r in rows])


@cli.command("findings")
@click.argument("project_name")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "sarif"]), default="table", show_default=True,
              help="sarif: SARIF 2.1.0, validated against its schema; json: every stored field.")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None, help="Write to a file, not stdout.")
@click.option("--include-suppressed/--unsuppressed-only", default=True, show_default=True,
              help="Suppressed findings carry their justification; leave them out with --unsuppressed-only.")
def findings(project_name: str, fmt: str, output: Path | None, include_suppressed: bool) -> None:
    """Security findings of PROJECT (secrets redacted, never their values)."""
    from anfl_assets.domain.projects import get_project
    from anfl_assets.domain.security.export import ExportError, load_findings, to_json, to_sarif

    wh = _warehouse(_settings())
    try:
        rows = load_findings(wh, project_name, include_suppressed)
        if fmt == "sarif":
            text = to_sarif(project_name, str(get_project(wh, project_name).root), rows)
        elif fmt == "json":
            text = to_json(project_name, rows)
        else:
            text = None
    except ExportError as exc:
        raise CliError(str(exc)) from exc
    if text is None:
        _print_table(["severity", "rule", "path", "line", "where", "redacted", "fingerprint", "suppressed"],
                     [(r["severity"], r["rule"], r["path"], r["line"],
                       f"commit {r['sha'][:12]}" if r["sha"] else r["location"], r["redacted"] or "",
                       r["fingerprint"], "yes" if r["suppressed"] else "") for r in rows])
    elif output is not None:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"{len(rows)} finding(s) written to {output}")
    else:
        click.echo(text)


@cli.command("search")
@click.argument("query")
@click.option("--index", "index_name", type=click.Choice([*INDEXES, "all"]), default="all",
              show_default=True)
@click.option("--project", "projects", multiple=True, help="Only these projects (repeatable); default: all.")
@click.option("--clearance", type=click.Choice(LEVELS), default=None,
              help="What you may see; default public (fail closed).")
@click.option("-k", "k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of results.")
def search(query: str, index_name: str, projects: tuple[str, ...], clearance: str | None, k: int, mode: str,
           as_json: bool) -> None:
    """Semantic + lexical search over the chunk indexes; secrets redacted, clearance enforced."""
    import getpass

    from anfl_assets.api import build_search_service
    from anfl_assets.domain.vectors.search import SearchError

    service = build_search_service(_settings())
    try:
        hits = service.search(query, indexes=None if index_name == "all" else [index_name],
                              projects=list(projects) or None, clearance=clearance, k=k,
                              caller=f"cli:{getpass.getuser()}", mode=mode)
    except SearchError as exc:
        raise CliError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in hits], default=_json_default))
        return
    _print_table(["score", "index", "project", "path", "lines", "sensitivity", "last author", "snippet"],
                 [(f"{h.score:.4f}", h.index, h.project, h.path, f"{h.start_line}-{h.end_line}", h.sensitivity,
                   h.last_author or "", " ".join(h.snippet.split())[:80]) for h in hits])


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """The search HTTP API: POST /search, GET /healthz, OpenAPI docs at /docs."""
    import uvicorn

    from anfl_assets.api import create_app

    uvicorn.run(create_app(_settings()), host=host, port=port, log_level="info")


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(soft_wrap=True).print(table)
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


class _progress_bar:
    """A rich progress bar fed by the domain's progress sink (stderr, only on a terminal)."""

    def __init__(self, label: str):
        self.label = label
        self.progress = None
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.progress.start()
        return self.report

    def report(self, phase: str, done: int, total: int | None) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(f"{self.label}: {phase}", total=total)
        self.progress.update(self.tasks[phase], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="anfl", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"anfl: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("anfl: aborted", err=True)
        return 130
    except Exception as exc:  # anything unexpected: one line unless --debug
        if debug:
            raise
        from anfl_assets.domain.projects import ProjectError

        kind = "error" if isinstance(exc, (ProjectError, OSError, ValueError)) else type(exc).__name__
        click.echo(f"anfl: {kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
