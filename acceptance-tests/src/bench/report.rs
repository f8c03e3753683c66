//! The benchmark's table (printed) and `docs/performance.md` (written), both from [`Results`].

use std::fmt::Write as _;
use std::time::Duration;

use super::measure::{ModeFigures, OncePerProcess, Results, Window};

/// One row: a figure, its target, both modes, whether the target holds.
struct Row {
    figure: String,
    target: String,
    concurrent: String,
    serial: String,
    verdict: String,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(d: Duration, latency: Duration) -> f64 {
    d.as_secs_f64() / latency.as_secs_f64()
}

fn api(window: &Window, latency: Duration) -> String {
    format!(
        "{:.2} L ({}, depth {}, {} req)",
        ratio(window.span, latency),
        ms(window.span),
        window.depth,
        window.requests
    )
}

/// The once-per-process reads of a command, and how many provider processes it ran.
fn once(window: &Window) -> String {
    let OncePerProcess {
        discovery,
        issuer_token,
        get_oidc_provider,
        get_caller_identity,
    } = window.once;
    let fallback = match issuer_token {
        0 => String::new(),
        n => format!(" + {n} TokenRequest"),
    };
    format!(
        "{discovery} discovery GET{fallback}, {get_oidc_provider} GetOpenIDConnectProvider, \
         {get_caller_identity} GetCallerIdentity; {} provider process{}",
        window.processes,
        if window.processes == 1 { "" } else { "es" }
    )
}

/// Whether the proof of wiring added at most one request per provider process.
fn wiring_within_budget(window: &Window) -> bool {
    window.once.wiring() <= window.processes
}

fn verdict(holds: bool) -> String {
    if holds { "met" } else { "MISSED" }.to_string()
}

/// A latency-bound figure's verdict; when missed, what the same command takes without any
/// injected latency (when that alone is past the target, latency is not what bounds it).
fn bounded_verdict(window: &Window, floor: &Window, latency: Duration, target: f64) -> String {
    match ratio(window.span, latency) <= target {
        true => verdict(true),
        false => format!(
            "MISSED; without latency {:.1} L",
            ratio(floor.span, latency)
        ),
    }
}

/// A create's verdict against `target` L. A miss with no more than `target` round trips on the
/// critical path says so, with the servers' median time per request: then the provider waits
/// for no extra round trip, and what is past the target is the emulators' own work.
fn create_verdict(window: &Window, latency: Duration, target: f64) -> String {
    if ratio(window.span, latency) <= target {
        verdict(true)
    } else if window.depth as f64 <= target {
        format!(
            "MISSED in time; depth {} met (the rest is service time: AWS {}, Kubernetes {} per \
             request)",
            window.depth,
            ms(window.aws_service),
            ms(window.kube_service)
        )
    } else {
        verdict(false)
    }
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1_000_000.0
}

fn rows(results: &Results) -> Vec<Row> {
    let l = results.options.latency;
    let n = results.options.bindings;
    let waves = n as f64 / 10.0;
    let (c, s): (&ModeFigures, &ModeFigures) = (&results.concurrent, &results.serial);
    let many_target = 2.5 * waves;
    vec![
        Row {
            figure: "create 1 binding (3 grants, 2 managed, 1 inline): API time".into(),
            target: "<= 3 L".into(),
            concurrent: api(&c.create, l),
            serial: api(&s.create, l),
            verdict: create_verdict(&c.create, l, 3.0),
        },
        Row {
            figure: "create 1 binding, EKS Pod Identity only (same shape, + association): API time"
                .into(),
            target: "<= 3 L".into(),
            concurrent: api(&c.create_pod_identity, l),
            serial: api(&s.create_pod_identity, l),
            verdict: create_verdict(&c.create_pod_identity, l, 3.0),
        },
        Row {
            figure: format!("terraform plan (refresh) of {n} bindings: API time"),
            target: format!("<= {many_target:.0} L"),
            concurrent: api(&c.plan, l),
            serial: api(&s.plan, l),
            verdict: bounded_verdict(&c.plan, &results.floors.plan, l, many_target),
        },
        Row {
            figure: format!("destroy of the {n}: API time"),
            target: format!("<= {many_target:.0} L"),
            concurrent: api(&c.destroy, l),
            serial: api(&s.destroy, l),
            verdict: bounded_verdict(&c.destroy, &results.floors.destroy, l, many_target),
        },
        Row {
            figure: format!(
                "plan of {n}: requests once per provider process (issuer discovery, OIDC \
                 provider, account)"
            ),
            target: "wiring <= 1 per process".into(),
            concurrent: once(&c.plan),
            serial: once(&s.plan),
            verdict: verdict(wiring_within_budget(&c.plan) && wiring_within_budget(&s.plan)),
        },
        Row {
            figure: "create: requests once per provider process, before anything is created".into(),
            target: "-".into(),
            concurrent: once(&c.create),
            serial: once(&s.create),
            verdict: "-".into(),
        },
        Row {
            figure: "create: whole `terraform apply` of the saved plan".into(),
            target: "-".into(),
            concurrent: format!("{:.2} L ({})", ratio(c.create.wall, l), ms(c.create.wall)),
            serial: format!("{:.2} L ({})", ratio(s.create.wall, l), ms(s.create.wall)),
            verdict: "-".into(),
        },
        Row {
            figure: format!("plan of {n}: whole `terraform plan`"),
            target: "-".into(),
            concurrent: format!("{:.2} L ({})", ratio(c.plan.wall, l), ms(c.plan.wall)),
            serial: format!("{:.2} L ({})", ratio(s.plan.wall, l), ms(s.plan.wall)),
            verdict: "-".into(),
        },
        Row {
            figure: format!("destroy of {n}: whole `terraform apply` of the saved plan"),
            target: "-".into(),
            concurrent: format!("{:.2} L ({})", ratio(c.destroy.wall, l), ms(c.destroy.wall)),
            serial: format!("{:.2} L ({})", ratio(s.destroy.wall, l), ms(s.destroy.wall)),
            verdict: "-".into(),
        },
        Row {
            figure: "provider start to handshake line (median; min)".into(),
            target: "<= 10 ms".into(),
            concurrent: format!("{}; {}", ms(c.handshake), ms(c.handshake_min)),
            serial: format!("{}; {}", ms(s.handshake), ms(s.handshake_min)),
            verdict: verdict(c.handshake <= Duration::from_millis(10)),
        },
        Row {
            figure: format!(
                "GetProviderSchema ({} KB answer, median)",
                c.schema_bytes / 1000
            ),
            target: "-".into(),
            concurrent: ms(c.schema),
            serial: ms(s.schema),
            verdict: "-".into(),
        },
        Row {
            figure: format!("peak RSS of the provider during the plan of {n}"),
            target: "<= 40 MB".into(),
            concurrent: format!("{:.1} MB", mb(c.plan_peak_rss_kib)),
            serial: format!("{:.1} MB", mb(s.plan_peak_rss_kib)),
            verdict: verdict(mb(c.plan_peak_rss_kib) <= 40.0),
        },
    ]
}

/// The table for the terminal.
pub fn table(results: &Results) -> String {
    let rows = rows(results);
    let header = Row {
        figure: "figure".into(),
        target: "target".into(),
        concurrent: "concurrent (default)".into(),
        serial: "serial".into(),
        verdict: String::new(),
    };
    let width = |f: fn(&Row) -> &str| {
        rows.iter()
            .chain([&header])
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w1, w2, w3, w4) = (
        width(|r| &r.figure),
        width(|r| &r.target),
        width(|r| &r.concurrent),
        width(|r| &r.serial),
    );
    let mut out = format!(
        "L = {} per request on both sides; {} bindings; median of {} creates and {} starts\n",
        ms(results.options.latency),
        results.options.bindings,
        results.options.repeat,
        results.options.starts
    );
    for row in [&header].into_iter().chain(rows.iter()) {
        let _ = writeln!(
            out,
            "{:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}",
            row.figure, row.target, row.concurrent, row.serial, row.verdict
        );
    }
    out
}

/// Whether the latency or the floor bounds a figure: the floor bounds it when the command
/// without latency already takes most of the time it takes with it.
fn floor_bounds(with: &Window, without: &Window) -> bool {
    without.span.as_secs_f64() >= 0.8 * with.span.as_secs_f64()
}

/// The plan without latency, and what that says.
fn plan_floor(results: &Results, cores: &str) -> String {
    let l = results.options.latency;
    let (with, without) = (&results.concurrent.plan, &results.floors.plan);
    let conclusion = match floor_bounds(with, without) {
        true => format!(
            "so the plan is bound by how fast Terraform, the \
             provider and the emulators get through its {} requests on {cores} cores, not by \
             round trips",
            without.requests
        ),
        false => format!(
            "so the latency adds {:.1} L",
            ratio(with.span.saturating_sub(without.span), l)
        ),
    };
    format!(
        "- The same `terraform plan` of {} bindings **without injected latency** takes {} \
         (API time {}, {} requests): Terraform, the provider and the emulators working at full \
         speed, the floor under the whole-command figures above. Its API time is {:.1} L \
         against {:.1} L with the latency, {conclusion}.",
        results.options.bindings,
        ms(without.wall),
        ms(without.span),
        without.requests,
        ratio(without.span, l),
        ratio(with.span, l),
    )
}

/// The destroy without latency, Terraform's own share measured without the provider.
fn destroy_floor(results: &Results) -> String {
    let l = results.options.latency;
    let n = results.options.bindings;
    let floors = &results.floors;
    let (with, without) = (&results.concurrent.destroy, &floors.destroy);
    let bound = match floor_bounds(with, without) {
        true => "latency is not what bounds it",
        false => "latency is a part of it",
    };
    format!(
        "- The destroy of the {n} **without injected latency** takes {} (API time {}, {:.1} L; \
         {} requests): {bound}. Terraform rewrites the whole local state file ({} KB here) \
         after each destroyed resource, one resource at a time, so a destroy costs Terraform \
         time in proportion to the state's size whatever the provider does. Measured in the \
         same run without any provider: the destroy of {n} `terraform_data` resources holding \
         the same values as JSON strings (state {} KB) takes {} ({:.1} ms per resource).",
        ms(without.wall),
        ms(without.span),
        ratio(without.span, l),
        without.requests,
        floors.state_bytes / 1000,
        floors.terraform_state_bytes / 1000,
        ms(floors.terraform_destroy),
        floors.terraform_destroy.as_secs_f64() * 1000.0 / n.max(1) as f64
    )
}

/// `docs/performance.md`.
pub fn markdown(
    results: &Results,
    machine: &[(String, String)],
    software: &[(String, String)],
) -> String {
    let l = results.options.latency;
    let n = results.options.bindings;
    let (c, s) = (&results.concurrent, &results.serial);
    let mut doc = String::new();
    let _ = writeln!(
        doc,
        "# Performance\n\n\
         <!-- Generated by `bash acceptance-tests/scripts/bench.sh`; do not edit by hand. -->\n\n\
         Speed is bounded by API round trips, so every request to IAM and to Kubernetes gets the \
         same fixed latency L = {} (the latency settings of the AWS proxy and of the Kubernetes \
         proxy in front of the API server), and each figure is given as a multiple of L together \
         with its critical-path depth: the longest chain of requests in which each one started \
         only after the previous one finished, computed from the two proxies' request logs on one \
         time line (the \
         provider's own work between requests adds time but never depth). Every figure is \
         measured twice in the same run: as the provider runs by default, and in serial mode \
         (`GITLABRUNNER_SERIAL_API_CALLS=1`, which makes the provider run independent calls one \
         by one, plus `terraform -parallelism=1`).\n",
        ms(l)
    );
    let _ = writeln!(doc, "## Results\n");
    let _ = writeln!(
        doc,
        "| figure | target | concurrent (default) | serial | |\n|---|---|---|---|---|"
    );
    for row in rows(results) {
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {} | {} |",
            row.figure, row.target, row.concurrent, row.serial, row.verdict
        );
    }
    let speedup = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64().max(1e-9);
    let _ = writeln!(
        doc,
        "\nSerial mode is {:.1}x slower for a create, {:.1}x for the plan of {n} and {:.1}x for their \
         destroy.\n",
        speedup(c.create.span, s.create.span),
        speedup(c.plan.span, s.plan.span),
        speedup(c.destroy.span, s.destroy.span)
    );
    let _ = writeln!(doc, "## What was measured\n");
    let _ = writeln!(
        doc,
        "- **API time**: from the first request of the command to the last answer, from the \
         request logs. *L* is that time divided by L; *depth* the critical-path depth; *req* \
         the number of requests.\n\
         - **create**: one `gitlabrunner_irsa_binding` with {} grant namespaces, {} managed \
         policies and {} inline policy, applied from a saved plan (so only the create's \
         requests are in the logs); the median of {} creates.\n\
         - **create, EKS Pod Identity only**: the same binding with `irsa = false` and a \
         `pod_identity` block on the rig's cluster (the rig's EKS answers \
         `CreatePodIdentityAssociation` behind the same proxy and latency): no OIDC provider, \
         so no wiring reads; the association is created beside the policies, the \
         ServiceAccount and the RBAC, after the role it names.\n\
         - **plan**: `terraform plan` of {n} such bindings (each read makes {} requests: GetRole, \
         ListAttachedRolePolicies, GetRolePolicy, the ServiceAccount, and each grant's Role and \
         RoleBinding), at Terraform's default parallelism of 10; the plan is empty. The proof of \
         wiring adds one request per provider process, not per binding: the cluster's \
         `/.well-known/openid-configuration` (the ARN names the OIDC provider's issuer, so the \
         plan needs nothing from IAM). A plan that creates a binding or changes its OIDC \
         provider or audience also reads `GetOpenIDConnectProvider` (once per ARN and process), \
         as a plan that writes to IAM asks `GetCallerIdentity` (the account check), all side by \
         side; Terraform plans again during apply, so a create makes them in its own process \
         (one round trip) before anything is created. The *once per provider process* rows \
         count these requests and the provider processes Terraform ran for the command (polled \
         from `/proc`).\n\
         - **destroy**: `terraform apply` of a saved destroy plan of the {n} (the refresh of \
         `plan -destroy` is not in the figure).\n\
         - **whole command**: the wall time of the Terraform command, Terraform's own work, \
         provider start and configuration included.\n\
         - **start**: the release binary started with the go-plugin environment Terraform sets \
         (AutoMTLS on, a P-521 client certificate like Terraform's), until its handshake line \
         is read; median of {} starts. **GetProviderSchema**: from sending the request over \
         the established TLS connection to the end of the answer.\n\
         - **peak RSS**: the largest `VmHWM` of the provider processes Terraform started for the \
         plan of {n}, polled every 10 ms from `/proc`.\n",
        results.shape.grants,
        results.shape.managed_policies,
        results.shape.inline_policies,
        results.options.repeat,
        2 + results.shape.inline_policies + 1 + 2 * results.shape.grants,
        results.options.starts
    );
    let _ = writeln!(doc, "## Where the time goes\n");
    let cores = machine
        .iter()
        .find(|(k, _)| k == "Cores")
        .map_or("?", |(_, v)| v.as_str());
    let _ = writeln!(doc, "{}", plan_floor(results, cores));
    let _ = writeln!(
        doc,
        "- Beyond L, the AWS emulator took a median {} per request and the Kubernetes API \
         server {} during the plan with latency ({} and {} during the create), as the proxies \
         saw them (for Kubernetes, the proxy's TLS hop included); on {cores} cores shared with \
         Terraform and the provider they grow with concurrency.\n\
         - A read has depth 1 and 10 reads run at once, so the plan of {n} cannot take less \
         than {} L; the measured depth is {} (concurrent) against {} (serial).",
        ms(c.plan.aws_service),
        ms(c.plan.kube_service),
        ms(c.create.aws_service),
        ms(c.create.kube_service),
        (n as f64 / 10.0).ceil(),
        c.plan.depth,
        s.plan.depth,
    );
    let _ = writeln!(doc, "{}\n", destroy_floor(results));
    let _ = writeln!(doc, "## Machine\n\n| | |\n|---|---|");
    for (name, value) in machine.iter().chain(software) {
        let _ = writeln!(doc, "| {name} | {value} |");
    }
    let _ = writeln!(
        doc,
        "\nThe run took {:.0} s (after the builds).\n",
        results.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        doc,
        "## Running it\n\n\
         ```bash\nbash acceptance-tests/scripts/bench.sh            # L = 50 ms, {n} bindings\n\
         bash acceptance-tests/scripts/bench.sh --latency-ms 20 --bindings 50\n```\n\n\
         It installs Terraform and moto into `.tools/` when missing, builds the provider and \
         the benchmark in release mode, prints the table and rewrites this file. \
         `TF_ACC_AWS=localstack` runs it against LocalStack instead of moto. It is not part of \
         the CI test run."
    );
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::measure::{Floors, Options};
    use crate::workload::Shape;

    fn window(span_ms: u64, depth: usize) -> Window {
        Window {
            wall: Duration::from_millis(span_ms + 400),
            span: Duration::from_millis(span_ms),
            depth,
            requests: 1000,
            once: OncePerProcess {
                discovery: 1,
                ..OncePerProcess::default()
            },
            processes: 1,
            ..Window::default()
        }
    }

    fn results(plan_floor_ms: u64) -> Results {
        let figures = ModeFigures {
            create: window(120, 2),
            create_pod_identity: window(110, 2),
            plan: window(1200, 12),
            destroy: window(3400, 40),
            plan_peak_rss_kib: 30_000,
            handshake: Duration::from_millis(3),
            ..ModeFigures::default()
        };
        Results {
            options: Options {
                latency: Duration::from_millis(50),
                bindings: 100,
                repeat: 5,
                starts: 21,
                timeline: None,
            },
            shape: Shape::BENCHMARK,
            concurrent: figures.clone(),
            serial: figures,
            floors: Floors {
                plan: window(plan_floor_ms, 10),
                destroy: window(3300, 40),
                ..Floors::default()
            },
            elapsed: Duration::from_secs(150),
        }
    }

    #[test]
    fn verdicts_follow_the_targets_and_a_miss_shows_its_floor() {
        let table = table(&results(1100));
        let line = |figure: &str| {
            table
                .lines()
                .find(|l| l.starts_with(figure))
                .unwrap_or_else(|| panic!("{figure} in {table}"))
                .to_string()
        };
        assert!(line("create 1 binding").ends_with("met"), "{table}");
        assert!(line("terraform plan").ends_with("met"), "{table}");
        assert!(
            line("destroy of the 100").ends_with("MISSED; without latency 66.0 L"),
            "{table}"
        );
        assert!(line("peak RSS").ends_with("met"), "{table}");
        let once = line("plan of 100: requests once per provider process");
        assert!(
            once.contains("1 discovery GET, 0 GetOpenIDConnectProvider, 0 GetCallerIdentity; 1 provider process")
                && once.ends_with("met"),
            "{table}"
        );
    }

    #[test]
    fn a_slow_create_says_whether_round_trips_or_service_time_missed_the_target() {
        let mut slow = results(1100);
        slow.concurrent.create = Window {
            aws_service: Duration::from_millis(7),
            kube_service: Duration::from_millis(2),
            ..window(180, 3)
        };
        slow.concurrent.create_pod_identity = window(200, 4);
        assert!(
            table_line(&slow, "create 1 binding (").ends_with(
                "MISSED in time; depth 3 met (the rest is service time: AWS 7.0 ms, Kubernetes \
                 2.0 ms per request)"
            ),
            "{}",
            table(&slow)
        );
        assert!(
            table_line(&slow, "create 1 binding, EKS").ends_with("MISSED"),
            "{}",
            table(&slow)
        );
    }

    #[test]
    fn wiring_reads_beyond_one_per_process_miss_the_budget() {
        let mut over = results(1100);
        over.concurrent.plan.once.get_oidc_provider = 1;
        assert!(
            table_line(&over, "plan of 100: requests once").ends_with("MISSED"),
            "{}",
            table(&over)
        );
        // The account question is not the wiring's.
        let mut account = results(1100);
        account.concurrent.plan.once.get_caller_identity = 1;
        assert!(
            table_line(&account, "plan of 100: requests once").ends_with("met"),
            "{}",
            table(&account)
        );
    }

    fn table_line(results: &Results, prefix: &str) -> String {
        let table = table(results);
        table
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_report_says_what_bounds_the_plan() {
        let bound = markdown(&results(1100), &[], &[]);
        assert!(bound.contains("not by round trips"), "{bound}");
        let latency_bound = markdown(&results(300), &[], &[]);
        assert!(
            latency_bound.contains("so the latency adds 18.0 L"),
            "{latency_bound}"
        );
    }
}
