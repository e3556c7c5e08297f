"""Delivery through a relay into aiosmtpd: headers, bodies, attachments, DKIM, events."""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass

import dkim
import pytest

from harness import Sink, Taube, Tenant, create_tenant, unique, wait_until

TIMEOUT = 90


@dataclass
class Env:
    taube: Taube
    sink: Sink
    tenants: dict[str, Tenant]


@pytest.fixture(scope="module")
def env(module_backend, module_procs) -> Env:
    sink = module_procs.sink()
    taube = module_procs.taube(module_backend, relay=sink.addr)
    tenants = {alg: create_tenant(taube, algorithm=alg) for alg in ("rsa", "ed25519")}
    return Env(taube, sink, tenants)


def dns_for(tenant: Tenant):
    """A dkimpy dnsfunc answering TXT questions from the domain's published records."""
    table = {r["name"].rstrip(".").lower(): r["value"]
             for r in tenant.domain_info["records"] if r["type"].upper() == "TXT"}

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        v = table.get(n.rstrip(".").lower())
        return v.encode() if v is not None else None

    return dnsfunc


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def norm(s: str) -> str:
    return s.replace("\r\n", "\n").rstrip("\n")


def assert_wire_clean(raw: bytes) -> None:
    """No bare CR or LF, no line over RFC 5322's 998 characters."""
    assert re.search(rb"(?<!\r)\n", raw) is None, "bare LF on the wire"
    assert re.search(rb"\r(?!\n)", raw) is None, "bare CR on the wire"
    longest = max((len(l) for l in raw.split(b"\r\n")), default=0)
    assert longest <= 998, f"line of {longest} characters on the wire"


@pytest.mark.parametrize("alg", ["rsa", "ed25519"])
def test_full_message_is_delivered_intact_and_dkim_verifies(env: Env, alg: str):
    t = env.tenants[alg]
    tag = unique()
    to = f"alice-{tag}@to.example.net"
    cc = f"carol-{tag}@cc.example.org"
    bcc = f"bob-{tag}@bcc.example.net"
    attachment = bytes(range(256)) * 8 + b"\r\n.\r\n\x00end"
    subject = f"Grüße ✓ {tag}"
    text = "Hello Alice,\nthis is the text part.\n\nBye.\n"
    html = "<html><body><p>Hello <b>Alice</b> ✓</p></body></html>"
    body = {
        "from": f"Sender Name <{t.addr('sender')}>",
        "to": [f"Alice Exämple <{to}>"],
        "cc": [cc],
        "bcc": [bcc],
        "reply_to": t.addr("replies"),
        "subject": subject,
        "text": text,
        "html": html,
        "headers": {"X-Custom-Header": f"custom-{tag}", "X-Test-Id": tag},
        "attachments": [{"filename": "data.bin", "content_type": "application/octet-stream",
                         "content_base64": base64.b64encode(attachment).decode()}],
        "tags": ["welcome", "e2e"],
        "metadata": {"user_id": "42", "plan": "pro"},
        "kind": "marketing",
    }
    resp = t.api.send(body)
    mid = resp["id"]
    assert {r["address"].lower() for r in resp["recipients"]} == {to, cc, bcc}
    assert all(r["status"] == "queued" for r in resp["recipients"]), resp

    wait_until(lambda: {to, cc, bcc} <= env.sink.rcpt_set(), TIMEOUT,
               desc="all three recipients at the sink")
    copies = env.sink.with_header("X-Test-Id", tag)
    assert copies, "delivered copies carry the custom X-Test-Id header"
    envelope_rcpts = sorted(r.lower() for c in copies for r in c.rcpt_tos)
    assert envelope_rcpts == sorted([to, cc, bcc]), "each recipient exactly once in the envelopes"

    for c in copies:
        m = c.msg
        assert_wire_clean(c.raw)
        assert m["From"].addresses[0].addr_spec == t.addr("sender")
        assert m["From"].addresses[0].display_name == "Sender Name"
        assert [a.addr_spec.lower() for a in m["To"].addresses] == [to]
        assert m["To"].addresses[0].display_name == "Alice Exämple"
        assert [a.addr_spec.lower() for a in m["Cc"].addresses] == [cc]
        assert m["Reply-To"].addresses[0].addr_spec == t.addr("replies")
        assert str(m["Subject"]) == subject
        assert m["Message-ID"], "Message-ID header"
        assert m["Date"], "Date header"
        assert m["X-Custom-Header"] == f"custom-{tag}"
        # Bcc is never disclosed in the headers of any copy
        assert m["Bcc"] is None
        assert bcc.encode() not in header_block(c.raw).lower()

        plain = m.get_body(preferencelist=("plain",))
        assert plain is not None, "text/plain part"
        assert norm(plain.get_content()) == norm(text)
        rich = m.get_body(preferencelist=("html",))
        assert rich is not None, "text/html part"
        assert norm(rich.get_content()) == norm(html)
        atts = [p for p in m.iter_attachments() if p.get_filename() == "data.bin"]
        assert len(atts) == 1, "one attachment named data.bin"
        assert atts[0].get_content_type() == "application/octet-stream"
        assert atts[0].get_payload(decode=True) == attachment

        # DKIM: signed by the from-domain with the selector and algorithm it published
        sigs = m.get_all("DKIM-Signature") or []
        assert sigs, "DKIM-Signature header"
        tags = dict(kv.strip().split("=", 1) for kv in re.sub(r"\s+", "", str(sigs[0])).split(";") if "=" in kv)
        assert tags["d"] == t.domain
        assert tags["s"] == t.domain_info["dkim_selector"]
        assert tags["a"] == ("rsa-sha256" if alg == "rsa" else "ed25519-sha256")
        assert "from" in tags["h"].lower().split(":")
        assert dkim.verify(c.raw, dnsfunc=dns_for(t)), f"DKIM signature of the {alg} domain verifies"

    # events and per-recipient status
    for addr in (to, cc, bcc):
        ev = t.api.wait_event(mid, "delivered", addr, timeout=TIMEOUT)[0]
        assert ev["message_id"] == mid
        assert ev["recipient_id"]
        assert ev["timestamp"]
        assert "250" in (ev.get("reply") or ""), ev
    accepted = [e for e in t.api.events(message_id=mid) if e["type"] == "accepted"]
    assert accepted, "an accepted event"

    msg = t.api.message(mid)
    assert msg["id"] == mid
    assert msg["kind"] == "marketing"
    assert msg["test_mode"] is False
    assert sorted(msg["tags"]) == ["e2e", "welcome"]
    assert msg["metadata"] == {"user_id": "42", "plan": "pro"}
    assert msg["created_at"]
    by_addr = {r["address"].lower(): r for r in msg["recipients"]}
    assert {a: r["type"] for a, r in by_addr.items()} == {to: "to", cc: "cc", bcc: "bcc"}
    for r in by_addr.values():
        assert r["status"] == "delivered"
        assert r["attempts"] >= 1
        assert "250" in (r.get("last_reply") or "")
    ids = {r["address"].lower(): r["id"] for r in resp["recipients"]}
    assert {a: r["id"] for a, r in by_addr.items()} == ids


def test_two_recipients_same_domain_both_receive_once(env: Env):
    t = env.tenants["rsa"]
    tag = unique()
    a, b = f"a-{tag}@x.example.net", f"b-{tag}@x.example.net"
    mid = t.api.send({"from": t.addr(), "to": [a, b], "subject": "two", "text": "hi",
                      "headers": {"X-Test-Id": tag}})["id"]
    wait_until(lambda: {a, b} <= env.sink.rcpt_set(), TIMEOUT, desc="both recipients")
    for addr in (a, b):
        t.api.wait_event(mid, "delivered", addr, timeout=TIMEOUT)
    time.sleep(2)  # a duplicate would show up now
    assert len(env.sink.for_rcpt(a)) == 1
    assert len(env.sink.for_rcpt(b)) == 1
    # one domain, one message: one SMTP transaction with several RCPTs
    assert sorted(env.sink.for_rcpt(a)[0].rcpt_tos) == sorted([a, b])
    assert t.api.recipient_statuses(mid) == {a: "delivered", b: "delivered"}


def test_custom_headers_pass_through(env: Env):
    t = env.tenants["ed25519"]
    tag = unique()
    to = f"h-{tag}@headers.example.net"
    headers = {"X-Test-Id": tag, "X-Campaign": "spring-sale",
               "List-Unsubscribe": f"<mailto:unsubscribe-{tag}@{t.domain}>",
               "X-Entity-Ref-ID": "ref 123"}
    t.api.send({"from": t.addr(), "to": [to], "subject": "h", "text": "h", "headers": headers})
    got = env.sink.wait_for_rcpt(to, TIMEOUT)[0].msg
    for k, v in headers.items():
        assert got[k] is not None, f"header {k} missing"
        assert " ".join(str(got[k]).split()) == v, k  # unfolded


def test_long_lines_and_bare_newlines_are_encoded_correctly(env: Env):
    t = env.tenants["rsa"]
    to = f"long-{unique()}@long.example.net"
    long_line = "".join(f"word{i} " for i in range(900))  # ~6 KB, no CRLF
    text = f"first\nsecond\n{long_line}\nlast\n"
    html = "<p>" + "x" * 3000 + "</p>"
    mid = t.api.send({"from": t.addr(), "to": [to], "subject": "long", "text": text, "html": html})["id"]
    c = env.sink.wait_for_rcpt(to, TIMEOUT)[0]
    assert_wire_clean(c.raw)
    m = c.msg
    assert norm(m.get_body(preferencelist=("plain",)).get_content()) == norm(text)
    assert norm(m.get_body(preferencelist=("html",)).get_content()) == norm(html)
    assert dkim.verify(c.raw, dnsfunc=dns_for(t))
    t.api.wait_status(mid, to, "delivered", TIMEOUT)


def test_rustsec_2021_0069_body_is_not_smuggled(env: Env):
    """The body "a\\r\\n\\r\\n.\\r\\nMAIL FROM:<x>\\r\\n" must arrive as text of one message."""
    t = env.tenants["rsa"]
    to = f"smuggle-{unique()}@smtp.example.net"
    evil = "a\r\n\r\n.\r\nMAIL FROM:<x>\r\n"
    mid = t.api.send({"from": t.addr(), "to": [to], "subject": "dots", "text": evil})["id"]
    t.api.wait_event(mid, "delivered", to, timeout=TIMEOUT)
    c = env.sink.wait_for_rcpt(to, TIMEOUT)[0]
    time.sleep(2)
    assert len(env.sink.for_rcpt(to)) == 1, "exactly one message for the recipient"
    assert "x" not in [f.strip("<>").lower() for f in env.sink.mail_froms], \
        "the body started a second SMTP transaction"
    assert_wire_clean(c.raw)
    lines = norm(c.msg.get_body(preferencelist=("plain",)).get_content()).split("\n")
    assert lines[:4] == ["a", "", ".", "MAIL FROM:<x>"], lines
    assert dkim.verify(c.raw, dnsfunc=dns_for(t))


def test_leading_dots_survive(env: Env):
    t = env.tenants["ed25519"]
    to = f"dots-{unique()}@smtp.example.net"
    text = ".\n..\n.hidden\nmiddle . line\n.\n"
    t.api.send({"from": t.addr(), "to": [to], "subject": "dots", "text": text})
    c = env.sink.wait_for_rcpt(to, TIMEOUT)[0]
    assert norm(c.msg.get_body(preferencelist=("plain",)).get_content()) == norm(text)


def test_html_only_message(env: Env):
    t = env.tenants["rsa"]
    to = f"html-{unique()}@html.example.net"
    html = "<h1>Only HTML</h1>"
    body = {"from": t.addr(), "to": [to], "subject": "html only", "html": html}
    mid = t.api.send(body)["id"]
    m = env.sink.wait_for_rcpt(to, TIMEOUT)[0].msg
    part = m.get_body(preferencelist=("html",))
    assert part is not None and norm(part.get_content()) == html
    t.api.wait_status(mid, to, "delivered", TIMEOUT)


def test_test_mode_is_accepted_but_never_delivered(env: Env):
    t = env.tenants["rsa"]
    to = f"testmode-{unique()}@testmode.example.net"
    resp = t.api.send({"from": t.addr(), "to": [to], "subject": "tm", "text": "tm",
                       "test_mode": True})
    mid = resp["id"]
    assert [r["status"] for r in resp["recipients"]] == ["test_mode"]
    msg = t.api.message(mid)
    assert msg["test_mode"] is True
    assert [r["status"] for r in msg["recipients"]] == ["test_mode"]
    evs = wait_until(lambda: t.api.events(message_id=mid), 30, desc="accepted event")
    assert "accepted" in [e["type"] for e in evs]
    time.sleep(4)
    assert env.sink.for_rcpt(to) == []
    types = [e["type"] for e in t.api.events(message_id=mid)]
    assert "delivered" not in types and "deferred" not in types, types
    assert t.api.recipient_statuses(mid) == {to: "test_mode"}
