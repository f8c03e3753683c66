//! The go-plugin handshake: what Terraform puts in the environment, and the one line the plugin
//! prints on stdout in answer.

use std::path::{Path, PathBuf};

use base64::Engine as _;

/// The magic cookie's environment variable.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The magic cookie's value, shared by every Terraform provider.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's core protocol version (the first field of the handshake line).
const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol this provider speaks.
pub const PROTOCOL_VERSION: u32 = 6;

/// What go-plugin prints, word for word, when a plugin is run by hand.
pub const NOT_A_COMMAND: &str = "This binary is a plugin. These are not meant to be executed \
directly.\nPlease execute the program that consumes these plugins, which will\nload any plugins \
automatically";

/// Why the process cannot serve as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Run by hand, or by something that is not Terraform.
    #[error("{NOT_A_COMMAND}")]
    NotLaunchedByTerraform,
    /// Terraform asked for protocol versions this provider does not speak.
    #[error(
        "Terraform offered plugin protocol versions {offered:?} (PLUGIN_PROTOCOL_VERSIONS), but \
         this provider only speaks protocol 6, which needs Terraform 1.0 or later. Upgrade \
         Terraform."
    )]
    UnsupportedProtocol {
        /// The versions Terraform offered.
        offered: String,
    },
}

/// The plugin settings Terraform passes in the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginEnv {
    /// `PLUGIN_CLIENT_CERT`: Terraform's client certificate (PEM), unless TLS is disabled.
    pub client_cert: Option<String>,
    /// `PLUGIN_UNIX_SOCKET_DIR`: where to create the socket.
    pub socket_dir: Option<PathBuf>,
}

impl PluginEnv {
    /// Reads and checks the environment through `var` (so tests need not touch the process
    /// environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, HandshakeError> {
        if var(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(HandshakeError::NotLaunchedByTerraform);
        }
        // go-plugin falls back to the plugin's own version when the variable is absent.
        if let Some(offered) = var("PLUGIN_PROTOCOL_VERSIONS").filter(|v| !v.trim().is_empty()) {
            let speaks_ours = offered
                .split(',')
                .any(|v| v.trim().parse::<u32>().is_ok_and(|v| v == PROTOCOL_VERSION));
            if !speaks_ours {
                return Err(HandshakeError::UnsupportedProtocol { offered });
            }
        }
        let tls_disabled = var("TF_DISABLE_PLUGIN_TLS").is_some_and(|v| !v.is_empty());
        let client_cert = var("PLUGIN_CLIENT_CERT").filter(|pem| !tls_disabled && !pem.is_empty());
        let socket_dir = var("PLUGIN_UNIX_SOCKET_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        Ok(Self {
            client_cert,
            socket_dir,
        })
    }

    /// Reads and checks the process environment.
    pub fn from_process() -> Result<Self, HandshakeError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

/// The handshake line: `1|6|unix|<socket>|grpc|<base64 server cert>`, the last field only with
/// AutoMTLS.
pub fn handshake_line(socket: &Path, server_cert_der: Option<&[u8]>) -> String {
    let mut line = format!(
        "{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|unix|{}|grpc|",
        socket.display()
    );
    if let Some(der) = server_cert_der {
        line.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(der));
    }
    line
}

/// The `TF_REATTACH_PROVIDERS` value that points Terraform at a provider in debug mode.
pub fn reattach_config(socket: &Path, pid: u32) -> String {
    serde_json::json!({
        crate::PROVIDER_ADDRESS: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "unix", "String": socket.display().to_string() },
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_or_wrong_cookie_means_not_launched_by_terraform() {
        assert!(matches!(
            PluginEnv::from_vars(env(&[])),
            Err(HandshakeError::NotLaunchedByTerraform)
        ));
        assert!(matches!(
            PluginEnv::from_vars(env(&[(MAGIC_COOKIE_KEY, "nope")])),
            Err(HandshakeError::NotLaunchedByTerraform)
        ));
    }

    #[test]
    fn protocol_versions_without_6_are_refused() {
        let result = PluginEnv::from_vars(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "4,5"),
        ]));
        assert!(matches!(
            result,
            Err(HandshakeError::UnsupportedProtocol { .. })
        ));
        let ok = PluginEnv::from_vars(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5, 6"),
        ]));
        assert!(ok.is_ok());
    }

    #[test]
    fn tls_disabled_drops_the_client_certificate() {
        let base = [
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_CLIENT_CERT", "PEM"),
            ("PLUGIN_UNIX_SOCKET_DIR", "/run/x"),
        ];
        let with_tls = PluginEnv::from_vars(env(&base)).unwrap();
        assert_eq!(with_tls.client_cert.as_deref(), Some("PEM"));
        assert_eq!(with_tls.socket_dir, Some(PathBuf::from("/run/x")));
        let mut disabled = base.to_vec();
        disabled.push(("TF_DISABLE_PLUGIN_TLS", "1"));
        assert_eq!(
            PluginEnv::from_vars(env(&disabled)).unwrap().client_cert,
            None
        );
    }

    #[test]
    fn handshake_line_has_six_fields_and_unpadded_base64() {
        let line = handshake_line(Path::new("/tmp/plugin1"), Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|unix|/tmp/plugin1|grpc|AQIDBA");
        assert_eq!(
            handshake_line(Path::new("/tmp/p"), None),
            "1|6|unix|/tmp/p|grpc|"
        );
    }

    #[test]
    fn reattach_config_marks_the_provider_as_test() {
        let json: serde_json::Value =
            serde_json::from_str(&reattach_config(Path::new("/tmp/s"), 42)).unwrap();
        let entry = &json[crate::PROVIDER_ADDRESS];
        assert_eq!(entry["Test"], true);
        assert_eq!(entry["ProtocolVersion"], 6);
        assert_eq!(entry["Pid"], 42);
        assert_eq!(entry["Addr"]["String"], "/tmp/s");
    }
}
