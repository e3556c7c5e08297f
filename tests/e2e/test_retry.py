"""Outcomes against Postfix's smtp-sink: 4xx -> deferred and retried, 5xx -> failed and
suppressed, a closed port -> deferred, and giving up after TAUBE_RETRY_GIVE_UP_SECS."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from harness import closed_port, create_tenant, unique, wait_until

TIMEOUT = 90


def ts(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def test_soft_reject_is_deferred_then_delivered_after_retry(procs, backend):
    sink = procs.smtp_sink()
    sink.start(soft="RCPT")
    taube = procs.taube(backend, relay=sink.addr,
                        env={"TAUBE_RETRY_INITIAL_SECS": "1", "TAUBE_RETRY_MAX_SECS": "2"})
    t = create_tenant(taube)
    to = f"soft-{unique()}@retry.example.net"
    mid = t.api.send({"from": t.addr(), "to": [to], "subject": "retry me", "text": "x",
                      "headers": {"X-Test-Id": mid_tag(to)}})["id"]

    deferred = t.api.wait_event(mid, "deferred", to, timeout=TIMEOUT)[0]
    assert deferred["reply"] and ("450" in deferred["reply"] or "4.3.0" in deferred["reply"]), deferred
    r = t.api.wait_status(mid, to, "deferred", TIMEOUT)
    assert r["attempts"] >= 1
    assert not sink.dumps_for(to)

    sink.restart(soft=None)  # now accepting
    t.api.wait_event(mid, "delivered", to, timeout=TIMEOUT)
    r = t.api.wait_status(mid, to, "delivered", TIMEOUT)
    assert r["attempts"] >= 2
    dumps = wait_until(lambda: sink.dumps_for(to), 30, desc="smtp-sink dump of the message")
    assert len(dumps) == 1
    assert mid_tag(to).encode() in dumps[0]
    types = [e["type"] for e in t.api.events(message_id=mid)]
    assert types.index("deferred") < types.index("delivered"), types
    assert to not in [b["address"].lower() for b in t.api.bounces()], \
        "a temporary failure must not suppress the address"


def mid_tag(addr: str) -> str:
    return "tag-" + addr.split("@")[0]


@pytest.mark.parametrize("stage", ["RCPT", "."])
def test_hard_reject_fails_suppresses_and_later_sends_are_suppressed(procs, backend, stage):
    sink = procs.smtp_sink()
    sink.start(hard=stage)
    taube = procs.taube(backend, relay=sink.addr)
    t = create_tenant(taube)
    to = f"hard-{unique()}@bounce.example.net"
    mid = t.api.send({"from": t.addr(), "to": [to], "subject": "bounce", "text": "x"})["id"]

    failed = t.api.wait_event(mid, "failed", to, timeout=TIMEOUT)[0]
    assert failed["reply"] and ("500" in failed["reply"] or "5.3.0" in failed["reply"]), failed
    r = t.api.wait_status(mid, to, "failed", TIMEOUT)
    assert r["attempts"] == 1, "a permanent failure is not retried"
    time.sleep(3)
    assert [e["type"] for e in t.api.events(message_id=mid)].count("failed") == 1
    assert "deferred" not in [e["type"] for e in t.api.events(message_id=mid)]

    bounces = t.api.bounces()
    entry = [b for b in bounces if b["address"].lower() == to]
    assert len(entry) == 1, bounces
    assert entry[0]["created_at"]
    assert entry[0].get("reason")

    # the server would now accept: a second send must still not be delivered
    sink.restart(hard=None)
    other = f"ok-{unique()}@bounce.example.net"
    resp = t.api.send({"from": t.addr(), "to": [f"Someone <{to}>", other],
                       "subject": "again", "text": "y"})
    statuses = {r["address"].lower(): r["status"] for r in resp["recipients"]}
    assert statuses == {to: "suppressed", other: "queued"}, resp
    mid2 = resp["id"]
    sup = t.api.wait_event(mid2, "suppressed", to, timeout=30)
    assert sup[0]["recipient"].lower() == to
    t.api.wait_event(mid2, "delivered", other, timeout=TIMEOUT)
    time.sleep(2)
    assert sink.dumps_for(to) == [], "a suppressed address was delivered to"
    assert t.api.recipient_statuses(mid2) == {to: "suppressed", other: "delivered"}


def test_closed_port_is_deferred_and_retried_with_backoff(procs, backend):
    taube = procs.taube(backend, relay=f"127.0.0.1:{closed_port()}",
                        env={"TAUBE_RETRY_INITIAL_SECS": "1", "TAUBE_RETRY_MAX_SECS": "8",
                             "TAUBE_RETRY_GIVE_UP_SECS": "3600"})
    t = create_tenant(taube)
    to = f"closed-{unique()}@closed.example.net"
    mid = t.api.send({"from": t.addr(), "to": [to], "subject": "nobody home", "text": "x"})["id"]
    evs = t.api.wait_event(mid, "deferred", to, count=3, timeout=TIMEOUT)
    assert all(e["reply"] for e in evs), "a deferral records why"
    r = t.api.wait_status(mid, to, "deferred", TIMEOUT)
    assert r["attempts"] >= 3
    # Backoff doubles from 1 s: the gap before the third attempt is about 2 s, not a hot loop.
    times = [ts(e) for e in evs[:3]]
    assert times[2] - times[1] >= 1.5, f"no backoff between attempts: {times}"
    assert "failed" not in [e["type"] for e in t.api.events(message_id=mid)]
    assert to not in [b["address"].lower() for b in t.api.bounces()], \
        "a temporary failure must not suppress the address"


def test_gives_up_after_give_up_secs(procs, backend):
    taube = procs.taube(backend, relay=f"127.0.0.1:{closed_port()}",
                        env={"TAUBE_RETRY_INITIAL_SECS": "1", "TAUBE_RETRY_MAX_SECS": "1",
                             "TAUBE_RETRY_GIVE_UP_SECS": "4"})
    t = create_tenant(taube)
    to = f"giveup-{unique()}@closed.example.net"
    mid = t.api.send({"from": t.addr(), "to": [to], "subject": "give up", "text": "x"})["id"]
    t.api.wait_event(mid, "failed", to, timeout=TIMEOUT)
    r = t.api.wait_status(mid, to, "failed", TIMEOUT)
    assert r["attempts"] >= 2
    types = [e["type"] for e in t.api.events(message_id=mid)]
    assert types[0] == "accepted" and "deferred" in types and types[-1] == "failed", types
    n = len(types)
    time.sleep(4)
    assert len(t.api.events(message_id=mid)) == n, "no attempts after giving up"
