"""Bad input: every error code of POST /v1/messages (and friends) with the right status,
code and field, and nothing stored: no accepted event, no counter moved, no mail sent."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from harness import Api, Sink, Taube, Tenant, create_key, create_tenant, metric, unique

MAX_BYTES = 200_000


@dataclass
class Ctx:
    taube: Taube
    sink: Sink
    a: Tenant
    b: Tenant
    unverified_domain: str
    readonly: Api
    known_message_id: str


@pytest.fixture(scope="module")
def ctx(module_backend, module_procs) -> Ctx:
    sink = module_procs.sink()
    taube = module_procs.taube(module_backend, relay=sink.addr,
                               env={"TAUBE_MAX_MESSAGE_BYTES": str(MAX_BYTES)})
    a = create_tenant(taube)
    b = create_tenant(taube)
    unverified = f"unverified-{unique()}.example.com"
    r = a.api.post("/v1/domains", json={"name": unverified})
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is False
    readonly = taube.api(create_key(taube, a.name, "events:read,messages:read"))
    known = a.api.send({"from": a.addr(), "to": ["known@example.net"], "subject": "s",
                        "text": "t", "test_mode": True})["id"]
    return Ctx(taube, sink, a, b, unverified, readonly, known)


def good(c: Ctx, **over) -> dict:
    body: dict[str, Any] = {"from": f"Sender <{c.a.addr()}>", "to": ["rcpt@example.net"],
                            "subject": "Hello", "text": "Body"}
    for k, v in over.items():
        if v is _DROP:
            body.pop(k, None)
        else:
            body[k] = v
    return body


_DROP = object()


@dataclass
class Case:
    id: str
    status: int
    code: str | None  # None: only the status is specified
    field: str | Callable[[str | None], bool] | None  # exact, predicate, or not checked
    build: Callable[[Ctx], dict]  # -> kwargs for Api.request (+ "api")


def post(body=None, *, data=None, api="a", headers=None):
    def build(c: Ctx) -> dict:
        kw: dict[str, Any] = {"method": "POST", "path": "/v1/messages", "api": api}
        if data is not None:
            kw["data"] = data
            kw["headers"] = {"Content-Type": "application/json", **(headers or {})}
        else:
            kw["json"] = body(c) if callable(body) else body
            kw["headers"] = headers
        return kw
    return build


def starts(prefix: str):
    return lambda f: f is not None and f.startswith(prefix)


def mentions(word: str):
    return lambda f: f is not None and word in f


CASES = [
    # -- authentication / authorisation
    Case("no_key", 401, "unauthorized", None, post(good, api="none")),
    Case("bad_key", 401, "unauthorized", None, post(good, api="bad")),
    Case("bad_basic_password", 401, "unauthorized", None, post(good, api="bad_basic")),
    Case("missing_scope", 403, "forbidden", None, post(good, api="readonly")),
    # -- JSON shape
    Case("malformed_json", 400, "invalid_json", None, post(data='{"from": "a@b", "to": [')),
    Case("not_json_at_all", 400, "invalid_json", None, post(data="hello there")),
    Case("not_utf8", 400, "invalid_json", None,
         post(data=b'{"from": "a@b.example", "subject": "\xff\xfe"}')),
    Case("deeply_nested", 400, None, None,
         post(data='{"metadata": ' + "[" * 5000 + "]" * 5000 + "}")),
    Case("unknown_top_level_field", 400, "unknown_field", mentions("tenant"),
         post(lambda c: good(c, tenant="someone-else"))),
    Case("unknown_attachment_field", 400, "unknown_field", mentions("colour"),
         post(lambda c: good(c, attachments=[{"filename": "a.txt", "content_type": "text/plain",
                                              "content_base64": "aGk=", "colour": "red"}]))),
    Case("missing_from", 400, "missing_field", "from", post(lambda c: good(c, **{"from": _DROP}))),
    Case("no_recipients", 400, "missing_field", "to", post(lambda c: good(c, to=_DROP))),
    Case("empty_recipient_lists", 400, "missing_field", "to",
         post(lambda c: good(c, to=[], cc=[], bcc=[]))),
    # -- addresses
    Case("to_not_an_address", 400, "invalid_address", "to[0]",
         post(lambda c: good(c, to=["not-an-address"]))),
    Case("to_second_bad", 400, "invalid_address", "to[1]",
         post(lambda c: good(c, to=["ok@example.net", "bad@"]))),
    Case("to_bad_domain", 400, "invalid_address", "to[0]",
         post(lambda c: good(c, to=["user@-bad-.example"]))),
    Case("to_space_in_local_part", 400, "invalid_address", "to[0]",
         post(lambda c: good(c, to=["a b@example.net"]))),
    Case("to_local_part_too_long", 400, "invalid_address", "to[0]",
         post(lambda c: good(c, to=["x" * 65 + "@example.net"]))),
    Case("cc_second_bad", 400, "invalid_address", "cc[1]",
         post(lambda c: good(c, cc=["ok@example.net", "a@@b.example"]))),
    Case("bcc_no_local_part", 400, "invalid_address", "bcc[0]",
         post(lambda c: good(c, bcc=["@example.net"]))),
    Case("from_not_an_address", 400, "invalid_address", "from",
         post(lambda c: good(c, **{"from": "not an address"}))),
    Case("reply_to_not_an_address", 400, "invalid_address", "reply_to",
         post(lambda c: good(c, reply_to="nope"))),
    # -- header injection
    Case("subject_crlf", 400, "header_injection", "subject",
         post(lambda c: good(c, subject="Hi\r\nBcc: evil@example.org"))),
    Case("subject_lf", 400, "header_injection", "subject",
         post(lambda c: good(c, subject="Hi\nX-Evil: 1"))),
    Case("subject_cr", 400, "header_injection", "subject",
         post(lambda c: good(c, subject="Hi\rX-Evil: 1"))),
    Case("subject_nul", 400, "header_injection", "subject",
         post(lambda c: good(c, subject="Hi\u0000there"))),
    Case("from_crlf", 400, "header_injection", "from",
         post(lambda c: good(c, **{"from": f"Sender\r\nBcc: evil@example.org <{c.a.addr()}>"}))),
    Case("to_crlf", 400, "header_injection", "to[0]",
         post(lambda c: good(c, to=["Victim\r\nBcc: evil@example.org <v@example.net>"]))),
    Case("reply_to_lf", 400, "header_injection", "reply_to",
         post(lambda c: good(c, reply_to="r@example.net\nBcc: evil@example.org"))),
    Case("header_value_crlf", 400, "header_injection", starts("headers"),
         post(lambda c: good(c, headers={"X-Foo": "a\r\nBcc: evil@example.org"}))),
    Case("header_name_crlf", 400, "header_injection", starts("headers"),
         post(lambda c: good(c, headers={"X-Foo\r\nBcc": "evil@example.org"}))),
    Case("header_value_nul", 400, "header_injection", starts("headers"),
         post(lambda c: good(c, headers={"X-Foo": "a\u0000b"}))),
    Case("attachment_filename_crlf", 400, "header_injection", starts("attachments[0]"),
         post(lambda c: good(c, attachments=[{
             "filename": "a.txt\r\nContent-Type: text/html", "content_type": "text/plain",
             "content_base64": "aGk="}]))),
    # -- sender domain
    Case("from_unverified_domain", 400, "domain_not_verified", "from",
         post(lambda c: good(c, **{"from": f"x@{c.unverified_domain}"}))),
    Case("from_other_tenants_domain", 400, "domain_not_verified", "from",
         post(lambda c: good(c, **{"from": f"x@{c.b.domain}"}))),
    Case("from_unknown_domain", 400, "domain_not_verified", "from",
         post(lambda c: good(c, **{"from": "x@nobody-owns-this.example"}))),
    # -- limits
    Case("1001_to", 400, "too_many_recipients", None,
         post(lambda c: good(c, to=[f"r{i}@example.net" for i in range(1001)]))),
    Case("1001_total", 400, "too_many_recipients", None,
         post(lambda c: good(c, to=[f"t{i}@example.net" for i in range(500)],
                             cc=[f"c{i}@example.net" for i in range(400)],
                             bcc=[f"b{i}@example.net" for i in range(101)]))),
    Case("text_too_large", 413, "message_too_large", None,
         post(lambda c: good(c, text="x" * (MAX_BYTES + 10_000)))),
    Case("attachment_too_large", 413, "message_too_large", None,
         post(lambda c: good(c, attachments=[{
             "filename": "big.bin", "content_type": "application/octet-stream",
             "content_base64": base64.b64encode(b"\x01" * (MAX_BYTES + 1000)).decode()}]))),
    # -- other bad values (status specified, code not)
    Case("unknown_kind", 400, None, None, post(lambda c: good(c, kind="bulk"))),
    Case("attachment_not_base64", 400, None, None,
         post(lambda c: good(c, attachments=[{"filename": "a.txt", "content_type": "text/plain",
                                              "content_base64": "%%% not base64 %%%"}]))),
    Case("test_mode_not_bool", 400, None, None, post(lambda c: good(c, test_mode="yes"))),
]


def _api(c: Ctx, which: str) -> Api:
    return {
        "a": c.a.api,
        "none": c.taube.api(None),
        "bad": c.taube.api("tk_" + "0" * 40),
        "bad_basic": c.taube.api("tk_" + "1" * 40, auth="basic"),
        "readonly": c.readonly,
    }[which]


def snapshot(c: Ctx) -> tuple:
    m = c.taube.api().metrics()
    return (
        len(c.a.api.events()),
        len(c.b.api.events()),
        metric(m, "taube_messages_accepted_total"),
        len(c.sink.snapshot()),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_rejected_and_changes_nothing(ctx: Ctx, case: Case):
    before = snapshot(ctx)
    kw = case.build(ctx)
    api = _api(ctx, kw.pop("api"))
    r = api.request(kw.pop("method"), kw.pop("path"), **kw)
    assert r.status_code == case.status, f"{case.id}: {r.status_code} {r.text[:500]}"
    body = r.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    if case.code is not None:
        assert body.get("error") == case.code, body
    else:
        assert isinstance(body.get("error"), str) and body["error"], body
    if isinstance(case.field, str):
        assert body.get("field") == case.field, body
    elif callable(case.field):
        assert case.field(body.get("field")), body
    assert snapshot(ctx) == before, "a rejected request changed stored state"


def test_unknown_message_is_404(ctx: Ctx):
    known = ctx.known_message_id
    other = known[:-1] + ("1" if known[-1] == "0" else "0")
    r = ctx.a.api.get(f"/v1/messages/{other}")
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "not_found"
    assert ctx.a.api.get(f"/v1/messages/{known}").status_code == 200


VALID = [
    ("idn_domain", lambda c: good(c, to=["user@bücher.example"])),
    ("display_name_with_comma", lambda c: good(c, to=['"Doe, John" <john@example.net>'])),
    ("plus_and_uppercase", lambda c: good(c, to=["First.Last+tag@Sub.Example.NET"])),
    ("bcc_only", lambda c: good(c, to=_DROP, bcc=["hidden@example.net"])),
    ("exactly_1000_recipients", lambda c: good(c, to=[f"r{i}@example.net" for i in range(1000)])),
    ("just_under_size_limit", lambda c: good(c, text="y" * (MAX_BYTES // 2))),
    ("unicode_subject", lambda c: good(c, subject="Grüße — ✓ 你好")),
]


@pytest.mark.parametrize("build", [v[1] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_edge_cases_are_accepted(ctx: Ctx, build):
    body = build(ctx)
    body["test_mode"] = True
    r = ctx.a.api.post("/v1/messages", json=body)
    assert r.status_code == 202, r.text
    out = r.json()
    n = len(body.get("to", [])) + len(body.get("cc", [])) + len(body.get("bcc", []))
    assert len(out["recipients"]) == n
    assert all(x["status"] == "test_mode" for x in out["recipients"])


def test_sink_received_nothing(ctx: Ctx):
    """Runs last in the module: nothing above may have produced a delivery."""
    time.sleep(3)
    assert ctx.sink.snapshot() == []
