#!/usr/bin/env bash
# Wires GitLab Runner on EKS against emulators, end to end on this machine, with nothing but the
# package registries: the runner manager's IAM role, ServiceAccount and RBAC, the job pods' role
# and the S3 build cache of examples/complete, and the config.toml entry and Helm values they give.
#   1. installs the Terraform CLI and moto into .tools/ (install-tools.sh),
#   2. builds the provider (and the Kubernetes API emulator when no cluster is given),
#   3. AWS: an endpoint given in QUICKSTART_AWS_ENDPOINT_URL, else LocalStack when one answers
#      on localhost:4566, else a moto server it starts on a loopback port,
#   4. Kubernetes: a kubeconfig given in QUICKSTART_KUBECONFIG, else the first kind cluster
#      when `kind` is installed, else a real kube-apiserver and kube-controller-manager with
#      etcd when Go and etcd are installed (real-kube.sh: built from the Go module proxy on the
#      first run, minutes; cached in .tools/kube after), else the project's Kubernetes API
#      emulator it starts,
#   5. creates the runner and job namespaces and registers the cluster's service-account
#      issuer as an IAM OIDC provider (what EKS and `eksctl utils associate-iam-oidc-provider`
#      do for a real cluster),
#   6. `terraform apply` of examples/complete (through dev_overrides), prints the runner
#      config, Helm values and cache policy it produced, then `terraform plan
#      -detailed-exitcode` to show that nothing is left to change,
#   7. stops what it started, or with --keep leaves AWS and Kubernetes running as a playground
#      for your own configuration and prints the export lines and the provider block to use.
#
# It prints each step's headline, the plan summary and what the example produced; Terraform's
# full output goes to terraform-output.log in the workspace (kept; its path is printed).
# It never talks to real AWS: without an emulator endpoint it starts moto.
#
# Usage: acceptance-tests/scripts/quickstart.sh [--keep]
#        acceptance-tests/scripts/quickstart.sh --stop WORKSPACE
#   --keep            leave the emulators it started running (a playground) and print how to
#                     use them, and the --stop command
#   --stop WORKSPACE  stop the emulators a --keep run left running, by the PIDs it recorded
# Environment:
#   QUICKSTART_PROFILE=dev|release      cargo profile of the provider (default dev); release is
#                                       the build release.sh packages, which it then reuses
#   QUICKSTART_AWS_ENDPOINT_URL=URL     an AWS emulator that is already running (LocalStack, moto)
#   QUICKSTART_AWS_REGION=REGION        the region (default us-east-1; us-gov-west-1 shows GovCloud)
#   QUICKSTART_KUBECONFIG=PATH          a cluster to use (e.g. kind); needs kubectl
#   QUICKSTART_DETECT=0                 do not look for LocalStack and kind; start the emulators
#   QUICKSTART_REAL_KUBE=0              the Kubernetes API emulator even when Go and etcd are there
#   QUICKSTART_DESTROY=1                `terraform destroy` at the end
#   QUICKSTART_BIN_DIR=DIR              use terraform-provider-gitlabrunner (and kube-emulator)
#                                       already built in DIR instead of running cargo (tests)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

usage() {
    sed -n '24,38p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# alive PID: whether PID is a process that has not exited (a zombie has).
alive() {
    local state
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# stop_playground WORKSPACE: stops what a --keep run recorded in WORKSPACE/pids ("PID PROGRAM"
# lines), only while each PID still runs that program (a PID can be reused), and a real control
# plane it started (real-kube.sh stop).
stop_playground() {
    local work="$1" pid program stopped=() waited
    [ -f "$work/pids" ] || {
        echo "quickstart: $work/pids not found: is $work a workspace of quickstart.sh --keep?" >&2
        exit 1
    }
    while read -r pid program; do
        if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$program"; then
            kill "$pid" 2>/dev/null || true
            waited=0
            while alive "$pid" && [ "$waited" -lt 100 ]; do
                sleep 0.1
                waited=$((waited + 1))
            done
            if alive "$pid"; then
                kill -9 "$pid" 2>/dev/null || true
            fi
            stopped+=("$program (pid $pid)")
        else
            echo "$program (pid $pid) is no longer running"
        fi
    done <"$work/pids"
    rm -f "$work/pids"
    # A real control plane (real-kube.sh) records its own PIDs and stops them itself.
    if [ -f "$work/kube/cluster.json" ]; then
        REAL_KUBE_DIR="$work/kube" bash "$here/real-kube.sh" stop
        stopped+=("the real Kubernetes control plane")
    fi
    [ "${#stopped[@]}" -gt 0 ] && echo "stopped ${stopped[*]}"
    echo "workspace kept at $work"
}

keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --keep)
        keep=1
        shift
        ;;
    --stop)
        [ $# -ge 2 ] || { echo "quickstart: --stop needs the workspace folder" >&2; exit 2; }
        stop_playground "$2"
        exit 0
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "quickstart: unknown argument $1 (see --help)" >&2
        exit 2
        ;;
    esac
done

cd "$root"
profile="${QUICKSTART_PROFILE:-dev}"
detect="${QUICKSTART_DETECT:-1}"
tools="$root/.tools"
started_at=$SECONDS
step_started=$SECONDS
timings=()

say() {
    if [ -n "${step_name:-}" ]; then
        timings+=("$(printf '  %-44s %4d s' "$step_name" $((SECONDS - step_started)))")
    fi
    step_name="$1"
    step_started=$SECONDS
    printf '\n== %s\n' "$*"
}
die() {
    echo "quickstart: $*" >&2
    exit 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/gitlabrunner-quickstart.XXXXXX")"
output_log="$work/terraform-output.log"
pids=()
pid_names=()
kept=0
real_kube=0
cleanup() {
    local status=$? pid
    if [ "$kept" = 1 ]; then
        return
    fi
    [ "$real_kube" = 1 ] && REAL_KUBE_DIR="$work/kube" bash "$here/real-kube.sh" stop
    for pid in "${pids[@]+"${pids[@]}"}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]+"${pids[@]}"}"; do
        wait "$pid" 2>/dev/null || true
    done
    [ "${#pids[@]}" -gt 0 ] && echo "stopped what the quick start started (pids ${pids[*]})"
    echo "workspace kept at $work (terraform state, terraform-output.log, terraform.log, emulator logs)"
    [ "$status" -eq 0 ] || echo "quickstart: FAILED (exit $status)" >&2
}
trap cleanup EXIT

say "tools (Terraform CLI, moto) into .tools/"
bash "$here/install-tools.sh" terraform moto
terraform_bin="$tools/bin/terraform"
python="$tools/moto-venv/bin/python" # has boto3, for the OIDC provider registration

# Where AWS and Kubernetes come from, decided before building (the emulator is built only
# when it is used).
aws_endpoint="${QUICKSTART_AWS_ENDPOINT_URL:-}"
aws_source="given in QUICKSTART_AWS_ENDPOINT_URL"
if [ -z "$aws_endpoint" ] && [ "$detect" != 0 ] &&
    curl -sf -m 2 -o /dev/null http://localhost:4566/_localstack/health; then
    aws_endpoint="http://localhost:4566"
    aws_source="LocalStack found on localhost:4566"
fi
kubeconfig="${QUICKSTART_KUBECONFIG:-}"
kube_source="given in QUICKSTART_KUBECONFIG"
if [ -z "$kubeconfig" ] && [ "$detect" != 0 ] && command -v kind >/dev/null; then
    kind_cluster="$(kind get clusters 2>/dev/null | head -n 1 || true)"
    if [ -n "$kind_cluster" ]; then
        kubeconfig="$work/kind.kubeconfig"
        kind get kubeconfig --name "$kind_cluster" >"$kubeconfig"
        kube_source="kind cluster $kind_cluster"
    fi
fi

if [ -z "$kubeconfig" ] && [ "${QUICKSTART_REAL_KUBE:-1}" != 0 ] && command -v go >/dev/null &&
    command -v etcd >/dev/null; then
    real_kube=1
fi

if [ -n "${QUICKSTART_BIN_DIR:-}" ]; then
    say "build: none, the binaries in QUICKSTART_BIN_DIR"
    bin_dir="$(cd "$QUICKSTART_BIN_DIR" && pwd)"
else
    say "build (cargo, profile $profile)"
    # Only the binaries the quick start runs, each on its own: the provider alone is exactly
    # the build release.sh makes (same package, features and profile), so cargo reuses it there;
    # built together with the emulator, shared crates would get the union of both feature sets
    # (aws-lc-rs's defaults) and release.sh would compile them again.
    cargo build --profile "$profile" -p terraform-provider-gitlabrunner --bin terraform-provider-gitlabrunner
    if [ -z "$kubeconfig" ] && [ "$real_kube" = 0 ]; then
        cargo build --profile "$profile" -p kube-emulator --bin kube-emulator
    fi
    target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    profile_dir="$profile"
    [ "$profile" = dev ] && profile_dir=debug
    bin_dir="$target_dir/$profile_dir"
fi
"$bin_dir/terraform-provider-gitlabrunner" --version

mkdir -p "$work/provider" "$work/config"
ln -s "$bin_dir/terraform-provider-gitlabrunner" "$work/provider/terraform-provider-gitlabrunner"
cat >"$work/terraform.rc" <<EOF
provider_installation {
  dev_overrides {
    "registry.terraform.io/gitlabrunner/gitlabrunner" = "$work/provider"
  }
  direct {}
}
EOF

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until SECONDS NAME LOG COMMAND...: polls COMMAND until it succeeds.
wait_until() {
    local deadline=$((SECONDS + $1)) name="$2" log="$3"
    shift 3
    until "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "$name did not start; the end of its log:" >&2
            tail -n 30 "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

json_field() { # JSON FIELD
    python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]) or "")' "$1" "$2"
}

say "AWS"
if [ -z "$aws_endpoint" ]; then
    moto_port="$(free_port)"
    MOTO_IAM_LOAD_MANAGED_POLICIES=true "$tools/bin/moto_server" -H 127.0.0.1 -p "$moto_port" \
        </dev/null >"$work/moto.log" 2>&1 &
    pids+=($!)
    pid_names+=(moto_server)
    aws_endpoint="http://127.0.0.1:$moto_port"
    aws_source="moto server started by the quick start (log: $work/moto.log)"
    wait_until 30 moto "$work/moto.log" curl -sf -o /dev/null "$aws_endpoint/moto-api/"
fi
# Test credentials: emulators accept any.
export AWS_ENDPOINT_URL="$aws_endpoint" AWS_REGION="${QUICKSTART_AWS_REGION:-us-east-1}" \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true \
    AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
export AWS_DEFAULT_REGION="$AWS_REGION"
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "AWS: $aws_endpoint ($aws_source), region $AWS_REGION"

# create_namespace NAME: as `kubectl create namespace` would, tolerating one that exists, with
# curl against kube_url as kube_token (the emulator's or the real control plane's admin).
create_namespace_with_curl() {
    local status
    status="$(curl -s -o "$work/namespace-$1.json" -w '%{http_code}' --cacert "$kube_ca" \
        -H "Authorization: Bearer $kube_token" -H 'Content-Type: application/json' \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$1\"}}" \
        "$kube_url/api/v1/namespaces")"
    case "$status" in
    201 | 409) ;;
    *) die "creating namespace $1 answered HTTP $status: $(cat "$work/namespace-$1.json")" ;;
    esac
}

say "Kubernetes"
if [ -z "$kubeconfig" ] && [ "$real_kube" = 1 ]; then
    echo "a real control plane (real-kube.sh): the first run builds Kubernetes from the Go module proxy"
    kubeconfig="$(REAL_KUBE_DIR="$work/kube" bash "$here/real-kube.sh" start)"
    cluster="$work/kube/cluster.json"
    kube_url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$cluster")"
    kube_token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_token"])' "$cluster")"
    kube_ca="$work/kube/pki/ca.crt"
    kube_version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["git_version"])' "$cluster")"
    issuer="$(curl -sf --cacert "$kube_ca" -H "Authorization: Bearer $kube_token" \
        "$kube_url/.well-known/openid-configuration" | python3 -c 'import json,sys; print(json.load(sys.stdin)["issuer"])')"
    kube_source="a real Kubernetes $kube_version (kube-apiserver and kube-controller-manager built from the Go module proxy, etcd), started by the quick start at $kube_url"
    create_namespace() { create_namespace_with_curl "$1"; }
elif [ -z "$kubeconfig" ]; then
    "$bin_dir/kube-emulator" serve --dir "$work/kube" </dev/null >"$work/kube-emulator.out" 2>"$work/kube-emulator.log" &
    pids+=($!)
    pid_names+=(kube-emulator)
    wait_until 30 kube-emulator "$work/kube-emulator.log" test -s "$work/kube-emulator.out"
    ready="$(head -n 1 "$work/kube-emulator.out")"
    kubeconfig="$(json_field "$ready" kubeconfig)"
    issuer="$(json_field "$ready" issuer)"
    kube_url="$(json_field "$ready" url)"
    kube_token="$(json_field "$ready" admin_token)"
    kube_ca="$(json_field "$ready" ca)"
    kube_source="the project's Kubernetes API emulator, started by the quick start at $kube_url"
    create_namespace() { create_namespace_with_curl "$1"; }
else
    command -v kubectl >/dev/null || die "QUICKSTART_KUBECONFIG needs kubectl on PATH"
    export KUBECONFIG="$kubeconfig"
    issuer="$(kubectl get --raw /.well-known/openid-configuration | python3 -c 'import json,sys; print(json.load(sys.stdin)["issuer"])')"
    create_namespace() {
        kubectl get namespace "$1" >/dev/null 2>&1 || kubectl create namespace "$1"
    }
fi
export KUBECONFIG="$kubeconfig"
echo "Kubernetes: $kube_source"
echo "KUBECONFIG=$KUBECONFIG"
echo "service-account issuer: $issuer"

runner_namespace=gitlab-runner
job_namespace=gitlab-jobs
for namespace in "$runner_namespace" "$job_namespace"; do
    create_namespace "$namespace"
    echo "namespace $namespace exists"
done

say "IAM OIDC provider for the cluster's issuer"
# EKS clusters get theirs with `eksctl utils associate-iam-oidc-provider`; this registers the
# emulated cluster's issuer the same way (or finds it when a previous run registered it).
oidc_provider_arn="$("$python" - "$issuer" <<'PY'
import sys, boto3
issuer = sys.argv[1]
iam = boto3.client("iam")
try:
    arn = iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40]
    )["OpenIDConnectProviderArn"]
except iam.exceptions.EntityAlreadyExistsException:
    host_path = issuer.split("://", 1)[1].rstrip("/")
    arn = next(
        p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        if p["Arn"].endswith(":oidc-provider/" + host_path)
    )
print(arn)
PY
)"
echo "$oidc_provider_arn"

export TF_CLI_CONFIG_FILE="$work/terraform.rc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 \
    TF_INPUT=0 TF_LOG_PROVIDER=DEBUG TF_LOG_PATH="$work/terraform.log"
# The example's inputs.
# (The OIDC provider is found by data "gitlabrunner_oidc_provider" "this" {} from the
# cluster's own issuer: nothing to pass.)
export TF_VAR_cluster_name=quickstart TF_VAR_runner_namespace="$runner_namespace" \
    TF_VAR_job_namespace="$job_namespace"
# Terraform's own output goes to the workspace log, without colours.
terraform() {
    local command="$1"
    shift
    "$terraform_bin" "$command" -no-color "$@"
}
# logged COMMAND...: runs a terraform command with its output appended to the workspace log;
# on failure prints its diagnostics (or the end of its output) and exits.
logged() {
    local status=0 from
    printf '\n$ terraform %s\n' "$*" >>"$output_log"
    from=$(($(wc -l <"$output_log") + 1))
    last_output_from=$from
    terraform "$@" >>"$output_log" 2>&1 || status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
        echo "terraform $1 failed (exit $status); its output (all of it in $output_log):" >&2
        tail -n "+$from" "$output_log" | sed -n '/^Error: /,$p' | head -n 80 >&2
        [ -n "$(tail -n "+$from" "$output_log" | grep '^Error: ')" ] ||
            tail -n "+$from" "$output_log" | tail -n 40 >&2
        exit "$status"
    fi
    return "$status"
}

cp -r examples/complete/. "$work/config/"
cd "$work/config"

say "terraform apply (examples/complete)"
# last_line PATTERN: the last line of the latest command's output that matches PATTERN.
last_line() {
    tail -n "+$last_output_from" "$output_log" | grep -E "$1" | tail -n 1 || true
}
logged plan -out=quickstart.tfplan -compact-warnings
last_line '^Plan: '
logged apply -compact-warnings quickstart.tfplan
last_line '^Apply complete!'
echo "(the full plan and apply output: $output_log)"

say "what it produced"
echo "--- config.toml: the [[runners]] entry (terraform output -raw runner_config_toml)"
terraform output -raw runner_config_toml
echo "--- values.yaml for the gitlab-runner Helm chart (terraform output -raw helm_values)"
terraform output -raw helm_values
echo "--- the cache permissions on the manager's role (terraform output -raw cache_policy)"
terraform output -raw cache_policy | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=2))'
echo "--- the manager's role, as STS handed it to its ServiceAccount's token (verify)"
terraform output -raw manager_verified_as
echo

say "terraform plan (expect: no changes)"
plan_status=0
logged plan -detailed-exitcode -compact-warnings || plan_status=$?
case "$plan_status" in
0) echo "second plan: no changes" ;;
*) die "the second plan is not empty: see the end of $output_log" ;;
esac

if [ "${QUICKSTART_DESTROY:-0}" = 1 ]; then
    say "terraform destroy"
    logged destroy -auto-approve -compact-warnings
    last_line '^Destroy complete!'
fi

if [ "$keep" = 1 ]; then
    say "the playground: AWS and Kubernetes keep running"
    : >"$work/pids"
    for i in "${!pids[@]}"; do
        echo "${pids[$i]} ${pid_names[$i]}" >>"$work/pids"
    done
    cat >"$work/env.sh" <<EOF
export TF_CLI_CONFIG_FILE="$work/terraform.rc"
export AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL"
export AWS_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE="$AWS_CONFIG_FILE"
export AWS_SHARED_CREDENTIALS_FILE="$AWS_SHARED_CREDENTIALS_FILE"
export KUBECONFIG="$KUBECONFIG"
EOF
    cat >"$work/provider.tf" <<EOF
terraform {
  required_providers {
    gitlabrunner = {
      source = "gitlabrunner/gitlabrunner"
    }
  }
}

provider "gitlabrunner" {
  oidc_provider_arn = "$oidc_provider_arn"
}
EOF
    echo "Try your own configuration: in a shell, run these export lines (or source $work/env.sh):"
    echo
    sed 's/^/  /' "$work/env.sh"
    echo
    echo "and put these blocks ($work/provider.tf) next to your resources in a folder of"
    echo "your own; the namespaces $runner_namespace and $job_namespace exist:"
    echo
    sed 's/^/  /' "$work/provider.tf"
    echo
    echo "Then terraform plan / apply there (no terraform init: dev_overrides loads the provider)."
    echo "Stop AWS and Kubernetes (pids ${pids[*]-none}) with:"
    echo "  $here/quickstart.sh --stop $work"
    kept=1
fi

say "done"
timings+=("$(printf '  %-44s %4d s' total $((SECONDS - started_at)))")
printf '%s\n' "${timings[@]}"
if [ "$kept" = 1 ]; then
    echo "workspace kept at $work (terraform state, terraform-output.log, terraform.log, emulator logs)"
fi
