//! What the README promises a new user about the scripts under `acceptance-tests/scripts/`
//! agrees with what the scripts do (plain `cargo test`, no tools needed).

use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `(3, N)` minor version of the first `sys.version_info >= (3, N)` check after `marker`.
fn checked_python_minor(script: &str, marker: &str) -> u32 {
    let from = script.find(marker).expect("the marker is in the script");
    let check = &script[from..];
    let at = check
        .find("sys.version_info >= (3, ")
        .expect("a Python version check");
    let rest = &check[at + "sys.version_info >= (3, ".len()..];
    rest[..rest.find(')').unwrap()].trim().parse().unwrap()
}

#[test]
fn readme_and_install_tools_require_the_same_python() {
    let readme = read("README.md");
    let install = read("acceptance-tests/scripts/install-tools.sh");
    let at = readme
        .find("Python 3.")
        .expect("the README names the Python it needs");
    let stated: u32 = readme[at + "Python 3.".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap();
    let checked = checked_python_minor(&install, "system_python() {");
    assert_eq!(
        stated, checked,
        "README.md says Python 3.{stated}+, install-tools.sh checks for 3.{checked}"
    );
    // release.sh reads Cargo.toml with tomllib, which Python 3.11 added.
    if read("acceptance-tests/scripts/release.sh").contains("tomllib") {
        assert!(checked >= 11, "release.sh needs tomllib (Python 3.11)");
    }
}

#[test]
fn readme_says_what_the_quick_start_does() {
    let readme = read("README.md");
    assert!(
        !readme.to_lowercase().contains("the main job"),
        "\"the main job\" does not say what it does"
    );
    assert!(readme.contains("quickstart.sh   # build the provider, start AWS and Kubernetes"));
}

/// The `cargo build` command lines of a script.
fn cargo_builds(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("cargo build"))
        .map(String::from)
        .collect()
}

#[test]
fn the_quick_start_builds_the_provider_alone_as_release_sh_does() {
    let quickstart = read("acceptance-tests/scripts/quickstart.sh");
    let release = read("acceptance-tests/scripts/release.sh");
    // Built together, the provider and the emulator would share one feature set (the union of
    // both); release.sh builds the provider alone and would compile those crates again.
    assert_eq!(
        cargo_builds(&quickstart),
        [
            "cargo build --profile \"$profile\" -p terraform-provider-gitlabrunner --bin terraform-provider-gitlabrunner",
            "cargo build --profile \"$profile\" -p kube-emulator --bin kube-emulator",
        ]
    );
    assert_eq!(
        cargo_builds(&release),
        ["cargo build --release --locked -p \"$name\" --bin \"$name\""]
    );
    assert!(release.contains("name=\"terraform-provider-gitlabrunner\""));
}

#[test]
fn the_quick_start_builds_no_test_crate() {
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "-p",
            "terraform-provider-gitlabrunner",
            "-p",
            "kube-emulator",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    assert!(tree.contains("kube-emulator v"), "{tree}");
    for test_crate in ["gitlabrunner-acceptance", "proptest"] {
        assert!(
            !tree
                .lines()
                .any(|l| l.starts_with(&format!("{test_crate} v"))),
            "the quick start's build pulls in {test_crate}"
        );
    }
}
