"""Sending domains: DKIM keys and the DNS records to publish; CLI force-verification."""

from __future__ import annotations

import base64
import re

import pytest

from harness import create_tenant, unique


@pytest.fixture(scope="module")
def taube(module_backend, module_procs):
    return module_procs.taube(module_backend)


def records(body: dict) -> dict[str, dict]:
    return {r["purpose"]: r for r in body["records"]}


@pytest.mark.parametrize("alg,body_alg", [("rsa", "rsa"), ("ed25519", "ed25519"), ("default", None)])
def test_create_domain_returns_records_to_publish(taube, alg, body_alg):
    t = create_tenant(taube, algorithm=None)
    name = f"{alg}-{unique()}.example.com"
    req = {"name": name}
    if body_alg:
        req["dkim_algorithm"] = body_alg
    r = t.api.post("/v1/domains", json=req)
    assert r.status_code == 201, r.text
    body = r.json()
    want_alg = body_alg or "rsa"  # RSA-2048 is the default
    assert body["name"] == name
    assert body["verified"] is False
    assert body["dkim_algorithm"] == want_alg
    sel = body["dkim_selector"]
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", sel), sel
    recs = records(body)
    assert set(recs) >= {"dkim", "spf", "dmarc"}
    for rec in recs.values():
        assert rec["type"] == "TXT"
    assert recs["dkim"]["name"].rstrip(".") == f"{sel}._domainkey.{name}"
    tags = dict(p.strip().split("=", 1) for p in recs["dkim"]["value"].split(";") if "=" in p)
    assert tags["v"] == "DKIM1"
    assert tags["k"] == want_alg
    key = base64.b64decode(tags["p"])
    if want_alg == "rsa":
        assert len(key) >= 270, "an RSA key of at least 2048 bits (DER SubjectPublicKeyInfo)"
    else:
        assert len(key) == 32, "a raw 32-byte ed25519 public key (RFC 8463)"
    assert recs["spf"]["name"].rstrip(".") == name
    assert recs["spf"]["value"].startswith("v=spf1 ")
    assert recs["spf"]["value"].endswith("~all")
    assert recs["dmarc"]["name"].rstrip(".") == f"_dmarc.{name}"
    assert recs["dmarc"]["value"].startswith("v=DMARC1;")

    got = t.api.get(f"/v1/domains/{name}")
    assert got.status_code == 200
    assert got.json() == body

    taube.cli("domain", "verify", "--tenant", t.name, name, "--force")
    after = t.api.get(f"/v1/domains/{name}").json()
    assert after["verified"] is True
    assert records(after)["dkim"] == recs["dkim"], "verifying does not change the key"


def test_each_domain_gets_its_own_key(taube):
    t = create_tenant(taube, algorithm=None)
    vals = set()
    for _ in range(2):
        r = t.api.post("/v1/domains", json={"name": f"k-{unique()}.example.com",
                                             "dkim_algorithm": "ed25519"})
        assert r.status_code == 201
        vals.add(records(r.json())["dkim"]["value"])
    assert len(vals) == 2


def test_cli_force_verify_creates_a_missing_domain(taube):
    t = create_tenant(taube, algorithm=None)
    name = f"cli-{unique()}.example.com"
    taube.cli("domain", "verify", "--tenant", t.name, name, "--force")
    body = t.api.get(f"/v1/domains/{name}").json()
    assert body["verified"] is True
    assert records(body)["dkim"]["value"].startswith("v=DKIM1;")
    r = t.api.post("/v1/messages", json={"from": f"a@{name}", "to": ["x@example.net"],
                                         "subject": "s", "text": "t", "test_mode": True})
    assert r.status_code == 202, r.text


def test_bad_domain_requests(taube):
    t = create_tenant(taube, algorithm=None)
    r = t.api.post("/v1/domains", json={"name": "not a domain"})
    assert r.status_code == 400, r.text
    r = t.api.post("/v1/domains", json={"name": f"x-{unique()}.example.com", "dkim_algorithm": "dsa"})
    assert r.status_code == 400, r.text
    r = t.api.get(f"/v1/domains/missing-{unique()}.example.com")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
