"""At-least-once delivery across a crash: kill -9 during delivery, restart, nothing lost."""

from __future__ import annotations

import signal

from harness import create_tenant, unique, wait_until

N = 50
KILL_AT = 10  # the server is killed when the sink sees its KILL_AT-th DATA command


def test_every_accepted_message_arrives_after_kill_9(procs, backend):
    # A slow sink: each transaction waits before its final "250", so the kill lands inside
    # SMTP transactions.  The sink records a message only once it has answered "250".
    sink = procs.sink(data_delay=0.5)
    env = {"TAUBE_LEASE_SECS": "5", "TAUBE_RETRY_INITIAL_SECS": "1", "TAUBE_RETRY_MAX_SECS": "2"}
    taube = procs.taube(backend, relay=sink.addr, env=env)
    t = create_tenant(taube)
    run = unique("run-")

    killed = []

    def maybe_kill(n: int) -> None:
        if n == KILL_AT and not killed and taube.proc is not None:
            killed.append(n)
            taube.proc.send_signal(signal.SIGKILL)

    accepted: dict[str, tuple[str, str]] = {}
    for i in range(N):
        seq = f"{run}-{i}"
        to = f"crash-{i}-{run}@example.net"
        resp = t.api.send({"from": t.addr(), "to": [to], "subject": f"crash {i}",
                           "text": f"message {i}", "headers": {"X-Test-Seq": seq}})
        accepted[seq] = (resp["id"], to)
    # arm the crash only once every message got its 202
    sink.on_data = maybe_kill
    if sink.data_started >= KILL_AT:
        maybe_kill(KILL_AT)

    def seen() -> set[str]:
        return {m.header("X-Test-Seq") for m in sink.snapshot()} & accepted.keys()

    wait_until(lambda: killed, 180, desc="the server to be killed mid-delivery")
    taube.wait_exit(30)
    taube.kill9()  # reap, close the log
    before = len(seen())
    assert before < N, "everything was delivered before the crash; the test proves nothing"

    taube.start()
    wait_until(lambda: len(seen()) == N, 300, interval=0.5,
               desc=f"all {N} accepted messages at the sink ({before} arrived before the crash)")
    # and the store agrees: every recipient ends up delivered
    for seq, (mid, to) in list(accepted.items())[::5]:
        t.api.wait_status(mid, to, "delivered", 60)
