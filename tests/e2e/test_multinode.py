"""Two `taube serve` processes on one PostgreSQL database share the queue: every message
is delivered once in total, not once per node."""

from __future__ import annotations

import time

from harness import create_tenant, metric, unique, wait_until

N = 100


def test_two_nodes_deliver_each_message_exactly_once(procs, pg_backend, tmp_path_factory):
    sink = procs.sink(data_delay=0.05)
    shared = tmp_path_factory.mktemp("shared")
    key_file = shared / "master.key"
    common = {"TAUBE_MASTER_KEY_FILE": str(key_file)}
    n1 = procs.taube(pg_backend, name="node1", relay=sink.addr,
                     env={**common, "TAUBE_NODE_ID": "node-one"})
    assert key_file.exists(), "the first node created the shared master key"
    n2 = procs.taube(pg_backend, name="node2", relay=sink.addr,
                     env={**common, "TAUBE_NODE_ID": "node-two"})
    t = create_tenant(n1)
    apis = [t.api, n2.api(t.key)]
    run = unique("mn-")
    ids = {}
    for i in range(N):
        seq = f"{run}-{i}"
        resp = apis[i % 2].send({"from": t.addr(), "to": [f"mn-{i}-{run}@example.net"],
                                 "subject": f"multi {i}", "text": "x",
                                 "headers": {"X-Test-Seq": seq}})
        ids[seq] = resp["id"]

    def seqs() -> list[str]:
        return [m.header("X-Test-Seq") for m in sink.snapshot() if m.header("X-Test-Seq") in ids]

    wait_until(lambda: set(seqs()) == ids.keys(), 240, interval=0.5,
               desc=f"all {N} messages at the sink")
    time.sleep(5)  # let any duplicate arrive
    got = seqs()
    dups = sorted({s for s in got if got.count(s) > 1})
    assert len(got) == N, f"{len(got)} deliveries for {N} messages; duplicated: {dups[:10]}"

    # both nodes see the same data
    some = list(ids.values())[::7]
    for mid in some:
        m1, m2 = t.api.message(mid), n2.api(t.key).message(mid)
        assert m1["recipients"] == m2["recipients"]
        assert m1["recipients"][0]["status"] == "delivered"
        delivered = [e for e in t.api.events(message_id=mid) if e["type"] == "delivered"]
        assert len(delivered) == 1, delivered
    assert n1.running and n2.running
    # the work was shared (otherwise "exactly once" would be trivial)
    per_node = [metric(n.api().metrics(), "taube_deliveries_total", outcome="delivered")
                for n in (n1, n2)]
    assert sum(per_node) == N, per_node
    assert all(x > 0 for x in per_node), f"one node did all the work: {per_node}"
