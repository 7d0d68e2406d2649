// A minimal Streamable HTTP MCP server for drift tests (an HTTP upstream, as drift_server.mjs is a
// stdio one). Dependency-free: node:http, node:crypto, node:fs.
//
//   DRIFT_DESCRIPTION_FILE=FILE [DRIFT_RESOURCE_FILE=FILE] [DRIFT_PROMPT_FILE=FILE] \
//     node drift_http_server.mjs
//
// Binds 127.0.0.1 on an ephemeral port and prints exactly one line "listening <port>" to stdout.
// POST /mcp speaks JSON-RPC with a session (Mcp-Session-Id from initialize; an unknown one gets
// 404) and answers in JSON:
//   tools/list      one tool, `echo`, whose description is read from DRIFT_DESCRIPTION_FILE at
//                   every call, so a test changes the tool by rewriting the file
//   tools/call      echo: "Echo: <message>"
//   resources/list  with DRIFT_RESOURCE_FILE: one resource, file:///notes.txt, its description
//                   read from that file at every call (else the method is not found)
//   prompts/list    with DRIFT_PROMPT_FILE: one prompt, `summarize`, likewise
// With DRIFT_DEEP_SCHEMA=N, the tool's inputSchema holds an array nested N levels deep (a hostile
// or broken server), written as raw text since JSON.stringify would recurse as deep.
// Notifications get 202, DELETE /mcp ends the session. GET /calls answers {"calls":N}, the number
// of tools/call requests received, so a test can tell that a refused call never arrived.
// SIGTERM and SIGINT exit 0 at once.

import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const descriptionFile = process.env.DRIFT_DESCRIPTION_FILE;
const resourceFile = process.env.DRIFT_RESOURCE_FILE;
const promptFile = process.env.DRIFT_PROMPT_FILE;
if (!descriptionFile) {
  process.stderr.write('drift_http_server.mjs: DRIFT_DESCRIPTION_FILE is required\n');
  process.exit(2);
}
const text = (file) => readFileSync(file, 'utf8').trim();
const deepLevels = Number(process.env.DRIFT_DEEP_SCHEMA ?? 0);
const kDeepMarker = '"__deep_schema__"';

const sessions = new Set();
let calls = 0;

function capabilities() {
  const caps = { tools: { listChanged: true } };
  if (resourceFile) caps.resources = {};
  if (promptFile) caps.prompts = {};
  return caps;
}

// The result of one request, or a JSON-RPC error as { error }.
function answer(m) {
  switch (m.method) {
    case 'initialize':
      return { protocolVersion: '2025-06-18', capabilities: capabilities(),
               serverInfo: { name: 'drift-http-server', version: '1' } };
    case 'tools/list':
      return { tools: [{ name: 'echo', description: text(descriptionFile),
                         inputSchema: deepLevels > 0
                           ? '__deep_schema__'
                           : { type: 'object',
                               properties: { message: { type: 'string' } } } }] };
    case 'tools/call':
      calls++;
      return { content: [{ type: 'text', text: 'Echo: ' + (m.params?.arguments?.message ?? '') }] };
    case 'resources/list':
      if (!resourceFile) break;
      return { resources: [{ uri: 'file:///notes.txt', name: 'notes', mimeType: 'text/plain',
                             description: text(resourceFile) }] };
    case 'prompts/list':
      if (!promptFile) break;
      return { prompts: [{ name: 'summarize', description: text(promptFile),
                           arguments: [{ name: 'text', required: true }] }] };
    default:
      break;
  }
  return { error: { code: -32601, message: 'Method not found' } };
}

function reply(res, status, body, headers = {}) {
  let data = body === undefined ? '' : JSON.stringify(body);
  if (deepLevels > 0 && data.includes(kDeepMarker))
    data = data.replace(kDeepMarker, '{"type":"object","properties":{"x":{"enum":' +
                        '['.repeat(deepLevels) + ']'.repeat(deepLevels) + '}}}');
  res.writeHead(status, { 'Content-Type': 'application/json',
                          'Content-Length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/calls' && req.method === 'GET') return reply(res, 200, { calls });
    if (req.url !== '/mcp') return reply(res, 404, { error: 'not found' });
    const session = req.headers['mcp-session-id'];
    if (req.method === 'DELETE') {
      if (!sessions.delete(session)) return reply(res, 404, { error: 'no such session' });
      return reply(res, 200, undefined);
    }
    if (req.method !== 'POST') return reply(res, 405, { error: 'use POST' });
    let m;
    try {
      m = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(res, 400, { jsonrpc: '2.0', id: null,
                               error: { code: -32700, message: 'Parse error' } });
    }
    const headers = {};
    if (m.method === 'initialize') {
      const id = crypto.randomUUID();
      sessions.add(id);
      headers['Mcp-Session-Id'] = id;
    } else if (!sessions.has(session)) {
      return reply(res, 404, { jsonrpc: '2.0', id: m.id ?? null,
                               error: { code: -32001, message: 'Session not found' } });
    }
    if (m.id === undefined) return reply(res, 202, undefined); // a notification
    const a = answer(m);
    const body = a.error ? { jsonrpc: '2.0', id: m.id, error: a.error }
                         : { jsonrpc: '2.0', id: m.id, result: a };
    reply(res, 200, body, headers);
  });
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
