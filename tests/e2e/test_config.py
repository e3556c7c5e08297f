"""Configuration: no config at all, a TOML file (--config / TAUBE_CONFIG) with [routes],
and TAUBE_* environment variables overriding the file."""

from __future__ import annotations

import os
import stat

import pytest
import requests

from harness import closed_port, create_tenant, free_port, port_open, unique

TIMEOUT = 90


def test_serve_with_no_configuration(procs):
    if port_open("127.0.0.1", 8025):
        pytest.skip("127.0.0.1:8025 is taken on this machine")
    taube = procs.taube(bare=True, start=False)
    assert not any(k.startswith("TAUBE_") for k in taube.env)
    taube.start()
    assert taube.url == "http://127.0.0.1:8025"
    assert requests.get(taube.url + "/healthz", timeout=10).status_code == 200
    data = taube.workdir / "taube-data"
    assert data.is_dir(), "default data dir ./taube-data"
    key_file = data / "master.key"
    assert key_file.is_file(), "master key created in the data dir"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # the CLI, also without configuration, works on the same data
    t = create_tenant(taube)
    r = t.api.post("/v1/messages", json={"from": t.addr(), "to": ["x@example.net"],
                                         "subject": "s", "text": "t", "test_mode": True})
    assert r.status_code == 202, r.text
    assert taube.stop() == 0


def write_config(path, **kw) -> None:
    routes = kw.pop("routes", {})
    lines = []
    for k, v in kw.items():
        lines.append(f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"')
    lines.append("")
    lines.append("[routes]")
    for dom, target in routes.items():
        lines.append(f'"{dom}" = "{target}"')
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("how", ["env", "flag"])
def test_config_file_with_routes(procs, backend, tmp_path_factory, how):
    sink = procs.sink()
    work = tmp_path_factory.mktemp("cfg")
    cfg = work / "taube.toml"
    port = free_port()
    settings = dict(
        http_addr=f"127.0.0.1:{port}",
        data_dir=str(work / "cfg-data"),
        delivery_relay="",  # deliver by MX...
        dns_resolver=f"127.0.0.1:{closed_port()}",  # ...which cannot resolve anything
        retry_initial_secs=1,
        retry_max_secs=2,
        routes={"routed.example": sink.addr},  # except this domain
    )
    if backend.database_url:
        settings["database_url"] = backend.database_url
    write_config(cfg, **settings)
    env = {"TAUBE_CONFIG": str(cfg)} if how == "env" else {}
    args = ["--config", str(cfg)] if how == "flag" else []
    taube = procs.taube(bare=True, start=False, workdir=work, env=env, global_args=args)
    taube.port = port
    taube.start()
    assert (work / "cfg-data").is_dir(), "data_dir from the file"
    assert not (work / "taube-data").exists()

    t = create_tenant(taube)
    routed = f"r-{unique()}@routed.example"
    other = f"o-{unique()}@unrouted.example"
    mid = t.api.send({"from": t.addr(), "to": [routed, other], "subject": "route", "text": "x"})["id"]
    sink.wait_for_rcpt(routed, TIMEOUT)
    t.api.wait_status(mid, routed, "delivered", TIMEOUT)
    t.api.wait_event(mid, "deferred", other, timeout=TIMEOUT)
    assert other not in sink.rcpt_set()


def test_environment_overrides_the_file(procs, tmp_path_factory):
    work = tmp_path_factory.mktemp("cfg")
    cfg = work / "taube.toml"
    file_port, env_port = free_port(), free_port()
    write_config(cfg, http_addr=f"127.0.0.1:{file_port}", data_dir=str(work / "file-data"))
    taube = procs.taube(bare=True, start=False, workdir=work,
                        env={"TAUBE_CONFIG": str(cfg), "TAUBE_HTTP_ADDR": f"127.0.0.1:{env_port}",
                             "TAUBE_DATA_DIR": str(work / "env-data")})
    taube.port = env_port
    taube.start()
    assert requests.get(f"http://127.0.0.1:{env_port}/healthz", timeout=10).status_code == 200
    assert not port_open("127.0.0.1", file_port)
    assert (work / "env-data").is_dir() and not (work / "file-data").exists()


def test_broken_config_file_is_an_error(procs, tmp_path_factory):
    work = tmp_path_factory.mktemp("cfg")
    cfg = work / "taube.toml"
    cfg.write_text('http_addr = "127.0.0.1:\n[routes\n')
    taube = procs.taube(bare=True, start=False, workdir=work, env={"TAUBE_CONFIG": str(cfg)})
    p = taube.cli_run("tenant", "create", "x", check=False)
    assert p.returncode != 0, "a config file that is not TOML must be an error"
    assert not (work / "taube-data").exists(), "nothing created from a broken config"
