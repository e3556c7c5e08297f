-- wrk script for Taube's POST /v1/messages (used by bench/run.sh).
--
-- Environment:
--   BENCH_KEY        API key (sent as "Authorization: Bearer KEY")
--   BENCH_BODY_FILE  file holding the JSON request body (sent unchanged with every request)
--   BENCH_THREADS    wrk's -t value (needed to split BENCH_TOTAL over the threads)
--   BENCH_TOTAL      0 or unset: send for wrk's -d duration (static request, fastest path).
--                    N > 0: send exactly N POSTs in total (split over wrk's threads), then
--                    stop once every one of them has been answered. Connections that would
--                    otherwise send more meanwhile send "GET /healthz" instead, which creates
--                    nothing. wrk's -d still bounds the run if some POST is never answered.
--   BENCH_DONE_DIR   fixed-count mode: each thread creates DIR/thread-INDEX once all of its
--                    POSTs are answered (run.sh waits for these, then stops wrk with SIGINT).
--
-- At the end it prints one machine-readable line:
--   BENCH requests=.. duration_us=.. p50_us=.. p90_us=.. p99_us=.. max_us=.. status_errors=..
--         socket_errors=.. posts_sent=.. posts_202=.. posts_other=..

local key = os.getenv("BENCH_KEY") or error("BENCH_KEY is not set")
local body_file = os.getenv("BENCH_BODY_FILE") or error("BENCH_BODY_FILE is not set")
local total = tonumber(os.getenv("BENCH_TOTAL") or "0") or 0
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1") or 1
local thread_count = 0

local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/v1/messages"
wrk.body = body
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"

local threads = {}

-- Runs in the main Lua state before each thread's init(); numbers the threads 1..n.
function setup(thread)
   thread_count = thread_count + 1
   thread:set("index", thread_count)
   table.insert(threads, thread)
end

if total > 0 then
   -- Fixed-count mode. quota is assigned per thread in init() from the thread's index.
   local post_req, filler_req
   quota, sent, ok, other, finished = 0, 0, 0, 0, false
   local done_dir = os.getenv("BENCH_DONE_DIR")

   function init(args)
      post_req = wrk.format("POST", "/v1/messages")
      filler_req = wrk.format("GET", "/healthz", {}, "")
      local n, i = nthreads, tonumber(index)
      quota = math.floor(total / n)
      if i <= total % n then quota = quota + 1 end
   end

   -- wrk calls request() once in the first thread before the run starts, to check it, and
   -- never sends that request; do not count it.
   local checked = false

   function request()
      if index == 1 and not checked then
         checked = true
         return post_req
      end
      if sent < quota then
         sent = sent + 1
         return post_req
      end
      return filler_req
   end

   -- Once this thread's quota is sent, its connections only wait (one cheap GET every 20 ms).
   function delay()
      if sent < quota then return 0 end
      return 20
   end

   function response(status, headers, body)
      if status == 202 then
         ok = ok + 1
      elseif status ~= 200 then
         other = other + 1
         if other <= 3 then io.stderr:write("non-202 answer: " .. status .. " " .. tostring(body) .. "\n") end
      end
      if ok + other >= quota and not finished then
         -- wrk's main thread sleeps for the whole -d duration even when every thread has
         -- stopped, so tell run.sh, which then ends wrk early with SIGINT (wrk still prints
         -- its summary).
         finished = true
         if done_dir then
            local f = io.open(done_dir .. "/thread-" .. tostring(index), "w")
            if f then f:write(tostring(ok), "\n"); f:close() end
         end
         wrk.thread:stop()
      end
   end
end

function done(summary, latency, requests)
   local sent, ok, other = 0, 0, 0
   for _, t in ipairs(threads) do
      if total > 0 then
         sent = sent + (t:get("sent") or 0)
         ok = ok + (t:get("ok") or 0)
         other = other + (t:get("other") or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d status_errors=%d socket_errors=%d posts_sent=%d posts_202=%d posts_other=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect + e.read + e.write + e.timeout,
      sent, ok, other))
end
