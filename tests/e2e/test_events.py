"""GET /v1/events: filters, time range, ordering and cursor pagination."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from harness import Taube, Tenant, create_tenant, unique

TIMEOUT = 90


@dataclass
class Ctx:
    taube: Taube
    t: Tenant
    m1: str
    m2: str
    a: str
    b: str
    c: str
    boundary: str


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def ctx(module_backend, module_procs) -> Ctx:
    a, b, c = (f"{x}-{unique()}@example.net" for x in "abc")
    sink = module_procs.sink(rcpt_replies={c: "550 5.1.1 no such user"})
    taube = module_procs.taube(module_backend, relay=sink.addr)
    t = create_tenant(taube)
    m1 = t.api.send({"from": t.addr(), "to": [a, b], "subject": "1", "text": "1"})["id"]
    t.api.wait_event(m1, "delivered", a, timeout=TIMEOUT)
    t.api.wait_event(m1, "delivered", b, timeout=TIMEOUT)
    time.sleep(1.5)
    boundary = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    time.sleep(1.5)
    m2 = t.api.send({"from": t.addr(), "to": [a, c], "subject": "2", "text": "2"})["id"]
    t.api.wait_event(m2, "delivered", a, timeout=TIMEOUT)
    t.api.wait_event(m2, "failed", c, timeout=TIMEOUT)
    return Ctx(taube, t, m1, m2, a, b, c, boundary)


def test_event_shape_and_order(ctx: Ctx):
    evs = ctx.t.api.events()
    ours = [e for e in evs if e["message_id"] in (ctx.m1, ctx.m2)]
    assert len(ours) >= 7  # 4 accepted-or-more, 3 delivered, 1 failed (accepted may be per message)
    for e in ours:
        for k in ("id", "type", "message_id", "recipient_id", "recipient", "timestamp"):
            assert e.get(k), (k, e)
        assert e["type"] in ("accepted", "delivered", "deferred", "failed", "suppressed")
        assert "reply" in e
    times = [parse(e["timestamp"]) for e in evs]
    assert times == sorted(times), "events are oldest first"
    assert len({e["id"] for e in evs}) == len(evs)
    assert [e["type"] for e in ours].index("accepted") < [e["type"] for e in ours].index("delivered")


def test_filter_by_message(ctx: Ctx):
    evs = ctx.t.api.events(message_id=ctx.m2)
    assert evs and all(e["message_id"] == ctx.m2 for e in evs)
    assert {e["recipient"].lower() for e in evs} == {ctx.a, ctx.c}


def test_filter_by_recipient(ctx: Ctx):
    evs = ctx.t.api.events(recipient=ctx.a)
    assert {e["message_id"] for e in evs} == {ctx.m1, ctx.m2}
    assert all(e["recipient"].lower() == ctx.a for e in evs)
    assert [e["type"] for e in evs].count("delivered") == 2
    # the address is matched whatever its case
    assert len(ctx.t.api.events(recipient=ctx.a.upper())) == len(evs)


def test_filter_by_type(ctx: Ctx):
    failed = ctx.t.api.events(type="failed")
    assert [(e["message_id"], e["recipient"].lower()) for e in failed] == [(ctx.m2, ctx.c)]
    assert "550" in (failed[0]["reply"] or "")
    delivered = ctx.t.api.events(type="delivered")
    assert len(delivered) == 3 and all(e["type"] == "delivered" for e in delivered)
    assert ctx.t.api.events(type="delivered", recipient=ctx.b, message_id=ctx.m1)[0]["recipient"].lower() == ctx.b


def test_time_range(ctx: Ctx):
    after = ctx.t.api.events(since=ctx.boundary)
    before = ctx.t.api.events(until=ctx.boundary)
    assert after and {e["message_id"] for e in after} == {ctx.m2}
    assert before and {e["message_id"] for e in before} == {ctx.m1}
    assert all(parse(e["timestamp"]) >= parse(ctx.boundary) for e in after)
    everything = ctx.t.api.events()
    assert len(after) + len(before) == len(everything)
    assert ctx.t.api.events(since=ctx.boundary, until=ctx.boundary) == []


def test_cursor_pagination(ctx: Ctx):
    everything = ctx.t.api.events()
    pages, cursor = [], None
    for _ in range(100):
        page = ctx.t.api.events_page(limit=2, cursor=cursor)
        assert len(page["events"]) <= 2
        pages.append(page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None, "pagination never ended"
    assert len(pages) >= len(everything) // 2
    flat = [e["id"] for p in pages for e in p]
    assert flat == [e["id"] for e in everything]
    # filters and pagination combine
    only_a = ctx.t.api.events(recipient=ctx.a, limit=1)
    assert [e["id"] for e in only_a] == [e["id"] for e in ctx.t.api.events(recipient=ctx.a)]


def test_bad_time_is_rejected(ctx: Ctx):
    r = ctx.t.api.get("/v1/events", params={"since": "yesterday"})
    assert r.status_code == 400, r.text
    assert r.json().get("error")
