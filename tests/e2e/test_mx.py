"""Delivery by MX (no relay) and domain verification, with dnsmasq as TAUBE_DNS_RESOLVER.

Each MX host resolves to its own loopback address (127.0.0.2, .3, .4) and every sink
listens on the same port, TAUBE_DELIVERY_PORT, so the address that received a message
tells which host was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness import Dnsmasq, Sink, Taube, Tenant, create_tenant, free_port_on_all, unique, wait_until

TIMEOUT = 90


@dataclass
class MxEnv:
    taube: Taube
    tenant: Tenant
    mx1: Sink  # 127.0.0.2, preference 10 for pref.test
    mx2: Sink  # 127.0.0.3, preference 20 (and the working host of down.test)
    a_host: Sink  # 127.0.0.4, the A record of nomx.test


@pytest.fixture(scope="module")
def mx(module_backend, module_procs, tmp_path_factory) -> MxEnv:
    port = free_port_on_all(["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"])
    mx1 = module_procs.sink(host="127.0.0.2", port=port)
    mx2 = module_procs.sink(host="127.0.0.3", port=port)
    a_host = module_procs.sink(host="127.0.0.4", port=port)
    dns = module_procs.dnsmasq(
        mx=[
            # listed worst-first on purpose: the client must sort by preference
            ("pref.test", "mx2.pref.test", 20),
            ("pref.test", "mx1.pref.test", 10),
            ("down.test", "mx2.down.test", 20),
            ("down.test", "mx1.down.test", 10),
        ],
        a=[
            ("mx1.pref.test", "127.0.0.2"),
            ("mx2.pref.test", "127.0.0.3"),
            ("mx1.down.test", "127.0.0.5"),  # nothing listens there: connection refused
            ("mx2.down.test", "127.0.0.3"),
            ("nomx.test", "127.0.0.4"),
        ],
    )
    taube = module_procs.taube(module_backend, relay="",
                               env={"TAUBE_DNS_RESOLVER": dns.addr,
                                    "TAUBE_DELIVERY_PORT": str(port)})
    tenant = create_tenant(taube)
    return MxEnv(taube, tenant, mx1, mx2, a_host)


def send(env: MxEnv, to: str) -> str:
    t = env.tenant
    return t.api.send({"from": t.addr(), "to": [to], "subject": "mx", "text": "mx"})["id"]


def test_lowest_preference_mx_is_used(mx: MxEnv):
    to = f"u-{unique()}@pref.test"
    mid = send(mx, to)
    got = mx.mx1.wait_for_rcpt(to, TIMEOUT)
    assert len(got) == 1
    mx.tenant.api.wait_status(mid, to, "delivered", TIMEOUT)
    assert mx.mx2.for_rcpt(to) == [] and mx.a_host.for_rcpt(to) == []


def test_next_mx_is_used_when_the_preferred_one_is_down(mx: MxEnv):
    to = f"u-{unique()}@down.test"
    mid = send(mx, to)
    mx.mx2.wait_for_rcpt(to, TIMEOUT)
    ev = mx.tenant.api.wait_event(mid, "delivered", to, timeout=TIMEOUT)
    assert ev
    assert mx.mx1.for_rcpt(to) == [] and mx.a_host.for_rcpt(to) == []


def test_a_record_fallback_without_mx(mx: MxEnv):
    to = f"u-{unique()}@nomx.test"
    mid = send(mx, to)
    mx.a_host.wait_for_rcpt(to, TIMEOUT)
    mx.tenant.api.wait_status(mid, to, "delivered", TIMEOUT)
    assert mx.mx1.for_rcpt(to) == [] and mx.mx2.for_rcpt(to) == []


def test_grouped_recipients_of_two_domains_go_to_their_own_hosts(mx: MxEnv):
    a, b = f"a-{unique()}@pref.test", f"b-{unique()}@nomx.test"
    t = mx.tenant
    mid = t.api.send({"from": t.addr(), "to": [a, b], "subject": "two domains", "text": "x"})["id"]
    mx.mx1.wait_for_rcpt(a, TIMEOUT)
    mx.a_host.wait_for_rcpt(b, TIMEOUT)
    t.api.wait_status(mid, a, "delivered", TIMEOUT)
    t.api.wait_status(mid, b, "delivered", TIMEOUT)
    assert b not in mx.mx1.rcpt_set() and a not in mx.a_host.rcpt_set()


def test_unknown_domain_is_not_delivered(mx: MxEnv):
    to = f"u-{unique()}@does-not-exist.test"
    mid = send(mx, to)
    t = mx.tenant
    ev = wait_until(lambda: [e for e in t.api.events(message_id=mid)
                             if e["type"] in ("deferred", "failed")], TIMEOUT,
                    desc="a deferred or failed event for an NXDOMAIN recipient")
    assert ev[0]["recipient"].lower() == to
    assert t.api.recipient_statuses(mid)[to] in ("deferred", "failed")


# --------------------------------------------------------------------------- domain verification


def publish(dns: Dnsmasq, tenant: Tenant, purposes=("dkim", "spf", "dmarc")) -> None:
    for r in tenant.domain_info["records"]:
        if r["purpose"] in purposes and r["type"].upper() == "TXT":
            dns.txt.append((r["name"].rstrip("."), r["value"]))


def test_domain_verification_over_dns(backend, procs, tmp_path_factory):
    dns = Dnsmasq(tmp_path_factory.mktemp("dns"))  # records are added once the keys exist
    procs.instances.append(dns)
    taube = procs.taube(backend, env={"TAUBE_DNS_RESOLVER": dns.addr})
    full_rsa = create_tenant(taube, domain=f"rsa-{unique()}.verify.test", algorithm="rsa", verify=False)
    full_ed = create_tenant(taube, domain=f"ed-{unique()}.verify.test", algorithm="ed25519", verify=False)
    dkim_only = create_tenant(taube, domain=f"dk-{unique()}.verify.test", algorithm="ed25519", verify=False)
    nothing = create_tenant(taube, domain=f"none-{unique()}.verify.test", algorithm="rsa", verify=False)
    wrong_key = create_tenant(taube, domain=f"wk-{unique()}.verify.test", algorithm="rsa", verify=False)
    publish(dns, full_rsa)
    publish(dns, full_ed)
    publish(dns, dkim_only, purposes=("dkim",))
    # wrong_key publishes SPF and a DKIM record that carries another domain's key
    publish(dns, wrong_key, purposes=("spf",))
    dns.txt.append((wrong_key.dkim_record["name"].rstrip("."), full_rsa.dkim_record["value"]))
    dns.start()

    def verify(t: Tenant) -> dict:
        r = t.api.post(f"/v1/domains/{t.domain}/verify")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["name"] == t.domain
        return body

    for t in (full_rsa, full_ed):
        body = verify(t)
        assert body["checks"] == {"dkim": True, "spf": True}, body
        assert body["verified"] is True
        got = t.api.get(f"/v1/domains/{t.domain}").json()
        assert got["verified"] is True
        # and it can now send
        r = t.api.post("/v1/messages", json={"from": t.addr(), "to": ["x@example.net"],
                                             "subject": "s", "text": "t", "test_mode": True})
        assert r.status_code == 202, r.text

    body = verify(dkim_only)
    assert body["checks"] == {"dkim": True, "spf": False}, body

    body = verify(wrong_key)
    assert body["checks"]["dkim"] is False, body
    assert body["checks"]["spf"] is True, body
    assert body["verified"] is False

    body = verify(nothing)
    assert body["verified"] is False
    assert body["checks"] == {"dkim": False, "spf": False}, body
    assert nothing.api.get(f"/v1/domains/{nothing.domain}").json()["verified"] is False
    r = nothing.api.post("/v1/messages", json={"from": nothing.addr(), "to": ["x@example.net"],
                                               "subject": "s", "text": "t"})
    assert r.status_code == 400 and r.json()["error"] == "domain_not_verified", r.text
    assert dns.proc.poll() is None, "dnsmasq kept running"
