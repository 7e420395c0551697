#!/usr/bin/env bash
# Offline Kubernetes check: yamllint the sources, render each overlay with
# kubectl's built-in kustomize, validate every object against the Kubernetes
# schemas (npm kubernetes-models) and campsync's own rules (probes,
# resources, PDBs, HPAs, default deny). A deliberately broken copy must fail,
# so the check itself is known to bite.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v kubectl >/dev/null || { echo "check-k8s: kubectl is required (kustomize is built in)" >&2; exit 1; }
command -v npm >/dev/null || { echo "check-k8s: node and npm are required" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

yamllint -s -c .yamllint.yaml k8s/
(cd deploy/k8s-check && npm ci --no-audit --no-fund --silent)

for overlay in k8s/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  yamllint -d relaxed "$out/$name.yaml" >/dev/null
  echo "overlay $name: $(grep -c '^kind:' "$out/$name.yaml") objects rendered"
  node deploy/k8s-check/validate.mjs "$out/$name.yaml"
done

# The check must reject a Deployment without probes.
sed '/readinessProbe:/,/failureThreshold: 2/d' "$out/dev.yaml" > "$out/broken.yaml"
if node deploy/k8s-check/validate.mjs "$out/broken.yaml" 2>/dev/null; then
  echo "check-k8s: a manifest without readiness probes passed the check" >&2
  exit 1
fi
echo "check-k8s: ok"
