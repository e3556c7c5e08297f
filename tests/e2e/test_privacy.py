"""Personal data is encrypted at rest: after a delivery and a bounce, no file in the data
dir (database, -wal, -shm, anything else) -- nor, on PostgreSQL, a pg_dump of the database --
nor the info-level log contains an address, a name, the subject or the content."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from pathlib import Path

from harness import _psql_bin, create_tenant, file_contains_any, unique

TIMEOUT = 90


def pg_dump(url: str) -> bytes:
    dump = str(Path(_psql_bin()).with_name("pg_dump"))
    p = subprocess.run([dump, "--no-owner", "--format=plain", url], capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout


def test_nothing_personal_is_stored_in_plaintext(procs, backend):
    tag = unique("")
    to = f"zebra-{tag}@privacy-{tag}.example"
    cc = f"yak-{tag}@example.net"
    bounced = f"walrus-{tag}@example.net"
    name = f"Zelda Quux{tag}"
    subject = f"Secret subject {tag}"
    text = f"Secret body text {tag}"
    html = f"<p>Secret html {tag}</p>"
    attachment = f"Secret attachment content {tag}".encode()
    att_b64 = base64.b64encode(attachment).decode()

    sink = procs.sink(rcpt_replies={bounced: "550 5.1.1 no such user"})
    taube = procs.taube(backend, relay=sink.addr, env={"TAUBE_LOG": "info"})
    t = create_tenant(taube)
    resp = t.api.send({
        "from": t.addr(), "to": [f"{name} <{to}>"], "cc": [cc, bounced],
        "subject": subject, "text": text, "html": html,
        "attachments": [{"filename": "notes.txt", "content_type": "text/plain",
                         "content_base64": att_b64}],
    })
    mid = resp["id"]
    got = sink.wait_for_rcpt(to, TIMEOUT)[0]
    assert text in got.msg.get_body(preferencelist=("plain",)).get_content()
    t.api.wait_event(mid, "delivered", to, timeout=TIMEOUT)
    t.api.wait_event(mid, "failed", bounced, timeout=TIMEOUT)
    # the API can still read it all back (so it was encrypted, not dropped)
    assert to in [r["address"].lower() for r in t.api.message(mid)["recipients"]]
    assert bounced in [b["address"].lower() for b in t.api.bounces()]
    assert t.api.events(recipient=to)

    needles = [s.encode() for s in (to, cc, bounced, f"zebra-{tag}", f"walrus-{tag}",
                                    f"yak-{tag}", name, subject, text, html, att_b64)] + [attachment]

    files = [p for p in taube.data_dir.rglob("*") if p.is_file()]
    assert files, "the data dir is empty"
    hits = file_contains_any(taube.data_dir, needles)
    assert hits == [], f"plaintext personal data on disk while running: {hits}"

    if backend.database_url:
        dump = pg_dump(backend.database_url).lower()
        leaked = [n for n in needles if n.lower() in dump]
        assert leaked == [], f"plaintext personal data in PostgreSQL: {leaked}"

    assert taube.stop() == 0
    hits = file_contains_any(taube.data_dir, needles)
    assert hits == [], f"plaintext personal data on disk after shutdown: {hits}"

    log = taube.log_text().encode().lower()
    leaked = [n for n in needles if n.lower() in log]
    assert leaked == [], f"personal data in the info-level log: {leaked}"

    key_file = taube.data_dir / "master.key"
    assert key_file.exists(), "master key created in the data dir"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
