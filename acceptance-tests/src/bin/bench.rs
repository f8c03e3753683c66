//! `bench [--latency-ms N] [--bindings N] [--repeat N] [--starts N] [--out FILE] [--timeline DIR]`: runs the
//! benchmarks against the emulators (the acceptance harness: `TF_ACC=1`, and
//! `TF_ACC_PROFILE=release` for the numbers that count), prints the table and writes the
//! report. `acceptance-tests/scripts/bench.sh` sets everything up.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use gitlabrunner_acceptance::bench::{self, Options};
use gitlabrunner_acceptance::{Harness, error_chain};

struct Args {
    options: Options,
    out: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        options: Options {
            latency: Duration::from_millis(50),
            bindings: 100,
            repeat: 5,
            starts: 21,
            timeline: None,
        },
        out: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{flag}: {text:?} is not a number"))
        };
        match flag.as_str() {
            "--latency-ms" => parsed.options.latency = Duration::from_millis(number(value()?)?),
            "--bindings" => parsed.options.bindings = number(value()?)? as usize,
            "--repeat" => parsed.options.repeat = number(value()?)?.max(1) as usize,
            "--starts" => parsed.options.starts = number(value()?)?.max(1) as usize,
            "--out" => parsed.out = Some(PathBuf::from(value()?)),
            "--timeline" => parsed.options.timeline = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("bench: {message}");
            return ExitCode::from(2);
        }
    };
    let harness = match Harness::shared().await {
        Ok(harness) => harness,
        Err(error) => {
            eprintln!("bench: {}", error_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    if harness.provider().profile != "release" {
        eprintln!(
            "bench: the provider is a {} build; set TF_ACC_PROFILE=release for figures that count",
            harness.provider().profile
        );
    }
    let load_at_start = bench::machine::load_average();
    let results = match bench::run(&harness, args.options).await {
        Ok(results) => results,
        Err(error) => {
            eprintln!("bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", bench::report::table(&results));
    println!(
        "load average (1, 5, 15 min): {load_at_start} at the start, {} at the end",
        bench::machine::load_average()
    );
    if let Some(out) = args.out {
        let software = vec![
            (
                "Terraform".to_string(),
                format!("v{}", harness.terraform().version()),
            ),
            (
                "Provider".to_string(),
                format!(
                    "{} ({} build)",
                    harness
                        .provider()
                        .binary
                        .file_name()
                        .map_or_else(String::new, |name| name.to_string_lossy().into_owned()),
                    harness.provider().profile
                ),
            ),
            ("AWS".to_string(), harness.aws().describe()),
            (
                "Kubernetes".to_string(),
                match harness.kubernetes() {
                    Ok(target) if target.is_real_cluster() => {
                        format!("{}, through the Kubernetes proxy", target.describe())
                    }
                    _ => "kube-emulator (in the benchmark process), through the Kubernetes proxy"
                        .to_string(),
                },
            ),
        ];
        let doc = bench::report::markdown(
            &results,
            &bench::machine::describe(&load_at_start),
            &software,
        );
        if let Err(error) = std::fs::write(&out, doc) {
            eprintln!("bench: writing {}: {error}", out.display());
            return ExitCode::FAILURE;
        }
        eprintln!("bench: wrote {}", out.display());
    }
    ExitCode::SUCCESS
}
