//! The rig's EKS and EKS Auth against in-memory IAM, STS and issuer: every handler's answer
//! and every error's status, `x-amzn-ErrorType` and body; then the real SDK clients through
//! the AWS proxy, faults included.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt as _;
use serde_json::{Value, json};

use super::*;
use crate::aws::web_identity::test_issuer::{self, ISSUER};
use kube_emulator::authn::service_account::Signer;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/ci-runner";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/other";
const NOW: f64 = 1_800_000_000.0;
const BASE: &str = "/clusters/gitlabrunner-acc/pod-identity-associations";

/// IAM roles (name to trust policy), the issuer's keys, and the STS calls made.
struct World {
    roles: Mutex<BTreeMap<String, Value>>,
    jwks: Value,
    assumed: Mutex<Vec<AssumeRoleCall>>,
}

impl RoleAndIssuerSources for Arc<World> {
    fn trust_policy<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move { Ok(self.roles.lock().unwrap().get(arn).cloned()) })
    }

    fn fetch<'a>(
        &'a self,
        issuer: &'a str,
        path: &'a str,
        accept: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move { Ok(test_issuer::fetch(issuer, path, accept, &self.jwks)) })
    }
}

impl EksSources for Arc<World> {
    fn assume_role<'a>(
        &'a self,
        call: &'a AssumeRoleCall,
    ) -> BoxFuture<'a, Result<StsCredentials, (String, String)>> {
        Box::pin(async move {
            self.assumed.lock().unwrap().push(call.clone());
            Ok(StsCredentials {
                assumed_role_arn: format!(
                    "arn:aws:sts::{ACCOUNT}:assumed-role/ci-runner/{}",
                    call.session_name
                ),
                assumed_role_id: format!("AROAEXAMPLE:{}", call.session_name),
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: "secret".into(),
                session_token: "session".into(),
                expiration: 1_800_003_600,
            })
        })
    }
}

/// The Pod Identity trust the provider writes for `ci/runner` in the rig's cluster.
fn scoped_trust(namespace: &str, service_account: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "EksPodIdentity",
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-name": CLUSTER_NAME,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
                "aws:SourceAccount": ACCOUNT,
            },
            "ArnEquals": {"aws:SourceArn": cluster().arn()},
        },
    }]})
}

/// A trust without the session-tag conditions and without sts:TagSession.
fn bare_trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }]})
}

fn cluster() -> Cluster {
    Cluster {
        name: CLUSTER_NAME.into(),
        partition: "aws".into(),
        region: REGION.into(),
        account: ACCOUNT.into(),
    }
}

struct Case {
    world: Arc<World>,
    rig: Arc<EksRig>,
    signer: Signer,
    clock: Arc<Mutex<f64>>,
}

fn new_case() -> Case {
    let signer = Signer::generate_with_kid("cluster");
    let world = Arc::new(World {
        roles: Mutex::new(BTreeMap::from([
            (ROLE.to_string(), scoped_trust("ci", "runner")),
            (OTHER_ROLE.to_string(), scoped_trust("ci", "runner")),
        ])),
        jwks: signer.jwks(),
        assumed: Mutex::new(Vec::new()),
    });
    let clock = Arc::new(Mutex::new(NOW));
    let now = Arc::clone(&clock);
    let rig = EksRig::with_clock(vec![cluster()], Arc::clone(&world), move || {
        *now.lock().unwrap()
    });
    Case {
        world,
        rig,
        signer,
        clock,
    }
}

struct Answer {
    status: u16,
    error_type: Option<String>,
    body: Value,
}

impl Case {
    async fn call(&self, method: &str, path_and_query: &str, body: Value) -> Answer {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(())
            .unwrap()
            .into_parts();
        let path = parts.uri.path().to_string();
        let service = if path.ends_with("assume-role-for-pod-identity") {
            "eks-auth"
        } else {
            "eks"
        };
        let kind = RequestKind {
            service: service.into(),
            operation: rest::operation_of(&parts.method, &path)
                .expect("a Pod Identity path")
                .into(),
        };
        let response = self
            .rig
            .handle(&kind, &parts, &body)
            .await
            .expect("served by the rig");
        let status = response.status().as_u16();
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.headers().contains_key("x-amzn-RequestId"));
        let error_type = response
            .headers()
            .get("x-amzn-ErrorType")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            error_type,
            body: serde_json::from_slice(&bytes).unwrap(),
        }
    }

    async fn create(&self, namespace: &str, service_account: &str, role: &str) -> Answer {
        self.call(
            "POST",
            BASE,
            json!({"namespace": namespace, "serviceAccount": service_account, "roleArn": role}),
        )
        .await
    }

    async fn create_id(&self, namespace: &str, service_account: &str) -> String {
        let answer = self.create(namespace, service_account, ROLE).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["association"]["associationId"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Asserts an error answer: status, `x-amzn-ErrorType`, and a message containing `message`.
fn assert_error(answer: &Answer, status: u16, code: &str, message: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.error_type.as_deref(), Some(code), "{}", answer.body);
    let text = answer.body["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{text:?} lacks {message:?}");
}

#[tokio::test]
async fn create_answers_the_association_in_the_api_shape() {
    let case = new_case();
    let answer = case
        .call(
            "POST",
            BASE,
            json!({"namespace": "ci", "serviceAccount": "runner", "roleArn": ROLE,
                   "tags": {"team": "ci"}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.error_type, None);
    let association = &answer.body["association"];
    let id = association["associationId"].as_str().unwrap();
    assert_eq!(id.len(), 19, "{id}");
    assert!(id.starts_with("a-"), "{id}");
    assert!(
        id[2..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(
        association,
        &json!({
            "clusterName": CLUSTER_NAME,
            "namespace": "ci",
            "serviceAccount": "runner",
            "roleArn": ROLE,
            "associationArn": format!("arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER_NAME}/{id}"),
            "associationId": id,
            "tags": {"team": "ci"},
            "createdAt": NOW,
            "modifiedAt": NOW,
            "disableSessionTags": false,
        })
    );
    // Ids are random.
    assert_ne!(case.create_id("ci", "other").await, id);
}

#[tokio::test]
async fn a_second_association_for_the_same_service_account_is_resource_in_use() {
    let case = new_case();
    let first = case.create_id("ci", "runner").await;
    let again = case.create("ci", "runner", OTHER_ROLE).await;
    assert_error(&again, 409, "ResourceInUseException", &first);
    assert_eq!(again.body["clusterName"], CLUSTER_NAME);
    // Another namespace or service account is another subject.
    assert_eq!(case.create("ci2", "runner", ROLE).await.status, 200);
    assert_eq!(case.create("ci", "runner2", ROLE).await.status, 200);
    assert_eq!(case.rig.associations().len(), 3);
}

#[tokio::test]
async fn a_repeated_client_request_token_answers_the_first_association() {
    let case = new_case();
    let body = json!({"namespace": "ci", "serviceAccount": "runner", "roleArn": ROLE,
                      "clientRequestToken": "t-1"});
    let first = case.call("POST", BASE, body.clone()).await;
    let second = case.call("POST", BASE, body).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(first.body, second.body);
    assert_eq!(case.rig.associations().len(), 1);
    // The same token for another request is no retry of the first.
    let other = json!({"namespace": "ci", "serviceAccount": "runner", "roleArn": OTHER_ROLE,
                       "clientRequestToken": "t-1"});
    let conflict = case.call("POST", BASE, other).await;
    assert_error(&conflict, 409, "ResourceInUseException", "already exists");
}

#[tokio::test]
async fn unknown_clusters_and_associations_are_resource_not_found() {
    let case = new_case();
    let id = case.create_id("ci", "runner").await;
    let other = "/clusters/elsewhere/pod-identity-associations";
    for (method, path) in [
        ("POST", other.to_string()),
        ("GET", other.to_string()),
        ("GET", format!("{other}/{id}")),
        ("POST", format!("{other}/{id}")),
        ("DELETE", format!("{other}/{id}")),
    ] {
        let body = json!({"namespace": "ci", "serviceAccount": "x", "roleArn": ROLE});
        let answer = case.call(method, &path, body).await;
        assert_error(
            &answer,
            404,
            "ResourceNotFoundException",
            "No cluster found for name: elsewhere.",
        );
    }
    let missing = format!("{BASE}/a-00000000000000000");
    for method in ["GET", "POST", "DELETE"] {
        let answer = case.call(method, &missing, json!({"roleArn": ROLE})).await;
        assert_error(
            &answer,
            404,
            "ResourceNotFoundException",
            "a-00000000000000000",
        );
    }
}

#[tokio::test]
async fn a_request_signed_for_another_region_does_not_see_the_cluster() {
    let case = new_case();
    let id = case.create_id("ci", "runner").await;
    let signed = |region: &str, method: &str, path: &str| {
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri(path)
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/eks/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            )
            .body(())
            .unwrap()
            .into_parts();
        parts
    };
    let kind = RequestKind {
        service: "eks".into(),
        operation: "DescribePodIdentityAssociation".into(),
    };
    let path = format!("{BASE}/{id}");
    let here = case
        .rig
        .handle(&kind, &signed(REGION, "GET", &path), b"")
        .await
        .unwrap();
    assert_eq!(here.status(), 200);
    let elsewhere = case
        .rig
        .handle(&kind, &signed("us-west-2", "GET", &path), b"")
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
    assert_eq!(
        elsewhere.headers()["x-amzn-ErrorType"],
        "ResourceNotFoundException"
    );
    let auth = RequestKind {
        service: "eks-auth".into(),
        operation: "AssumeRoleForPodIdentity".into(),
    };
    let token = json!({ "token": case.signer.sign(&pod_claims()) }).to_string();
    let answer = case
        .rig
        .handle(&auth, &signed("us-west-2", "POST", AUTH), token.as_bytes())
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
}

#[tokio::test]
async fn describe_answers_what_create_made() {
    let case = new_case();
    let created = case.create("ci", "runner", ROLE).await;
    let id = created.body["association"]["associationId"]
        .as_str()
        .unwrap();
    let described = case.call("GET", &format!("{BASE}/{id}"), Value::Null).await;
    assert_eq!(described.status, 200);
    assert_eq!(described.body, created.body);
}

#[tokio::test]
async fn create_refuses_missing_and_malformed_fields() {
    let case = new_case();
    let cases = [
        (
            json!({"serviceAccount": "r", "roleArn": ROLE}),
            "namespace is required",
        ),
        (
            json!({"namespace": "ci", "roleArn": ROLE}),
            "serviceAccount is required",
        ),
        (
            json!({"namespace": "ci", "serviceAccount": "r"}),
            "roleArn is required",
        ),
        (
            json!({"namespace": "", "serviceAccount": "r", "roleArn": ROLE}),
            "namespace is required",
        ),
        (
            json!({"namespace": 1, "serviceAccount": "r", "roleArn": ROLE}),
            "namespace must be a string",
        ),
        (
            json!({"namespace": "ci", "serviceAccount": "r", "roleArn": "arn:aws:iam::123456789012:user/u"}),
            "is not a valid IAM role ARN",
        ),
        (
            json!({"namespace": "ci", "serviceAccount": "r", "roleArn": "ci-runner"}),
            "is not a valid IAM role ARN",
        ),
        (
            json!({"namespace": "ci", "serviceAccount": "r", "roleArn": ROLE, "tags": {"aws:x": "y"}}),
            "Tag key",
        ),
        (
            json!({"namespace": "ci", "serviceAccount": "r", "roleArn": ROLE, "disableSessionTags": "yes"}),
            "disableSessionTags must be a boolean",
        ),
    ];
    for (body, message) in cases {
        let answer = case.call("POST", BASE, body.clone()).await;
        assert_error(&answer, 400, "InvalidParameterException", message);
    }
    let (parts, ()) = http::Request::post(BASE).body(()).unwrap().into_parts();
    let kind = RequestKind {
        service: "eks".into(),
        operation: "CreatePodIdentityAssociation".into(),
    };
    let response = case.rig.handle(&kind, &parts, b"not json").await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["x-amzn-ErrorType"],
        "InvalidParameterException"
    );
    assert!(case.rig.associations().is_empty());
}

#[tokio::test]
async fn the_role_must_exist_in_the_clusters_account_and_trust_pod_identity() {
    let case = new_case();
    let missing = case
        .create("ci", "runner", "arn:aws:iam::123456789012:role/missing")
        .await;
    assert_error(
        &missing,
        400,
        "InvalidParameterException",
        "Role provided in the request does not exist",
    );
    let foreign = case
        .create("ci", "runner", "arn:aws:iam::210987654321:role/ci-runner")
        .await;
    assert_error(&foreign, 400, "InvalidParameterException", "account");
    case.world.roles.lock().unwrap().insert(
        ROLE.into(),
        json!({"Statement": [{"Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/x"},
            "Action": "sts:AssumeRoleWithWebIdentity"}]}),
    );
    let irsa_only = case.create("ci", "runner", ROLE).await;
    assert_error(
        &irsa_only,
        400,
        "InvalidParameterException",
        "Trust policy of the role provided is invalid",
    );
    assert!(case.rig.associations().is_empty());
    case.world
        .roles
        .lock()
        .unwrap()
        .insert(ROLE.into(), bare_trust());
    assert_eq!(case.create("ci", "runner", ROLE).await.status, 200);
}

#[tokio::test]
async fn list_filters_by_namespace_and_service_account_and_pages() {
    let case = new_case();
    let a = case.create_id("ci", "runner").await;
    let b = case.create_id("ci", "job").await;
    let c = case.create_id("other", "runner").await;
    let ids = |answer: &Answer| -> Vec<String> {
        answer.body["associations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["associationId"].as_str().unwrap().to_string())
            .collect()
    };
    let all = case.call("GET", BASE, Value::Null).await;
    assert_eq!(ids(&all), [a.clone(), b.clone(), c.clone()]);
    assert!(all.body.get("nextToken").is_none());
    assert_eq!(
        all.body["associations"][0],
        json!({
            "clusterName": CLUSTER_NAME,
            "namespace": "ci",
            "serviceAccount": "runner",
            "associationArn": format!("arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER_NAME}/{a}"),
            "associationId": a,
        })
    );
    let in_ci = case
        .call("GET", &format!("{BASE}?namespace=ci"), Value::Null)
        .await;
    assert_eq!(ids(&in_ci), [a.clone(), b.clone()]);
    let runners = case
        .call("GET", &format!("{BASE}?serviceAccount=runner"), Value::Null)
        .await;
    assert_eq!(ids(&runners), [a.clone(), c.clone()]);
    let one = case
        .call(
            "GET",
            &format!("{BASE}?namespace=ci&serviceAccount=runner"),
            Value::Null,
        )
        .await;
    assert_eq!(ids(&one), std::slice::from_ref(&a));
    let first = case
        .call("GET", &format!("{BASE}?maxResults=2"), Value::Null)
        .await;
    assert_eq!(ids(&first), [a, b]);
    let token = first.body["nextToken"].as_str().unwrap();
    let second = case
        .call(
            "GET",
            &format!("{BASE}?maxResults=2&nextToken={token}"),
            Value::Null,
        )
        .await;
    assert_eq!(ids(&second), [c]);
    assert!(second.body.get("nextToken").is_none());
    let none = case
        .call("GET", &format!("{BASE}?namespace=nowhere"), Value::Null)
        .await;
    assert_eq!(none.body, json!({"associations": []}));
}

#[tokio::test]
async fn list_refuses_bad_max_results_and_tokens() {
    let case = new_case();
    for query in ["maxResults=0", "maxResults=101", "maxResults=many"] {
        let answer = case
            .call("GET", &format!("{BASE}?{query}"), Value::Null)
            .await;
        assert_error(&answer, 400, "InvalidParameterException", "maxResults");
    }
    let answer = case
        .call("GET", &format!("{BASE}?nextToken=garbage"), Value::Null)
        .await;
    assert_error(&answer, 400, "InvalidParameterException", "nextToken");
}

#[tokio::test]
async fn update_changes_the_role_and_modified_at_only() {
    let case = new_case();
    let created = case.create("ci", "runner", ROLE).await.body["association"].clone();
    let id = created["associationId"].as_str().unwrap();
    *case.clock.lock().unwrap() = NOW + 60.0;
    let updated = case
        .call(
            "POST",
            &format!("{BASE}/{id}"),
            json!({"roleArn": OTHER_ROLE}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let mut expected = created.clone();
    expected["roleArn"] = json!(OTHER_ROLE);
    expected["modifiedAt"] = json!(NOW + 60.0);
    assert_eq!(updated.body["association"], expected);
    let bad = case
        .call("POST", &format!("{BASE}/{id}"), json!({"roleArn": "nope"}))
        .await;
    assert_error(
        &bad,
        400,
        "InvalidParameterException",
        "not a valid IAM role ARN",
    );
    let missing = case
        .call(
            "POST",
            &format!("{BASE}/{id}"),
            json!({"roleArn": "arn:aws:iam::123456789012:role/missing"}),
        )
        .await;
    assert_error(
        &missing,
        400,
        "InvalidParameterException",
        "Role provided in the request does not exist",
    );
    let described = case.call("GET", &format!("{BASE}/{id}"), Value::Null).await;
    assert_eq!(described.body["association"], expected);
}

#[tokio::test]
async fn delete_answers_the_association_and_forgets_it() {
    let case = new_case();
    let created = case.create("ci", "runner", ROLE).await.body;
    let id = created["association"]["associationId"].as_str().unwrap();
    let path = format!("{BASE}/{id}");
    let deleted = case.call("DELETE", &path, Value::Null).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body, created);
    assert_error(
        &case.call("GET", &path, Value::Null).await,
        404,
        "ResourceNotFoundException",
        id,
    );
    assert_error(
        &case.call("DELETE", &path, Value::Null).await,
        404,
        "ResourceNotFoundException",
        id,
    );
    // The subject is free again.
    assert_eq!(case.create("ci", "runner", ROLE).await.status, 200);
}

// EKS Auth.

const AUTH: &str = "/clusters/gitlabrunner-acc/assume-role-for-pod-identity";

/// The claims of a projected token of pod `runner-0` of `ci/runner`.
fn pod_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "system:serviceaccount:ci:runner",
        "aud": ["pods.eks.amazonaws.com"],
        "exp": NOW as i64 + 3600,
        "iat": NOW as i64,
        "kubernetes.io": {
            "namespace": "ci",
            "serviceaccount": {"name": "runner", "uid": "sa-uid"},
            "pod": {"name": "runner-0", "uid": "pod-uid"},
        },
    })
}

impl Case {
    async fn assume(&self, token: &str) -> Answer {
        self.call("POST", AUTH, json!({ "token": token })).await
    }
}

fn tag_map(call: &AssumeRoleCall) -> BTreeMap<String, String> {
    call.tags.iter().cloned().collect()
}

#[tokio::test]
async fn assume_role_for_pod_identity_answers_credentials_in_the_api_shape() {
    let case = new_case();
    let id = case.create_id("ci", "runner").await;
    let answer = case.assume(&case.signer.sign(&pod_claims())).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let calls = case.world.assumed.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let session = &calls[0].session_name;
    assert!(
        session.starts_with("eks-gitlabrunner-acc-runner-0-"),
        "{session}"
    );
    assert!(session.len() <= 64);
    assert_eq!(
        answer.body,
        json!({
            "subject": {"namespace": "ci", "serviceAccount": "runner"},
            "audience": "pods.eks.amazonaws.com",
            "podIdentityAssociation": {
                "associationArn": format!("arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER_NAME}/{id}"),
                "associationId": id,
            },
            "assumedRoleUser": {
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/ci-runner/{session}"),
                "assumeRoleId": format!("AROAEXAMPLE:{session}"),
            },
            "credentials": {
                "sessionToken": "session",
                "secretAccessKey": "secret",
                "accessKeyId": "ASIAEXAMPLE",
                "expiration": 1_800_003_600,
            },
        })
    );
    assert_eq!(calls[0].role_arn, ROLE);
    assert_eq!(case.rig.assumed_roles(), calls);
    assert!(case.rig.auth_refusals().is_empty());
    assert_eq!(
        tag_map(&calls[0]),
        BTreeMap::from([
            ("eks-cluster-arn".to_string(), cluster().arn()),
            ("eks-cluster-name".to_string(), CLUSTER_NAME.to_string()),
            ("kubernetes-namespace".to_string(), "ci".to_string()),
            (
                "kubernetes-service-account".to_string(),
                "runner".to_string()
            ),
            ("kubernetes-pod-name".to_string(), "runner-0".to_string()),
            ("kubernetes-pod-uid".to_string(), "pod-uid".to_string()),
        ])
    );
}

#[tokio::test]
async fn pod_tags_are_passed_only_for_a_token_that_names_a_pod() {
    let case = new_case();
    case.create_id("ci", "runner").await;
    let mut no_pod = pod_claims();
    no_pod["kubernetes.io"]
        .as_object_mut()
        .unwrap()
        .remove("pod");
    assert_eq!(case.assume(&case.signer.sign(&no_pod)).await.status, 200);
    let calls = case.world.assumed.lock().unwrap().clone();
    let keys: Vec<&str> = calls[0].tags.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "eks-cluster-arn",
            "eks-cluster-name",
            "kubernetes-namespace",
            "kubernetes-service-account"
        ]
    );
}

#[tokio::test]
async fn a_trust_without_the_session_tag_conditions_for_this_service_account_is_access_denied() {
    let case = new_case();
    case.create_id("ci", "runner").await;
    let token = case.signer.sign(&pod_claims());
    // Conditions for another service account, namespace, or cluster.
    for trust in [
        scoped_trust("ci", "job"),
        scoped_trust("other", "runner"),
        {
            let mut t = scoped_trust("ci", "runner");
            t["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] =
                json!("arn:aws:eks:eu-west-1:123456789012:cluster/another");
            t
        },
        // No sts:TagSession: EKS passes session tags, so it is needed.
        bare_trust(),
        // An explicit deny wins.
        {
            let mut t = scoped_trust("ci", "runner");
            let statements = t["Statement"].as_array_mut().unwrap();
            statements.push(
                json!({"Effect": "Deny", "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": "sts:TagSession"}),
            );
            t
        },
    ] {
        case.world.roles.lock().unwrap().insert(ROLE.into(), trust);
        let answer = case.assume(&token).await;
        assert_error(
            &answer,
            400,
            "AccessDeniedException",
            "Not authorized to perform sts:AssumeRole",
        );
    }
    assert!(case.world.assumed.lock().unwrap().is_empty());
    assert!(case.rig.assumed_roles().is_empty());
    assert_eq!(case.rig.auth_refusals().len(), 5);
    assert!(
        case.rig
            .auth_refusals()
            .iter()
            .all(|r| r.code == "AccessDeniedException")
    );
    // The role deleted after the association was made.
    case.world.roles.lock().unwrap().remove(ROLE);
    assert_error(
        &case.assume(&token).await,
        400,
        "AccessDeniedException",
        ROLE,
    );
}

#[tokio::test]
async fn disabled_session_tags_pass_no_tags_and_need_no_tag_session() {
    let case = new_case();
    case.world
        .roles
        .lock()
        .unwrap()
        .insert(ROLE.into(), bare_trust());
    let created = case
        .call(
            "POST",
            BASE,
            json!({"namespace": "ci", "serviceAccount": "runner", "roleArn": ROLE,
                   "disableSessionTags": true}),
        )
        .await;
    assert_eq!(created.body["association"]["disableSessionTags"], true);
    let answer = case.assume(&case.signer.sign(&pod_claims())).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(case.world.assumed.lock().unwrap()[0].tags.is_empty());
}

#[tokio::test]
async fn tokens_that_do_not_verify_are_invalid_token_exceptions() {
    let case = new_case();
    case.create_id("ci", "runner").await;
    let other_key = Signer::generate_with_kid("cluster").sign(&pod_claims());
    let mut sts_audience = pod_claims();
    sts_audience["aud"] = json!(["sts.amazonaws.com"]);
    let mut elsewhere = pod_claims();
    elsewhere["iss"] = json!("https://elsewhere.example");
    let mut not_a_pod = pod_claims();
    not_a_pod["sub"] = json!("alice");
    for (token, message) in [
        (other_key, auth::messages::INVALID_TOKEN),
        (case.signer.sign(&elsewhere), auth::messages::INVALID_TOKEN),
        (
            case.signer.sign(&sts_audience),
            auth::messages::WRONG_AUDIENCE,
        ),
        (case.signer.sign(&not_a_pod), "system:serviceaccount"),
        ("e30.e30.c2ln".to_string(), auth::messages::INVALID_TOKEN),
    ] {
        let answer = case.assume(&token).await;
        assert_error(&answer, 400, "InvalidTokenException", message);
    }
    assert!(case.world.assumed.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_an_expired_token_exception() {
    let case = new_case();
    case.create_id("ci", "runner").await;
    let mut expired = pod_claims();
    expired["exp"] = json!(NOW as i64);
    let answer = case.assume(&case.signer.sign(&expired)).await;
    assert_error(
        &answer,
        400,
        "ExpiredTokenException",
        auth::messages::EXPIRED,
    );
}

#[tokio::test]
async fn no_association_or_cluster_is_resource_not_found_and_garbage_an_invalid_parameter() {
    let case = new_case();
    let token = case.signer.sign(&pod_claims());
    assert_error(
        &case.assume(&token).await,
        404,
        "ResourceNotFoundException",
        "ci/runner",
    );
    let elsewhere = case
        .call(
            "POST",
            "/clusters/elsewhere/assume-role-for-pod-identity",
            json!({ "token": token }),
        )
        .await;
    assert_error(&elsewhere, 404, "ResourceNotFoundException", "elsewhere");
    for body in [
        json!({}),
        json!({"token": "not a token"}),
        json!({"token": 3}),
    ] {
        let answer = case.call("POST", AUTH, body).await;
        assert_error(&answer, 400, "InvalidParameterException", "token");
    }
}

#[tokio::test]
async fn sts_refusals_are_passed_on_as_eks_auth_errors() {
    struct Refusing(Arc<World>);
    impl RoleAndIssuerSources for Refusing {
        fn trust_policy<'a>(&'a self, a: &'a str) -> BoxFuture<'a, Result<Option<Value>, String>> {
            self.0.trust_policy(a)
        }
        fn fetch<'a>(
            &'a self,
            i: &'a str,
            p: &'a str,
            a: &'a str,
        ) -> BoxFuture<'a, Result<Option<Value>, String>> {
            self.0.fetch(i, p, a)
        }
    }
    impl EksSources for Refusing {
        fn assume_role<'a>(
            &'a self,
            _: &'a AssumeRoleCall,
        ) -> BoxFuture<'a, Result<StsCredentials, (String, String)>> {
            Box::pin(async { Err(("AccessDenied".to_string(), "no".to_string())) })
        }
    }
    let case = new_case();
    let rig = EksRig::with_clock(vec![cluster()], Refusing(Arc::clone(&case.world)), || NOW);
    let case = Case { rig, ..case };
    case.create_id("ci", "runner").await;
    let answer = case.assume(&case.signer.sign(&pod_claims())).await;
    assert_error(&answer, 400, "AccessDeniedException", "no");
}

// Through the proxy, with the SDK's own (de)serializers.

#[tokio::test]
async fn the_sdk_reads_the_rigs_answers_and_errors_through_the_proxy() {
    use crate::aws::proxy::{AwsProxy, FaultAction, FaultRule, Matcher};
    use aws_sdk_eks::error::ProvideErrorMetadata as _;
    // Nothing listens upstream: every answer is the rig's.
    let upstream = "http://127.0.0.1:7";
    let case = new_case();
    register_rig(upstream, Arc::clone(&case.rig));
    let proxy = AwsProxy::start(upstream).unwrap();
    assert!(proxy.serves_eks());
    let clients = crate::aws::AwsClients::with_max_attempts(proxy.url(), REGION, 1).await;
    let created = clients
        .eks
        .create_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .namespace("ci")
        .service_account("runner")
        .role_arn(ROLE)
        .tags("team", "ci")
        .send()
        .await
        .unwrap()
        .association
        .unwrap();
    let id = created.association_id().unwrap().to_string();
    assert_eq!(created.namespace(), Some("ci"));
    assert_eq!(created.created_at().unwrap().secs(), NOW as i64);
    assert_eq!(created.tags().unwrap()["team"], "ci");
    let conflict = clients
        .eks
        .create_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .namespace("ci")
        .service_account("runner")
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert!(
        conflict
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception()),
        "{conflict:?}"
    );
    let listed = clients
        .eks
        .list_pod_identity_associations()
        .cluster_name(CLUSTER_NAME)
        .namespace("ci")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.associations().len(), 1);
    assert_eq!(listed.associations()[0].association_id(), Some(id.as_str()));
    let token = case.signer.sign(&pod_claims());
    let assumed = clients
        .eks_auth
        .assume_role_for_pod_identity()
        .cluster_name(CLUSTER_NAME)
        .token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(assumed.subject().unwrap().service_account(), "runner");
    assert_eq!(
        assumed.credentials().unwrap().access_key_id(),
        "ASIAEXAMPLE"
    );
    assert_eq!(
        assumed.pod_identity_association().unwrap().association_id(),
        id
    );
    // An injected fault answers before the rig: nothing is deleted.
    proxy.add_fault(FaultRule::nth(
        Matcher::operation("eks", "DeletePodIdentityAssociation").param("associationId", &id),
        1,
        FaultAction::server_exception(),
    ));
    let failed = clients
        .eks
        .delete_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(
        failed
            .as_service_error()
            .is_some_and(|e| e.is_server_exception()),
        "{failed:?}"
    );
    assert_eq!(case.rig.associations().len(), 1);
    clients
        .eks
        .delete_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id(&id)
        .send()
        .await
        .unwrap();
    let gone = clients
        .eks
        .describe_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{gone:?}"
    );
    proxy.add_fault(FaultRule::always(
        Matcher::service("eks-auth"),
        FaultAction::throttling_exception(),
    ));
    let throttled = clients
        .eks_auth
        .assume_role_for_pod_identity()
        .cluster_name(CLUSTER_NAME)
        .token(&token)
        .send()
        .await
        .unwrap_err();
    assert!(
        throttled
            .as_service_error()
            .is_some_and(|e| e.is_throttling_exception()),
        "{throttled:?}"
    );
    assert_eq!(
        proxy.outcomes(),
        [
            "eks:CreatePodIdentityAssociation 200",
            "eks:CreatePodIdentityAssociation 409",
            "eks:ListPodIdentityAssociations 200",
            "eks-auth:AssumeRoleForPodIdentity 200",
            "eks:DeletePodIdentityAssociation 500",
            "eks:DeletePodIdentityAssociation 200",
            "eks:DescribePodIdentityAssociation 404",
            "eks-auth:AssumeRoleForPodIdentity 429",
        ]
    );
    // The token is never logged.
    assert!(
        proxy
            .requests()
            .iter()
            .all(|r| !r.target.params.values().any(|v| v == &token))
    );
    assert_eq!(conflict.code(), Some("ResourceInUseException"));
    assert!(
        conflict
            .message()
            .is_some_and(|m| m.starts_with("Association already exists: a-")),
        "{conflict:?}"
    );
}
