#!/usr/bin/env bash
# Taube benchmark (issue 2, "Benchmark"): API accept, end-to-end delivery with DKIM, and
# Postfix relaying the same load side by side, all on loopback (127.0.0.1 only).
#
# Usage:
#   bench/run.sh                      # full run (about 3 minutes on 2 cores)
#   E2E_COUNT=500 ACCEPT_SECS=5 BATCH_SECS=5 BACKLOG_RCPTS=0 bench/run.sh   # quick check
#
# Needs: a release build (cargo build --release -p taube), wrk, curl, python3, and Debian's
# postfix package (smtp-sink, smtp-source, postfix). Run as root (smtp-sink -u nobody, and the
# private Postfix instance needs root to start). Nothing is installed or changed outside a
# temporary work directory under /tmp (needs ~2 GiB free; each phase's data directory is
# deleted after the phase unless KEEP_WORK=1, which keeps everything, ~5 GiB); every process
# the script starts is stopped on exit.
#
# Phases (PHASES, space separated, default all, in this order):
#   accept   single-recipient POST /v1/messages, ACCEPT_CONNS connections for ACCEPT_SECS (wrk),
#            while the dispatcher delivers what is accepted to a local smtp-sink (DKIM on)
#   batch    BATCH_RCPTS-recipient POSTs, BATCH_CONNS connections for BATCH_SECS (wrk), delivering
#   accept_stalled, batch_stalled
#            the same, but the destination never answers DATA, so the dispatcher is idle and
#            the numbers show the accept path alone (every accept still durably committed)
#   e2e      for each size in E2E_SIZES: E2E_COUNT messages through Taube (DKIM-signed, relayed
#            to smtp-sink), then the same count and size through a private Postfix
#            (smtp-source -> postfix -> smtp-sink); prints the Taube/Postfix ratio
#   backlog  BACKLOG_RCPTS recipients queued behind a destination that never answers DATA;
#            reports Taube's RSS with that backlog (0 skips)
# Each Taube phase uses a fresh data directory and a fresh `taube serve` (SQLite, WAL,
# synchronous=FULL); the memory column is that process's peak RSS (VmHWM).
#
# Environment overrides (defaults in brackets):
#   TAUBE_BIN [target/release/taube]   WRK_THREADS [2]
#   PHASES [accept batch accept_stalled batch_stalled e2e backlog]
#   ACCEPT_SECS [20]  ACCEPT_CONNS [64]  BATCH_SECS [20]  BATCH_CONNS [8]  BATCH_RCPTS [1000]
#   E2E_COUNT [5000]  E2E_SIZES ["10240 102400"] (bytes of text body)  E2E_CONNS [64]
#   PF_SESSIONS [20] (smtp-source -s)  E2E_TIMEOUT [600] (s, bound for one e2e run)
#   BACKLOG_RCPTS [1000000]  BACKLOG_CONNS [4]
#   KEEP_WORK [0] (1 keeps the work directory with logs)  RESULTS_FILE [] (copy the summary)

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
TAUBE_BIN=${TAUBE_BIN:-$ROOT/target/release/taube}
WRK_THREADS=${WRK_THREADS:-2}
PHASES=${PHASES:-"accept batch accept_stalled batch_stalled e2e backlog"}
ACCEPT_SECS=${ACCEPT_SECS:-20}
ACCEPT_CONNS=${ACCEPT_CONNS:-64}
BATCH_SECS=${BATCH_SECS:-20}
BATCH_CONNS=${BATCH_CONNS:-8}
BATCH_RCPTS=${BATCH_RCPTS:-1000}
E2E_COUNT=${E2E_COUNT:-5000}
E2E_SIZES=${E2E_SIZES:-"10240 102400"}
E2E_CONNS=${E2E_CONNS:-64}
E2E_TIMEOUT=${E2E_TIMEOUT:-600}
PF_SESSIONS=${PF_SESSIONS:-20}
BACKLOG_RCPTS=${BACKLOG_RCPTS:-1000000}
BACKLOG_CONNS=${BACKLOG_CONNS:-4}
KEEP_WORK=${KEEP_WORK:-0}
RESULTS_FILE=${RESULTS_FILE:-}

SMTP_SINK=/usr/sbin/smtp-sink
SMTP_SOURCE=/usr/sbin/smtp-source
POSTFIX=/usr/sbin/postfix
POSTCONF=/usr/sbin/postconf

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

for tool in "$TAUBE_BIN" wrk curl python3 "$SMTP_SINK" "$SMTP_SOURCE" "$POSTFIX" "$POSTCONF"; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool (see the usage at the top of $0)"
done
[ "$(id -u)" = 0 ] || die "run as root (smtp-sink -u nobody and the private Postfix need it)"

WORK=$(mktemp -d /tmp/taube-bench.XXXXXX)
chmod 755 "$WORK"
# Run a private copy, so that a rebuild during the run cannot swap the binary between phases.
cp "$TAUBE_BIN" "$WORK/taube"
TAUBE_BIN_ORIG=$TAUBE_BIN
TAUBE_BIN="$WORK/taube"
TAUBE_SHA=$(sha256sum "$TAUBE_BIN" | cut -d' ' -f1)
PIDS=()            # every background process this script started
PF_CONF=""         # set once the private Postfix instance is configured
PF_STARTED=0
RESULTS="$WORK/results.tsv"
: >"$RESULTS"

# is_our_child PID: PID is still a child of this shell (running, or exited but not yet reaped,
# so its PID cannot have been reused by an unrelated process).
is_our_child() {
    [ -r "/proc/$1/stat" ] && [ "$(awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null)" = "$$" ]
}

cleanup() {
    local rc=$?
    set +e
    if [ "$PF_STARTED" = 1 ]; then
        "$POSTFIX" -c "$PF_CONF" stop >/dev/null 2>&1
        sleep 1
        "$POSTFIX" -c "$PF_CONF" abort >/dev/null 2>&1
    fi
    local pid
    for pid in "${PIDS[@]}"; do is_our_child "$pid" && kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do is_our_child "$pid" || break; sleep 0.1; done
        is_our_child "$pid" && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    # Postfix's master daemonizes; if this instance's master is still there (its working
    # directory is our queue directory), end it.
    if [ -n "$PF_CONF" ] && [ -f "$WORK/postfix/queue/pid/master.pid" ]; then
        pid=$(tr -d ' ' <"$WORK/postfix/queue/pid/master.pid")
        if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$WORK/postfix/queue" ]; then
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    if [ "$KEEP_WORK" = 1 ]; then
        echo "bench: work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers

now() { date +%s.%N; }
# nap SECONDS: sleep without forking (read with a timeout on a FIFO nobody writes to), so that
# polling loops cost next to no CPU on a 2-core machine.
mkfifo "$WORK/nap.fifo"
exec 9<>"$WORK/nap.fifo"
nap() { read -r -t "$1" -u 9 _ || true; }
# fdiv A B [decimals]: A / B
fdiv() { awk -v a="$1" -v b="$2" -v d="${3:-0}" 'BEGIN { if (b == 0) print "n/a"; else printf "%.*f\n", d, a / b }'; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a - b }'; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port PORT: until something listens on 127.0.0.1:PORT (bounded: 10 s)
    local i
    for i in $(seq 100); do
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$1"
}

# start_sink PORT LOGFILE [smtp-sink options...]: starts smtp-sink, sets SINK_PID
start_sink() {
    local port=$1 logfile=$2
    shift 2
    "$SMTP_SINK" -u nobody "$@" "127.0.0.1:$port" 1024 >"$logfile" 2>&1 &
    SINK_PID=$!
    PIDS+=("$SINK_PID")
    wait_port "$port"
}

stop_pid() { # stop_pid PID [grace seconds]: TERM, then KILL after the grace period
    local pid=$1 grace=${2:-20} i
    is_our_child "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq $((grace * 10))); do is_our_child "$pid" || break; sleep 0.1; done
    is_our_child "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

vm_kib() { # vm_kib PID FIELD: e.g. VmHWM, VmRSS in KiB
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}
cpu_secs() { # user+system CPU seconds used so far by PID (all threads)
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

metric() { # metric NAME_WITH_LABELS: value from Taube's /metrics, 0 when absent
    curl -sf --max-time 10 "http://$TAUBE_ADDR/metrics" |
        awk -v m="$1" '$1 == m { v = $2 } END { printf "%d\n", v + 0 }'
}

# taube_start NAME RELAY_PORT: fresh data dir, tenant, key, verified domain; starts `taube serve`.
# Sets TAUBE_PID, TAUBE_ADDR, KEY.
taube_start() {
    local name=$1 relay_port=$2 port data
    port=$(free_port)
    data="$WORK/taube-$name"
    mkdir -p "$data"
    export TAUBE_DATA_DIR="$data" TAUBE_HTTP_ADDR="127.0.0.1:$port"
    export TAUBE_DELIVERY_RELAY="127.0.0.1:$relay_port" TAUBE_LOG=warn
    unset TAUBE_DATABASE_URL TAUBE_CONFIG
    "$TAUBE_BIN" tenant create bench >"$data/setup.log" 2>&1
    KEY=$("$TAUBE_BIN" key create --tenant bench 2>>"$data/setup.log" | tail -1)
    [ -n "$KEY" ] || die "taube key create printed no key (see $data/setup.log)"
    "$TAUBE_BIN" domain verify --tenant bench bench.example --force >>"$data/setup.log" 2>&1
    "$TAUBE_BIN" serve >"$data/serve.log" 2>&1 &
    TAUBE_PID=$!
    PIDS+=("$TAUBE_PID")
    TAUBE_ADDR="127.0.0.1:$port"
    local i
    for i in $(seq 300); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$TAUBE_ADDR/readyz")" = 200 ]; then
            # One request through the whole path, so that a broken setup fails here, loudly.
            local code
            code=$(curl -s -o "$data/probe.json" -w '%{http_code}' -X POST "http://$TAUBE_ADDR/v1/messages" \
                -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
                -d '{"from":"bench@bench.example","to":["probe@dest.example"],"subject":"probe","text":"probe","test_mode":true}')
            [ "$code" = 202 ] || die "probe POST answered $code: $(cat "$data/probe.json")"
            return 0
        fi
        kill -0 "$TAUBE_PID" 2>/dev/null || die "taube serve exited (see $data/serve.log)"
        sleep 0.1
    done
    die "taube serve not ready after 30 s (see $data/serve.log)"
}

taube_stop() {
    stop_pid "$TAUBE_PID" 20
    # A phase's data directory can reach a few GiB (the accept phases store every message).
    [ "$KEEP_WORK" = 1 ] || rm -rf "$TAUBE_DATA_DIR"
}

# make_body FILE TEXT_BYTES RECIPIENTS: a POST /v1/messages body with a text part of TEXT_BYTES
# bytes (printable ASCII, 76-character lines) and RECIPIENTS addresses at dest.example.
make_body() {
    python3 - "$@" <<'EOF'
import json, sys
path, size, rcpts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = "The quick brown fox jumps over the lazy dog, again and again and again 0123\n"
text = (line * (size // len(line) + 1))[:size]
to = ["rcpt%d@dest.example" % i for i in range(rcpts)] if rcpts > 1 else ["rcpt@dest.example"]
body = {"from": "bench@bench.example", "to": to, "subject": "Taube benchmark", "text": text}
with open(path, "w") as f:
    json.dump(body, f)
EOF
}

# run_wrk OUTFILE CONNS DURATION_S TOTAL BODYFILE: runs wrk against Taube; TOTAL 0 = timed run.
run_wrk() {
    local out=$1 conns=$2 secs=$3 total=$4 body=$5 threads=$WRK_THREADS
    [ "$conns" -lt "$threads" ] && threads=$conns
    BENCH_KEY="$KEY" BENCH_BODY_FILE="$body" BENCH_TOTAL="$total" BENCH_THREADS="$threads" \
        wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 30s --latency \
        -s "$BENCH_DIR/post.lua" "http://$TAUBE_ADDR" >"$out" 2>&1 || {
        cat "$out" >&2
        die "wrk failed"
    }
}
# run_wrk_count OUTFILE CONNS TOTAL BODYFILE: sends exactly TOTAL POSTs, returns once every one
# is answered (bounded by E2E_TIMEOUT). Sets WRK_DONE_AT (time the last answer was seen).
run_wrk_count() {
    local out=$1 conns=$2 total=$3 body=$4 threads=$WRK_THREADS
    [ "$conns" -lt "$threads" ] && threads=$conns
    local done_dir
    done_dir=$(mktemp -d "$WORK/wrk-done.XXXXXX")
    BENCH_KEY="$KEY" BENCH_BODY_FILE="$body" BENCH_TOTAL="$total" BENCH_THREADS="$threads" \
        BENCH_DONE_DIR="$done_dir" \
        wrk -t "$threads" -c "$conns" -d "${E2E_TIMEOUT}s" --timeout 30s --latency \
        -s "$BENCH_DIR/post.lua" "http://$TAUBE_ADDR" >"$out" 2>&1 &
    local wrk_pid=$!
    PIDS+=("$wrk_pid")
    local files
    while kill -0 "$wrk_pid" 2>/dev/null; do
        files=("$done_dir"/thread-*)
        [ -e "${files[0]}" ] && [ "${#files[@]}" -ge "$threads" ] && break
        nap 0.02
    done
    WRK_DONE_AT=$(now)
    is_our_child "$wrk_pid" && kill -INT "$wrk_pid" 2>/dev/null
    wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed"; }
}
bench_field() { # bench_field FILE NAME: a field of wrk's "BENCH ..." line
    awk -v k="$2" '$1 == "BENCH" { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$1"
}

result() { # result KEY VALUE: one line of results.tsv
    printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"
}
get() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$RESULTS"; }

note_load() {
    log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    result "load_$1" "$(cut -d' ' -f1 /proc/loadavg)"
}

# How busy is the machine before we start? Other work on a 2-core machine skews every number.
cpu_busy_pct() { # busy share of all CPUs over $1 seconds, from /proc/stat
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f\n", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}
IDLE_BUSY=$(cpu_busy_pct 3)
result idle_busy_pct "$IDLE_BUSY"
if [ "$IDLE_BUSY" -gt 10 ]; then
    log "WARNING: the machine is already ${IDLE_BUSY}% busy before the benchmark starts; results will be low"
fi

# ---------------------------------------------------------------- phases

# One smtp-sink receives everything Taube delivers during the accept, batch and e2e phases.
TAUBE_SINK_PORT=$(free_port)
start_sink "$TAUBE_SINK_PORT" "$WORK/taube-sink.log"
TAUBE_SINK_PID=$SINK_PID

# phase_accept NAME CONNS SECS RCPTS MODE: MODE "deliver" relays to the smtp-sink (the dispatcher
# delivers, DKIM-signing each message, while the API is under load); "stall" relays to a sink
# that never answers DATA, so the dispatcher sits idle and the API gets the whole machine.
phase_accept() {
    local name=$1 conns=$2 secs=$3 rcpts=$4 mode=$5 relay=$TAUBE_SINK_PORT stall=""
    log "phase $name: $rcpts-recipient POSTs, $conns connections, ${secs}s, delivery: $mode"
    note_load "$name"
    if [ "$mode" = stall ]; then
        relay=$(free_port)
        start_sink "$relay" "$WORK/$name.sink" -w 3600
        stall=$SINK_PID
    fi
    taube_start "$name" "$relay"
    make_body "$WORK/$name.json" 200 "$rcpts"
    local cpu0 acc0
    cpu0=$(cpu_secs "$TAUBE_PID")
    acc0=$(metric taube_messages_accepted_total)
    run_wrk "$WORK/$name.wrk" "$conns" "$secs" 0 "$WORK/$name.json"
    local cpu1 acc1 reqs dur errs sock
    cpu1=$(cpu_secs "$TAUBE_PID")
    acc1=$(metric taube_messages_accepted_total)
    reqs=$(bench_field "$WORK/$name.wrk" requests)
    dur=$(bench_field "$WORK/$name.wrk" duration_us)
    errs=$(bench_field "$WORK/$name.wrk" status_errors)
    sock=$(bench_field "$WORK/$name.wrk" socket_errors)
    [ -n "$reqs" ] || { cat "$WORK/$name.wrk" >&2; die "no BENCH line from wrk"; }
    local ok=$((reqs - errs))
    result "${name}_requests" "$ok"
    result "${name}_errors" "$((errs + sock))"
    result "${name}_server_accepted" "$((acc1 - acc0))"
    result "${name}_rps" "$(fdiv "$ok" "$(fdiv "$dur" 1000000 6)" 0)"
    result "${name}_rcpts_per_s" "$(fdiv "$((ok * rcpts))" "$(fdiv "$dur" 1000000 6)" 0)"
    result "${name}_p50_ms" "$(fdiv "$(bench_field "$WORK/$name.wrk" p50_us)" 1000 1)"
    result "${name}_p99_ms" "$(fdiv "$(bench_field "$WORK/$name.wrk" p99_us)" 1000 1)"
    result "${name}_cpu_s" "$(fsub "$cpu1" "$cpu0")"
    result "${name}_delivered_during" "$(metric 'taube_deliveries_total{outcome="delivered"}')"
    result "${name}_hwm_mib" "$(fdiv "$(vm_kib "$TAUBE_PID" VmHWM)" 1024 0)"
    log "  $ok requests answered 2xx in $(fdiv "$dur" 1000000 1)s, $errs non-2xx, $sock socket errors; server counted $((acc1 - acc0)) accepts"
    # Deliveries in flight wait on the stalled sink; end them first so that shutdown is quick.
    [ -n "$stall" ] && stop_pid "$stall" 2
    taube_stop
}

# The private Postfix instance: its own config, queue and data directories under $WORK.
postfix_setup() {
    PF_PORT=$(free_port)
    PF_SINK_PORT=$(free_port)
    local d="$WORK/postfix"
    PF_CONF="$d/etc"
    mkdir -p "$PF_CONF" "$d/queue" "$d/data"
    chown postfix "$d/data" # the master's lock file lives there
    cp /etc/postfix/master.cf "$PF_CONF/master.cf"
    : >"$PF_CONF/main.cf"
    "$POSTCONF" -c "$PF_CONF" -e \
        "compatibility_level = 3.6" \
        "queue_directory = $d/queue" \
        "data_directory = $d/data" \
        "mail_owner = postfix" \
        "setgid_group = postdrop" \
        "myhostname = postfix-bench.localhost" \
        "mydomain = localhost" \
        "myorigin = localhost" \
        "inet_interfaces = loopback-only" \
        "inet_protocols = ipv4" \
        "mynetworks = 127.0.0.0/8" \
        "mydestination =" \
        "relay_domains =" \
        "local_recipient_maps =" \
        "local_transport = error:no local delivery in the benchmark" \
        "alias_maps =" \
        "alias_database =" \
        "relayhost = [127.0.0.1]:$PF_SINK_PORT" \
        "smtpd_relay_restrictions = permit_mynetworks, reject" \
        "smtp_tls_security_level = none" \
        "smtpd_tls_security_level = none" \
        "maillog_file =" \
        "biff = no"
    # No chroot (the queue directory is a fresh temp dir), and the SMTP listener on a high
    # loopback port instead of port 25.
    "$POSTCONF" -c "$PF_CONF" -F '*/*/chroot = n'
    "$POSTCONF" -c "$PF_CONF" -MX smtp/inet
    echo "127.0.0.1:$PF_PORT inet n - n - - smtpd" >>"$PF_CONF/master.cf"
    "$POSTFIX" -c "$PF_CONF" check >"$d/check.log" 2>&1 || { cat "$d/check.log" >&2; die "postfix check failed"; }
    "$POSTFIX" -c "$PF_CONF" start >"$d/start.log" 2>&1 || { cat "$d/start.log" >&2; die "postfix start failed"; }
    PF_STARTED=1
    wait_port "$PF_PORT"
}

# e2e_taube SIZE: E2E_COUNT messages of SIZE bytes through Taube into smtp-sink.
e2e_taube() {
    local size=$1 name="taube_$1" n=$E2E_COUNT
    log "phase e2e $name: $n messages of $size bytes, DKIM on, $E2E_CONNS connections"
    note_load "$name"
    taube_start "$name" "$TAUBE_SINK_PORT"
    make_body "$WORK/$name.json" "$size" 1
    local cpu0 t0 t1 t2 delivered=0 deadline
    cpu0=$(cpu_secs "$TAUBE_PID")
    t0=$(now)
    run_wrk_count "$WORK/$name.wrk" "$E2E_CONNS" "$n" "$WORK/$name.json"
    t1=$WRK_DONE_AT
    local ok
    ok=$(bench_field "$WORK/$name.wrk" posts_202)
    [ "$ok" = "$n" ] || { cat "$WORK/$name.wrk" >&2; die "$name: only $ok of $n POSTs got 202"; }
    deadline=$(awk -v t="$t0" -v s="$E2E_TIMEOUT" 'BEGIN { printf "%d\n", t + s }')
    while :; do
        delivered=$(metric 'taube_deliveries_total{outcome="delivered"}')
        [ "$delivered" -ge "$n" ] && break
        [ "$(date +%s)" -lt "$deadline" ] || die "$name: only $delivered of $n delivered after ${E2E_TIMEOUT}s"
        kill -0 "$TAUBE_PID" 2>/dev/null || die "taube serve died (see $WORK/taube-$name/serve.log)"
        nap 0.05
    done
    t2=$(now)
    result "${name}_accept_s" "$(fsub "$t1" "$t0")"
    result "${name}_total_s" "$(fsub "$t2" "$t0")"
    result "${name}_accept_rps" "$(fdiv "$n" "$(fsub "$t1" "$t0")" 0)"
    result "${name}_msgs_per_s" "$(fdiv "$n" "$(fsub "$t2" "$t0")" 0)"
    result "${name}_cpu_s" "$(fsub "$(cpu_secs "$TAUBE_PID")" "$cpu0")"
    result "${name}_hwm_mib" "$(fdiv "$(vm_kib "$TAUBE_PID" VmHWM)" 1024 0)"
    result "${name}_failed" "$(metric 'taube_deliveries_total{outcome="failed"}')"
    result "${name}_deferred" "$(metric 'taube_deliveries_total{outcome="deferred"}')"
    log "  accepted in $(fsub "$t1" "$t0")s, all $n delivered after $(fsub "$t2" "$t0")s"
    taube_stop
}

# e2e_postfix SIZE: smtp-source -> private Postfix -> smtp-sink, E2E_COUNT messages of SIZE.
e2e_postfix() {
    local size=$1 name="postfix_$1" n=$E2E_COUNT
    log "phase e2e $name: $n messages of $size bytes, smtp-source -s $PF_SESSIONS"
    note_load "$name"
    # A fresh sink that exits once it has received all n messages.
    start_sink "$PF_SINK_PORT" "$WORK/$name.sink" -c -M "$n"
    local sink=$SINK_PID t0 t1 t2 deadline
    t0=$(now)
    timeout "$E2E_TIMEOUT" "$SMTP_SOURCE" -s "$PF_SESSIONS" -m "$n" -l "$size" \
        -f bench@src.example -t rcpt@dest.example -M bench-client.localhost \
        "127.0.0.1:$PF_PORT" >"$WORK/$name.source" 2>&1 ||
        { cat "$WORK/$name.source" >&2; die "smtp-source failed"; }
    t1=$(now)
    deadline=$(awk -v t="$t0" -v s="$E2E_TIMEOUT" 'BEGIN { printf "%d\n", t + s }')
    while kill -0 "$sink" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            die "$name: smtp-sink got $(tr '\r' '\n' <"$WORK/$name.sink" | tail -1) after ${E2E_TIMEOUT}s"
        fi
        nap 0.02
    done
    t2=$(now)
    wait "$sink" 2>/dev/null || true
    result "${name}_accept_s" "$(fsub "$t1" "$t0")"
    result "${name}_total_s" "$(fsub "$t2" "$t0")"
    result "${name}_accept_rps" "$(fdiv "$n" "$(fsub "$t1" "$t0")" 0)"
    result "${name}_msgs_per_s" "$(fdiv "$n" "$(fsub "$t2" "$t0")" 0)"
    log "  submitted in $(fsub "$t1" "$t0")s, sink had all $n after $(fsub "$t2" "$t0")s ($(tr '\r' '\n' <"$WORK/$name.sink" | tail -1))"
    # Let Postfix finish removing the delivered queue files before the next phase. smtp-sink
    # exits right after counting the n-th message, so a transaction or two whose final "." it
    # had counted may not get its 250 and is deferred by Postfix (retried only after 5 min,
    # i.e. never during this run); those are not waited for.
    local i
    for i in $(seq 100); do
        [ -z "$(find "$WORK/postfix/queue/active" "$WORK/postfix/queue/incoming" -type f 2>/dev/null | head -1)" ] && break
        sleep 0.1
    done
    result "${name}_deferred_at_sink_exit" "$(find "$WORK/postfix/queue/deferred" -type f 2>/dev/null | wc -l)"
}

# phase_backlog: BACKLOG_RCPTS recipients queued behind a sink that never answers DATA.
phase_backlog() {
    local rcpts=$BACKLOG_RCPTS per=1000
    local requests=$(((rcpts + per - 1) / per))
    log "phase backlog: $requests requests x $per recipients, destination stalls at DATA"
    note_load backlog
    local port
    port=$(free_port)
    start_sink "$port" "$WORK/backlog.sink" -w 3600
    local stall=$SINK_PID
    taube_start backlog "$port"
    make_body "$WORK/backlog.json" 200 "$per"
    local rss0
    rss0=$(vm_kib "$TAUBE_PID" VmRSS)
    run_wrk_count "$WORK/backlog.wrk" "$BACKLOG_CONNS" "$requests" "$WORK/backlog.json"
    local ok
    ok=$(bench_field "$WORK/backlog.wrk" posts_202)
    [ "$ok" = "$requests" ] || { cat "$WORK/backlog.wrk" >&2; die "backlog: only $ok of $requests POSTs got 202"; }
    local rss_full
    rss_full=$(vm_kib "$TAUBE_PID" VmRSS)
    sleep 10 # the dispatcher keeps working on the backlog meanwhile
    result backlog_rcpts "$((requests * per))"
    result backlog_queue_depth "$(metric taube_queue_depth)"
    result backlog_rss_start_mib "$(fdiv "$rss0" 1024 0)"
    result backlog_rss_full_mib "$(fdiv "$rss_full" 1024 0)"
    result backlog_rss_after_mib "$(fdiv "$(vm_kib "$TAUBE_PID" VmRSS)" 1024 0)"
    result backlog_hwm_mib "$(fdiv "$(vm_kib "$TAUBE_PID" VmHWM)" 1024 0)"
    result backlog_db_mib "$(du -sm "$WORK/taube-backlog" | cut -f1)"
    log "  queue depth $(get backlog_queue_depth), RSS $(get backlog_rss_after_mib) MiB, peak $(get backlog_hwm_mib) MiB"
    # Deliveries in flight wait on the stalled sink; end them first so shutdown is quick.
    stop_pid "$stall" 2
    taube_stop
}

for phase in $PHASES; do
    case $phase in
    accept) phase_accept accept "$ACCEPT_CONNS" "$ACCEPT_SECS" 1 deliver ;;
    batch) phase_accept batch "$BATCH_CONNS" "$BATCH_SECS" "$BATCH_RCPTS" deliver ;;
    accept_stalled) phase_accept accept_stalled "$ACCEPT_CONNS" "$ACCEPT_SECS" 1 stall ;;
    batch_stalled) phase_accept batch_stalled "$BATCH_CONNS" "$BATCH_SECS" "$BATCH_RCPTS" stall ;;
    e2e)
        postfix_setup
        for size in $E2E_SIZES; do
            e2e_taube "$size"
            e2e_postfix "$size"
        done
        "$POSTFIX" -c "$PF_CONF" stop >/dev/null 2>&1 || true
        PF_STARTED=0
        ;;
    backlog) if [ "$BACKLOG_RCPTS" -gt 0 ]; then phase_backlog; fi ;;
    *) die "unknown phase $phase" ;;
    esac
done

# ---------------------------------------------------------------- summary

summary() {
    local hwm=0 k v
    echo "Taube benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
    echo "binary: $TAUBE_BIN_ORIG (built $(date -u -r "$TAUBE_BIN_ORIG" +%Y-%m-%dT%H:%MZ), sha256 ${TAUBE_SHA:0:12}); repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "wrk threads: $WRK_THREADS; CPU busy before start: $(get idle_busy_pct)%"
    echo
    if [ -n "$(get accept_rps)$(get batch_rps)$(get accept_stalled_rps)$(get batch_stalled_rps)" ]; then
        printf '%-40s %10s %12s %9s %9s %7s %8s %10s\n' "API accept (SQLite, fsync)" "req/s" "recipients/s" "p50 ms" "p99 ms" "errors" "peak MiB" "delivered"
        for k in accept batch accept_stalled batch_stalled; do
            [ -n "$(get "${k}_rps")" ] || continue
            local label="1 rcpt, $ACCEPT_CONNS conns, ${ACCEPT_SECS}s"
            case $k in batch*) label="$BATCH_RCPTS rcpts, $BATCH_CONNS conns, ${BATCH_SECS}s" ;; esac
            case $k in *_stalled) label="$label, no delivery" ;; *) label="$label, delivering" ;; esac
            printf '%-40s %10s %12s %9s %9s %7s %8s %10s\n' "$label" "$(get "${k}_rps")" "$(get "${k}_rcpts_per_s")" \
                "$(get "${k}_p50_ms")" "$(get "${k}_p99_ms")" "$(get "${k}_errors")" "$(get "${k}_hwm_mib")" \
                "$(get "${k}_delivered_during")"
        done
        echo "(delivering: the dispatcher delivered to smtp-sink (DKIM-signing each message) during the phase,"
        echo " 'delivered' counts those recipients; no delivery: the destination stalls at DATA, so the"
        echo " dispatcher is idle and the API has the machine to itself)"
        echo
    fi
    if [ -n "$(get "taube_${E2E_SIZES%% *}_msgs_per_s")" ]; then
        printf '%-34s %10s %10s %10s %10s %8s %8s\n' "End to end, $E2E_COUNT msgs" "Taube/s" "Postfix/s" "ratio" "accept/s" "CPU s" "peak MiB"
        for size in $E2E_SIZES; do
            local t p
            t=$(get "taube_${size}_msgs_per_s")
            p=$(get "postfix_${size}_msgs_per_s")
            printf '%-34s %10s %10s %10s %10s %8s %8s\n' "$((size / 1024)) KB text, DKIM RSA-2048" "$t" "${p:-n/a}" \
                "$(awk -v t="$t" -v p="${p:-0}" 'BEGIN { if (p > 0) printf "%.2fx", t / p; else print "n/a" }')" \
                "$(get "taube_${size}_accept_rps")" "$(get "taube_${size}_cpu_s")" "$(get "taube_${size}_hwm_mib")"
        done
        echo "(Taube: first POST to delivered counter = N; Postfix: smtp-source start to smtp-sink's N-th message;"
        echo " accept/s: Taube's POST phase alone; Postfix's smtp-source phase: $(for s in $E2E_SIZES; do printf '%s ' "$(get "postfix_${s}_accept_rps")/s"; done))"
        echo
    fi
    if [ -n "$(get backlog_rcpts)" ]; then
        echo "Backlog: $(get backlog_rcpts) recipients accepted, queue depth $(get backlog_queue_depth) (destination stalls at DATA)"
        echo "  RSS: $(get backlog_rss_start_mib) MiB idle, $(get backlog_rss_full_mib) MiB with full backlog, $(get backlog_rss_after_mib) MiB 10 s later; peak $(get backlog_hwm_mib) MiB; data dir $(get backlog_db_mib) MiB"
        echo
    fi
    for k in accept batch accept_stalled batch_stalled $(for s in $E2E_SIZES; do echo "taube_$s"; done) backlog; do
        v=$(get "${k}_hwm_mib")
        [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
    done
    echo "Taube peak RSS over all phases: $hwm MiB"
    echo "Load average at phase starts: $(awk -F'\t' '$1 ~ /^load_/ { sub(/^load_/, "", $1); printf "%s=%s ", $1, $2 }' "$RESULTS")"
}

summary | tee "$WORK/summary.txt"
if [ -n "$RESULTS_FILE" ]; then
    cp "$WORK/summary.txt" "$RESULTS_FILE"
    cp "$RESULTS" "${RESULTS_FILE%.*}.tsv"
fi
