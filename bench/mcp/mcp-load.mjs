#!/usr/bin/env node
// mcp-load.mjs - closed-loop MCP Streamable HTTP load for bench/mcp-bench.sh.
//
// Each of C workers has its own keep-alive connection and (by default) its own MCP session:
// initialize, notifications/initialized, then tools/call `echo` back to back, each sent as soon
// as the previous answer is in. Every answer is checked: HTTP 200, a JSON-RPC response with the
// id of this request and no other, no error, and the text `Echo: <message>` where the message is
// unique to the request. An answer meant for another request (other id, or the right id with
// another request's text) is an error, counted apart from the rest.
//
// usage: node mcp-load.mjs --url http://127.0.0.1:PORT/mcp [options]
//   -c N                 workers (connections, and sessions with --session per-worker)      [1]
//   --duration SECS      measured time after --warmup                                      [10]
//   --warmup SECS        unmeasured load before the measured time                           [2]
//   --requests N         instead of a duration: stop after N measured answers (no warm-up)
//   --session MODE       per-worker (a session per worker) | shared (one for all)   [per-worker]
//   --ids MODE           unique: ids differ across workers; overlap: every worker's session
//                        uses 1, 2, 3, ... (legal: ids are per session; a bridge that mixes up
//                        sessions on one child then answers the wrong request)         [unique]
//   --timeout SECS       per-request limit; a late answer is an error                      [10]
//   --max-seconds SECS   hard limit for the whole run (then it prints what it has)  [duration+60
//                        or 900 with --requests]
//   --watch-pid PID      sample VmRSS of PID and of its process tree while loading
//   --sample-ms MS       time between RSS samples                                          [250]
//   --sample-every N     with --requests: also sample at every N answers (SAMPLE lines)  [10000]
//   --server-cpus LIST   cpus whose busy time is measured over the window (e.g. 0)
//   --load-cpus LIST     the same for the load side (e.g. 1)
//   --clk-tck HZ         clock ticks per second of /proc/*/stat (getconf CLK_TCK)           [100]
//
// Output (stdout), key=value fields for the bench scripts:
//   SAMPLE n=<answers> t_s=<since the window began> rss_kb=.. tree_rss_kb=.. procs=..
//   RESULT rps=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. ok=.. errors=.. wrong_answer=.. ...
//   FIRST_ERROR <text>            (only when there was an error)
// Exit status: 0 when the run completed (errors are reported, not fatal), 1 when no session
// could be opened or the hard limit was hit, 2 for bad arguments.
import net from 'node:net';
import fs from 'node:fs';

// ---------------------------------------------------------------- arguments
const opt = {
  url: null, c: 1, duration: 10, warmup: 2, requests: 0, session: 'per-worker', ids: 'unique',
  timeout: 10, maxSeconds: 0, watchPid: 0, sampleMs: 250, sampleEvery: 10000,
  serverCpus: '', loadCpus: '', clkTck: 100,
};
{
  const argv = process.argv.slice(2);
  const num = (name, v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) usage(`${name} wants a number, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--url': opt.url = v(); break;
      case '-c': opt.c = num(a, v()); break;
      case '--duration': opt.duration = num(a, v()); break;
      case '--warmup': opt.warmup = num(a, v()); break;
      case '--requests': opt.requests = num(a, v()); break;
      case '--session': opt.session = v(); break;
      case '--ids': opt.ids = v(); break;
      case '--timeout': opt.timeout = num(a, v()); break;
      case '--max-seconds': opt.maxSeconds = num(a, v()); break;
      case '--watch-pid': opt.watchPid = num(a, v()); break;
      case '--sample-ms': opt.sampleMs = num(a, v()); break;
      case '--sample-every': opt.sampleEvery = num(a, v()); break;
      case '--server-cpus': opt.serverCpus = v(); break;
      case '--load-cpus': opt.loadCpus = v(); break;
      case '--clk-tck': opt.clkTck = num(a, v()); break;
      default: usage(`unknown argument '${a}'`);
    }
  }
  if (!opt.url) usage('--url is required');
  if (!Number.isInteger(opt.c) || opt.c < 1) usage('-c must be a positive integer');
  if (!['per-worker', 'shared'].includes(opt.session)) usage('--session: per-worker or shared');
  if (!['unique', 'overlap'].includes(opt.ids)) usage('--ids: unique or overlap');
  if (opt.ids === 'overlap' && opt.session === 'shared') usage('--ids overlap needs --session per-worker');
  if (!opt.maxSeconds) opt.maxSeconds = opt.requests ? 900 : opt.warmup + opt.duration + 60;
}
function usage(msg) {
  console.error(`mcp-load: ${msg} (see the header of ${process.argv[1]})`);
  process.exit(2);
}
const target = new URL(opt.url);
if (target.protocol !== 'http:') usage('only http:// URLs');

// ---------------------------------------------------------------- /proc readers
function readText(path) {
  try { return fs.readFileSync(path, 'utf8'); } catch { return null; }
}
function statusKb(pid, key) {
  const s = readText(`/proc/${pid}/status`);
  if (!s) return 0;
  const m = s.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'));
  return m ? Number(m[1]) : 0;
}
// The fields of /proc/PID/stat after the command name (which may hold spaces): index 0 is the
// state (field 3), so field N is at N - 3.
function statFields(pid) {
  const s = readText(`/proc/${pid}/stat`);
  if (!s) return null;
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}
// PID and every live descendant (children of every thread, since any thread may fork).
function processTree(pid) {
  const out = [];
  const walk = (p) => {
    out.push(p);
    let tasks = [];
    try { tasks = fs.readdirSync(`/proc/${p}/task`); } catch { return; }
    for (const t of tasks) {
      const kids = readText(`/proc/${p}/task/${t}/children`);
      if (kids) for (const k of kids.trim().split(/\s+/)) if (k) walk(Number(k));
    }
  };
  walk(pid);
  return out;
}
// CPU seconds: the process's own (utime + stime), and the tree's including reaped children
// (cutime + cstime of each live member), so that per-session children that came and went count.
function cpuSeconds(pid) {
  const f = statFields(pid);
  if (!f) return { own: 0, tree: 0 };
  const own = (Number(f[11]) + Number(f[12])) / opt.clkTck;
  let tree = 0;
  for (const p of processTree(pid)) {
    const g = statFields(p);
    if (g) tree += (Number(g[11]) + Number(g[12]) + Number(g[13]) + Number(g[14])) / opt.clkTck;
  }
  return { own, tree };
}
// Summed /proc/stat ticks of a cpu list: total, idle (+iowait), steal.
function cpuTicks(list) {
  if (!list) return null;
  const want = new Set(list.split(',').map((x) => `cpu${x.trim()}`));
  const r = { total: 0, idle: 0, steal: 0 };
  for (const line of (readText('/proc/stat') || '').split('\n')) {
    const f = line.split(/\s+/);
    if (!want.has(f[0])) continue;
    const v = f.slice(1, 9).map(Number);
    r.total += v.reduce((a, b) => a + b, 0);
    r.idle += v[3] + v[4];
    r.steal += v[7];
  }
  return r;
}
function busyPct(a, b) {
  if (!a || !b) return { busy: NaN, steal: NaN };
  const dt = b.total - a.total || 1;
  return { busy: (100 * (dt - (b.idle - a.idle))) / dt, steal: (100 * (b.steal - a.steal)) / dt };
}

// ---------------------------------------------------------------- RSS sampling
const mem = { rssStart: 0, rssMax: 0, treeMax: 0, procsMax: 0, rssEnd: 0, treeEnd: 0 };
function sampleRss() {
  if (!opt.watchPid) return null;
  const rss = statusKb(opt.watchPid, 'VmRSS');
  let tree = 0, procs = 0;
  for (const p of processTree(opt.watchPid)) { tree += statusKb(p, 'VmRSS'); procs++; }
  mem.rssMax = Math.max(mem.rssMax, rss);
  mem.treeMax = Math.max(mem.treeMax, tree);
  mem.procsMax = Math.max(mem.procsMax, procs);
  return { rss, tree, procs };
}
function printSample(n, t, s) {
  if (s) console.log(`SAMPLE n=${n} t_s=${t.toFixed(2)} rss_kb=${s.rss} tree_rss_kb=${s.tree} procs=${s.procs}`);
}

// ---------------------------------------------------------------- HTTP
// A minimal HTTP/1.1 client, one keep-alive connection per worker, one request at a time: the
// request goes out in one write, the answer is framed by Content-Length, chunked encoding or the
// close of the connection (RFC 9112 §6.3). node:http costs about twice the CPU per request, and
// the load tool shares one core with nothing but itself: it must stay well below saturation.
const HOST = `${target.hostname}:${target.port}`;
const PATH = target.pathname + target.search;
const CRLF2 = Buffer.from('\r\n\r\n');
class Conn {
  constructor() {
    this.sock = null;
    this.connected = null;
    this.waiter = null; // { resolve, reject, timer }
    this.buf = null;
  }
  destroy() {
    if (this.sock) this.sock.destroy();
    this.sock = null;
    this.connected = null;
  }
  open() {
    if (this.connected) return this.connected;
    this.connected = new Promise((resolve, reject) => {
      const sock = net.connect({ host: target.hostname, port: Number(target.port) || 80 });
      sock.setNoDelay(true);
      this.sock = sock;
      this.buf = null;
      sock.once('connect', () => resolve());
      sock.on('data', (d) => this.onData(d));
      sock.on('error', (e) => { reject(e); this.fail(e); });
      sock.on('close', () => {
        if (this.sock === sock) { this.sock = null; this.connected = null; }
        this.onClose();
      });
    });
    return this.connected;
  }
  fail(e) {
    const w = this.waiter;
    if (!w) return;
    this.waiter = null;
    clearTimeout(w.timer);
    w.reject(e);
  }
  done(res) {
    const w = this.waiter;
    this.waiter = null;
    clearTimeout(w.timer);
    if (res.close) this.destroy();
    w.resolve(res);
  }
  onClose() {
    const r = this.res;
    if (this.waiter && r && r.mode === 'close') {
      r.body = this.buf ? this.buf.toString('utf8') : '';
      return this.done(r);
    }
    this.fail(new Error('connection closed by the server'));
  }
  // Parses what has arrived; resolves the waiter once the answer is complete.
  onData(d) {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    if (!this.waiter) return; // bytes nobody asked for: kept, and the next answer will not parse
    for (;;) {
      if (!this.res) {
        const end = this.buf.indexOf(CRLF2);
        if (end < 0) return;
        const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        this.buf = this.buf.subarray(end + 4);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
        if (!m) return this.fail(new Error(`bad status line: ${lines[0].slice(0, 80)}`));
        const headers = {};
        for (let i = 1; i < lines.length; i++) {
          const k = lines[i].indexOf(':');
          if (k > 0) headers[lines[i].slice(0, k).trim().toLowerCase()] = lines[i].slice(k + 1).trim();
        }
        const status = Number(m[1]);
        if (status >= 100 && status < 200) continue; // interim answer: the real one follows
        const close = /\bclose\b/i.test(headers.connection || '');
        let mode = 'close', left = 0;
        if (this.method === 'HEAD' || status === 204 || status === 304) mode = 'none';
        else if (/\bchunked\b/i.test(headers['transfer-encoding'] || '')) mode = 'chunked';
        else if (headers['content-length'] !== undefined) { mode = 'length'; left = Number(headers['content-length']); }
        this.res = { status, headers, close, mode, left, parts: [] };
      }
      const r = this.res;
      if (r.mode === 'none' || (r.mode === 'length' && this.buf.length >= r.left)) {
        const n = r.mode === 'none' ? 0 : r.left;
        const body = this.buf.subarray(0, n).toString('utf8');
        this.buf = this.buf.subarray(n);
        this.res = null;
        return this.done({ status: r.status, headers: r.headers, body, close: r.close });
      }
      if (r.mode !== 'chunked') return; // wait for more (length) or for the close
      // chunked: size line, data, CRLF; a 0 size ends it (trailers, if any, then CRLF)
      for (;;) {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) return;
        const size = parseInt(this.buf.subarray(0, nl).toString('latin1'), 16);
        if (Number.isNaN(size)) return this.fail(new Error('bad chunk size'));
        if (size === 0) { // then trailer lines, if any, and an empty line
          let end = -1;
          if (this.buf.length >= nl + 4 && this.buf[nl + 2] === 13 && this.buf[nl + 3] === 10) end = nl + 4;
          else if (this.buf.indexOf(CRLF2, nl) >= 0) end = this.buf.indexOf(CRLF2, nl) + 4;
          if (end < 0) return;
          this.buf = this.buf.subarray(end);
          this.res = null;
          return this.done({ status: r.status, headers: r.headers, body: Buffer.concat(r.parts).toString('utf8'), close: r.close });
        }
        if (this.buf.length < nl + 2 + size + 2) return;
        r.parts.push(this.buf.subarray(nl + 2, nl + 2 + size));
        this.buf = this.buf.subarray(nl + 2 + size + 2);
      }
    }
  }
  async request(method, body, headers) {
    await this.open();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`no answer within ${opt.timeout}s`));
        this.destroy();
      }, opt.timeout * 1000);
      this.waiter = { resolve, reject, timer };
      this.method = method;
      this.res = null;
      let head = `${method} ${PATH} HTTP/1.1\r\nHost: ${HOST}\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      if (body !== null) {
        const data = Buffer.from(body);
        head += `Content-Type: application/json\r\nAccept: ${ACCEPT}\r\nContent-Length: ${data.length}\r\n\r\n`;
        this.sock.write(Buffer.concat([Buffer.from(head, 'latin1'), data]));
      } else {
        this.sock.write(head + '\r\n');
      }
    });
  }
}
const ACCEPT = 'application/json, text/event-stream';
const post = (conn, body, headers) => conn.request('POST', body, headers);
async function del(conn, headers) {
  try {
    return (await conn.request('DELETE', null, headers)).status;
  } catch {
    return 0;
  }
}

// The JSON-RPC messages of an answer: a JSON body (one message or a batch) or an SSE stream
// (each event's data lines joined by "\n" form one message, per the SSE spec).
function messages(res) {
  const type = String(res.headers['content-type'] || '').toLowerCase();
  const out = [];
  const add = (text) => {
    const m = JSON.parse(text);
    for (const x of Array.isArray(m) ? m : [m]) out.push(x);
  };
  if (type.startsWith('text/event-stream')) {
    for (const event of res.body.split(/\r?\n\r?\n/)) {
      const data = [];
      for (const line of event.split(/\r?\n/)) {
        if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
      if (data.length) add(data.join('\n'));
    }
  } else if (res.body.length) {
    add(res.body);
  }
  return out;
}
const isResponse = (m) => m && typeof m === 'object' && 'id' in m && ('result' in m || 'error' in m);

// Checks one tools/call answer; returns null when it is right, else [kind, text].
function check(res, id, message) {
  if (res.status !== 200) return ['http', `HTTP ${res.status}: ${res.body.slice(0, 160)}`];
  let msgs;
  try { msgs = messages(res); } catch (e) { return ['parse', `unparsable answer (${e.message}): ${res.body.slice(0, 160)}`]; }
  const responses = msgs.filter(isResponse);
  const other = responses.find((m) => m.id !== id);
  if (other) return ['wrong_answer', `answer for id ${JSON.stringify(other.id)} to request id ${id}`];
  if (responses.length === 0) return ['no_answer', `no JSON-RPC response in: ${res.body.slice(0, 160)}`];
  if (responses.length > 1) return ['wrong_answer', `${responses.length} responses for request id ${id}`];
  const r = responses[0];
  if (r.error) return ['rpc_error', `error ${JSON.stringify(r.error).slice(0, 160)}`];
  const text = r.result && Array.isArray(r.result.content) && r.result.content[0] && r.result.content[0].text;
  if (r.result && r.result.isError) return ['rpc_error', `isError: ${String(text).slice(0, 160)}`];
  // The right id with another request's text is an answer for the wrong request too.
  if (text !== `Echo: ${message}`) {
    return [typeof text === 'string' && text.startsWith('Echo: ') ? 'wrong_answer' : 'content',
      `request id ${id} sent '${message}', got ${JSON.stringify(text).slice(0, 80)}`];
  }
  return null;
}

// ---------------------------------------------------------------- sessions
// initialize + notifications/initialized; returns the headers every later request carries.
async function openSession(conn, id) {
  const init = JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: {
    protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-sidecar-bench', version: '1' } } });
  const r = await post(conn, init, {});
  if (r.status !== 200) throw new Error(`initialize: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  const m = messages(r).find(isResponse);
  if (!m || m.id !== id || !m.result) throw new Error(`initialize: unexpected answer: ${r.body.slice(0, 200)}`);
  const h = {};
  if (r.headers['mcp-session-id']) h['mcp-session-id'] = r.headers['mcp-session-id'];
  h['mcp-protocol-version'] = m.result.protocolVersion || '2025-06-18';
  const n = await post(conn, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), h);
  if (n.status !== 202 && n.status !== 200 && n.status !== 204) {
    throw new Error(`notifications/initialized: HTTP ${n.status}: ${n.body.slice(0, 200)}`);
  }
  return h;
}

// ---------------------------------------------------------------- the run
const counts = { ok: 0, http: 0, parse: 0, wrong_answer: 0, no_answer: 0, rpc_error: 0, content: 0, transport: 0 };
let warmupErrors = 0, firstError = null;
const lat = [];

async function main() {
  const tBegin = process.hrtime.bigint();
  const hard = setTimeout(() => finish('hard limit reached', true), opt.maxSeconds * 1000);
  hard.unref();

  const rssIdle = sampleRss();
  const conns = Array.from({ length: opt.c }, () => new Conn());
  const base = (w) => (opt.ids === 'unique' ? w * 1e9 : 0);
  const sessions = [];
  try {
    if (opt.session === 'shared') {
      const h = await openSession(conns[0], 0);
      for (let w = 0; w < opt.c; w++) sessions.push(h);
    } else {
      for (let w = 0; w < opt.c; w++) sessions.push(await openSession(conns[w], base(w)));
    }
  } catch (e) {
    console.log(`FIRST_ERROR session setup: ${e.message}`);
    console.log(`RESULT rps=0 ok=0 errors=1 setup_failed=1`);
    process.exit(1);
  }
  const setupS = Number(process.hrtime.bigint() - tBegin) / 1e9;

  let measuring = false, stopping = false, issued = 0, done = 0;
  let tStart = 0n, tEnd = 0n, cpu0 = null, srv0 = null, ld0 = null;
  let nextCheckpoint = opt.sampleEvery;
  const startWindow = () => {
    measuring = true;
    tStart = process.hrtime.bigint();
    srv0 = cpuTicks(opt.serverCpus);
    ld0 = cpuTicks(opt.loadCpus);
    cpu0 = opt.watchPid ? cpuSeconds(opt.watchPid) : null;
  };
  const since = () => Number(process.hrtime.bigint() - tStart) / 1e9;

  let endWindow; // resolves when the measured part is over
  const windowOver = new Promise((r) => { endWindow = r; });

  async function worker(w) {
    let seq = 0;
    while (!stopping) {
      if (opt.requests && measuring && issued >= opt.requests) break;
      if (measuring) issued++;
      seq++;
      const id = base(w) + seq;
      const message = `w${w}-${seq}`;
      const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"${message}"}}}`;
      const t0 = process.hrtime.bigint();
      const wasMeasuring = measuring;
      let bad;
      try {
        bad = check(await post(conns[w], body, sessions[w]), id, message);
      } catch (e) {
        bad = ['transport', String((e && e.message) || e)];
      }
      // Only answers to requests sent and received inside the window count.
      if (!wasMeasuring || !measuring) {
        if (bad) {
          warmupErrors++;
          if (!firstError) firstError = `(outside the window) ${bad[1]}`;
          await new Promise((r) => setTimeout(r, 5)); // do not spin on a refusing server
        }
        continue;
      }
      if (bad) {
        counts[bad[0]]++;
        if (!firstError || firstError.startsWith('(outside')) firstError = `${bad[0]}: ${bad[1]}`;
      } else {
        counts.ok++;
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      done++;
      if (opt.requests) {
        if (done >= nextCheckpoint) {
          printSample(done, since(), sampleRss());
          nextCheckpoint += opt.sampleEvery;
        }
        if (done >= opt.requests) endWindow();
      }
    }
  }

  const sampler = opt.watchPid ? setInterval(sampleRss, opt.sampleMs) : null;
  if (opt.requests) { // the window opens before the first tools/call: every answer counts
    const s = sampleRss();
    if (s) mem.rssStart = s.rss;
    printSample(0, 0, s);
    startWindow();
  }
  const workers = Array.from({ length: opt.c }, (_, w) => worker(w));
  if (!opt.requests) {
    await new Promise((r) => setTimeout(r, opt.warmup * 1000));
    const s = sampleRss();
    if (s) mem.rssStart = s.rss;
    startWindow();
    setTimeout(endWindow, opt.duration * 1000);
  }
  await windowOver;
  tEnd = process.hrtime.bigint();
  measuring = false;
  const srv1 = cpuTicks(opt.serverCpus), ld1 = cpuTicks(opt.loadCpus);
  const cpu1 = opt.watchPid ? cpuSeconds(opt.watchPid) : null;
  const end = sampleRss();
  if (end) { mem.rssEnd = end.rss; mem.treeEnd = end.tree; }
  stopping = true;
  if (sampler) clearInterval(sampler);

  // In-flight requests get 2 s, then their connections are cut; sessions are then ended.
  let aborted = 0;
  await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(() => { aborted = 1; r(); }, 2000).unref())]);
  if (aborted) conns.forEach((a) => a.destroy());
  let deleteFailed = 0;
  const ended = new Set();
  for (let w = 0; w < opt.c; w++) {
    const sid = sessions[w]['mcp-session-id'];
    if (!sid || ended.has(sid)) continue;
    ended.add(sid);
    const code = await del(conns[w], sessions[w]);
    if (code < 200 || code >= 300) deleteFailed++;
  }
  conns.forEach((a) => a.destroy());

  const secs = Number(tEnd - tStart) / 1e9;
  const srv = busyPct(srv0, srv1), ld = busyPct(ld0, ld1);
  const extra = {
    secs: secs.toFixed(3), setup_s: setupS.toFixed(3), sessions: opt.session === 'shared' ? 1 : opt.c,
    server_busy: srv.busy.toFixed(1), load_busy: ld.busy.toFixed(1), steal: srv.steal.toFixed(1),
    bridge_cpu_s: cpu0 ? (cpu1.own - cpu0.own).toFixed(2) : 'nan',
    tree_cpu_s: cpu0 ? (cpu1.tree - cpu0.tree).toFixed(2) : 'nan',
    rss_idle_kb: rssIdle ? rssIdle.rss : 0, rss_start_kb: mem.rssStart, rss_end_kb: mem.rssEnd,
    rss_max_kb: mem.rssMax, tree_rss_max_kb: mem.treeMax, tree_rss_end_kb: mem.treeEnd,
    procs_max: mem.procsMax, hwm_kb: opt.watchPid ? statusKb(opt.watchPid, 'VmHWM') : 0,
    aborted_in_flight: aborted, delete_failed: deleteFailed, warmup_errors: warmupErrors,
  };
  report(secs, extra);
  process.exit(0);
}

function report(secs, extra) {
  lat.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] : NaN);
  const errors = Object.entries(counts).filter(([k]) => k !== 'ok').reduce((a, [, v]) => a + v, 0);
  const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'nan');
  const fields = {
    rps: secs > 0 ? (counts.ok / secs).toFixed(1) : '0', p50_ms: f(pct(50)), p90_ms: f(pct(90)),
    p99_ms: f(pct(99)), max_ms: f(lat.length ? lat[lat.length - 1] : NaN), ok: counts.ok, errors,
    wrong_answer: counts.wrong_answer, http_errors: counts.http, rpc_errors: counts.rpc_error,
    no_answer: counts.no_answer, content_errors: counts.content + counts.parse, transport_errors: counts.transport,
    c: opt.c, ids: opt.ids, ...extra,
  };
  if (firstError) console.log(`FIRST_ERROR ${firstError.replace(/\s+/g, ' ')}`);
  console.log('RESULT ' + Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '));
}

function finish(why) {
  if (firstError === null) firstError = why;
  else firstError = `${why}; first: ${firstError}`;
  report(0, { hard_limit: 1 });
  process.exit(1);
}

main().catch((e) => { console.log(`FIRST_ERROR ${String(e && e.stack || e).replace(/\s+/g, ' ')}`); process.exit(1); });
