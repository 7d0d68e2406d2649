#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/k8s offline: every document against the
# Kubernetes schemas (npm kubernetes-models, pinned in tests/deploy/package-lock.json) and
# against the sidecar's own rules (flags and config keys that exist, probes on the admin port,
# no Service reaching the MCP server directly, ...). See validate-k8s.mjs for the rules.
#
#   tests/deploy/run.sh BINARY [MANIFEST_DIR]
#
# BINARY is the built mcp-sidecar: its `serve --help` is the list of flags and config keys.
# MANIFEST_DIR defaults to deploy/k8s (pass a copy to see the validator fail).
#
# Node >= 22 and the two npm packages are installed once into the repository's git-ignored
# .peers/ (.peers/node22, .peers/k8s-validate; MCP_SIDECAR_PEERS moves it); later runs reuse
# them and need no network.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd)
say() { echo "deploy-test: $*" >&2; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  sed -n '7,10p' "$0" >&2
  exit 2
fi
binary=$1
manifests=${2:-$root/deploy/k8s}
[ -x "$binary" ] || { say "not an executable: $binary (build mcp-sidecar first)"; exit 1; }
[ -d "$manifests" ] || { say "not a directory: $manifests"; exit 1; }

peers=${MCP_SIDECAR_PEERS:-$root/.peers}
lib_dir=$peers/k8s-validate

# Node >= 22 (scripts/node22.sh: ours in .peers/node22, else the machine's if new enough, else
# installed once from npm).
node_dir=$("$root/scripts/node22.sh") || { say "no Node >= 22 (see the message above)"; exit 1; }
node_bin=$node_dir/node
# npm (below) must run under Node 22 too: kubernetes-models' engines field asks for it.
PATH="$(dirname "$node_bin"):$PATH"
export PATH

# The validator's packages, exactly as locked. The lock is copied next to node_modules: when
# the copy matches and the packages are there, nothing is fetched.
if ! cmp -s "$here/package-lock.json" "$lib_dir/package-lock.json" ||
  [ ! -f "$lib_dir/node_modules/kubernetes-models/package.json" ] ||
  [ ! -f "$lib_dir/node_modules/yaml/package.json" ]; then
  say "installing kubernetes-models and yaml into $lib_dir (npm ci, one time)"
  mkdir -p "$lib_dir"
  cp "$here/package.json" "$here/package-lock.json" "$lib_dir/"
  (cd "$lib_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

validate() { "$node_bin" "$here/validate-k8s.mjs" --modules "$lib_dir/node_modules" --binary "$binary" --dir "$1"; }

validate "$manifests"
# kubectl renders a kustomization without a cluster: a second opinion on kustomization.yaml.
if command -v kubectl >/dev/null; then
  if ! rendered=$(timeout 60 kubectl kustomize "$manifests" 2>&1); then
    say "kubectl kustomize $manifests failed:"
    echo "$rendered" >&2
    exit 1
  fi
  say "kubectl kustomize: $(grep -c '^kind:' <<<"$rendered") resources rendered"
else
  say "kubectl not found: skipping the kustomize rendering check"
fi
[ $# -eq 2 ] && exit 0

# Self-test, on the real manifests only: a validator that passed everything would pass the step
# above too. Each line below breaks a copy of the manifests in one way (a perl substitution on
# one file) and names a message the validator must then print, exiting non-zero.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
refused=0
while IFS='|' read -r file subst expected; do
  [ -n "$file" ] || continue
  rm -rf "$scratch/k8s" && cp -r "$manifests" "$scratch/k8s"
  perl -0pi -e "$subst" "$scratch/k8s/$file"
  if cmp -s "$manifests/$file" "$scratch/k8s/$file"; then
    say "self-test: '$subst' changes nothing in $file: bring the self-test up to date"
    exit 1
  fi
  if out=$(validate "$scratch/k8s" 2>&1); then
    say "self-test: $file with '$subst' passed validation; expected: $expected"
    exit 1
  fi
  if ! grep -qF -- "$expected" <<<"$out"; then
    say "self-test: $file with '$subst' was refused, but without '$expected':"
    echo "$out" >&2
    exit 1
  fi
  refused=$((refused + 1))
done <<'MUTATIONS'
deployment.yaml|s{path: /readyz}{path: /healthz}|readinessProbe path is '/healthz', expected /readyz
deployment.yaml|s{(livenessProbe:\s+httpGet:\s+path: /healthz\s+port:) admin}{$1 mcp}|livenessProbe port 'mcp' is 8787, not the admin port 9464
deployment.yaml|s{terminationGracePeriodSeconds: \d+}{terminationGracePeriodSeconds: 20}|terminationGracePeriodSeconds is 20, not more than drain_timeout
deployment.yaml|s{runAsNonRoot: true(\s+runAsUser: 65532)}{runAsNonRoot: false$1}|runAsNonRoot must be true
deployment.yaml|s{readOnlyRootFilesystem: true}{readOnlyRootFilesystem: false}|readOnlyRootFilesystem must be true
deployment.yaml|s{"--config"}{"--conifg"}|--conifg is not a flag
deployment.yaml|s{containerPort: 8787}{containerPort: "8787"}|containerPort must be integer
deployment.yaml|s{(- name: PORT\s+value: "3001")}{$1\n          ports:\n            - containerPort: 3001}|declares containerPort 3001, the upstream's port
deployment.yaml|s{prometheus.io/port: "9464"}{prometheus.io/port: "8787"}|prometheus.io/port is '8787'
deployment.yaml|s{(name: mcp-server\n)}{$1  namespace: default\n}|metadata.namespace is 'default'
configmap.yaml|s{drain_timeout:}{drain_timout:}|key 'drain_timout' is no setting
configmap.yaml|s{drain_timeout: \d+}{drain_timeout: 20x}|refuses this configuration
configmap.yaml|s{listen: 0.0.0.0}{listen: 127.0.0.1}|binds loopback
configmap.yaml|s{upstream: http://127.0.0.1:}{upstream: http://mcp-backend:}|is not on the pod's loopback
service.yaml|s{targetPort: mcp}{targetPort: 3001}|the MCP server's own port 3001
metrics-service.yaml|s{type: ClusterIP}{type: LoadBalancer}|keep it ClusterIP
networkpolicy.yaml|s{port: 9464}{port: 3001}|admits port 3001
networkpolicy.yaml|s{ingress:\n.*}{ingress:\n    - {}\n}s|has no ports, so it admits every port
kustomization.yaml|s{  - networkpolicy.yaml\n}{}|networkpolicy.yaml is not listed in resources
kustomization.yaml|s{- service.yaml}{- services.yaml}|resource 'services.yaml' does not exist
configmap.yaml|s{verify: "off"}{verify: enforce}|needs trust_store
MUTATIONS
say "self-test: $refused broken copies of the manifests, each refused with the expected message"
