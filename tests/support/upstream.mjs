// Fake HTTP/1.1 upstream for the integration tests. Dependency-free: node:http and node:crypto.
//
//   node upstream.mjs [--port N]
//
// Binds 127.0.0.1 (port 0 = ephemeral) and prints exactly one line "listening <port>" to stdout
// once it accepts connections; everything else goes to stderr. Routes match on the path prefix:
//
//   /echo                  JSON description of the request (method, url, headers, body digest)
//   /echo-body             the request body, byte for byte
//   /sse?events=N&interval=MS
//                          text/event-stream, N events, the first at once, then one every MS ms
//   /slow?ms=N             answers after N ms
//   /status?code=NNN       that status with a small JSON body (no body for 204 and 304)
//   /big?bytes=N           N bytes, byte i = i % 251, written in 64 KiB chunks with backpressure
//   /chunked?parts=N[&interval=MS]
//                          chunked text/plain, one "part-i\n" chunk per part
//   /close                 answers with "Connection: close", then closes the socket
//   /count                 {"requests":..,"connections":..} counted since start, this one included
//                          (the sidecar's own listing session, User-Agent mcp-sidecar/…, is not
//                          counted, nor logged below)
//   /log                   text/plain, one line "METHOD request-target HTTP/x.y" per request
//                          received since start, in arrival order, this one included
//   /hang                  never answers; the socket stays open
//   /mcp (POST)            JSON-RPC echo: result {"echo": params}; notifications get 202
//   anything else          {"ok":true,"path":...}
//
// Every route reads the whole request body before answering, so a keep-alive connection is
// always left at a request boundary. SIGTERM and SIGINT exit 0 at once.

import crypto from 'node:crypto';
import http from 'node:http';

function usage(message) {
  process.stderr.write(`upstream.mjs: ${message}\nusage: node upstream.mjs [--port N]\n`);
  process.exit(2);
}

function parsePort(text) {
  if (!/^\d+$/.test(text ?? '')) usage(`bad port "${text}"`);
  const port = Number(text);
  if (port > 65535) usage(`bad port "${text}"`);
  return port;
}

let listenPort = 0;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') {
    listenPort = parsePort(args[++i]);
  } else if (args[i].startsWith('--port=')) {
    listenPort = parsePort(args[i].slice('--port='.length));
  } else {
    usage(`unknown argument "${args[i]}"`);
  }
}

let requestCount = 0;
const requestLog = [];
let connectionCount = 0;
const kChunkSize = 64 * 1024;
const kPatternModulus = 251;

// One buffer long enough that any 64 KiB window of the pattern, at any phase, is a subarray.
const patternBuffer = Buffer.alloc(kChunkSize + kPatternModulus);
for (let i = 0; i < patternBuffer.length; i++) patternBuffer[i] = i % kPatternModulus;

// Reads a non-negative integer query parameter; returns `fallback` when absent, null when invalid.
function intParam(query, name, fallback) {
  const text = query.get(name);
  if (text === null) return fallback;
  if (!/^\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

function sendJson(res, status, value, extraHeaders = {}) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': body.length,
    ...extraHeaders,
  });
  res.end(body);
}

function badRequest(res, message) {
  sendJson(res, 400, { error: message });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (chunk) => parts.push(chunk));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function routeEcho(req, res, body) {
  sendJson(res, 200, {
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    bodyLength: body.length,
    bodySha256: crypto.createHash('sha256').update(body).digest('hex'),
  });
}

function routeEchoBody(res, body) {
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': body.length,
  });
  res.end(body);
}

function routeSse(res, query) {
  const events = intParam(query, 'events', 3);
  const interval = intParam(query, 'interval', 100);
  if (events === null || interval === null) return badRequest(res, 'bad events or interval');
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
  });
  let sent = 0;
  let timer = null;
  const sendOne = () => {
    res.write(`id: ${sent}\ndata: {"n":${sent}}\n\n`);
    sent++;
    if (sent >= events) {
      clearInterval(timer);
      res.end();
    }
  };
  res.on('close', () => clearInterval(timer));
  if (events === 0) return res.end();
  sendOne();
  if (sent < events) timer = setInterval(sendOne, interval);
}

function routeSlow(res, query) {
  const ms = intParam(query, 'ms', 1000);
  if (ms === null) return badRequest(res, 'bad ms');
  const timer = setTimeout(() => sendJson(res, 200, { slept: ms }), ms);
  res.on('close', () => clearTimeout(timer));
}

function routeStatus(res, query) {
  const code = intParam(query, 'code', 200);
  if (code === null || code < 200 || code > 599) return badRequest(res, 'code must be 200..599');
  if (code === 204 || code === 304) {
    res.writeHead(code);
    return res.end();
  }
  sendJson(res, code, { status: code });
}

function routeBig(res, query) {
  const total = intParam(query, 'bytes', 1024 * 1024);
  if (total === null) return badRequest(res, 'bad bytes');
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': total,
  });
  let offset = 0;
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  const pump = () => {
    while (!closed && offset < total) {
      const length = Math.min(kChunkSize, total - offset);
      const phase = offset % kPatternModulus;
      offset += length;
      if (!res.write(patternBuffer.subarray(phase, phase + length))) {
        res.once('drain', pump);
        return;
      }
    }
    if (!closed) res.end();
  };
  pump();
}

function routeChunked(res, query) {
  const parts = intParam(query, 'parts', 3);
  const interval = intParam(query, 'interval', 0);
  if (parts === null || interval === null) return badRequest(res, 'bad parts or interval');
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  if (interval === 0) {
    for (let i = 0; i < parts; i++) res.write(`part-${i}\n`);
    return res.end();
  }
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= parts) {
      clearInterval(timer);
      return res.end();
    }
    res.write(`part-${sent++}\n`);
  }, interval);
  res.on('close', () => clearInterval(timer));
}

function routeClose(req, res) {
  // Node drops keep-alive when the handler sets "Connection: close"; ending the socket after the
  // response is flushed makes the close explicit whatever Node decides.
  res.on('finish', () => req.socket.end());
  sendJson(res, 200, { closing: true }, { Connection: 'close' });
}

function routeLog(res) {
  const body = Buffer.from(requestLog.map((line) => line + '\n').join(''));
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}

function answerRpc(message) {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    return { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } };
  }
  if (!('id' in message)) return undefined;
  return { jsonrpc: '2.0', id: message.id, result: { echo: message.params ?? null } };
}

function routeMcp(req, res, body) {
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' }, { Allow: 'POST' });
  let parsed;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return sendJson(res, 400, {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error' },
    });
  }
  let reply;
  if (Array.isArray(parsed)) {
    reply = parsed.map(answerRpc).filter((r) => r !== undefined);
    if (reply.length === 0) reply = undefined;
  } else {
    reply = answerRpc(parsed);
  }
  if (reply === undefined) {
    res.writeHead(202, { 'Content-Length': 0 });
    return res.end();
  }
  sendJson(res, 200, reply);
}

function matches(path, prefix) {
  return path === prefix || path.startsWith(prefix + '/');
}

async function handle(req, res) {
  // The sidecar's own listing session (User-Agent mcp-sidecar/…: initialize, tools/list, DELETE)
  // is not traffic it forwarded: it is left out of the counts and the log, as tests count what
  // callers sent through.
  const own = (req.headers['user-agent'] || '').startsWith('mcp-sidecar/');
  if (own && !req.socket.sidecarOwn) {
    req.socket.sidecarOwn = true;
    connectionCount--;
  }
  if (!own) {
    requestCount++;
    requestLog.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
  }
  const url = new URL(req.url, 'http://upstream.invalid');
  const path = url.pathname;
  const query = url.searchParams;
  const body = await readBody(req);

  if (matches(path, '/echo')) return routeEcho(req, res, body);
  if (matches(path, '/echo-body')) return routeEchoBody(res, body);
  if (matches(path, '/sse')) return routeSse(res, query);
  if (matches(path, '/slow')) return routeSlow(res, query);
  if (matches(path, '/status')) return routeStatus(res, query);
  if (matches(path, '/big')) return routeBig(res, query);
  if (matches(path, '/chunked')) return routeChunked(res, query);
  if (matches(path, '/close')) return routeClose(req, res);
  if (matches(path, '/count')) {
    return sendJson(res, 200, { requests: requestCount, connections: connectionCount });
  }
  if (matches(path, '/log')) return routeLog(res);
  if (matches(path, '/hang')) return undefined;
  if (matches(path, '/mcp')) return routeMcp(req, res, body);
  sendJson(res, 200, { ok: true, path });
}

// Large limits so header-size tests exercise the proxy's limits, not Node's 16 KiB default.
const server = http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`upstream.mjs: handler error: ${err?.stack ?? err}\n`);
    if (!res.headersSent) {
      sendJson(res, 500, { error: String(err) });
    } else {
      res.destroy();
    }
  });
});
server.keepAliveTimeout = 60000;
server.headersTimeout = 60000;
server.requestTimeout = 0;
server.on('connection', () => {
  connectionCount++;
});

const exitNow = () => process.exit(0);
process.on('SIGTERM', exitNow);
process.on('SIGINT', exitNow);

server.on('error', (err) => {
  process.stderr.write(`upstream.mjs: ${err.message}\n`);
  process.exit(1);
});
server.listen(listenPort, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
