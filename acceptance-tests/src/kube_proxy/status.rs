//! Injected failures as kube-apiserver writes them: a `Status` object with the code, reason,
//! message and (for 429) `details.retryAfterSeconds`
//! (<https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/>).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use kube_emulator::api::status::StatusError;

use crate::fault_proxy::ErrorAnswer;

/// kube-apiserver's reason and a message in its words for `status`: the table the emulator's
/// own injected faults use (`StatusError::injected`), so the two never disagree.
pub fn reason_and_message(status: u16) -> (String, String) {
    let injected = StatusError::injected(status, None, None).to_json();
    let field = |name: &str| injected[name].as_str().unwrap_or_default().to_string();
    (field("reason"), field("message"))
}

/// The `Status` answer for `error` (no body for HEAD).
pub fn response(is_head: bool, error: &ErrorAnswer<'_>) -> Response<Full<Bytes>> {
    let mut status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message,
        "reason": error.code,
        "code": error.status,
    });
    if let Some(seconds) = error.retry_after_seconds {
        status["details"] = serde_json::json!({ "retryAfterSeconds": seconds });
    }
    let body = if is_head {
        Bytes::new()
    } else {
        Bytes::from(status.to_string())
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
