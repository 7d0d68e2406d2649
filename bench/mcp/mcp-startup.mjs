#!/usr/bin/env node
// mcp-startup.mjs - time from spawning an MCP server (or a bridge in front of one) to its first
// answered tools/call, for bench/mcp-bench.sh.
//
// usage: node mcp-startup.mjs --stdio [options] -- COMMAND ARGS...
//        node mcp-startup.mjs --url http://127.0.0.1:PORT/mcp [options] -- COMMAND ARGS...
//   --stdio          talk MCP over the command's stdin/stdout (newline-delimited JSON-RPC): the
//                    initialize request is written at once (the pipe holds it until the server
//                    reads), notifications/initialized and tools/call as soon as it is answered
//   --url URL        the command serves Streamable HTTP: POST initialize every --poll-ms until
//                    one is answered, then notifications/initialized and tools/call on the session
//   --poll-ms MS     time between HTTP attempts (each on a new connection)                   [2]
//   --timeout SECS   give up after this long                                               [30]
//   --log FILE       the command's stderr (and stdout with --url)                   [/dev/null]
// The clock starts just before spawn(). The command runs in its own process group; once
// measured, every process of its tree is sent TERM, and after 3 s KILL; the timer returns when
// the whole tree is gone, so the next start finds its port free.
// Output: STARTUP init_ms=.. first_call_ms=.. stop_ms=.. procs=..   (exit 0)
//         STARTUP_FAILED <why>                                      (exit 1)
import http from 'node:http';
import fs from 'node:fs';
import { spawn } from 'node:child_process';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const opt = { stdio: false, url: null, pollMs: 2, timeout: 30, log: '/dev/null' };
function usage(msg) {
  console.error(`mcp-startup: ${msg} (see the header of ${process.argv[1]})`);
  process.exit(2);
}
if (sep < 0 || sep === argv.length - 1) usage('missing -- COMMAND ARGS...');
for (let i = 0; i < sep; i++) {
  const a = argv[i];
  const v = () => (i + 1 < sep ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--stdio') opt.stdio = true;
  else if (a === '--url') opt.url = new URL(v());
  else if (a === '--poll-ms') opt.pollMs = Number(v());
  else if (a === '--timeout') opt.timeout = Number(v());
  else if (a === '--log') opt.log = v();
  else usage(`unknown argument '${a}'`);
}
if (opt.stdio === Boolean(opt.url)) usage('give exactly one of --stdio and --url');
const cmd = argv.slice(sep + 1);

const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18',
  capabilities: {}, clientInfo: { name: 'mcp-sidecar-bench-startup', version: '1' } } };
const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };
const CALL = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'startup' } } };
const callOk = (m) => m && m.id === 1 && m.result && !m.result.isError &&
  JSON.stringify(m.result).includes('Echo: startup');

const logFd = fs.openSync(opt.log, 'a');
const t0 = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
const child = spawn(cmd[0], cmd.slice(1), {
  detached: true,
  stdio: opt.stdio ? ['pipe', 'pipe', logFd] : ['ignore', logFd, logFd],
});
let exited = false, finished = false;
const exitWaiters = [];
child.on('exit', (code, sig) => {
  exited = true;
  exitWaiters.forEach((f) => f());
  if (!finished) fail(`the command exited before answering (code ${code}, signal ${sig})`);
});
child.on('error', (e) => fail(`spawn failed: ${e.message}`));
const deadline = setTimeout(() => fail(`no answered tools/call within ${opt.timeout}s`), opt.timeout * 1000);

// ---------------------------------------------------------------- the process tree
function readText(path) {
  try { return fs.readFileSync(path, 'utf8'); } catch { return null; }
}
function tree(pid) {
  const out = [pid];
  let tasks = [];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tasks) {
    const kids = readText(`/proc/${pid}/task/${t}/children`);
    if (kids) for (const k of kids.trim().split(/\s+/)) if (k) out.push(...tree(Number(k)));
  }
  return out;
}
const alive = (pid) => {
  const s = readText(`/proc/${pid}/stat`);
  return s !== null && !/^\S+ \(.*\) Z/.test(s); // a zombie has exited
};
const sleep = (n) => new Promise((r) => setTimeout(r, n));
// TERM to the group and to every member (a child may have made its own group), KILL after 3 s.
async function stopTree() {
  const pids = tree(child.pid);
  const signal = (s) => {
    try { process.kill(-child.pid, s); } catch { /* group gone */ }
    for (const p of pids) { try { process.kill(p, s); } catch { /* gone */ } }
  };
  const t = ms();
  signal('SIGTERM');
  const until = Date.now() + 3000;
  while (Date.now() < until && pids.some(alive)) await sleep(10);
  if (pids.some(alive)) signal('SIGKILL');
  if (!exited) await new Promise((r) => exitWaiters.push(r));
  while (pids.some(alive)) await sleep(10);
  return { stopMs: ms() - t, procs: pids.length };
}

async function fail(why) {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  console.log(`STARTUP_FAILED ${why}`);
  await stopTree();
  process.exit(1);
}
async function succeed(initMs, callMs) {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  const { stopMs, procs } = await stopTree();
  console.log(`STARTUP init_ms=${initMs.toFixed(1)} first_call_ms=${callMs.toFixed(1)} stop_ms=${stopMs.toFixed(0)} procs=${procs}`);
  process.exit(0);
}

// ---------------------------------------------------------------- stdio
function overStdio() {
  let initMs = null, buf = '';
  const send = (m) => child.stdin.write(JSON.stringify(m) + '\n');
  child.stdin.on('error', () => {}); // EPIPE when the child dies: reported through 'exit'
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      let m;
      try { m = JSON.parse(line); } catch { continue; } // not a message: ignore
      if (m.id === 0 && initMs === null) {
        if (!m.result) return fail(`initialize failed: ${line.slice(0, 200)}`);
        initMs = ms();
        send(INITIALIZED);
        send(CALL);
      } else if (m.id === 1) {
        if (!callOk(m)) return fail(`tools/call failed: ${line.slice(0, 200)}`);
        succeed(initMs, ms());
      }
    }
  });
  send(INIT);
}

// ---------------------------------------------------------------- HTTP
function post(body, headers) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request({ host: opt.url.hostname, port: opt.url.port, path: opt.url.pathname,
      method: 'POST', agent: false, headers: { 'content-type': 'application/json',
        accept: 'application/json, text/event-stream', 'content-length': data.length, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}
// The response with `id` in a JSON or SSE body, or null.
function response(res, id) {
  const type = String(res.headers['content-type'] || '');
  const texts = type.startsWith('text/event-stream')
    ? res.body.split(/\r?\n\r?\n/).map((ev) => ev.split(/\r?\n/).filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart()).join('\n')).filter(Boolean)
    : [res.body];
  for (const t of texts) {
    let m;
    try { m = JSON.parse(t); } catch { continue; }
    for (const x of Array.isArray(m) ? m : [m]) if (x && x.id === id) return x;
  }
  return null;
}
async function overHttp() {
  while (!finished) {
    let r = null;
    try { r = await post(INIT, {}); } catch { /* not listening yet */ }
    const m = r && r.status === 200 ? response(r, 0) : null;
    if (m && m.result) {
      const initMs = ms();
      const h = { 'mcp-protocol-version': m.result.protocolVersion || '2025-06-18' };
      if (r.headers['mcp-session-id']) h['mcp-session-id'] = r.headers['mcp-session-id'];
      try {
        const n = await post(INITIALIZED, h);
        if (n.status >= 300) return fail(`notifications/initialized: HTTP ${n.status}`);
        const c = await post(CALL, h);
        const cm = c.status === 200 ? response(c, 1) : null;
        if (!callOk(cm)) return fail(`tools/call: HTTP ${c.status}: ${c.body.slice(0, 200)}`);
        return succeed(initMs, ms());
      } catch (e) {
        return fail(`after initialize: ${e.message}`);
      }
    }
    await sleep(opt.pollMs);
  }
}

if (opt.stdio) overStdio();
else overHttp();
