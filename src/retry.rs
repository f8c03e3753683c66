//! Bounded retries with exponential backoff, for the failures the SDKs do not retry themselves:
//! IAM eventual consistency ("Invalid principal in policy" right after an OIDC provider or role
//! appears), a freshly created ServiceAccount not yet visible, STS refusing a token until IAM
//! has propagated a trust policy. Never unbounded: a deadline ends every loop, and
//! `StopProvider` ends it at once.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long and how often to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest single wait.
    pub max: Duration,
    /// No attempt starts after this much time has passed since the first.
    pub deadline: Duration,
}

impl Backoff {
    /// Waits for IAM eventual consistency: 0.5 s doubling to 5 s, for up to 2 minutes (AWS
    /// documents propagation "usually within seconds"; terraform-provider-aws waits 2 minutes).
    pub const IAM_PROPAGATION: Backoff = Backoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(5),
        deadline: Duration::from_secs(120),
    };

    /// A backoff that waits `initial`, doubling up to `max`, until `deadline` has passed.
    pub const fn new(initial: Duration, max: Duration, deadline: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            deadline,
        }
    }
}

/// Why [`retry`] gave up.
#[derive(Debug, PartialEq, Eq)]
pub enum RetryError<E> {
    /// The last attempt's error: not retryable, or the deadline passed.
    Failed(E),
    /// `StopProvider` arrived while waiting.
    Cancelled,
}

/// Calls `attempt` until it succeeds, fails with an error `retryable` rejects, the deadline
/// passes, or `cancel` fires. `retryable` may return a wait the server asked for (e.g.
/// `Retry-After`), which replaces the backoff step when it is longer.
pub async fn retry<T, E, F, Fut>(
    backoff: Backoff,
    cancel: &CancellationToken,
    mut attempt: F,
    retryable: impl Fn(&E) -> Option<Option<Duration>>,
) -> Result<T, RetryError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut wait = backoff.initial;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let Some(asked) = retryable(&error) else {
            return Err(RetryError::Failed(error));
        };
        // `wait` never exceeds `backoff.max`; a wait the server asked for is honoured as is.
        let pause = asked.map_or(wait, |asked| asked.max(wait));
        if started.elapsed() + pause > backoff.deadline {
            return Err(RetryError::Failed(error));
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = cancel.cancelled() => return Err(RetryError::Cancelled),
        }
        wait = (wait * 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const FAST: Backoff = Backoff::new(
        Duration::from_millis(1),
        Duration::from_millis(4),
        Duration::from_millis(500),
    );

    #[tokio::test]
    async fn retries_until_success() {
        let calls = AtomicU32::new(0);
        let result: Result<u32, RetryError<&str>> = retry(
            FAST,
            &CancellationToken::new(),
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 3 { Err("not yet") } else { Ok(n) }
            },
            |_| Some(None),
        )
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn stops_at_a_permanent_error() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry(
            FAST,
            &CancellationToken::new(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("permanent")
            },
            |_| None,
        )
        .await;
        assert_eq!(result, Err(RetryError::Failed("permanent")));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline() {
        let backoff = Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(5),
            Duration::from_millis(30),
        );
        let started = std::time::Instant::now();
        let result: Result<(), _> = retry(
            backoff,
            &CancellationToken::new(),
            || async { Err("again") },
            |_| Some(None),
        )
        .await;
        assert_eq!(result, Err(RetryError::Failed("again")));
        // Without the deadline it would retry forever; the bound only has to be finite on a loaded machine.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn cancellation_ends_the_wait() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let slow = Backoff::new(
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(600),
        );
        let result: Result<(), _> =
            retry(slow, &cancel, || async { Err("again") }, |_| Some(None)).await;
        assert_eq!(result, Err(RetryError::Cancelled));
    }

    #[tokio::test]
    async fn honours_a_longer_server_requested_wait() {
        let started = std::time::Instant::now();
        let calls = AtomicU32::new(0);
        let _: Result<(), RetryError<&str>> = retry(
            FAST,
            &CancellationToken::new(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err("429")
                } else {
                    Ok(())
                }
            },
            |_| Some(Some(Duration::from_millis(50))),
        )
        .await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
