// Compares two runs of the MCP conformance suite, check by check: one straight against the MCP
// server, one through mcp-sidecar. Each run is a directory written by `conformance server -o DIR`:
// one `server-<scenario>-<timestamp>/checks.json` per scenario, a JSON array of checks
// {id, status: SUCCESS | FAILURE | WARNING | SKIPPED | INFO, errorMessage?, details?}.
//
//   node compare.mjs --direct DIR --via DIR --mode http|stdio [--expected FILE]
//
// Prints a table of both runs per scenario, every check whose outcome differs, and one line of
// totals. Exits 1 when the proxy made something worse:
//   * a check that succeeds directly and does not succeed through the sidecar (or is missing);
//   * a check that fails on both sides but with a different message: a check failing directly
//     for want of a fixture must fail the same way through the proxy, or the proxy changed what
//     the server said;
//   * a difference listed in --expected that no longer happens (stale entry).
// A difference listed in --expected for this mode is printed, with its reason, and not counted.
// Exits 2 on bad input (no results, unreadable files): the run itself is broken.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

function usage(msg) {
  console.error(`compare: ${msg}`);
  console.error("usage: node compare.mjs --direct DIR --via DIR --mode http|stdio [--expected FILE]");
  process.exit(2);
}

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i];
  if (!key.startsWith("--") || i + 1 >= process.argv.length) usage(`bad argument '${key}'`);
  args[key.slice(2)] = process.argv[i + 1];
}
for (const k of ["direct", "via", "mode"]) if (!args[k]) usage(`--${k} is required`);

// Directory names are `server-<scenario>-<ISO timestamp with ':' and '.' as '-'>`.
// Sorting by the timestamp lists the scenarios in the order the suite ran them.
const kDirName = /^server-(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)$/;

function readRun(dir) {
  if (!existsSync(dir)) usage(`no results directory ${dir}`);
  const scenarios = new Map();
  const entries = readdirSync(dir)
    .map((e) => [e, kDirName.exec(e)])
    .filter(([, m]) => m)
    .sort((x, y) => (x[1][2] < y[1][2] ? -1 : x[1][2] > y[1][2] ? 1 : 0));
  for (const [entry, m] of entries) {
    const file = join(dir, entry, "checks.json");
    let checks;
    try {
      checks = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      usage(`cannot read ${file}: ${e.message}`);
    }
    if (!Array.isArray(checks)) usage(`${file} is not an array of checks`);
    scenarios.set(m[1], checks);
  }
  return scenarios;
}

// Messages can carry the port of whichever endpoint was tested; nothing else variable was seen
// in them (session ids and timestamps live in `details`, which is not compared).
const normalise = (msg) => (msg ?? "").replace(/(localhost|127\.0\.0\.1|\[::1\]):\d+/g, "$1:PORT");

// The expected-differences file: `MODE SCENARIO:CHECK_ID  # reason`, the reason mandatory.
function readExpected(file, mode) {
  const out = new Map();
  if (!file) return out;
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((line, n) => {
    const text = line.trim();
    if (!text || text.startsWith("#")) return;
    const m = /^(\S+)\s+(\S+?):(\S+)\s+#\s*(\S.*)$/.exec(text);
    if (!m) usage(`${file}:${n + 1}: expected 'MODE SCENARIO:CHECK_ID  # reason', got '${text}'`);
    if (m[1] === mode) out.set(`${m[2]}:${m[3]}`, { reason: m[4], used: false });
  });
  return out;
}

const direct = readRun(args.direct);
const via = readRun(args.via);
const expected = readExpected(args.expected, args.mode);
const viaLabel = args.mode === "stdio" ? "via sidecar (stdio)" : "via sidecar (http)";
if (direct.size === 0) usage(`the direct run wrote no results in ${args.direct}`);

const count = (checks) => ({
  pass: checks.filter((c) => c.status === "SUCCESS").length,
  fail: checks.filter((c) => c.status === "FAILURE").length,
  other: checks.filter((c) => c.status !== "SUCCESS" && c.status !== "FAILURE").length,
});
const frac = (c) => `${c.pass}/${c.pass + c.fail}` + (c.other ? ` +${c.other} other` : "");

const names = [...direct.keys()];
for (const name of via.keys()) if (!direct.has(name)) names.push(name);
const width = Math.max(...names.map((n) => n.length), 10) + 2;
const pad = (s, n) => String(s).padEnd(n);

const regressions = [];
const improvements = [];
const tolerated = [];
const bothFail = [];
let totalDirect = { pass: 0, fail: 0, other: 0 };
let totalVia = { pass: 0, fail: 0, other: 0 };

console.log(`\n${pad("scenario", width)}${pad("direct", 14)}${pad(viaLabel, 22)}`);
for (const name of names) {
  const d = direct.get(name) ?? [];
  const v = via.get(name);
  const cd = count(d);
  const cv = v ? count(v) : null;
  for (const k of ["pass", "fail", "other"]) {
    totalDirect[k] += cd[k];
    if (cv) totalVia[k] += cv[k];
  }
  let note = "";
  const ids = [...new Set([...d.map((c) => c.id), ...(v ?? []).map((c) => c.id)])];
  for (const id of ids) {
    const a = d.find((c) => c.id === id);
    const b = v?.find((c) => c.id === id);
    const key = `${name}:${id}`;
    const sa = a?.status ?? "MISSING";
    const sb = b?.status ?? "MISSING";
    const row = { key, a, b, sa, sb };
    let kind = null;
    if (sa === "SUCCESS" && sb !== "SUCCESS") kind = "regression";
    else if (sa === "FAILURE" && sb === "FAILURE") {
      if (normalise(a.errorMessage) !== normalise(b.errorMessage)) kind = "regression";
      else bothFail.push(row);
    } else if (sb === "SUCCESS" && sa !== "SUCCESS") kind = "improvement";
    else if (sa !== sb) kind = sa === "MISSING" ? "improvement" : "regression";
    if (!kind) continue;
    const exp = expected.get(key);
    if (exp) {
      exp.used = true;
      tolerated.push({ ...row, reason: exp.reason });
    } else (kind === "regression" ? regressions : improvements).push(row);
    note = note || (kind === "regression" ? (exp ? "differs (expected)" : "WORSE") : "better");
  }
  console.log(`${pad(name, width)}${pad(frac(cd), 14)}${pad(cv ? frac(cv) : "missing", 22)}${note}`);
}
console.log(`${pad("TOTAL", width)}${pad(frac(totalDirect), 14)}${pad(frac(totalVia), 22)}`);

const oneLine = (c) => {
  if (!c) return "MISSING (no such check in this run)";
  let s = c.status;
  if (c.errorMessage) s += `: ${c.errorMessage}`;
  return s;
};
const show = (title, rows, withDetails) => {
  if (rows.length === 0) return;
  console.log(`\n${title}`);
  for (const r of rows) {
    console.log(`  ${r.key}`);
    console.log(`      direct: ${oneLine(r.a)}`);
    console.log(`      ${viaLabel}: ${oneLine(r.b)}`);
    if (r.reason) console.log(`      expected: ${r.reason}`);
    if (withDetails && r.b?.details)
      console.log(`      ${viaLabel} details: ${JSON.stringify(r.b.details)}`);
  }
};
show("Passing directly, not through the sidecar, or failing differently (proxy bugs):", regressions, true);
show("Passing through the sidecar only:", improvements, false);
show("Listed in expected-differences.txt for this mode:", tolerated, false);
if (bothFail.length) {
  console.log("\nFailing the same way on both sides (the server under test lacks these):");
  for (const r of bothFail) console.log(`  ${r.key}: ${r.a.errorMessage ?? ""}`);
}
const stale = [...expected.entries()].filter(([, e]) => !e.used).map(([k]) => k);
if (stale.length) {
  console.log(`\nStale entries in expected-differences.txt (mode ${args.mode}): these no longer differ:`);
  for (const k of stale) console.log(`  ${k}`);
}

const t = (c) => `${c.pass}/${c.pass + c.fail}`;
console.log(
  `\ndirect ${t(totalDirect)}, ${viaLabel} ${t(totalVia)}: ${regressions.length} worse, ` +
    `${improvements.length} better, ${tolerated.length} expected differences` +
    (stale.length ? `, ${stale.length} stale expected entries` : ""),
);
process.exit(regressions.length || stale.length ? 1 : 0);
