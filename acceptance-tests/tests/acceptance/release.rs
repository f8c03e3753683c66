//! The release artifacts installed the way users install providers: `release.sh` packages the
//! provider, the zip goes into a filesystem mirror, and `terraform init` (no `dev_overrides`)
//! installs it from there, writes a lock file whose hashes are the zip's, and refuses a
//! package that does not match them; `terraform plan` then runs the installed provider.
//!
//! The test packages the debug build the harness already has (`release.sh --binary`): a
//! release build takes minutes on two cores and would be a second copy of the dependency
//! tree. The packaging, naming, hashing and installation are the same for either build;
//! `acceptance-tests/scripts/release.sh` without `--binary` makes the release build.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use gitlabrunner_acceptance::say;
use gitlabrunner_acceptance::{Harness, PROVIDER_ADDRESS, Workspace, harness};
use sha2::{Digest as _, Sha256};

const NAME: &str = "terraform-provider-gitlabrunner";
const OS_ARCH: &str = "linux_amd64";

fn version(root: &Path) -> String {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    manifest["package"]["version"].as_str().unwrap().to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Terraform's `h1:` package hash (Go's `dirhash.Hash1`) of the files under `dir`: SHA-256 of
/// the sorted lines `HEX  PATH\n`, one per file, base64-encoded.
fn h1_of_dir(dir: &Path) -> String {
    fn files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
            if path.is_dir() {
                files(&path, &format!("{name}/"), out);
            } else {
                out.push((name, path));
            }
        }
    }
    let mut found = Vec::new();
    files(dir, "", &mut found);
    found.sort();
    let mut summary = String::new();
    for (name, path) in found {
        summary.push_str(&format!(
            "{}  {name}\n",
            sha256_hex(&std::fs::read(path).unwrap())
        ));
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
    )
}

/// Runs a short Python program (Python 3 is a prerequisite of the tools) and returns stdout.
async fn python(program: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(program)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The zip's entries as `(name, unix mode)`.
async fn zip_entries(zip: &Path) -> Vec<(String, u32)> {
    let listing = python(
        "import json, sys, zipfile\n\
         print(json.dumps([[i.filename, i.external_attr >> 16] for i in zipfile.ZipFile(sys.argv[1]).infolist()]))",
        &[&zip.display().to_string()],
    )
    .await;
    serde_json::from_str(&listing).unwrap()
}

/// Unpacks the zip into `dir`, keeping the file modes (as Terraform does).
async fn unzip(zip: &Path, dir: &Path) {
    python(
        "import os, sys, zipfile\n\
         z = zipfile.ZipFile(sys.argv[1])\n\
         for i in z.infolist():\n    \
             os.chmod(z.extract(i, sys.argv[2]), (i.external_attr >> 16) & 0o777)",
        &[&zip.display().to_string(), &dir.display().to_string()],
    )
    .await;
}

/// A CLI configuration that installs the provider from `mirror` only: no `dev_overrides`.
fn mirror_cli_config(path: &Path, mirror: &Path) {
    let text = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{PROVIDER_ADDRESS}\"]\n  }}\n  direct {{\n    exclude = [\"{PROVIDER_ADDRESS}\"]\n  }}\n}}\n",
        mirror.display()
    );
    std::fs::write(path, text).unwrap();
}

fn mirror_workspace(
    h: &Harness,
    cli_config: &Path,
    version: &str,
    oidc_provider_arn: &str,
) -> Workspace {
    let mut ws = Workspace::new(
        h.terraform().path(),
        cli_config,
        h.settings().command_timeout,
    )
    .unwrap();
    ws.set_aws_endpoint(h.aws().endpoint(), h.aws().region());
    if let Ok(kubernetes) = h.kubernetes() {
        ws.set_kubeconfig(kubernetes.kubeconfig());
    }
    ws.write(
        "main.tf",
        &format!(
            r#"terraform {{
  required_providers {{
    gitlabrunner = {{
      source  = "gitlabrunner/gitlabrunner"
      version = "{version}"
    }}
  }}
}}

provider "gitlabrunner" {{}}

resource "gitlabrunner_irsa_binding" "probe" {{
  namespace            = "gitlab-runner"
  service_account_name = "gitlab-runner"
  oidc_provider_arn    = "{oidc_provider_arn}"
}}
"#
        ),
    )
    .unwrap();
    ws
}

/// The hashes of the provider's entry in a lock file.
fn locked_hashes(lock: &str, version: &str) -> Vec<String> {
    let start = lock
        .find(&format!("provider \"{PROVIDER_ADDRESS}\""))
        .unwrap_or_else(|| panic!("no entry for {PROVIDER_ADDRESS}:\n{lock}"));
    let entry = &lock[start..start + lock[start..].find("\n}").unwrap()];
    assert!(
        entry.contains(&format!("version     = \"{version}\"")),
        "{entry}"
    );
    entry
        .lines()
        .map(|line| line.trim().trim_end_matches(','))
        .filter_map(|line| line.strip_prefix('"')?.strip_suffix('"'))
        .filter(|hash| hash.starts_with("h1:") || hash.starts_with("zh:"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn release_zip_installs_from_a_filesystem_mirror_with_locked_hashes() {
    let Some(h) = harness("release_zip_installs_from_a_filesystem_mirror_with_locked_hashes").await
    else {
        return;
    };
    let root = &h.settings().repo_root;
    let version = version(root);
    let scratch = tempfile::Builder::new()
        .prefix("tf-acc-release-")
        .tempdir()
        .unwrap();
    let dist = scratch.path().join("dist");

    // release.sh, packaging the harness's build.
    let started = std::time::Instant::now();
    let released = tokio::process::Command::new("bash")
        .arg(root.join("acceptance-tests/scripts/release.sh"))
        .arg("--binary")
        .arg(&h.provider().binary)
        .arg("--out")
        .arg(&dist)
        .output()
        .await
        .unwrap();
    assert!(
        released.status.success(),
        "release.sh failed:\n{}{}",
        String::from_utf8_lossy(&released.stdout),
        String::from_utf8_lossy(&released.stderr)
    );
    say!(
        "release: release.sh packaged the debug build in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The artifacts and their names, as the Registry expects them.
    let prefix = format!("{NAME}_{version}");
    let zip = dist.join(format!("{prefix}_{OS_ARCH}.zip"));
    let manifest = dist.join(format!("{prefix}_manifest.json"));
    let sums = std::fs::read_to_string(dist.join(format!("{prefix}_SHA256SUMS"))).unwrap();
    let zip_bytes = std::fs::read(&zip).unwrap();
    let zip_sha = sha256_hex(&zip_bytes);
    let manifest_text = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(
        sums,
        format!(
            "{zip_sha}  {prefix}_{OS_ARCH}.zip\n{}  {prefix}_manifest.json\n",
            sha256_hex(manifest_text.as_bytes())
        )
    );
    let manifest_json: serde_json::Value = serde_json::from_str(&manifest_text).unwrap();
    assert_eq!(manifest_json["version"], 1);
    assert_eq!(
        manifest_json["metadata"]["protocol_versions"],
        serde_json::json!(["6.0"])
    );
    let entry = format!("{NAME}_v{version}");
    assert_eq!(zip_entries(&zip).await, [(entry.clone(), 0o100755)]);

    // The unpacked mirror layout, HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/.
    let unpacked = scratch.path().join("mirror");
    let package_dir = unpacked.join(PROVIDER_ADDRESS).join(&version).join(OS_ARCH);
    unzip(&zip, &package_dir).await;
    let expected_h1 = h1_of_dir(&package_dir);
    // release.sh tells the user the hash the lock file will hold (the h1: of the contents),
    // not the zip's own sha256 (zh:), which mirror installs never record.
    let release_output = String::from_utf8_lossy(&released.stdout);
    assert!(
        release_output
            .lines()
            .any(|line| line.starts_with(&format!("{expected_h1}  (what terraform init records"))),
        "release.sh does not print the h1: hash {expected_h1}:\n{release_output}"
    );
    assert!(!release_output.contains("zh:"), "{release_output}");
    let installed_binary = package_dir.join(&entry);
    assert_eq!(
        std::fs::read(&installed_binary).unwrap(),
        std::fs::read(&h.provider().binary).unwrap(),
        "the zip holds the binary release.sh was given"
    );
    let reported = tokio::process::Command::new(&installed_binary)
        .arg("--version")
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&reported.stdout).trim(),
        format!("{NAME} {version}")
    );

    let cli_config = scratch.path().join("mirror.tfrc");
    mirror_cli_config(&cli_config, &unpacked);
    // The cluster's own OIDC provider: the plan checks the binding's is the cluster's.
    let kube = h.kubernetes().unwrap().client().await.unwrap();
    let oidc = crate::binding_support::register_issuer(&kube, &h.aws_clients().await).await;
    let ws = mirror_workspace(&h, &cli_config, &version, &oidc.arn);
    let init = ws
        .run_ok(&["init", "-input=false", "-no-color"])
        .await
        .unwrap();
    assert!(
        init.stdout
            .contains(&format!("Installed gitlabrunner/gitlabrunner v{version}")),
        "{}",
        init.stdout
    );
    assert!(
        !init.stdout.contains("development overrides"),
        "{}",
        init.stdout
    );
    let lock = std::fs::read_to_string(ws.dir().join(".terraform.lock.hcl")).unwrap();
    let hashes = locked_hashes(&lock, &version);
    assert!(
        hashes.contains(&expected_h1),
        "lock file hashes {hashes:?} lack the package's {expected_h1}"
    );
    for hash in &hashes {
        match hash.split_once(':') {
            Some(("h1", _)) => assert_eq!(hash, &expected_h1, "{lock}"),
            Some(("zh", sha)) => assert_eq!(sha, zip_sha, "{lock}"),
            _ => unreachable!(),
        }
    }
    say!("release: lock file hashes {hashes:?} (zh: of the zip {zip_sha})");

    // The installed provider plans.
    let plan = ws.plan().await.unwrap();
    let change = plan
        .change("gitlabrunner_irsa_binding.probe")
        .unwrap_or_else(|| panic!("{}", plan.summary()));
    assert!(!change.is_unknown_after("role_arn"));

    // The packed layout (the zip itself, as `terraform providers mirror` lays it out) is
    // accepted under the same lock file: Terraform checks the zip's contents against h1.
    let packed = scratch.path().join("packed");
    let packed_zip = packed
        .join(PROVIDER_ADDRESS)
        .join(format!("{prefix}_{OS_ARCH}.zip"));
    std::fs::create_dir_all(packed_zip.parent().unwrap()).unwrap();
    std::fs::hard_link(&zip, &packed_zip)
        .or_else(|_| std::fs::copy(&zip, &packed_zip).map(|_| ()))
        .unwrap();
    let packed_config = scratch.path().join("packed.tfrc");
    mirror_cli_config(&packed_config, &packed);
    let packed_ws = mirror_workspace(&h, &packed_config, &version, &oidc.arn);
    packed_ws.write(".terraform.lock.hcl", &lock).unwrap();
    packed_ws
        .run_ok(&["init", "-input=false", "-no-color"])
        .await
        .unwrap();

    // A package that is not the released one is refused under that lock file.
    let tampered = scratch.path().join("tampered");
    let tampered_zip = tampered
        .join(PROVIDER_ADDRESS)
        .join(format!("{prefix}_{OS_ARCH}.zip"));
    std::fs::create_dir_all(tampered_zip.parent().unwrap()).unwrap();
    python(
        "import sys, zipfile\n\
         with zipfile.ZipFile(sys.argv[1], 'w') as z:\n    z.writestr(sys.argv[2], '#!/bin/sh\\nexit 1\\n')",
        &[&tampered_zip.display().to_string(), &entry],
    )
    .await;
    let tampered_config = scratch.path().join("tampered.tfrc");
    mirror_cli_config(&tampered_config, &tampered);
    let tampered_ws = mirror_workspace(&h, &tampered_config, &version, &oidc.arn);
    tampered_ws.write(".terraform.lock.hcl", &lock).unwrap();
    let refused = tampered_ws
        .run(&["init", "-input=false", "-no-color"])
        .await
        .unwrap();
    assert!(
        !refused.success(),
        "init accepted a package the lock file does not match"
    );
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        said.contains("checksum"),
        "init failed, but not over the checksum:\n{said}"
    );
}
