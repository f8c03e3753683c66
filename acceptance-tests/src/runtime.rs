//! One background tokio runtime per test process for everything shared between tests.
//!
//! Each `#[tokio::test]` has its own runtime that ends with the test. Servers and clients that
//! outlive one test (the AWS proxy, the Kubernetes emulator, the harness's setup) run here
//! instead, so they keep working whichever test's runtime started them.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// The process-wide background runtime (two worker threads; never shut down).
pub fn shared_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("acceptance-background")
            .enable_all()
            .build()
            .expect("the background runtime starts")
    })
}

/// Runs `work` on the background runtime and waits for it from any runtime (or none).
pub async fn run_in_background<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match shared_runtime().spawn(work).await {
        Ok(output) => output,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}
