#!/usr/bin/env bash
# Offline validation of the Kubernetes deployment (deploy/kubernetes), no
# cluster needed:
#   1. tools      kustomize, kubeconform, schemas, pytest (tests/k8s/tools/install.sh;
#                 cached in $CES_TOOLS/k8s, versions pinned in versions.env)
#   2. render     kustomize build of every overlay -> build-k8s/<overlay>.yaml
#   3. schema     kubeconform -strict: every object against the Kubernetes API
#                 schema, the custom resources against the CRD schemas of
#                 tests/k8s/schemas/crds (CloudNativePG's in prod-cnpg), the Kubegres
#                 resource against its schema (and against the operator's CRD file
#                 if CES_KUBEGRES_CRD names one)
#   4. schema-neg a deliberately invalid manifest must be rejected (the schema
#                 check can fail)
#   5. policy     pytest tests/k8s: HA policies on every overlay, agreement with the
#                 local stack's config/ templates, broken fixtures that must be reported
#   6. image      docker build of the Dockerfile where a Docker engine answers;
#                 skipped (with a message) otherwise
# Exit status 0 only if no step failed. Last line: "k8s-check: N passed, M failed".
set -uo pipefail
export PYTHONDONTWRITEBYTECODE=1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
tools=${CES_TOOLS:-/opt/casper-event-store/tools}/k8s
out=${CES_K8S_OUT:-$root/build-k8s}
overlays=(single mini prod kraft prod-cnpg)
passed=0 failed=0 failed_steps=()

step() { printf '\n=== k8s-check: %s ===\n' "$*"; }
ok() { passed=$((passed + 1)); echo "--- ok: $1"; }
ko() { failed=$((failed + 1)); failed_steps+=("$1"); echo "--- FAILED: $1"; }

step "tools"
if tests/k8s/tools/install.sh; then ok tools; else ko tools; echo "k8s-check: $passed passed, $failed failed"; exit 1; fi
# shellcheck disable=SC1091
. "$root/versions.env"
kustomize=$tools/bin/kustomize kubeconform=$tools/bin/kubeconform python=$tools/venv/bin/python
schemas=$tools/schemas/$K8S_SCHEMA_VERSION
location="$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json"

step "render overlays with kustomize $KUSTOMIZE_VERSION"
rm -rf "$out" && mkdir -p "$out"
render_ok=1
for o in "${overlays[@]}"; do
  if "$kustomize" build "deploy/kubernetes/overlays/$o" > "$out/$o.yaml"; then
    echo "$o: $(grep -c '^kind:' "$out/$o.yaml") objects -> ${out#"$root"/}/$o.yaml"
  else
    echo "$o: kustomize build failed"; render_ok=0
  fi
done
if [ $render_ok = 1 ]; then ok render; else ko render; fi

step "schema validation (Kubernetes ${K8S_SCHEMA_VERSION#v} API, strict)"
schema_ok=1
for o in "${overlays[@]}"; do
  [ -s "$out/$o.yaml" ] || { schema_ok=0; continue; }
  printf '%s: ' "$o"
  "$kubeconform" -strict -summary -output text -kubernetes-version "${K8S_SCHEMA_VERSION#v}" \
    -schema-location "$location" "$out/$o.yaml" || schema_ok=0
done
if [ -n "${CES_KUBEGRES_CRD:-}" ]; then
  crd_schemas=$(mktemp -d)
  moddir=$("${GO:-/usr/local/go/bin/go}" env GOMODCACHE)/k8s.io/kubernetes@$K8S_SCHEMA_VERSION
  if "$python" tests/k8s/tools/make_schemas.py "$moddir/api/openapi-spec/v3" "$crd_schemas" "$CES_KUBEGRES_CRD" >/dev/null; then
    for o in "${overlays[@]}"; do
      printf '%s (Kubegres CRD %s): ' "$o" "$CES_KUBEGRES_CRD"
      "$kubeconform" -summary -output text -skip "$(grep -h '^kind:' "$out/$o.yaml" | awk '{print $2}' | sort -u | grep -vx Kubegres | paste -sd,)" \
        -schema-location "$crd_schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$out/$o.yaml" || schema_ok=0
    done
  else
    echo "cannot convert $CES_KUBEGRES_CRD"; schema_ok=0
  fi
  rm -rf "$crd_schemas"
fi
if [ $schema_ok = 1 ]; then ok schema; else ko schema; fi

step "schema validation rejects a broken manifest"
if "$kubeconform" -strict -summary -output text -schema-location "$location" tests/k8s/fixtures/schema-invalid.yaml; then
  echo "tests/k8s/fixtures/schema-invalid.yaml was accepted: the schema check cannot fail"; ko schema-negative
else
  echo "rejected as expected"; ok schema-negative
fi

step "policy tests (pytest tests/k8s)"
if K8S_RENDERED="$out" KUSTOMIZE="$kustomize" KUBECONFORM="$kubeconform" K8S_SCHEMA_LOCATION="$location" "$python" -m pytest -q -p no:cacheprovider --no-header -rfEs tests/k8s; then
  ok policy
else
  ko policy
fi

step "image (docker build)"
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  if docker build -t casper-event-store:k8s-check . ; then ok image; else ko image; fi
else
  echo "SKIPPED: no Docker engine answers here (docker info failed); the Dockerfile was checked statically by the policy tests"
fi

step "summary"
[ $failed -eq 0 ] || echo "failed steps: ${failed_steps[*]}"
echo "k8s-check: $passed passed, $failed failed"
[ $failed -eq 0 ]
