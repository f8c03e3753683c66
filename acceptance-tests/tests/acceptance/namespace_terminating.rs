//! A grant whose job namespace is being deleted (issue 13): the API server refuses every
//! create in a Terminating namespace with 403 and the cause `NamespaceTerminating`, even for
//! `system:masters`. The provider must say so, not send the user to fix RBAC, and must not
//! spend its retry budget on it. A finalizer on an object inside the namespace holds it in
//! Terminating for the length of the test, on the emulator and on a real cluster alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use gitlabrunner_acceptance::Harness;
use gitlabrunner_acceptance::runtime::shared_runtime;

use crate::binding_support::{Fixture, binding, grant};

/// A finalizer nothing in the cluster removes.
const HOLD: &str = "acceptance.gitlabrunner.test/hold";
/// The ConfigMap carrying [`HOLD`].
const HELD: &str = "acc-held";

/// Removes [`HOLD`] from the held ConfigMap when dropped, so that a failing test does not
/// leave the namespace Terminating for ever on a real cluster.
struct ReleaseOnDrop {
    h: Arc<Harness>,
    namespace: String,
}

/// Removes [`HOLD`] from the held ConfigMap (gone already is fine).
async fn release(configmaps: &Api<ConfigMap>) -> Result<(), kube::Error> {
    let patch = json!({"metadata": {"finalizers": null}});
    match configmaps
        .patch(HELD, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        let h = self.h.clone();
        let namespace = self.namespace.clone();
        // Drop runs inside the test's runtime: release on a thread of its own, with a client
        // of the process's background runtime (as `Fixture` cleans up).
        let _ = std::thread::spawn(move || {
            shared_runtime().block_on(async move {
                if let Ok(client) = h.kubernetes().unwrap().client().await {
                    let _ = release(&Api::namespaced(client, &namespace)).await;
                }
            })
        })
        .join();
    }
}

/// Whether a create in `namespace` is refused because the namespace is terminating (a dry
/// run, so nothing is created if it is not).
async fn creates_are_refused(configmaps: &Api<ConfigMap>, namespace: &str) -> bool {
    let probe = ConfigMap {
        metadata: ObjectMeta {
            name: Some("acc-probe".into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match configmaps.create(&dry_run, &probe).await {
        Err(kube::Error::Api(status)) => {
            status.code == 403
                && status.details.as_ref().is_some_and(|d| {
                    d.causes
                        .iter()
                        .any(|cause| cause.reason == "NamespaceTerminating")
                })
        }
        _ => false,
    }
}

/// Polls `condition` every 200 ms until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if condition().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_grant_into_a_terminating_namespace_says_the_namespace_is_being_deleted() {
    let Some(f) = Fixture::new(
        "a_grant_into_a_terminating_namespace_says_the_namespace_is_being_deleted",
        1,
    )
    .await
    else {
        return;
    };
    let job = f.jobs[0].clone();
    let configmaps: Api<ConfigMap> = Api::namespaced(f.kube.clone(), &job);
    let namespaces: Api<Namespace> = Api::all(f.kube.clone());

    // Hold the job namespace in Terminating: an object with a finalizer, then delete it.
    let held = ConfigMap {
        metadata: ObjectMeta {
            name: Some(HELD.into()),
            namespace: Some(job.clone()),
            finalizers: Some(vec![HOLD.into()]),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    configmaps
        .create(&PostParams::default(), &held)
        .await
        .expect("create the held ConfigMap");
    let _release = ReleaseOnDrop {
        h: f.h.clone(),
        namespace: job.clone(),
    };
    namespaces
        .delete(&job, &DeleteParams::default())
        .await
        .expect("delete the job namespace");
    assert!(
        eventually(Duration::from_secs(30), || creates_are_refused(
            &configmaps,
            &job
        ))
        .await,
        "creates in {job} were never refused with NamespaceTerminating"
    );
    let phase = namespaces
        .get(&job)
        .await
        .expect("the namespace is still there")
        .status
        .and_then(|s| s.phase);
    assert_eq!(phase.as_deref(), Some("Terminating"));

    // A binding granting into it: a diagnostic about the namespace, at once, nothing left.
    let ws = f.workspace();
    ws.write(
        "main.tf",
        &binding(&f, &grant(&job, Some("kubernetes-executor"), &[])),
    )
    .unwrap();
    let started = Instant::now();
    let diagnostics = ws.apply_expect_error().await.unwrap();
    let took = started.elapsed();
    let error = diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("no error in {diagnostics:?}"));
    let text = error.one_line();
    assert!(
        error.summary.starts_with("Failed to create IRSA binding"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "unable to create new content in namespace {job} because it is being terminated"
        )),
        "the server's refusal is quoted: {text}"
    );
    assert!(
        text.contains("The namespace is being deleted"),
        "the hint names the cause: {text}"
    );
    assert!(
        !text.contains("is not allowed to do this"),
        "a terminating namespace is not an RBAC problem: {text}"
    );
    // The Kubernetes retry budget is 30 s; a refusal that cannot heal is not retried.
    assert!(
        took < Duration::from_secs(25),
        "the apply took {took:?}: the refusal was retried"
    );
    assert!(ws.show().await.unwrap().is_empty(), "nothing in state");
    assert!(
        f.iam_role(&f.default_role_name()).await.is_none(),
        "the IAM role was rolled back"
    );
    assert!(
        f.service_account().await.is_none(),
        "the ServiceAccount was rolled back"
    );

    // Release the namespace: without the finalizer it goes.
    release(&configmaps).await.expect("remove the finalizer");
    assert!(
        eventually(Duration::from_secs(120), || async {
            matches!(namespaces.get_opt(&job).await, Ok(None))
        })
        .await,
        "namespace {job} is still there after its last finalizer went"
    );
}
