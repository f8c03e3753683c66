//! The provider block read into typed settings. Unknown values (Terraform configures a
//! provider with unknowns when its block depends on resources not yet created) are recorded
//! by path instead of being guessed, so a client that needs one can say which.

use std::collections::BTreeMap;
use std::fmt;

use crate::codec::{AttributePath, Value};

/// Everything the provider block says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderSettings {
    /// The `aws` block.
    pub aws: AwsSettings,
    /// The `kubernetes` block.
    pub kubernetes: KubernetesSettings,
    /// `oidc_provider_arn`.
    pub oidc_provider_arn: Option<String>,
    /// `default_tags` (known entries).
    pub default_tags: BTreeMap<String, String>,
    /// Every setting whose value is not known yet.
    pub unknown: Vec<AttributePath>,
}

/// The `aws` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// `region`.
    pub region: Option<String>,
    /// `profile`.
    pub profile: Option<String>,
    /// `endpoint_url`.
    pub endpoint_url: Option<String>,
    /// `endpoints.iam`.
    pub iam_endpoint: Option<String>,
    /// `endpoints.sts`.
    pub sts_endpoint: Option<String>,
    /// `endpoints.s3`.
    pub s3_endpoint: Option<String>,
    /// `endpoints.eks`.
    pub eks_endpoint: Option<String>,
    /// `assume_role`, when the block is present.
    pub assume_role: Option<AssumeRoleSettings>,
    /// `max_retries`.
    pub max_retries: Option<u32>,
    /// Whether an `AWS_ENDPOINT_URL*` variable is set but empty (see
    /// [`super::aws::with_endpoint_environment`]): the endpoints above then say everything.
    pub empty_endpoint_variables: bool,
}

/// The `aws.assume_role` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssumeRoleSettings {
    /// `role_arn`.
    pub role_arn: String,
    /// `session_name`.
    pub session_name: Option<String>,
    /// `external_id`.
    pub external_id: Option<String>,
}

/// The `kubernetes` block. Its `Debug` output leaves out the secrets (`token`, `client_key`,
/// the values of `exec.env`): settings end up in logs through the structs that hold them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KubernetesSettings {
    /// `config_path`.
    pub config_path: Option<String>,
    /// `config_context`.
    pub config_context: Option<String>,
    /// `host`.
    pub host: Option<String>,
    /// `token` (sensitive).
    pub token: Option<String>,
    /// `cluster_ca_certificate` (PEM).
    pub cluster_ca_certificate: Option<String>,
    /// `client_certificate` (PEM).
    pub client_certificate: Option<String>,
    /// `client_key` (PEM, sensitive).
    pub client_key: Option<String>,
    /// `insecure`.
    pub insecure: bool,
    /// `exec`, when the block is present.
    pub exec: Option<ExecSettings>,
}

/// The `kubernetes.exec` block (`Debug` shows the names in `env`, never the values).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExecSettings {
    /// `api_version`.
    pub api_version: String,
    /// `command`.
    pub command: String,
    /// `args`.
    pub args: Vec<String>,
    /// `env`.
    pub env: BTreeMap<String, String>,
}

/// What `Debug` prints instead of a secret that is set.
const REDACTED: &str = "<redacted>";

/// A secret for `Debug`: whether it is set, never its value.
struct Redacted<'a>(&'a Option<String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => write!(f, "Some({REDACTED})"),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for KubernetesSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesSettings")
            .field("config_path", &self.config_path)
            .field("config_context", &self.config_context)
            .field("host", &self.host)
            .field("token", &Redacted(&self.token))
            .field("cluster_ca_certificate", &self.cluster_ca_certificate)
            .field("client_certificate", &self.client_certificate)
            .field("client_key", &Redacted(&self.client_key))
            .field("insecure", &self.insecure)
            .field("exec", &self.exec)
            .finish()
    }
}

impl fmt::Debug for ExecSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: BTreeMap<&str, &str> = self
            .env
            .keys()
            .map(|name| (name.as_str(), REDACTED))
            .collect();
        f.debug_struct("ExecSettings")
            .field("api_version", &self.api_version)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &env)
            .finish()
    }
}

impl ProviderSettings {
    /// Reads the provider block (a null block reads as all settings unset).
    pub fn from_config(config: &Value) -> ProviderSettings {
        let mut reader = Reader::default();
        let root = AttributePath::root();
        let settings = ProviderSettings {
            aws: reader.aws(config.get("aws"), &root.clone().attr("aws")),
            kubernetes: reader
                .kubernetes(config.get("kubernetes"), &root.clone().attr("kubernetes")),
            oidc_provider_arn: reader.string(config, &root, "oidc_provider_arn"),
            default_tags: reader.string_map(config, &root, "default_tags"),
            unknown: Vec::new(),
        };
        ProviderSettings {
            unknown: reader.unknown,
            ..settings
        }
    }

    /// The unknown settings at or under `prefix` (e.g. `aws`).
    pub fn unknown_under(&self, prefix: &AttributePath) -> Vec<&AttributePath> {
        self.unknown
            .iter()
            .filter(|path| path.starts_with(prefix))
            .collect()
    }
}

/// Reads values, recording the paths of unknown ones.
#[derive(Default)]
struct Reader {
    unknown: Vec<AttributePath>,
}

impl Reader {
    /// The block at `path`, or `None` when absent; an unknown block is recorded as unknown.
    fn block<'a>(&mut self, value: &'a Value, path: &AttributePath) -> Option<&'a Value> {
        match value {
            Value::Null => None,
            Value::Unknown => {
                self.unknown.push(path.clone());
                None
            }
            block => Some(block),
        }
    }

    fn known<'a>(&mut self, value: &'a Value, path: AttributePath) -> Option<&'a Value> {
        match value {
            Value::Null => None,
            value if !value.is_wholly_known() => {
                self.unknown.push(path);
                None
            }
            value => Some(value),
        }
    }

    fn string(&mut self, block: &Value, path: &AttributePath, name: &str) -> Option<String> {
        self.known(block.get(name), path.clone().attr(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn string_map(
        &mut self,
        block: &Value,
        path: &AttributePath,
        name: &str,
    ) -> BTreeMap<String, String> {
        self.known(block.get(name), path.clone().attr(name))
            .map(Value::string_entries)
            .unwrap_or_default()
    }

    fn aws(&mut self, block: &Value, path: &AttributePath) -> AwsSettings {
        let Some(block) = self.block(block, path) else {
            return AwsSettings::default();
        };
        let endpoints_path = path.clone().attr("endpoints");
        let endpoints = self
            .block(block.get("endpoints"), &endpoints_path)
            .cloned()
            .unwrap_or_default();
        AwsSettings {
            region: self.string(block, path, "region"),
            profile: self.string(block, path, "profile"),
            endpoint_url: self.string(block, path, "endpoint_url"),
            iam_endpoint: self.string(&endpoints, &endpoints_path, "iam"),
            sts_endpoint: self.string(&endpoints, &endpoints_path, "sts"),
            s3_endpoint: self.string(&endpoints, &endpoints_path, "s3"),
            eks_endpoint: self.string(&endpoints, &endpoints_path, "eks"),
            assume_role: self
                .assume_role(block.get("assume_role"), &path.clone().attr("assume_role")),
            max_retries: self
                .known(block.get("max_retries"), path.clone().attr("max_retries"))
                .and_then(Value::as_i64)
                .and_then(|n| u32::try_from(n).ok()),
            empty_endpoint_variables: false,
        }
    }

    fn assume_role(&mut self, block: &Value, path: &AttributePath) -> Option<AssumeRoleSettings> {
        let block = self.block(block, path)?;
        Some(AssumeRoleSettings {
            role_arn: self.string(block, path, "role_arn").unwrap_or_default(),
            session_name: self.string(block, path, "session_name"),
            external_id: self.string(block, path, "external_id"),
        })
    }

    fn kubernetes(&mut self, block: &Value, path: &AttributePath) -> KubernetesSettings {
        let Some(block) = self.block(block, path) else {
            return KubernetesSettings::default();
        };
        KubernetesSettings {
            config_path: self.string(block, path, "config_path"),
            config_context: self.string(block, path, "config_context"),
            host: self.string(block, path, "host"),
            token: self.string(block, path, "token"),
            cluster_ca_certificate: self.string(block, path, "cluster_ca_certificate"),
            client_certificate: self.string(block, path, "client_certificate"),
            client_key: self.string(block, path, "client_key"),
            insecure: self
                .known(block.get("insecure"), path.clone().attr("insecure"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            exec: self.exec(block.get("exec"), &path.clone().attr("exec")),
        }
    }

    fn exec(&mut self, block: &Value, path: &AttributePath) -> Option<ExecSettings> {
        let block = self.block(block, path)?;
        Some(ExecSettings {
            api_version: self.string(block, path, "api_version").unwrap_or_default(),
            command: self.string(block, path, "command").unwrap_or_default(),
            args: self
                .known(block.get("args"), path.clone().attr("args"))
                .map(Value::string_elements)
                .unwrap_or_default(),
            env: self.string_map(block, path, "env"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
    }

    #[test]
    fn a_null_provider_block_reads_as_nothing_set() {
        assert_eq!(
            ProviderSettings::from_config(&Value::Null),
            ProviderSettings::default()
        );
    }

    #[test]
    fn nested_blocks_are_read() {
        let config = obj(&[
            (
                "aws",
                obj(&[
                    ("region", "eu-west-1".into()),
                    ("max_retries", Value::int(3)),
                    ("endpoints", obj(&[("iam", "http://127.0.0.1:5000".into())])),
                    (
                        "assume_role",
                        obj(&[("role_arn", "arn:aws:iam::123456789012:role/x".into())]),
                    ),
                ]),
            ),
            (
                "kubernetes",
                obj(&[
                    ("host", "https://k8s.example".into()),
                    ("insecure", Value::Bool(true)),
                    (
                        "exec",
                        obj(&[
                            ("api_version", "client.authentication.k8s.io/v1".into()),
                            ("command", "aws".into()),
                            ("args", Value::string_list(["eks", "get-token"])),
                        ]),
                    ),
                ]),
            ),
            ("default_tags", Value::string_map([("team", "platform")])),
        ]);
        let settings = ProviderSettings::from_config(&config);
        assert_eq!(settings.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.aws.max_retries, Some(3));
        assert_eq!(
            settings.aws.iam_endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            settings.aws.assume_role.unwrap().role_arn,
            "arn:aws:iam::123456789012:role/x"
        );
        assert!(settings.kubernetes.insecure);
        assert_eq!(settings.kubernetes.exec.unwrap().args, ["eks", "get-token"]);
        assert_eq!(settings.default_tags["team"], "platform");
        assert!(settings.unknown.is_empty());
    }

    #[test]
    fn unknown_values_are_recorded_by_path_and_not_guessed() {
        let config = obj(&[
            ("aws", obj(&[("region", Value::Unknown)])),
            ("kubernetes", Value::Unknown),
            (
                "default_tags",
                Value::Map([("team".to_string(), Value::Unknown)].into()),
            ),
        ]);
        let settings = ProviderSettings::from_config(&config);
        assert_eq!(settings.aws.region, None);
        let unknown: Vec<String> = settings.unknown.iter().map(ToString::to_string).collect();
        assert_eq!(unknown, ["aws.region", "kubernetes", "default_tags"]);
        assert_eq!(settings.unknown_under(&AttributePath::new("aws")).len(), 1);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let settings = ProviderSettings {
            kubernetes: KubernetesSettings {
                host: Some("https://cluster".into()),
                token: Some("token-hidden-1".into()),
                client_key: Some("-----BEGIN PRIVATE KEY-----key-hidden-2".into()),
                exec: Some(ExecSettings {
                    api_version: "client.authentication.k8s.io/v1".into(),
                    command: "aws".into(),
                    args: vec!["eks".into(), "get-token".into()],
                    env: BTreeMap::from([(
                        "AWS_SECRET_ACCESS_KEY".to_string(),
                        "env-hidden-3".to_string(),
                    )]),
                }),
                ..KubernetesSettings::default()
            },
            ..ProviderSettings::default()
        };
        let connection = crate::provider::kubernetes::KubeConnection::new(
            settings.kubernetes.clone(),
            Vec::new(),
        );
        for printed in [
            format!("{settings:?}"),
            format!("{settings:#?}"),
            format!("{connection:?}"),
        ] {
            assert!(!printed.contains("hidden"), "{printed}");
            assert!(!printed.contains("PRIVATE KEY"), "{printed}");
            // What is not secret stays visible, and so does whether a secret is set.
            assert!(printed.contains("https://cluster"), "{printed}");
            assert!(printed.contains("AWS_SECRET_ACCESS_KEY"), "{printed}");
            assert!(printed.contains("get-token"), "{printed}");
            assert!(printed.contains("<redacted>"), "{printed}");
        }
        let unset = format!("{:?}", KubernetesSettings::default());
        assert!(unset.contains("token: None"), "{unset}");
    }
}
