"""Authentication (Bearer and Basic), scopes, and tenant isolation on every endpoint."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness import Api, Sink, Taube, Tenant, create_key, create_tenant, unique

TIMEOUT = 90

ENDPOINTS = [
    ("POST", "/v1/messages", "send:email"),
    ("GET", "/v1/messages/{mid}", "messages:read"),
    ("GET", "/v1/events", "events:read"),
    ("GET", "/v1/suppressions/bounces", "events:read"),
    ("POST", "/v1/domains", "domains:manage"),
    ("GET", "/v1/domains/{domain}", "domains:manage"),
    ("POST", "/v1/domains/{domain}/verify", "domains:manage"),
]


@dataclass
class Ctx:
    taube: Taube
    sink: Sink
    a: Tenant
    b: Tenant
    a_mid: str
    a_bounced: str
    a_spare_domain: str  # for the domain endpoints: verifying it must not touch A's sending domain


@pytest.fixture(scope="module")
def ctx(module_backend, module_procs) -> Ctx:
    bounced = f"bounced-{unique()}@example.net"
    sink = module_procs.sink(rcpt_replies={bounced: "550 5.1.1 No such user"})
    # a DNS server that knows nothing, so that domain verification answers "not verified"
    dns = module_procs.dnsmasq(zones=["com"])
    taube = module_procs.taube(module_backend, relay=sink.addr,
                               env={"TAUBE_DNS_RESOLVER": dns.addr})
    a = create_tenant(taube)
    b = create_tenant(taube)
    a_mid = a.api.send({"from": a.addr(), "to": [f"secret-{unique()}@example.net", bounced],
                        "subject": "tenant A only", "text": "private"})["id"]
    a.api.wait_event(a_mid, "failed", bounced, timeout=TIMEOUT)
    assert bounced in [x["address"].lower() for x in a.api.bounces()]
    spare = f"spare-{unique()}.example.com"
    r = a.api.post("/v1/domains", json={"name": spare, "dkim_algorithm": "ed25519"})
    assert r.status_code == 201, r.text
    return Ctx(taube, sink, a, b, a_mid, bounced, spare)


def call(api: Api, method: str, path: str, c: Ctx, tenant: Tenant):
    path = path.format(mid=c.a_mid, domain=c.a_spare_domain)
    body = None
    if method == "POST" and path == "/v1/messages":
        body = {"from": tenant.addr(), "to": ["x@example.net"], "subject": "s", "text": "t",
                "test_mode": True}
    elif method == "POST" and path == "/v1/domains":
        body = {"name": f"new-{unique()}.example.com", "dkim_algorithm": "ed25519"}
    return api.request(method, path, json=body)


@pytest.mark.parametrize("method,path,scope", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_every_endpoint_needs_a_valid_key(ctx: Ctx, method, path, scope):
    for api in (ctx.taube.api(None),
                ctx.taube.api("tk_" + "f" * 40),
                ctx.taube.api("not-even-a-key"),
                ctx.taube.api(ctx.a.key + "x"),
                ctx.taube.api(ctx.a.key, auth="basic").with_key("wrong", "basic")):
        r = call(api, method, path, ctx, ctx.a)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.json()["error"] == "unauthorized"
    # a malformed Authorization header
    r = ctx.taube.api(None).request(method, path.format(mid=ctx.a_mid, domain=ctx.a_spare_domain),
                                    headers={"Authorization": "Bearer"})
    assert r.status_code == 401


@pytest.mark.parametrize("method,path,scope", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_every_endpoint_checks_its_scope(ctx: Ctx, method, path, scope):
    all_scopes = ["send:email", "events:read", "messages:read", "domains:manage"]
    others = ",".join(s for s in all_scopes if s != scope)
    without = ctx.taube.api(create_key(ctx.taube, ctx.a.name, others))
    r = call(without, method, path, ctx, ctx.a)
    assert r.status_code == 403, (method, path, r.status_code, r.text)
    assert r.json()["error"] == "forbidden"
    only = ctx.taube.api(create_key(ctx.taube, ctx.a.name, scope))
    r = call(only, method, path, ctx, ctx.a)
    assert r.status_code in (200, 201, 202), (method, path, r.status_code, r.text)


def test_basic_auth_works(ctx: Ctx):
    basic = ctx.taube.api(ctx.a.key, auth="basic")
    assert basic.get(f"/v1/messages/{ctx.a_mid}").status_code == 200
    r = basic.post("/v1/messages", json={"from": ctx.a.addr(), "to": ["basic@example.net"],
                                         "subject": "s", "text": "t", "test_mode": True})
    assert r.status_code == 202, r.text


def test_key_without_scopes_flag_has_all_scopes(ctx: Ctx):
    api = ctx.taube.api(create_key(ctx.taube, ctx.a.name))
    for method, path, _ in ENDPOINTS:
        r = call(api, method, path, ctx, ctx.a)
        assert r.status_code in (200, 201, 202), (method, path, r.status_code, r.text)


def test_health_endpoints_need_no_key(ctx: Ctx):
    import requests

    for path in ("/healthz", "/readyz", "/metrics"):
        assert requests.get(ctx.taube.url + path, timeout=10).status_code == 200, path


# --------------------------------------------------------------------------- tenant isolation


def test_tenant_b_cannot_read_a_message(ctx: Ctx):
    r = ctx.b.api.get(f"/v1/messages/{ctx.a_mid}")
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "not_found"
    assert ctx.a.api.get(f"/v1/messages/{ctx.a_mid}").status_code == 200


def test_tenant_b_sees_none_of_a_events(ctx: Ctx):
    assert ctx.a.api.events(message_id=ctx.a_mid), "A sees its own events"
    assert ctx.b.api.events(message_id=ctx.a_mid) == []
    assert ctx.b.api.events(recipient=ctx.a_bounced) == []
    assert all(e["message_id"] != ctx.a_mid for e in ctx.b.api.events())


def test_tenant_b_cannot_send_from_a_domain(ctx: Ctx):
    r = ctx.b.api.post("/v1/messages", json={"from": ctx.a.addr(), "to": ["x@example.net"],
                                              "subject": "spoof", "text": "t"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "domain_not_verified"
    assert r.json().get("field") == "from"


def test_tenant_b_cannot_see_or_verify_a_domain(ctx: Ctx):
    assert ctx.b.api.get(f"/v1/domains/{ctx.a.domain}").status_code == 404
    assert ctx.b.api.post(f"/v1/domains/{ctx.a.domain}/verify").status_code == 404
    assert ctx.a.api.get(f"/v1/domains/{ctx.a.domain}").status_code == 200


def test_suppressions_are_per_tenant(ctx: Ctx):
    assert ctx.a_bounced not in [x["address"].lower() for x in ctx.b.api.bounces()]
    resp = ctx.b.api.send({"from": ctx.b.addr(), "to": [ctx.a_bounced], "subject": "s",
                           "text": "t"})
    assert resp["recipients"][0]["status"] == "queued", "A's suppression list applied to B"
    resp = ctx.a.api.send({"from": ctx.a.addr(), "to": [ctx.a_bounced], "subject": "s",
                           "text": "t"})
    assert resp["recipients"][0]["status"] == "suppressed"
