#!/usr/bin/env bash
# Builds the release artifacts the Terraform Registry and filesystem mirrors expect:
#   dist/terraform-provider-gitlabrunner_X.Y.Z_linux_amd64.zip
#   dist/terraform-provider-gitlabrunner_X.Y.Z_SHA256SUMS
#   dist/terraform-provider-gitlabrunner_X.Y.Z_manifest.json
# The version comes from Cargo.toml. Usage: release.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/dist}"
cd "$root"

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
name="terraform-provider-gitlabrunner"
os_arch="linux_amd64"

cargo build --release --locked --bin "$name"
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# The Registry's convention: the binary inside the zip carries the version.
cp "target/release/$name" "$stage/${name}_v${version}"
zip_path="$out/${name}_${version}_${os_arch}.zip"
rm -f "$zip_path"
python3 - "$stage/${name}_v${version}" "$zip_path" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo(os.path.basename(src), date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = 0o755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read())
PY
cp terraform-registry-manifest.json "$out/${name}_${version}_manifest.json"
(cd "$out" && sha256sum "${name}_${version}_${os_arch}.zip" "${name}_${version}_manifest.json" \
    > "${name}_${version}_SHA256SUMS")
echo "release artifacts for ${name} ${version} in ${out}:"
ls -l "$out"
