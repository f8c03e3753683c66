//! What the cache, data-source and binding-with-cache tests set up beside Terraform, with the
//! harness's own SDK clients: IAM roles, OIDC providers, buckets and objects; and reading
//! back what the provider wrote (inline policies, bucket settings).

use aws_sdk_iam::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use gitlabrunner_acceptance::Harness;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::settings::AwsEmulatorKind;
use serde_json::Value;

/// A trust policy for roles the tests create themselves (the cache needs only a role to put
/// its policy on).
pub const EC2_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Whether the harness runs against moto (else LocalStack or an unknown emulator).
pub fn is_moto(h: &Harness) -> bool {
    h.aws().kind() == Some(AwsEmulatorKind::Moto)
}

/// The emulator's name for messages.
pub fn emulator_name(h: &Harness) -> &'static str {
    h.aws()
        .kind()
        .map_or("the AWS emulator", AwsEmulatorKind::name)
}

/// Creates the IAM role `name` and returns its ARN.
pub async fn create_role(clients: &AwsClients, name: &str) -> String {
    let role = clients
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(EC2_TRUST_POLICY)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateRole {name}: {e:?}"))
        .role
        .expect("CreateRole returns the role");
    role.arn
}

/// Deletes the role `name` with whatever inline policies it still has; a missing role is fine.
pub async fn delete_role(clients: &AwsClients, name: &str) {
    if let Ok(listed) = clients
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
    {
        for policy in listed.policy_names() {
            let _ = clients
                .iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await;
        }
    }
    let _ = clients.iam.delete_role().role_name(name).send().await;
}

/// The inline policy `policy` of `role` as JSON, or `None` when the role has no such policy.
pub async fn inline_policy(clients: &AwsClients, role: &str, policy: &str) -> Option<Value> {
    match clients
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
    {
        Ok(found) => Some(
            serde_json::from_str(&percent_decode(found.policy_document()))
                .expect("an inline policy is JSON"),
        ),
        Err(error) if error.code() == Some("NoSuchEntity") => None,
        Err(error) => panic!("GetRolePolicy {role}/{policy}: {error:?}"),
    }
}

/// IAM returns policy documents URL-encoded; `+` stays `+` (it is not a space there).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Registers the IAM OIDC provider for `url` (audience `sts.amazonaws.com`) and returns its
/// ARN; when the emulator already has one for that issuer (another test of this run, on a
/// shared emulator), that one's ARN. Never deleted by the tests: others may use it.
pub async fn ensure_oidc_provider(clients: &AwsClients, url: &str) -> String {
    let created = clients
        .iam
        .create_open_id_connect_provider()
        .url(url)
        .set_client_id_list(gitlabrunner_acceptance::workload::setup::cluster_client_ids())
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
        .send()
        .await;
    match created {
        Ok(created) => created
            .open_id_connect_provider_arn
            .expect("CreateOpenIDConnectProvider returns the ARN"),
        Err(error) if error.code() == Some("EntityAlreadyExists") => {
            let host_path = url.trim_start_matches("https://");
            let listed = clients
                .iam
                .list_open_id_connect_providers()
                .send()
                .await
                .expect("ListOpenIDConnectProviders");
            listed
                .open_id_connect_provider_list()
                .iter()
                .filter_map(|p| p.arn())
                .find(|arn| arn.ends_with(&format!(":oidc-provider/{host_path}")))
                .unwrap_or_else(|| panic!("{url} exists but is not listed"))
                .to_string()
        }
        Err(error) => panic!("CreateOpenIDConnectProvider {url}: {error:?}"),
    }
}

/// Creates the bucket `name` (in the harness's region, us-east-1) with no settings.
pub async fn create_bucket(clients: &AwsClients, name: &str) {
    clients
        .s3
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {name}: {e:?}"));
}

/// Whether the bucket `name` exists.
pub async fn bucket_exists(clients: &AwsClients, name: &str) -> bool {
    match clients.s3.head_bucket().bucket(name).send().await {
        Ok(_) => true,
        Err(error) if error.raw_response().map(|r| r.status().as_u16()) == Some(404) => false,
        Err(error) => panic!("HeadBucket {name}: {error:?}"),
    }
}

/// Puts `body` at `key`. A bucket the provider created denies plain-HTTP object requests
/// (moto enforces that bucket policy even without IAM enforcement), so its policy is lifted
/// for the write and put back exactly as it was.
pub async fn put_object(clients: &AwsClients, bucket: &str, key: &str, body: &str) {
    let policy = clients
        .s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|p| p.policy);
    if policy.is_some() {
        clients
            .s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .expect("DeleteBucketPolicy");
    }
    let put = clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await;
    if let Some(policy) = policy {
        clients
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .expect("PutBucketPolicy restores the policy");
    }
    put.unwrap_or_else(|e| panic!("PutObject {bucket}/{key}: {e:?}"));
}

/// Deletes the bucket `name` with everything in it (its policy lifted first); a missing
/// bucket is fine.
pub async fn delete_bucket(clients: &AwsClients, name: &str) {
    if !bucket_exists(clients, name).await {
        return;
    }
    let _ = clients.s3.delete_bucket_policy().bucket(name).send().await;
    if let Ok(listed) = clients.s3.list_objects_v2().bucket(name).send().await {
        for object in listed.contents() {
            if let Some(key) = object.key() {
                let _ = clients
                    .s3
                    .delete_object()
                    .bucket(name)
                    .key(key)
                    .send()
                    .await;
            }
        }
    }
    clients
        .s3
        .delete_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteBucket {name}: {e:?}"));
}

/// The bucket's tags (empty when it has none).
pub async fn bucket_tags(clients: &AwsClients, name: &str) -> Vec<(String, String)> {
    match clients.s3.get_bucket_tagging().bucket(name).send().await {
        Ok(tagging) => tagging
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}
