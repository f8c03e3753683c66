//! SIGKILL of the provider at every step of a create, as a crash or an OOM kill would do it.
//!
//! The steps are the calls of the reference create (see `fault_matrix`). For each, one instance
//! is created with a fault that lets exactly that call take effect and then holds its answer
//! (a `DelayResponse` of the AWS or the Kubernetes proxy, so this runs against the emulator and
//! a real kube-apiserver alike): the worst moment, when
//! the object exists and the provider never learnt it. Once the request is held, the test kills
//! the `terraform-provider-gitlabrunner` process of that workspace; Terraform reports the
//! plugin crash. The faults go, and the next `terraform apply` must either converge (the
//! provider recognises its own leftovers by their ownership tag, annotation and label) with
//! exactly one of each object and an empty plan after it, or stop with a message naming the
//! object to delete; which one is asserted per step. All steps run side by side.

use std::time::{Duration, Instant};

use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::provider_process::{kill, provider_pids};
use gitlabrunner_acceptance::say;
use gitlabrunner_acceptance::terraform::{RunOutput, Workspace};
use gitlabrunner_acceptance::workload::{CacheSpec, CallTemplate, token};
use gitlabrunner_acceptance::{Harness, harness};

use crate::fault_matrix::{PROVIDER_BODY, Shared, bindings, caches, errors_about};
use crate::workloads::Workload;

/// How long a held answer waits (the test kills the provider long before).
const HOLD: Duration = Duration::from_secs(120);

/// How long a step may take to be reached.
const REACH_LIMIT: Duration = Duration::from_secs(120);

/// What the apply after the crash must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Succeed, with nothing duplicated and an empty plan after it.
    Converges,
    /// Fail with an error whose text contains all of these (the object to delete or import,
    /// and what to do); once the test deletes that object, the apply after it converges.
    StopsNaming(Vec<String>),
}

/// One step's outcome, or why it is wrong.
type StepResult = Result<String, String>;

/// Kills the provider while `call` of a new instance is held, then applies again.
async fn kill_at<W: Workload>(
    h: &Harness,
    workload: &W,
    index: usize,
    call: &CallTemplate,
    expected: impl Fn(&CallTemplate, &W::Spec) -> After,
    remove: impl AsyncFn(&W::Spec),
) -> StepResult {
    let spec = workload.initial(&token(&format!("k{index:02}")));
    let expected = expected(call, &spec);
    let token = W::token(&spec).to_string();
    let label = format!("{} kill at {call}", W::LABEL);
    workload.prepare(h, std::slice::from_ref(&spec)).await;
    let proxy = h.start_proxy().unwrap();
    let kube = h.start_kube_proxy().unwrap();
    let ws = h.workspace_through(&proxy, &kube).unwrap();
    ws.write(
        "main.tf",
        &workload.config(PROVIDER_BODY, std::slice::from_ref(&spec)),
    )
    .unwrap();
    if let Some(rule) = call.kube_hold(&token, HOLD) {
        kube.add_fault(rule);
    }
    if let Some(rule) = call.aws_hold(&token, HOLD) {
        proxy.add_fault(rule);
    }
    // Held, and every other call of the workspace answered: the provider waits at exactly
    // this step (the calls it started beside it took effect).
    let is_held = || {
        let held = match call {
            CallTemplate::Aws { .. } => !proxy.held_requests().is_empty(),
            CallTemplate::Kube { .. } => kube
                .held_requests()
                .iter()
                .any(|held| call.is_held_kube(held, &token)),
        };
        let waiting = proxy.held_requests().len() + kube.held_requests().len();
        held && proxy.in_flight() + kube.in_flight() == waiting
    };
    let killer = async {
        let started = Instant::now();
        while !is_held() {
            if started.elapsed() > REACH_LIMIT {
                return Err(format!("{label}: the step was not reached"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pids = provider_pids(ws.dir());
        if pids.is_empty() {
            return Err(format!("{label}: no provider process to kill"));
        }
        for pid in &pids {
            kill(*pid);
        }
        Ok(pids.len())
    };
    let apply = ws.run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-json",
    ]);
    let (killed, crashed) = tokio::join!(killer, apply);
    proxy.clear_faults();
    kube.clear_faults();
    let crashed = crashed.unwrap();
    let outcome = async {
        killed?;
        if crashed.success() {
            return Err(format!("{label}: the apply survived the kill"));
        }
        let crash_text = format!("{}{}", crashed.stdout, crashed.stderr);
        if !crash_text.contains("plugin") {
            return Err(format!(
                "{label}: Terraform did not report the plugin crash: {}",
                tail(&crashed)
            ));
        }
        let again = apply_json(&ws).await;
        let reported = match &expected {
            After::Converges => {
                if !again.success() {
                    return Err(format!(
                        "{label}: the apply after the crash failed: {}",
                        tail(&again)
                    ));
                }
                "converged".to_string()
            }
            After::StopsNaming(texts) => {
                let diagnostics = again.diagnostics();
                let errors = errors_about(&diagnostics, &W::address(&spec), &token);
                let named = errors.iter().find(|d| {
                    let text = format!("{}\n{}", d.summary, d.detail);
                    texts.iter().all(|t| text.contains(t))
                });
                let Some(named) = named else {
                    return Err(format!(
                        "{label}: expected the apply after the crash to stop naming {texts:?}: {}",
                        tail(&again)
                    ));
                };
                let told = named.one_line();
                remove(&spec).await;
                let last = apply_json(&ws).await;
                if !last.success() {
                    return Err(format!(
                        "{label}: the apply after deleting what it named failed: {}",
                        tail(&last)
                    ));
                }
                format!("stopped: {told}")
            }
        };
        let aws = h.aws_clients().await;
        let state = ws.show().await.unwrap();
        let truth = workload
            .truth(h, &aws, state.resource(&W::address(&spec)), &spec, &spec)
            .await;
        if !truth.mismatches.is_empty() {
            return Err(format!(
                "{label}: state is not truthful after converging: {:?}",
                truth.mismatches
            ));
        }
        if let Some(duplicates) = role_duplicates(&aws, &token).await {
            return Err(format!("{label}: {duplicates}"));
        }
        let plan = ws.plan().await.unwrap();
        if !plan.is_empty() {
            return Err(format!(
                "{label}: the plan after converging is not empty: {}",
                plan.summary()
            ));
        }
        Ok(format!("{label}: {reported}"))
    }
    .await;
    let destroyed = ws
        .run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        .await
        .unwrap();
    workload.tidy(h, std::slice::from_ref(&spec)).await;
    if outcome.is_err() {
        keep(ws);
    }
    if !destroyed.success() {
        return Err(format!("{label}: destroy failed: {}", tail(&destroyed)));
    }
    outcome
}

/// Keeps a failed step's workspace for inspection (its folder is removed on drop otherwise).
fn keep(ws: Workspace) {
    say!("kill: kept the workspace {}", ws.dir().display());
    std::mem::forget(ws);
}

async fn apply_json(ws: &Workspace) -> RunOutput {
    ws.run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-json",
    ])
    .await
    .unwrap()
}

fn tail(run: &RunOutput) -> String {
    let diagnostics = gitlabrunner_acceptance::terraform::render(&run.diagnostics());
    if diagnostics.is_empty() {
        gitlabrunner_acceptance::process::tail_of_text(&run.stderr, 20)
    } else {
        diagnostics
    }
}

/// Duplicates in IAM: the instance's token must name exactly one role when it has one
/// (Kubernetes duplicates show in the labelled inventory, which the truth check covers).
async fn role_duplicates(aws: &AwsClients, token: &str) -> Option<String> {
    let mut roles = Vec::new();
    let mut pages = aws.iam.list_roles().into_paginator().items().send();
    while let Some(role) = pages.next().await {
        let role = role.ok()?;
        if role.role_name().contains(token) {
            roles.push(role.role_name().to_string());
        }
    }
    (roles.len() > 1).then(|| format!("several IAM roles for one instance: {roles:?}"))
}

/// Kills the provider at every create step of `W` side by side.
async fn every_step<W: Workload>(
    h: &Harness,
    shared: &Shared<W>,
    expected: impl Fn(&CallTemplate, &W::Spec) -> After + Clone,
    remove: impl AsyncFn(&W::Spec) + Clone,
) {
    let steps = &shared.reference.create;
    let runs = steps.iter().enumerate().map(|(i, call)| {
        kill_at(
            h,
            shared.workload.as_ref(),
            i,
            call,
            expected.clone(),
            remove.clone(),
        )
    });
    let results = futures::future::join_all(runs).await;
    for line in results.iter().flatten() {
        say!("kill: {line}");
    }
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    say!(
        "kill: {}: {} steps, {} converged, {} stopped naming the object, {} failed",
        W::LABEL,
        results.len(),
        results
            .iter()
            .flatten()
            .filter(|l| l.ends_with("converged"))
            .count(),
        results
            .iter()
            .flatten()
            .filter(|l| l.contains(": stopped: "))
            .count(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} kill steps failed:\n{}",
        failures.len(),
        results.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test]
async fn binding_create_killed_at_any_step_converges_on_the_next_apply() {
    let test = "binding_create_killed_at_any_step_converges_on_the_next_apply";
    let Some(h) = harness(test).await else { return };
    let shared = bindings(&h).await;
    every_step(&h, shared, |_, _| After::Converges, async |_| {}).await;
}

/// The bucket is created in the same phase as the policy, and tagged (as the resource's) only
/// in the next: a crash in between leaves an untagged bucket the resource must not take for
/// its own. The apply after it stops naming the bucket; the test deletes it, as the message
/// says.
fn cache_expectation(call: &CallTemplate, spec: &CacheSpec) -> After {
    let second_phase = matches!(
        call,
        CallTemplate::Aws { operation, .. }
            if operation == "CreateBucket" || operation == "PutRolePolicy"
    );
    if second_phase {
        After::StopsNaming(vec![
            format!("s3://{}", spec.bucket_name),
            "delete it".to_string(),
        ])
    } else {
        After::Converges
    }
}

#[tokio::test]
async fn cache_create_killed_at_any_step_converges_or_names_the_bucket_to_delete() {
    let test = "cache_create_killed_at_any_step_converges_or_names_the_bucket_to_delete";
    let Some(h) = harness(test).await else { return };
    let shared = caches(&h).await;
    let remove = async |spec: &CacheSpec| {
        let aws = h.aws_clients().await;
        aws.s3
            .delete_bucket()
            .bucket(&spec.bucket_name)
            .send()
            .await
            .unwrap();
    };
    every_step(&h, shared, cache_expectation, remove).await;
}
