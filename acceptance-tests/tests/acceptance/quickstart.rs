//! `acceptance-tests/scripts/quickstart.sh` as a new user runs it: `--keep` applies
//! examples/complete, prints a short report (the plan's summary and what it produced, the rest
//! in the workspace log) and leaves AWS and Kubernetes running; a configuration of the user's
//! own, written with the printed export lines and provider block, plans and applies against
//! them; `--stop WORKSPACE` stops them by the PIDs it recorded.
//!
//! The script runs with `QUICKSTART_BIN_DIR` set to the binaries `cargo test --workspace`
//! already built (the provider and `kube-emulator`), so it starts its own moto and emulator
//! without running cargo.

use std::path::PathBuf;
use std::time::Duration;

use gitlabrunner_acceptance::{harness, say, unique_name};

/// Stops a kept playground when the test ends early, so that no emulator outlives it.
struct Playground {
    script: PathBuf,
    work: Option<PathBuf>,
}

impl Drop for Playground {
    fn drop(&mut self) {
        if let Some(work) = &self.work
            && work.join("pids").exists()
        {
            let _ = std::process::Command::new("bash")
                .arg(&self.script)
                .arg("--stop")
                .arg(work)
                .output();
        }
    }
}

/// Whether `pid` is a process that has not exited (zombies count as exited).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.split(' ').next()?.to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

async fn run(command: &mut tokio::process::Command, what: &str) -> (String, String) {
    let output = tokio::time::timeout(Duration::from_secs(600), command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in 600 s"))
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    (stdout, stderr)
}

/// The lines after `first` that are indented by two spaces, without the indent, up to the
/// first line that is not.
fn indented_after<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|line| !line.starts_with(first))
        .skip(1)
        .skip_while(|line| line.is_empty())
        .take_while(|line| line.starts_with("  "))
        .map(|line| &line[2..])
        .collect()
}

#[tokio::test]
async fn quickstart_keep_leaves_a_playground_for_a_configuration_of_ones_own() {
    let Some(h) =
        harness("quickstart_keep_leaves_a_playground_for_a_configuration_of_ones_own").await
    else {
        return;
    };
    let root = &h.settings().repo_root;
    let script = root.join("acceptance-tests/scripts/quickstart.sh");
    let bin_dir = h.provider().binary.parent().unwrap().to_path_buf();
    assert!(
        bin_dir.join("kube-emulator").is_file(),
        "{} has no kube-emulator: cargo test --workspace builds it for its tests",
        bin_dir.display()
    );
    let scratch = tempfile::Builder::new()
        .prefix("tf-acc-quickstart-")
        .tempdir()
        .unwrap();
    let mut playground = Playground {
        script: script.clone(),
        work: None,
    };

    let started = std::time::Instant::now();
    let (stdout, _) = run(
        tokio::process::Command::new("bash")
            .arg(&script)
            .arg("--keep")
            .env("QUICKSTART_DETECT", "0")
            // The emulator (the playground's PIDs are what this test checks), even where Go
            // and etcd would let the quick start build a real control plane.
            .env("QUICKSTART_REAL_KUBE", "0")
            .env("QUICKSTART_BIN_DIR", &bin_dir)
            .env("TMPDIR", scratch.path())
            .current_dir(root),
        "quickstart.sh --keep",
    )
    .await;
    let stop_line = stdout
        .lines()
        .find(|line| line.trim_start().contains("quickstart.sh --stop "))
        .unwrap_or_else(|| panic!("no --stop command printed:\n{stdout}"));
    let work = PathBuf::from(stop_line.split("--stop ").nth(1).unwrap().trim());
    playground.work = Some(work.clone());
    say!(
        "quickstart: --keep printed {} lines in {:.1} s",
        stdout.lines().count(),
        started.elapsed().as_secs_f64()
    );

    // A short report: the plan's summary and what it produced, each once; the plan itself and
    // Terraform's outputs in the workspace log.
    // 153 lines here, most of them what it produced (it was 633 before the full plan and the
    // outputs went to the workspace log).
    assert!(
        stdout.lines().count() <= 160,
        "quickstart.sh printed {} lines:\n{stdout}",
        stdout.lines().count()
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("Plan: ") && l.contains(" to add, 0 to change, 0 to destroy.")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("Apply complete!")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("resource \"gitlabrunner_irsa_binding\""),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Outputs:"),
        "the outputs print once:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("\"Version\": \"2012-10-17\"").count(),
        1,
        "cache_policy once, as indented JSON:\n{stdout}"
    );
    assert!(!stdout.contains("\\\""), "escaped JSON:\n{stdout}");
    assert!(stdout.contains("second plan: no changes"), "{stdout}");
    let log = std::fs::read_to_string(work.join("terraform-output.log")).unwrap();
    assert!(
        log.contains("resource \"gitlabrunner_irsa_binding\" \"manager\""),
        "the full plan is in the workspace log"
    );

    // The emulators still run, by the PIDs recorded.
    let pids: Vec<u32> = std::fs::read_to_string(work.join("pids"))
        .unwrap()
        .lines()
        .map(|line| line.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "moto and the Kubernetes emulator");
    assert!(pids.iter().all(|pid| running(*pid)), "{pids:?}");

    // The user's own configuration, with the printed export lines and provider block.
    let exports: Vec<(String, String)> = indented_after(&stdout, "Try your own configuration")
        .into_iter()
        .map(|line| {
            let (name, value) = line
                .strip_prefix("export ")
                .unwrap_or_else(|| panic!("not an export line: {line}"))
                .split_once('=')
                .unwrap();
            (name.to_string(), value.trim_matches('"').to_string())
        })
        .collect();
    let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
    for needed in ["TF_CLI_CONFIG_FILE", "AWS_ENDPOINT_URL", "KUBECONFIG"] {
        assert!(names.contains(&needed), "{needed} in {names:?}");
    }
    let provider_block = indented_after(&stdout, "your own; the namespaces").join("\n");
    assert!(
        provider_block.contains("source = \"gitlabrunner/gitlabrunner\"")
            && provider_block.contains("provider \"gitlabrunner\" {")
            && provider_block.contains("oidc_provider_arn = \"arn:"),
        "{provider_block}"
    );
    let mine = scratch.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let service_account = unique_name("mine");
    std::fs::write(
        mine.join("main.tf"),
        format!(
            "{provider_block}\n\nresource \"gitlabrunner_irsa_binding\" \"mine\" {{\n  namespace            = \"gitlab-runner\"\n  service_account_name = \"{service_account}\"\n  grant {{\n    namespace = \"gitlab-jobs\"\n    preset    = \"kubernetes-executor\"\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let terraform = |args: &[&str]| {
        let mut command = tokio::process::Command::new(h.terraform().path());
        command
            .args(args)
            .current_dir(&mine)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", scratch.path())
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .envs(exports.iter().cloned());
        command
    };
    let (plan, _) = run(
        &mut terraform(&["plan", "-no-color", "-input=false", "-out=mine.tfplan"]),
        "terraform plan of my configuration",
    )
    .await;
    assert!(
        plan.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{plan}"
    );
    let (applied, _) = run(
        &mut terraform(&["apply", "-no-color", "-input=false", "mine.tfplan"]),
        "terraform apply of my configuration",
    )
    .await;
    assert!(
        applied.contains("Apply complete! Resources: 1 added"),
        "{applied}"
    );

    // --stop ends them.
    let (stopped, _) = run(
        tokio::process::Command::new("bash")
            .arg(&script)
            .arg("--stop")
            .arg(&work),
        "quickstart.sh --stop",
    )
    .await;
    for pid in &pids {
        assert!(stopped.contains(&format!("(pid {pid})")), "{stopped}");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while running(*pid) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!running(*pid), "pid {pid} still runs after --stop");
    }
    assert!(!work.join("pids").exists());
    drop(playground);
}
