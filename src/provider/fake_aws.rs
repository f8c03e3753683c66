//! An in-process AWS for unit tests: an SDK HTTP client that answers every request with what
//! a closure returns and records the requests. (Acceptance tests use a real emulator.)

use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_types::SdkConfig;
use aws_types::os_shim_internal::{Env, Fs};

/// A request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The full URI.
    pub uri: String,
    /// The body (form-encoded for IAM and STS).
    pub body: String,
    /// The `Authorization` header (SigV4: names the access key).
    pub authorization: String,
}

impl Seen {
    /// The `Action` of a query-protocol request (IAM, STS).
    pub fn action(&self) -> &str {
        self.body
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .unwrap_or_default()
    }
}

type Respond = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// The fake: answers with `respond(request)` as `(status, body)`.
#[derive(Clone)]
pub struct FakeAws {
    respond: Arc<Respond>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl std::fmt::Debug for FakeAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeAws")
    }
}

impl FakeAws {
    /// A fake answering with `respond`.
    pub fn new(respond: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Self {
        Self {
            respond: Arc::new(respond),
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The requests so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// An SDK configuration in `region` with static credentials, an empty environment and
    /// this fake as the HTTP client.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .env(Env::from_slice(&[]))
            .fs(Fs::from_slice(&[]))
            .region(aws_types::region::Region::new(region.to_string()))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .http_client(self.clone())
            .load()
            .await
    }
}

impl HttpConnector for FakeAws {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let seen = Seen {
            uri: request.uri().to_string(),
            body: request
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
            authorization: request
                .headers()
                .get("authorization")
                .unwrap_or_default()
                .to_string(),
        };
        let (status, body) = (self.respond)(&seen);
        self.seen.lock().unwrap().push(seen);
        let status = StatusCode::try_from(status).expect("a valid status");
        HttpConnectorFuture::ready(Ok(Response::new(status, SdkBody::from(body))))
    }
}

impl HttpClient for FakeAws {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// An IAM/STS query-protocol error body.
pub fn query_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
         <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
}
