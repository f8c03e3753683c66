//! The machine and software a benchmark ran on, for the report.

use std::process::Command;

/// `/proc/loadavg`'s 1, 5 and 15 minute load averages (what `uptime` prints), e.g.
/// `3.91, 4.20, 4.69`.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    match fields.len() {
        3 => fields.join(", "),
        _ => "unknown".into(),
    }
}

/// One `name: value` line each; `load_at_start` is [`load_average`] before the run (the
/// machine may be shared, and the figures move with its load).
pub fn describe(load_at_start: &str) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    let rustc = output("rustc", &["--version"]);
    vec![
        ("CPU".into(), cpu),
        ("Cores".into(), cores.to_string()),
        ("Memory".into(), memory),
        ("Kernel".into(), format!("Linux {kernel}")),
        ("OS".into(), os),
        ("Rust".into(), rustc),
        (
            "Load average (1, 5, 15 min)".into(),
            format!(
                "{load_at_start} at the start of the run, {} at its end",
                load_average()
            ),
        ),
    ]
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
