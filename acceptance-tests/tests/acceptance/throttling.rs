//! 20 bindings in one apply while IAM throttles 30% of the calls (seeded) and Kubernetes
//! answers some requests 429 with `Retry-After`: the apply succeeds within the bounded retries,
//! and the final state is the same as that of 20 bindings applied without faults beside it.
//! Both kinds of throttling are injected by proxies (AWS, Kubernetes), so this runs against
//! the emulator and a real kube-apiserver alike.

use std::collections::BTreeMap;

use gitlabrunner_acceptance::aws::proxy::{
    FaultAction, FaultRule, Matcher, RequestRecord, Trigger,
};
use gitlabrunner_acceptance::harness;
use gitlabrunner_acceptance::kube_proxy::call;
use gitlabrunner_acceptance::say;
use gitlabrunner_acceptance::terraform::{State, Workspace};
use gitlabrunner_acceptance::workload::{BindingSpec, token};
use serde_json::Value;

use crate::fault_matrix::{PROVIDER_BODY, bindings};
use crate::workloads::Workload;

const BINDINGS: usize = 20;
const THROTTLED_SHARE: f64 = 0.3;
const SEED: u64 = 20_260_601;
/// The provider's default `aws.max_retries` plus the first attempt.
const MAX_ATTEMPTS: usize = 11;

/// The 429s: every other binding's ServiceAccount create once, every third binding's first
/// Role create twice, with `Retry-After: 1`.
fn kube_throttling(specs: &[BindingSpec]) -> Vec<FaultRule> {
    let too_many = || FaultAction::kube_too_many_requests(1);
    let mut faults = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if i % 2 == 0 {
            let path = format!("/api/v1/namespaces/{}/serviceaccounts", spec.namespace);
            faults.push(FaultRule::nth(call("POST", &path), 1, too_many()));
        }
        if i % 3 == 0 {
            let namespace = &spec.grants[0].0;
            let path = format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles");
            faults.push(FaultRule::window(call("POST", &path), 1, 2, too_many()));
        }
    }
    faults
}

/// How many requests `rule` fails.
fn fires(rule: &FaultRule) -> u64 {
    match rule.trigger {
        Trigger::Nth(_) => 1,
        Trigger::Window { count, .. } => count,
        Trigger::Always | Trigger::Probability(_) => unreachable!("not used for Kubernetes"),
    }
}

/// How many attempts each distinct IAM call took (operation and the parameters naming its
/// object).
fn attempts(log: &[RequestRecord]) -> BTreeMap<String, usize> {
    let mut attempts = BTreeMap::new();
    for record in log.iter().filter(|r| r.service == "iam") {
        let key = format!(
            "{} {} {} {}",
            record.operation,
            record.param("RoleName").unwrap_or(""),
            record.param("PolicyArn").unwrap_or(""),
            record.param("PolicyName").unwrap_or("")
        );
        *attempts.entry(key).or_insert(0) += 1;
    }
    attempts
}

/// A binding's state values with its token replaced and the ids the services assign removed,
/// to compare bindings made in different runs.
fn normalized(state: &State, spec: &BindingSpec) -> Value {
    let values = state
        .resource(&spec.address())
        .map(|r| r.values.clone())
        .unwrap_or(Value::Null);
    let text = values.to_string().replace(&spec.token, "{token}");
    let mut value: Value = serde_json::from_str(&text).unwrap();
    if let Some(object) = value.as_object_mut() {
        for assigned in ["role_unique_id", "service_account_uid"] {
            let present = object.get(assigned).is_some_and(|v| !v.is_null());
            object.insert(assigned.to_string(), Value::Bool(present));
        }
    }
    value
}

#[tokio::test]
async fn twenty_bindings_apply_under_throttling_with_the_same_result_as_without() {
    let test = "twenty_bindings_apply_under_throttling_with_the_same_result_as_without";
    let Some(h) = harness(test).await else { return };
    let shared = bindings(&h).await;
    let workload = shared.workload.as_ref();
    let throttled: Vec<BindingSpec> = (0..BINDINGS)
        .map(|i| workload.initial(&token(&format!("t{i:02}"))))
        .collect();
    let calm: Vec<BindingSpec> = (0..BINDINGS)
        .map(|i| workload.initial(&token(&format!("n{i:02}"))))
        .collect();
    workload
        .prepare(&h, &[throttled.clone(), calm.clone()].concat())
        .await;

    let proxy = h.start_proxy().unwrap();
    proxy.set_seed(SEED);
    proxy.add_fault(FaultRule::probability(
        Matcher::service("iam"),
        THROTTLED_SHARE,
        FaultAction::throttling(),
    ));
    let kube = h.start_kube_proxy().unwrap();
    let kube_faults = kube_throttling(&throttled);
    for rule in &kube_faults {
        kube.add_fault(rule.clone());
    }
    let ws = h.workspace_through(&proxy, &kube).unwrap();
    ws.write("main.tf", &workload.config(PROVIDER_BODY, &throttled))
        .unwrap();
    let calm_ws = h.workspace().unwrap();
    calm_ws
        .write("main.tf", &workload.config(PROVIDER_BODY, &calm))
        .unwrap();

    let (applied, calm_applied) = tokio::join!(ws.apply(), calm_ws.apply());
    let applied = applied.unwrap();
    calm_applied.unwrap();
    let log = proxy.requests();
    let iam_calls = log.iter().filter(|r| r.service == "iam").count();
    let throttles = log
        .iter()
        .filter(|r| r.fault.as_deref() == Some("400 Throttling"))
        .count();
    let most = attempts(&log).into_values().max().unwrap_or(0);
    let kube_429 = kube
        .requests()
        .iter()
        .filter(|r| r.status == Some(429) && r.fault.is_some())
        .count();
    say!(
        "throttling: {BINDINGS} bindings applied in {:.1} s; IAM {throttles} of {iam_calls} requests throttled; at most {most} attempts for one call; {kube_429} Kubernetes 429s",
        applied.duration.as_secs_f64()
    );
    assert!(throttles > iam_calls / 10, "{throttles} of {iam_calls}");
    assert!(most <= MAX_ATTEMPTS, "a call took {most} attempts");
    let expected_429: u64 = kube_faults.iter().map(fires).sum();
    assert_eq!(kube_429 as u64, expected_429);

    let (state, calm_state) = (ws.show().await.unwrap(), calm_ws.show().await.unwrap());
    let aws = h.aws_clients().await;
    let mut problems = Vec::new();
    for (spec, twin) in throttled.iter().zip(&calm) {
        let (got, want) = (normalized(&state, spec), normalized(&calm_state, twin));
        if got != want {
            problems.push(format!(
                "{}: state differs from the unthrottled twin:\n{got}\n{want}",
                spec.address()
            ));
        }
        let truth = workload
            .truth(&h, &aws, state.resource(&spec.address()), spec, spec)
            .await;
        if !truth.mismatches.is_empty() {
            problems.push(format!("{}: {:?}", spec.address(), truth.mismatches));
        }
    }
    let plan = ws.plan().await.unwrap();
    assert!(plan.is_empty(), "{}", plan.summary());
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Destroy under the same throttling (the 429s are used up).
    destroy_and_check(&h, &ws, &throttled).await;
    destroy_and_check(&h, &calm_ws, &calm).await;
    workload.tidy(&h, &[throttled, calm].concat()).await;
}

async fn destroy_and_check(
    h: &gitlabrunner_acceptance::Harness,
    ws: &Workspace,
    specs: &[BindingSpec],
) {
    ws.destroy().await.unwrap();
    let aws = h.aws_clients().await;
    let workload = bindings(h).await.workload.as_ref();
    for spec in specs {
        let truth = workload.truth(h, &aws, None, spec, spec).await;
        assert!(
            truth.objects.is_empty(),
            "{} after destroy: {:?}",
            spec.address(),
            truth.objects
        );
    }
}
