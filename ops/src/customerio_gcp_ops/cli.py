"""`customerio-gcp`: the operator's tool — dead letters, bulk user sync, pipeline status.

Works against Google Cloud (application default credentials) and against the local stack alike
(paste the export lines `make run ARGS=--keep-running` prints). Nothing personal is printed unless
asked for with --show-data. A failure is one line saying what is wrong and how to fix it (--debug
for the traceback). Every command with examples: docs/operations.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from click.exceptions import NoArgsIsHelpError

from customerio_gcp.messages.models import TopicKind
from customerio_gcp.pipeline import TOPIC_KINDS
from customerio_gcp_ops import dead_letters as dlq
from customerio_gcp_ops.errors import (
    PROG,
    SERVICES,
    CustomerIOTarget,
    OperatorError,
    OperatorUsageError,
    emulator_unreachable,
    explain,
    missing_secrets,
    one_line,
    reachable,
)
from customerio_gcp_ops.names import DEAD_LETTER_KINDS, Paths, dead_letter_paths, pipeline_paths

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | None) -> float | None:
    if value is None:
        return None
    match = DURATION.match(value.strip())
    if not match:
        raise click.BadParameter("use a number and a unit: 90s, 15m, 2h, 3d")
    return float(match.group(1)) * UNITS[match.group(2)]


def human_age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


class Context:
    """What every command shares. The project is resolved when a command needs it, so `--help`
    works anywhere without one."""

    def __init__(self, project: str | None, suffix: str, debug: bool = False) -> None:
        self._project = project or None
        self.suffix = suffix
        self.debug = debug
        # The command line is an entry point: like a function's main, it may read the environment.
        self.emulator = bool(os.environ.get("PUBSUB_EMULATOR_HOST"))
        self.customerio: CustomerIOTarget | None = None  # set by commands that call Customer.io

    @property
    def project(self) -> str:
        if self._project is None:
            raise OperatorUsageError(
                "no Google Cloud project given",
                "pass --project PROJECT (before the command) or export GOOGLE_CLOUD_PROJECT=PROJECT; "
                "`make run ARGS=--keep-running` prints the local stack's",
            )
        return self._project

    @property
    def has_project(self) -> bool:
        return self._project is not None

    @property
    def paths(self) -> dict[TopicKind, Paths]:
        return pipeline_paths(self.project, self.suffix)

    def selected(self, kinds: tuple[str, ...]) -> list[Paths]:
        """The dead-letter subscriptions of `kinds`; by default the three topics' only. Webhook
        dead letters are asked for by name: replayed, they reach both of the events topic's
        subscriptions again, which a routine `dlq replay` after an outage should not do."""
        paths = dead_letter_paths(self.project, self.suffix)
        return [paths[k] for k in (kinds or TOPIC_KINDS)]

    @staticmethod
    def require_reachable(service: str) -> None:
        """Fail at once, with the variable to fix, when an emulator that is set is not there
        (Google's clients would retry for a minute first)."""
        variable = SERVICES[service][1]
        host = os.environ.get(variable or "")
        if host and not reachable(host):
            raise emulator_unreachable(service)

    def subscriber(self) -> Any:
        from google.cloud import pubsub_v1

        _ = self.project  # the first thing to fix, before credentials or the emulator
        self.require_reachable("pubsub")
        return pubsub_v1.SubscriberClient()

    def publisher(self) -> Any:
        from google.cloud import pubsub_v1

        _ = self.project
        self.require_reachable("pubsub")
        return pubsub_v1.PublisherClient()


class OperatorCli(click.Group):
    """The root group: the one error boundary (see `customerio_gcp_ops.errors`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click's own handling (a closed pipe: `customerio-gcp dlq list | head`)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            target = ctx.obj.customerio if isinstance(ctx.obj, Context) else None
            raise explain(exc, target) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name or PROG, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(one_line(exc), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(f"{PROG}: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=OperatorCli, help=__doc__)
@click.option(
    "--project",
    envvar="GOOGLE_CLOUD_PROJECT",
    help="Google Cloud project [GOOGLE_CLOUD_PROJECT]; needed by every command that runs",
)
@click.option(
    "--suffix",
    envvar="CUSTOMERIO_GCP_SUFFIX",
    default="",
    hidden=True,
    help="resource name suffix (local stacks and tests) [CUSTOMERIO_GCP_SUFFIX]",
)
@click.option("--debug", is_flag=True, help="show the traceback of a failure instead of one line")
@click.pass_context
def cli(ctx: click.Context, project: str | None, suffix: str, debug: bool) -> None:
    ctx.obj = Context(project, suffix, debug)


def resend_approver() -> Callable[[Any], bool]:
    """Writes the operator's approval into each send's own send-once record (Firestore), which is
    what the transactional function checks; a message attribute could be set by any publisher."""
    from customerio_gcp.idempotency import IdempotencyGuard
    from customerio_gcp.messages.codec import decode
    from customerio_gcp.service import send_key
    from customerio_gcp.settings import Settings
    from customerio_gcp.wiring.stores import build_idempotency_store

    guard = IdempotencyGuard(build_idempotency_store(Settings.from_env()))

    def approve(letter: Any) -> bool:
        key = send_key(decode("transactional", letter.data))
        return key is not None and guard.approve_resend(key)

    return approve


# --- dead letters ---------------------------------------------------------------------------------


@cli.group(help="Inspect, replay and purge dead-lettered messages.")
def dlq_group() -> None:
    pass


cli.add_command(dlq_group, name="dlq")

kind_option = click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(DEAD_LETTER_KINDS),
    help="identify, track, transactional (the default: all three), or webhook-bigquery (rows BigQuery refused) "
    "or webhook-routing (events the application's subscription did not take); repeatable",
)
reason_option = click.option(
    "--reason", help="an error class (BadRequestError, RetriesExhausted…) or part of the reason"
)
id_option = click.option(
    "--message-id", "message_ids", multiple=True, help="a dead letter's or its original's message id"
)
older_option = click.option("--older-than", help="only dead letters older than this (e.g. 2h)")
newer_option = click.option("--newer-than", help="only dead letters newer than this (e.g. 1d)")


def filter_options(command: Any) -> Any:
    """The options that select dead letters, shared by show, replay and purge."""
    for option in (newer_option, older_option, id_option, reason_option, kind_option):
        command = option(command)
    return command


def filters_from(
    kinds: tuple[str, ...], reason: str | None, ids: tuple[str, ...], older: str | None, newer: str | None
) -> dlq.Filters:
    return dlq.Filters(frozenset(kinds), reason, frozenset(ids), parse_duration(older), parse_duration(newer))


@dlq_group.command("list", help="Dead letters grouped by reason: counts, oldest age, sample message ids.")
@kind_option
@click.pass_obj
def dlq_list(obj: Context, kinds: tuple[str, ...]) -> None:
    with dlq.leased(obj.subscriber(), obj.selected(kinds), emulator=obj.emulator) as letters:
        groups = letters.groups()
    if not groups:
        click.echo("no dead letters")
        return
    width = max(14, *(len(g.kind) + 2 for g in groups))
    click.echo(f"{'topic':<{width}}{'count':>6}  {'oldest':>7}  {'error class':<22}reason  [samples]")
    for g in groups:
        age = human_age(g.oldest_age_s)
        click.echo(f"{g.kind:<{width}}{g.count:>6}  {age:>7}  {g.error_class:<22}{g.reason}  [{', '.join(g.samples)}]")
    click.echo(f"total: {sum(g.count for g in groups)}")


@dlq_group.command("show", help="Each matching dead letter with its attributes; its data only with --show-data.")
@filter_options
@click.option("--show-data", is_flag=True, help="print message bodies (they hold personal data)")
@click.option("--limit", default=20, show_default=True)
@click.pass_obj
def dlq_show(
    obj: Context,
    kinds: tuple[str, ...],
    reason: str | None,
    message_ids: tuple[str, ...],
    older_than: str | None,
    newer_than: str | None,
    show_data: bool,
    limit: int,
) -> None:
    filters = filters_from(kinds, reason, message_ids, older_than, newer_than)
    now = datetime.now(UTC)
    with dlq.leased(obj.subscriber(), obj.selected(kinds), emulator=obj.emulator) as letters:
        matching = [letter for letter in letters.letters if filters.match(letter, now)]
    for letter in matching[:limit]:
        age = human_age(letter.age_s(now))
        click.echo(f"{letter.kind} {letter.message_id} (original {letter.original_message_id}), {age} old")
        click.echo(f"  {letter.error_class}: {letter.reason}")
        for key, value in sorted(letter.attributes.items()):
            if key not in ("dlq_reason", "dlq_error_class", dlq.DELIVERY_ERROR_ATTRIBUTE):  # in the reason
                click.echo(f"  {key} = {value}")
        data = letter.data.decode(errors="replace") if show_data else f"{len(letter.data)} bytes (--show-data to print)"
        click.echo(f"  data: {data}")
    click.echo(f"{len(matching)} matching" + (f", {limit} shown" if len(matching) > limit else ""))


@dlq_group.command(
    "replay", help="Re-publish matching dead letters to their source topic, acking each after its publish."
)
@filter_options
@click.option("--dry-run", is_flag=True, help="say what would be replayed, change nothing")
@click.option("--rate", type=float, default=20.0, show_default=True, help="messages per second")
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="approve sending again the sends whose outcome was unknown (OutcomeUnknownError): check Customer.io's "
    "delivery log first, as the email may already have gone out",
)
@click.pass_obj
def dlq_replay(
    obj: Context,
    kinds: tuple[str, ...],
    reason: str | None,
    message_ids: tuple[str, ...],
    older_than: str | None,
    newer_than: str | None,
    dry_run: bool,
    rate: float,
    resend_unknown: bool,
) -> None:
    from rich.console import Console
    from rich.progress import Progress

    filters = filters_from(kinds, reason, message_ids, older_than, newer_than)
    paths = {p.kind: p for p in obj.selected(kinds)}
    console = Console(stderr=True)  # a bar only on a terminal: in logs it is noise
    with (
        dlq.leased(obj.subscriber(), paths.values(), emulator=obj.emulator) as letters,
        Progress(transient=True, console=console, disable=not console.is_terminal) as progress,
    ):
        now = datetime.now(UTC)
        task = progress.add_task("replaying", total=sum(1 for letter in letters.letters if filters.match(letter, now)))
        report = dlq.replay(
            letters,
            obj.publisher(),
            {str(k): v for k, v in paths.items()},
            filters,
            dry_run=dry_run,
            rate_per_s=rate,
            progress=lambda _letter: progress.advance(task),
            approve_resend=resend_approver() if resend_unknown and not dry_run else None,
        )
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {len(report.replayed)}, left {report.skipped} in place, {len(report.failed)} failed to publish")
    if report.approved:
        click.echo(f"approved resending {len(report.approved)} send(s) whose outcome was unknown")
    elif report.unknown and not resend_unknown:
        click.echo("note: sends whose outcome was unknown will be dead-lettered again; after checking Customer.io's "
                   "delivery log, replay them with --resend-unknown")  # fmt: skip
    for original, error in report.failed:
        click.echo(f"  failed: {original} ({error}); it stays in its dead-letter subscription")
    if report.failed:
        sys.exit(1)


@dlq_group.command("purge", help="Acknowledge (delete) matching dead letters.")
@filter_options
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
def dlq_purge(
    obj: Context,
    kinds: tuple[str, ...],
    reason: str | None,
    message_ids: tuple[str, ...],
    older_than: str | None,
    newer_than: str | None,
    yes: bool,
) -> None:
    filters = filters_from(kinds, reason, message_ids, older_than, newer_than)
    with dlq.leased(obj.subscriber(), obj.selected(kinds), emulator=obj.emulator) as letters:
        now = datetime.now(UTC)
        count = sum(1 for letter in letters.letters if filters.match(letter, now))
        if count == 0:
            click.echo("nothing matches")
            return
        if not yes and not click.confirm(f"Delete {count} dead letter(s) for good?", default=False):
            click.echo("nothing purged")
            return
        click.echo(f"purged {dlq.purge(letters, filters)}")


# --- bulk user sync ---------------------------------------------------------------------------------


@cli.group(help="Bulk operations on people.")
def sync() -> None:
    pass


@sync.command("users", help="Sync users from a CSV/JSON-lines file or a SQL query with the repository rules.")
@click.argument("source", required=False)
@click.option("--sql-url", help="SQLAlchemy URL, e.g. postgresql://user@host/db or sqlite:///users.db")
@click.option("--query", help="SQL returning id, email, opted_out, deleted, updated_at and attribute columns")
@click.option(
    "--via",
    type=click.Choice(["batch", "pubsub"]),
    default="batch",
    show_default=True,
    help="batch: straight through Track v2 batches; pubsub: publish to the identify topic",
)
@click.option("--rate", type=float, default=100.0, show_default=True, help="requests per second (batch)")
@click.option("--checkpoint", type=click.Path(path_type=Path), help="progress file (default: SOURCE.checkpoint.json)")
@click.option("--rejects", type=click.Path(path_type=Path), help="rejected rows (default: SOURCE.rejects.csv)")
@click.option("--restart", is_flag=True, help="ignore an existing checkpoint")
@click.option(
    "--skip-unchanged/--no-skip-unchanged",
    default=True,
    show_default=True,
    help="do not send identifies Customer.io already has (batch)",
)
@click.pass_obj
def sync_users(
    obj: Context,
    source: str | None,
    sql_url: str | None,
    query: str | None,
    via: str,
    rate: float,
    checkpoint: Path | None,
    rejects: Path | None,
    restart: bool,
    skip_unchanged: bool,
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from customerio_gcp_ops import user_sync
    from customerio_gcp_ops.sources import InputError, open_source

    try:
        src = open_source(source, sql_url=sql_url, query=query)
    except InputError:
        raise
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    total = src.count()  # reads a file through once: a file that cannot be read fails here, before any send
    base = Path(source) if source else Path("sql-sync")
    if via == "pubsub":
        send = _sync_via_pubsub(obj)
    else:
        state = user_sync.Checkpoint.load(
            checkpoint or base.with_name(base.name + ".checkpoint.json"), src.fingerprint, restart=restart
        )
        send = _sync_via_batch(obj, state, rate=rate, skip_unchanged=skip_unchanged)
    rejects_path = rejects or base.with_name(base.name + ".rejects.csv")
    rejects_file = user_sync.Rejects(rejects_path)
    stop = user_sync.StopFlag()
    stop.install()
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f} rows/s"),
        TimeRemainingColumn(),
    ]
    console = Console(stderr=True)  # a bar only on a terminal: in logs it is noise
    with Progress(*columns, transient=True, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("syncing users", total=total, rate=0.0)

        def on_progress(report: user_sync.SyncReport) -> None:
            elapsed = max(1e-6, progress.tasks[task].elapsed or 1e-6)
            progress.update(task, completed=report.rows, rate=report.rows / elapsed)

        try:
            report = send(src, rejects_file, stop, on_progress)
        finally:
            rejects_file.close()
    click.echo(json.dumps(report.as_dict()))
    click.echo(
        f"{report.rows} rows, {report.operations} operations: {report.sent} sent in {report.requests} requests, "
        f"{report.skipped_unchanged} unchanged skipped, {report.rejected} rejected, {report.elapsed_s:.1f}s"
    )
    if report.rejected:
        click.echo(f"rejected rows (row number, user id, reason): {rejects_path}")
    if report.interrupted:
        click.echo("interrupted: run the same command again to resume from the checkpoint", err=True)
        sys.exit(130)


SyncRun = Callable[[Any, Any, Any, Callable[[Any], None]], Any]


def _settings() -> Any:
    from customerio_gcp.settings import Settings

    try:
        return Settings.from_env()
    except ValueError as exc:
        raise OperatorError(f"invalid setting: {exc}", "fix or unset that environment variable") from None


def _sync_via_pubsub(obj: Context) -> SyncRun:
    """Publish each user's messages to the identify topic (the pipeline delivers them)."""
    from customerio_gcp.publishing import Publisher
    from customerio_gcp_ops import user_sync

    topics = {k: p.topic.rsplit("/", 1)[1] for k, p in obj.paths.items()}
    obj.require_reachable("pubsub")
    publisher = Publisher(obj.project, topics=topics)

    def run(src: Any, rejects: Any, stop: Any, on_progress: Callable[[Any], None]) -> Any:
        return user_sync.via_pubsub(src, publisher, rejects=rejects, stop=stop, on_progress=on_progress)

    return run


def _sync_via_batch(obj: Context, state: Any, *, rate: float, skip_unchanged: bool) -> SyncRun:
    """Straight to Customer.io in Track v2 batches. Every setting is checked before the first row
    is sent: the Customer.io credentials, and the project and Firestore when unchanged identifies
    are skipped."""
    from customerio_gcp import secrets as names
    from customerio_gcp.people import AttributeHashes
    from customerio_gcp.wiring.clients import build_http_client, build_track_client
    from customerio_gcp.wiring.secret_cache import build_secrets, build_workspace
    from customerio_gcp.wiring.stores import build_hash_store
    from customerio_gcp_ops import user_sync

    settings = _settings()
    needed = [names.SITE_ID, names.TRACK_API_KEY]
    missing = [n for n in needed if n not in settings.secret_values and n not in settings.secret_ids]
    if missing:
        raise missing_secrets(missing)
    use_hashes = skip_unchanged and settings.identify_skip_unchanged
    firestore = use_hashes and settings.idempotency_backend == "firestore"
    if firestore or settings.secret_ids or obj.has_project:  # Firestore and Secret Manager need one
        settings = dataclasses.replace(settings, project=obj.project)
    if firestore:
        obj.require_reachable("firestore")
    url = settings.track_url or settings.region.track_url
    obj.customerio = CustomerIOTarget("Track API", url, ("CIO_SITE_ID", "CIO_TRACK_API_KEY"))
    secrets = build_secrets(settings)
    track = build_track_client(settings, secrets, build_http_client(settings))
    synced = AttributeHashes(build_hash_store(settings), build_workspace(settings, secrets)) if use_hashes else None

    def run(src: Any, rejects: Any, stop: Any, on_progress: Callable[[Any], None]) -> Any:
        return user_sync.via_batch(
            src,
            track,
            checkpoint=state,
            rejects=rejects,
            rate_per_s=rate,
            synced=synced,
            stop=stop,
            on_progress=on_progress,
        )

    return run


# --- status ---------------------------------------------------------------------------------------


@cli.group(help="Reporting webhooks: what webhook-ingest quarantined.")
def webhooks() -> None:
    pass


@webhooks.command(
    "reprocess",
    help="Re-judge quarantined webhook content with today's code (after a schema fix); publish the events that "
    "now pass to the events topic and acknowledge them. What still fails stays quarantined.",
)
@click.option("--dry-run", is_flag=True, help="say what would pass, publish nothing, keep everything")
@click.option(
    "--personal-data",
    type=click.Choice(["hash", "keep", "drop"]),
    envvar="WEBHOOK_PERSONAL_DATA",
    required=True,
    help="what webhook-ingest does with recipients and emails, exactly as deployed (Terraform "
    "webhook.personal_data): the events published are stored under it [WEBHOOK_PERSONAL_DATA]",
)
@click.pass_obj
def webhooks_reprocess(obj: Context, dry_run: bool, personal_data: str) -> None:
    from customerio_gcp.pipeline import load
    from customerio_gcp.webhooks.rows import PersonalData
    from customerio_gcp_ops.quarantine import reprocess

    names = load().webhook
    project, suffix = obj.project, obj.suffix
    report = reprocess(
        obj.subscriber(),
        obj.publisher(),
        f"projects/{project}/subscriptions/{names.quarantine_subscription}{suffix}",
        f"projects/{project}/topics/{names.events_topic}{suffix}",
        PersonalData(personal_data),
        dry_run=dry_run,
    )
    verb = "would publish" if dry_run else "published"
    click.echo(f"{report.pieces} quarantined piece(s): {verb} {report.events} event(s) (personal data: "
               f"{personal_data}); {report.still_quarantined} still fail and stay quarantined")  # fmt: skip
    for reason, count in sorted(report.reasons.items()):
        click.echo(f"  still failing: {reason} ({count})")


@cli.command(
    help="Topics, subscriptions (the webhook events topic's too), backlogs and dead letters; "
    "last hour's counts from Cloud Monitoring."
)
@click.pass_obj
def status(obj: Context) -> None:
    from customerio_gcp_ops.status import collect

    paths = dead_letter_paths(obj.project, obj.suffix)  # the project first: nothing below works without one
    monitoring = None
    if not obj.emulator:
        try:
            from google.cloud import monitoring_v3

            monitoring = monitoring_v3.MetricServiceClient()
        except Exception as exc:  # no credentials, no API: show what Pub/Sub can tell
            click.echo(f"Cloud Monitoring not reachable ({type(exc).__name__}): backlog and counts unavailable")
    else:
        click.echo("emulator: backlog, message age and counts come from Cloud Monitoring and are not shown")
    statuses = collect(paths, obj.publisher(), obj.subscriber(), monitoring, obj.project, emulator=obj.emulator)
    width = max(len(s.kind) for s in statuses) + 2
    for s in statuses:
        if not s.topic_exists or not s.access:
            click.echo(f"{s.kind:<{width}} " + ("topic missing" if not s.topic_exists else "no access to the topic"))
            continue

        def show(value: object) -> str:
            return "n/a" if value is None else str(value)

        age = human_age(s.oldest_unacked_s) if s.oldest_unacked_s is not None else "n/a"
        click.echo(
            f"{s.kind:<{width}} "
            + (f"push→{s.push_endpoint or '?'}  " if s.subscription_exists else "subscription missing  ")
            + f"attempts {show(s.max_delivery_attempts)}  "
            f"backoff {show(s.backoff)}  "
            f"backlog {show(s.backlog)}  oldest {age}  dead letters {show(s.dead_letters)}  "
            f"last hour: delivered {show(s.delivered_last_hour)}, failed {show(s.failed_last_hour)}"
        )


def main() -> None:
    cli(prog_name=PROG)


if __name__ == "__main__":
    main()
