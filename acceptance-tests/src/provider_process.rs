//! The provider processes Terraform started for one workspace, found through `/proc`: to kill
//! one mid-apply (SIGKILL, as a crash or an OOM kill would) or to watch its peak memory.
//!
//! Terraform starts plugins in its own working directory, so a provider process belongs to
//! the workspace whose folder is its `cwd`.

use std::path::Path;
use std::time::Duration;

/// `/proc/PID/comm` of the provider: the first 15 bytes of
/// [`crate::provider_build::PROVIDER_BINARY`].
const COMM_PREFIX: &str = "terraform-provi";

/// The provider processes running in `workspace_dir` now.
pub fn provider_pids(workspace_dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let wanted = std::fs::canonicalize(workspace_dir).unwrap_or_else(|_| workspace_dir.into());
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let proc_dir = Path::new("/proc").join(pid.to_string());
            let comm = std::fs::read_to_string(proc_dir.join("comm")).unwrap_or_default();
            comm.trim_end() == COMM_PREFIX
                && std::fs::read_link(proc_dir.join("cwd")).ok().as_deref() == Some(&wanted)
        })
        .collect()
}

/// Sends SIGKILL to `pid`; whether the signal was delivered.
pub fn kill(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .is_ok_and(|status| status.success())
}

/// The peak resident set size of `pid` so far (`VmHWM`), in KiB; `None` once it exited.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Waits up to `limit` for a provider process in `workspace_dir`, polling every 10 ms.
pub async fn wait_for_provider(workspace_dir: &Path, limit: Duration) -> Option<u32> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(pid) = provider_pids(workspace_dir).into_iter().next() {
            return Some(pid);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
