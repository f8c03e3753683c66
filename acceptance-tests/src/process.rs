//! Long-lived helper processes (the AWS emulators) that never outlive the test process.
//!
//! Each process runs in its own process group, watched by a tiny `sh` watchdog (in a group of
//! its own, so a terminal's Ctrl-C cannot kill it first). The watchdog's stdin is a pipe from
//! the test process: when the test process closes it (drop), exits, panics, aborts or is
//! killed, the watchdog sees end-of-file and stops the whole group (TERM, then KILL after two
//! seconds). Statics are never dropped at exit, so this is what stops the emulators shared by
//! all tests of one process.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt as _;

/// Why a helper process could not be started or did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program does not exist; usually an install script was not run.
    #[error("{program} does not exist; {hint}")]
    NotInstalled {
        /// The missing program.
        program: PathBuf,
        /// How to install it.
        hint: String,
    },
    /// The log file could not be created.
    #[error("could not create the log file {path}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The process could not be spawned.
    #[error("could not start {name}")]
    Spawn {
        /// The process name.
        name: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The process exited before it was ready.
    #[error("{name} exited before it was ready ({status}); last lines of {log}:\n{tail}")]
    ExitedEarly {
        /// The process name.
        name: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// The process did not become ready in time.
    #[error("{name} was not ready after {waited:?}; last lines of {log}:\n{tail}")]
    NotReady {
        /// The process name.
        name: String,
        /// How long the harness waited.
        waited: Duration,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
}

/// `$1` is the process group to stop once stdin reaches end-of-file; `$2`, when not empty, a
/// folder to remove after it stopped.
const WATCHDOG: &str = r#"trap '' INT TERM
cat >/dev/null
kill -s TERM -- "-$1" 2>/dev/null
i=0
while kill -s 0 -- "-$1" 2>/dev/null && [ "$i" -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
kill -s KILL -- "-$1" 2>/dev/null
[ -n "$2" ] && rm -rf -- "$2"
exit 0
"#;

/// Removes `path` when the test process ends, however it ends: for scratch folders held by
/// process-wide statics, which are never dropped.
pub fn remove_at_exit(path: &Path) -> Result<(), ProcessError> {
    static LIFELINES: std::sync::Mutex<Vec<ChildStdin>> = std::sync::Mutex::new(Vec::new());
    let mut remover = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' INT TERM; cat >/dev/null; rm -rf -- "$1""#)
        .arg("remover")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|source| ProcessError::Spawn {
            name: "remover".to_string(),
            source,
        })?;
    if let Some(lifeline) = remover.stdin.take() {
        LIFELINES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(lifeline);
    }
    Ok(())
}

/// A helper process that is stopped when this value is dropped or the test process ends.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    watchdog: Child,
    lifeline: Option<ChildStdin>,
    log: PathBuf,
}

impl ManagedProcess {
    /// Starts `program args...` with `env` added, its stdout and stderr written to `log`.
    /// `scratch`, when given, is removed once the process has stopped at the end of the test
    /// process (a value that is dropped removes its own scratch).
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        log: &Path,
        scratch: Option<&Path>,
    ) -> Result<Self, ProcessError> {
        let log_error = |source| ProcessError::Log {
            path: log.to_path_buf(),
            source,
        };
        let spawn_error = |source| ProcessError::Spawn {
            name: name.to_string(),
            source,
        };
        let log_file = File::create(log).map_err(log_error)?;
        let log_err = log_file.try_clone().map_err(log_error)?;
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(spawn_error)?;
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .arg(child.id().to_string())
            .arg(scratch.map(Path::as_os_str).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let mut watchdog = match watchdog {
            Ok(watchdog) => watchdog,
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(spawn_error(source));
            }
        };
        let lifeline = watchdog.stdin.take();
        Ok(Self {
            name: name.to_string(),
            child,
            watchdog,
            lifeline,
            log: log.to_path_buf(),
        })
    }

    /// The process name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The file holding the process's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the process's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.log, lines)
    }

    /// Polls `probe` every 50 ms until it answers true, the process exits, or `timeout` passes.
    pub async fn wait_ready<F, Fut>(
        &mut self,
        timeout: Duration,
        mut probe: F,
    ) -> Result<(), ProcessError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ProcessError::ExitedEarly {
                    name: self.name.clone(),
                    status: status.to_string(),
                    log: self.log.clone(),
                    tail: self.log_tail(30),
                });
            }
            if probe().await {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(ProcessError::NotReady {
                    name: self.name.clone(),
                    waited: started.elapsed(),
                    log: self.log.clone(),
                    tail: self.log_tail(30),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the process group (through the watchdog) and waits up to three seconds for it.
    pub fn stop(&mut self) {
        if self.lifeline.take().is_none() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The watchdog exits once the group is gone; reap it if it already has.
        let _ = self.watchdog.try_wait();
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines of the file at `path` (reads at most the last 64 KiB).
pub fn tail_of_file(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut text = String::new();
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    text.push_str(&String::from_utf8_lossy(&bytes));
    tail_of_text(&text, lines)
}

/// The last `lines` lines of `text`.
pub fn tail_of_text(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_the_handle_stops_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > {}; exec sleep 60", pid_file.display());
        let mut process = ManagedProcess::spawn(
            "sleeper",
            Path::new("sh"),
            &["-c", &script],
            &[],
            &dir.path().join("log"),
            None,
        )
        .unwrap();
        process
            .wait_ready(Duration::from_secs(5), || {
                let written = std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'));
                async move { written }
            })
            .await
            .unwrap();
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_string();
        assert!(process_exists(&pid), "the child runs before the drop");
        drop(process);
        assert!(
            !process_exists(&pid),
            "the child {pid} still runs after the drop"
        );
    }

    #[tokio::test]
    async fn early_exit_reports_the_status_and_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut process = ManagedProcess::spawn(
            "failing",
            Path::new("sh"),
            &["-c", "echo broken-config >&2; exit 3"],
            &[],
            &dir.path().join("log"),
            None,
        )
        .unwrap();
        let err = process
            .wait_ready(Duration::from_secs(5), || async { false })
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessError::ExitedEarly { .. }), "{err}");
        assert!(err.to_string().contains("broken-config"), "{err}");
    }

    #[tokio::test]
    async fn the_group_is_stopped_when_the_lifeline_closes_without_a_drop() {
        // What happens when the test process dies: its end of the pipe closes, nothing else.
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let mut process = ManagedProcess::spawn(
            "grandparent",
            Path::new("sh"),
            &["-c", &script],
            &[],
            &dir.path().join("log"),
            None,
        )
        .unwrap();
        process
            .wait_ready(Duration::from_secs(5), || {
                let written = std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'));
                async move { written }
            })
            .await
            .unwrap();
        let grandchild = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_string();
        drop(process.lifeline.take());
        std::mem::forget(process);
        let deadline = Instant::now() + Duration::from_secs(5);
        while process_exists(&grandchild) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !process_exists(&grandchild),
            "{grandchild} outlived the lifeline"
        );
    }

    /// Whether `pid` is alive: its `/proc/PID/stat` exists and its state is not zombie (`Z`) or dead
    /// (`X`). The cmdline is no test: it reads empty for a moment while the shell execs `sleep`
    /// (proc(5): "/proc/pid/stat", field 3).
    fn process_exists(pid: &str) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // The command name in field 2 is in parentheses and may hold spaces; the state follows it.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        !matches!(state, None | Some("Z") | Some("X"))
    }
}
