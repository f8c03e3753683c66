//! AWS error answers in each service's wire protocol, so the SDK parses the injected code.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The error answer `service` would send for `status` + `code` + `message`.
///
/// - IAM, STS (awsQuery): `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`;
/// - S3 (restXml): `<Error><Code/><Message/><RequestId/></Error>`, no body for HEAD;
/// - EKS, EKS Auth (restJson1): `{"message": ...}` + `x-amzn-ErrorType`
///   (<https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization>);
/// - anything else (JSON protocols): `{"__type": code, "message": ...}` + `x-amzn-ErrorType`.
pub fn error_response(
    service: &str,
    is_head: bool,
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (content_type, body, id_header) = match service {
        "iam" | "sts" => {
            let namespace = if service == "iam" {
                "https://iam.amazonaws.com/doc/2010-05-08/"
            } else {
                "https://sts.amazonaws.com/doc/2011-06-15/"
            };
            let fault_type = if status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            };
            let body = format!(
                "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{fault_type}</Type>\
                 <Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId>\
                 </ErrorResponse>",
                xml_escape(code),
                xml_escape(message)
            );
            ("text/xml", body, "x-amzn-RequestId")
        }
        "s3" => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code>\
                 <Message>{}</Message><RequestId>{request_id}</RequestId>\
                 <HostId>acceptance-proxy</HostId></Error>",
                xml_escape(code),
                xml_escape(message)
            );
            ("application/xml", body, "x-amz-request-id")
        }
        "eks" | "eks-auth" => {
            let body = serde_json::json!({ "message": message }).to_string();
            ("application/json", body, "x-amzn-RequestId")
        }
        _ => {
            let body = serde_json::json!({ "__type": code, "message": message }).to_string();
            ("application/x-amz-json-1.1", body, "x-amzn-RequestId")
        }
    };
    let body = if is_head { String::new() } else { body };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(id_header, id);
    }
    if let Ok(code) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-ErrorType", code);
    }
    response
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn body_of(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn iam_errors_use_the_query_protocol_envelope() {
        let response = error_response("iam", false, 400, "Throttling", "Rate <exceeded>", "r1");
        assert_eq!(response.status(), 400);
        let body = body_of(response).await;
        assert!(
            body.contains("<Type>Sender</Type><Code>Throttling</Code>"),
            "{body}"
        );
        assert!(body.contains("Rate &lt;exceeded&gt;"), "{body}");
    }

    #[tokio::test]
    async fn eks_errors_are_rest_json_with_the_code_in_the_header() {
        for service in ["eks", "eks-auth"] {
            let response = error_response(service, false, 429, "ThrottlingException", "slow", "r4");
            assert_eq!(response.status(), 429);
            assert_eq!(
                response.headers()["x-amzn-ErrorType"],
                "ThrottlingException"
            );
            assert_eq!(response.headers()["content-type"], "application/json");
            assert_eq!(response.headers()["x-amzn-RequestId"], "r4");
            assert_eq!(body_of(response).await, r#"{"message":"slow"}"#);
        }
    }

    #[tokio::test]
    async fn s3_errors_are_bare_error_documents_and_empty_for_head() {
        let body = body_of(error_response("s3", false, 403, "AccessDenied", "no", "r2")).await;
        assert!(body.contains("<Error><Code>AccessDenied</Code>"), "{body}");
        let head = error_response("s3", true, 403, "AccessDenied", "no", "r3");
        assert_eq!(head.headers()["x-amz-request-id"], "r3");
        assert_eq!(body_of(head).await, "");
    }
}
