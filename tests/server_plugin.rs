//! The real provider binary, started the way Terraform starts it: go-plugin environment,
//! handshake line, AutoMTLS over a unix socket, gRPC services, shutdown and signals.

mod support;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use gitlabrunner::proto::plugin::grpc_controller_client::GrpcControllerClient;
use gitlabrunner::proto::tfplugin6 as pb;
use gitlabrunner::proto::tfplugin6::provider_client::ProviderClient;
use support::{BINARY, COOKIE, Identity, Plugin, plugin_health};
use tonic_health::pb::health_check_response::ServingStatus;

fn signal(plugin: &Plugin, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &plugin.pid()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn handshake_line_announces_protocol_6_on_a_unix_socket_with_the_server_certificate() {
    let identity = Identity::p521();
    let plugin = Plugin::start(Some(&identity));
    assert!(plugin.line.starts_with("1|6|unix|"), "{}", plugin.line);
    assert!(plugin.line.contains("|grpc|"), "{}", plugin.line);
    assert!(
        !plugin.line.contains('='),
        "base64 must be unpadded: {}",
        plugin.line
    );
    let cert = plugin
        .server_cert
        .as_ref()
        .expect("AutoMTLS certificate in field 6");
    assert_eq!(cert[0], 0x30, "field 6 is DER");
    use std::os::unix::fs::FileTypeExt as _;
    assert!(
        std::fs::metadata(&plugin.socket)
            .unwrap()
            .file_type()
            .is_socket()
    );
}

#[tokio::test]
async fn socket_is_created_in_plugin_unix_socket_dir() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::p521();
    let path = dir.path().to_path_buf();
    let plugin = Plugin::start_with(Some(&identity), |c| {
        c.env("PLUGIN_UNIX_SOCKET_DIR", &path);
    });
    assert_eq!(plugin.socket.parent(), Some(dir.path()));
}

#[test]
fn missing_magic_cookie_prints_the_human_message_and_exits_1() {
    let output = Command::new(BINARY).env_clear().output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("This binary is a plugin. These are not meant to be executed directly."),
        "{stderr}"
    );
}

#[test]
fn wrong_magic_cookie_exits_1() {
    let output = Command::new(BINARY)
        .env_clear()
        .env("TF_PLUGIN_MAGIC_COOKIE", "wrong")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
}

#[test]
fn protocol_versions_without_6_exit_1_with_an_explanation() {
    let output = Command::new(BINARY)
        .env_clear()
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("only speaks protocol 6"));
}

#[test]
fn version_flag_prints_name_and_version() {
    let output = Command::new(BINARY).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("terraform-provider-gitlabrunner {}", gitlabrunner::VERSION)
    );
}

#[tokio::test]
async fn terraforms_p521_client_certificate_is_accepted_and_health_is_serving() {
    let identity = Identity::p521();
    let plugin = Plugin::start(Some(&identity));
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn openssl_made_p521_client_certificate_is_accepted() {
    let Some(identity) = Identity::p521_from_openssl() else {
        eprintln!("openssl not installed: skipped");
        return;
    };
    let plugin = Plugin::start(Some(&identity));
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn client_without_a_certificate_is_refused() {
    let identity = Identity::p521();
    let plugin = Plugin::start(Some(&identity));
    let refused = match plugin.channel(None).await {
        Err(_) => true,
        Ok(channel) => plugin_health(channel).await.is_err(),
    };
    assert!(refused, "a client without certificate must not be served");
}

#[tokio::test]
async fn client_with_a_different_certificate_is_refused() {
    let expected = Identity::p521();
    let other = Identity::p521();
    let plugin = Plugin::start(Some(&expected));
    let refused = match plugin.channel(Some(&other)).await {
        Err(_) => true,
        Ok(channel) => plugin_health(channel).await.is_err(),
    };
    assert!(
        refused,
        "a client with another certificate must not be served"
    );
    // The provider keeps serving the right client afterwards.
    let channel = plugin.channel(Some(&expected)).await.unwrap();
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn plaintext_when_terraform_disables_tls() {
    let identity = Identity::p521();
    let plugin = Plugin::start_with(Some(&identity), |c| {
        c.env("TF_DISABLE_PLUGIN_TLS", "1");
    });
    assert!(plugin.server_cert.is_none());
    let channel = plugin.channel(None).await.unwrap();
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn get_provider_schema_returns_every_schema_and_capabilities() {
    let identity = Identity::p521();
    let plugin = Plugin::start(Some(&identity));
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    let response = ProviderClient::new(channel)
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    let expected = gitlabrunner::framework::ProviderServer::with_all_types().schemas();
    assert!(response.diagnostics.is_empty());
    assert!(response.provider.is_some());
    let names = |map: &std::collections::HashMap<String, pb::Schema>| {
        let mut names: Vec<String> = map.keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&response.resource_schemas),
        expected.resources.keys().cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        names(&response.data_source_schemas),
        expected.data_sources.keys().cloned().collect::<Vec<_>>()
    );
    let capabilities = response.server_capabilities.unwrap();
    assert!(capabilities.plan_destroy);
    assert!(!capabilities.get_provider_schema_optional);
    assert!(response.functions.is_empty() && response.ephemeral_resource_schemas.is_empty());
    assert!(response.list_resource_schemas.is_empty());
}

#[tokio::test]
async fn rpcs_for_undeclared_features_answer_unimplemented_or_empty() {
    let identity = Identity::p521();
    let plugin = Plugin::start(Some(&identity));
    let mut client = ProviderClient::new(plugin.channel(Some(&identity)).await.unwrap());
    let functions = client
        .get_functions(pb::get_functions::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(functions.functions.is_empty() && functions.diagnostics.is_empty());
    let identities = client
        .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(identities.identity_schemas.is_empty());
    let moved = client
        .move_resource_state(pb::move_resource_state::Request {
            source_type_name: "aws_iam_role".into(),
            target_type_name: "gitlabrunner_irsa_binding".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.diagnostics.len(), 1);
    assert_eq!(
        moved.diagnostics[0].severity,
        pb::diagnostic::Severity::Error as i32
    );
    let call = client
        .call_function(pb::call_function::Request::default())
        .await;
    assert_eq!(call.unwrap_err().code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn malformed_provider_config_is_an_error_diagnostic_not_a_failure() {
    let identity = Identity::p521();
    let plugin = Plugin::start(Some(&identity));
    let mut client = ProviderClient::new(plugin.channel(Some(&identity)).await.unwrap());
    let garbage = pb::DynamicValue {
        msgpack: vec![0xc1, 0xff, 0x00],
        json: vec![],
    };
    let response = client
        .validate_provider_config(pb::validate_provider_config::Request {
            config: Some(garbage),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        response
            .diagnostics
            .iter()
            .any(|d| d.severity == pb::diagnostic::Severity::Error as i32)
    );
    // Still serving.
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn stop_provider_answers_ok_and_the_provider_keeps_serving() {
    let identity = Identity::p521();
    let plugin = Plugin::start(Some(&identity));
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    let response = ProviderClient::new(channel.clone())
        .stop_provider(pb::stop_provider::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.error, "");
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn shutdown_exits_within_two_seconds_and_removes_the_socket() {
    let identity = Identity::p521();
    let mut plugin = Plugin::start(Some(&identity));
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    let start = Instant::now();
    GrpcControllerClient::new(channel)
        .shutdown(gitlabrunner::proto::plugin::Empty {})
        .await
        .unwrap();
    let status = plugin
        .wait_exit(Duration::from_secs(2))
        .expect("exited within 2 s");
    assert!(status.success(), "{status:?}");
    eprintln!("shutdown took {:?}", start.elapsed());
    assert!(!plugin.socket.exists(), "socket removed");
}

#[tokio::test]
async fn sigint_is_ignored_and_sigterm_exits() {
    let identity = Identity::p521();
    let mut plugin = Plugin::start(Some(&identity));
    signal(&plugin, "INT");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        plugin.child.try_wait().unwrap().is_none(),
        "SIGINT must not stop the provider"
    );
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
    signal(&plugin, "TERM");
    assert!(
        plugin.wait_exit(Duration::from_secs(2)).is_some(),
        "SIGTERM stops the provider"
    );
    assert!(!plugin.socket.exists(), "socket removed");
}

#[tokio::test]
async fn stdout_carries_only_the_handshake_line() {
    let identity = Identity::p521();
    let mut plugin = Plugin::start_with(Some(&identity), |c| {
        c.env("TF_LOG", "TRACE");
    });
    let channel = plugin.channel(Some(&identity)).await.unwrap();
    ProviderClient::new(channel.clone())
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap();
    GrpcControllerClient::new(channel)
        .shutdown(gitlabrunner::proto::plugin::Empty {})
        .await
        .unwrap();
    plugin.wait_exit(Duration::from_secs(2)).unwrap();
    let mut rest = String::new();
    plugin
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    assert_eq!(rest, "", "nothing after the handshake line");
}

#[tokio::test]
async fn debug_mode_prints_reattach_config_and_serves_plaintext_until_sigint() {
    let mut child = Command::new(BINARY)
        .arg("--debug")
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let reattach = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "no reattach line");
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            break rest.trim_end_matches('\'').to_string();
        }
    };
    let config: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    let entry = &config[gitlabrunner::PROVIDER_ADDRESS];
    assert_eq!(entry["Test"], true);
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Pid"], child.id());
    let socket = PathBuf::from(entry["Addr"]["String"].as_str().unwrap());
    let mut plugin = Plugin {
        child,
        socket: socket.clone(),
        server_cert: None,
        line: String::new(),
    };
    let channel = plugin.channel(None).await.unwrap();
    assert_eq!(
        plugin_health(channel).await.unwrap(),
        ServingStatus::Serving
    );
    signal(&plugin, "INT");
    assert!(
        plugin.wait_exit(Duration::from_secs(2)).is_some(),
        "Ctrl-C stops debug mode"
    );
    assert!(!Path::new(&socket).exists());
}

/// Start-to-handshake time (median of 20) and RSS after GetProviderSchema. Not a check:
/// `cargo test --test server_plugin -- --ignored --nocapture measure`; set
/// `PROVIDER_BINARY` to measure another build (e.g. target/release).
#[tokio::test]
#[ignore = "measurement, run by hand"]
async fn measure_startup_and_memory() {
    let binary = std::env::var("PROVIDER_BINARY").unwrap_or_else(|_| BINARY.to_string());
    let identity = Identity::p521();
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let mut child = Command::new(&binary)
            .env_clear()
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", &identity.cert_pem)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        times.push(start.elapsed());
        let fields: Vec<&str> = line.trim_end().split('|').collect();
        let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(fields[5])
            .unwrap();
        let plugin = Plugin {
            socket: PathBuf::from(fields[3]),
            server_cert: Some(server_cert),
            line,
            child,
        };
        let channel = plugin.channel(Some(&identity)).await.unwrap();
        ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/status", plugin.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        rss.push(kb);
    }
    times.sort();
    rss.sort_unstable();
    eprintln!(
        "binary {binary}\nstart-to-handshake: median {:?}, min {:?}, max {:?} (20 runs)\n\
         VmRSS after GetProviderSchema: median {} kB, max {} kB",
        times[10], times[0], times[19], rss[10], rss[19]
    );
}
