//! The resource as Terraform plans it: refusals with attribute paths, outputs known at plan
//! time, no perpetual diffs, drift shown, replacements where the resource needs them, and an
//! apply result that keeps every promise of the plan.

use crate::codec::{PathStep, Severity};
use crate::framework::plan_change;

use super::state::Observed;
use super::*;

const PROVIDER_REGION: &str = "eu-central-1";
const KEY: &str = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A configuration: every attribute of the schema, null unless given.
fn config(pairs: &[(&str, Value)]) -> Value {
    let mut value = Value::object(
        schema::schema()
            .block
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null)),
    );
    value.set_attr(attr::ROLE_NAME, "runner-manager".into());
    value.set_attr(attr::BUCKET_NAME, "runner-cache".into());
    for (name, v) in pairs {
        value.set_attr(name, v.clone());
    }
    value
}

/// Terraform's proposed new state: configuration, with prior values for computed attributes
/// the configuration leaves null.
fn proposed(prior: &Value, config: &Value) -> Value {
    let mut value = config.clone();
    for attribute in &schema::schema().block.attributes {
        if attribute.computed && config.get(&attribute.name).is_null() {
            value.set_attr(&attribute.name, prior.get(&attribute.name).clone());
        }
    }
    value
}

struct Planned {
    change: PlannedChange,
    diagnostics: Diagnostics,
}

/// Validate, then plan as the framework does, with the provider in `region`.
fn plan_in(region: Option<&str>, prior: &Value, config: &Value) -> Planned {
    let mut diagnostics = validate::validate_config(config);
    let mut change = plan_change(&schema::schema(), prior, &proposed(prior, config), config);
    if !diagnostics.has_errors() {
        diagnostics.extend(amend_plan(&mut change, region));
    }
    Planned {
        change,
        diagnostics,
    }
}

fn plan(prior: &Value, config: &Value) -> Planned {
    plan_in(Some(PROVIDER_REGION), prior, config)
}

/// The plan contract: configured attributes as configured, everything else computed.
fn assert_valid_plan(change: &PlannedChange) {
    for attribute in &schema::schema().block.attributes {
        let config = change.config.get(&attribute.name);
        let planned = change.planned.get(&attribute.name);
        if !attribute.computed || !config.is_null() {
            assert!(
                config.semantically_equal(planned),
                "{} planned {planned:?} but configured {config:?}",
                attribute.name
            );
        }
    }
}

/// The state a clean apply of `planned` produces.
fn applied(planned: &Value) -> Value {
    let spec = Inputs::from_value(planned)
        .complete()
        .expect("a known plan");
    state_value(&spec, &Observed::expected(&spec))
}

/// Apply keeps every known planned value (what Terraform checks after apply).
fn assert_apply_keeps_the_plan(planned: &Value, state: &Value) {
    for attribute in &schema::schema().block.attributes {
        let (p, s) = (planned.get(&attribute.name), state.get(&attribute.name));
        assert!(
            s.is_wholly_known(),
            "{} unknown after apply",
            attribute.name
        );
        if p.is_wholly_known() {
            assert!(
                p.semantically_equal(s),
                "{}: planned {p:?}, applied {s:?}",
                attribute.name
            );
        }
    }
}

fn errors(planned: &Planned) -> Vec<(String, String)> {
    planned
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let path = match d.attribute.as_ref().map(|p| p.steps()) {
                Some([PathStep::Attribute(name)]) => name.clone(),
                other => format!("{other:?}"),
            };
            (path, d.summary.clone())
        })
        .collect()
}

#[test]
fn invalid_configurations_are_refused_at_plan_with_their_attribute() {
    let s = |v: &str| Value::from(v);
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, Value)>,
        Option<&'a str>,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "empty role name",
            vec![(attr::ROLE_NAME, s(""))],
            None,
            attr::ROLE_NAME,
            "Invalid IAM role name",
        ),
        (
            "role ARN instead of name",
            vec![(attr::ROLE_NAME, s("arn:aws:iam::123456789012:role/runner"))],
            None,
            attr::ROLE_NAME,
            "Invalid IAM role name",
        ),
        (
            "role name too long",
            vec![(attr::ROLE_NAME, s(&"r".repeat(65)))],
            None,
            attr::ROLE_NAME,
            "Invalid IAM role name",
        ),
        (
            "role name with a space",
            vec![(attr::ROLE_NAME, s("runner manager"))],
            None,
            attr::ROLE_NAME,
            "Invalid IAM role name",
        ),
        (
            "bucket name too short",
            vec![(attr::BUCKET_NAME, s("ab"))],
            None,
            attr::BUCKET_NAME,
            "Invalid S3 bucket name",
        ),
        (
            "bucket name with capitals",
            vec![(attr::BUCKET_NAME, s("Runner-Cache"))],
            None,
            attr::BUCKET_NAME,
            "Invalid S3 bucket name",
        ),
        (
            "bucket name as IP address",
            vec![(attr::BUCKET_NAME, s("10.0.0.1"))],
            None,
            attr::BUCKET_NAME,
            "Invalid S3 bucket name",
        ),
        (
            "bucket name with adjacent dots",
            vec![(attr::BUCKET_NAME, s("runner..cache"))],
            None,
            attr::BUCKET_NAME,
            "Invalid S3 bucket name",
        ),
        (
            "bucket name with reserved prefix",
            vec![(attr::BUCKET_NAME, s("xn--cache"))],
            None,
            attr::BUCKET_NAME,
            "Invalid S3 bucket name",
        ),
        (
            "bucket name with reserved suffix",
            vec![(attr::BUCKET_NAME, s("cache-s3alias"))],
            None,
            attr::BUCKET_NAME,
            "Invalid S3 bucket name",
        ),
        (
            "path with leading slash",
            vec![(attr::PATH, s("/runner"))],
            None,
            attr::PATH,
            "Invalid cache path",
        ),
        (
            "path climbing with ..",
            vec![(attr::PATH, s("runner/../secrets"))],
            None,
            attr::PATH,
            "Invalid cache path",
        ),
        (
            "path with a wildcard",
            vec![(attr::PATH, s("runner*"))],
            None,
            attr::PATH,
            "Invalid cache path",
        ),
        (
            "path with a policy variable",
            vec![(attr::PATH, s("${aws:username}"))],
            None,
            attr::PATH,
            "Invalid cache path",
        ),
        (
            "empty path",
            vec![(attr::PATH, s(""))],
            None,
            attr::PATH,
            "Invalid cache path",
        ),
        (
            "path with trailing slash",
            vec![(attr::PATH, s("runner/"))],
            None,
            attr::PATH,
            "Invalid cache path",
        ),
        (
            "region that is no region",
            vec![(attr::BUCKET_REGION, s("Frankfurt"))],
            None,
            attr::BUCKET_REGION,
            "Invalid bucket region",
        ),
        (
            "region of no known partition (once taken for aws)",
            vec![(attr::BUCKET_REGION, s("us-isoz-east-1"))],
            None,
            attr::BUCKET_REGION,
            "Bucket region of no known partition",
        ),
        (
            "ISO bucket for a commercial role",
            vec![(attr::BUCKET_REGION, s("us-iso-east-1"))],
            None,
            attr::BUCKET_REGION,
            "Bucket region in another partition",
        ),
        (
            "GovCloud bucket for a commercial role",
            vec![(attr::BUCKET_REGION, s("us-gov-west-1"))],
            None,
            attr::BUCKET_REGION,
            "Bucket region in another partition",
        ),
        (
            "China bucket for a commercial role",
            vec![(attr::BUCKET_REGION, s("cn-north-1"))],
            None,
            attr::BUCKET_REGION,
            "Bucket region in another partition",
        ),
        (
            "no region anywhere",
            vec![],
            Some("none"),
            attr::BUCKET_REGION,
            "Bucket region unknown",
        ),
        (
            "KMS key that is no ARN",
            vec![(attr::KMS_KEY_ARN, s("1234abcd"))],
            None,
            attr::KMS_KEY_ARN,
            "Invalid KMS key ARN",
        ),
        (
            "KMS ARN of another service",
            vec![(attr::KMS_KEY_ARN, s("arn:aws:s3:::runner-cache"))],
            None,
            attr::KMS_KEY_ARN,
            "Invalid KMS key ARN",
        ),
        (
            "KMS alias instead of key",
            vec![(
                attr::KMS_KEY_ARN,
                s("arn:aws:kms:eu-central-1:123456789012:alias/cache"),
            )],
            None,
            attr::KMS_KEY_ARN,
            "KMS alias instead of key",
        ),
        (
            "KMS key in another partition",
            vec![
                (
                    attr::KMS_KEY_ARN,
                    s("arn:aws-cn:kms:cn-north-1:123456789012:key/k"),
                ),
                (attr::BUCKET_REGION, s("eu-central-1")),
            ],
            None,
            attr::KMS_KEY_ARN,
            "KMS key in another partition",
        ),
        (
            "KMS key in another region",
            vec![
                (
                    attr::KMS_KEY_ARN,
                    s("arn:aws:kms:us-east-1:123456789012:key/k"),
                ),
                (attr::BUCKET_REGION, s("eu-central-1")),
            ],
            None,
            attr::KMS_KEY_ARN,
            "KMS key in another region",
        ),
        (
            "KMS key outside the provider's (default) region",
            vec![(
                attr::KMS_KEY_ARN,
                s("arn:aws:kms:us-east-1:123456789012:key/k"),
            )],
            None,
            attr::KMS_KEY_ARN,
            "KMS key in another region",
        ),
        (
            "zero expiration days",
            vec![
                (attr::CREATE_BUCKET, true.into()),
                (attr::EXPIRATION_DAYS, Value::int(0)),
            ],
            None,
            attr::EXPIRATION_DAYS,
            "Expiration out of range",
        ),
        (
            "expiration beyond ten years",
            vec![
                (attr::CREATE_BUCKET, true.into()),
                (attr::EXPIRATION_DAYS, Value::int(3651)),
            ],
            None,
            attr::EXPIRATION_DAYS,
            "Expiration out of range",
        ),
        (
            "fractional expiration days",
            vec![
                (attr::CREATE_BUCKET, true.into()),
                (
                    attr::EXPIRATION_DAYS,
                    Value::Number(crate::codec::Number::Float(7.5)),
                ),
            ],
            None,
            attr::EXPIRATION_DAYS,
            "Expiration not a whole number",
        ),
        (
            "expiration days beyond any integer",
            vec![
                (attr::CREATE_BUCKET, true.into()),
                (
                    attr::EXPIRATION_DAYS,
                    Value::Number(crate::codec::Number::Decimal("1e30".into())),
                ),
            ],
            None,
            attr::EXPIRATION_DAYS,
            "Expiration out of range",
        ),
        (
            "expiration on a bucket not created here",
            vec![(attr::EXPIRATION_DAYS, Value::int(7))],
            None,
            attr::EXPIRATION_DAYS,
            "expiration_days needs create_bucket",
        ),
        (
            "force_destroy on a bucket not created here",
            vec![(attr::FORCE_DESTROY, true.into())],
            None,
            attr::FORCE_DESTROY,
            "force_destroy needs create_bucket",
        ),
        (
            "insecure without server address",
            vec![(attr::INSECURE, true.into())],
            None,
            attr::INSECURE,
            "insecure needs server_address",
        ),
        (
            "server address with scheme",
            vec![(attr::SERVER_ADDRESS, s("https://minio.local:9000"))],
            None,
            attr::SERVER_ADDRESS,
            "Invalid server address",
        ),
        (
            "server address with a bad port",
            vec![(attr::SERVER_ADDRESS, s("minio.local:http"))],
            None,
            attr::SERVER_ADDRESS,
            "Invalid server address",
        ),
        (
            "policy name with a slash",
            vec![(attr::POLICY_NAME, s("cache/policy"))],
            None,
            attr::POLICY_NAME,
            "Invalid inline policy name",
        ),
        (
            "policy name too long",
            vec![(attr::POLICY_NAME, s(&"p".repeat(129)))],
            None,
            attr::POLICY_NAME,
            "Invalid inline policy name",
        ),
    ];
    assert!(cases.len() >= 15);
    for (what, pairs, region, attribute, summary) in &cases {
        let region = match region {
            Some("none") => None,
            _ => Some(PROVIDER_REGION),
        };
        let planned = plan_in(region, &Value::Null, &config(pairs));
        assert_eq!(
            errors(&planned),
            vec![(attribute.to_string(), summary.to_string())],
            "{what}"
        );
        let detail = &planned.diagnostics.0[0].detail;
        assert!(
            detail.len() > 30,
            "{what}: the detail explains the fix: {detail}"
        );
    }
    println!("{} invalid configurations refused at plan", cases.len());
}

#[test]
fn unknown_values_are_not_refused_until_known() {
    let planned = plan(
        &Value::Null,
        &config(&[
            (attr::ROLE_NAME, Value::Unknown),
            (attr::KMS_KEY_ARN, Value::Unknown),
            (attr::PATH, Value::Unknown),
        ]),
    );
    assert!(planned.diagnostics.is_empty(), "{:?}", planned.diagnostics);
}

#[test]
fn create_plan_knows_every_output_from_known_inputs() {
    let planned = plan(
        &Value::Null,
        &config(&[
            (attr::CREATE_BUCKET, true.into()),
            (attr::KMS_KEY_ARN, KEY.into()),
        ]),
    );
    assert!(planned.diagnostics.is_empty(), "{:?}", planned.diagnostics);
    assert_valid_plan(&planned.change);
    let value = &planned.change.planned;
    assert!(value.is_wholly_known(), "{value:?}");
    assert_eq!(
        value.get(attr::BUCKET_REGION).as_str(),
        Some(PROVIDER_REGION)
    );
    assert_eq!(
        value.get(attr::ID).as_str(),
        Some("runner-manager/runner-cache")
    );
    assert_eq!(
        value.get(attr::POLICY_NAME).as_str(),
        Some("gitlabrunner-cache-runner-cache")
    );
    let toml: toml::Table = toml::from_str(value.get(attr::CONFIG_TOML).as_str().unwrap()).unwrap();
    assert_eq!(
        toml["runners"]["cache"]["s3"]["ServerSideEncryptionKeyID"].as_str(),
        Some(KEY)
    );
    assert!(
        value
            .get(attr::POLICY_DOCUMENT)
            .as_str()
            .unwrap()
            .contains("kms:GenerateDataKey")
    );
    assert_eq!(
        value.get(attr::BUCKET_SETTINGS).get("bucket").as_str(),
        Some("exists in eu-central-1")
    );
    assert_apply_keeps_the_plan(value, &applied(value));
}

#[test]
fn outputs_stay_known_when_only_unrelated_inputs_are_unknown() {
    // The role of a binding created in the same apply: its name is not known yet.
    let planned = plan(&Value::Null, &config(&[(attr::ROLE_NAME, Value::Unknown)]));
    let value = &planned.change.planned;
    assert!(value.get(attr::CONFIG_TOML).as_str().is_some());
    assert!(value.get(attr::HELM_VALUES).as_str().is_some());
    assert!(value.get(attr::POLICY_DOCUMENT).as_str().is_some());
    assert!(value.get(attr::ID).is_unknown());

    // An unknown bucket name leaves what depends on it unknown, and only that.
    let planned = plan(
        &Value::Null,
        &config(&[(attr::BUCKET_NAME, Value::Unknown)]),
    );
    let value = &planned.change.planned;
    for name in [
        attr::CONFIG_TOML,
        attr::POLICY_DOCUMENT,
        attr::POLICY_NAME,
        attr::ID,
    ] {
        assert!(value.get(name).is_unknown(), "{name}");
    }
    assert!(
        value.get(attr::BUCKET_SETTINGS).as_map().is_some(),
        "existing bucket: only its region"
    );
}

#[test]
fn second_plan_after_apply_is_empty() {
    for pairs in [
        vec![],
        vec![
            (attr::CREATE_BUCKET, true.into()),
            (attr::FORCE_DESTROY, true.into()),
        ],
        vec![
            (attr::KMS_KEY_ARN, Value::from(KEY)),
            (attr::PATH, "ci/cache".into()),
        ],
        vec![
            (attr::SERVER_ADDRESS, "minio.local:9000".into()),
            (attr::INSECURE, true.into()),
        ],
        vec![
            (attr::POLICY_NAME, "runner-cache-b".into()),
            (attr::SHARED, true.into()),
        ],
    ] {
        let config = config(&pairs);
        let first = plan(&Value::Null, &config);
        assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
        let state = applied(&first.change.planned);
        assert_apply_keeps_the_plan(&first.change.planned, &state);
        let second = plan(&state, &config);
        assert_eq!(second.change.planned, state, "{pairs:?}");
        assert!(second.change.requires_replace.is_empty());
    }
}

#[test]
fn refreshed_drift_shows_in_the_plan_and_the_repair_is_a_known_update() {
    let config = config(&[(attr::CREATE_BUCKET, true.into())]);
    let state = applied(&plan(&Value::Null, &config).change.planned);
    let mut drifted = state.clone();
    drifted.set_attr(attr::POLICY_DOCUMENT, Value::Null);
    let mut settings = drifted.get(attr::BUCKET_SETTINGS).as_map().unwrap().clone();
    settings.insert("encryption".into(), Value::from("none"));
    drifted.set_attr(attr::BUCKET_SETTINGS, Value::Map(settings));
    let repair = plan(&drifted, &config);
    assert_valid_plan(&repair.change);
    assert_eq!(
        repair.change.planned, state,
        "the plan restores what apply promised"
    );
    assert!(repair.change.requires_replace.is_empty());
}

#[test]
fn config_only_changes_update_in_place() {
    let before = config(&[]);
    let state = applied(&plan(&Value::Null, &before).change.planned);
    let after = config(&[(attr::SHARED, true.into()), (attr::PATH, "other".into())]);
    let update = plan(&state, &after);
    assert!(update.change.requires_replace.is_empty());
    let value = &update.change.planned;
    assert!(
        value
            .get(attr::CONFIG_TOML)
            .as_str()
            .unwrap()
            .contains("Shared = true")
    );
    assert!(
        value
            .get(attr::POLICY_DOCUMENT)
            .as_str()
            .unwrap()
            .contains("other/*")
    );
    assert_eq!(
        value.get(attr::BUCKET_REGION),
        state.get(attr::BUCKET_REGION)
    );
    assert_eq!(value.get(attr::ID), state.get(attr::ID));
}

#[test]
fn the_bucket_region_stays_when_the_provider_region_changes() {
    let config = config(&[(attr::CREATE_BUCKET, true.into())]);
    let state = applied(&plan(&Value::Null, &config).change.planned);
    let later = plan_in(Some("eu-west-1"), &state, &config);
    assert_eq!(later.change.planned, state);
}

#[test]
fn replacements_only_where_the_bucket_cannot_follow() {
    let created = config(&[(attr::CREATE_BUCKET, true.into())]);
    let existing = config(&[]);
    let state_created = applied(&plan(&Value::Null, &created).change.planned);
    let state_existing = applied(&plan(&Value::Null, &existing).change.planned);
    let replaced = |prior: &Value, config: &Value| {
        let mut planned = plan(prior, config);
        planned
            .change
            .requires_replace
            .sort_by_key(|p| format!("{p}"));
        planned
            .change
            .requires_replace
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    // Taking over a bucket that was not this resource's is a new resource.
    assert_eq!(
        replaced(&state_existing, &created),
        vec![attr::CREATE_BUCKET]
    );
    // Releasing the bucket is in place: it stays, unmanaged.
    assert!(replaced(&state_created, &existing).is_empty());
    // A created bucket cannot move; an existing one is only described.
    let moved = |c: &Value| {
        let mut c = c.clone();
        c.set_attr(attr::BUCKET_REGION, "eu-west-1".into());
        c
    };
    assert_eq!(
        replaced(&state_created, &moved(&created)),
        vec![attr::BUCKET_REGION]
    );
    assert!(replaced(&state_existing, &moved(&existing)).is_empty());
    // Identity changes replace (declared in the schema).
    let mut renamed = existing.clone();
    renamed.set_attr(attr::BUCKET_NAME, "other-cache".into());
    assert_eq!(replaced(&state_existing, &renamed), vec![attr::BUCKET_NAME]);
}

#[test]
fn renaming_the_role_updates_in_place_and_keeps_the_bucket_owner() {
    // Issue 15: role_name forced replacement, which destroys (or fails on) a full bucket.
    let before = config(&[(attr::CREATE_BUCKET, true.into())]);
    let state = applied(&plan(&Value::Null, &before).change.planned);
    assert_eq!(
        state.get(attr::BUCKET_OWNER_TAG).as_str(),
        Some("runner-manager/runner-cache")
    );
    let mut after = before.clone();
    after.set_attr(attr::ROLE_NAME, "runner-manager-v2".into());
    let rename = plan(&state, &after);
    assert!(rename.diagnostics.is_empty(), "{:?}", rename.diagnostics);
    assert!(rename.change.requires_replace.is_empty());
    assert_valid_plan(&rename.change);
    let planned = &rename.change.planned;
    assert_eq!(
        planned.get(attr::BUCKET_OWNER_TAG),
        state.get(attr::BUCKET_OWNER_TAG)
    );
    assert_eq!(
        planned.get(attr::ID).as_str(),
        Some("runner-manager-v2/runner-cache")
    );
    assert_eq!(
        planned.get(attr::POLICY_DOCUMENT),
        state.get(attr::POLICY_DOCUMENT)
    );
    let renamed_state = applied(planned);
    assert_apply_keeps_the_plan(planned, &renamed_state);
    assert_eq!(plan(&renamed_state, &after).change.planned, renamed_state);
}

#[test]
fn a_state_of_schema_version_0_upgrades_to_a_plan_without_changes() {
    let config = config(&[(attr::CREATE_BUCKET, true.into())]);
    let state = applied(&plan(&Value::Null, &config).change.planned);
    let ty = schema::schema().block.value_type();
    let mut old = crate::codec::json::encode(&state, &ty).unwrap();
    old.as_object_mut().unwrap().remove(attr::BUCKET_OWNER_TAG);
    let upgraded = CacheResource::new().upgrade_state(0, old).unwrap();
    let upgraded = crate::codec::json::decode(&upgraded, &ty).unwrap();
    assert_eq!(upgraded, state);
    assert_eq!(plan(&upgraded, &config).change.planned, state);
}

#[test]
fn destroy_plans_need_no_provider_region() {
    let state = applied(&plan(&Value::Null, &config(&[])).change.planned);
    let mut change = plan_change(&schema::schema(), &state, &Value::Null, &Value::Null);
    assert!(amend_plan(&mut change, None).is_empty());
    assert!(change.planned.is_null());
}

#[test]
fn import_of_a_default_configuration_plans_nothing() {
    let config = config(&[
        (attr::CREATE_BUCKET, true.into()),
        (attr::PATH, "ci".into()),
    ]);
    let state = applied(&plan(&Value::Null, &config).change.planned);
    let spec = Inputs::from_value(&state).complete().unwrap();
    // What import recovers from AWS for this resource.
    let id = model::parse_id(&spec.id()).unwrap();
    let found = import::Found {
        policy: Some(
            state
                .get(attr::POLICY_DOCUMENT)
                .as_str()
                .unwrap()
                .to_string(),
        ),
        region: Some(spec.bucket_region.clone()),
        tags: bucket::ownership_tags(&spec),
        lifecycle: Vec::new(),
    };
    let recovered = import::recovered_spec(&id, &found).unwrap();
    let imported = state_value(&recovered, &Observed::expected(&recovered));
    assert_eq!(plan(&imported, &config).change.planned, imported);
    assert_eq!(imported, state);
}

#[test]
fn failure_diagnostics_name_the_step_and_what_was_undone() {
    let failure = Failure {
        message: "create the bucket \"c\" in eu-central-1 failed: s3:CreateBucket failed (InternalError): boom".into(),
        attribute: None,
        undone: vec!["delete the inline policy \"p\" from the IAM role \"r\"".into()],
        not_undone: vec![],
        remaining: Observed::default(),
        changed: true,
    };
    let diags = failure_diagnostics("create", "r/c", &failure);
    let d = &diags.0[0];
    assert_eq!(d.summary, "Could not create the GitLab Runner cache r/c");
    assert!(d.detail.contains("s3:CreateBucket") && d.detail.contains("Undone"));
    assert!(!d.detail.contains("NOT undone"));
}

#[test]
fn docs_page_matches_the_schema() {
    use crate::docs::{BEGIN_MARKER, END_MARKER, render_schema};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/resources/cache.md");
    let page = std::fs::read_to_string(&path).expect("docs/resources/cache.md");
    let start = page.find(BEGIN_MARKER).expect("begin marker") + BEGIN_MARKER.len();
    let end = start + page[start..].find(END_MARKER).expect("end marker");
    let generated = format!("\n\n{}\n", render_schema(&schema::schema()).trim_end());
    if page[start..end] != generated {
        if std::env::var_os("GITLABRUNNER_UPDATE_DOCS").is_some() {
            let updated = format!("{}{generated}{}", &page[..start], &page[end..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "docs/resources/cache.md is stale: rerun this test with \
                 GITLABRUNNER_UPDATE_DOCS=1 (or `terraform-provider-gitlabrunner docs`)"
            );
        }
    }
}

#[path = "live_tests.rs"]
mod live;
