"""Prometheus metrics move with the traffic."""

from __future__ import annotations

import requests

from harness import create_tenant, metric, unique, wait_until

TIMEOUT = 90


def test_counters_move_after_sends(procs, backend):
    soft = f"soft-{unique()}@example.net"
    hard = f"hard-{unique()}@example.net"
    sink = procs.sink(rcpt_replies={soft: "451 4.3.0 try later", hard: "550 5.1.1 no such user"})
    taube = procs.taube(backend, relay=sink.addr,
                        env={"TAUBE_RETRY_INITIAL_SECS": "60", "TAUBE_RETRY_MAX_SECS": "60"})
    api = taube.api()
    r = requests.get(taube.url + "/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers.get("content-type", "").startswith("text/plain")
    before = api.metrics()

    t = create_tenant(taube)
    ok = f"ok-{unique()}@example.net"
    mid = t.api.send({"from": t.addr(), "to": [ok, soft, hard], "subject": "m", "text": "m"})["id"]
    t.api.wait_event(mid, "delivered", ok, timeout=TIMEOUT)
    t.api.wait_event(mid, "deferred", soft, timeout=TIMEOUT)
    t.api.wait_event(mid, "failed", hard, timeout=TIMEOUT)
    t.api.send({"from": t.addr(), "to": ["tm@example.net"], "subject": "m", "text": "m",
                "test_mode": True})

    def moved():
        m = api.metrics()
        return m if metric(m, "taube_deliveries_total", outcome="failed") \
            > metric(before, "taube_deliveries_total", outcome="failed") else None

    after = wait_until(moved, 30, desc="metrics to reflect the outcomes")
    d = lambda name, **lab: metric(after, name, **lab) - metric(before, name, **lab)  # noqa: E731
    assert d("taube_messages_accepted_total") == 2
    assert d("taube_deliveries_total", outcome="delivered") == 1
    assert d("taube_deliveries_total", outcome="deferred") == 1
    assert d("taube_deliveries_total", outcome="failed") == 1
    assert d("taube_delivery_latency_seconds_count") >= 1
    assert d("taube_delivery_latency_seconds_sum") > 0
    assert any(k.startswith("taube_delivery_latency_seconds_bucket") for k in after)
    # the deferred recipient waits for its retry in 60 s: it is in the queue
    wait_until(lambda: metric(api.metrics(), "taube_queue_depth") >= 1, 30,
               desc="taube_queue_depth to count the deferred recipient")


def test_health_and_readiness(procs, backend):
    taube = procs.taube(backend)
    assert requests.get(taube.url + "/healthz", timeout=10).status_code == 200
    assert requests.get(taube.url + "/readyz", timeout=10).status_code == 200
