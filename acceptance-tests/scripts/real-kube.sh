#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for the acceptance tests and the quick start:
# kube-apiserver and kube-controller-manager built from the Go module proxy, etcd from Debian.
#
#   build    builds kube-apiserver and kube-controller-manager from acceptance-tests/real-kube
#            (go.mod pins k8s.io/kubernetes and its staging modules) into
#            .tools/kube/<version>/bin; skipped when that build exists
#   start    builds if needed, then starts etcd, kube-apiserver and kube-controller-manager on
#            free loopback ports with a fresh data dir, and prints the admin kubeconfig's path
#            (the only line on stdout; progress goes to stderr)
#   stop     stops what `start` started, by PID: SIGTERM, then SIGKILL after STOP_TIMEOUT s
#   status   says what runs and which Kubernetes answers; exit 1 unless all of it is ready
#   version  prints the pinned Kubernetes version (from go.mod)
#   namespaces
#            lists the running cluster's namespaces, one a line
#   leaks FILE
#            fails, naming them, when namespaces exist that FILE (an earlier `namespaces`
#            output) does not list, once those being deleted have gone (up to LEAK_TIMEOUT s,
#            default 120)
#
# What `start` sets up (in REAL_KUBE_DIR, default target/real-kube; wiped on every start):
#   pki/             its own CA, a serving certificate for 127.0.0.1, localhost and
#                    kubernetes.default.svc, and the ServiceAccount signing key pair
#   tokens.csv       static token users (--token-auth-file): `admin` (uid admin-uid, group
#                    system:masters), `dev-user` (uid dev-uid, group dev-group, no RBAC grants)
#                    and system:kube-controller-manager
#   admin.kubeconfig, limited.kubeconfig, controller-manager.kubeconfig
#   cluster.json     url, ca_file, tokens, kubeconfigs and the server's /version gitVersion,
#                    for tests that talk to the API directly (the conformance replay)
#   logs/            etcd.log, kube-apiserver.log, kube-controller-manager.log
# The API server authorizes with RBAC and issues ServiceAccount tokens as
# https://kubernetes.default.svc.cluster.local; the controller-manager runs the namespace,
# ServiceAccount, ServiceAccount-token, root-CA publisher, garbage-collector and ClusterRole
# aggregation controllers, each with its own ServiceAccount's credentials.
#
# Needs: Go (the version go.mod names, or GOTOOLCHAIN fetches it), etcd (Debian `etcd-server`,
# installed by install-tools.sh etcd), openssl, curl, python3 (free ports, JSON).
# Environment: REAL_KUBE_DIR, STOP_TIMEOUT (default 20), GITLABRUNNER_TOOLS_DIR (default .tools).
# The first build compiles both commands from source: about 16 min on a busy 2-core machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
module="$root/acceptance-tests/real-kube"
tools="${GITLABRUNNER_TOOLS_DIR:-$root/.tools}"
run="${REAL_KUBE_DIR:-$root/target/real-kube}"
stop_timeout="${STOP_TIMEOUT:-20}"
issuer="https://kubernetes.default.svc.cluster.local"
# The controllers a namespace's lifecycle needs (names as kube-controller-manager --help lists them).
controllers="namespace-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,garbage-collector-controller,clusterrole-aggregation-controller"

die() {
    echo "real-kube: $*" >&2
    exit 1
}

note() {
    echo "real-kube: $*" >&2
}

# The k8s.io/kubernetes version go.mod requires, e.g. v1.37.2.
version() {
    local v
    v="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$module/go.mod")"
    [ -n "$v" ] || die "$module/go.mod does not require k8s.io/kubernetes on a line of its own"
    echo "$v"
}

bin_dir() {
    echo "$tools/kube/$(version)/bin"
}

# What the cached build was made from: the module files and this script's build recipe.
build_spec() {
    cat "$module/go.mod" "$module/go.sum" | sha256sum | cut -c1-16
    declare -f build_binaries | sha256sum | cut -c1-16
}

build_binaries() {
    local v="$1" out="$2"
    # Version stamps the way Kubernetes' hack/lib/version.sh sets them, so /version names the
    # release instead of v0.0.0-master. The module proxy has no git metadata: no commit, and the
    # build date is the module's publication time.
    local major minor date ldflags="-s -w" pkg
    major="${v#v}"
    major="${major%%.*}"
    minor="${v#v*.}"
    minor="${minor%%.*}"
    date="$(cd "$module" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)" ||
        die "go list -m k8s.io/kubernetes failed in $module"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        ldflags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
    done
    (
        cd "$module"
        CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -tags providerless \
            -ldflags "$ldflags" -o "$out/" \
            k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
    )
}

build() {
    command -v go >/dev/null || die "Go is not installed; the control plane is built with 'go build' from the Go module proxy"
    local v bin spec lock
    v="$(version)"
    bin="$(bin_dir)"
    spec="$(build_spec)"
    mkdir -p "$tools/kube"
    lock="$tools/kube/$v.lock"
    # Other checkouts share .tools: one build at a time.
    exec 9>"$lock"
    flock 9
    if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] &&
        [ "$(cat "$bin/../build.stamp" 2>/dev/null)" = "$spec" ]; then
        exec 9>&-
        return
    fi
    note "building kube-apiserver and kube-controller-manager $v ($(go version | cut -d' ' -f3)) into $bin"
    local started=$SECONDS tmp="$tools/kube/$v/bin.partial"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    build_binaries "$v" "$tmp" || die "go build of Kubernetes $v failed (see above)"
    rm -rf "$bin"
    mv "$tmp" "$bin"
    echo "$spec" >"$bin/../build.stamp"
    note "built Kubernetes $v in $((SECONDS - started)) s"
    exec 9>&-
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pid_of NAME: the PID in NAME's pid file when that process still runs our command line.
pid_of() {
    local file="$run/pids/$1.pid" pid
    [ -f "$file" ] || return 1
    pid="$(cat "$file")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # PIDs are reused: only a process whose command line names this run dir is ours.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$run/" || return 1
    echo "$pid"
}

# stop_one NAME: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL.
stop_one() {
    local name="$1" pid deadline
    pid="$(pid_of "$name")" || {
        rm -f "$run/pids/$name.pid"
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + stop_timeout))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        note "$name (pid $pid) still runs after ${stop_timeout} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$run/pids/$name.pid"
    note "stopped $name (pid $pid)"
}

stop() {
    [ -d "$run/pids" ] || return 0
    local name
    for name in kube-controller-manager kube-apiserver etcd; do
        stop_one "$name"
    done
}

# spawn NAME COMMAND...: starts COMMAND in the background, logging to logs/NAME.log.
spawn() {
    local name="$1"
    shift
    "$@" >"$run/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$run/pids/$name.pid"
}

# wait_for SECONDS NAME COMMAND...: polls COMMAND until it succeeds, while NAME runs.
wait_for() {
    local deadline=$((SECONDS + $1)) name="$2"
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ! pid_of "$name" >/dev/null; then
            tail -n 40 "$run/logs/$name.log" >&2
            stop
            die "$name exited during start (its log's end is above)"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 40 "$run/logs/$name.log" >&2
            stop
            die "$name was not ready after $1 s (its log's end is above)"
        fi
        sleep 0.25
    done
}

certificates() {
    local pki="$run/pki"
    mkdir -p "$pki"
    (
        cd "$pki"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
            -subj "/CN=real-kube-ca" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout serving.key -out serving.csr \
            -subj "/CN=kube-apiserver" 2>/dev/null
        printf '%s\n' \
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1" \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" >serving.ext
        openssl x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile serving.ext -out serving.crt 2>/dev/null
        # RS256 ServiceAccount tokens, as EKS issues them.
        openssl genrsa -out sa.key 2048 2>/dev/null
        openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
        chmod 600 ./*.key
    ) || die "openssl could not make the certificates"
}

# kubeconfig FILE USER TOKEN: a kubeconfig with the CA embedded and a bearer token.
kubeconfig() {
    local ca
    ca="$(base64 -w0 <"$run/pki/ca.crt")"
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real-kube
  cluster:
    server: $url
    certificate-authority-data: $ca
users:
- name: $2
  user:
    token: $3
contexts:
- name: real-kube
  context:
    cluster: real-kube
    user: $2
current-context: real-kube
EOF
    chmod 600 "$1"
}

token() {
    openssl rand -hex 24
}

api() { # PATH [CURL ARGS...]: GET as admin
    local path="$1"
    shift
    curl -sf -m 5 --cacert "$run/pki/ca.crt" -H "Authorization: Bearer $admin_token" "$@" "$url$path"
}

start() {
    build
    if [ -f "$run/cluster.json" ] && status >/dev/null 2>&1; then
        note "already running ($(json cluster.json git_version) at $(json cluster.json url))"
        json cluster.json kubeconfig
        return
    fi
    stop
    command -v etcd >/dev/null || die "etcd is not installed (Debian: apt-get install etcd-server, or install-tools.sh etcd)"
    command -v openssl >/dev/null || die "openssl is not installed"
    local bin started=$SECONDS
    bin="$(bin_dir)"
    rm -rf "$run"
    mkdir -p "$run/pids" "$run/logs" "$run/etcd"
    chmod 700 "$run"
    certificates

    local etcd_port etcd_peer api_port kcm_port
    etcd_port="$(free_port)"
    etcd_peer="$(free_port)"
    api_port="$(free_port)"
    kcm_port="$(free_port)"
    url="https://127.0.0.1:$api_port"
    admin_token="$(token)"
    local limited_token kcm_token
    limited_token="$(token)"
    kcm_token="$(token)"
    {
        echo "$admin_token,admin,admin-uid,\"system:masters\""
        echo "$limited_token,dev-user,dev-uid,\"dev-group\""
        echo "$kcm_token,system:kube-controller-manager,kube-controller-manager-uid"
    } >"$run/tokens.csv"
    chmod 600 "$run/tokens.csv"
    kubeconfig "$run/admin.kubeconfig" admin "$admin_token"
    kubeconfig "$run/limited.kubeconfig" dev-user "$limited_token"
    kubeconfig "$run/controller-manager.kubeconfig" system:kube-controller-manager "$kcm_token"

    spawn etcd etcd --name real-kube --data-dir "$run/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-cluster "real-kube=http://127.0.0.1:$etcd_peer" \
        --logger zap --log-outputs stderr
    wait_for 30 etcd curl -sf -m 2 "http://127.0.0.1:$etcd_port/health"

    spawn kube-apiserver "$bin/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
        --tls-cert-file "$run/pki/serving.crt" --tls-private-key-file "$run/pki/serving.key" \
        --client-ca-file "$run/pki/ca.crt" --cert-dir "$run/pki" \
        --token-auth-file "$run/tokens.csv" \
        --authorization-mode RBAC \
        --service-account-issuer "$issuer" \
        --service-account-key-file "$run/pki/sa.pub" \
        --service-account-signing-key-file "$run/pki/sa.key" \
        --service-cluster-ip-range 10.96.0.0/12 \
        --endpoint-reconciler-type none \
        --profiling=false
    wait_for 180 kube-apiserver api /readyz

    spawn kube-controller-manager "$bin/kube-controller-manager" \
        --kubeconfig "$run/controller-manager.kubeconfig" \
        --authentication-kubeconfig "$run/controller-manager.kubeconfig" \
        --authorization-kubeconfig "$run/controller-manager.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port "$kcm_port" \
        --tls-cert-file "$run/pki/serving.crt" --tls-private-key-file "$run/pki/serving.key" \
        --controllers "$controllers" \
        --use-service-account-credentials \
        --service-account-private-key-file "$run/pki/sa.key" \
        --root-ca-file "$run/pki/ca.crt" \
        --leader-elect=false \
        --profiling=false
    wait_for 120 kube-controller-manager curl -sf -m 2 --cacert "$run/pki/ca.crt" "https://127.0.0.1:$kcm_port/healthz"
    # The controllers work once the `default` namespace has its `default` ServiceAccount.
    wait_for 120 kube-controller-manager api /api/v1/namespaces/default/serviceaccounts/default

    local git_version
    git_version="$(api /version | python3 -c 'import json, sys; print(json.load(sys.stdin)["gitVersion"])')"
    python3 - "$run/cluster.json" <<PY
import json, sys
json.dump({
    "git_version": "$git_version",
    "url": "$url",
    "ca_file": "$run/pki/ca.crt",
    "issuer": "$issuer",
    "admin_token": "$admin_token",
    "limited_token": "$limited_token",
    "kubeconfig": "$run/admin.kubeconfig",
    "limited_kubeconfig": "$run/limited.kubeconfig",
    "logs": "$run/logs",
}, open(sys.argv[1], "w"), indent=2)
PY
    chmod 600 "$run/cluster.json"
    note "Kubernetes $git_version (kube-apiserver, kube-controller-manager, etcd $(etcd --version | awk '/etcd Version/ { print $3 }')) ready at $url in $((SECONDS - started)) s"
    echo "$run/admin.kubeconfig"
}

# json FILE KEY: one field of a JSON file in the run dir.
json() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$run/$1" "$2"
}

status() {
    local name pid ok=0
    for name in etcd kube-apiserver kube-controller-manager; do
        if pid="$(pid_of "$name")"; then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"
            ok=1
        fi
    done
    [ -f "$run/cluster.json" ] || {
        echo "not started (no $run/cluster.json)"
        return 1
    }
    load
    local answer
    if answer="$(api /version)" && api /readyz >/dev/null; then
        echo "kube-apiserver ready at $url: $(python3 -c 'import json, sys; v = json.loads(sys.argv[1]); print(v["gitVersion"], v["platform"])' "$answer")"
        echo "kubeconfig: $(json cluster.json kubeconfig)"
    else
        echo "kube-apiserver at $url does not answer"
        ok=1
    fi
    return "$ok"
}

# load: the running cluster's URL and admin token, from cluster.json.
load() {
    [ -f "$run/cluster.json" ] || die "no control plane was started here ($run/cluster.json is missing)"
    url="$(json cluster.json url)"
    admin_token="$(json cluster.json admin_token)"
}

# namespace_phases: NAME PHASE lines for every namespace.
namespace_phases() {
    api /api/v1/namespaces | python3 -c '
import json, sys
for item in json.load(sys.stdin)["items"]:
    print(item["metadata"]["name"], item["status"].get("phase", "?"))
' || die "could not list the namespaces of $url"
}

namespaces() {
    load
    namespace_phases | cut -d' ' -f1
}

leaks() {
    local before="$1" timeout="${LEAK_TIMEOUT:-120}" deadline extra
    [ -f "$before" ] || die "leaks needs the file an earlier 'namespaces' wrote"
    load
    deadline=$((SECONDS + timeout))
    while :; do
        extra="$(namespace_phases | awk 'NR == FNR { known[$1] = 1; next } !($1 in known)' "$before" -)"
        [ -n "$extra" ] || {
            note "no namespace left behind ($(wc -l <"$before") namespaces, as before)"
            return 0
        }
        # Deleted namespaces stay Terminating while the namespace controller empties them.
        if ! grep -qv ' Terminating$' <<<"$extra" && [ "$SECONDS" -lt "$deadline" ]; then
            sleep 1
            continue
        fi
        echo "real-kube: namespaces left behind (name phase):" >&2
        sed 's/^/  /' <<<"$extra" >&2
        return 1
    done
}

case "${1:-}" in
build)
    build
    echo "Kubernetes $(version): $(bin_dir)/kube-apiserver $(bin_dir)/kube-controller-manager"
    ;;
start) start ;;
stop) stop ;;
status) status ;;
version) version ;;
namespaces) namespaces ;;
leaks)
    [ $# -ge 2 ] || die "leaks needs the file an earlier 'namespaces' wrote"
    leaks "$2"
    ;;
-h | --help | "")
    sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    [ -n "${1:-}" ]
    ;;
*) die "unknown command '$1' (expected build, start, stop, status, version, namespaces or leaks)" ;;
esac
