"""The command line's one error boundary: every expected failure becomes one line on stderr,
`customerio-gcp: error: <what is wrong> — <how to fix it>`, and an exit code (2 for a usage
error, 1 for anything else); never a traceback, unless `--debug` asks for it.

Messages never carry personal data: no row values, no message bodies, no exception text we did
not write or that Customer.io sent (that passes through `redact`). An unexpected exception is
named by its class and where it was raised, nothing more.
"""

from __future__ import annotations

import os
import re
import socket
import traceback
from dataclasses import dataclass

import click

from customerio_gcp import secrets as secret_names
from customerio_gcp.redaction import redact

PROG = "customerio-gcp"
LOCAL_STACK = "`make run ARGS=--keep-running` prints the local stack's"

# Each Customer.io secret and the variables it is read from (see customerio_gcp.settings).
SECRET_VARIABLES = {
    secret_names.SITE_ID: "CIO_SITE_ID",
    secret_names.TRACK_API_KEY: "CIO_TRACK_API_KEY",
    secret_names.APP_API_KEY: "CIO_APP_API_KEY",
    secret_names.WEBHOOK_SIGNING_KEY: "CIO_WEBHOOK_SIGNING_KEY",
    secret_names.WEBHOOK_SIGNING_KEY_NEXT: "CIO_WEBHOOK_SIGNING_KEY_NEXT",
}

# The Google services the command line talks to: the variable that points each at an emulator,
# and the module names its client's frames carry (to tell which one failed).
SERVICES = {
    "pubsub": ("Pub/Sub", "PUBSUB_EMULATOR_HOST", ("google.cloud.pubsub", "google.pubsub")),
    "firestore": ("Firestore", "FIRESTORE_EMULATOR_HOST", ("google.cloud.firestore", "customerio_gcp.people")),
    "secretmanager": ("Secret Manager", "SECRET_MANAGER_ENDPOINT", ("google.cloud.secretmanager",)),
    "monitoring": ("Cloud Monitoring", None, ("google.cloud.monitoring",)),
}


class OperatorError(click.ClickException):
    """An expected failure (exit code 1): what is wrong, and how to fix it."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


class OperatorUsageError(click.UsageError):
    """A usage error (exit code 2) that says how to fix it."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.fix = fix


@dataclass(frozen=True)
class CustomerIOTarget:
    """Which Customer.io API a command is calling, so a refusal can name the keys to check."""

    api: str  # "Track API" or "App API"
    url: str
    variables: tuple[str, ...]  # the settings that hold its credentials


def one_line(exc: click.ClickException) -> str:
    """`customerio-gcp: error: <what> — <fix>` for any click exception."""
    what = exc.format_message().strip().rstrip(".")
    fix = getattr(exc, "fix", None)
    if fix is None and isinstance(exc, click.UsageError):
        path = exc.ctx.command_path if exc.ctx is not None else PROG
        fix = f"see '{path} --help'"
    line = f"{PROG}: error: {what}" + (f" — {fix}" if fix else "")
    return " ".join(line.split())  # one line, whatever the parts held


def secret_variables(name: str) -> str:
    variable = SECRET_VARIABLES.get(name, f"CIO_{name.upper()}")
    return f"{variable} (the value) or {variable}_SECRET (a Secret Manager secret id)"


def missing_secrets(names: list[str]) -> OperatorError:
    settings = " and ".join(SECRET_VARIABLES.get(n, n) for n in names)
    return OperatorError(
        f"Customer.io setting{'s' if len(names) > 1 else ''} {settings} not configured",
        "export " + "; ".join(secret_variables(n) for n in names) + f" ({LOCAL_STACK})",
    )


def reachable(host_port: str, timeout: float = 2.0) -> bool:
    """Whether something listens at `host:port` (an emulator's address)."""
    host, _, port = host_port.rpartition(":")
    host = host.strip("[]") or "localhost"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def emulator_unreachable(service: str) -> OperatorError:
    name, variable, _modules = SERVICES[service]
    assert variable is not None
    host = os.environ.get(variable, "")
    return OperatorError(
        f"cannot reach the {name} emulator at {host} ({variable})",
        f"start the local stack (make run ARGS=--keep-running) and export the {variable} it prints, "
        f"or unset {variable} to use Google Cloud",
    )


def explain(exc: BaseException, target: CustomerIOTarget | None = None) -> OperatorError:
    """The one line for any exception a command let through."""
    for explainer in (_inputs, _customerio, _secrets, _google, _database, _files):
        found = explainer(exc, target)
        if found is not None:
            return found
    return unexpected(exc)


def unexpected(exc: BaseException) -> OperatorError:
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" at {os.path.basename(last.filename)}:{last.lineno}"
    return OperatorError(
        f"unexpected {type(exc).__name__}{where}", "run with --debug for the traceback (and report it if it is a bug)"
    )


# --- by origin ------------------------------------------------------------------------------------


def _inputs(exc: BaseException, _target: CustomerIOTarget | None) -> OperatorError | None:
    from customerio_gcp_ops.sources import InputError

    if isinstance(exc, InputError):
        return OperatorError(exc.what, exc.fix)
    return None


def _customerio(exc: BaseException, target: CustomerIOTarget | None) -> OperatorError | None:
    from customerio_gcp.customerio import errors

    if not isinstance(exc, errors.CustomerIOError):
        return None
    api = target.api if target else "Customer.io"
    keys = " and ".join(target.variables) if target else "CIO_SITE_ID, CIO_TRACK_API_KEY or CIO_APP_API_KEY"
    status = f"HTTP {exc.status}" if exc.status else exc.error_class
    if isinstance(exc, errors.AuthenticationError):
        return OperatorError(
            f"Customer.io refused the {api} credentials ({status})",
            f"check {keys} (or their *_SECRET): they must be the workspace's {api} key"
            f"{'s' if target and len(target.variables) > 1 else ''}, and CIO_REGION its region",
        )
    if isinstance(exc, errors.ForbiddenError):
        return OperatorError(
            f"Customer.io forbids this {api} call ({status}: {redact(exc.reason)})",
            f"check that {keys} belong to a workspace that may send (approved, not in 'do not send')",
        )
    if isinstance(exc, errors.RegionMismatchError):
        return OperatorError(
            f"Customer.io answered from another region ({redact(exc.reason)})",
            "set CIO_REGION to the workspace's region (us or eu), and unset CIO_TRACK_URL/CIO_APP_URL",
        )
    if isinstance(exc, errors.ConnectionFailedError | errors.RequestTimeoutError):
        where = f" at {target.url}" if target else ""
        variable = "CIO_APP_URL" if target and target.api == "App API" else "CIO_TRACK_URL"
        return OperatorError(
            f"{redact(exc.reason)}{where}",
            f"check the network, or {variable} (unset it to use CIO_REGION's host; "
            f"the local stack's is what `make run ARGS=--keep-running` prints)",
        )
    if isinstance(exc, errors.RateLimitedError):
        return OperatorError(
            f"Customer.io keeps answering 429 ({redact(exc.reason)})",
            "lower --rate and run the same command again (it resumes from its checkpoint)",
        )
    if isinstance(exc, errors.ServerError):
        return OperatorError(
            f"Customer.io failed ({status}: {redact(exc.reason)})",
            "try again later: the same command resumes from its checkpoint",
        )
    return OperatorError(
        f"Customer.io refused the request ({status}: {redact(exc.reason)})",
        "see docs/operations.md; run with --debug for the traceback",
    )


def _secrets(exc: BaseException, _target: CustomerIOTarget | None) -> OperatorError | None:
    from customerio_gcp.secrets import SecretNotConfiguredError

    if not isinstance(exc, SecretNotConfiguredError):
        return None
    # The runtime names the secret in its message: "secret 'site_id' has no configured source".
    text = str(exc)
    name = next((n for n in SECRET_VARIABLES if f"'{n}'" in text), None)
    return missing_secrets([name] if name else list(SECRET_VARIABLES)[:3])


def _google(exc: BaseException, _target: CustomerIOTarget | None) -> OperatorError | None:
    module = type(exc).__module__
    if module.startswith("google.auth"):
        from google.auth import exceptions as auth

        if isinstance(exc, auth.DefaultCredentialsError):
            return OperatorError(
                "no Google Cloud credentials found",
                "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS); "
                f"for the local stack export PUBSUB_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST ({LOCAL_STACK})",
            )
        if isinstance(exc, auth.RefreshError | auth.TransportError):
            return OperatorError(
                f"Google Cloud credentials could not be used ({type(exc).__name__})",
                "run `gcloud auth application-default login` again, and check the network",
            )
        return None
    service = _service_of(exc)
    name, variable, _modules = SERVICES.get(service or "", ("Google Cloud", None, ()))
    if module.startswith("google.api_core"):
        from google.api_core import exceptions as api

        if isinstance(exc, api.RetryError) and isinstance(exc.cause, BaseException):
            found = _google(exc.cause, _target)
            if found is not None:
                return found
        if isinstance(exc, api.ServiceUnavailable | api.DeadlineExceeded | api.RetryError):
            return _unreachable(name, variable, type(exc).__name__)
        if isinstance(exc, api.NotFound) and service == "secretmanager":
            return OperatorError(
                f"{name}: {_google_message(exc)}",
                "check the CIO_*_SECRET ids (a secret id, or projects/…/secrets/…) and that the secret "
                "has an enabled version in --project",
            )
        if isinstance(exc, api.NotFound):
            return OperatorError(
                f"{name}: {_google_message(exc)}",
                "check --project/GOOGLE_CLOUD_PROJECT and that the pipeline is deployed there "
                "(terraform apply, or make run ARGS=--keep-running locally)",
            )
        if isinstance(exc, api.PermissionDenied | api.Unauthenticated | api.Forbidden):
            return OperatorError(
                f"{name} refused the call: {_google_message(exc)}",
                "use an account with access to the project (gcloud auth application-default login), or check --project",
            )
        if isinstance(exc, api.GoogleAPICallError):
            return OperatorError(
                f"{name} failed: {_google_message(exc)}", "run with --debug for the traceback, and try again"
            )
        return None
    if module.startswith("grpc"):  # a raw gRPC error, not wrapped by google.api_core
        code = getattr(exc, "code", None)
        status = code() if callable(code) else None
        if getattr(status, "name", None) in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            return _unreachable(name, variable, str(getattr(status, "name", "")))
    return None


def _unreachable(name: str, variable: str | None, cause: str) -> OperatorError:
    host = os.environ.get(variable, "") if variable else ""
    if host:
        return OperatorError(
            f"cannot reach the {name} emulator at {host} ({variable}; {cause})",
            f"start the local stack (make run ARGS=--keep-running) and export the {variable} it prints, "
            f"or unset {variable} to use Google Cloud",
        )
    hint = f", or export {variable} to use an emulator" if variable else ""
    return OperatorError(f"cannot reach Google Cloud {name} ({cause})", f"check the network and try again{hint}")


EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[A-Za-z]{2,}")


def _google_message(exc: Exception) -> str:
    """Google's own text (resource names, hosts): emails masked, no `redact`, which would take
    an address such as 127.0.0.1 for a phone number."""
    text = (str(exc) or type(exc).__name__).splitlines()[0]
    text = EMAIL.sub("<email>", text)
    return text if len(text) <= 300 else text[:299] + "…"


def _service_of(exc: BaseException) -> str | None:
    """Which Google service's client raised `exc` (or the exception it wraps)."""
    seen: BaseException | None = exc
    while seen is not None:
        for frame in reversed(traceback.extract_tb(seen.__traceback__)):
            for service, (_name, _variable, modules) in SERVICES.items():
                if any(m.replace(".", os.sep) in frame.filename for m in modules):
                    return service
        seen = seen.__cause__ or seen.__context__
    return None


def _database(exc: BaseException, _target: CustomerIOTarget | None) -> OperatorError | None:
    if not type(exc).__module__.startswith("sqlalchemy"):
        return None
    from sqlalchemy import exc as sql

    if isinstance(exc, sql.NoSuchModuleError):
        return OperatorError(
            "--sql-url names a database driver that is not installed",
            "install the driver for that database (e.g. pip install psycopg for postgresql://)",
        )
    if isinstance(exc, sql.ArgumentError):
        return OperatorError(
            "--sql-url is not a database URL", "use a SQLAlchemy URL, e.g. postgresql://user@host/db or sqlite:///u.db"
        )
    if isinstance(exc, sql.DBAPIError):
        original = exc.orig if exc.orig is not None else exc
        return OperatorError(
            f"the database refused --query or --sql-url ({type(original).__name__}: "
            f"{redact(str(original).splitlines()[0] if str(original) else '')})",
            "check the URL, that the database is up, and run the query in its own client first",
        )
    return OperatorError(
        f"the database failed ({type(exc).__name__})", "check --sql-url and --query; run with --debug for details"
    )


def _files(exc: BaseException, _target: CustomerIOTarget | None) -> OperatorError | None:
    if isinstance(exc, OSError) and exc.filename is not None:
        return OperatorError(
            f"{exc.filename}: {exc.strerror or type(exc).__name__}", "check the path and its permissions"
        )
    return None
