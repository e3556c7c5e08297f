"""Fixtures for the end-to-end suite (helpers live in harness.py).

Storage-touching tests take the `backend` fixture (or `module_backend` for a server shared
by a module): it is parametrized over SQLite and, when TAUBE_TEST_DB is set
(e.g. postgres://postgres@127.0.0.1:55432/postgres), PostgreSQL, with a fresh database
`taube_<random>` per use that is dropped afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from harness import (
    TAUBE_BIN,
    Backend,
    Dnsmasq,
    Sink,
    SmtpSink,
    Taube,
    log_tail,
)

TEST_DB = os.environ.get("TAUBE_TEST_DB", "").strip()
BACKENDS = ["sqlite", "postgres"]


def pytest_report_header(config):
    return [f"taube binary: {TAUBE_BIN} (exists: {TAUBE_BIN.exists()})",
            f"PostgreSQL: {TEST_DB or 'not configured (set TAUBE_TEST_DB); PG runs skipped'}"]


@pytest.fixture(scope="session", autouse=True)
def _taube_binary():
    if not TAUBE_BIN.exists():
        pytest.fail(f"taube binary not found at {TAUBE_BIN}: run `cargo build` first "
                    "(or set TAUBE_BIN)", pytrace=False)


# --------------------------------------------------------------------------- backends


def _make_backend(name: str) -> Backend:
    if name == "sqlite":
        return Backend.sqlite()
    if not TEST_DB:
        pytest.skip("PostgreSQL run needs TAUBE_TEST_DB=postgres://...")
    return Backend.postgres(TEST_DB)


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    b = _make_backend(request.param)
    yield b
    b.drop()


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(request) -> Backend:
    b = _make_backend(request.param)
    yield b
    b.drop()


@pytest.fixture
def pg_backend() -> Backend:
    """PostgreSQL only (multi-node tests)."""
    b = _make_backend("postgres")
    yield b
    b.drop()


# --------------------------------------------------------------------------- processes


class Factory:
    """Creates processes and peers for one scope and tears all of them down at its end."""

    def __init__(self, tmp_factory: Callable[[str], Path]):
        self._tmp = tmp_factory
        self.instances: list = []

    def taube(self, backend: Backend | None = None, *, name: str = "taube",
              relay: str | None = None, env: dict[str, str] | None = None,
              start: bool = True, workdir: Path | None = None, bare: bool = False,
              global_args: list[str] | None = None) -> Taube:
        t = Taube(workdir or self._tmp(name), name,
                  database_url=backend.database_url if backend else None,
                  relay=relay, env=env, bare=bare, global_args=global_args)
        self.instances.append(t)
        if start:
            t.start()
        return t

    def sink(self, **kw) -> Sink:
        s = Sink(**kw).start()
        self.instances.append(s)
        return s

    def smtp_sink(self, **kw) -> SmtpSink:
        s = SmtpSink(**kw)
        self.instances.append(s)
        return s

    def dnsmasq(self, **kw) -> Dnsmasq:
        d = Dnsmasq(self._tmp("dns"), **kw).start()
        self.instances.append(d)
        return d

    def close(self) -> None:
        for inst in reversed(self.instances):
            try:
                if isinstance(inst, Taube):
                    inst.stop(timeout=15)
                elif isinstance(inst, SmtpSink):
                    inst.cleanup()
                else:
                    inst.stop()
            except Exception as e:  # noqa: BLE001 - keep tearing down the rest
                print(f"teardown of {inst!r} failed: {e}")


def _backends_first(request, names) -> None:
    # Set up the test's database before the processes, so that it is dropped only after
    # every process using it has been stopped (teardown runs in reverse order).
    for name in names:
        if name in request.fixturenames:
            request.getfixturevalue(name)


@pytest.fixture
def procs(request, tmp_path_factory) -> Factory:
    _backends_first(request, ("backend", "pg_backend"))
    f = Factory(lambda name: tmp_path_factory.mktemp(name))
    yield f
    f.close()


@pytest.fixture(scope="module")
def module_procs(module_backend, tmp_path_factory) -> Factory:
    """Per module *and backend*: stopped before that backend's database is dropped."""
    f = Factory(lambda name: tmp_path_factory.mktemp(name))
    yield f
    f.close()


@pytest.fixture
def sink(procs) -> Sink:
    """An aiosmtpd sink on a free 127.0.0.1 port."""
    return procs.sink()


# --------------------------------------------------------------------------- failure reports


def _collect(obj, seen: set[int], out: list) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (Taube, SmtpSink, Dnsmasq)):
        out.append(obj)
    elif isinstance(obj, Factory):
        for i in obj.instances:
            _collect(i, seen, out)
    elif isinstance(obj, (list, tuple)):
        for i in obj:
            _collect(i, seen, out)
    elif hasattr(obj, "__dict__") and (type(obj).__module__ in (__name__, "harness")
                                        or type(obj).__module__.startswith("test_")):
        for v in vars(obj).values():
            _collect(v, seen, out)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when not in ("setup", "call") or not rep.failed:
        return
    found: list = []
    seen: set[int] = set()
    for v in getattr(item, "funcargs", {}).values():
        _collect(v, seen, found)
    for obj in found:
        path = getattr(obj, "log_path", None)
        if path is None:
            continue
        label = f"{type(obj).__name__} {getattr(obj, 'name', '')} log {path}"
        rep.sections.append((label, log_tail(Path(path), 150)))
        if isinstance(obj, Taube):
            cli_log = obj.workdir / "cli.log"
            if cli_log.exists():
                rep.sections.append((f"taube CLI log {cli_log}", log_tail(cli_log, 60)))
