#!/usr/bin/env bash
# Runs the coverage-guided fuzzer (cargo-fuzz + libFuzzer) on the msgpack DynamicValue decoder
# for SECONDS seconds (default 60).
#
# Only a stable toolchain exists here: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz
# passes (sanitizer coverage). The decoder is safe Rust (unsafe_code = "forbid"), so by default
# no sanitizer is used (faster); FUZZ_SANITIZER=address turns AddressSanitizer on.
# Installs cargo-fuzz into ~/.cargo/bin on first use (about 1.5 minutes; later runs skip it).
# Crashes are written to fuzz/artifacts/decode_dynamic/; the corpus grows in a scratch copy so
# the stored seeds in fuzz/corpus/decode_dynamic/ stay small (FUZZ_KEEP_CORPUS=1 writes to them).
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..." >&2
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
corpus="corpus/decode_dynamic"
if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    cp "$corpus"/* "$scratch"/
    corpus="$scratch"
fi

cargo fuzz run --sanitizer "${FUZZ_SANITIZER:-none}" decode_dynamic "$corpus" -- \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1
