//! The running provider never panics on what arrives over gRPC: malformed DynamicValues
//! (truncated msgpack, wrong types, extra or missing attributes, garbage, absurd length
//! prefixes, deep nesting, bad JSON) and raw states go to every RPC that takes one, for every
//! resource and data source type, before and after ConfigureProvider. Each undecodable input is
//! answered with an error diagnostic (never a gRPC error), well-typed nonsense with a proper
//! response, and the process keeps serving; its log holds no panic.
//!
//! The provider is configured against endpoints that refuse connections (AWS with
//! `max_retries = 0`, no Kubernetes configuration), so inputs that decode fail fast at the
//! first call instead of reaching anything real.

mod support;

use std::collections::BTreeMap;

use gitlabrunner::codec::{Type, Value, msgpack};
use gitlabrunner::proto::tfplugin6 as pb;
use gitlabrunner::proto::tfplugin6::provider_client::ProviderClient;
use support::{Identity, Plugin};
use tonic::transport::Channel;

/// One input for a DynamicValue position.
struct Input {
    label: String,
    value: Option<pb::DynamicValue>,
    /// Whether it cannot decode as the position's type (an error diagnostic is required).
    malformed: bool,
}

fn msgpack_value(bytes: Vec<u8>) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: bytes,
        json: Vec::new(),
    })
}

fn json_value(text: &str) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: Vec::new(),
        json: text.as_bytes().to_vec(),
    })
}

/// `ty`'s value with every attribute null (objects all the way down).
fn null_of(ty: &Type) -> Value {
    match ty {
        Type::Object(attrs) => Value::Object(
            attrs
                .keys()
                .map(|name| (name.clone(), Value::Null))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Every malformed and nonsensical input for a position of type `ty` (an object type).
fn inputs(ty: &Type) -> Vec<Input> {
    let Type::Object(attrs) = ty else {
        panic!("a schema's value type is an object")
    };
    let valid = msgpack::encode(&null_of(ty), ty).unwrap();
    let bad = |label: &str, value| Input {
        label: label.to_string(),
        value,
        malformed: true,
    };
    let odd = |label: &str, value| Input {
        label: label.to_string(),
        value,
        malformed: false,
    };
    let mut with_extra = attrs.clone();
    with_extra.insert("bogus_attribute".to_string(), Type::Number);
    let mut extra_value = null_of(ty);
    if let Value::Object(map) = &mut extra_value {
        map.insert("bogus_attribute".to_string(), Value::int(1));
    }
    let extra = msgpack::encode(&extra_value, &Type::Object(with_extra)).unwrap();
    let string_attr = attrs
        .iter()
        .find(|(_, t)| **t == Type::String)
        .map(|(n, _)| n.clone())
        .expect("every schema here has a string attribute");
    let mut retyped = attrs.clone();
    retyped.insert(string_attr.clone(), Type::List(Box::new(Type::Bool)));
    let mut retyped_value = null_of(ty);
    retyped_value.set_attr(&string_attr, Value::List(vec![Value::Bool(true)]));
    let wrong_attribute = msgpack::encode(&retyped_value, &Type::Object(retyped)).unwrap();
    let mut deep = vec![0x91; 100_000];
    deep.push(0xc0);
    let all_unknown = Value::Object(
        attrs
            .keys()
            .map(|name| (name.clone(), Value::Unknown))
            .collect::<BTreeMap<_, _>>(),
    );
    vec![
        bad("garbage", msgpack_value(vec![0xc1, 0xff, 0x00, 0x13])),
        bad(
            "truncated msgpack",
            msgpack_value(valid[..valid.len() / 2].to_vec()),
        ),
        bad("one byte of msgpack", msgpack_value(valid[..1].to_vec())),
        bad(
            "trailing bytes",
            msgpack_value([valid.clone(), vec![0x00]].concat()),
        ),
        bad(
            "a string instead of an object",
            msgpack_value(msgpack::encode(&Value::string("x"), &Type::String).unwrap()),
        ),
        bad("a number instead of an object", msgpack_value(vec![0x2a])),
        bad(
            "an array instead of an object",
            msgpack_value(vec![0x93, 0xc0, 0xc0, 0xc0]),
        ),
        bad("extra attribute", msgpack_value(extra)),
        bad("no attributes", msgpack_value(vec![0x80])),
        bad(
            "attribute of the wrong type",
            msgpack_value(wrong_attribute),
        ),
        bad(
            "array of 4 G elements announced",
            msgpack_value(vec![0xdd, 0xff, 0xff, 0xff, 0xff]),
        ),
        bad(
            "map of 4 G entries announced",
            msgpack_value(vec![0xdf, 0xff, 0xff, 0xff, 0xff]),
        ),
        bad(
            "string of 4 GB announced",
            msgpack_value(vec![0xdb, 0xff, 0xff, 0xff, 0xff]),
        ),
        bad("100 000 nested arrays", msgpack_value(deep)),
        // cty reads every msgpack extension as an unknown value, and so does the provider.
        odd(
            "unknown extension type",
            msgpack_value(vec![0xd4, 0x7f, 0x00]),
        ),
        bad(
            "invalid UTF-8 attribute name",
            msgpack_value(vec![0x81, 0xa2, 0xff, 0xfe, 0xc0]),
        ),
        bad("JSON that does not parse", json_value("{\"a\":")),
        bad("JSON array", json_value("[1,2,3]")),
        bad(
            "JSON with an extra attribute",
            json_value(r#"{"bogus": true}"#),
        ),
        // Protobuf cannot tell empty bytes from absent ones: null, like an absent value.
        odd("no msgpack and no JSON", Some(pb::DynamicValue::default())),
        odd("absent", None),
        odd(
            "null",
            msgpack_value(msgpack::encode(&Value::Null, ty).unwrap()),
        ),
        odd("every attribute null", msgpack_value(valid)),
        odd(
            "unknown",
            msgpack_value(msgpack::encode(&Value::Unknown, ty).unwrap()),
        ),
        odd(
            "every attribute unknown",
            msgpack_value(msgpack::encode(&all_unknown, ty).unwrap()),
        ),
    ]
}

/// Raw states for UpgradeResourceState and MoveResourceState.
fn raw_states() -> Vec<(String, Option<pb::RawState>, bool)> {
    let raw = |json: &[u8]| {
        Some(pb::RawState {
            json: json.to_vec(),
            flatmap: Default::default(),
        })
    };
    vec![
        ("absent".into(), None, true),
        ("JSON that does not parse".into(), raw(b"{\"id\":"), true),
        ("invalid UTF-8".into(), raw(&[0xff, 0xfe, 0x7b]), true),
        ("JSON array".into(), raw(b"[1,2]"), true),
        ("JSON string".into(), raw(b"\"x\""), true),
        ("extra attribute".into(), raw(br#"{"bogus": 1}"#), true),
        (
            "flatmap only".into(),
            Some(pb::RawState {
                json: Vec::new(),
                flatmap: [("id".to_string(), "x".to_string())].into(),
            }),
            true,
        ),
        (
            "deeply nested JSON".into(),
            raw(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes()),
            true,
        ),
    ]
}

fn is_error(diagnostic: &pb::Diagnostic) -> bool {
    diagnostic.severity == pb::diagnostic::Severity::Error as i32
}

/// What went wrong with one call, if anything.
fn judge<T>(
    call: &str,
    malformed: bool,
    result: Result<tonic::Response<T>, tonic::Status>,
    diagnostics: impl Fn(&T) -> &[pb::Diagnostic],
) -> Option<String> {
    match result {
        Err(status) => Some(format!("{call}: gRPC error {status:?}")),
        Ok(response) if malformed && !diagnostics(response.get_ref()).iter().any(is_error) => {
            Some(format!("{call}: no error diagnostic"))
        }
        Ok(_) => None,
    }
}

/// The schemas' value types by kind.
struct Types {
    provider: Type,
    resources: BTreeMap<String, Type>,
    data_sources: BTreeMap<String, Type>,
}

fn types() -> Types {
    let schemas = gitlabrunner::framework::ProviderServer::with_all_types().schemas();
    Types {
        provider: schemas.provider.value_type(),
        resources: schemas
            .resources
            .iter()
            .map(|(n, s)| (n.clone(), s.value_type()))
            .collect(),
        data_sources: schemas
            .data_sources
            .iter()
            .map(|(n, s)| (n.clone(), s.value_type()))
            .collect(),
    }
}

/// Feeds every input to every RPC once; returns the problems and the number of calls.
async fn feed_every_rpc(channel: Channel, types: &Types) -> (Vec<String>, usize) {
    let mut client = ProviderClient::new(channel);
    let mut problems = Vec::new();
    let mut calls = 0;
    let mut check = |problem: Option<String>| {
        calls += 1;
        problems.extend(problem);
    };
    for input in inputs(&types.provider) {
        let call = format!("ValidateProviderConfig({})", input.label);
        let result = client
            .validate_provider_config(pb::validate_provider_config::Request {
                config: input.value.clone(),
            })
            .await;
        check(judge(&call, input.malformed, result, |r| &r.diagnostics));
    }
    for (type_name, ty) in &types.data_sources {
        for input in inputs(ty) {
            let call = format!("ValidateDataResourceConfig({type_name}, {})", input.label);
            let result = client
                .validate_data_resource_config(pb::validate_data_resource_config::Request {
                    type_name: type_name.clone(),
                    config: input.value.clone(),
                })
                .await;
            check(judge(&call, input.malformed, result, |r| &r.diagnostics));
            let call = format!("ReadDataSource({type_name}, {})", input.label);
            let result = client
                .read_data_source(pb::read_data_source::Request {
                    type_name: type_name.clone(),
                    config: input.value.clone(),
                    ..Default::default()
                })
                .await;
            check(judge(&call, input.malformed, result, |r| &r.diagnostics));
        }
    }
    for (type_name, ty) in &types.resources {
        let valid = msgpack_value(msgpack::encode(&null_of(ty), ty).unwrap());
        for input in inputs(ty) {
            let label = &input.label;
            let (value, malformed) = (input.value.clone(), input.malformed);
            let call = format!("ValidateResourceConfig({type_name}, {label})");
            let result = client
                .validate_resource_config(pb::validate_resource_config::Request {
                    type_name: type_name.clone(),
                    config: value.clone(),
                    ..Default::default()
                })
                .await;
            check(judge(&call, malformed, result, |r| &r.diagnostics));
            let call = format!("ReadResource({type_name}, {label})");
            let result = client
                .read_resource(pb::read_resource::Request {
                    type_name: type_name.clone(),
                    current_state: value.clone(),
                    private: vec![0xff, 0x00],
                    ..Default::default()
                })
                .await;
            check(judge(&call, malformed, result, |r| &r.diagnostics));
            // The input at each position of PlanResourceChange in turn.
            for position in 0..3 {
                let mut values = [valid.clone(), valid.clone(), valid.clone()];
                values[position] = value.clone();
                let [prior, proposed, config] = values;
                let call = format!("PlanResourceChange({type_name}, {label} at {position})");
                let result = client
                    .plan_resource_change(pb::plan_resource_change::Request {
                        type_name: type_name.clone(),
                        prior_state: prior,
                        proposed_new_state: proposed,
                        config,
                        prior_private: vec![0xde, 0xad],
                        ..Default::default()
                    })
                    .await;
                check(judge(&call, malformed, result, |r| &r.diagnostics));
            }
            for position in 0..2 {
                let mut values = [valid.clone(), valid.clone()];
                values[position] = value.clone();
                let [prior, planned] = values;
                let call = format!("ApplyResourceChange({type_name}, {label} at {position})");
                let result = client
                    .apply_resource_change(pb::apply_resource_change::Request {
                        type_name: type_name.clone(),
                        prior_state: prior,
                        planned_state: planned,
                        config: value.clone(),
                        planned_private: vec![0xbe, 0xef],
                        ..Default::default()
                    })
                    .await;
                check(judge(&call, malformed, result, |r| &r.diagnostics));
            }
        }
        for (label, raw, malformed) in raw_states() {
            for version in [0, -1, i64::MAX] {
                let call = format!("UpgradeResourceState({type_name}, v{version}, {label})");
                let result = client
                    .upgrade_resource_state(pb::upgrade_resource_state::Request {
                        type_name: type_name.clone(),
                        version,
                        raw_state: raw.clone(),
                    })
                    .await;
                check(judge(&call, malformed, result, |r| &r.diagnostics));
            }
            let call = format!("MoveResourceState({type_name}, {label})");
            let result = client
                .move_resource_state(pb::move_resource_state::Request {
                    source_type_name: "aws_iam_role".into(),
                    target_type_name: type_name.clone(),
                    source_state: raw.clone(),
                    ..Default::default()
                })
                .await;
            check(judge(&call, true, result, |r| &r.diagnostics));
        }
        for id in [
            "",
            "/",
            "//",
            "a/b/c/d/e",
            "\u{0}",
            &"x".repeat(100_000),
            "../..",
            "ns/",
        ] {
            let call = format!(
                "ImportResourceState({type_name}, {:?})",
                &id[..id.len().min(12)]
            );
            let result = client
                .import_resource_state(pb::import_resource_state::Request {
                    type_name: type_name.clone(),
                    id: id.to_string(),
                    ..Default::default()
                })
                .await;
            check(judge(&call, true, result, |r| &r.diagnostics));
        }
    }
    let unknown = "gitlabrunner_no_such_type".to_string();
    let garbage = msgpack_value(vec![0xc1]);
    let call = "ValidateResourceConfig(unknown type)";
    let result = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: unknown.clone(),
            config: garbage.clone(),
            ..Default::default()
        })
        .await;
    check(judge(call, true, result, |r| &r.diagnostics));
    let call = "ApplyResourceChange(unknown type)";
    let result = client
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: unknown,
            prior_state: garbage.clone(),
            planned_state: garbage,
            ..Default::default()
        })
        .await;
    check(judge(call, true, result, |r| &r.diagnostics));
    (problems, calls)
}

/// ConfigureProvider with every input, then once with a usable configuration (AWS at a port
/// that refuses connections, no retries; no Kubernetes); returns the problems.
async fn configure(channel: Channel, types: &Types) -> (Vec<String>, usize) {
    let mut client = ProviderClient::new(channel);
    let mut problems = Vec::new();
    let mut calls = 0;
    for input in inputs(&types.provider) {
        let call = format!("ConfigureProvider({})", input.label);
        let result = client
            .configure_provider(pb::configure_provider::Request {
                config: input.value.clone(),
                terraform_version: "1.15.5".into(),
                ..Default::default()
            })
            .await;
        calls += 1;
        problems.extend(judge(&call, input.malformed, result, |r| &r.diagnostics));
    }
    let mut config = null_of(&types.provider);
    let Type::Object(attrs) = &types.provider else {
        unreachable!()
    };
    let mut aws = null_of(&attrs["aws"]);
    aws.set_attr("max_retries", Value::int(0));
    aws.set_attr("region", Value::string("us-east-1"));
    aws.set_attr("endpoint_url", Value::string("http://127.0.0.1:9"));
    config.set_attr("aws", aws);
    let response = client
        .configure_provider(pb::configure_provider::Request {
            config: msgpack_value(msgpack::encode(&config, &types.provider).unwrap()),
            terraform_version: "1.15.5".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    calls += 1;
    let errors: Vec<&pb::Diagnostic> = response
        .diagnostics
        .iter()
        .filter(|d| is_error(d))
        .collect();
    if !errors.is_empty() {
        problems.push(format!("ConfigureProvider(usable): {errors:?}"));
    }
    (problems, calls)
}

/// Calls the RPCs this provider does not implement (it declares no such types) with garbage.
async fn unimplemented_rpcs(channel: Channel) -> Vec<String> {
    let mut client = ProviderClient::new(channel);
    let garbage = msgpack_value(vec![0xc1, 0xff]);
    let mut problems = Vec::new();
    let expect = |call: &str, status: Option<tonic::Status>| match status {
        Some(status) if status.code() == tonic::Code::Unimplemented => None,
        Some(status) => Some(format!("{call}: {status:?}")),
        None => None,
    };
    let status = client
        .generate_resource_config(pb::generate_resource_config::Request {
            type_name: "gitlabrunner_cache".into(),
            state: garbage.clone(),
        })
        .await
        .err();
    problems.extend(expect("GenerateResourceConfig", status));
    let status = client
        .validate_ephemeral_resource_config(pb::validate_ephemeral_resource_config::Request {
            type_name: "gitlabrunner_cache".into(),
            config: garbage.clone(),
        })
        .await
        .err();
    problems.extend(expect("ValidateEphemeralResourceConfig", status));
    let status = client
        .call_function(pb::call_function::Request {
            name: "x".into(),
            arguments: vec![garbage.clone().unwrap()],
        })
        .await
        .err();
    problems.extend(expect("CallFunction", status));
    problems
}

#[tokio::test]
async fn malformed_dynamic_values_at_every_rpc_get_error_diagnostics_and_the_provider_keeps_serving()
 {
    let log = tempfile::NamedTempFile::new().unwrap();
    let identity = Identity::p521();
    let mut plugin = Plugin::start_with(Some(&identity), |command| {
        command
            .envs([
                ("TF_LOG", "DEBUG"),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ])
            .stderr(log.reopen().unwrap());
    });
    let types = types();
    let channel = plugin.channel(Some(&identity)).await.unwrap();

    // Before ConfigureProvider, then after it.
    let (mut problems, before) = feed_every_rpc(channel.clone(), &types).await;
    assert!(
        plugin.is_serving(Some(&identity)).await,
        "the provider stopped serving"
    );
    let (configure_problems, configured) = configure(channel.clone(), &types).await;
    problems.extend(configure_problems);
    let (after_problems, after) = feed_every_rpc(channel.clone(), &types).await;
    problems.extend(after_problems);
    problems.extend(unimplemented_rpcs(channel.clone()).await);

    assert!(
        plugin.is_serving(Some(&identity)).await,
        "the provider stopped serving"
    );
    let schema = ProviderClient::new(channel)
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.diagnostics.is_empty());
    let log_text = std::fs::read_to_string(log.path()).unwrap();
    for problem in &problems {
        eprintln!("malformed input: {problem}");
    }
    eprintln!(
        "malformed input: {} RPC calls ({before} before ConfigureProvider, {configured} ConfigureProvider, {after} after), {} problems",
        before + configured + after,
        problems.len()
    );
    assert!(
        !log_text.contains("panicked"),
        "the provider panicked:\n{}",
        log_text
            .lines()
            .filter(|l| l.contains("panicked"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
