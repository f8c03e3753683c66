//! The go-plugin server: handshake, AutoMTLS, gRPC services.
//!
//! Terraform starts the provider with the go-plugin environment; the provider listens on a unix
//! socket, prints one handshake line on stdout and serves `tfplugin6.Provider`, the gRPC health
//! service and go-plugin's controller until Terraform asks it to shut down. Nothing else is ever
//! written to stdout; logs go to stderr (see [`logging`]).

pub mod convert;
mod handshake;
mod listener;
mod logging;
mod plugin_services;
mod provider_service;
mod tls;

use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::Router;

pub use handshake::{HandshakeError, NOT_A_COMMAND, PluginEnv, handshake_line, reattach_config};
pub use provider_service::ProviderService;
pub use tls::{ServerTls, TlsError};

use crate::error_chain::error_chain;
use crate::framework::ProviderServer;
use crate::proto::plugin::grpc_controller_server::GrpcControllerServer;
use crate::proto::plugin::grpc_stdio_server::GrpcStdioServer;
use crate::proto::tfplugin6::provider_server::ProviderServer as ProviderGrpcServer;
use listener::Socket;

/// Terraform accepts messages up to `MaxInt32`; terraform-plugin-go allows 256 MiB.
const MAX_MESSAGE_SIZE: usize = 256 << 20;
/// How long open connections may delay the exit once shutdown was requested (Terraform kills
/// the process after 2 s).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// How the process was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Started by Terraform with the go-plugin environment.
    Plugin,
    /// `--debug`: plaintext on a unix socket, attached with `TF_REATTACH_PROVIDERS`; runs until
    /// Ctrl-C.
    Debug,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The environment is not a go-plugin launch this provider can serve.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// AutoMTLS could not be set up.
    #[error("could not set up AutoMTLS")]
    Tls(#[from] TlsError),
    /// The async runtime could not start.
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The unix socket could not be created.
    #[error("could not listen on a unix socket")]
    Socket(#[source] std::io::Error),
    /// Signal handlers could not be installed.
    #[error("could not install signal handlers")]
    Signals(#[source] std::io::Error),
    /// The handshake line could not be written.
    #[error("could not write the handshake to stdout")]
    Stdout(#[source] std::io::Error),
    /// The gRPC server failed.
    #[error("the gRPC server failed")]
    Serve(#[source] tonic::transport::Error),
}

/// Runs the provider until Terraform (or, in debug mode, Ctrl-C) stops it.
pub fn run(mode: Mode) -> ExitCode {
    logging::init();
    let result = match mode {
        Mode::Plugin => PluginEnv::from_process()
            .map_err(ServerError::from)
            .and_then(|env| block_on(serve_plugin(env))),
        Mode::Debug => block_on(serve_debug()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServerError::Handshake(error)) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
        Err(error) => {
            tracing::error!(error = %error_chain(&error), "provider server failed");
            eprintln!("{}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn block_on(work: impl Future<Output = Result<(), ServerError>>) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let result = runtime.block_on(work);
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

type Serving = Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>>;

async fn serve_plugin(env: PluginEnv) -> Result<(), ServerError> {
    let shutdown = CancellationToken::new();
    let mut socket = Socket::bind(env.socket_dir.as_deref()).map_err(ServerError::Socket)?;
    let tls = env.client_cert.as_deref().map(ServerTls::new).transpose()?;
    let line = handshake_line(socket.path(), tls.as_ref().map(|t| t.certificate.as_ref()));
    let router = router(shutdown.clone()).await;
    let serving: Serving = match tls {
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
            let incoming = socket.incoming(move |stream| acceptor.accept(stream), shutdown.clone());
            Box::pin(
                router.serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned()),
            )
        }
        None => {
            tracing::warn!("AutoMTLS is off (TF_DISABLE_PLUGIN_TLS or no PLUGIN_CLIENT_CERT)");
            let incoming = socket.incoming(|stream| async { Ok(stream) }, shutdown.clone());
            Box::pin(
                router.serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned()),
            )
        }
    };
    // Terraform sends StopProvider on Ctrl-C, and the terminal delivers SIGINT to the whole
    // process group: ignore it. SIGTERM means exit.
    watch_signals(&shutdown, false)?;
    announce(&line)?;
    tracing::debug!(socket = %socket.path().display(), "serving");
    let result = serve_until_shutdown(serving, &shutdown).await;
    drop(socket);
    result
}

async fn serve_debug() -> Result<(), ServerError> {
    let shutdown = CancellationToken::new();
    let mut socket = Socket::bind(None).map_err(ServerError::Socket)?;
    let router = router(shutdown.clone()).await;
    let incoming = socket.incoming(|stream| async { Ok(stream) }, shutdown.clone());
    let serving: Serving =
        Box::pin(router.serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned()));
    watch_signals(&shutdown, true)?;
    let reattach = reattach_config(socket.path(), std::process::id());
    announce(&format!(
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment \
         variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n\n\
         Press Ctrl-C to stop the provider."
    ))?;
    let result = serve_until_shutdown(serving, &shutdown).await;
    drop(socket);
    result
}

/// The gRPC services, with message limits raised.
async fn router(shutdown: CancellationToken) -> Router {
    let provider = Arc::new(ProviderServer::with_all_types());
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let provider_service = ProviderGrpcServer::new(ProviderService::new(provider))
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    Server::builder()
        .add_service(health_service)
        .add_service(provider_service)
        .add_service(GrpcControllerServer::new(plugin_services::Controller::new(
            shutdown.clone(),
        )))
        .add_service(GrpcStdioServer::new(plugin_services::Stdio::new(shutdown)))
}

/// Cancels `shutdown` on SIGTERM, and on SIGINT too when `interrupt_stops`.
fn watch_signals(shutdown: &CancellationToken, interrupt_stops: bool) -> Result<(), ServerError> {
    let mut terminate = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = terminate.recv() => {
                    tracing::debug!("SIGTERM: shutting down");
                    break;
                }
                _ = interrupt.recv() => {
                    if interrupt_stops {
                        tracing::debug!("SIGINT: shutting down");
                        break;
                    }
                    tracing::debug!("SIGINT ignored: Terraform stops operations with StopProvider");
                }
            }
        }
        shutdown.cancel();
    });
    Ok(())
}

/// Prints `text` on stdout, the only thing the provider ever prints there.
fn announce(text: &str) -> Result<(), ServerError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(ServerError::Stdout)
}

/// Serves until `shutdown`; connections still open a moment after that do not delay the exit.
async fn serve_until_shutdown(
    serving: Serving,
    shutdown: &CancellationToken,
) -> Result<(), ServerError> {
    let grace = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = serving => result.map_err(ServerError::Serve),
        () = grace => {
            tracing::debug!("connections still open after shutdown; exiting anyway");
            Ok(())
        }
    }
}
