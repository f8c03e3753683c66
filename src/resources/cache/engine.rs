//! Create, update, delete, read and import as sequences of concurrent phases over
//! [`CacheApi`], all or nothing: every change made is journaled with how to undo it, a failure
//! undoes the journal in reverse, and what exists afterwards is tracked exactly, so the state
//! returned never claims more or less than what is there.
//!
//! Round trips: create is 3 phases (checks; policy + bucket; bucket settings), update 3 at most
//! (4 when the role is renamed: the old role's policy goes last), delete 2 (4 plus the listing pages with `force_destroy`), read 1.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::aws::{Arn, AwsError, AwsErrorKind, policy};
use crate::concurrency::Fanout;
use crate::retry::{Backoff, RetryError, retry};

use super::api::CacheApi;
use super::bucket::{Setting, SettingKind, desired_settings, is_owned, ownership_tags};
use super::model::CacheSpec;
use super::schema::attr;
use super::state::{Observed, ObservedBucket};

/// How long bucket writes right after `CreateBucket` are retried while S3 settles (a new
/// bucket can briefly answer `NoSuchBucket`; concurrent configuration writes can answer
/// `OperationAborted`).
pub const SETTLE: Backoff = Backoff::new(
    Duration::from_millis(200),
    Duration::from_secs(2),
    Duration::from_secs(30),
);

/// How long a role that is not there yet is waited for: IAM is eventually consistent, and the
/// role may have been created by another resource moments ago.
pub const ROLE_PROPAGATION: Backoff = Backoff::new(
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(10),
);

/// A change to the remote objects.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    PutPolicy(String),
    DeletePolicy,
    /// Removes the policy from the role the cache had before a rename (`document` is what it
    /// held, to put back if a later step fails).
    DeletePolicyFromOldRole {
        role: String,
        document: String,
    },
    /// Puts the policy back on the old role (only ever an undo).
    RestorePolicyOnOldRole {
        role: String,
        document: String,
    },
    CreateBucket,
    DeleteBucket,
    EmptyBucket,
    PutTags(BTreeMap<String, String>),
    PutSetting(Setting),
}

/// Why an operation stopped, what was undone, and what exists now.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong: a step and its AWS error, or a check that failed.
    pub message: String,
    /// The attribute the failure is about, when it is the user's to fix.
    pub attribute: Option<&'static str>,
    /// Changes undone after the failure.
    pub undone: Vec<String>,
    /// Changes that could not be undone, with why.
    pub not_undone: Vec<String>,
    /// What exists now.
    pub remaining: Observed,
    /// Whether anything was changed before the failure (if not, the prior state still holds).
    pub changed: bool,
}

/// What an operation returns when it stops (boxed: it is large, and rare).
pub type Failed = Box<Failure>;

impl Failure {
    /// A check that failed before any change.
    fn check(attribute: &'static str, message: String, remaining: Observed) -> Failed {
        Box::new(Failure {
            attribute: Some(attribute),
            ..*Failure::unchanged(message, remaining)
        })
    }

    /// A failure before any change.
    fn unchanged(message: String, remaining: Observed) -> Failed {
        Box::new(Failure {
            message,
            attribute: None,
            undone: Vec::new(),
            not_undone: Vec::new(),
            remaining,
            changed: false,
        })
    }
}

/// Runs the operations of one resource instance.
pub struct Engine<'a> {
    api: &'a dyn CacheApi,
    fanout: Fanout,
    cancel: &'a CancellationToken,
    settle: Backoff,
    role_wait: Backoff,
}

/// A change made, and the one that undoes it (`None`: covered by undoing another, or
/// irreversible).
struct Entry {
    done: Step,
    undo: Option<Step>,
}

/// The changes made so far and the remote view they produced.
struct Journal<'s> {
    spec: &'s CacheSpec,
    entries: Vec<Entry>,
    current: Observed,
}

impl<'s> Journal<'s> {
    fn new(spec: &'s CacheSpec, current: Observed) -> Self {
        Self {
            spec,
            entries: Vec::new(),
            current,
        }
    }

    /// Records a successful step and updates the remote view.
    fn record(&mut self, step: Step) {
        let created_bucket = self.entries.iter().any(|e| e.done == Step::CreateBucket);
        let undo = match &step {
            Step::PutPolicy(_) => Some(match &self.current.policy {
                Some(before) => Step::PutPolicy(before.clone()),
                None => Step::DeletePolicy,
            }),
            Step::DeletePolicy => self.current.policy.clone().map(Step::PutPolicy),
            Step::DeletePolicyFromOldRole { role, document } => {
                Some(Step::RestorePolicyOnOldRole {
                    role: role.clone(),
                    document: document.clone(),
                })
            }
            Step::RestorePolicyOnOldRole { .. } => None,
            Step::CreateBucket => Some(Step::DeleteBucket),
            Step::PutTags(_) if created_bucket => None,
            Step::PutTags(_) => self
                .current
                .bucket
                .as_ref()
                .and_then(|b| b.tags.clone())
                .map(Step::PutTags),
            Step::PutSetting(_) if created_bucket => None,
            Step::PutSetting(setting) => self
                .current
                .bucket
                .as_ref()
                .and_then(|b| b.settings.get(&setting.kind()).cloned())
                .map(Step::PutSetting),
            Step::DeleteBucket | Step::EmptyBucket => None,
        };
        apply_to_view(&mut self.current, &step, &self.spec.bucket_region);
        self.entries.push(Entry { done: step, undo });
    }
}

fn apply_to_view(view: &mut Observed, step: &Step, region: &str) {
    match step {
        Step::PutPolicy(document) => view.policy = Some(document.clone()),
        Step::DeletePolicy => view.policy = None,
        Step::CreateBucket => view.bucket = Some(ObservedBucket::new_empty(region)),
        Step::DeleteBucket => view.bucket = None,
        // The view is of the role the spec names; the old role is not part of it.
        Step::EmptyBucket
        | Step::DeletePolicyFromOldRole { .. }
        | Step::RestorePolicyOnOldRole { .. } => {}
        Step::PutTags(tags) => {
            if let Some(bucket) = &mut view.bucket {
                bucket.tags = Some(tags.clone());
            }
        }
        Step::PutSetting(setting) => {
            if let Some(bucket) = &mut view.bucket {
                bucket.settings.insert(setting.kind(), setting.clone());
            }
        }
    }
}

impl<'a> Engine<'a> {
    /// An engine calling `api`, running independent calls as `fanout` says, stopping at the
    /// next phase when `cancel` fires.
    pub fn new(api: &'a dyn CacheApi, fanout: Fanout, cancel: &'a CancellationToken) -> Self {
        Self {
            api,
            fanout,
            cancel,
            settle: SETTLE,
            role_wait: ROLE_PROPAGATION,
        }
    }

    /// The same engine with another settle backoff (tests use a short one).
    #[cfg(test)]
    pub fn with_settle(mut self, settle: Backoff) -> Self {
        self.settle = settle;
        self.role_wait = settle;
        self
    }

    fn describe(&self, spec: &CacheSpec, step: &Step) -> String {
        let (role, policy_name, bucket) = (&spec.role_name, &spec.policy_name, &spec.bucket_name);
        match step {
            Step::PutPolicy(_) => {
                format!("put the inline policy {policy_name:?} on the IAM role {role:?}")
            }
            Step::DeletePolicy => {
                format!("delete the inline policy {policy_name:?} from the IAM role {role:?}")
            }
            Step::DeletePolicyFromOldRole { role, .. } => format!(
                "delete the inline policy {policy_name:?} from the IAM role {role:?} (the \
                 cache's role before the rename)"
            ),
            Step::RestorePolicyOnOldRole { role, .. } => {
                format!("put the inline policy {policy_name:?} back on the IAM role {role:?}")
            }
            Step::CreateBucket => format!("create the bucket {bucket:?} in {}", spec.bucket_region),
            Step::DeleteBucket => format!("delete the bucket {bucket:?}"),
            Step::EmptyBucket => format!("delete the objects in the bucket {bucket:?}"),
            Step::PutTags(_) => format!("tag the bucket {bucket:?} as managed by this resource"),
            Step::PutSetting(setting) => {
                format!("set the {} of the bucket {bucket:?}", setting.kind().noun())
            }
        }
    }

    async fn run(
        &self,
        spec: &CacheSpec,
        step: &Step,
        bucket_is_new: bool,
    ) -> Result<(), AwsError> {
        let api = self.api;
        let bucket = spec.bucket_name.as_str();
        match step {
            Step::PutPolicy(document) => {
                api.put_role_policy(&spec.role_name, &spec.policy_name, document)
                    .await
            }
            Step::DeletePolicy => {
                api.delete_role_policy(&spec.role_name, &spec.policy_name)
                    .await
            }
            // `delete_role_policy` takes "already gone" (the binding deleted the old role, say)
            // for success.
            Step::DeletePolicyFromOldRole { role, .. } => {
                api.delete_role_policy(role, &spec.policy_name).await
            }
            Step::RestorePolicyOnOldRole { role, document } => {
                api.put_role_policy(role, &spec.policy_name, document).await
            }
            Step::CreateBucket => api.create_bucket(bucket, &spec.bucket_region).await,
            Step::DeleteBucket => api.delete_bucket(bucket).await,
            Step::EmptyBucket => api.empty_bucket(bucket).await,
            Step::PutTags(tags) => {
                self.settled(bucket_is_new, || api.put_bucket_tags(bucket, tags))
                    .await
            }
            Step::PutSetting(setting) => {
                self.settled(bucket_is_new, || api.put_setting(bucket, setting))
                    .await
            }
        }
    }

    /// The role's ARN, waiting a little for a role IAM does not show yet.
    async fn role_arn(&self, role: &str) -> Result<Option<String>, AwsError> {
        let lookup = || async {
            match self.api.role_arn(role).await {
                Ok(None) => Err(None),
                Ok(Some(arn)) => Ok(Some(arn)),
                Err(error) => Err(Some(error)),
            }
        };
        let propagating = |error: &Option<AwsError>| error.is_none().then_some(None);
        match retry(self.role_wait, self.cancel, lookup, propagating).await {
            Ok(arn) => Ok(arn),
            Err(RetryError::Failed(None) | RetryError::Cancelled) => Ok(None),
            Err(RetryError::Failed(Some(error))) => Err(error),
        }
    }

    /// Retries a bucket configuration write while S3 settles.
    async fn settled<F, Fut>(&self, bucket_is_new: bool, write: F) -> Result<(), AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), AwsError>>,
    {
        let retryable = |error: &AwsError| {
            let settling = error.kind == AwsErrorKind::Conflict
                && error.code.as_deref() == Some("OperationAborted")
                || bucket_is_new && error.code.as_deref() == Some("NoSuchBucket");
            settling.then_some(None)
        };
        match retry(self.settle, self.cancel, write, retryable).await {
            Ok(()) => Ok(()),
            Err(RetryError::Failed(error)) => Err(error),
            Err(RetryError::Cancelled) => Err(AwsError::new(
                "retry",
                AwsErrorKind::Other,
                "cancelled by StopProvider while waiting for S3 to settle",
            )),
        }
    }

    /// Runs `steps` concurrently, journals those that succeed, and returns the first failure
    /// (described) if any.
    async fn phase(&self, journal: &mut Journal<'_>, steps: Vec<Step>) -> Result<(), String> {
        if steps.is_empty() {
            return Ok(());
        }
        if self.cancel.is_cancelled() {
            return Err("Terraform asked the provider to stop (StopProvider)".to_string());
        }
        let spec = journal.spec;
        let bucket_is_new = journal.entries.iter().any(|e| e.done == Step::CreateBucket)
            || steps.contains(&Step::CreateBucket);
        let mut runs: Vec<BoxFuture<'_, Result<(), AwsError>>> = Vec::with_capacity(steps.len());
        for step in &steps {
            runs.push(Box::pin(self.run(spec, step, bucket_is_new)));
        }
        let results = self.fanout.all(runs).await;
        let mut failures = Vec::new();
        for (step, result) in steps.into_iter().zip(results) {
            match result {
                Ok(()) => journal.record(step),
                Err(error) => {
                    failures.push(format!("{} failed: {error}", self.describe(spec, &step)));
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }

    /// Undoes the journal in reverse and builds the failure report.
    async fn roll_back(&self, journal: Journal<'_>, message: String) -> Failed {
        let Journal {
            spec,
            entries,
            mut current,
        } = journal;
        let mut undone = Vec::new();
        let mut not_undone = Vec::new();
        for entry in entries.iter().rev() {
            let Some(undo) = &entry.undo else {
                // Emptying the bucket is what force_destroy asked for; a deleted bucket is not.
                if entry.done == Step::DeleteBucket {
                    not_undone.push(format!(
                        "{} (cannot be undone)",
                        self.describe(spec, &entry.done)
                    ));
                }
                continue;
            };
            match self.run(spec, undo, false).await {
                Ok(()) => {
                    apply_to_view(&mut current, undo, &spec.bucket_region);
                    undone.push(self.describe(spec, undo));
                }
                Err(error) => {
                    not_undone.push(format!("{} failed: {error}", self.describe(spec, undo)))
                }
            }
        }
        Box::new(Failure {
            message,
            attribute: None,
            undone,
            not_undone,
            remaining: current,
            changed: !entries.is_empty(),
        })
    }

    /// Reads the policy and the bucket (with every setting when `with_settings`) concurrently.
    async fn observe(&self, spec: &CacheSpec, with_settings: bool) -> Result<Observed, AwsError> {
        let api = self.api;
        let bucket = spec.bucket_name.as_str();
        let kinds: Vec<SettingKind> = if with_settings {
            SettingKind::ALL.to_vec()
        } else {
            Vec::new()
        };
        let mut reads: Vec<BoxFuture<'_, (SettingKind, Result<Setting, AwsError>)>> = Vec::new();
        for kind in kinds {
            reads.push(Box::pin(
                async move { (kind, api.setting(bucket, kind).await) },
            ));
        }
        let settings = self.fanout.all(reads);
        let ((policy, region), settings) = self
            .fanout
            .both(
                self.fanout.both(
                    api.role_policy(&spec.role_name, &spec.policy_name),
                    api.bucket_region(bucket),
                ),
                settings,
            )
            .await;
        let policy = policy?;
        let Some(region) = region? else {
            return Ok(Observed {
                policy,
                bucket: None,
            });
        };
        let mut found = BTreeMap::new();
        for (kind, setting) in settings {
            match setting {
                Ok(setting) => {
                    found.insert(kind, setting);
                }
                // Deleted between the calls.
                Err(error) if error.is_not_found() => {
                    return Ok(Observed {
                        policy,
                        bucket: None,
                    });
                }
                Err(error) => return Err(error),
            }
        }
        Ok(Observed {
            policy,
            bucket: Some(ObservedBucket {
                region,
                settings: found,
                tags: None,
            }),
        })
    }

    /// Checks that the role exists in the bucket's partition.
    fn check_role(
        spec: &CacheSpec,
        role_arn: Option<String>,
        view: &Observed,
    ) -> Result<(), Failed> {
        let Some(arn) = role_arn else {
            return Err(Failure::check(
                attr::ROLE_NAME,
                format!(
                    "The IAM role {:?} does not exist. Create it first (usually \
                     gitlabrunner_irsa_binding.manager) and reference its role_name, so that \
                     Terraform orders the two.",
                    spec.role_name
                ),
                view.clone(),
            ));
        };
        // An ARN that does not parse is refused too: its partition cannot be checked.
        match Arn::parse(&arn) {
            Ok(parsed) if parsed.partition == spec.partition() => Ok(()),
            Ok(parsed) => Err(Failure::check(
                attr::BUCKET_REGION,
                format!(
                    "The IAM role {arn} is in the {} partition but the bucket region {} is in \
                     {}. A role can only be granted buckets of its own partition.",
                    parsed.partition,
                    spec.bucket_region,
                    spec.partition()
                ),
                view.clone(),
            )),
            Err(error) => Err(Failure::check(
                attr::ROLE_NAME,
                format!(
                    "IAM returned the ARN {arn:?} for the role {:?}, which is not an ARN of a \
                     known AWS partition ({error}), so the role's partition cannot be checked \
                     against the bucket region {}. Nothing was changed.",
                    spec.role_name, spec.bucket_region
                ),
                view.clone(),
            )),
        }
    }

    /// Checks an existing bucket the resource does not create: it must exist, in the region the
    /// runner will be told.
    fn check_existing_bucket(spec: &CacheSpec, view: &Observed) -> Result<(), Failed> {
        match &view.bucket {
            None => Err(Failure::check(
                attr::BUCKET_NAME,
                format!(
                    "The bucket {:?} does not exist (or this account cannot see it). With \
                     create_bucket = false the bucket must exist; create it, or set \
                     create_bucket = true to let this resource create it with secure defaults.",
                    spec.bucket_name
                ),
                view.clone(),
            )),
            Some(bucket) if bucket.region != spec.bucket_region => Err(Failure::check(
                attr::BUCKET_REGION,
                format!(
                    "The bucket {:?} is in {}, not in {}: the runner would look for it in the \
                     wrong region. Set bucket_region = {:?}.",
                    spec.bucket_name, bucket.region, spec.bucket_region, bucket.region
                ),
                view.clone(),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The bucket settings and tags to write so that `view`'s bucket matches `spec`.
    fn bucket_steps(spec: &CacheSpec, view: &Observed) -> Vec<Step> {
        let Some(bucket) = &view.bucket else {
            return Vec::new();
        };
        let mut steps = Vec::new();
        let tags = ownership_tags(spec);
        if bucket.tags.as_ref().is_some_and(|t| !is_owned(t, spec)) {
            let mut merged = bucket.tags.clone().unwrap_or_default();
            merged.extend(tags);
            steps.push(Step::PutTags(merged));
        }
        for setting in desired_settings(&spec.bucket_spec()) {
            let current = bucket.settings.get(&setting.kind());
            if current.is_none_or(|c| !c.same_as(&setting)) {
                steps.push(Step::PutSetting(setting));
            }
        }
        steps
    }

    fn expected_policy(spec: &CacheSpec) -> String {
        Observed::expected(spec)
            .policy
            .expect("the expected state has a policy")
    }

    /// Creates the policy (and the bucket when `create_bucket`); adopts objects an interrupted
    /// create of this same resource left behind.
    pub async fn create(&self, spec: &CacheSpec) -> Result<Observed, Failed> {
        let api = self.api;
        let bucket = spec.bucket_name.as_str();
        let wanted_policy = Self::expected_policy(spec);

        // Phase 1: the role, an existing policy of that name, the bucket.
        let (role, (existing_policy, region)) = self
            .fanout
            .both(
                self.role_arn(&spec.role_name),
                self.fanout.both(
                    api.role_policy(&spec.role_name, &spec.policy_name),
                    api.bucket_region(bucket),
                ),
            )
            .await;
        let nothing = Observed::default();
        let aws = |e: AwsError| Failure::unchanged(e.to_string(), Observed::default());
        if let Err(error) = &region
            && error.kind == AwsErrorKind::AccessDenied
        {
            return Err(Failure::check(
                attr::BUCKET_NAME,
                format!(
                    "The bucket {bucket:?} belongs to another AWS account, or these credentials \
                     may not see it ({error}). Bucket names are global: choose another \
                     bucket_name, or grant s3:ListBucket on it."
                ),
                nothing,
            ));
        }
        let (role, existing_policy, region) = (
            role.map_err(aws)?,
            existing_policy.map_err(aws)?,
            region.map_err(aws)?,
        );
        Self::check_role(spec, role, &nothing)?;
        let mut view = Observed {
            policy: None,
            bucket: region.map(|region| ObservedBucket {
                region,
                settings: BTreeMap::new(),
                tags: None,
            }),
        };
        if let Some(found) = &existing_policy {
            if !policy::equivalent(found, &wanted_policy) {
                return Err(Failure::check(
                    attr::POLICY_NAME,
                    format!(
                        "The IAM role {:?} already has an inline policy named {:?} with other \
                         content. Import it (terraform import ADDRESS {}) or choose another \
                         policy_name.",
                        spec.role_name,
                        spec.policy_name,
                        spec.id()
                    ),
                    Observed::default(),
                ));
            }
            // Left by an interrupted create of this resource: adopt it.
            view.policy = existing_policy.clone();
        }
        let adopted_policy = view.policy.clone();
        let no_bucket_of_ours = |view: &Observed| Observed {
            policy: adopted_policy.clone(),
            bucket: if spec.create_bucket {
                None
            } else {
                view.bucket.clone()
            },
        };
        if !spec.create_bucket {
            Self::check_existing_bucket(spec, &view)?;
        } else if view.bucket.is_some() {
            // Phase 1b (only for a bucket that already exists): is it ours, and how is it set?
            let adopted = self.adopt_bucket(spec, &view).await;
            view.bucket = Some(adopted.map_err(|f| {
                Box::new(Failure {
                    remaining: no_bucket_of_ours(&view),
                    ..*f
                })
            })?);
        }

        let mut journal = Journal::new(spec, view);
        // Phase 2: the policy and the bucket.
        let mut steps = Vec::new();
        if journal.current.policy.is_none() {
            steps.push(Step::PutPolicy(wanted_policy));
        }
        if spec.create_bucket && journal.current.bucket.is_none() {
            steps.push(Step::CreateBucket);
        }
        if let Err(message) = self.phase(&mut journal, steps).await {
            return Err(self.roll_back(journal, message).await);
        }
        // Phase 3: the bucket's ownership tags and secure defaults.
        if spec.create_bucket {
            let steps = Self::bucket_steps(spec, &journal.current);
            if let Err(message) = self.phase(&mut journal, steps).await {
                return Err(self.roll_back(journal, message).await);
            }
        }
        Ok(journal.current)
    }

    /// Reads tags and settings of a bucket that exists before create, and accepts it only when
    /// its tags say an earlier, interrupted create of this resource made it.
    async fn adopt_bucket(
        &self,
        spec: &CacheSpec,
        view: &Observed,
    ) -> Result<ObservedBucket, Failed> {
        let bucket = view.bucket.clone().expect("called for an existing bucket");
        let fail = |attribute, message| Failure::check(attribute, message, Observed::default());
        if bucket.region != spec.bucket_region {
            return Err(fail(
                attr::BUCKET_NAME,
                format!(
                    "A bucket named {:?} already exists in {}. Bucket names are global: choose \
                     another bucket_name, or set create_bucket = false to use that bucket.",
                    spec.bucket_name, bucket.region
                ),
            ));
        }
        let (tags, found) = self
            .fanout
            .both(
                self.api.bucket_tags(&spec.bucket_name),
                self.observe(spec, true),
            )
            .await;
        let aws = |e: AwsError| fail(attr::BUCKET_NAME, e.to_string());
        let tags = tags.map_err(aws)?;
        if !is_owned(&tags, spec) {
            return Err(fail(
                attr::BUCKET_NAME,
                format!(
                    "The bucket {:?} already exists and was not created by this resource. Set \
                     create_bucket = false to use it as it is (it will not be modified), or \
                     choose another bucket_name. If an apply of this resource was interrupted \
                     right after creating the bucket (it is then empty and has no tags), delete \
                     it (aws s3 rb s3://{}) and apply again.",
                    spec.bucket_name, spec.bucket_name
                ),
            ));
        }
        let found = found.map_err(aws)?;
        let mut adopted = found
            .bucket
            .unwrap_or_else(|| ObservedBucket::new_empty(&spec.bucket_region));
        adopted.tags = Some(tags);
        Ok(adopted)
    }

    /// Brings the remote objects from what exists to `spec`: repairs drift, applies changed
    /// inputs, recreates a deleted bucket this resource owns. `prior` is the state's spec.
    ///
    /// A renamed role gets the policy first and the old role loses it last, after the bucket
    /// steps, so that the runner is never without its permissions because of this apply; a
    /// failure at any point puts the old role's policy back.
    pub async fn update(&self, prior: &CacheSpec, spec: &CacheSpec) -> Result<Observed, Failed> {
        let renamed = prior.role_name != spec.role_name;
        // Phase 1: the role, and everything the change touches as it is now.
        let old_policy = async {
            if renamed {
                self.api
                    .role_policy(&prior.role_name, &prior.policy_name)
                    .await
            } else {
                Ok(None)
            }
        };
        let ((role, found), old_policy) = self
            .fanout
            .both(
                self.fanout.both(
                    self.role_arn(&spec.role_name),
                    self.observe(spec, spec.create_bucket),
                ),
                old_policy,
            )
            .await;
        let unchanged = |e: AwsError| Failure::unchanged(e.to_string(), Observed::expected(prior));
        let role = role.map_err(unchanged)?;
        let view = found.map_err(unchanged)?;
        let old_policy = old_policy.map_err(unchanged)?;
        Self::check_role(spec, role, &view)?;
        let wanted_policy = Self::expected_policy(spec);
        if renamed
            && let Some(found) = &view.policy
            && !policy::equivalent(found, &wanted_policy)
        {
            return Err(Failure::check(
                attr::ROLE_NAME,
                format!(
                    "The IAM role {:?} already has an inline policy named {:?} with other \
                     content, which this resource did not write; it is left as it is. Choose \
                     another policy_name, or remove that policy.",
                    spec.role_name, spec.policy_name
                ),
                view,
            ));
        }
        // A failure after changes: with everything undone, the old role's policy is as the
        // prior state says.
        let failed = |mut failure: Failed| {
            if renamed && failure.not_undone.is_empty() {
                failure.remaining.policy = old_policy.clone();
                failure.changed = false;
            }
            failure
        };
        if spec.create_bucket {
            if let Some(bucket) = &view.bucket
                && bucket.region != spec.bucket_region
            {
                return Err(Failure::check(
                    attr::BUCKET_REGION,
                    format!(
                        "The bucket {:?} is in {}, not in {}. It was replaced outside Terraform; \
                         delete it or import the resource again.",
                        spec.bucket_name, bucket.region, spec.bucket_region
                    ),
                    view,
                ));
            }
        } else {
            Self::check_existing_bucket(spec, &view)?;
        }

        let mut journal = Journal::new(spec, view);
        // Phase 2: the policy, and the bucket if it is gone.
        let mut steps = Vec::new();
        if journal
            .current
            .policy
            .as_deref()
            .is_none_or(|p| !policy::equivalent(p, &wanted_policy))
        {
            steps.push(Step::PutPolicy(wanted_policy));
        }
        if spec.create_bucket && journal.current.bucket.is_none() {
            steps.push(Step::CreateBucket);
        }
        if let Err(message) = self.phase(&mut journal, steps).await {
            return Err(failed(self.roll_back(journal, message).await));
        }
        // Phase 3: bucket settings that differ.
        if spec.create_bucket {
            let steps = Self::bucket_steps(spec, &journal.current);
            if let Err(message) = self.phase(&mut journal, steps).await {
                return Err(failed(self.roll_back(journal, message).await));
            }
        }
        // Phase 4: after a rename, the old role loses the policy, now that the new one has it.
        if let Some(document) = old_policy.clone() {
            let step = Step::DeletePolicyFromOldRole {
                role: prior.role_name.clone(),
                document,
            };
            if let Err(message) = self.phase(&mut journal, vec![step]).await {
                return Err(failed(self.roll_back(journal, message).await));
            }
        }
        Ok(journal.current)
    }

    /// Deletes the policy, and the bucket when this resource created it (emptying it first
    /// with `force_destroy`).
    pub async fn delete(&self, spec: &CacheSpec) -> Result<(), Failed> {
        let api = self.api;
        let bucket = spec.bucket_name.as_str();
        // Phase 1: the policy as it is (to restore it if the bucket cannot go) and, for a
        // bucket this resource created, its ownership tags.
        let tags = async {
            if spec.create_bucket {
                api.bucket_tags(bucket).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (policy, tags) = self
            .fanout
            .both(api.role_policy(&spec.role_name, &spec.policy_name), tags)
            .await;
        let prior = Observed::expected(spec);
        let aws = |e: AwsError| Failure::unchanged(e.to_string(), prior.clone());
        let policy = policy.map_err(aws)?;
        let tags = match tags {
            Err(e) if e.code.as_deref() == Some("NoSuchBucket") || e.is_not_found() => None,
            other => other.map_err(aws)?,
        };
        let bucket_view = match &tags {
            Some(tags) => Some(ObservedBucket {
                tags: Some(tags.clone()),
                ..prior.bucket.clone().expect("expected has a bucket")
            }),
            // A bucket this resource does not own stays as it is.
            None if !spec.create_bucket => prior.bucket.clone(),
            None => None,
        };
        let view = Observed {
            policy,
            bucket: bucket_view,
        };
        if let Some(tags) = &tags
            && !is_owned(tags, spec)
        {
            return Err(Failure::check(
                attr::CREATE_BUCKET,
                format!(
                    "The bucket {bucket:?} does not carry this resource's ownership tags, so \
                     it is not deleted (nor is anything else). If the bucket should stay, set \
                     create_bucket = false and apply before destroying."
                ),
                view,
            ));
        }
        let delete_bucket = spec.create_bucket && view.bucket.is_some();
        let mut journal = Journal::new(spec, view);
        // Phase 2: objects, when force_destroy allows it (irreversible). The bucket policy
        // goes first: it would deny deleting over plain HTTP (S3-compatible endpoints,
        // emulators), and any statement added to it could deny deleting at all.
        if delete_bucket && spec.force_destroy {
            for step in [Step::PutSetting(Setting::Policy(None)), Step::EmptyBucket] {
                if let Err(message) = self.phase(&mut journal, vec![step]).await {
                    return Err(self.roll_back(journal, message).await);
                }
            }
        }
        // Phase 3: policy and bucket together.
        let mut steps = vec![Step::DeletePolicy];
        if delete_bucket {
            steps.push(Step::DeleteBucket);
        }
        if let Err(mut message) = self.phase(&mut journal, steps).await {
            if message.contains("BucketNotEmpty") {
                message.push_str(
                    ". The bucket still holds objects: set force_destroy = true and apply \
                     before destroying, or empty it yourself",
                );
            }
            return Err(self.roll_back(journal, message).await);
        }
        Ok(())
    }

    /// Reads what exists for `spec`.
    pub async fn read(&self, spec: &CacheSpec) -> Result<Observed, AwsError> {
        self.observe(spec, spec.create_bucket).await
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
