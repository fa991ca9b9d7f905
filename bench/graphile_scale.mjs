// Graphile Worker 0.18 on pgrun's W5 and W6 workloads (same definitions as bench/pgrun_bench.py).
//
//   DATABASE_URL=postgresql://.../empty_db GW_CONFIG=default|batched node bench/graphile_scale.mjs scale|stuck
//
// scale (W5): W5_TOTAL (1,000,000) no-op jobs queued (add_jobs, server-side generate_series),
//   CHECKPOINT; VACUUM ANALYZE; a worker is started and stopped by the N-th task (N=20,000);
//   value = N / (start of worker -> N-th task ran).
// stuck (W6): W6_QUEUES (100) named queues x W6_PER_QUEUE (1,000) jobs, each queue locked by a
//   fake worker holding its first job (rows updated in _private_jobs / _private_job_queues), then
//   W6_FREE (50,000) jobs without a queue; value = free jobs run / (start -> last free job ran),
//   capped at W6_MAX_SECONDS (the worker is stopped there and the rate counts what ran).
//
// The worker configs are those of the kit's node/gw_bench.mjs: "default" (library defaults,
// maxPoolSize max(10, CONCURRENCY+2)) and "batched" (localQueue 500, refetch 10 ms, completion
// and failure batching with delay 0). graphile-worker and pg are loaded from the kit's
// node_modules: BENCH_KIT (default bench/.kit next to this file).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const kit = process.env.BENCH_KIT || join(here, ".kit");
const kitRequire = createRequire(join(kit, "node", "package.json"));
const load = async (name) => import(pathToFileURL(kitRequire.resolve(name)).href);
const gw = await load("graphile-worker");
const pg = (await load("pg")).default;
import { readFileSync } from "node:fs";
const gwVersion = JSON.parse(readFileSync(join(kit, "node", "node_modules", "graphile-worker", "package.json"),
  "utf8")).version;

const URL = process.env.DATABASE_URL;
if (!URL) throw new Error("DATABASE_URL required");
const mode = process.argv[2];
const env = (name, def) => Number(process.env[name] ?? def);
const N = env("N", 20000);
const CONC = env("CONCURRENCY", 10);
const CFG = process.env.GW_CONFIG || "default";
const W5_TOTAL = env("W5_TOTAL", 1000000);
const W6_QUEUES = env("W6_QUEUES", 100);
const W6_PER_QUEUE = env("W6_PER_QUEUE", 1000);
const W6_FREE = env("W6_FREE", 50000);
const W6_MAX_SECONDS = env("W6_MAX_SECONDS", 60);
const FAKE_WORKER = "bench-fake-worker-locking-queues";
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const out = (o) => console.log(JSON.stringify({ system: "graphile-worker", version: gwVersion, ...o }));

function workerOptions() {
  const base = { connectionString: URL, concurrency: CONC, noHandleSignals: true, pollInterval: 2000,
    maxPoolSize: Math.max(10, CONC + 2) };
  if (CFG === "default") return base;
  if (CFG === "batched") {
    return { ...base, preset: { worker: {
      localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
      completeJobBatchDelay: 0, failJobBatchDelay: 0 } } };
  }
  throw new Error(`unknown GW_CONFIG ${CFG} (default | batched)`);
}

const logger = new gw.Logger(() => (level, message) => {
  if (level === "error") console.error(message);
});

// n no-op jobs made server side by add_jobs, in calls of 100,000
async function generate(client, n, queueExpr = "null") {
  for (let s = 0; s < n; s += 100000) {
    const e = Math.min(n, s + 100000) - 1;
    await client.query(
      `select count(*) from graphile_worker.add_jobs(array(
         select row('noop', json_build_object('i', g), ${queueExpr}, null, null, null, null, null)
           ::graphile_worker.job_spec
         from generate_series($1::int, $2::int) as g))`, [s, e]);
  }
}

async function count(client, where = "true") {
  const { rows } = await client.query(
    `select count(*)::int as c from graphile_worker._private_jobs where ${where}`);
  return rows[0].c;
}

function usage(cpu0) {
  const c = process.cpuUsage(cpu0);
  return { cpu_s: (c.user + c.system) / 1e6, rss_end_mb: Math.round(process.memoryUsage().rss / 1e5) / 10 };
}

// Starts a worker; its task stops it after `stopAfter` runs (or at capS seconds).
async function runUntil(stopAfter, capS) {
  const st = { executed: 0, tFirst: null, tLast: null, capped: false };
  let runner = null;
  let stopping = null;
  const stop = () => { stopping ??= runner.stop(); };
  const taskList = {
    noop: async () => {
      const t = nowMs();
      if (st.tFirst === null) st.tFirst = t;
      st.executed++;
      st.tLast = t;
      if (st.executed === stopAfter) setImmediate(stop);
    },
  };
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  runner = await gw.run({ ...workerOptions(), logger, taskList });
  const cap = setTimeout(() => { st.capped = true; st.tCap = nowMs(); stop(); }, capS * 1000);
  await runner.promise;
  clearTimeout(cap);
  return { ...st, t0, ...usage(cpu0) };
}

async function main() {
  await gw.runMigrations({ connectionString: URL, logger });
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  const variant = `${CFG} concurrency=${CONC}`;
  if (mode === "scale") {
    const tf = nowMs();
    await generate(client, W5_TOTAL);
    const fillS = (nowMs() - tf) / 1000;
    await client.query("checkpoint");
    await client.query("vacuum analyze");
    if ((await count(client)) !== W5_TOTAL) throw new Error("prefill failed");
    const r = await runUntil(N, 600);
    const remaining = await count(client);
    const tEnd = r.executed >= N ? r.tLast : r.tCap;
    out({ workload: "W5", variant, n: N, queued: W5_TOTAL, executed: r.executed,
      remaining_rows_after: remaining, seconds: (tEnd - r.t0) / 1000, startup_ms: r.tFirst - r.t0,
      value: N / ((tEnd - r.t0) / 1000), value_excl_startup: N / ((tEnd - r.tFirst) / 1000),
      unit: "jobs/s", prefill_s: Math.round(fillS * 10) / 10, cpu_s: r.cpu_s,
      cpu_s_per_10k: (r.cpu_s * 10000) / r.executed, rss_end_mb: r.rss_end_mb });
    if (r.capped || W5_TOTAL - remaining < N) process.exitCode = 2;
  } else if (mode === "stuck") {
    const stuck = W6_QUEUES * W6_PER_QUEUE;
    for (let q = 0; q < W6_QUEUES; q++) {
      await generate(client, W6_PER_QUEUE, `'queue_${String(q).padStart(4, "0")}'`);
    }
    await generate(client, W6_FREE);
    await client.query("begin");
    await client.query(
      `update graphile_worker._private_jobs set locked_at = now(), locked_by = $1, attempts = attempts + 1
       where id in (select min(id) from graphile_worker._private_jobs where job_queue_id is not null
                    group by job_queue_id)`, [FAKE_WORKER]);
    await client.query(
      "update graphile_worker._private_job_queues set locked_at = now(), locked_by = $1", [FAKE_WORKER]);
    await client.query("commit");
    await client.query("checkpoint");
    await client.query("vacuum analyze");
    if ((await count(client, "job_queue_id is not null")) !== stuck) throw new Error("prefill failed");
    if ((await count(client, "locked_by is not null")) !== W6_QUEUES) throw new Error("lock failed");
    const r = await runUntil(W6_FREE, W6_MAX_SECONDS);
    const freeLeft = await count(client, "job_queue_id is null");
    const stuckLeft = await count(client, "job_queue_id is not null");
    const done = W6_FREE - freeLeft;
    const tEnd = r.capped ? r.tCap : r.tLast;
    out({ workload: "W6", variant, n: W6_FREE, stuck, queues: W6_QUEUES, executed: r.executed,
      free_left: freeLeft, stuck_left: stuckLeft, capped_at_s: r.capped ? W6_MAX_SECONDS : null,
      seconds: (tEnd - r.t0) / 1000, startup_ms: r.tFirst === null ? null : r.tFirst - r.t0,
      value: done / ((tEnd - r.t0) / 1000),
      value_excl_startup: r.tFirst === null ? null : done / ((tEnd - r.tFirst) / 1000),
      unit: "jobs/s", cpu_s: r.cpu_s, cpu_s_per_10k: r.executed ? (r.cpu_s * 10000) / r.executed : null,
      rss_end_mb: r.rss_end_mb });
    if (stuckLeft !== stuck || (!r.capped && freeLeft)) process.exitCode = 2;
  } else {
    throw new Error(`unknown mode ${mode} (scale | stuck)`);
  }
  await client.end();
}

main().then(
  () => process.exit(process.exitCode || 0),
  (e) => { console.error(e); process.exit(1); },
);
