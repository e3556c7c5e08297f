"""Idempotency-Key on POST /v1/messages."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from harness import Sink, Taube, Tenant, create_tenant, metric, unique

TIMEOUT = 90


@dataclass
class Ctx:
    taube: Taube
    sink: Sink
    a: Tenant
    b: Tenant


@pytest.fixture(scope="module")
def ctx(module_backend, module_procs) -> Ctx:
    sink = module_procs.sink()
    taube = module_procs.taube(module_backend, relay=sink.addr)
    return Ctx(taube, sink, create_tenant(taube), create_tenant(taube))


def accepted(ctx: Ctx) -> float:
    return metric(ctx.taube.api().metrics(), "taube_messages_accepted_total")


def body_for(t: Tenant, to: str, **over) -> dict:
    b = {"from": t.addr(), "to": [to], "subject": "idem", "text": "once"}
    b.update(over)
    return b


def test_same_key_same_body_returns_the_same_response_once(ctx: Ctx):
    to = f"idem-{unique()}@example.net"
    key = unique("idem-")
    body = body_for(ctx.a, to)
    before = accepted(ctx)
    r1 = ctx.a.api.post("/v1/messages", json=body, headers={"Idempotency-Key": key})
    assert r1.status_code == 202, r1.text
    r2 = ctx.a.api.post("/v1/messages", json=body, headers={"Idempotency-Key": key})
    assert r2.status_code == 202, r2.text
    assert r2.json() == r1.json()
    mid = r1.json()["id"]
    ctx.a.api.wait_event(mid, "delivered", to, timeout=TIMEOUT)
    time.sleep(2)
    assert len(ctx.sink.for_rcpt(to)) == 1, "a replayed request was delivered twice"
    assert accepted(ctx) - before == 1
    assert [e["type"] for e in ctx.a.api.events(recipient=to)].count("accepted") == 1


def test_same_key_different_body_is_a_conflict_and_stores_nothing(ctx: Ctx):
    to = f"idem-{unique()}@example.net"
    key = unique("idem-")
    r1 = ctx.a.api.post("/v1/messages", json=body_for(ctx.a, to), headers={"Idempotency-Key": key})
    assert r1.status_code == 202, r1.text
    ctx.a.api.wait_event(r1.json()["id"], "delivered", to, timeout=TIMEOUT)  # settle first
    before = (accepted(ctx), len(ctx.a.api.events()))
    other = f"other-{unique()}@example.net"
    r2 = ctx.a.api.post("/v1/messages", json=body_for(ctx.a, other, subject="changed"),
                        headers={"Idempotency-Key": key})
    assert r2.status_code == 409, r2.text
    assert r2.json()["error"] == "idempotency_conflict"
    assert (accepted(ctx), len(ctx.a.api.events())) == before
    assert ctx.a.api.events(recipient=other) == []
    time.sleep(2)
    assert ctx.sink.for_rcpt(other) == []


def test_different_keys_make_different_messages(ctx: Ctx):
    to = f"idem-{unique()}@example.net"
    body = body_for(ctx.a, to)
    ids = {ctx.a.api.send(body, headers={"Idempotency-Key": unique("k-")})["id"] for _ in range(2)}
    assert len(ids) == 2
    ctx.sink.wait_for_rcpt(to, TIMEOUT, count=2)


def test_without_key_every_request_is_a_new_message(ctx: Ctx):
    body = body_for(ctx.a, f"idem-{unique()}@example.net", test_mode=True)
    assert ctx.a.api.send(body)["id"] != ctx.a.api.send(body)["id"]


def test_keys_are_scoped_to_the_tenant(ctx: Ctx):
    key = unique("shared-")
    to = f"idem-{unique()}@example.net"
    ra = ctx.a.api.post("/v1/messages", json=body_for(ctx.a, to, test_mode=True),
                        headers={"Idempotency-Key": key})
    rb = ctx.b.api.post("/v1/messages", json=body_for(ctx.b, to, test_mode=True),
                        headers={"Idempotency-Key": key})
    assert ra.status_code == 202 and rb.status_code == 202, (ra.text, rb.text)
    assert ra.json()["id"] != rb.json()["id"]
    assert ctx.b.api.get(f"/v1/messages/{ra.json()['id']}").status_code == 404


def test_concurrent_requests_with_one_key_make_one_message(ctx: Ctx):
    to = f"idem-{unique()}@example.net"
    key = unique("race-")
    body = body_for(ctx.a, to)
    before = accepted(ctx)
    results: list = []

    def go():
        r = ctx.taube.api(ctx.a.key).post("/v1/messages", json=body,
                                         headers={"Idempotency-Key": key})
        results.append(r)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert len(results) == 8
    ok = [r for r in results if r.status_code == 202]
    assert ok, [(r.status_code, r.text) for r in results]
    assert all(r.status_code in (202, 409) for r in results), [(r.status_code, r.text) for r in results]
    assert len({r.json()["id"] for r in ok}) == 1
    ctx.sink.wait_for_rcpt(to, TIMEOUT)
    time.sleep(2)
    assert len(ctx.sink.for_rcpt(to)) == 1
    assert accepted(ctx) - before == 1


def test_replay_survives_a_restart(ctx: Ctx):
    """Runs last in the module: it restarts the shared server."""
    key = unique("durable-")
    body = body_for(ctx.a, f"idem-{unique()}@example.net", test_mode=True)
    r1 = ctx.a.api.post("/v1/messages", json=body, headers={"Idempotency-Key": key})
    assert r1.status_code == 202
    assert ctx.taube.stop() == 0
    ctx.taube.start()
    r2 = ctx.a.api.post("/v1/messages", json=body, headers={"Idempotency-Key": key})
    assert r2.status_code == 202, r2.text
    assert r2.json() == r1.json()
    r3 = ctx.a.api.post("/v1/messages", json=dict(body, subject="other"),
                        headers={"Idempotency-Key": key})
    assert r3.status_code == 409, r3.text
