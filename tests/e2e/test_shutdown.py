"""SIGTERM: the server finishes in-flight SMTP transactions, records their outcome, exits 0."""

from __future__ import annotations

import signal
import time

import requests

from harness import create_tenant, unique, wait_until

DELAY = 3.0


def test_sigterm_when_idle_exits_zero_quickly(procs, backend):
    taube = procs.taube(backend)
    assert requests.get(taube.url + "/healthz", timeout=10).status_code == 200
    t0 = time.monotonic()
    taube.signal(signal.SIGTERM)
    rc = taube.wait_exit(15)
    assert rc == 0, f"exit status {rc} after SIGTERM (None = still running after 15 s)"
    assert time.monotonic() - t0 < 15


def test_sigterm_lets_the_inflight_transaction_finish(procs, backend):
    sink = procs.sink(data_delay=DELAY)
    taube = procs.taube(backend, relay=sink.addr)
    t = create_tenant(taube)
    to = f"inflight-{unique()}@example.net"
    mid = t.api.send({"from": t.addr(), "to": [to], "subject": "in flight", "text": "x"})["id"]
    wait_until(lambda: sink.data_started >= 1, 60, interval=0.05, desc="the DATA command")
    sent_term = time.monotonic()
    taube.signal(signal.SIGTERM)
    rc = taube.wait_exit(DELAY + 30)
    exited = time.monotonic()
    assert rc == 0, f"exit status {rc} after SIGTERM (None = did not exit)"
    got = sink.for_rcpt(to)
    assert len(got) == 1, "the in-flight transaction was cut off instead of finishing"
    assert exited - sent_term >= DELAY * 0.5, "exited before the transaction could finish"

    # the outcome was recorded before exiting: after a restart it is not sent again
    taube.start()
    assert t.api.recipient_statuses(mid) == {to: "delivered"}
    assert [e["type"] for e in t.api.events(message_id=mid)].count("delivered") == 1
    time.sleep(3)
    assert len(sink.for_rcpt(to)) == 1, "delivered again after the restart"
