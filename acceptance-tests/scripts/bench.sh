#!/usr/bin/env bash
# Runs the latency-bound benchmarks (issue 6) and rewrites docs/performance.md:
#   a fixed latency L on every IAM and Kubernetes request (the AWS and the Kubernetes proxies; the
#   latter in front of the emulator, or of a real cluster with TF_ACC_KUBECONFIG), the create of
#   one binding, the plan and destroy of 100, provider start and GetProviderSchema, peak RSS; each
#   as a multiple of L with its critical-path depth, in the default concurrent mode and in serial
#   mode side by side. Prints the table.
#
# Usage: acceptance-tests/scripts/bench.sh [--latency-ms N] [--bindings N] [--repeat N] [--starts N]
#          [--timeline DIR]
#   (defaults: 50 ms, 100 bindings, median of 5 creates and 21 starts; --timeline writes every
#   measured command's requests, both sides on one time line, as DIR/<figure>.tsv)
# Environment: TF_ACC_AWS=localstack to run against LocalStack instead of moto; TF_ACC_KUBECONFIG
# to run against a real cluster instead of the emulator.
# Everything is built in release mode (provider and benchmark); on a clean checkout the builds
# take most of the time (see docs/performance.md). Not part of the CI test run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

case "${1:-}" in
-h | --help)
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

aws="${TF_ACC_AWS:-moto}"
bash "$here/install-tools.sh" terraform "$aws"
cargo build --release --locked -p gitlabrunner-acceptance --bin bench
# The provider is built by the harness (TF_ACC_PROFILE=release), the build release.sh makes.
env -u TF_ACC_AWS_ENDPOINT_URL -u GITLABRUNNER_SERIAL_API_CALLS \
    TF_ACC=1 TF_ACC_PROFILE=release TF_ACC_AWS="$aws" \
    "$root/target/release/bench" --out "$root/docs/performance.md" "$@"
