#!/usr/bin/env node
// Writes wire-vectors.json: signed byte strings worked out by hand from aim-wire.md (the copies in
// aim-wire-examples.md), with the signatures Node's own Ed25519 (OpenSSL) makes over them, so that
// the sidecar's C++ signing is checked against an independent implementation.
//   node make-vectors.mjs > wire-vectors.json
import crypto from 'node:crypto';

// RFC 8032 §7.1 TEST 1 secret key and its public key.
const seedHex = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const pubHex = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const key = crypto.createPrivateKey({
  key: Buffer.from('302e020100300506032b657004220420' + seedHex, 'hex'), format: 'der', type: 'pkcs8',
});
const sign = (m) => crypto.sign(null, Buffer.from(m, 'utf8'), key).toString('base64');
const agent = '6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f';
const usageBody = `{"agentId":"${agent}","reportedAt":"2026-05-01T12:00:00.000Z","mcpServers":{}}`;

const v = {
  about: 'Hand-derived from aim-wire.md; signatures by Node crypto (RFC 8032 key TEST 1). ' +
         'Regenerate with make-vectors.mjs.',
  seed_hex: seedHex,
  public_key_hex: pubHex,
  public_key_base64: Buffer.from(pubHex, 'hex').toString('base64'),
  private_key_base64_64: Buffer.from(seedHex + pubHex, 'hex').toString('base64'),
  agent_request: [
    { name: 'heartbeat, no body (§3 "Derived from the rule")', method: 'POST',
      target: `/api/v1/sdk-api/agents/${agent}/heartbeat`, timestamp: 1764000000, body: '',
      message: `POST\n/api/v1/sdk-api/agents/${agent}/heartbeat\n1764000000` },
    { name: 'usage report, body signed as sent', method: 'POST',
      target: `/api/v1/sdk-api/agents/${agent}/mcp-usage-report`, timestamp: 1764000001, body: usageBody,
      message: `POST\n/api/v1/sdk-api/agents/${agent}/mcp-usage-report\n1764000001\n${usageBody}` },
    { name: 'lower-case method upper-cased, query kept', method: 'get',
      target: `/api/v1/sdk-api/agents/${agent}/mcp-servers/by-name?name=weather`, timestamp: 1764000002, body: '',
      message: `GET\n/api/v1/sdk-api/agents/${agent}/mcp-servers/by-name?name=weather\n1764000002` },
  ],
  poll: [
    { name: 'UUIDs lower-cased before signing (§4)', verification_id: 'A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D',
      agent_id: '6F1C2A4E-3B5D-4C7E-9F80-1A2B3C4D5E6F', timestamp: 1764000003,
      message: 'GET\n/api/v1/sdk-api/verifications/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\n' +
               `${agent}\n1764000003` },
  ],
  legacy_verification: [
    { name: 'the §5.1 example, agent filled in', agent_id: agent, capability: 'db:read', resource: null,
      context: {}, timestamp: '2026-05-01T12:00:00.123456Z',
      message: `{"action_type": "db:read", "agent_id": "${agent}", "context": {}, "resource": null, ` +
               '"timestamp": "2026-05-01T12:00:00.123456Z"}' },
    { name: 'a gated tool: context sorted, integers, quote and backslash escaped',
      agent_id: agent, capability: 'mcp_tool:write_file', resource: 'file:///tmp/a "b"\\c',
      context: { tool: 'write_file', source: 'mcp-sidecar', call_id: 'c-1', risk_level: 'high', n: 35 },
      timestamp: '2026-05-01T12:00:00Z',
      message: `{"action_type": "mcp_tool:write_file", "agent_id": "${agent}", "context": {"call_id": "c-1", ` +
               '"n": 35, "risk_level": "high", "source": "mcp-sidecar", "tool": "write_file"}, ' +
               '"resource": "file:///tmp/a \\"b\\"\\\\c", "timestamp": "2026-05-01T12:00:00Z"}' },
    { name: 'an empty resource is null (Python `resource or None`)', agent_id: agent, capability: 'x',
      resource: '', context: {}, timestamp: '2026-05-01T12:00:00.000001Z',
      message: `{"action_type": "x", "agent_id": "${agent}", "context": {}, "resource": null, ` +
               '"timestamp": "2026-05-01T12:00:00.000001Z"}' },
  ],
  challenge: [
    { name: 'the base64 string itself is signed (§9)', challenge: 'q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=',
      message: 'q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=' },
  ],
  python_timestamps: [
    { unix_micros: 1777636800123456, text: '2026-05-01T12:00:00.123456Z' },
    { unix_micros: 1777636800000000, text: '2026-05-01T12:00:00Z' },
    { unix_micros: 1777636800000001, text: '2026-05-01T12:00:00.000001Z' },
  ],
};
for (const group of ['agent_request', 'poll', 'legacy_verification', 'challenge'])
  for (const c of v[group]) c.signature = sign(c.message);
process.stdout.write(JSON.stringify(v, null, 2) + '\n');
