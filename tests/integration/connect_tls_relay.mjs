// A TLS-terminating relay for the connect integration test: HTTPS in front of `mcp-sidecar serve`
// (plain HTTP), as a reverse proxy in a deployment would be. Dependency-free (node:https).
//
//   node connect_tls_relay.mjs --upstream 127.0.0.1:PORT --cert FILE --key FILE [--port N]
//
// Prints exactly one line "listening <port>" on stdout once it accepts connections. Requests and
// answers pass unchanged (event streams stay streams); only the transport differs. A failed TLS
// handshake is written to stderr as "tls error: <reason>".

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const [upHost, upPort] = arg('--upstream', '127.0.0.1:8787').split(':');
const port = Number(arg('--port', '0'));
const cert = fs.readFileSync(arg('--cert', ''));
const key = fs.readFileSync(arg('--key', ''));

const server = https.createServer({ cert, key }, (req, res) => {
  const up = http.request(
    { host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: req.headers },
    (upRes) => {
      res.writeHead(upRes.statusCode, upRes.rawHeaders);
      upRes.pipe(res);
    });
  up.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(String(e));
  });
  req.pipe(up);
  // The client went away (connect closing its GET stream): so does the upstream request.
  res.on('close', () => up.destroy());
});
server.on('tlsClientError', (e) => process.stderr.write(`tls error: ${e.message}\n`));
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
