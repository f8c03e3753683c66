//! The unix socket Terraform connects to, and the stream of (optionally TLS-wrapped)
//! connections tonic serves.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A listening socket that is removed when dropped.
pub struct Socket {
    listener: Option<UnixListener>,
    path: PathBuf,
}

impl Socket {
    /// Listens on a fresh socket named like go-plugin's (`pluginNNNN`) in `dir`, or in the
    /// system temporary directory.
    pub fn bind(dir: Option<&Path>) -> io::Result<Self> {
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut attempt = 0;
        loop {
            let path = dir.join(format!("plugin{}", unique_suffix(attempt)));
            match UnixListener::bind(&path) {
                Ok(listener) => {
                    return Ok(Self {
                        listener: Some(listener),
                        path,
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::AddrInUse && attempt < 8 => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts connections until `shutdown`, wraps each with `wrap` (e.g. a TLS handshake) on
    /// its own task, and yields the ones that succeed.
    pub fn incoming<IO, F, Fut>(
        &mut self,
        wrap: F,
        shutdown: CancellationToken,
    ) -> ReceiverStream<io::Result<IO>>
    where
        IO: Send + 'static,
        F: Fn(UnixStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<IO>> + Send + 'static,
    {
        let listener = self.listener.take().expect("incoming() is called once");
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    () = shutdown.cancelled() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            tracing::warn!(%error, "accepting a connection failed");
                            continue;
                        }
                    },
                };
                let handshake = wrap(stream);
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(io)) => {
                            let _ = tx.send(Ok(io)).await;
                        }
                        Ok(Err(error)) => tracing::warn!(%error, "connection refused"),
                        Err(_) => tracing::warn!("connection refused: handshake timed out"),
                    }
                });
            }
        });
        ReceiverStream::new(rx)
    }
}

fn unique_suffix(attempt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}{:09}{attempt}", std::process::id(), nanos)
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
