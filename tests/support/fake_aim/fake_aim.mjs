#!/usr/bin/env node
// A fake AIM platform for mcp-sidecar's tests, written from shared/reference/aim-wire.md (the copy
// the tests use is tests/data/aim/). No npm dependencies.
//
// It serves the routes the sidecar uses with the documented status codes and bodies, checks every
// signature it receives byte for byte as the wire contract gives it (refusing with the documented
// error otherwise), checks every body field it reads, and records every request with its verdict.
// A second, plain-HTTP listener on loopback (the control port) lets tests read what it received
// and script what it answers next.
//
//   node fake_aim.mjs [--port N] [--control-port N] [--tls-cert FILE --tls-key FILE]
//                     [--api-key KEY]...
//
// Prints "listening aim=<port> control=<port> scheme=<http|https>" on stdout once both listen.
//
// AIM routes (aim-wire.md section in brackets):
//   POST /api/v1/agents                                        API key [7.1]
//   POST /api/v1/sdk-api/agents/:id/mcp-servers                agent-request-v1 [3, 8.2]
//   GET  /api/v1/sdk-api/agents/:id/mcp-servers                agent-request-v1 [8.1]
//   POST /api/v1/sdk-api/agents/:id/heartbeat                  agent-request-v1 [7.2]
//   POST /api/v1/sdk-api/agents/:id/mcp-usage-report           agent-request-v1 [13]
//   POST /api/v1/sdk-api/agents/:id/detection/report           agent-request-v1 [13]
//   POST /api/v1/sdk-api/verifications                         legacy body signature [5.1]
//   GET  /api/v1/sdk-api/verifications/:id                     X-AIM-* poll signature [4]
//   POST /api/v1/sdk-api/verifications/:id/execution-status    agent-request-v1 [12.4]
//   POST /api/v1/sdk-api/verifications/:id/result              403 always [12.4]
//   POST /api/v1/verification-events                           403 always [13]
//   GET  /api/v1/revocations                                   unauthenticated, ETag [7.3]
//   GET  /health                                               [15.3]
//
// Control routes (control port only):
//   GET  /__fake/requests            every request: seq, method, target, headers, body, route,
//                                    status, verdict ("ok" or the refusal reason), reason
//   GET  /__fake/state               agents, MCP servers, verifications (with execution
//                                    statuses and polls), latest usage totals, counters
//   POST /__fake/script              {route, action: "status"|"drop"|"hang", status?, body?,
//                                    headers?, times?}: the next `times` requests of `route`
//                                    (after their signature check) get `status`/`body`, are
//                                    handled and then left without an answer ("drop", a lost
//                                    answer), or are never answered ("hang")
//   POST /__fake/decisions           {status: approved|denied|pending, denialReason?,
//                                    resolveAfterPolls?, resolution?}: the next verification's
//                                    decision (default: approved)
//   POST /__fake/verifications/:id/decide   {status: approved|denied|expired, reason?}
//   POST /__fake/agents/:id/status   {status}
//   POST /__fake/revocations         {agentId?, reason?, maxAge?}
//   POST /__fake/mcp-servers         {name, url}: a server created by a user (JWT route)
//   POST /__fake/api-keys            {key}
//   POST /__fake/clock               {now: unix seconds | null}: pins the clock the signature
//                                    windows are checked against (null: real time)
//   POST /__fake/agents              {id, name?, publicKey, status?}: an agent with a fixed id
//   POST /__fake/verifications       {id, agentId, status?}: a verification with a fixed id
//   POST /__fake/mode                {mode: up|refuse|hang|503}: "refuse" closes the AIM port
//                                    (connection refused), "up" listens on it again
//   POST /__fake/challenge           {serverId}: runs AIM's challenge-response against the server
//                                    [9] and answers with the verdict
//   POST /__fake/capabilities        {serverId}: fetches and parses the capabilities document
//                                    the way AIM does [10]

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

// ------------------------------------------------------------------------------------------------
// Settings

const args = process.argv.slice(2);
const opt = { port: 0, controlPort: 0, tlsCert: '', tlsKey: '', apiKeys: [] };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => {
    if (i + 1 >= args.length) fail(`${a} needs a value`);
    return args[++i];
  };
  if (a === '--port') opt.port = Number(next());
  else if (a === '--control-port') opt.controlPort = Number(next());
  else if (a === '--tls-cert') opt.tlsCert = next();
  else if (a === '--tls-key') opt.tlsKey = next();
  else if (a === '--api-key') opt.apiKeys.push(next());
  else fail(`unknown argument ${a}`);
}

function fail(message) {
  process.stderr.write(`fake_aim: ${message}\n`);
  process.exit(2);
}

// aim-wire.md §3
const AGENT_SKEW_S = 30;
// aim-wire.md §4
const POLL_SKEW_S = 300;
const KEY_NOT_RECOGNIZED = 'the signing key is not the registered key of a known agent';
const MAX_BODY = 1 << 20;

// ------------------------------------------------------------------------------------------------
// State

const state = {
  // AIM stores a base64 SHA-256 of each full API key (§2).
  apiKeyHashes: new Set(opt.apiKeys.map(hashApiKey)),
  agents: new Map(), // lower-case id → agent
  agentNames: new Map(),
  servers: new Map(), // id → server
  serverUrls: new Map(), // url → id
  verifications: new Map(), // id → verification
  usage: new Map(), // server id → {tools: {name: {count, firstUsed, lastUsed}}, reports}
  usageReports: 0,
  usageAnomalies: [],
  heartbeats: new Map(), // agent id → count
  detections: [],
  revocations: [],
  revocationMaxAge: 300,
  decisions: [],
  scripts: [],
  requests: [],
  mode: 'up',
  clock: null,
  tlsErrors: 0,
  seq: 0,
};

// The fake's clock for signature windows: real time unless a test pinned it (/__fake/clock), so
// that the hand-worked vectors of tests/data/aim/ with their fixed timestamps can be replayed.
function nowSeconds() {
  return state.clock ?? Math.floor(Date.now() / 1000);
}

function hashApiKey(key) {
  return crypto.createHash('sha256').update(key, 'utf8').digest('base64');
}

function uuid() {
  return crypto.randomUUID();
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const RFC3339_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

// ------------------------------------------------------------------------------------------------
// Encodings (§1)

// Standard padded base64, strictly (Go's StdEncoding): alphabet, padding and canonical form.
function strictBase64(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text))
    return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return null;
  return bytes;
}

function ed25519Key(raw) {
  return crypto.createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

function verifyEd25519(rawKey, message, signature) {
  try {
    return crypto.verify(null, message, ed25519Key(rawKey), signature);
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------------
// Go's reconstruction of the legacy signed message (§5.1): json.Marshal of a map (keys sorted
// byte-wise), SetEscapeHTML(false), then a space after every ':' and ',' outside strings.

function goString(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20) out += '\\u00' + c.toString(16).padStart(2, '0');
    else if (c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16);
    else out += ch;
  }
  return out + '"';
}

function goValue(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // Go decodes every number into a float64 and prints it shortest-round-trip, as JS does.
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return goString(v);
  if (Array.isArray(v)) return '[' + v.map(goValue).join(', ') + ']';
  const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return '{' + keys.map((k) => goString(k) + ': ' + goValue(v[k])).join(', ') + '}';
}

function legacySignedMessage(body) {
  return goValue({
    action_type: body.capability,
    agent_id: body.agentId,
    context: body.context || {},
    resource: body.resource || null,
    timestamp: body.timestamp,
  });
}

// ------------------------------------------------------------------------------------------------
// Answers

class Refusal {
  constructor(status, body, verdict) {
    this.status = status;
    this.body = body;
    this.verdict = verdict;
  }
}

function refuse401(reasonCode, error, verdict) {
  return new Refusal(401, { error, reasonCode }, verdict);
}

function invalid(why) {
  return new Refusal(400, { error: `invalid request: ${why}` }, `invalid_body: ${why}`);
}

// agent-request-v1 (§3). Returns the authenticated agent or a Refusal.
function agentAuth(req, rawBody) {
  const h = req.headers;
  if (h.authorization !== undefined)
    // The middleware steps aside for JWT, which this fake does not implement.
    return new Refusal(401, { error: 'unauthorized' }, 'authorization_header_present');
  const id = h['x-agent-id'];
  const ts = h['x-timestamp'];
  const sig = h['x-signature'];
  const pk = h['x-public-key'];
  if (id === undefined || ts === undefined || sig === undefined || pk === undefined)
    return new Refusal(401, { error: 'unauthorized' }, 'missing_signature_headers');
  const alg = h['x-algorithm'];
  if (alg !== undefined && alg !== 'Ed25519')
    return new Refusal(400, { error: `unsupported algorithm ${alg}` }, 'unsupported_algorithm');
  if (!/^[0-9]{1,12}$/.test(ts))
    return refuse401('signatureInvalid', 'invalid timestamp', 'invalid_timestamp');
  const skew = nowSeconds() - Number(ts);
  if (skew > AGENT_SKEW_S)
    return refuse401('signatureInvalid', 'timestamp outside the allowed window', 'skew_past');
  if (skew < -AGENT_SKEW_S)
    return refuse401('signatureInvalid', 'timestamp outside the allowed window', 'skew_future');
  const agent = state.agents.get(String(id).toLowerCase());
  if (!agent) return refuse401('agentKeyNotRecognized', KEY_NOT_RECOGNIZED, 'agent_lookup_failed');
  const pkBytes = strictBase64(pk);
  if (!pkBytes || pkBytes.length !== 32 || !pkBytes.equals(agent.key))
    return refuse401('agentKeyNotRecognized', KEY_NOT_RECOGNIZED, 'public_key_mismatch');
  const sigBytes = strictBase64(sig);
  if (!sigBytes || sigBytes.length !== 64)
    return refuse401('signatureInvalid', 'invalid signature', 'signature_malformed');
  const parts = [Buffer.from(`${req.method.toUpperCase()}\n${req.url}\n${ts}`, 'utf8')];
  if (rawBody.length > 0) parts.push(Buffer.from('\n'), rawBody);
  if (!verifyEd25519(agent.key, Buffer.concat(parts), sigBytes))
    return refuse401('signatureInvalid', 'invalid signature', 'signature_invalid_ed25519');
  // Status only after the signature holds (§0 rule 3).
  if (agent.status === 'revoked' || agent.status === 'suspended')
    return refuse401('agentStatusDenied', `agent is ${agent.status}`, 'agent_status_denied');
  return agent;
}

// AgentPathBinding (§3): the :id of /agents/:id/… must be the signing agent.
function pathBinding(agent, pathAgentId) {
  if (pathAgentId.toLowerCase() !== agent.id)
    return new Refusal(403, { error: 'forbidden' }, 'path_binding_mismatch');
  return null;
}

function parseJsonBody(rawBody) {
  if (rawBody.length === 0) return { value: undefined };
  try {
    return { value: JSON.parse(rawBody.toString('utf8')) };
  } catch (e) {
    return { error: `not JSON: ${e.message}` };
  }
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function optString(body, name) {
  return body[name] === undefined || body[name] === null || typeof body[name] === 'string';
}

// AIM validates with go-playground's `url` tag: it parses, and has a scheme and "//" (so
// stdio://host/name, which `mcp-sidecar register` uses for a stdio server, is a URL too).
function validUrl(text) {
  try {
    const u = new URL(text);
    return /^[a-z][a-z0-9+.-]*:$/.test(u.protocol) && text.includes('://');
  } catch {
    return false;
  }
}

function verificationView(v) {
  return {
    id: v.id,
    status: v.status,
    approvedBy: v.approvedBy,
    expiresAt: v.expiresAt,
    denialReason: v.denialReason,
    trustScore: state.agents.get(v.agentId)?.trustScore ?? 0,
    enforcementMode: 'strict',
  };
}

function decide(v, status, reason) {
  v.status = status;
  if (status === 'approved') {
    v.approvedBy = 'fake-admin';
    v.expiresAt = new Date(v.createdAt + 24 * 3600 * 1000).toISOString();
    v.denialReason = null;
  } else if (status === 'denied') {
    v.denialReason = reason || 'denied by the fake';
  }
}

// ------------------------------------------------------------------------------------------------
// Routes. Each returns {status, body, headers?} or a Refusal; `ctx.route` names the route.

function route(req, rawBody, ctx) {
  const url = new URL(req.url, 'http://fake');
  const path = url.pathname;
  const m = req.method;
  let match;

  if (m === 'GET' && path === '/health') {
    ctx.route = 'health';
    return { status: 200, body: { status: 'healthy', service: 'agent-identity-management', time: new Date().toISOString() } };
  }

  if (m === 'POST' && path === '/api/v1/agents') {
    ctx.route = 'register_agent';
    return registerAgent(req, rawBody);
  }

  if ((match = path.match(/^\/api\/v1\/sdk-api\/agents\/([^/]+)\/(mcp-servers|heartbeat|mcp-usage-report|detection\/report)$/))) {
    const [, pathAgent, what] = match;
    ctx.route = { 'mcp-servers': m === 'GET' ? 'list_mcp_servers' : 'register_mcp_server',
                  heartbeat: 'heartbeat', 'mcp-usage-report': 'usage_report',
                  'detection/report': 'detection_report' }[what];
    if (m !== 'POST' && !(m === 'GET' && what === 'mcp-servers'))
      return new Refusal(405, { error: 'method not allowed' }, 'method_not_allowed');
    const agent = agentAuth(req, rawBody);
    if (agent instanceof Refusal) return agent;
    const bound = pathBinding(agent, pathAgent);
    if (bound) return bound;
    ctx.script = takeScript(ctx.route);
    if (ctx.script && ctx.script.action === 'status') return scripted(ctx.script);
    if (what === 'heartbeat') return heartbeat(agent, rawBody);
    if (what === 'mcp-servers')
      return m === 'GET' ? { status: 200, body: { mcpServers: [...state.servers.values()], total: state.servers.size } }
                         : registerServer(agent, rawBody);
    if (what === 'mcp-usage-report') return usageReport(agent, rawBody);
    return detectionReport(agent, rawBody);
  }

  if (m === 'POST' && path === '/api/v1/sdk-api/verifications') {
    ctx.route = 'verification';
    return createVerification(rawBody, ctx);
  }

  if ((match = path.match(/^\/api\/v1\/sdk-api\/verifications\/([^/]+)$/)) && m === 'GET') {
    ctx.route = 'verification_poll';
    return pollVerification(req, match[1], ctx);
  }

  if ((match = path.match(/^\/api\/v1\/sdk-api\/verifications\/([^/]+)\/execution-status$/)) && m === 'POST') {
    ctx.route = 'execution_status';
    const agent = agentAuth(req, rawBody);
    if (agent instanceof Refusal) return agent;
    ctx.script = takeScript(ctx.route);
    if (ctx.script && ctx.script.action === 'status') return scripted(ctx.script);
    return executionStatus(agent, match[1], rawBody);
  }

  if ((match = path.match(/^\/api\/v1\/sdk-api\/verifications\/([^/]+)\/result$/))) {
    ctx.route = 'verification_result';
    return new Refusal(403, { error: 'withdrawn' }, 'route_withdrawn');
  }

  if (path === '/api/v1/verification-events' && m === 'POST') {
    ctx.route = 'verification_events';
    return new Refusal(403, { code: 'verificationEventWriteNotAccepted' }, 'route_withdrawn');
  }

  if (m === 'GET' && path === '/api/v1/revocations') {
    ctx.route = 'revocations';
    ctx.script = takeScript(ctx.route);
    if (ctx.script && ctx.script.action === 'status') return scripted(ctx.script);
    return revocations(req);
  }

  ctx.route = 'unknown';
  return new Refusal(404, { error: 'not found' }, 'unknown_route');
}

function scripted(script) {
  return { status: script.status, body: script.body ?? { error: 'scripted' }, headers: script.headers || {} };
}

function takeScript(routeName) {
  const i = state.scripts.findIndex((s) => s.route === routeName);
  if (i < 0) return null;
  const s = state.scripts[i];
  s.times = (s.times ?? 1) - 1;
  if (s.times <= 0) state.scripts.splice(i, 1);
  return s;
}

// §7.1
function registerAgent(req, rawBody) {
  let key = req.headers['x-api-key'];
  if (key === undefined && req.headers.authorization?.startsWith('Bearer '))
    key = req.headers.authorization.slice(7);
  if (key === undefined) return new Refusal(401, { error: 'API key required' }, 'missing_api_key');
  if (!state.apiKeyHashes.has(hashApiKey(key)))
    return new Refusal(401, { error: 'invalid API key' }, 'invalid_api_key');
  const parsed = parseJsonBody(rawBody);
  if (parsed.error) return invalid(parsed.error);
  const b = parsed.value;
  if (!isObject(b)) return invalid('the body is not an object');
  if (typeof b.name !== 'string' || b.name === '') return invalid('name is required');
  for (const f of ['displayName', 'description', 'agentType', 'version', 'declaredPurpose'])
    if (!optString(b, f)) return invalid(`${f} must be a string`);
  for (const f of ['capabilities', 'talksTo'])
    if (b[f] !== undefined && !Array.isArray(b[f])) return invalid(`${f} must be an array`);
  if (b.metadata !== undefined && !isObject(b.metadata)) return invalid('metadata must be an object');
  if (b.privateKey !== undefined || b.private_key !== undefined)
    return invalid('a private key must never be sent');
  const pk = strictBase64(b.publicKey);
  if (!pk || pk.length !== 32) return invalid('publicKey must be the std base64 of 32 raw bytes');
  if (state.agentNames.has(b.name))
    return new Refusal(409, { error: 'agent with this name already exists' }, 'duplicate_agent_name');
  const agent = {
    id: uuid(), name: b.name, displayName: b.displayName ?? b.name, description: b.description ?? '',
    agentType: b.agentType ?? '', version: b.version ?? '', publicKey: b.publicKey, key: pk,
    status: 'verified', trustScore: 0.75, createdAt: new Date().toISOString(),
  };
  state.agents.set(agent.id, agent);
  state.agentNames.set(agent.name, agent.id);
  const { key: _omit, ...view } = agent;
  return { status: 201, body: view };
}

// §7.2
function heartbeat(agent) {
  agent.lastHeartbeat = new Date().toISOString();
  state.heartbeats.set(agent.id, (state.heartbeats.get(agent.id) || 0) + 1);
  return { status: 200, body: { agentId: agent.id, status: agent.status, lastHeartbeat: agent.lastHeartbeat, trustScore: agent.trustScore } };
}

// §8.2
function registerServer(agent, rawBody) {
  const parsed = parseJsonBody(rawBody);
  if (parsed.error) return invalid(parsed.error);
  const b = parsed.value;
  if (!isObject(b)) return invalid('the body is not an object');
  if (typeof b.name !== 'string' || b.name === '') return invalid('name is required');
  if (typeof b.url !== 'string' || !validUrl(b.url)) return invalid('url must be a URL');
  for (const f of ['description', 'version', 'publicKey', 'verificationUrl', 'registeredByAgent'])
    if (!optString(b, f)) return invalid(`${f} must be a string`);
  if (b.publicKey) {
    const pk = strictBase64(b.publicKey);
    if (!pk || pk.length !== 32) return invalid('publicKey must be the std base64 of 32 raw bytes');
  }
  if (b.public_key !== undefined) return invalid('public_key is the v0 spelling; send publicKey');
  if (b.verificationUrl && !validUrl(b.verificationUrl)) return invalid('verificationUrl must be a URL');
  if (b.capabilities !== undefined &&
      (!Array.isArray(b.capabilities) || b.capabilities.some((c) => typeof c !== 'string')))
    return invalid('capabilities must be an array of strings');
  if (b.registeredByAgent && !UUID_RE.test(b.registeredByAgent))
    return invalid('registeredByAgent must be a UUID');
  const existing = state.serverUrls.get(b.url);
  if (existing)
    return new Refusal(409, { error: 'mcp server with this URL already exists', existingId: existing,
                              name: state.servers.get(existing).name }, 'ok');
  const now = new Date().toISOString();
  const server = {
    id: uuid(), organizationId: 'org-fake', name: b.name, description: b.description ?? '',
    url: b.url, version: b.version ?? '', publicKey: b.publicKey || crypto.randomBytes(32).toString('base64'),
    status: 'verified', isVerified: true, lastVerifiedAt: now, verificationUrl: b.verificationUrl ?? '',
    capabilities: (b.capabilities || []).map((c) => ({ type: 'tool', name: c, schema: {} })),
    trustScore: 0.8, registeredByAgent: agent.id, createdBy: agent.id, createdAt: now, updatedAt: now,
    tags: [], verificationMethod: 'sdk_registration', attestationCount: 0, confidenceScore: 0,
    lastAttestedAt: null,
  };
  state.servers.set(server.id, server);
  state.serverUrls.set(server.url, server.id);
  return { status: 201, body: server };
}

// §13
function usageReport(agent, rawBody) {
  const parsed = parseJsonBody(rawBody);
  if (parsed.error) return invalid(parsed.error);
  const b = parsed.value;
  if (!isObject(b)) return invalid('the body is not an object');
  if (typeof b.agentId !== 'string' || b.agentId.toLowerCase() !== agent.id)
    return invalid('agentId must be the signing agent');
  if (typeof b.reportedAt !== 'string' || !RFC3339_RE.test(b.reportedAt))
    return invalid('reportedAt must be RFC 3339');
  if (!isObject(b.mcpServers)) return invalid('mcpServers must be an object');
  let servers = 0;
  let total = 0;
  for (const [serverId, report] of Object.entries(b.mcpServers)) {
    if (!UUID_RE.test(serverId)) continue; // skipped silently, as AIM does
    if (!isObject(report) || !isObject(report.toolUsage)) return invalid('toolUsage must be an object');
    if (report.capabilitiesAttested !== undefined && !Array.isArray(report.capabilitiesAttested))
      return invalid('capabilitiesAttested must be an array');
    for (const [tool, u] of Object.entries(report.toolUsage)) {
      if (!isObject(u) || !Number.isInteger(u.count) || u.count < 0)
        return invalid(`toolUsage.${tool}.count must be a non-negative integer`);
      for (const f of ['firstUsed', 'lastUsed'])
        if (u[f] !== undefined && (typeof u[f] !== 'string' || !RFC3339_RE.test(u[f])))
          return invalid(`toolUsage.${tool}.${f} must be RFC 3339`);
    }
    servers++;
    const prev = state.usage.get(serverId.toLowerCase());
    for (const [tool, u] of Object.entries(report.toolUsage)) {
      total += u.count;
      const before = prev?.tools?.[tool]?.count ?? 0;
      if (u.count < before)
        state.usageAnomalies.push(`${serverId}/${tool}: count went from ${before} to ${u.count}`);
    }
    state.usage.set(serverId.toLowerCase(), { tools: report.toolUsage, reports: (prev?.reports ?? 0) + 1,
                                             reportedAt: b.reportedAt });
  }
  state.usageReports++;
  return { status: 200, body: { success: true, serversReported: servers, totalInvocations: total,
                                message: 'usage recorded' } };
}

function detectionReport(agent, rawBody) {
  const parsed = parseJsonBody(rawBody);
  if (parsed.error) return invalid(parsed.error);
  const b = parsed.value;
  if (!isObject(b) || !Array.isArray(b.detections)) return invalid('detections must be an array');
  state.detections.push({ agentId: agent.id, detections: b.detections });
  return { status: 200, body: { success: true, detectionsProcessed: b.detections.length, newMCPs: [],
                                existingMCPs: [], message: 'detections processed' } };
}

// §5.1
function createVerification(rawBody, ctx) {
  const parsed = parseJsonBody(rawBody);
  if (parsed.error) return invalid(parsed.error);
  const b = parsed.value;
  if (!isObject(b)) return invalid('the body is not an object');
  if (b.signedBytes !== undefined)
    return new Refusal(400, { error: 'action-request-v1 is not implemented in the fake', reasonCode: 'invalidRequest' },
                       'action_request_v1_unsupported');
  if (b.nonce !== undefined || b.delegationDigests !== undefined)
    return new Refusal(400, { error: 'nonce and delegationDigests need the signed statement form',
                              reasonCode: 'invalidRequest' }, 'invalid_body: nonce in legacy form');
  for (const f of ['agentId', 'capability', 'timestamp', 'signature', 'publicKey'])
    if (typeof b[f] !== 'string' || b[f] === '') return invalid(`${f} is required`);
  if (b.resource !== undefined && b.resource !== null && typeof b.resource !== 'string')
    return invalid('resource must be a string or null');
  if (b.context !== undefined && !isObject(b.context)) return invalid('context must be an object');
  if (!optString(b, 'riskLevel')) return invalid('riskLevel must be a string');
  if (b.agent_id !== undefined || b.action_type !== undefined)
    return invalid('snake_case keys are the v0 body; send camelCase');
  const agent = state.agents.get(b.agentId.toLowerCase());
  if (!agent) return refuse401('agentKeyNotRecognized', KEY_NOT_RECOGNIZED, 'agent_lookup_failed');
  const pk = strictBase64(b.publicKey);
  if (!pk || pk.length !== 32 || !pk.equals(agent.key))
    return refuse401('agentKeyNotRecognized', KEY_NOT_RECOGNIZED, 'public_key_mismatch');
  const sig = strictBase64(b.signature);
  if (!sig || sig.length !== 64)
    return refuse401('signatureInvalid', 'invalid signature', 'signature_malformed');
  const message = legacySignedMessage(b);
  if (!verifyEd25519(agent.key, Buffer.from(message, 'utf8'), sig))
    return refuse401('signatureInvalid', 'invalid signature', 'signature_invalid_ed25519');
  if (agent.status !== 'verified' && agent.status !== 'pending')
    return new Refusal(403, { error: `agent status ${agent.status} does not allow verifications` },
                       'agent_status_denied');
  ctx.script = takeScript(ctx.route);
  if (ctx.script && ctx.script.action === 'status') return scripted(ctx.script);

  const plan = state.decisions.shift() || { status: 'approved' };
  const v = {
    id: uuid(), agentId: agent.id, capability: b.capability, resource: b.resource ?? null,
    context: b.context ?? {}, timestamp: b.timestamp, riskLevel: b.riskLevel ?? null,
    signedMessage: message, createdAt: Date.now(), status: 'pending', approvedBy: null,
    expiresAt: null, denialReason: null, polls: 0, plan, executions: [],
  };
  state.verifications.set(v.id, v);
  if (plan.status === 'approved' || plan.status === 'denied') decide(v, plan.status, plan.denialReason);
  const view = verificationView(v);
  if (v.status === 'denied') return new Refusal(403, view, 'ok');
  return { status: 201, body: view };
}

// §4
function pollVerification(req, idInPath, ctx) {
  const h = req.headers;
  const agentId = h['x-aim-agent-id'];
  const ts = h['x-aim-timestamp'];
  const sig = h['x-aim-signature'];
  if (agentId === undefined || ts === undefined || sig === undefined)
    return new Refusal(401, { error: 'signature headers required' }, 'missing_signature_headers');
  if (h['x-agent-id'] !== undefined || h['x-public-key'] !== undefined)
    return new Refusal(401, { error: 'the poll takes X-AIM-* headers only' }, 'wrong_header_scheme');
  if (!/^[0-9]{1,12}$/.test(ts))
    return refuse401('signatureInvalid', 'invalid timestamp', 'invalid_timestamp');
  const skew = nowSeconds() - Number(ts);
  if (Math.abs(skew) > POLL_SKEW_S)
    return refuse401('signatureInvalid', 'timestamp outside the allowed window', skew > 0 ? 'skew_past' : 'skew_future');
  const agent = state.agents.get(agentId.toLowerCase());
  if (!agent) return refuse401('agentKeyNotRecognized', KEY_NOT_RECOGNIZED, 'agent_lookup_failed');
  const sigBytes = strictBase64(sig);
  if (!sigBytes || sigBytes.length !== 64)
    return refuse401('signatureInvalid', 'invalid signature', 'signature_malformed');
  const message = `GET\n/api/v1/sdk-api/verifications/${idInPath.toLowerCase()}\n${agentId.toLowerCase()}\n${ts}`;
  if (!verifyEd25519(agent.key, Buffer.from(message, 'utf8'), sigBytes))
    return refuse401('signatureInvalid', 'invalid signature', 'signature_invalid_ed25519');
  ctx.script = takeScript(ctx.route);
  if (ctx.script && ctx.script.action === 'status') return scripted(ctx.script);
  const v = state.verifications.get(idInPath.toLowerCase());
  // Another agent's event answers 404: existence cannot be probed.
  if (!v || v.agentId !== agent.id) return new Refusal(404, { error: 'verification not found' }, 'ok');
  v.polls++;
  if (v.status === 'pending' && v.plan.resolveAfterPolls && v.polls >= v.plan.resolveAfterPolls)
    decide(v, v.plan.resolution || 'approved', v.plan.denialReason);
  return { status: 200, body: verificationView(v) };
}

// §12.4
function executionStatus(agent, id, rawBody) {
  const v = state.verifications.get(id.toLowerCase());
  if (!v || v.agentId !== agent.id) return new Refusal(404, { error: 'verification not found' }, 'ok');
  const parsed = parseJsonBody(rawBody);
  if (parsed.error) return invalid(parsed.error);
  const b = parsed.value;
  if (!isObject(b)) return invalid('the body is not an object');
  if (typeof b.executed !== 'boolean') return invalid('executed must be a boolean');
  if (b.executedAt !== undefined && (typeof b.executedAt !== 'string' || !RFC3339_RE.test(b.executedAt)))
    return invalid('executedAt must be RFC 3339');
  if (!optString(b, 'executionError')) return invalid('executionError must be a string');
  v.executions.push({ executed: b.executed, executedAt: b.executedAt ?? null, executionError: b.executionError ?? null });
  return { status: 200, body: { id: v.id, status: 'execution_status_recorded', executed: b.executed, strictMode: true } };
}

// §7.3
function revocations(req) {
  const entries = state.revocations.map((r) => ({ agentId: r.agentId, reason: r.reason }));
  const etag = '"' + crypto.createHash('sha256').update(JSON.stringify(entries)).digest('hex') + '"';
  const headers = { ETag: etag, 'Cache-Control': `max-age=${state.revocationMaxAge}` };
  if (req.headers['if-none-match'] === etag) return { status: 304, body: null, headers };
  return { status: 200, headers,
           body: { revocations: entries, total: entries.length, generatedAt: new Date().toISOString() } };
}

// ------------------------------------------------------------------------------------------------
// The AIM listener

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  const text = body === null || body === undefined ? '' : JSON.stringify(body);
  const h = { ...headers };
  if (text !== '') h['Content-Type'] = 'application/json';
  h['Content-Length'] = Buffer.byteLength(text);
  res.writeHead(status, h);
  res.end(text);
}

async function handleAim(req, res) {
  let rawBody;
  try {
    rawBody = await readBody(req);
  } catch {
    return;
  }
  const entry = {
    seq: ++state.seq, time: new Date().toISOString(), method: req.method, target: req.url,
    headers: req.headers, rawHeaders: req.rawHeaders, body: rawBody.toString('utf8'),
    route: '', status: 0, verdict: '', reason: '',
  };
  state.requests.push(entry);
  if (state.mode === 'hang') {
    entry.verdict = 'ok';
    entry.reason = 'mode hang: never answered';
    return;
  }
  if (state.mode === '503') {
    entry.route = 'any';
    entry.verdict = 'ok';
    entry.status = 503;
    send(res, 503, { error: 'service unavailable' });
    return;
  }
  const ctx = { route: '', script: null };
  let out;
  try {
    out = route(req, rawBody, ctx);
  } catch (e) {
    entry.verdict = 'fake_error';
    entry.reason = String(e.stack || e);
    entry.status = 500;
    send(res, 500, { error: 'fake error' });
    return;
  }
  entry.route = ctx.route;
  if (out instanceof Refusal) {
    entry.verdict = out.verdict;
    entry.status = out.status;
    entry.reason = out.verdict === 'ok' ? '' : JSON.stringify(out.body);
    out = { status: out.status, body: out.body };
  } else {
    entry.verdict = 'ok';
    entry.status = out.status;
  }
  if (ctx.script && ctx.script.action === 'drop') {
    // Handled, then the answer is lost.
    entry.reason = 'scripted: answer dropped';
    entry.status = 0;
    res.socket?.destroy();
    return;
  }
  if (ctx.script && ctx.script.action === 'hang') {
    entry.reason = 'scripted: never answered';
    entry.status = 0;
    return;
  }
  if (ctx.script && ctx.script.action === 'status') entry.reason = 'scripted';
  send(res, out.status, out.body, out.headers || {});
}

const tls = opt.tlsCert !== '';
const aimServer = tls
  ? https.createServer({ cert: fs.readFileSync(opt.tlsCert), key: fs.readFileSync(opt.tlsKey) }, handleAim)
  : http.createServer(handleAim);
aimServer.keepAliveTimeout = 5000;
const aimSockets = new Set();
aimServer.on('connection', (s) => {
  aimSockets.add(s);
  s.on('close', () => aimSockets.delete(s));
});
if (tls) aimServer.on('tlsClientError', () => state.tlsErrors++);
let aimPort = opt.port;

function listenAim() {
  return new Promise((resolve, reject) => {
    aimServer.once('error', reject);
    aimServer.listen(aimPort, '127.0.0.1', () => {
      aimServer.off('error', reject);
      aimPort = aimServer.address().port;
      resolve();
    });
  });
}

// ------------------------------------------------------------------------------------------------
// AIM's side of the challenge (§9) and the capabilities fetch (§10)

function requestJson(urlText, { method = 'GET', headers = {}, body, limit = 64 * 1024, timeoutMs = 30000 }) {
  return new Promise((resolve) => {
    const url = new URL(urlText);
    const lib = url.protocol === 'https:' ? https : http;
    const h = { ...headers };
    // As Go's client: a body with its length, not chunked.
    if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
    const req = lib.request(url, { method, headers: h, timeout: timeoutMs }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        size += c.length;
        if (size <= limit) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                     body: Buffer.concat(chunks).toString('utf8'), truncated: size > limit }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function runChallenge(serverId) {
  const server = state.servers.get(String(serverId).toLowerCase());
  if (!server) return { ok: false, verdict: 'unknown_server' };
  const url = server.verificationUrl || server.url + '/.well-known/mcp/verify';
  const challenge = crypto.randomBytes(32).toString('base64');
  const r = await requestJson(url, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ challenge, server_id: server.id }),
  });
  const out = { ok: false, url, status: r.status, challenge, answer: r.body ?? '', error: r.error ?? '' };
  if (r.status !== 200) return { ...out, verdict: 'status_not_200' };
  let parsed;
  try {
    parsed = JSON.parse(r.body);
  } catch {
    return { ...out, verdict: 'answer_not_json' };
  }
  out.hasSignedChallenge = typeof parsed.signedChallenge === 'string';
  out.hasSignedChallengeSnake = typeof parsed.signed_challenge === 'string';
  const sigText = parsed.signedChallenge ?? parsed.signed_challenge;
  const sig = strictBase64(sigText);
  const key = strictBase64(server.publicKey);
  if (!sig || sig.length !== 64 || !key) return { ...out, verdict: 'signature_malformed' };
  // The signature covers the UTF-8 bytes of the base64 challenge string itself.
  if (!verifyEd25519(key, Buffer.from(challenge, 'utf8'), sig)) return { ...out, verdict: 'signature_invalid' };
  server.isVerified = true;
  server.lastVerifiedAt = new Date().toISOString();
  return { ...out, ok: true, verdict: 'ok' };
}

async function fetchCapabilities(serverId) {
  const server = state.servers.get(String(serverId).toLowerCase());
  if (!server) return { ok: false, verdict: 'unknown_server' };
  const u = new URL(server.url);
  // AIM strips the registered URL's path.
  const url = `${u.protocol}//${u.host}/.well-known/mcp/capabilities`;
  const r = await requestJson(url, {
    headers: { Accept: 'application/json', 'User-Agent': 'AIM/1.0 (Agent Identity Management)' },
    limit: 4 << 20,
  });
  const out = { ok: false, url, status: r.status, headers: r.headers ?? {}, body: r.body ?? '', error: r.error ?? '' };
  if (r.status !== 200) return { ...out, verdict: 'status_not_200' };
  let doc;
  try {
    doc = JSON.parse(r.body);
  } catch {
    return { ...out, verdict: 'not_json' };
  }
  const caps = [];
  for (const t of Array.isArray(doc.tools) ? doc.tools : [])
    caps.push({ type: 'tool', name: t.name, description: t.description ?? '', schema: t.inputSchema ?? null });
  for (const res of Array.isArray(doc.resources) ? doc.resources : [])
    caps.push({ type: 'resource', name: res.name, description: res.description ?? '',
                schema: { uri: res.uri, mimeTypes: res.mimeTypes ?? null } });
  for (const p of Array.isArray(doc.prompts) ? doc.prompts : [])
    caps.push({ type: 'prompt', name: p.name, description: p.description ?? '',
                schema: { arguments: p.arguments ?? null } });
  server.capabilities = caps;
  return { ...out, ok: true, verdict: 'ok', capabilities: caps };
}

// ------------------------------------------------------------------------------------------------
// The control listener

function stateView() {
  const agents = [...state.agents.values()].map(({ key: _k, ...a }) => ({ ...a, heartbeats: state.heartbeats.get(a.id) || 0 }));
  const verifications = [...state.verifications.values()].map(({ plan: _p, ...v }) => v);
  const usage = {};
  for (const [id, u] of state.usage) usage[id] = u;
  return {
    agents, servers: [...state.servers.values()], verifications, usage,
    usageReports: state.usageReports, usageAnomalies: state.usageAnomalies,
    detections: state.detections, revocations: state.revocations, mode: state.mode,
    tlsErrors: state.tlsErrors, requestCount: state.requests.length,
    pendingScripts: state.scripts.length, pendingDecisions: state.decisions.length,
  };
}

async function setMode(mode) {
  if (!['up', 'refuse', 'hang', '503'].includes(mode)) throw new Error(`unknown mode ${mode}`);
  if (mode === 'refuse' && aimServer.listening) {
    await new Promise((resolve) => {
      aimServer.close(() => resolve());
      for (const s of aimSockets) s.destroy();
    });
  } else if (mode !== 'refuse' && !aimServer.listening) {
    await listenAim();
  }
  state.mode = mode;
}

async function handleControl(req, res) {
  let raw;
  try {
    raw = await readBody(req);
  } catch {
    return;
  }
  let b = {};
  if (raw.length > 0) {
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      return send(res, 400, { error: `control body is not JSON: ${e.message}` });
    }
  }
  const path = new URL(req.url, 'http://fake').pathname;
  const m = req.method;
  let match;
  try {
    if (m === 'GET' && path === '/__fake/requests') return send(res, 200, { requests: state.requests });
    if (m === 'GET' && path === '/__fake/state') return send(res, 200, stateView());
    if (m === 'POST' && path === '/__fake/script') {
      state.scripts.push({ times: 1, ...b });
      return send(res, 200, { ok: true });
    }
    if (m === 'POST' && path === '/__fake/decisions') {
      state.decisions.push(b);
      return send(res, 200, { ok: true });
    }
    if (m === 'POST' && (match = path.match(/^\/__fake\/verifications\/([^/]+)\/decide$/))) {
      const v = state.verifications.get(match[1].toLowerCase());
      if (!v) return send(res, 404, { error: 'no such verification' });
      decide(v, b.status, b.reason);
      return send(res, 200, verificationView(v));
    }
    if (m === 'POST' && (match = path.match(/^\/__fake\/agents\/([^/]+)\/status$/))) {
      const a = state.agents.get(match[1].toLowerCase());
      if (!a) return send(res, 404, { error: 'no such agent' });
      a.status = b.status;
      return send(res, 200, { ok: true });
    }
    if (m === 'POST' && path === '/__fake/revocations') {
      if (b.maxAge !== undefined) state.revocationMaxAge = b.maxAge;
      if (b.agentId) state.revocations.push({ agentId: b.agentId, reason: b.reason || 'revoked' });
      return send(res, 200, { ok: true });
    }
    if (m === 'POST' && path === '/__fake/mcp-servers') {
      const id = uuid();
      state.servers.set(id, { id, name: b.name, url: b.url, publicKey: b.publicKey || '', status: 'pending',
                              verificationMethod: 'manual', createdBy: 'user', capabilities: [] });
      state.serverUrls.set(b.url, id);
      return send(res, 201, { id });
    }
    if (m === 'POST' && path === '/__fake/clock') {
      state.clock = b.now ?? null;
      return send(res, 200, { ok: true, now: nowSeconds() });
    }
    if (m === 'POST' && path === '/__fake/agents') {
      // An agent registered elsewhere, with a fixed id (the vectors' agent).
      const key = strictBase64(b.publicKey);
      if (!key || key.length !== 32) return send(res, 400, { error: 'publicKey: std base64 of 32 bytes' });
      const agent = { id: b.id.toLowerCase(), name: b.name || b.id, publicKey: b.publicKey, key,
                      status: b.status || 'verified', trustScore: 0.75, createdAt: new Date().toISOString() };
      state.agents.set(agent.id, agent);
      state.agentNames.set(agent.name, agent.id);
      return send(res, 201, { id: agent.id });
    }
    if (m === 'POST' && path === '/__fake/verifications') {
      const v = { id: b.id.toLowerCase(), agentId: b.agentId.toLowerCase(), capability: b.capability || 'x',
                  resource: null, context: {}, timestamp: '', riskLevel: null, signedMessage: '',
                  createdAt: Date.now(), status: 'pending', approvedBy: null, expiresAt: null,
                  denialReason: null, polls: 0, plan: { status: 'pending' }, executions: [] };
      if (b.status && b.status !== 'pending') decide(v, b.status, b.reason);
      state.verifications.set(v.id, v);
      return send(res, 201, { id: v.id });
    }
    if (m === 'POST' && path === '/__fake/api-keys') {
      state.apiKeyHashes.add(hashApiKey(b.key));
      return send(res, 200, { ok: true });
    }
    if (m === 'POST' && path === '/__fake/mode') {
      await setMode(b.mode);
      return send(res, 200, { ok: true, mode: state.mode });
    }
    if (m === 'POST' && path === '/__fake/challenge') return send(res, 200, await runChallenge(b.serverId));
    if (m === 'POST' && path === '/__fake/capabilities') return send(res, 200, await fetchCapabilities(b.serverId));
  } catch (e) {
    return send(res, 500, { error: String(e.stack || e) });
  }
  send(res, 404, { error: `no control route ${m} ${path}` });
}

const controlServer = http.createServer(handleControl);

await listenAim();
await new Promise((resolve) => controlServer.listen(opt.controlPort, '127.0.0.1', resolve));
process.stdout.write(`listening aim=${aimPort} control=${controlServer.address().port} scheme=${tls ? 'https' : 'http'}\n`);

for (const sig of ['SIGTERM', 'SIGINT'])
  process.on(sig, () => {
    controlServer.close();
    aimServer.close();
    for (const s of aimSockets) s.destroy();
    process.exit(0);
  });
