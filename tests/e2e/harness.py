"""Helpers for the end-to-end suite: processes, peers and an HTTP client.

Everything here listens on or connects to 127.0.0.0/8 only.  Fixtures that use these
helpers live in conftest.py; tests import the classes from here.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import requests

REPO = Path(__file__).resolve().parents[2]
TAUBE_BIN = Path(os.environ.get("TAUBE_BIN") or REPO / "target" / "debug" / "taube")

# Generous: a debug build on 2 cores, sometimes next to a cargo build.
READY_TIMEOUT = 90.0
CLI_TIMEOUT = 90.0

# Logs of processes started by the current test (and long-lived ones), printed on failure.
PROCESS_LOGS: dict[str, Path] = {}



def terminate(proc: "subprocess.Popen | None") -> None:
    """SIGTERM a helper process, SIGKILL it if it does not exit within 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------- ports / waiting


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (and, for UDP, usually too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_port_on_all(hosts: Iterable[str]) -> int:
    """A port number that is free on every one of `hosts` (for MX tests on 127.0.0.2/3/4)."""
    hosts = list(hosts)
    for _ in range(200):
        port = free_port(hosts[0])
        ok = True
        for h in hosts[1:]:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError(f"no common free port on {hosts}")


def closed_port() -> int:
    """A port with nothing listening (connection refused)."""
    return free_port()


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25,
               desc: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; return that value.

    Exceptions raised by the predicate count as "not yet" and the last one is reported
    on timeout.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    last_val: Any = None
    while True:
        try:
            last_val = predicate()
            if last_val:
                return last_val
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - reported below
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f"; last error: {last_exc!r}" if last_exc else f"; last value: {last_val!r}"
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {desc}{extra}")
        time.sleep(interval)


def log_tail(path: Path, lines: int = 200) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- HTTP API client


class ApiError(AssertionError):
    pass


class Api:
    """Thin client for Taube's HTTP API.  `auth` is "bearer", "basic" or None."""

    def __init__(self, base: str, key: str | None = None, auth: str | None = "bearer"):
        self.base = base.rstrip("/")
        self.key = key
        self.auth = auth if key else None

    def with_key(self, key: str | None, auth: str | None = "bearer") -> "Api":
        return Api(self.base, key, auth)

    def _headers(self, extra: dict | None) -> dict:
        h = {}
        if self.auth == "bearer":
            h["Authorization"] = f"Bearer {self.key}"
        if extra:
            h.update(extra)
        return h

    def request(self, method: str, path: str, *, json: Any = None, data: Any = None,
                headers: dict | None = None, params: dict | None = None,
                timeout: float = 60.0) -> requests.Response:
        kwargs: dict[str, Any] = {"headers": self._headers(headers), "params": params,
                                  "timeout": timeout}
        if self.auth == "basic":
            kwargs["auth"] = ("api", self.key)
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        # a fresh connection per request: servers are restarted under our feet
        return requests.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    # -- conveniences that assert success

    def send(self, body: dict, headers: dict | None = None) -> dict:
        r = self.post("/v1/messages", json=body, headers=headers)
        if r.status_code != 202:
            raise ApiError(f"POST /v1/messages -> {r.status_code} {r.text}")
        return r.json()

    def message(self, message_id: str) -> dict:
        r = self.get(f"/v1/messages/{message_id}")
        if r.status_code != 200:
            raise ApiError(f"GET /v1/messages/{message_id} -> {r.status_code} {r.text}")
        return r.json()

    def events_page(self, **params) -> dict:
        r = self.get("/v1/events", params={k: v for k, v in params.items() if v is not None})
        if r.status_code != 200:
            raise ApiError(f"GET /v1/events {params} -> {r.status_code} {r.text}")
        return r.json()

    def events(self, **params) -> list[dict]:
        """All events matching `params`, following next_cursor (oldest first)."""
        out: list[dict] = []
        cursor = None
        for _ in range(10_000):
            page = self.events_page(**params, cursor=cursor)
            out.extend(page["events"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out
        raise ApiError("event pagination did not terminate")

    def bounces(self) -> list[dict]:
        r = self.get("/v1/suppressions/bounces")
        if r.status_code != 200:
            raise ApiError(f"GET /v1/suppressions/bounces -> {r.status_code} {r.text}")
        return r.json()["items"]

    def recipient_statuses(self, message_id: str) -> dict[str, str]:
        return {r["address"].lower(): r["status"] for r in self.message(message_id)["recipients"]}

    def wait_status(self, message_id: str, address: str, status: str | Iterable[str],
                    timeout: float = 60.0) -> dict:
        wanted = {status} if isinstance(status, str) else set(status)
        addr = address.lower()

        def check():
            for r in self.message(message_id)["recipients"]:
                if r["address"].lower() == addr and r["status"] in wanted:
                    return r
            return None

        return wait_until(check, timeout, desc=f"{address} of {message_id} to be {sorted(wanted)}")

    def wait_event(self, message_id: str, type_: str, recipient: str | None = None,
                   count: int = 1, timeout: float = 60.0) -> list[dict]:
        def check():
            evs = [e for e in self.events(message_id=message_id)
                   if e["type"] == type_
                   and (recipient is None or e["recipient"].lower() == recipient.lower())]
            return evs if len(evs) >= count else None

        return wait_until(check, timeout,
                          desc=f"{count} {type_} event(s) for {recipient or 'any'} of {message_id}")

    def metrics(self) -> dict[str, float]:
        r = requests.get(self.base + "/metrics", timeout=30)
        if r.status_code != 200:
            raise ApiError(f"GET /metrics -> {r.status_code}")
        return parse_prometheus(r.text)


_PROM_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_prometheus(text: str) -> dict[str, float]:
    """Map "name{label="v",...}" (labels sorted, as written) and bare "name" to values."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _PROM_LINE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if labels:
            pairs = sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels))
            labels = "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
        try:
            out[name + labels] = float(value)
        except ValueError:
            pass
    return out


def metric(metrics: dict[str, float], name: str, **labels: str) -> float:
    """Sum of all series of `name` whose labels include `labels` (0 when absent)."""
    total = 0.0
    for key, value in metrics.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


# --------------------------------------------------------------------------- taube process


class Taube:
    """One `taube` installation: a data dir, an environment, and at most one `serve`."""

    def __init__(self, workdir: Path, name: str = "taube", *, database_url: str | None = None,
                 relay: str | None = None, env: dict[str, str] | None = None,
                 bare: bool = False, global_args: list[str] | None = None):
        """`bare`: no TAUBE_* variables at all (Taube's built-in defaults)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.global_args = list(global_args or [])
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"{name}.log"
        self._log_file = None
        self.env: dict[str, str] = {
            k: v for k, v in os.environ.items() if not k.startswith("TAUBE_")
        }
        if bare:
            self.data_dir = self.workdir / "taube-data"
            self.port = 8025
        else:
            self.data_dir = self.workdir / "data"
            self.port = free_port()
            self.env.update({
                "TAUBE_DATA_DIR": str(self.data_dir),
                "TAUBE_HTTP_ADDR": f"127.0.0.1:{self.port}",
                # Nothing may leave the machine: by default deliveries go to a closed local
                # port and DNS questions to a local port where nobody answers.
                "TAUBE_DELIVERY_RELAY": relay if relay is not None else f"127.0.0.1:{closed_port()}",
                "TAUBE_DNS_RESOLVER": f"127.0.0.1:{closed_port()}",
                "TAUBE_RETRY_INITIAL_SECS": "1",
                "TAUBE_RETRY_MAX_SECS": "4",
                "TAUBE_NODE_ID": f"{name}-{uuid.uuid4().hex[:6]}",
                "TAUBE_LOG": os.environ.get("TAUBE_E2E_LOG", "info"),
            })
        self.env["RUST_BACKTRACE"] = "1"
        if database_url:
            self.env["TAUBE_DATABASE_URL"] = database_url
        if env:
            self.env.update(env)
        PROCESS_LOGS[f"{name} ({self.workdir})"] = self.log_path

    # -- addresses

    @property
    def http_addr(self) -> str:
        return self.env.get("TAUBE_HTTP_ADDR", f"127.0.0.1:{self.port}")

    @property
    def url(self) -> str:
        return f"http://{self.http_addr}"

    def api(self, key: str | None = None, auth: str | None = "bearer") -> Api:
        return Api(self.url, key, auth)

    # -- CLI

    def cli_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(TAUBE_BIN), *self.global_args, *args]
        p = subprocess.run(cmd, env=self.env, cwd=self.workdir, capture_output=True, text=True,
                           timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)
        with open(self.workdir / "cli.log", "a") as f:
            f.write(f"$ {' '.join(args)}\n-> {p.returncode}\n{p.stdout}{p.stderr}\n")
        if check and p.returncode != 0:
            raise AssertionError(
                f"taube {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def cli(self, *args: str) -> str:
        """Run a CLI command; return the last non-empty line of stdout."""
        p = self.cli_run(*args)
        lines = [l.strip() for l in p.stdout.splitlines() if l.strip()]
        if not lines:
            raise AssertionError(f"taube {' '.join(args)} printed nothing on stdout\n{p.stderr}")
        return lines[-1]

    # -- serve

    def start(self, wait: bool = True, extra_env: dict[str, str] | None = None) -> "Taube":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if extra_env:
            self.env.update(extra_env)
        self._close_log()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n===== taube serve ({time.strftime('%H:%M:%S')}) =====\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen([str(TAUBE_BIN), *self.global_args, "serve"], env=self.env, cwd=self.workdir,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"taube serve exited with {self.proc.returncode} "
                                     f"before it was ready:\n{log_tail(self.log_path, 60)}")
            try:
                return requests.get(self.url + "/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, timeout, interval=0.2, desc=f"{self.name} /readyz")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`.  Returns the exit status."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(30)
        self._close_log()
        return rc

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------- tenants


@dataclass
class Tenant:
    name: str
    id: str
    key: str
    api: Api
    domain: str | None = None
    domain_info: dict | None = None

    @property
    def dkim_record(self) -> dict:
        assert self.domain_info is not None
        return next(r for r in self.domain_info["records"] if r["purpose"] == "dkim")

    def addr(self, local: str = "sender") -> str:
        return f"{local}@{self.domain}"


def create_tenant(taube: Taube, *, name: str | None = None, domain: str | None = None,
                  algorithm: str | None = "rsa", verify: bool = True,
                  scopes: str | None = None) -> Tenant:
    """Tenant + API key via the CLI, sending domain via the API, verified via the CLI."""
    name = name or unique("tenant-")
    tenant_id = taube.cli("tenant", "create", name)
    assert tenant_id, "tenant create printed no id"
    key = create_key(taube, name, scopes)
    api = taube.api(key)
    t = Tenant(name=name, id=tenant_id, key=key, api=api)
    if domain is None and algorithm is None:
        return t
    domain = domain or f"{name}.example.com"
    body: dict[str, Any] = {"name": domain}
    if algorithm:
        body["dkim_algorithm"] = algorithm
    r = api.post("/v1/domains", json=body)
    assert r.status_code == 201, f"POST /v1/domains -> {r.status_code} {r.text}"
    t.domain = domain
    t.domain_info = r.json()
    if verify:
        taube.cli("domain", "verify", "--tenant", name, domain, "--force")
    return t


def create_key(taube: Taube, tenant: str, scopes: str | None = None) -> str:
    args = ["key", "create", "--tenant", tenant]
    if scopes is not None:
        args += ["--scopes", scopes]
    key = taube.cli(*args)
    assert key.startswith("tk_"), key
    return key


# --------------------------------------------------------------------------- aiosmtpd sink


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: str
    at: float

    @property
    def msg(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    def header(self, name: str) -> str | None:
        v = self.msg[name]
        return None if v is None else str(v)


class _SinkHandler:
    def __init__(self, sink: "Sink"):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.sink.lock:
            self.sink.mail_froms.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.sink.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.data_started += 1
            n = self.sink.data_started
        if self.sink.on_data is not None:
            self.sink.on_data(n)
        if self.sink.data_delay:
            # aiosmtpd cancels this coroutine when the client goes away, so a transaction
            # whose client died before our "250" is not recorded as received.
            await asyncio.sleep(self.sink.data_delay)
        rec = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=bytes(envelope.original_content or envelope.content or b""),
            peer=str(session.peer[0]) if session.peer else "",
            at=time.time(),
        )
        with self.sink.lock:
            self.sink.messages.append(rec)
        return "250 2.0.0 Message accepted for delivery"


class Sink:
    """An aiosmtpd SMTP server in a background thread that records every transaction.

    `rcpt_replies` maps a (lower-case) address to the reply its RCPT gets, e.g.
    "550 5.1.1 No such user" or "451 4.3.0 Try again later"; other addresses get 250.
    `data_delay` seconds are spent before answering the final "." (a slow server).
    `on_data(n)` is called when the n-th DATA command arrives (in the sink's thread).
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 rcpt_replies: dict[str, str] | None = None, data_delay: float = 0.0):
        self.host = host
        self.port = port or free_port(host)
        self.rcpt_replies = {k.lower(): v for k, v in (rcpt_replies or {}).items()}
        self.data_delay = data_delay
        self.messages: list[Received] = []
        self.mail_froms: list[str] = []
        self.data_started = 0
        self.on_data: Callable[[int], None] | None = None
        self.lock = threading.Lock()
        self.controller = None

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "Sink":
        from aiosmtpd.controller import Controller

        self.controller = Controller(
            _SinkHandler(self), hostname=self.host, port=self.port,
            server_hostname="sink.test", ready_timeout=30,
            decode_data=False, enable_SMTPUTF8=True,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            try:
                self.controller.stop()
            except Exception:  # noqa: BLE001 - best effort on teardown
                pass
            self.controller = None

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def for_rcpt(self, address: str) -> list[Received]:
        a = address.lower()
        return [m for m in self.snapshot() if a in (r.lower() for r in m.rcpt_tos)]

    def with_header(self, name: str, value: str) -> list[Received]:
        return [m for m in self.snapshot() if m.header(name) == value]

    def wait_for_rcpt(self, address: str, timeout: float = 60.0, count: int = 1) -> list[Received]:
        return wait_until(lambda: (lambda ms: ms if len(ms) >= count else None)(self.for_rcpt(address)),
                          timeout, desc=f"sink {self.addr} to receive mail for {address}")

    def rcpt_set(self) -> set[str]:
        return {r.lower() for m in self.snapshot() for r in m.rcpt_tos}


# --------------------------------------------------------------------------- Postfix smtp-sink


SMTP_SINK_BIN = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


class SmtpSink:
    """Postfix's `smtp-sink`, optionally rejecting commands with 4xx (`soft`) or 5xx (`hard`).

    Accepted transactions are dumped, one file each, into `self.dump_dir`.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 soft: str | None = None, hard: str | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.soft = soft
        self.hard = hard
        # smtp-sink drops to `nobody`: its dump directory must be reachable by that user,
        # which pytest's 0700 tmp dirs are not.
        self.root = Path(tempfile.mkdtemp(prefix="taube-smtp-sink-"))
        os.chmod(self.root, 0o755)
        self.dump_dir = self.root / "dump"
        self.dump_dir.mkdir()
        os.chmod(self.dump_dir, 0o777)
        self.log_path = self.root / "smtp-sink.log"
        self.proc: subprocess.Popen | None = None
        PROCESS_LOGS[f"smtp-sink {self.port}"] = self.log_path

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, soft: str | None = ..., hard: str | None = ...) -> "SmtpSink":  # type: ignore[assignment]
        if soft is not ...:
            self.soft = soft
        if hard is not ...:
            self.hard = hard
        if not os.path.exists(SMTP_SINK_BIN):
            raise AssertionError("Postfix smtp-sink not installed (Debian package postfix)")
        cmd = [SMTP_SINK_BIN, "-4"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += ["-d", str(self.dump_dir) + "/%s."]
        if self.soft:
            cmd += ["-r", self.soft]
        if self.hard:
            cmd += ["-f", self.hard]
        cmd += [f"{self.host}:{self.port}", "100"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"smtp-sink exited {self.proc.returncode}: "
                                     f"{log_tail(self.log_path, 20)}")
            return port_open(self.host, self.port)

        wait_until(up, 20, desc="smtp-sink to listen")
        return self

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None
        wait_until(lambda: not port_open(self.host, self.port), 10, desc="smtp-sink to close")

    def restart(self, soft: str | None = None, hard: str | None = None,
                clear: bool = True) -> "SmtpSink":
        """Restart with new reject settings; by default forget earlier dumps (smtp-sink
        dumps a transaction even when it rejects its final ".")."""
        self.stop()
        if clear:
            for p in self.dump_dir.iterdir():
                p.unlink(missing_ok=True)
        return self.start(soft=soft, hard=hard)

    def dumps(self) -> list[bytes]:
        out = []
        for p in sorted(self.dump_dir.iterdir()):
            try:
                out.append(p.read_bytes())
            except OSError:
                pass
        return out

    def dumps_for(self, address: str) -> list[bytes]:
        needle = f"<{address.lower()}>".encode()
        return [d for d in self.dumps()
                if any(needle in line.lower() for line in d.splitlines()
                       if line.startswith(b"X-Rcpt-Args:"))]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------- dnsmasq


DNSMASQ_BIN = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


class Dnsmasq:
    """dnsmasq answering only from the records given on its command line."""

    def __init__(self, workdir: Path, *, mx: Iterable[tuple[str, str, int]] = (),
                 a: Iterable[tuple[str, str]] = (), txt: Iterable[tuple[str, str]] = (),
                 zones: Iterable[str] = ()):
        """`zones`: extra zones (e.g. "com") answered locally, NXDOMAIN for unknown names."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.mx = list(mx)
        self.a = list(a)
        self.txt = list(txt)
        self.zones = list(zones)
        self.log_path = self.workdir / "dnsmasq.log"
        self.proc: subprocess.Popen | None = None
        PROCESS_LOGS[f"dnsmasq {self.port}"] = self.log_path

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        args = [DNSMASQ_BIN, "--no-daemon", f"--port={self.port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--pid-file=", "--log-queries", "--cache-size=0"]
        zones = set(self.zones)
        for name, host, pref in self.mx:
            args.append(f"--mx-host={name},{host},{pref}")
            zones.add(name.rsplit(".", 1)[-1])
        for name, ip in self.a:
            args.append(f"--host-record={name},{ip}")
            zones.add(name.rsplit(".", 1)[-1])
        for name, value in self.txt:
            # one TXT record made of <=255-byte character-strings; dnsmasq splits on commas
            assert "," not in value, value
            chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
            args.append(f"--txt-record={name}," + ",".join(chunks))
            zones.add(name.rsplit(".", 1)[-1])
        for z in sorted(zones):
            # answer NXDOMAIN for anything else in these zones (never forward)
            args.append(f"--local=/{z}/")
        return args

    def start(self) -> "Dnsmasq":
        if not os.path.exists(DNSMASQ_BIN):
            raise AssertionError("dnsmasq not installed (Debian package dnsmasq-base)")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()

        def up():
            import dns.message
            import dns.query

            if self.proc.poll() is not None:
                raise AssertionError(f"dnsmasq exited: {log_tail(self.log_path, 20)}")
            q = dns.message.make_query("probe.invalid", "A")
            try:
                dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
                return True
            except Exception:  # noqa: BLE001
                return False

        wait_until(up, 20, desc="dnsmasq to answer")
        return self

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None


# --------------------------------------------------------------------------- PostgreSQL


def _psql_bin() -> str:
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"),
                   key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p)])
    if cands:
        return cands[-1]
    found = shutil.which("psql")
    if not found:
        raise AssertionError("psql not found (Debian package postgresql-client)")
    return found


def psql(url: str, sql: str) -> str:
    p = subprocess.run([_psql_bin(), url, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError(f"psql {sql!r} failed: {p.stderr}")
    return p.stdout


def with_database(url: str, dbname: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@dataclass
class Backend:
    name: str  # "sqlite" | "postgres"
    database_url: str | None = None  # None: Taube's default SQLite in the data dir
    _admin_url: str | None = field(default=None, repr=False)
    _dbname: str | None = field(default=None, repr=False)

    @classmethod
    def sqlite(cls) -> "Backend":
        return cls("sqlite")

    @classmethod
    def postgres(cls, admin_url: str) -> "Backend":
        dbname = f"taube_{uuid.uuid4().hex[:12]}"
        psql(admin_url, f'CREATE DATABASE "{dbname}"')
        return cls("postgres", with_database(admin_url, dbname), admin_url, dbname)

    def drop(self) -> None:
        if self._admin_url and self._dbname:
            try:
                psql(self._admin_url, f'DROP DATABASE IF EXISTS "{self._dbname}" WITH (FORCE)')
            except AssertionError:
                pass


# --------------------------------------------------------------------------- misc


def file_contains_any(root: Path, needles: list[bytes]) -> list[tuple[str, bytes]]:
    """Every (file, needle) where a file under `root` contains needle (raw bytes)."""
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            try:
                data = p.read_bytes()
            except OSError:
                continue
            low = data.lower()
            for n in needles:
                if n.lower() in low:
                    hits.append((str(p), n))
    return hits


def base_message(tenant: Tenant, to: list[str] | str, **fields) -> dict:
    body: dict[str, Any] = {
        "from": f"Sender <{tenant.addr('sender')}>",
        "to": [to] if isinstance(to, str) else to,
        "subject": fields.pop("subject", "Hello from the e2e suite"),
        "text": fields.pop("text", "Plain text body.\n"),
    }
    body.update(fields)
    return body
