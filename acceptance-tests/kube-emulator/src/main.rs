//! `kube-emulator serve --dir DIR [--bind ADDR] [--issuer URL] [--latency-ms N]
//! [--signing-key PEM] [--token-auth-file CSV] [--admin-token TOKEN]`
//!
//! Writes `DIR/kubeconfig`, `DIR/ca.crt` and `DIR/tokens.csv`, prints one JSON line when
//! ready, serves until SIGTERM or SIGINT and exits 0.

use std::path::PathBuf;
use std::process::ExitCode;

use kube_emulator::authn::token_file;
use kube_emulator::{Emulator, EmulatorConfig, Latency};

const USAGE: &str = "usage: kube-emulator serve --dir DIR [--bind ADDR] [--issuer URL] [--latency-ms N] \
[--signing-key PEM_FILE] [--token-auth-file CSV_FILE] [--admin-token TOKEN]";

struct Args {
    dir: PathBuf,
    config: EmulatorConfig,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    if args.next().as_deref() != Some("serve") {
        return Err(USAGE.into());
    }
    let mut dir = None;
    let mut config = EmulatorConfig::default();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--bind" => config.bind = value()?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--issuer" => config.issuer = value()?,
            "--latency-ms" => {
                let ms: u64 = value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?;
                config.latency = Latency::fixed(ms);
            }
            "--signing-key" => {
                let path = value()?;
                config.signing_key_pem = Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("--signing-key {path}: {e}"))?,
                );
            }
            "--token-auth-file" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--token-auth-file {path}: {e}"))?;
                config.static_tokens =
                    token_file::parse(&text).map_err(|e| format!("{path}: {e}"))?;
            }
            "--admin-token" => config.admin_token = Some(value()?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    let dir = dir.ok_or_else(|| format!("--dir is required\n{USAGE}"))?;
    Ok(Args { dir, config })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn run(args: Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let emulator = Emulator::start(args.config)
        .await
        .map_err(|e| e.to_string())?;
    let kubeconfig = args.dir.join("kubeconfig");
    let ca = args.dir.join("ca.crt");
    let tokens = args.dir.join("tokens.csv");
    emulator
        .write_kubeconfig(&kubeconfig)
        .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    std::fs::write(&ca, emulator.ca_pem()).map_err(|e| format!("{}: {e}", ca.display()))?;
    std::fs::write(&tokens, token_file::render(&emulator.static_tokens()))
        .map_err(|e| format!("{}: {e}", tokens.display()))?;
    let ready = serde_json::json!({
        "url": emulator.url(),
        "kubeconfig": kubeconfig,
        "ca": ca,
        "tokens": tokens,
        "admin_token": emulator.admin_token(),
        "issuer": emulator.issuer(),
        "pid": std::process::id(),
    });
    println!("{ready}");
    wait_for_signal().await;
    emulator.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kube-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
