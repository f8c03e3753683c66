//! The `kube-emulator serve` binary: files, ready line, serving, clean stop on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Client;

fn wait_for_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[tokio::test]
async fn serve_writes_its_files_prints_one_ready_line_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-emulator"))
        .args(["serve", "--dir"])
        .arg(dir.path())
        .args(["--issuer", "https://oidc.example.test/cluster"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        line
    })
    .await
    .expect("join");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
    assert_eq!(ready["pid"].as_u64(), Some(u64::from(child.id())));
    let url = ready["url"].as_str().expect("url");
    assert!(url.starts_with("https://127.0.0.1:"));
    let kubeconfig = std::fs::read_to_string(dir.path().join("kubeconfig")).expect("kubeconfig");
    assert!(kubeconfig.contains(url));
    let tokens = std::fs::read_to_string(dir.path().join("tokens.csv")).expect("tokens.csv");
    let admin_token = tokens.split(',').next().expect("token");
    assert_eq!(ready["admin_token"].as_str(), Some(admin_token));
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).expect("ca.crt");

    let client = Client::new(url, &ca);
    let version = client.get("/version", admin_token).await.expect("version");
    assert_eq!(version.status, 200);
    let discovery = client
        .get("/.well-known/openid-configuration", admin_token)
        .await
        .expect("oidc");
    assert_eq!(
        discovery.json()["issuer"],
        "https://oidc.example.test/cluster"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = wait_for_exit(&mut child, Duration::from_secs(10)).expect("exits after SIGTERM");
    assert!(exit.success(), "clean exit, got {exit:?}");
}

#[test]
fn serve_without_a_directory_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_kube-emulator"))
        .arg("serve")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dir is required"));
}
