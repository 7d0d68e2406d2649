// Offline validation of the Kubernetes manifests in deploy/k8s (run it through run.sh).
//
//   node validate-k8s.mjs --modules DIR --binary MCP_SIDECAR --dir MANIFEST_DIR
//
// 1. Every YAML document under MANIFEST_DIR parses, and validates against the Kubernetes schema
//    of its apiVersion and kind (npm kubernetes-models). kustomization.yaml is checked apart:
//    every resource it lists exists, and every manifest file is listed.
// 2. The rules the schema cannot know, for the Pod that runs the container named mcp-sidecar:
//    - its args, its MCP_SIDECAR_* variables and the keys of its config file (from the
//      ConfigMap mounted where --config points) are flags of `MCP_SIDECAR serve --help`
//      (`--flag-name` <-> key `flag_name`), and the binary itself accepts that configuration
//      (it is started once on loopback ports with it, then stopped);
//    - listen and admin bind the pod's IP, the upstream is on the pod's loopback, and no
//      container declares the upstream's port;
//    - livenessProbe is GET /healthz and readinessProbe GET /readyz, both on the admin port;
//    - terminationGracePeriodSeconds > drain_timeout (plus any preStop sleep);
//    - runAsNonRoot, a non-root user, no privilege escalation, all capabilities dropped, a
//      read-only root file system with a writable volume for state;
//    - resource requests and limits (the CPU limit sets the worker count);
//    - the Prometheus annotations point at the admin port;
//    - every Service selecting the Pod targets the sidecar's MCP or admin port only (never the
//      upstream's), and one targeting the admin port stays ClusterIP;
//    - a NetworkPolicy selects the Pod and admits ingress to the MCP and admin ports only;
//    - no document names a namespace.
// Exit status 0 when all holds; 1 with one line per problem naming the file, the document and
// what is wrong; 2 for a usage error.

import { execFileSync, spawn } from 'node:child_process';
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const kSidecar = 'mcp-sidecar';
const kKustomization = new Set(['kustomization.yaml', 'kustomization.yml', 'Kustomization']);
const kLoopback = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

let opts;
try {
  opts = parseArgs({
    options: { modules: { type: 'string' }, binary: { type: 'string' }, dir: { type: 'string' } },
  }).values;
} catch (e) {
  usage(e.message);
}
if (!opts.modules || !opts.binary || !opts.dir)
  usage('--modules, --binary and --dir are all required');

function usage(why) {
  console.error(
    `validate-k8s: ${why}\nusage: node validate-k8s.mjs --modules NODE_MODULES --binary MCP_SIDECAR --dir MANIFEST_DIR`,
  );
  process.exit(2);
}

const modules = path.resolve(opts.modules);
const binary = path.resolve(opts.binary);
const manifestDir = path.resolve(opts.dir);
const require = createRequire(path.join(modules, 'noop.js'));
const YAML = require('yaml');
const modelsVersion = require('kubernetes-models/package.json').version;

// ---------------------------------------------------------------------------------------------
// Problems and where they are.

const problems = [];
const notes = [];

// A place in the manifests: the file, the 1-based document index and the object's kind/name.
function where(doc) {
  if (!doc) return manifestDir;
  const what =
    doc.obj && typeof doc.obj === 'object'
      ? ` (${doc.obj.kind ?? '?'} ${doc.obj.metadata?.name ?? '?'})`
      : '';
  return doc.index ? `${doc.file}, document ${doc.index}${what}` : doc.file;
}
function fail(doc, message) {
  problems.push(`${where(doc)}: ${message}`);
}
function ok(message) {
  notes.push(message);
}

// ---------------------------------------------------------------------------------------------
// The binary's flags, from `serve --help`.

// Returns {flags: Map(name -> {takesValue, defaultValue}), keys: Set(file keys)}.
function readFlags(binary) {
  let help;
  try {
    help = execFileSync(binary, ['serve', '--help'], {
      encoding: 'utf8',
      timeout: 20000,
      env: cleanEnv({}),
    });
  } catch (e) {
    console.error(`validate-k8s: cannot run '${binary} serve --help': ${e.message}`);
    process.exit(1);
  }
  const flags = new Map();
  const re = /^\s+(?:-[A-Za-z],)?--([a-z][a-z0-9-]*)(?:[ =]([A-Z]+)(?:=(\S+))?)?/;
  for (const line of help.split('\n')) {
    const m = re.exec(line);
    if (m) flags.set(m[1], { takesValue: Boolean(m[2]), defaultValue: m[3] });
  }
  for (const must of ['config', 'listen', 'admin', 'upstream', 'drain-timeout', 'verify']) {
    if (!flags.has(must)) {
      console.error(
        `validate-k8s: '${binary} serve --help' lists no --${must}; flags read: ${[...flags.keys()].join(', ')}`,
      );
      process.exit(1);
    }
  }
  const keys = new Set(
    [...flags.keys()].filter((f) => f !== 'help' && f !== 'config').map(flagToKey),
  );
  return { flags, keys };
}

const flagToKey = (flag) => flag.replaceAll('-', '_');
const keyToFlag = (key) => key.replaceAll('_', '-');
const envToKey = (name) => name.slice('MCP_SIDECAR_'.length).toLowerCase();

// The process environment without the caller's MCP_SIDECAR_* and AIM_* (AIM_URL and the like
// are settings too), plus `extra`.
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('MCP_SIDECAR_') && !k.startsWith('AIM_')) env[k] = v;
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Value parsers, as the sidecar reads them (config/units.cc).

// Milliseconds, or null when `text` is not a duration.
function durationMs(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(text));
  if (!m) return null;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] ?? 's'];
}

// {host, port} from HOST:PORT or [V6]:PORT, or null.
function hostPort(text) {
  const m = /^\s*(\[[^\]]*\]|[^:\s]*):(\d+)\s*$/.exec(String(text));
  return m ? { host: m[1] === '' ? '0.0.0.0' : m[1], port: Number(m[2]) } : null;
}

// {host, port, path} from http://HOST[:PORT][/PATH], or null.
function httpUrl(text) {
  const m = /^http:\/\/(\[[^\]]*\]|[^/:?]+)(?::(\d+))?([/?].*)?$/.exec(String(text));
  return m ? { host: m[1], port: m[2] ? Number(m[2]) : 80, path: m[3] ?? '/' } : null;
}

const isLoopback = (host) => kLoopback.has(host) || /^127\./.test(host);

// ---------------------------------------------------------------------------------------------
// Reading the manifests.

function yamlFilesUnder(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFilesUnder(full));
    else if (/\.ya?ml$/.test(entry.name) || entry.name === 'Kustomization') out.push(full);
  }
  return out;
}

// Every non-empty document of `file` as {file, index, obj}; parse errors are problems.
function readDocuments(file) {
  const docs = [];
  let parsed;
  try {
    parsed = YAML.parseAllDocuments(readFileSync(file, 'utf8'), {
      prettyErrors: true,
      uniqueKeys: true,
    });
  } catch (e) {
    fail({ file }, `cannot read: ${e.message}`);
    return docs;
  }
  if (!Array.isArray(parsed)) parsed = [parsed]; // an empty stream parses to one EmptyStream
  parsed.forEach((d, i) => {
    const doc = { file, index: i + 1, obj: null };
    if (d.errors?.length) {
      for (const e of d.errors) fail(doc, `YAML: ${e.message.split('\n')[0]}`);
      return;
    }
    doc.obj = d.toJS();
    if (doc.obj !== null && doc.obj !== undefined) docs.push(doc);
  });
  return docs;
}

// kubernetes-models' class file for apiVersion + kind, or null.
function modelFile(apiVersion, kind) {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind))
    return null;
  const file = path.join(modules, 'kubernetes-models', ...apiVersion.split('/'), `${kind}.js`);
  return existsSync(file) ? file : null;
}

async function validateSchema(doc) {
  if (typeof doc.obj !== 'object' || Array.isArray(doc.obj))
    return fail(doc, 'a manifest must be a map');
  const { apiVersion, kind, metadata } = doc.obj;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string')
    return fail(doc, 'apiVersion and kind are required strings');
  if (typeof metadata?.name !== 'string' || metadata.name === '')
    fail(doc, 'metadata.name is required');
  if (metadata?.namespace !== undefined)
    fail(
      doc,
      `metadata.namespace is '${metadata.namespace}': the manifests name no namespace (kubectl apply -n, or kustomization.yaml's namespace)`,
    );
  const file = modelFile(apiVersion, kind);
  if (!file)
    return fail(
      doc,
      `no schema for apiVersion ${apiVersion}, kind ${kind} in kubernetes-models ${modelsVersion}`,
    );
  const Model = (await import(pathToFileURL(file).href))[kind];
  try {
    new Model(doc.obj).validate();
    ok(`schema ${apiVersion} ${kind}: ${where(doc)}`);
  } catch (e) {
    const details = e.errors?.length
      ? e.errors
          .map(
            (x) =>
              `${x.instancePath || '/'} ${x.message}${x.params?.allowedValues ? ` (${x.params.allowedValues.join(', ')})` : ''}`,
          )
          .join('; ')
      : e.message;
    fail(doc, `schema (${apiVersion} ${kind}): ${details}`);
  }
}

function checkKustomization(file, manifestFiles) {
  const docs = readDocuments(file);
  if (docs.length !== 1) return fail({ file }, `expected one document, found ${docs.length}`);
  const k = docs[0].obj;
  const doc = { file };
  if (k.kind !== 'Kustomization') fail(doc, `kind is '${k.kind}', expected Kustomization`);
  const resources = k.resources ?? [];
  if (!Array.isArray(resources) || resources.length === 0) return fail(doc, 'lists no resources');
  const base = path.dirname(file);
  const listed = new Set();
  for (const r of resources) {
    if (typeof r !== 'string') {
      fail(doc, `resource ${JSON.stringify(r)} is not a path`);
      continue;
    }
    if (/^[a-z]+:\/\//.test(r)) {
      fail(doc, `resource '${r}' is remote: the manifests must apply offline`);
      continue;
    }
    const full = path.resolve(base, r);
    if (!existsSync(full)) fail(doc, `resource '${r}' does not exist (${full})`);
    else listed.add(full);
  }
  for (const f of manifestFiles) {
    if (path.dirname(f) !== base) continue; // a subfolder is its own kustomization's business
    if (!listed.has(f))
      fail(
        doc,
        `${path.basename(f)} is not listed in resources, so kubectl apply -k would skip it`,
      );
  }
  ok(`kustomization: ${resources.length} resources, all present: ${file}`);
}

// ---------------------------------------------------------------------------------------------
// The sidecar's Pod.

// Pod-bearing kinds and where their Pod template is.
function podTemplate(obj) {
  switch (obj.kind) {
    case 'Pod':
      return { metadata: obj.metadata, spec: obj.spec };
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      return obj.spec?.template;
    case 'CronJob':
      return obj.spec?.jobTemplate?.spec?.template;
    default:
      return null;
  }
}

function selects(selector, labels) {
  if (!selector) return false;
  labels = labels ?? {};
  const ml = selector.matchLabels ?? (selector.matchExpressions ? {} : selector);
  for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

// The number a container port reference (number or name) stands for in `containers`, with the
// container that declares it; {port: null} when a name matches nothing.
function resolvePort(ref, containers) {
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      if ((typeof ref === 'string' && p.name === ref) || Number(p.containerPort) === Number(ref))
        return { port: Number(p.containerPort), container: c.name };
    }
  }
  return {
    port: typeof ref === 'number' || /^\d+$/.test(String(ref)) ? Number(ref) : null,
    container: null,
  };
}

// The sidecar's command line: flag -> value (true for a flag without one).
function parseSidecarArgs(doc, c, flags) {
  let tokens = [...(c.args ?? [])];
  if (c.command) {
    if (!String(c.command[0]).endsWith(kSidecar))
      fail(
        doc,
        `container ${c.name}: command ${JSON.stringify(c.command)} does not run ${kSidecar}`,
      );
    tokens = [...c.command.slice(1), ...tokens];
  }
  const out = new Map();
  if (tokens[0] !== 'serve') {
    fail(doc, `container ${c.name}: args must start with 'serve', got ${JSON.stringify(tokens)}`);
    return out;
  }
  for (let i = 1; i < tokens.length; i++) {
    const t = String(tokens[i]);
    if (t === '--') break; // a stdio command follows
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(t);
    if (!m) {
      fail(doc, `container ${c.name}: argument '${t}' is not a --flag`);
      continue;
    }
    const spec = flags.get(m[1]);
    if (!spec || m[1] === 'help') {
      fail(
        doc,
        `container ${c.name}: --${m[1]} is not a flag of '${kSidecar} serve' (see serve --help)`,
      );
      continue;
    }
    let value = true;
    if (m[2] !== undefined) value = m[2];
    else if (spec.takesValue) {
      if (i + 1 >= tokens.length) {
        fail(doc, `container ${c.name}: --${m[1]} needs a value`);
        continue;
      }
      value = String(tokens[++i]);
    }
    out.set(m[1], value);
  }
  return out;
}

// The config file the sidecar reads, from the ConfigMap mounted at its path: {text, doc, key}
// (the ConfigMap's document and data key), or null.
function configFromMount(doc, c, pod, configPath, docs) {
  const mounts = (c.volumeMounts ?? []).filter((m) =>
    m.subPath
      ? m.mountPath === configPath
      : configPath.startsWith(m.mountPath.replace(/\/$/, '') + '/'),
  );
  if (mounts.length === 0) {
    fail(
      doc,
      `container ${c.name}: --config ${configPath} is on no volume mount; mount the ConfigMap there`,
    );
    return null;
  }
  const mount = mounts.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const vol = (pod.spec.volumes ?? []).find((v) => v.name === mount.name);
  if (!vol?.configMap) {
    fail(
      doc,
      `container ${c.name}: --config ${configPath} is on volume '${mount.name}', which is not a ConfigMap volume`,
    );
    return null;
  }
  const rel = mount.subPath ?? path.posix.relative(mount.mountPath, configPath);
  const item = (vol.configMap.items ?? []).find((it) => it.path === rel);
  if (vol.configMap.items && !item) {
    fail(doc, `container ${c.name}: volume '${vol.name}' projects no item at '${rel}'`);
    return null;
  }
  const key = item ? item.key : rel;
  const cm = docs.find(
    (d) => d.obj.kind === 'ConfigMap' && d.obj.metadata?.name === vol.configMap.name,
  );
  if (!cm) {
    fail(
      doc,
      `container ${c.name}: ConfigMap '${vol.configMap.name}' (volume '${vol.name}') is not in these manifests`,
    );
    return null;
  }
  if (typeof cm.obj.data?.[key] !== 'string') {
    fail(cm, `has no data key '${key}', which the sidecar reads as ${configPath}`);
    return null;
  }
  return { text: cm.obj.data[key], doc: cm, key };
}

// Starts the binary once with the Pod's configuration (listeners moved to loopback port 0, paths
// into a scratch folder) and reports whether it started; the binary is the authority on values.
async function dryStart(binary, configText, configKey, env, args, configDoc, containerDoc) {
  const scratch = mkdtempSync(path.join(tmpdir(), 'validate-k8s-'));
  try {
    const cfg = YAML.parse(configText) ?? {};
    // Files that exist only in the Pod move into the scratch folder; the sidecar's own key is
    // left to be made there; AIM is not called from a test.
    const moved = {
      trust_store: 'trust-store.yaml',
      state_dir: 'state',
      audit_log: 'audit.ndjson',
    };
    const dropped = new Set([
      'key',
      'aim_url',
      'aim_api_key',
      'aim_agent_id',
      'aim_ca_file',
      ...Object.keys(moved),
    ]);
    const present = new Set([
      ...Object.keys(cfg),
      ...[...args.keys()].map(flagToKey),
      ...Object.keys(env).map(envToKey),
    ]);
    for (const k of dropped) delete cfg[k];
    writeFileSync(path.join(scratch, 'config.yaml'), YAML.stringify(cfg));
    const argv = ['serve', '--config', path.join(scratch, 'config.yaml')];
    for (const [flag, value] of args) {
      if (['config', 'listen', 'admin'].includes(flag) || dropped.has(flagToKey(flag))) continue;
      argv.push(value === true ? `--${flag}` : `--${flag}=${value}`);
    }
    for (const [key, file] of Object.entries(moved)) {
      if (!present.has(key)) continue;
      argv.push(`--${keyToFlag(key)}`, path.join(scratch, file));
      if (key === 'trust_store') writeFileSync(path.join(scratch, file), 'keys: []\n');
    }
    argv.push('--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0');
    const childEnv = cleanEnv({});
    for (const [k, v] of Object.entries(env)) {
      const key = envToKey(k);
      if (['listen', 'admin', 'config'].includes(key) || dropped.has(key)) continue;
      childEnv[k] = v;
    }
    const result = await new Promise((resolve) => {
      const child = spawn(binary, argv, {
        cwd: scratch,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let started = false;
      const onData = (chunk) => {
        out += chunk;
        if (!started && /"msg":"listening"/.test(out)) {
          started = true;
          child.kill('SIGTERM');
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ code: e.code, signal: null, started: false, out: e.message });
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, started, out });
      });
    });
    if (!result.started) {
      const msg = result.out
        .trim()
        .split('\n')
        .filter((l) => !/"level":"(info|debug)"/.test(l))
        .join(' | ')
        .replaceAll(path.join(scratch, 'config.yaml'), `(its data '${configKey}')`);
      fail(
        configDoc,
        `${kSidecar} refuses this configuration (exit ${result.code ?? result.signal}): ${msg}`,
      );
    } else if (result.code !== 0) {
      fail(
        containerDoc,
        `${kSidecar} started with this configuration but did not stop cleanly on SIGTERM (exit ${result.code ?? result.signal})`,
      );
    } else {
      ok(`${kSidecar} accepts the configuration (started on loopback, stopped on SIGTERM)`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// Checks the Pod (of `doc`) that runs the sidecar; returns facts the Service and NetworkPolicy
// checks need.
async function checkSidecarPod(doc, pod, binary, flagInfo, docs) {
  const { flags, keys } = flagInfo;
  const spec = pod.spec ?? {};
  const containers = [...(spec.containers ?? [])];
  const c = containers.find((x) => x.name === kSidecar);
  const cn = `container ${kSidecar}`;

  // Settings: the binary's defaults < config file < environment < args.
  const args = parseSidecarArgs(doc, c, flags);
  const env = {};
  for (const e of c.env ?? []) {
    if (!e.name.startsWith('MCP_SIDECAR_')) continue;
    const key = envToKey(e.name);
    if (key !== 'config' && !keys.has(key))
      fail(
        doc,
        `${cn}: environment variable ${e.name} is no setting (no --${keyToFlag(key)} in serve --help)`,
      );
    else if (e.value !== undefined) env[e.name] = String(e.value);
  }
  const settings = new Map();
  for (const [flag, spec_] of flags)
    if (spec_.defaultValue !== undefined)
      settings.set(flagToKey(flag), { value: spec_.defaultValue, from: 'the default' });

  const configPath = args.get('config') ?? env.MCP_SIDECAR_CONFIG;
  let config = null;
  let configMap = false;
  let upstreamLocal = false;
  let configDoc = doc;
  if (!configPath) {
    fail(doc, `${cn}: no --config: the sidecar would not read its ConfigMap`);
  } else {
    config = configFromMount(doc, c, pod, configPath, docs);
    if (config) {
      configDoc = config.doc;
      let cfg;
      try {
        cfg = YAML.parse(config.text, { uniqueKeys: true });
      } catch (e) {
        fail(configDoc, `data '${config.key}' is not valid YAML: ${e.message.split('\n')[0]}`);
      }
      if (cfg !== undefined && (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg))) {
        fail(configDoc, `data '${config.key}' must be a map of settings`);
      } else if (cfg) {
        configMap = true;
        for (const [k, v] of Object.entries(cfg)) {
          if (!keys.has(k))
            fail(
              configDoc,
              `data '${config.key}': key '${k}' is no setting (no --${keyToFlag(k)} in serve --help; known: ${[...keys].join(', ')})`,
            );
          else
            settings.set(k, {
              value: typeof v === 'object' ? v : String(v),
              from: `key '${k}' of ${config.key}`,
            });
        }
      }
    }
  }
  for (const [name, value] of Object.entries(env))
    if (name !== 'MCP_SIDECAR_CONFIG') settings.set(envToKey(name), { value, from: `env ${name}` });
  for (const [flag, value] of args)
    if (flag !== 'config')
      settings.set(flagToKey(flag), { value: String(value), from: `--${flag}` });
  const get = (k) => settings.get(k) ?? { value: undefined, from: 'nowhere' };

  // Listeners and upstream.
  const ports = new Map((c.ports ?? []).map((p) => [p.name, Number(p.containerPort)]));
  const declared = new Set((c.ports ?? []).map((p) => Number(p.containerPort)));
  const listeners = {};
  for (const [key, portName, who] of [
    ['listen', 'mcp', 'the Service'],
    ['admin', 'admin', "the kubelet's probes and Prometheus"],
  ]) {
    const s = get(key);
    const hp = hostPort(s.value);
    if (!hp) {
      fail(configDoc, `${key} = '${s.value}' (${s.from}) is not HOST:PORT`);
      continue;
    }
    listeners[key] = hp.port;
    if (isLoopback(hp.host))
      fail(
        configDoc,
        `${key} = '${s.value}' (${s.from}) binds loopback: ${who} could not reach it; use 0.0.0.0:${hp.port}`,
      );
    if (!declared.has(hp.port))
      fail(doc, `${cn}: declares no containerPort ${hp.port} for ${key} (${s.from})`);
    if (ports.has(portName) && ports.get(portName) !== hp.port)
      fail(
        doc,
        `${cn}: port '${portName}' is ${ports.get(portName)} but ${key} is ${s.value} (${s.from})`,
      );
    if (!ports.has(portName)) fail(doc, `${cn}: no port named '${portName}'`);
  }
  const up = get('upstream');
  let upstreamPort = null;
  if (typeof up.value !== 'string') {
    fail(
      configDoc,
      `no upstream URL (${up.from}): the sidecar beside its server takes upstream: http://127.0.0.1:PORT/PATH`,
    );
  } else {
    const u = httpUrl(up.value);
    if (!u)
      fail(configDoc, `upstream = '${up.value}' (${up.from}) is not http://HOST[:PORT][/PATH]`);
    else {
      upstreamPort = u.port;
      upstreamLocal = isLoopback(u.host);
      if (!upstreamLocal)
        fail(
          configDoc,
          `upstream = '${up.value}' (${up.from}) is not on the pod's loopback: the server must listen on 127.0.0.1 only, so that nothing bypasses the sidecar`,
        );
      for (const x of containers) {
        for (const p of x.ports ?? []) {
          if (Number(p.containerPort) === u.port)
            fail(
              doc,
              `container ${x.name}: declares containerPort ${u.port}, the upstream's port: only the sidecar may reach the server, over loopback`,
            );
        }
      }
      if ([listeners.listen, listeners.admin].includes(u.port))
        fail(configDoc, `upstream port ${u.port} is also a sidecar listener`);
    }
  }
  const verify = get('verify');
  if (verify.value !== 'off' && get('trust_store').value === undefined)
    fail(
      configDoc,
      `verify = '${verify.value}' (${verify.from}) needs trust_store (a file from a mounted Secret)`,
    );
  const ts = get('trust_store');
  if (
    ts.value !== undefined &&
    !(c.volumeMounts ?? []).some(
      (m) =>
        String(ts.value).startsWith(m.mountPath.replace(/\/$/, '') + '/') ||
        m.mountPath === ts.value,
    )
  ) {
    fail(
      doc,
      `${cn}: trust_store ${ts.value} (${ts.from}) is on no volume mount: mount the trust-store Secret there`,
    );
  }
  if (!['off', 'monitor', 'enforce'].includes(verify.value))
    fail(
      configDoc,
      `verify = '${verify.value}' (${verify.from}): expected enforce, monitor or off`,
    );

  // Probes, on the admin port.
  for (const [probeName, wantPath] of [
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ]) {
    const p = c[probeName];
    if (!p) {
      fail(doc, `${cn}: no ${probeName} (GET ${wantPath} on the admin port)`);
      continue;
    }
    if (!p.httpGet) {
      fail(
        doc,
        `${cn}: ${probeName} is not an httpGet probe (want GET ${wantPath} on the admin port)`,
      );
      continue;
    }
    if (p.httpGet.path !== wantPath)
      fail(doc, `${cn}: ${probeName} path is '${p.httpGet.path}', expected ${wantPath}`);
    const port = resolvePort(p.httpGet.port, [c]).port;
    if (port !== listeners.admin)
      fail(
        doc,
        `${cn}: ${probeName} port '${p.httpGet.port}' is ${port ?? 'no port of this container'}, not the admin port ${listeners.admin}`,
      );
    if ((p.httpGet.scheme ?? 'HTTP') !== 'HTTP')
      fail(doc, `${cn}: ${probeName} scheme must be HTTP`);
  }
  if (
    c.startupProbe?.httpGet &&
    resolvePort(c.startupProbe.httpGet.port, [c]).port !== listeners.admin
  )
    fail(doc, `${cn}: startupProbe is not on the admin port`);

  // Shutdown: the grace period covers the preStop pause and the drain.
  const drain = get('drain_timeout');
  const drainMs = durationMs(drain.value);
  if (drainMs === null)
    fail(configDoc, `drain_timeout = '${drain.value}' (${drain.from}) is not a duration`);
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  let pause = 0;
  const pre = c.lifecycle?.preStop;
  if (pre?.sleep?.seconds !== undefined) pause = Number(pre.sleep.seconds);
  const cmd = pre?.exec?.command ?? [];
  if (/(^|\/)sleep$/.test(cmd[0] ?? '') && durationMs(cmd[1]) !== null)
    pause = durationMs(cmd[1]) / 1000;
  if (drainMs !== null) {
    if (!(grace * 1000 > drainMs + pause * 1000)) {
      fail(
        doc,
        `terminationGracePeriodSeconds is ${grace}${spec.terminationGracePeriodSeconds === undefined ? ' (the default)' : ''}, not more than drain_timeout ${drain.value} (${drain.from})${pause ? ` plus the ${pause} s preStop pause` : ''}: the kubelet would kill the sidecar mid-drain`,
      );
    } else {
      ok(
        `terminationGracePeriodSeconds ${grace} > drain_timeout ${drainMs / 1000} s${pause ? ` + preStop ${pause} s` : ''}`,
      );
    }
  }

  // Security.
  const sc = c.securityContext ?? {};
  const psc = spec.securityContext ?? {};
  if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true)
    fail(doc, `${cn}: securityContext.runAsNonRoot must be true`);
  const uid = sc.runAsUser ?? psc.runAsUser;
  if (uid === 0) fail(doc, `${cn}: runAsUser is 0 (root)`);
  if (sc.allowPrivilegeEscalation !== false)
    fail(doc, `${cn}: securityContext.allowPrivilegeEscalation must be false`);
  if (sc.privileged === true) fail(doc, `${cn}: must not be privileged`);
  if (sc.readOnlyRootFilesystem !== true)
    fail(doc, `${cn}: securityContext.readOnlyRootFilesystem must be true`);
  if (!(sc.capabilities?.drop ?? []).includes('ALL'))
    fail(doc, `${cn}: securityContext.capabilities.drop must include ALL`);
  if (sc.capabilities?.add?.length)
    fail(doc, `${cn}: adds capabilities ${sc.capabilities.add.join(', ')}`);
  if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== 'RuntimeDefault')
    fail(doc, `${cn}: seccompProfile must be RuntimeDefault`);
  const writable = (c.volumeMounts ?? []).filter((m) => !m.readOnly);
  if (writable.length === 0)
    fail(
      doc,
      `${cn}: the root file system is read-only and no writable volume is mounted for the state dir`,
    );
  else if (
    c.workingDir &&
    !settings.has('state_dir') &&
    !writable.some((m) => (c.workingDir + '/').startsWith(m.mountPath.replace(/\/$/, '') + '/'))
  ) {
    fail(
      doc,
      `${cn}: workingDir ${c.workingDir} (where the default state dir ./.mcp-sidecar goes) is on no writable volume`,
    );
  }

  // Resources.
  for (const part of ['requests', 'limits']) {
    for (const r of ['cpu', 'memory'])
      if (c.resources?.[part]?.[r] === undefined)
        fail(
          doc,
          `${cn}: resources.${part}.${r} is not set${part === 'limits' && r === 'cpu' ? ' (the worker count follows the CPU limit)' : ''}`,
        );
  }

  // Pod level.
  if (spec.hostNetwork)
    fail(
      doc,
      `hostNetwork: the pod's loopback would be the node's, and the server open to the node`,
    );
  for (const x of containers)
    for (const p of x.ports ?? [])
      if (p.hostPort)
        fail(
          doc,
          `container ${x.name}: hostPort ${p.hostPort} exposes the pod past its Service and NetworkPolicy`,
        );
  const ann = pod.metadata?.annotations ?? {};
  if (ann['prometheus.io/scrape'] !== 'true')
    fail(doc, `pod annotation prometheus.io/scrape must be "true"`);
  if (String(ann['prometheus.io/port']) !== String(listeners.admin))
    fail(
      doc,
      `pod annotation prometheus.io/port is '${ann['prometheus.io/port']}', not the admin port ${listeners.admin}`,
    );
  if ((ann['prometheus.io/path'] ?? '/metrics') !== '/metrics')
    fail(doc, `pod annotation prometheus.io/path is '${ann['prometheus.io/path']}', not /metrics`);

  // The binary's own word on the values, once the file is a map and the upstream local (a remote
  // one is reported above; the dry start would only add a resolver error).
  if (configMap && upstreamLocal)
    await dryStart(binary, config.text, config.key, env, args, configDoc, doc);
  ok(
    `${cn}: ${args.size} flag(s), ${config ? 'config ' + config.key : 'no config'}; listen ${listeners.listen}, admin ${listeners.admin}, upstream port ${upstreamPort}; probes, security, resources, annotations checked`,
  );
  return {
    labels: pod.metadata?.labels ?? {},
    containers,
    sidecar: c,
    listeners,
    upstreamPort,
  };
}

function checkService(doc, pods) {
  const s = doc.obj.spec ?? {};
  if (!s.selector || Object.keys(s.selector).length === 0)
    return fail(doc, 'has no selector: it would not follow the sidecar pods');
  const pod = pods.find((p) => selects(s.selector, p.labels));
  if (!pod)
    return fail(doc, `selector ${JSON.stringify(s.selector)} matches no pod that runs ${kSidecar}`);
  const allowed = new Set([pod.listeners.listen, pod.listeners.admin]);
  for (const p of s.ports ?? []) {
    const name = `port ${p.name ?? p.port}`;
    const { port, container } = resolvePort(p.targetPort ?? p.port, pod.containers);
    if (port === pod.upstreamPort) {
      fail(
        doc,
        `${name} targets ${p.targetPort ?? p.port}, the MCP server's own port ${pod.upstreamPort}: callers must go through the sidecar`,
      );
    } else if (port === null) {
      fail(doc, `${name}: targetPort '${p.targetPort}' names no container port`);
    } else if (container !== kSidecar || !allowed.has(port)) {
      fail(
        doc,
        `${name} targets ${port}${container ? ` of container ${container}` : ''}: only the sidecar's MCP (${pod.listeners.listen}) and admin (${pod.listeners.admin}) ports may be targets`,
      );
    } else if (port === pod.listeners.admin && (s.type ?? 'ClusterIP') !== 'ClusterIP') {
      fail(
        doc,
        `${name} exposes the admin port through a ${s.type} Service: keep it ClusterIP, never public`,
      );
    } else if (port === pod.listeners.admin && s.externalIPs?.length) {
      fail(doc, `${name} exposes the admin port on externalIPs`);
    } else {
      ok(`service ${doc.obj.metadata.name} ${name} -> ${kSidecar}:${port}`);
    }
  }
}

function checkNetworkPolicy(doc, pods) {
  const s = doc.obj.spec ?? {};
  const pod = pods.find((p) => selects(s.podSelector ?? {}, p.labels));
  if (!pod) return null;
  const types = s.policyTypes ?? ['Ingress'];
  if (!types.includes('Ingress')) {
    fail(doc, 'policyTypes lacks Ingress: it restricts no ingress');
    return pod;
  }
  const allowed = new Set([pod.listeners.listen, pod.listeners.admin]);
  const admitted = new Set();
  (s.ingress ?? []).forEach((rule, i) => {
    if (!rule.ports?.length) {
      fail(
        doc,
        `ingress rule ${i + 1} has no ports, so it admits every port (including the server's)`,
      );
      return;
    }
    for (const p of rule.ports) {
      const port = resolvePort(p.port, [pod.sidecar]).port;
      if (p.port === undefined)
        fail(doc, `ingress rule ${i + 1}: a port entry without a port admits every port`);
      else if (p.endPort !== undefined)
        fail(
          doc,
          `ingress rule ${i + 1}: port range ${p.port}-${p.endPort}; admit the MCP and admin ports one by one`,
        );
      else if (!allowed.has(port))
        fail(
          doc,
          `ingress rule ${i + 1} admits port ${p.port}: only ${pod.listeners.listen} (MCP) and ${pod.listeners.admin} (admin) may be open`,
        );
      else admitted.add(port);
    }
  });
  for (const [what, port] of [
    ['MCP', pod.listeners.listen],
    ['admin', pod.listeners.admin],
  ]) {
    if (!admitted.has(port)) fail(doc, `admits no ingress to the ${what} port ${port}`);
  }
  ok(`network policy ${doc.obj.metadata.name}: ingress only to ${[...admitted].sort().join(', ')}`);
  return pod;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!statSync(manifestDir, { throwIfNoEntry: false })?.isDirectory())
    usage(`not a directory: ${manifestDir}`);
  const flagInfo = readFlags(binary);
  ok(
    `${binary} serve --help: ${flagInfo.flags.size} flags, config keys ${[...flagInfo.keys].join(', ')}`,
  );

  const files = yamlFilesUnder(manifestDir);
  const kustomizations = files.filter((f) => kKustomization.has(path.basename(f)));
  const manifests = files.filter((f) => !kKustomization.has(path.basename(f)));
  if (manifests.length === 0) fail(null, 'no manifests (*.yaml) found');
  if (!kustomizations.some((f) => path.dirname(f) === manifestDir))
    fail(null, 'no kustomization.yaml: kubectl apply -k needs one');

  const docs = manifests.flatMap(readDocuments);
  for (const k of kustomizations) checkKustomization(k, manifests);
  for (const d of docs) await validateSchema(d);

  const pods = [];
  for (const d of docs) {
    if (typeof d.obj !== 'object') continue;
    const tpl = podTemplate(d.obj);
    if (!tpl?.spec?.containers?.some((c) => c.name === kSidecar)) continue;
    pods.push(await checkSidecarPod(d, tpl, binary, flagInfo, docs));
  }
  if (pods.length === 0) fail(null, `no workload runs a container named ${kSidecar}`);
  else {
    const services = docs.filter((d) => d.obj.kind === 'Service');
    if (services.length === 0) fail(null, 'no Service in front of the sidecar');
    for (const d of services) checkService(d, pods);
    const covered = new Set();
    for (const d of docs.filter((x) => x.obj.kind === 'NetworkPolicy')) {
      const pod = checkNetworkPolicy(d, pods);
      if (pod) covered.add(pod);
    }
    for (const p of pods)
      if (!covered.has(p))
        fail(null, `no NetworkPolicy selects the pod labelled ${JSON.stringify(p.labels)}`);
  }

  if (problems.length) {
    for (const p of problems) console.log(`FAIL  ${p}`);
    console.log(`validate-k8s: ${problems.length} problem(s) in ${manifestDir}`);
    process.exit(1);
  }
  for (const n of notes) console.log(`ok    ${n}`);
  console.log(
    `validate-k8s: ${docs.length} documents in ${manifests.length} files valid (kubernetes-models ${modelsVersion}, Node ${process.versions.node})`,
  );
}

await main();
