//! Measures how fast an emulator is ready: `Emulator::start` returning, and the first HTTPS
//! request (`GET /healthz`, verified TLS) answering 200. Prints min/median/max over 20 runs.
//!
//! `cargo run -p kube-emulator --example startup_time [--release]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use kube_emulator::{Emulator, EmulatorConfig};

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "min {:.1} ms, median {:.1} ms, max {:.1} ms",
        v[0].as_secs_f64() * 1e3,
        v[v.len() / 2].as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut started = Vec::new();
    let mut ready = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let emulator = Emulator::start(EmulatorConfig::default())
            .await
            .expect("start");
        started.push(t0.elapsed());
        let client = common::Client::new(emulator.url(), emulator.ca_pem());
        let resp = client
            .get("/healthz", emulator.admin_token())
            .await
            .expect("healthz");
        assert_eq!(resp.status, 200);
        ready.push(t0.elapsed());
        emulator.shutdown().await;
    }
    println!("Emulator::start returned:      {}", stats(started));
    println!("first GET /healthz answered:   {}", stats(ready));
}
