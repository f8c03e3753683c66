//! Namespaces a test makes, deleted when the test ends, whether it passed or panicked, so a
//! run leaves a real cluster's namespace list as it found it (`real-kube.sh leaks` checks
//! that after the `acc-kube` stage).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

use crate::harness::{Harness, HarnessError};
use crate::runtime::shared_runtime;

/// The namespaces one test created; dropping it deletes them. On a real cluster they are
/// then Terminating until kube-controller-manager has emptied them.
pub struct TestNamespaces {
    harness: Arc<Harness>,
    client: kube::Client,
    names: Vec<String>,
}

impl std::fmt::Debug for TestNamespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespaces")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl TestNamespaces {
    /// An empty set for a test of `harness`'s process.
    pub async fn new(harness: Arc<Harness>) -> Result<Self, HarnessError> {
        let client = harness.kubernetes()?.client().await?;
        Ok(Self {
            harness,
            client,
            names: Vec::new(),
        })
    }

    /// Creates a namespace named [`unique_name`](crate::unique_name)`(prefix)` and returns its
    /// name; panics when the cluster refuses.
    pub async fn create(&mut self, prefix: &str) -> String {
        let name = crate::unique_name(prefix);
        self.create_named(&name).await;
        name
    }

    /// Creates the namespace `name`; panics when the cluster refuses (an existing one too: it
    /// would not be this test's to delete).
    pub async fn create_named(&mut self, name: &str) {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
        self.names.push(name.to_string());
    }

    /// What was created, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl Drop for TestNamespaces {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.names);
        if names.is_empty() {
            return;
        }
        let harness = self.harness.clone();
        // Drop runs inside the test's runtime: delete from a thread of its own, on the
        // process's background runtime, with a client of that runtime.
        let cleanup = std::thread::spawn(move || {
            shared_runtime().block_on(async move {
                let client = match harness.kubernetes() {
                    Ok(target) => target.client().await,
                    Err(_) => return,
                };
                let Ok(client) = client else { return };
                let api = Api::<Namespace>::all(client);
                for name in names {
                    match api.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(status)) if status.code == 404 => {}
                        Err(error) => {
                            crate::say!("could not delete namespace {name}: {error}");
                        }
                    }
                }
            })
        });
        let _ = cleanup.join();
    }
}
