// A relay for the connect integration test, between `mcp-sidecar connect` and `mcp-sidecar serve`,
// that does to answers what a checking client must detect. Dependency-free (node:http).
//
//   node connect_tamper_relay.mjs --upstream 127.0.0.1:PORT [--port N] [--mode tamper|strip]
//
// Prints exactly one line "listening <port>" on stdout once it accepts connections. Every answer
// is passed through as it arrives (event streams stay streams), except:
//   tamper (default)  in each chunk of a body, the first "Echo: " becomes "Echo! " (same length,
//                     so Content-Length still holds); status, headers and signatures unchanged
//   strip             the X-MCP-Signature header is removed from every answer

import http from 'node:http';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const [upHost, upPort] = arg('--upstream', '127.0.0.1:8787').split(':');
const port = Number(arg('--port', '0'));
const mode = arg('--mode', 'tamper');

const server = http.createServer((req, res) => {
  const body = [];
  req.on('data', (c) => body.push(c));
  req.on('end', () => {
    const headers = { ...req.headers };
    const up = http.request(
      { host: upHost, port: Number(upPort), method: req.method, path: req.url, headers },
      (upRes) => {
        const raw = [];
        for (let i = 0; i < upRes.rawHeaders.length; i += 2) {
          if (mode === 'strip' && upRes.rawHeaders[i].toLowerCase() === 'x-mcp-signature') continue;
          raw.push(upRes.rawHeaders[i], upRes.rawHeaders[i + 1]);
        }
        res.writeHead(upRes.statusCode, raw);
        upRes.on('data', (chunk) => {
          const text = chunk.toString('latin1');
          const changed = mode === 'tamper' ? text.replace('Echo: ', 'Echo! ') : text;
          if (changed !== text) process.stderr.write(`tampered: ${req.method} ${req.url}\n`);
          res.write(Buffer.from(changed, 'latin1'));
        });
        upRes.on('end', () => res.end());
      });
    up.on('error', (e) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
    up.end(Buffer.concat(body));
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
