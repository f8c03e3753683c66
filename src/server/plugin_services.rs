//! go-plugin's own services: `GRPCController` (Shutdown) and `GRPCStdio`.

use std::pin::Pin;

use futures::{Stream, StreamExt as _};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::proto::plugin::grpc_controller_server::GrpcController;
use crate::proto::plugin::grpc_stdio_server::GrpcStdio;
use crate::proto::plugin::{Empty, StdioData};

/// `plugin.GRPCController`: Terraform's request to exit.
pub struct Controller {
    shutdown: CancellationToken,
}

impl Controller {
    /// A controller that cancels `shutdown` when asked to stop.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by Terraform");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: the provider never writes to stdout after the handshake, so the stream
/// carries nothing; it stays open until shutdown, as go-plugin expects of a live plugin.
pub struct Stdio {
    shutdown: CancellationToken,
}

impl Stdio {
    /// A stdio service whose stream ends at `shutdown`.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

type StdioStream = Pin<Box<dyn Stream<Item = Result<StdioData, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(&self, _request: Request<()>) -> Result<Response<StdioStream>, Status> {
        let shutdown = self.shutdown.clone();
        let stream = futures::stream::once(async move { shutdown.cancelled_owned().await })
            .filter_map(|()| async { None });
        Ok(Response::new(Box::pin(stream)))
    }
}
