//! Transport-independent requests and responses of the API layer.

use serde_json::Value;

use super::status::StatusError;

/// An HTTP request, already read from the connection.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// Method (`GET`, ...).
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `User-Agent`.
    pub user_agent: String,
    /// `Authorization`.
    pub authorization: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Every header, names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl ApiRequest {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `name`.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean query parameter (`true`/`1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1" | "True"))
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lower case), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The media type of the body, without parameters.
    pub fn media_type(&self) -> &str {
        self.content_type
            .as_deref()
            .and_then(|c| c.split(';').next())
            .map_or("", str::trim)
    }

    /// The default field manager: the User-Agent up to the first `/`.
    pub fn default_manager(&self) -> String {
        let prefix = self.user_agent.split('/').next().unwrap_or("");
        prefix.chars().take(128).collect()
    }
}

/// A response of the API layer.
#[derive(Debug)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
    /// `Warning` headers (the warning texts).
    pub warnings: Vec<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// A streamed body (watches): chunks follow `body` until the sender closes.
    pub stream: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
}

impl ApiResponse {
    /// A JSON response.
    pub fn json(status: u16, value: &Value) -> ApiResponse {
        ApiResponse {
            status,
            content_type: "application/json".into(),
            body: serde_json::to_vec(value).expect("JSON"),
            warnings: Vec::new(),
            headers: Vec::new(),
            stream: None,
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, text: &str) -> ApiResponse {
        ApiResponse {
            status,
            content_type: "text/plain; charset=utf-8".into(),
            body: text.as_bytes().to_vec(),
            warnings: Vec::new(),
            headers: Vec::new(),
            stream: None,
        }
    }

    /// The `Status` response of a failure.
    pub fn error(err: &StatusError) -> ApiResponse {
        let mut resp = ApiResponse::json(err.code, &err.to_json());
        if let Some(d) = &err.details
            && d.retry_after_seconds > 0
        {
            resp.headers
                .push(("Retry-After".into(), d.retry_after_seconds.to_string()));
        }
        resp
    }

    /// The plain 404 of a path nothing serves.
    pub fn page_not_found() -> ApiResponse {
        ApiResponse::text(404, "404 page not found\n")
    }

    /// Adds warnings.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> ApiResponse {
        self.warnings.extend(warnings);
        self
    }
}

/// The result of a handler.
pub type ApiResult = Result<ApiResponse, StatusError>;
