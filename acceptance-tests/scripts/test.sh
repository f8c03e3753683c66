#!/usr/bin/env bash
# Runs every test of the project, in this order, stopping at the first failure:
#   tools        install-tools.sh all (Terraform CLI, moto, LocalStack into .tools/)
#   fmt          cargo fmt --all -- --check
#   clippy       cargo clippy --workspace --all-targets -- -D warnings
#   test         cargo test --workspace (unit, integration, the Kubernetes emulator's
#                conformance test; acceptance tests skip themselves here)
#   acc-moto     the acceptance suite with TF_ACC=1 against moto
#   acc-kube     a real Kubernetes control plane (real-kube.sh: kube-apiserver and
#                kube-controller-manager built from the Go module proxy, etcd): the recorded
#                kube-apiserver exchanges replayed against it, the acceptance suite against moto
#                and it (TF_ACC_KUBECONFIG), then a check that no namespace was left behind
#   acc-local    the acceptance suite with TF_ACC=1 against LocalStack (Kubernetes: the
#                emulator), driven by the oldest Terraform 1.x (.tools/bin/terraform-oldest,
#                1.6.6) unless TF_ACC_TERRAFORM_PATH is set, so the oldest and the newest
#                Terraform both run in CI
#   acc-tofu     a focused acceptance subset (create/plan/destroy of a binding, the data source,
#                a terminating namespace) driven by OpenTofu built from the Go module proxy
#                (install-tools.sh opentofu; says why and skips where Go is missing)
#   fuzz         fuzz/run.sh FUZZ_SECONDS (default 30) on the msgpack decoder
# and prints a summary with each stage's duration.
# The Go builds (real-kube.sh build for acc-kube, install-tools.sh opentofu for acc-tofu) run in
# the background from the start, niced, beside the cargo stages; the stage go-wait, just before
# acc-kube, waits for them and fails the run (showing their log) if they failed. The summary
# lists them as go-build (their own duration, overlapped) and go-wait (what the run waited).
#
# Usage: acceptance-tests/scripts/test.sh [--skip STAGE]... [--dry-run]
#   --skip acc-local --skip fuzz   e.g. for a quicker local run (CI runs everything)
#   --dry-run    prints each stage's command instead of running it (the Go builds become
#                `sleep DRY_RUN_GO_SECONDS` (default 1) exiting DRY_RUN_GO_STATUS (default 0)), to
#                check the script's control flow
# Environment: FUZZ_SECONDS, TF_ACC_TEST_THREADS (default 4), TF_ACC_KUBECONFIG (a real cluster
# for acc-moto and acc-local; acc-kube starts its own). TF_ACC_AWS and TF_ACC_AWS_ENDPOINT_URL
# are set per stage here.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

skip=()
dry_run=
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run)
        dry_run=1
        shift
        ;;
    --skip)
        [ $# -ge 2 ] || { echo "test.sh: --skip needs a stage name" >&2; exit 2; }
        skip+=("$2")
        shift 2
        ;;
    -h | --help)
        sed -n '2,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "test.sh: unknown argument $1 (see --help)" >&2
        exit 2
        ;;
    esac
done

locked=()
[ -n "${CI:-}" ] && locked=(--locked)
threads="${TF_ACC_TEST_THREADS:-4}"

names=()
results=()
durations=()
started_all=$(date +%s.%N)

summary() {
    local total
    total=$(awk -v a="$started_all" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
    echo
    echo "== test.sh summary =="
    local i
    for i in "${!names[@]}"; do
        printf '  %-10s %-7s %6s s\n' "${names[$i]}" "${results[$i]}" "${durations[$i]}"
    done
    printf '  %-10s %-7s %6s s\n' "total" "" "$total"
}

skipped() {
    local s
    for s in "${skip[@]+"${skip[@]}"}"; do
        [ "$s" = "$1" ] && return 0
    done
    return 1
}

# stage NAME COMMAND...: runs COMMAND, records its result and duration; stops on failure.
stage() {
    local name="$1"
    shift
    if skipped "$name"; then
        names+=("$name")
        results+=("skipped")
        durations+=("-")
        return
    fi
    echo
    echo "== $name: $* =="
    local start end status=0
    start=$(date +%s.%N)
    if [ -n "$dry_run" ] && [ "$name" != go-wait ]; then
        echo "(dry run)"
    else
        "$@" || status=$?
    fi
    end=$(date +%s.%N)
    names+=("$name")
    durations+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')")
    if [ "$status" -eq 0 ]; then
        results+=("ok")
    else
        results+=("FAILED")
        summary
        echo "test.sh: stage $name failed (exit $status)" >&2
        exit 1
    fi
}

# The Go builds, in the background from the start (see the header). Their own process group,
# so that a run that stops early stops them too.
go_log="$root/target/go-builds.log"
go_status="$root/target/go-builds.status"
go_pid=
go_builds() {
    local started=$SECONDS status=0
    if [ -n "$dry_run" ]; then
        echo "dry run: the Go builds take ${DRY_RUN_GO_SECONDS:-1} s"
        sleep "${DRY_RUN_GO_SECONDS:-1}"
        status="${DRY_RUN_GO_STATUS:-0}"
    else
        if ! skipped acc-kube; then
            nice -n 10 bash "$here/real-kube.sh" build || status=$?
        fi
        if [ "$status" -eq 0 ] && ! skipped acc-tofu; then
            nice -n 10 bash "$here/install-tools.sh" opentofu || status=$?
        fi
    fi
    echo "$status $((SECONDS - started))" >"$go_status"
    return "$status"
}
start_go_builds() {
    if skipped acc-kube && skipped acc-tofu; then
        return
    fi
    # Without Go, acc-kube fails and acc-tofu skips, each saying why, as before.
    if [ -z "$dry_run" ] && ! command -v go >/dev/null 2>&1; then
        return
    fi
    mkdir -p "$root/target"
    rm -f "$go_status"
    export -f go_builds skipped
    export here dry_run go_status
    export skip_list="${skip[*]+"${skip[*]}"}"
    setsid --wait bash -c 'skip=($skip_list); go_builds' >"$go_log" 2>&1 &
    go_pid=$!
    echo "test.sh: Go builds started in the background (pid $go_pid, log $go_log)"
}
stop_go_builds() {
    if [ -n "$go_pid" ] && kill -0 "$go_pid" 2>/dev/null; then
        kill -- "-$go_pid" 2>/dev/null || kill "$go_pid" 2>/dev/null || true
    fi
}
trap stop_go_builds EXIT
# go-wait: waits for the Go builds; on failure shows their log and fails.
wait_go_builds() {
    [ -n "$go_pid" ] || return 0
    local status=0 took
    wait "$go_pid" || status=$?
    go_pid=
    took="$(cut -d' ' -f2 "$go_status" 2>/dev/null || echo "?")"
    names+=("go-build")
    durations+=("$took")
    if [ "$status" -eq 0 ]; then
        results+=("ok (bg)")
        tail -n 3 "$go_log"
    else
        results+=("FAILED")
        echo "test.sh: the Go builds failed (exit $status); their log ($go_log):" >&2
        tail -n 80 "$go_log" >&2
        return 1
    fi
}

acceptance() {
    # The same feature set as `cargo test --workspace`, so nothing is compiled twice.
    env -u TF_ACC_AWS_ENDPOINT_URL TF_ACC=1 TF_ACC_AWS="$1" \
        cargo test "${locked[@]+"${locked[@]}"}" --workspace --test acceptance -- --test-threads="$threads"
}

# acc-kube: starts the real control plane, and stops it on every way out of the stage.
acc_kube() {
    local real="$here/real-kube.sh" kubeconfig cluster version status=0
    wait_go_builds || return 1
    trap 'bash "$real" stop; stop_go_builds' EXIT
    kubeconfig="$(bash "$real" start)" || return 1
    cluster="${REAL_KUBE_DIR:-$root/target/real-kube}/cluster.json"
    version="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["git_version"])' "$cluster")"
    echo "acc-kube: against a real Kubernetes $version (kube-apiserver and kube-controller-manager built from the Go module proxy, $(etcd --version | head -n 1))"
    bash "$real" namespaces >"$root/target/real-kube-namespaces-before.txt" || status=$?
    if [ "$status" -eq 0 ]; then
        KUBE_CONFORMANCE_CLUSTER="$cluster" cargo test "${locked[@]+"${locked[@]}"}" --workspace \
            --test conformance -- real_kube_apiserver --nocapture || status=$?
    fi
    if [ "$status" -eq 0 ]; then
        TF_ACC_KUBECONFIG="$kubeconfig" acceptance moto || status=$?
        # Also after failed tests: what a failing run leaves behind is worth knowing.
        bash "$real" leaks "$root/target/real-kube-namespaces-before.txt" || status=$((status == 0 ? 1 : status))
    fi
    echo "acc-kube: ran against Kubernetes $version"
    bash "$real" stop
    trap stop_go_builds EXIT
    return "$status"
}

# acceptance_oldest_terraform AWS: the acceptance suite driven by the oldest Terraform 1.x.
acceptance_oldest_terraform() {
    (
        export TF_ACC_TERRAFORM_PATH="${TF_ACC_TERRAFORM_PATH:-$root/.tools/bin/terraform-oldest}"
        acceptance "$1"
    )
}

# The acceptance tests acc-tofu runs: one per kind of Terraform interaction (apply, plan,
# refresh, destroy of a binding; validate and plan of the data source; a failing apply).
TOFU_TESTS=(irsa_binding::create_wires data_source:: namespace_terminating::)

acceptance_opentofu() {
    if ! command -v go >/dev/null 2>&1; then
        echo "acc-tofu: skipped: OpenTofu is built from the Go module proxy and Go is not installed"
        return 0
    fi
    wait_go_builds || return 1
    bash "$here/install-tools.sh" opentofu
    env -u TF_ACC_AWS_ENDPOINT_URL TF_ACC=1 TF_ACC_AWS=moto TF_ACC_TERRAFORM_PATH="$root/.tools/bin/tofu" \
        cargo test "${locked[@]+"${locked[@]}"}" --workspace --test acceptance -- --test-threads="$threads" \
        "${TOFU_TESTS[@]}"
}

fuzz() {
    # libFuzzer prints a line per new input; keep the whole log, show its end.
    local log="$root/target/fuzz.log"
    mkdir -p "$root/target"
    if bash "$root/fuzz/run.sh" "${FUZZ_SECONDS:-30}" >"$log" 2>&1; then
        grep -E '^(Done|stat::)' "$log" || tail -n 5 "$log"
    else
        tail -n 60 "$log"
        return 1
    fi
}

start_go_builds
stage tools bash "$here/install-tools.sh" all
stage fmt cargo fmt --all -- --check
stage clippy cargo clippy "${locked[@]+"${locked[@]}"}" --workspace --all-targets -- -D warnings
stage test env -u TF_ACC cargo test "${locked[@]+"${locked[@]}"}" --workspace
stage acc-moto acceptance moto
stage go-wait wait_go_builds
stage acc-kube acc_kube
stage acc-local acceptance_oldest_terraform localstack
stage acc-tofu acceptance_opentofu
stage fuzz fuzz
summary
