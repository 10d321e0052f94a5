#!/usr/bin/env bash
# Installs the offline Kubernetes validation tools into $CES_TOOLS/k8s
# (default /opt/casper-event-store/tools/k8s), pinned in versions.env:
#   bin/kustomize, bin/kubeconform      go install (Go module proxy)
#   schemas/<K8S_SCHEMA_VERSION>/       JSON schemas made from the OpenAPI spec of
#                                       the k8s.io/kubernetes module + our Kubegres schema
#                                       + the CRDs in tests/k8s/schemas/crds
#   venv/                               pytest and PyYAML for the policy tests
# Idempotent: each part is skipped when its stamp matches, so a second run
# takes about a second. Prints nothing but progress on stderr.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck disable=SC1091
. "$root/versions.env"
for v in KUSTOMIZE_VERSION KUBECONFORM_VERSION K8S_SCHEMA_VERSION K8S_PYTEST_VERSION K8S_PYYAML_VERSION; do
  [ -n "${!v:-}" ] || { echo "install.sh: versions.env does not set $v" >&2; exit 1; }
done
tools=${CES_TOOLS:-/opt/casper-event-store/tools}/k8s
log() { printf '[k8s-tools] %s\n' "$*" >&2; }

if [ -n "${GO:-}" ]; then :; elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; else GO=$(command -v go || true); fi
[ -n "$GO" ] || { echo "install.sh: Go toolchain not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS=${GOFLAGS:--mod=mod}

mkdir -p "$tools/bin"
exec 8>"$tools/.install.lock"
flock 8

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# 1. kustomize and kubeconform
install_go_tool() { # name module@version
  local name=$1 module=$2 stamp="$tools/bin/.$1.version"
  if stamp_ok "$stamp" "$module" && [ -x "$tools/bin/$name" ]; then
    log "$name: ${module##*@} already installed"
    return
  fi
  log "$name: go install $module"
  GOBIN="$tools/bin" "$GO" install "$module"
  echo "$module" > "$stamp"
}
install_go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
install_go_tool kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@${KUBECONFORM_VERSION}"

# 2. Python virtualenv for the policy tests
venv="$tools/venv"
want="pytest==${K8S_PYTEST_VERSION} PyYAML==${K8S_PYYAML_VERSION}"
if stamp_ok "$venv/.installed" "$want" && [ -x "$venv/bin/python" ]; then
  log "venv: $want already installed"
else
  log "venv: installing $want"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" > "$venv/.installed"
fi

# 3. JSON schemas (Kubernetes API of K8S_SCHEMA_VERSION + Kubegres)
schemas="$tools/schemas/${K8S_SCHEMA_VERSION}"
gen="$root/tests/k8s/tools/make_schemas.py"
kubegres="$root/tests/k8s/schemas/kubegres-v1.schema.yaml"
crds=("$root"/tests/k8s/schemas/crds/*.yaml)   # cert-manager, prometheus-operator, CloudNativePG, snapshots
want="${K8S_SCHEMA_VERSION} $(cat "$gen" "$kubegres" "${crds[@]}" | sha256sum | cut -c1-16)"
if stamp_ok "$schemas/.stamp" "$want"; then
  log "schemas: Kubernetes ${K8S_SCHEMA_VERSION} already generated"
else
  log "schemas: downloading k8s.io/kubernetes@${K8S_SCHEMA_VERSION} (module cache) and generating"
  moddir=$("$GO" mod download -json "k8s.io/kubernetes@${K8S_SCHEMA_VERSION}" \
    | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin).get("Dir",""))')
  [ -d "$moddir/api/openapi-spec/v3" ] || { echo "install.sh: no api/openapi-spec/v3 in $moddir" >&2; exit 1; }
  rm -rf "$schemas.tmp"
  "$venv/bin/python" "$gen" "$moddir/api/openapi-spec/v3" "$schemas.tmp" "$kubegres" "${crds[@]}" >&2
  rm -rf "$schemas"
  mv "$schemas.tmp" "$schemas"
  echo "$want" > "$schemas/.stamp"
fi
