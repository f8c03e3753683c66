//! Independent API calls run concurrently; in serial mode (for benchmarks and debugging) they
//! run one after another, so the speed-up of the concurrent mode can be measured side by side.
//!
//! Serial mode is switched on by the environment variable [`SERIAL_ENV`] (`1` or `true`).

use std::future::Future;

/// The environment variable that switches serial mode on.
pub const SERIAL_ENV: &str = "GITLABRUNNER_SERIAL_API_CALLS";

/// How independent steps are run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fanout {
    /// All at once (the default).
    #[default]
    Concurrent,
    /// One after another, in the order given.
    Serial,
}

impl Fanout {
    /// The mode [`SERIAL_ENV`] asks for.
    pub fn from_env() -> Fanout {
        match std::env::var(SERIAL_ENV).as_deref() {
            Ok("1" | "true") => Fanout::Serial,
            _ => Fanout::Concurrent,
        }
    }

    /// Runs every future and returns their outputs in order.
    pub async fn all<F: Future>(self, futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
        match self {
            Fanout::Concurrent => futures::future::join_all(futures).await,
            Fanout::Serial => {
                let mut outputs = Vec::new();
                for future in futures {
                    outputs.push(future.await);
                }
                outputs
            }
        }
    }

    /// Runs two futures of different types and returns both outputs.
    pub async fn both<A: Future, B: Future>(self, a: A, b: B) -> (A::Output, B::Output) {
        match self {
            Fanout::Concurrent => futures::future::join(a, b).await,
            Fanout::Serial => {
                let a = a.await;
                (a, b.await)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test]
    async fn serial_mode_runs_in_order_and_concurrent_mode_overlaps() {
        for (mode, expected) in [
            (Fanout::Serial, vec![1, 2]),
            (Fanout::Concurrent, vec![2, 1]),
        ] {
            let order = Mutex::new(Vec::new());
            let step = |n: u32, ms: u64| {
                let order = &order;
                async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    order.lock().unwrap().push(n);
                    n
                }
            };
            let outputs = mode.all([step(1, 30), step(2, 1)]).await;
            assert_eq!(outputs, vec![1, 2]);
            assert_eq!(*order.lock().unwrap(), expected, "{mode:?}");
        }
    }
}
