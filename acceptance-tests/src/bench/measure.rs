//! The measurements: Terraform runs against the emulators with a fixed latency on every
//! request, timed from the request logs; provider starts timed directly.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::Harness;
use crate::aws::eks::CLUSTER_NAME;
use crate::aws::proxy::{AwsProxy, Latency, RequestRecord, critical_path_depth};
use crate::kube_proxy::{self, KubeProxy};
use crate::plugin_client::StartedProvider;
use crate::provider_process::{peak_rss_kib, provider_pids};
use crate::terraform::Workspace;
use crate::workload::setup::{create_managed_policies, create_namespaces, create_oidc_provider};
use crate::workload::{BindingSpec, Shape, bindings_config, token};

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(pub String);

fn failed(what: &str, error: impl std::fmt::Display) -> BenchError {
    BenchError(format!("{what}: {error}"))
}

/// The benchmark's knobs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The latency added to every request on both sides.
    pub latency: Duration,
    /// How many bindings the plan and destroy figures use.
    pub bindings: usize,
    /// How many single-binding creates the create figure takes the median of.
    pub repeat: usize,
    /// How many provider starts the start figures take the median of.
    pub starts: usize,
    /// A directory to write each measured command's request timeline into (one TSV each).
    pub timeline: Option<std::path::PathBuf>,
}

/// Concurrent (the default) or serial API calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Independent calls at once, Terraform's default parallelism (10).
    Concurrent,
    /// `GITLABRUNNER_SERIAL_API_CALLS=1` and `-parallelism=1`: one request at a time.
    Serial,
}

impl Mode {
    /// Both, in report order.
    pub const BOTH: [Mode; 2] = [Mode::Concurrent, Mode::Serial];

    fn parallelism(self) -> Option<&'static str> {
        match self {
            Mode::Concurrent => None,
            Mode::Serial => Some("-parallelism=1"),
        }
    }

    fn env(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Mode::Concurrent => Vec::new(),
            Mode::Serial => vec![(gitlabrunner_serial_env(), "1")],
        }
    }
}

/// The provider's serial-mode switch (`concurrency::SERIAL_ENV` in the provider).
fn gitlabrunner_serial_env() -> &'static str {
    "GITLABRUNNER_SERIAL_API_CALLS"
}

/// The requests a provider process makes once, not once per binding, counted in one command:
/// the proof of wiring's reads (issue 12) and the account question.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OncePerProcess {
    /// `GET /.well-known/openid-configuration`: the cluster's service account issuer.
    pub discovery: usize,
    /// The issuer's fallback: a TokenRequest for `default/default` (made only when the
    /// discovery document cannot be read).
    pub issuer_token: usize,
    /// `iam:GetOpenIDConnectProvider`: the OIDC provider's URL and client ids.
    pub get_oidc_provider: usize,
    /// `sts:GetCallerIdentity`: whose account the credentials are.
    pub get_caller_identity: usize,
}

impl OncePerProcess {
    /// The Kubernetes path of the issuer's fallback TokenRequest.
    const ISSUER_TOKEN_PATH: &'static str =
        "/api/v1/namespaces/default/serviceaccounts/default/token";

    /// Counts them in both proxies' logs.
    pub fn count(aws: &[RequestRecord], kube: &[RequestRecord]) -> Self {
        let aws_calls = |kind: &str| aws.iter().filter(|r| r.kind() == kind).count();
        let kube_calls = |method: &str, path: &str| {
            kube.iter()
                .filter(|r| r.method == method && kube_proxy::path_of(r) == Some(path))
                .count()
        };
        OncePerProcess {
            discovery: kube_calls("GET", "/.well-known/openid-configuration"),
            issuer_token: kube_calls("POST", Self::ISSUER_TOKEN_PATH),
            get_oidc_provider: aws_calls("iam:GetOpenIDConnectProvider"),
            get_caller_identity: aws_calls("sts:GetCallerIdentity"),
        }
    }

    /// The proof of wiring's reads (issue 12's own).
    pub fn wiring(&self) -> usize {
        self.discovery + self.issuer_token + self.get_oidc_provider
    }
}

/// The requests of one Terraform command, from both logs.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// The command's wall time (Terraform's own work included).
    pub wall: Duration,
    /// From the first request's arrival to the last answer.
    pub span: Duration,
    /// Sequential round trips on the critical path.
    pub depth: usize,
    /// Requests made.
    pub requests: usize,
    /// Of them, those made once per provider process.
    pub once: OncePerProcess,
    /// Provider processes Terraform ran during the command (polled from `/proc`).
    pub processes: usize,
    /// The largest peak RSS among them, KiB.
    pub peak_rss_kib: u64,
    /// How long the AWS emulator took per request beyond the injected latency (median, as
    /// the AWS proxy saw it).
    pub aws_service: Duration,
    /// How long the Kubernetes API server took per request beyond it (median, as the
    /// Kubernetes proxy saw it: the proxy's TLS hop to it included).
    pub kube_service: Duration,
}

/// Every figure of one mode.
#[derive(Debug, Clone, Default)]
pub struct ModeFigures {
    /// Create of one binding (median of the repeats).
    pub create: Window,
    /// Create of one binding in EKS Pod Identity mode only (`irsa = false`; median).
    pub create_pod_identity: Window,
    /// `terraform plan` (refresh) of all bindings.
    pub plan: Window,
    /// Destroy of all bindings (the apply of a saved destroy plan).
    pub destroy: Window,
    /// Peak RSS of the provider processes during the plan, KiB.
    pub plan_peak_rss_kib: u64,
    /// Provider start to handshake line (median).
    pub handshake: Duration,
    /// Fastest provider start to handshake line.
    pub handshake_min: Duration,
    /// `GetProviderSchema` from request to full answer (median).
    pub schema: Duration,
    /// The schema answer's size in bytes.
    pub schema_bytes: usize,
}

/// The commands of the many-bindings figures without injected latency: Terraform, the
/// provider and the emulators working at full speed.
#[derive(Debug, Clone, Default)]
pub struct Floors {
    /// `terraform plan` of all bindings.
    pub plan: Window,
    /// Their destroy.
    pub destroy: Window,
    /// The size of `terraform.tfstate` holding all of them, bytes.
    pub state_bytes: u64,
    /// Terraform alone: the destroy (apply of a saved destroy plan) of as many
    /// `terraform_data` resources holding the bindings' state values (as JSON strings), which
    /// makes no API call.
    pub terraform_destroy: Duration,
    /// The size of that state, bytes.
    pub terraform_state_bytes: u64,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    /// The knobs.
    pub options: Options,
    /// The binding shape.
    pub shape: Shape,
    /// Per mode.
    pub concurrent: ModeFigures,
    /// Serial.
    pub serial: ModeFigures,
    /// The plan and destroy of all bindings without injected latency.
    pub floors: Floors,
    /// How long the whole run took.
    pub elapsed: Duration,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// What the benchmark drives: the harness, proxies in front of the AWS emulator and of the
/// Kubernetes target, and the prerequisites every binding uses.
pub struct Bench<'a> {
    h: &'a Harness,
    kube_proxy: KubeProxy,
    proxy: AwsProxy,
    kube: kube::Client,
    oidc_provider_arn: String,
    policy_arns: Vec<String>,
    options: Options,
}

impl<'a> Bench<'a> {
    /// Prepares the OIDC provider and managed policies.
    pub async fn new(h: &'a Harness, options: Options) -> Result<Self, BenchError> {
        let kube = h
            .kubernetes()
            .map_err(|e| failed("Kubernetes", e))?
            .client()
            .await
            .map_err(|e| failed("Kubernetes client", e))?;
        let aws = h.aws_clients().await;
        let oidc_provider_arn = create_oidc_provider(&aws, &kube)
            .await
            .map_err(|e| failed("OIDC provider", e))?;
        let policy_arns = create_managed_policies(&aws, &token("bench"), 2)
            .await
            .map_err(|e| failed("managed policies", e))?;
        Ok(Self {
            h,
            kube_proxy: h
                .start_kube_proxy()
                .map_err(|e| failed("Kubernetes proxy", e))?,
            proxy: h.start_proxy().map_err(|e| failed("AWS proxy", e))?,
            kube,
            oidc_provider_arn,
            policy_arns,
            options,
        })
    }

    fn latency(&self, on: bool) {
        let latency = if on {
            Latency::Fixed(self.options.latency)
        } else {
            Latency::None
        };
        self.proxy.set_latency(latency);
        self.kube_proxy.set_latency(latency);
    }

    /// Empties both proxies' logs before a measured run.
    fn clear_logs(&self) {
        self.proxy.clear_requests();
        self.kube_proxy.clear_requests();
    }

    fn workspace(&self, mode: Mode) -> Result<Workspace, BenchError> {
        let mut ws = self
            .h
            .workspace_through(&self.proxy, &self.kube_proxy)
            .map_err(|e| failed("workspace", e))?;
        // Provider logging costs time a user does not pay.
        ws.remove_env("TF_LOG_PROVIDER");
        ws.remove_env(gitlabrunner_serial_env());
        for (name, value) in mode.env() {
            ws.set_env(name, value);
        }
        Ok(ws)
    }

    async fn bindings(&self, prefix: &str, count: usize) -> Result<Vec<BindingSpec>, BenchError> {
        let specs: Vec<BindingSpec> = (0..count)
            .map(|i| {
                BindingSpec::new(
                    &token(&format!("{prefix}{i:03}")),
                    Shape::BENCHMARK,
                    &self.oidc_provider_arn,
                    &self.policy_arns,
                )
            })
            .collect();
        create_namespaces(&self.kube, specs.iter().flat_map(BindingSpec::namespaces))
            .await
            .map_err(|e| failed("namespaces", e))?;
        Ok(specs)
    }

    async fn run(&self, ws: &Workspace, args: &[&str]) -> Result<Duration, BenchError> {
        let started = Instant::now();
        ws.run_ok(args)
            .await
            .map_err(|e| failed(&format!("terraform {}", args.join(" ")), e))?;
        Ok(started.elapsed())
    }

    /// Runs `args` with the latency on and returns the requests it made, and the provider
    /// processes that ran meanwhile. `label` names its timeline file.
    async fn measured(
        &self,
        ws: &Workspace,
        args: &[&str],
        label: &str,
    ) -> Result<Window, BenchError> {
        self.clear_logs();
        self.latency(true);
        let stop = AtomicBool::new(false);
        let (wall, (processes, peak)) = tokio::join!(
            async {
                let wall = self.run(ws, args).await;
                stop.store(true, Ordering::SeqCst);
                wall
            },
            watch_providers(ws.dir(), &stop)
        );
        self.latency(false);
        if let Some(dir) = &self.options.timeline {
            self.write_timeline(&dir.join(format!("{label}.tsv")))?;
        }
        Ok(Window {
            processes,
            peak_rss_kib: peak,
            ..self.window(wall?)
        })
    }

    /// Both logs on one time line: start and end in ms from the first request, the side,
    /// what was asked.
    fn write_timeline(&self, path: &std::path::Path) -> Result<(), BenchError> {
        let mut rows: Vec<(Instant, Instant, String)> = self
            .proxy
            .requests()
            .iter()
            .map(|r| {
                let what = format!("aws\t{} {}", r.kind(), r.param("RoleName").unwrap_or(""));
                (r.started_at, r.finished_at, what)
            })
            .chain(self.kube_proxy.requests().iter().map(|r| {
                let what = format!("kube\t{} {}", r.method, r.path);
                (r.started_at, r.finished_at, what)
            }))
            .collect();
        rows.sort_by_key(|(start, end, _)| (*start, *end));
        let Some(first) = rows.first().map(|(start, _, _)| *start) else {
            return Ok(());
        };
        let ms = |t: Instant| t.saturating_duration_since(first).as_secs_f64() * 1000.0;
        let mut text = String::from("start_ms\tend_ms\tside\trequest\n");
        for (start, end, what) in rows {
            text.push_str(&format!("{:.1}\t{:.1}\t{what}\n", ms(start), ms(end)));
        }
        std::fs::create_dir_all(path.parent().unwrap_or(path))
            .and_then(|()| std::fs::write(path, text))
            .map_err(|e| failed(&format!("writing {}", path.display()), e))
    }

    fn window(&self, wall: Duration) -> Window {
        let latency = self.options.latency;
        let intervals = |log: Vec<RequestRecord>| -> Vec<(Instant, Instant)> {
            log.iter().map(|r| (r.started_at, r.finished_at)).collect()
        };
        let (aws_log, kube_log) = (self.proxy.requests(), self.kube_proxy.requests());
        let once = OncePerProcess::count(&aws_log, &kube_log);
        let aws = intervals(aws_log);
        let kube = intervals(kube_log);
        let service = |intervals: &[(Instant, Instant)]| {
            median(
                intervals
                    .iter()
                    .map(|(s, e)| e.saturating_duration_since(*s).saturating_sub(latency))
                    .collect(),
            )
        };
        let all: Vec<(Instant, Instant)> = aws.iter().chain(&kube).copied().collect();
        let span = match (
            all.iter().map(|(s, _)| *s).min(),
            all.iter().map(|(_, e)| *e).max(),
        ) {
            (Some(first), Some(last)) => last.saturating_duration_since(first),
            _ => Duration::ZERO,
        };
        Window {
            wall,
            span,
            depth: critical_path_depth(all.iter().copied()),
            requests: all.len(),
            once,
            processes: 0,
            peak_rss_kib: 0,
            aws_service: service(&aws),
            kube_service: service(&kube),
        }
    }

    /// Creates one binding of the benchmark shape `repeat` times; the median by span. With
    /// `pod_identity`, the binding serves EKS Pod Identity only, on the rig's cluster.
    pub async fn create(&self, mode: Mode, pod_identity: bool) -> Result<Window, BenchError> {
        let ws = self.workspace(mode)?;
        let mut windows = Vec::new();
        for specs in
            futures::future::join_all((0..self.options.repeat).map(|_| self.bindings("c", 1))).await
        {
            let mut specs = specs?;
            if pod_identity {
                for spec in &mut specs {
                    spec.pod_identity_cluster = Some(CLUSTER_NAME.to_string());
                }
            }
            ws.write("main.tf", &bindings_config("", &specs))
                .map_err(|e| failed("write", e))?;
            self.run(&ws, &["plan", "-input=false", "-no-color", "-out=tfplan"])
                .await?;
            let mut apply = vec!["apply", "-input=false", "-no-color"];
            apply.extend(mode.parallelism());
            apply.push("tfplan");
            windows.push(
                self.measured(
                    &ws,
                    &apply,
                    &format!(
                        "create-{}{mode:?}-{}",
                        if pod_identity { "pod-identity-" } else { "" },
                        windows.len()
                    ),
                )
                .await?,
            );
            self.run(
                &ws,
                &["destroy", "-auto-approve", "-input=false", "-no-color"],
            )
            .await?;
        }
        windows.sort_by_key(|w| w.span);
        Ok(windows.swap_remove(windows.len() / 2))
    }

    /// Applies `config` without latency (not measured).
    async fn apply_all(&self, ws: &Workspace, config: &str) -> Result<(), BenchError> {
        ws.write("main.tf", config)
            .map_err(|e| failed("write", e))?;
        let apply = [
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-parallelism=20",
        ];
        self.run(ws, &apply).await.map(|_| ())
    }

    /// Runs `args` without latency and returns its requests.
    async fn unmeasured(&self, ws: &Workspace, args: &[&str]) -> Result<Window, BenchError> {
        self.clear_logs();
        let wall = self.run(ws, args).await?;
        Ok(self.window(wall))
    }

    /// Destroys everything in `ws` from a saved destroy plan (made without latency), with the
    /// latency on or off.
    async fn destroy(
        &self,
        ws: &Workspace,
        mode: Mode,
        latency: bool,
    ) -> Result<Window, BenchError> {
        let destroy_plan = [
            "plan",
            "-destroy",
            "-input=false",
            "-no-color",
            "-out=tfplan",
            "-parallelism=20",
        ];
        self.run(ws, &destroy_plan).await?;
        let mut destroy = vec!["apply", "-input=false", "-no-color"];
        destroy.extend(mode.parallelism());
        destroy.push("tfplan");
        match latency {
            true => {
                self.measured(ws, &destroy, &format!("destroy-{mode:?}"))
                    .await
            }
            false => self.unmeasured(ws, &destroy).await,
        }
    }

    /// The destroy of `terraform_data` resources holding the values of `state`'s resources,
    /// timed like the bindings' destroy: Terraform's own cost per destroyed resource, which
    /// rewrites the whole local state after each one. Returns it and that state's size.
    async fn terraform_alone(
        &self,
        state: &crate::terraform::State,
    ) -> Result<(Duration, u64), BenchError> {
        let values: serde_json::Map<String, serde_json::Value> = state
            .resources
            .iter()
            .map(|r| (r.address.clone(), r.values.clone()))
            .collect();
        let ws = self.h.workspace().map_err(|e| failed("workspace", e))?;
        ws.write(
            "values.json",
            &serde_json::Value::Object(values).to_string(),
        )
        .and_then(|ws| {
            ws.write(
                "main.tf",
                "resource \"terraform_data\" \"copy\" {\n  \
                     for_each = jsondecode(file(\"values.json\"))\n  \
                     input    = jsonencode(each.value)\n}\n",
            )
        })
        .map_err(|e| failed("write", e))?;
        self.run(
            &ws,
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        )
        .await?;
        let bytes = state_bytes(&ws);
        let destroy_plan = [
            "plan",
            "-destroy",
            "-input=false",
            "-no-color",
            "-out=tfplan",
        ];
        self.run(&ws, &destroy_plan).await?;
        let took = self
            .run(&ws, &["apply", "-input=false", "-no-color", "tfplan"])
            .await?;
        Ok((took, bytes))
    }

    /// Creates the plan bindings (without latency), then measures the plan and the destroy in
    /// both modes; in the concurrent mode also both without latency, and the state's size.
    pub async fn many(&self) -> Result<(ModeFigures, ModeFigures, Floors), BenchError> {
        let specs = self.bindings("p", self.options.bindings).await?;
        let config = bindings_config("", &specs);
        let mut figures = [ModeFigures::default(), ModeFigures::default()];
        let mut floors = Floors::default();
        for (i, mode) in Mode::BOTH.into_iter().enumerate() {
            let ws = self.workspace(mode)?;
            self.apply_all(&ws, &config).await?;
            let mut plan = vec!["plan", "-input=false", "-no-color", "-detailed-exitcode"];
            plan.extend(mode.parallelism());
            // -detailed-exitcode: 0 is an empty plan; anything else fails the run.
            figures[i].plan = self.measured(&ws, &plan, &format!("plan-{mode:?}")).await?;
            figures[i].plan_peak_rss_kib = figures[i].plan.peak_rss_kib;
            if mode == Mode::Concurrent {
                floors.plan = self.unmeasured(&ws, &plan).await?;
                floors.state_bytes = state_bytes(&ws);
                let state = ws.show().await.map_err(|e| failed("terraform show", e))?;
                (floors.terraform_destroy, floors.terraform_state_bytes) =
                    self.terraform_alone(&state).await?;
            }
            figures[i].destroy = self.destroy(&ws, mode, true).await?;
            if mode == Mode::Concurrent {
                self.apply_all(&ws, &config).await?;
                floors.destroy = self.destroy(&ws, mode, false).await?;
            }
        }
        let [concurrent, serial] = figures;
        Ok((concurrent, serial, floors))
    }

    /// Starts the release provider `starts` times: handshake and `GetProviderSchema` medians.
    pub async fn starts(&self, mode: Mode, figures: &mut ModeFigures) -> Result<(), BenchError> {
        let binary = &self.h.provider().binary;
        let mut handshakes = Vec::new();
        let mut schemas = Vec::new();
        for _ in 0..self.options.starts {
            let provider = StartedProvider::start(binary, &mode.env())
                .map_err(|e| failed("provider start", e))?;
            handshakes.push(provider.handshake);
            let (schema, bytes) = provider
                .time_get_provider_schema()
                .await
                .map_err(|e| failed("GetProviderSchema", e))?;
            schemas.push(schema);
            figures.schema_bytes = bytes;
        }
        figures.handshake_min = handshakes.iter().min().copied().unwrap_or_default();
        figures.handshake = median(handshakes);
        figures.schema = median(schemas);
        Ok(())
    }
}

/// The size of the workspace's `terraform.tfstate`, bytes.
fn state_bytes(ws: &Workspace) -> u64 {
    std::fs::metadata(ws.dir().join("terraform.tfstate")).map_or(0, |m| m.len())
}

/// Polls the provider processes in `dir` until `stop`: how many ran, and the largest peak RSS
/// among them, KiB.
async fn watch_providers(dir: &std::path::Path, stop: &AtomicBool) -> (usize, u64) {
    let mut pids = BTreeSet::new();
    let mut peak = 0;
    let mut rounds = 0u32;
    while !stop.load(Ordering::SeqCst) {
        if rounds.is_multiple_of(5) {
            pids.extend(provider_pids(dir));
        }
        for pid in &pids {
            peak = peak.max(peak_rss_kib(*pid).unwrap_or(0));
        }
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (pids.len(), peak)
}

/// Runs every measurement.
pub async fn run(h: &Harness, options: Options) -> Result<Results, BenchError> {
    let started = Instant::now();
    let bench = Bench::new(h, options.clone()).await?;
    let concurrent_create = bench.create(Mode::Concurrent, false).await?;
    let serial_create = bench.create(Mode::Serial, false).await?;
    let concurrent_pod_identity = bench.create(Mode::Concurrent, true).await?;
    let serial_pod_identity = bench.create(Mode::Serial, true).await?;
    let (mut concurrent, mut serial, floors) = bench.many().await?;
    concurrent.create = concurrent_create;
    serial.create = serial_create;
    concurrent.create_pod_identity = concurrent_pod_identity;
    serial.create_pod_identity = serial_pod_identity;
    bench.starts(Mode::Concurrent, &mut concurrent).await?;
    bench.starts(Mode::Serial, &mut serial).await?;
    Ok(Results {
        options,
        shape: Shape::BENCHMARK,
        concurrent,
        serial,
        floors,
        elapsed: started.elapsed(),
    })
}
