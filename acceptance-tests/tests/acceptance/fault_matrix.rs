//! The fault matrix: every API call on the create, refresh, update and delete paths of both
//! resources, failed with a 500, a 403 and a dropped connection, one call per case.
//!
//! The calls are not listed by hand: a reference instance goes through create, update and
//! destroy first, and the AWS and Kubernetes proxies' request logs of each phase are turned
//! into call templates (see `workload::calls`), so a call the provider starts making
//! is covered without touching this file.
//!
//! Faults are injected by the proxies, in front of the AWS emulator and of whichever Kubernetes
//! the run uses (the emulator or a real kube-apiserver), so the matrix runs on both.
//!
//! Each case is its own instance (own token, own names) with one fault aimed at exactly its
//! call; all cases of a phase share one Terraform run (`-parallelism` covers them all), and the
//! four phases of a resource run side by side. Faults are persistent: every attempt of the call
//! fails, so the provider's own retries (the AWS SDK's 10, the Kubernetes client's 30 s budget
//! for 5xx and dropped connections) run out and the apply fails; a single failure would be
//! absorbed by them. That is why a phase takes about a minute: the retries wait.
//!
//! Afterwards, for every case: the apply failed with an error about the case's instance that
//! names the call (`iam:AttachRolePolicy`, `create Role NS/`, ...); `terraform show -json` holds
//! exactly what exists (checked against IAM, S3 and Kubernetes with the harness's clients); and
//! for create cases nothing exists at all. Then the faults go, and `terraform destroy` must
//! leave nothing behind.
//!
//! The binding's proof of wiring (issue 12) reads the cluster's issuer
//! (`GET /.well-known/openid-configuration`) and `iam:GetOpenIDConnectProvider` once per
//! provider process, for every instance at once, so those calls (also taken from the reference
//! create's logs) are failed each in a Terraform run of its own: a read the provider cannot make
//! is a warning or a fallback, never an error and never silence, and nothing is left behind.

use std::sync::Arc;
use std::time::Instant;

use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::aws::proxy::{AwsProxy, RequestRecord};
use gitlabrunner_acceptance::kube_proxy::KubeProxy;
use gitlabrunner_acceptance::say;
use gitlabrunner_acceptance::terraform::{Diagnostic, RunOutput, Severity, State, Workspace};
use gitlabrunner_acceptance::workload::{CallTemplate, FaultKind, templates, token};
use gitlabrunner_acceptance::{Harness, harness};
use tokio::sync::OnceCell;

use crate::workloads::{Bindings, Caches, Workload};

/// The provider block of every fault-matrix workspace: the defaults (retries included).
pub const PROVIDER_BODY: &str = "";

/// Enough parallelism for every case of a batch to run at once.
const PARALLELISM: &str = "-parallelism=200";

/// A phase of the resource lifecycle whose calls are failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `terraform apply` of a new instance.
    Create,
    /// The refresh before a plan, of an existing instance.
    Refresh,
    /// `terraform apply` of a saved plan that updates every part.
    Update,
    /// `terraform apply` of a saved destroy plan.
    Delete,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Refresh => "refresh",
            Phase::Update => "update",
            Phase::Delete => "delete",
        }
    }
}

/// The calls of each phase, from the reference instance's request logs.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Calls of the create apply.
    pub create: Vec<CallTemplate>,
    /// Calls of the refresh of an instance as first created.
    pub refresh: Vec<CallTemplate>,
    /// Calls of the update apply.
    pub update: Vec<CallTemplate>,
    /// Calls of the destroy apply (of an updated instance).
    pub delete: Vec<CallTemplate>,
    /// The proof of wiring's reads in the create apply (once per provider process, not about
    /// the instance).
    pub wiring: Vec<CallTemplate>,
}

impl Reference {
    /// The calls of `phase`.
    pub fn calls(&self, phase: Phase) -> &[CallTemplate] {
        match phase {
            Phase::Create => &self.create,
            Phase::Refresh => &self.refresh,
            Phase::Update => &self.update,
            Phase::Delete => &self.delete,
        }
    }
}

/// The workload objects and references, made once per test process.
pub struct Shared<W: Workload> {
    /// The workload.
    pub workload: Arc<W>,
    /// Its reference calls.
    pub reference: Reference,
}

static BINDINGS: OnceCell<Shared<Bindings>> = OnceCell::const_new();
static CACHES: OnceCell<Shared<Caches>> = OnceCell::const_new();

/// The binding workload and its reference calls.
pub async fn bindings(h: &Harness) -> &'static Shared<Bindings> {
    BINDINGS
        .get_or_init(|| async {
            let workload = Bindings::new(h).await;
            let reference = reference(h, workload.as_ref()).await;
            Shared {
                workload,
                reference,
            }
        })
        .await
}

/// The cache workload and its reference calls.
pub async fn caches(h: &Harness) -> &'static Shared<Caches> {
    CACHES
        .get_or_init(|| async {
            let workload = Arc::new(Caches);
            let reference = reference(h, workload.as_ref()).await;
            Shared {
                workload,
                reference,
            }
        })
        .await
}

/// The calls one phase made: both proxies' logs since they were last cleared (the proxies
/// serve this workspace only).
fn phase_calls(aws: &AwsProxy, kube: &KubeProxy, token: &str) -> Vec<CallTemplate> {
    templates(&aws.requests(), &kube.requests_about(token), token)
}

/// Runs a reference instance through create, refresh + update and destroy, recording the
/// calls of each phase.
async fn reference<W: Workload>(h: &Harness, workload: &W) -> Reference {
    let proxy = h.start_proxy().unwrap();
    let kube = h.start_kube_proxy().unwrap();
    let ws = h.workspace_through(&proxy, &kube).unwrap();
    let spec = workload.initial(&token("ref"));
    let updated = workload.updated(&spec);
    let token = W::token(&spec).to_string();
    workload.prepare(h, std::slice::from_ref(&spec)).await;

    let phase = async |config: Option<String>, plan_args: &[&str]| {
        if let Some(config) = config {
            ws.write("main.tf", &config).unwrap();
        }
        let mut args = vec!["plan", "-input=false", "-no-color", "-out=tfplan"];
        args.extend_from_slice(plan_args);
        proxy.clear_requests();
        kube.clear_requests();
        ws.run_ok(&args).await.unwrap();
        let planned = phase_calls(&proxy, &kube, &token);
        proxy.clear_requests();
        kube.clear_requests();
        ws.run_ok(&["apply", "-input=false", "-no-color", "tfplan"])
            .await
            .unwrap();
        (planned, phase_calls(&proxy, &kube, &token))
    };
    let (_, create) = phase(
        Some(workload.config(PROVIDER_BODY, std::slice::from_ref(&spec))),
        &[],
    )
    .await;
    let wiring = wiring_calls(&proxy.requests(), &kube.requests());
    let (refresh, update) = phase(
        Some(workload.config(PROVIDER_BODY, std::slice::from_ref(&updated))),
        &[],
    )
    .await;
    let (_, delete) = phase(None, &["-destroy"]).await;
    let reference = Reference {
        create,
        refresh,
        update,
        delete,
        wiring,
    };
    say!(
        "fault matrix: {} reference calls: create {}, refresh {}, update {}, delete {}, wiring \
         reads {}",
        W::LABEL,
        reference.create.len(),
        reference.refresh.len(),
        reference.update.len(),
        reference.delete.len(),
        reference.wiring.len()
    );
    for (label, calls) in [
        ("create", &reference.create),
        ("refresh", &reference.refresh),
        ("update", &reference.update),
        ("delete", &reference.delete),
        ("wiring", &reference.wiring),
    ] {
        for call in calls {
            say!("fault matrix:   {} {label}: {call}", W::LABEL);
        }
    }
    workload.tidy(h, &[spec]).await;
    reference
}

/// One case: an instance, and the call of it that fails how.
struct Case<S> {
    spec: S,
    updated: S,
    call: CallTemplate,
    kind: FaultKind,
}

/// The faults of a batch on both proxies, removed again by [`Faults::remove`] (or on drop).
struct Faults<'a> {
    aws: &'a AwsProxy,
    kube: &'a KubeProxy,
}

impl Faults<'_> {
    fn remove(&self) {
        self.aws.clear_faults();
        self.kube.clear_faults();
    }
}

impl Drop for Faults<'_> {
    fn drop(&mut self) {
        self.remove();
    }
}

/// What one phase's cases found.
pub struct PhaseReport {
    /// Cases run.
    pub cases: usize,
    /// One line per problem (empty: every case passed).
    pub problems: Vec<String>,
    /// The workspace, kept for inspection when a case failed.
    pub workspace: Option<Workspace>,
}

/// Runs every case of `phase` for workload `W` and checks them.
pub async fn run_phase<W: Workload>(shared: &Shared<W>, h: &Harness, phase: Phase) -> PhaseReport {
    let started = Instant::now();
    let workload = shared.workload.as_ref();
    let calls = shared.reference.calls(phase);
    assert!(!calls.is_empty(), "the reference {phase:?} made no calls");
    let cases: Vec<Case<W::Spec>> = calls
        .iter()
        .flat_map(|call| FaultKind::ALL.map(|kind| (call.clone(), kind)))
        .enumerate()
        .map(|(i, (call, kind))| {
            let spec = workload.initial(&token(&format!("{}{i:03}", &phase.label()[..1])));
            let updated = workload.updated(&spec);
            Case {
                spec,
                updated,
                call,
                kind,
            }
        })
        .collect();
    let before: Vec<W::Spec> = cases
        .iter()
        .map(|c| match phase {
            Phase::Delete => c.updated.clone(),
            _ => c.spec.clone(),
        })
        .collect();
    workload.prepare(h, &before).await;
    let proxy = h.start_proxy().unwrap();
    let kube = h.start_kube_proxy().unwrap();
    let ws = h.workspace_through(&proxy, &kube).unwrap();
    ws.write("main.tf", &workload.config(PROVIDER_BODY, &before))
        .unwrap();
    if phase != Phase::Create {
        ws.run_ok(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            PARALLELISM,
        ])
        .await
        .unwrap();
    }
    match phase {
        Phase::Update => {
            let after: Vec<W::Spec> = cases.iter().map(|c| c.updated.clone()).collect();
            ws.write("main.tf", &workload.config(PROVIDER_BODY, &after))
                .unwrap();
            plan_to_file(&ws, &[]).await;
        }
        Phase::Delete => plan_to_file(&ws, &["-destroy"]).await,
        Phase::Create | Phase::Refresh => {}
    }

    let faults = Faults {
        aws: &proxy,
        kube: &kube,
    };
    for case in &cases {
        let token = W::token(&case.spec);
        if let Some(rule) = case.call.aws_rule(token, case.kind) {
            proxy.add_fault(rule);
        }
        if let Some(rule) = case.call.kube_rule(token, case.kind) {
            kube.add_fault(rule);
        }
    }
    let run = match phase {
        Phase::Create | Phase::Refresh => {
            ws.run(&[
                "apply",
                "-auto-approve",
                "-input=false",
                "-no-color",
                "-json",
                PARALLELISM,
            ])
            .await
        }
        Phase::Update | Phase::Delete => {
            ws.run(&[
                "apply",
                "-input=false",
                "-no-color",
                "-json",
                PARALLELISM,
                "tfplan",
            ])
            .await
        }
    }
    .unwrap();
    faults.remove();
    let faulted_run = started.elapsed();

    let state = ws.show().await.unwrap();
    let aws = h.aws_clients().await;
    let problems = check_cases(h, workload, &aws, phase, &cases, &run, &state).await;
    // The cleanup runs with the faults gone; a destroy that fails is a finding too.
    let cleanup = ws
        .run(&[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-json",
            PARALLELISM,
        ])
        .await
        .unwrap();
    let mut problems = problems;
    if !cleanup.success() {
        problems.push(format!(
            "destroy after the faults failed: {}",
            gitlabrunner_acceptance::terraform::render(&cleanup.diagnostics())
        ));
    }
    for case in &cases {
        let truth = workload
            .truth(h, &aws, None, &case.updated, &case.spec)
            .await;
        if !truth.objects.is_empty() {
            problems.push(format!(
                "{} after destroy: {:?}",
                W::address(&case.spec),
                truth.objects
            ));
        }
    }
    workload.tidy(h, &before).await;
    let kube_calls = calls.iter().filter(|c| c.is_kube()).count();
    say!(
        "fault matrix: {} {}: {} cases ({} calls: {} AWS, {} Kubernetes; x {} faults), {} problems; faulted run {:.1} s, total {:.1} s",
        W::LABEL,
        phase.label(),
        cases.len(),
        calls.len(),
        calls.len() - kube_calls,
        kube_calls,
        FaultKind::ALL.len(),
        problems.len(),
        faulted_run.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let failed = !problems.is_empty();
    PhaseReport {
        cases: cases.len(),
        problems: problems
            .into_iter()
            .map(|p| format!("{} {}: {p}", W::LABEL, phase.label()))
            .collect(),
        workspace: failed.then_some(ws),
    }
}

async fn plan_to_file(ws: &Workspace, extra: &[&str]) {
    let mut args = vec![
        "plan",
        "-input=false",
        "-no-color",
        "-out=tfplan",
        PARALLELISM,
    ];
    args.extend_from_slice(extra);
    ws.run_ok(&args).await.unwrap();
}

/// The problems of every case, one line each.
async fn check_cases<W: Workload>(
    h: &Harness,
    workload: &W,
    aws: &AwsClients,
    phase: Phase,
    cases: &[Case<W::Spec>],
    run: &RunOutput,
    state: &State,
) -> Vec<String> {
    let diagnostics = run.diagnostics();
    let mut problems = Vec::new();
    for case in cases {
        let token = W::token(&case.spec);
        let address = W::address(&case.spec);
        let label = format!(
            "{address} [{} {} {}]",
            phase.label(),
            case.call,
            case.kind.label()
        );
        let step = case.call.step_text(token);
        let errors = errors_about(&diagnostics, &address, token);
        let names_step = errors
            .iter()
            .any(|d| d.summary.contains(&step) || d.detail.contains(&step));
        if !names_step {
            problems.push(format!(
                "{label}: no error naming {step:?}; errors: {:?}",
                errors.iter().map(|d| d.one_line()).collect::<Vec<_>>()
            ));
        }
        let (spec, other) = match phase {
            Phase::Update | Phase::Delete => (&case.updated, &case.spec),
            Phase::Create | Phase::Refresh => (&case.spec, &case.updated),
        };
        let truth = workload
            .truth(h, aws, state.resource(&address), spec, other)
            .await;
        if !truth.mismatches.is_empty() {
            problems.push(format!(
                "{label}: state is not truthful: {}",
                truth.mismatches.join("; ")
            ));
        }
        if phase == Phase::Create && !truth.objects.is_empty() {
            problems.push(format!(
                "{label}: the failed create left {:?}",
                truth.objects
            ));
        }
    }
    problems
}

/// The errors about one instance: those carrying its address, and (a destroy's diagnostics
/// carry none) those whose text names its token.
pub fn errors_about<'a>(
    diagnostics: &'a [Diagnostic],
    address: &str,
    token: &str,
) -> Vec<&'a Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter(|d| match &d.address {
            Some(a) => a == address,
            None => d.summary.contains(token) || d.detail.contains(token),
        })
        .collect()
}

/// Runs the four phases of `W` side by side and fails with every problem found.
async fn every_phase<W: Workload>(h: &Harness, shared: &Shared<W>) {
    let phases = [Phase::Create, Phase::Refresh, Phase::Update, Phase::Delete];
    let reports = futures::future::join_all(phases.map(|phase| run_phase(shared, h, phase))).await;
    let cases: usize = reports.iter().map(|r| r.cases).sum();
    let problems: Vec<&str> = reports
        .iter()
        .flat_map(|r| &r.problems)
        .map(String::as_str)
        .collect();
    say!(
        "fault matrix: {}: {cases} cases in all, {} problems",
        W::LABEL,
        problems.len()
    );
    let kept: Vec<String> = reports
        .iter()
        .filter_map(|r| r.workspace.as_ref())
        .map(|ws| ws.dir().display().to_string())
        .collect();
    assert!(
        problems.is_empty(),
        "{} problems in the {} fault matrix (workspaces {kept:?}):\n{}",
        problems.len(),
        W::LABEL,
        problems.join("\n")
    );
}

/// The cluster's issuer, read by the proof of wiring.
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The issuer's fallback when the discovery document cannot be read.
const ISSUER_TOKEN_PATH: &str = "/api/v1/namespaces/default/serviceaccounts/default/token";

/// The proof of wiring's reads among a create apply's requests, as fault templates (they name
/// no instance, so the faults hit every instance of the run).
fn wiring_calls(aws: &[RequestRecord], kube: &[RequestRecord]) -> Vec<CallTemplate> {
    let mut calls = Vec::new();
    if aws
        .iter()
        .any(|r| r.kind() == "iam:GetOpenIDConnectProvider")
    {
        calls.push(CallTemplate::Aws {
            service: "iam".into(),
            operation: "GetOpenIDConnectProvider".into(),
            params: Vec::new(),
            bucket: None,
        });
    }
    let discovery = |r: &RequestRecord| {
        r.method == "GET" && gitlabrunner_acceptance::kube_proxy::path_of(r) == Some(DISCOVERY_PATH)
    };
    if kube.iter().any(discovery) {
        calls.push(CallTemplate::Kube {
            method: "GET".into(),
            path: DISCOVERY_PATH.into(),
        });
    }
    calls
}

/// One wiring read failed with `kind` for a new binding, in a run of its own: the create still
/// succeeds, with the warning that names the read (`iam:GetOpenIDConnectProvider`) or through
/// the issuer's fallback (a TokenRequest); the state is truthful; the destroy leaves nothing.
async fn wiring_case(
    shared: &Shared<Bindings>,
    h: &Harness,
    index: usize,
    call: &CallTemplate,
    kind: FaultKind,
) -> Vec<String> {
    let workload = shared.workload.as_ref();
    let spec = workload.initial(&token(&format!("w{index:03}")));
    let token = Bindings::token(&spec).to_string();
    let address = Bindings::address(&spec);
    let label = format!("{address} [wiring {call} {}]", kind.label());
    workload.prepare(h, std::slice::from_ref(&spec)).await;
    let proxy = h.start_proxy().unwrap();
    let kube = h.start_kube_proxy().unwrap();
    let ws = h.workspace_through(&proxy, &kube).unwrap();
    ws.write(
        "main.tf",
        &workload.config(PROVIDER_BODY, std::slice::from_ref(&spec)),
    )
    .unwrap();
    let faults = Faults {
        aws: &proxy,
        kube: &kube,
    };
    if let Some(rule) = call.aws_rule(&token, kind) {
        proxy.add_fault(rule);
    }
    if let Some(rule) = call.kube_rule(&token, kind) {
        kube.add_fault(rule);
    }
    let run = ws
        .run(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-json",
        ])
        .await
        .unwrap();
    faults.remove();
    let mut problems = Vec::new();
    let fired = proxy
        .requests()
        .iter()
        .chain(kube.requests().iter())
        .filter(|r| r.fault.is_some())
        .count();
    if fired == 0 {
        problems.push(format!("{label}: the fault never fired"));
    }
    let diagnostics = run.diagnostics();
    if !run.success() {
        problems.push(format!(
            "{label}: the create failed: {}",
            gitlabrunner_acceptance::terraform::render(&diagnostics)
        ));
    }
    let step = call.step_text(&token);
    let said = match call {
        CallTemplate::Aws { .. } => diagnostics.iter().any(|d| {
            d.severity == Severity::Warning
                && d.address.as_deref() == Some(address.as_str())
                && d.detail.contains(&step)
        }),
        // The issuer comes from the fallback instead.
        CallTemplate::Kube { .. } => kube.requests().iter().any(|r| {
            r.method == "POST"
                && gitlabrunner_acceptance::kube_proxy::path_of(r) == Some(ISSUER_TOKEN_PATH)
        }),
    };
    if !said {
        problems.push(format!(
            "{label}: neither a warning naming {step:?} nor the issuer's fallback; \
             diagnostics: {:?}",
            diagnostics.iter().map(|d| d.one_line()).collect::<Vec<_>>()
        ));
    }
    let aws = h.aws_clients().await;
    let state = ws.show().await.unwrap();
    let truth = workload
        .truth(h, &aws, state.resource(&address), &spec, &spec)
        .await;
    if !truth.mismatches.is_empty() {
        problems.push(format!(
            "{label}: state is not truthful: {}",
            truth.mismatches.join("; ")
        ));
    }
    let cleanup = ws
        .run(&[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-json",
        ])
        .await
        .unwrap();
    if !cleanup.success() {
        problems.push(format!(
            "{label}: destroy failed: {}",
            gitlabrunner_acceptance::terraform::render(&cleanup.diagnostics())
        ));
    }
    let left = workload.truth(h, &aws, None, &spec, &spec).await.objects;
    if !left.is_empty() {
        problems.push(format!("{label}: left after destroy: {left:?}"));
    }
    workload.tidy(h, &[spec]).await;
    problems
}

#[tokio::test]
async fn binding_survives_faults_in_the_wiring_reads() {
    let test = "binding_survives_faults_in_the_wiring_reads";
    let Some(h) = harness(test).await else { return };
    let shared = bindings(&h).await;
    let calls = &shared.reference.wiring;
    assert_eq!(
        calls.len(),
        2,
        "the reference create reads the cluster's issuer and the OIDC provider: {calls:?}"
    );
    let cases: Vec<(CallTemplate, FaultKind)> = calls
        .iter()
        .flat_map(|call| FaultKind::ALL.map(|kind| (call.clone(), kind)))
        .collect();
    let started = Instant::now();
    let reports = futures::future::join_all(
        cases
            .iter()
            .enumerate()
            .map(|(i, (call, kind))| wiring_case(shared, &h, i, call, *kind)),
    )
    .await;
    let problems: Vec<String> = reports.into_iter().flatten().collect();
    say!(
        "fault matrix: binding wiring reads: {} cases ({} calls x {} faults), {} problems, {:.1} s",
        cases.len(),
        calls.len(),
        FaultKind::ALL.len(),
        problems.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn binding_fails_cleanly_at_every_call_of_every_phase() {
    let test = "binding_fails_cleanly_at_every_call_of_every_phase";
    let Some(h) = harness(test).await else { return };
    every_phase(&h, bindings(&h).await).await;
}

#[tokio::test]
async fn cache_fails_cleanly_at_every_call_of_every_phase() {
    let test = "cache_fails_cleanly_at_every_call_of_every_phase";
    let Some(h) = harness(test).await else { return };
    every_phase(&h, caches(&h).await).await;
}
