#!/usr/bin/env bash
# Builds the release artifacts in the layout the Terraform Registry (and goreleaser's provider
# scaffolding) uses, for linux_amd64:
#   dist/terraform-provider-gitlabrunner_X.Y.Z_linux_amd64.zip   the binary, named
#                                                                terraform-provider-gitlabrunner_vX.Y.Z
#   dist/terraform-provider-gitlabrunner_X.Y.Z_manifest.json     terraform-registry-manifest.json
#                                                                (plugin protocol 6.0)
#   dist/terraform-provider-gitlabrunner_X.Y.Z_SHA256SUMS        sha256 of the zip and the manifest
#   dist/terraform-provider-gitlabrunner_X.Y.Z_SHA256SUMS.sig    only with RELEASE_GPG_KEY (below)
# X.Y.Z is the version in Cargo.toml; the binary must report the same with --version.
# The zip is reproducible: fixed timestamp, fixed permissions (0755), one entry.
#
# Usage: release.sh [--binary PATH] [--out DIR] [OUT_DIR]
#   --binary PATH   package this binary instead of running `cargo build --release` (e.g. the
#                   quick start's target/debug build; the acceptance test packages the debug
#                   build the harness already has)
#   --out DIR       where the artifacts go (default dist/)
# Environment: RELEASE_GPG_KEY=KEY_ID signs SHA256SUMS with `gpg --detach-sign`, as the
# Registry requires for publishing; without it the signature is not made (and the script
# says so): a filesystem or network mirror needs none.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

binary=""
out="$root/dist"
while [ $# -gt 0 ]; do
    case "$1" in
    --binary)
        binary="$2"
        shift 2
        ;;
    --out)
        out="$2"
        shift 2
        ;;
    -h | --help)
        sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "release.sh: unknown option $1 (see --help)" >&2
        exit 2
        ;;
    *)
        out="$1"
        shift
        ;;
    esac
done

name="terraform-provider-gitlabrunner"
os_arch="linux_amd64"
version="$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["package"]["version"])' Cargo.toml)"
prefix="${name}_${version}"

python3 - terraform-registry-manifest.json <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
protocols = manifest.get("metadata", {}).get("protocol_versions")
if manifest.get("version") != 1 or protocols != ["6.0"]:
    sys.exit(f"terraform-registry-manifest.json: expected version 1 and protocol_versions [\"6.0\"], found {manifest}")
PY

if [ -z "$binary" ]; then
    # The quick start's QUICKSTART_PROFILE=release build is this same one (package, binary,
    # features), so cargo reuses target/release when it is up to date.
    started=$SECONDS
    cargo build --release --locked -p "$name" --bin "$name"
    echo "release.sh: cargo build --release took $((SECONDS - started)) s (cargo reuses an up-to-date build; --binary PATH packages one you have)"
    binary="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/$name"
fi
[ -x "$binary" ] || { echo "release.sh: $binary is not an executable" >&2; exit 1; }
reported="$("$binary" --version)"
if [ "$reported" != "$name $version" ]; then
    echo "release.sh: $binary reports \"$reported\", Cargo.toml says $version" >&2
    exit 1
fi

mkdir -p "$out"
zip_path="$out/${prefix}_${os_arch}.zip"
rm -f "$zip_path" "$out/${prefix}_SHA256SUMS" "$out/${prefix}_SHA256SUMS.sig" "$out/${prefix}_manifest.json"
# Inside the zip the binary carries the version, as the Registry's providers do.
python3 - "$binary" "${name}_v${version}" "$zip_path" <<'PY'
import sys, zipfile
source, entry, target = sys.argv[1:]
info = zipfile.ZipInfo(entry, date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)  # a regular file, rwxr-xr-x
info.create_system = 3  # unix, so that the mode is honoured
info.compress_type = zipfile.ZIP_DEFLATED
with open(source, "rb") as f, zipfile.ZipFile(target, "w") as z:
    z.writestr(info, f.read(), compresslevel=6)
PY
cp terraform-registry-manifest.json "$out/${prefix}_manifest.json"
(cd "$out" && sha256sum "${prefix}_${os_arch}.zip" "${prefix}_manifest.json" >"${prefix}_SHA256SUMS")

if [ -n "${RELEASE_GPG_KEY:-}" ]; then
    gpg --batch --yes --local-user "$RELEASE_GPG_KEY" --output "$out/${prefix}_SHA256SUMS.sig" \
        --detach-sign "$out/${prefix}_SHA256SUMS"
else
    echo "release.sh: no RELEASE_GPG_KEY, so no ${prefix}_SHA256SUMS.sig (the Registry needs one to publish; mirrors do not)"
fi

echo "release artifacts of $name $version ($binary) in $out:"
(cd "$out" && ls -l "${prefix}"_*)
# The hash `terraform init` writes into .terraform.lock.hcl when it installs this zip from a
# mirror: h1:, Go's dirhash.Hash1 of the zip's contents (golang.org/x/mod/sumdb/dirhash, which
# Terraform's getproviders.PackageHashV1 uses): base64 of the SHA-256 of the sorted lines
# "SHA256_HEX  NAME\n", one per file. (zh: hashes come only from a registry's signed SHA256SUMS.)
h1="$(python3 - "$zip_path" <<'PY'
import base64, hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = sorted(z.namelist())
    lines = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in names)
print("h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode())
PY
)"
echo "$h1  (what terraform init records in .terraform.lock.hcl for this package)"
