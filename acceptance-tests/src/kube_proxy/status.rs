//! Injected failures as kube-apiserver writes them: a `Status` object with the code, reason,
//! message and (for 429) `details.retryAfterSeconds`
//! (<https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/>).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::fault_proxy::ErrorAnswer;

/// kube-apiserver's reason and a message in its words for `status` (the messages say the
/// failure was injected where the real one would name an object).
pub fn reason_and_message(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => (
            "BadRequest",
            "the server rejected our request for an unknown reason",
        ),
        401 => ("Unauthorized", "Unauthorized"),
        403 => ("Forbidden", "forbidden: injected by the acceptance proxy"),
        404 => (
            "NotFound",
            "the server could not find the requested resource",
        ),
        409 => (
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
        ),
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        ),
        500 => (
            "InternalError",
            "Internal error occurred: injected by the acceptance proxy",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted",
        ),
        _ => ("Unknown", "injected by the acceptance proxy"),
    }
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
