//! Logs on stderr as hclog JSON lines, which go-plugin parses and Terraform shows under
//! `TF_LOG`/`TF_LOG_PROVIDER`: `{"@level":"debug","@message":"...","@module":"provider",
//! "@timestamp":"2026-01-02T03:04:05.000000Z", ...fields}`.
//!
//! The level comes from `TF_LOG_PROVIDER`, else `TF_LOG` (`TRACE`, `DEBUG`, `INFO`, `WARN`,
//! `ERROR`, `JSON` = trace, `OFF`); unset means warnings and errors only. Other crates (AWS SDK,
//! HTTP, TLS) never log below WARN, so request contents and credentials stay out of the log.

use std::fmt;

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// hclog's timestamp layout, which go-plugin parses exactly (`2006-01-02T15:04:05.000000Z07:00`).
const TIMESTAMP: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// Installs the stderr logger (once; later calls do nothing).
pub fn init() {
    let level = level_from(|name| std::env::var(name).ok());
    let filter = Targets::new()
        .with_target("gitlabrunner", level)
        .with_target("terraform_provider_gitlabrunner", level)
        .with_default(level.min(LevelFilter::WARN));
    let layer = tracing_subscriber::fmt::layer()
        .event_format(HclogJson)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// The level Terraform asks for, read through `var`.
fn level_from(var: impl Fn(&str) -> Option<String>) -> LevelFilter {
    ["TF_LOG_PROVIDER", "TF_LOG"]
        .iter()
        .filter_map(|name| var(name))
        .find_map(|value| parse_level(&value))
        .unwrap_or(LevelFilter::WARN)
}

fn parse_level(value: &str) -> Option<LevelFilter> {
    Some(match value.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "JSON" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "INFO" => LevelFilter::INFO,
        "WARN" => LevelFilter::WARN,
        "ERROR" => LevelFilter::ERROR,
        "OFF" => LevelFilter::OFF,
        _ => return None,
    })
}

/// Formats one event as one hclog JSON line.
struct HclogJson;

impl<S, N> FormatEvent<S, N> for HclogJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(
            writer,
            "{}",
            hclog_line(event, time::OffsetDateTime::now_utc())
        )
    }
}

fn hclog_line(event: &Event<'_>, now: time::OffsetDateTime) -> Json {
    let mut fields = FieldCollector::default();
    event.record(&mut fields);
    let mut line = Map::new();
    line.insert(
        "@level".into(),
        level_name(*event.metadata().level()).into(),
    );
    line.insert("@message".into(), fields.message.unwrap_or_default().into());
    line.insert("@module".into(), "provider".into());
    let timestamp = now.format(TIMESTAMP).unwrap_or_default();
    line.insert("@timestamp".into(), timestamp.into());
    line.insert("target".into(), event.metadata().target().into());
    line.extend(fields.fields);
    Json::Object(line)
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Collects an event's fields as JSON.
#[derive(Default)]
struct FieldCollector {
    message: Option<String>,
    fields: Map<String, Json>,
}

impl FieldCollector {
    fn insert(&mut self, field: &Field, value: Json) {
        if field.name() == "message" {
            self.message = Some(match value {
                Json::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_string(), value);
        }
    }
}

impl Visit for FieldCollector {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, value.to_string().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_level_wins_over_tf_log_and_default_is_warn() {
        let both = |name: &str| match name {
            "TF_LOG_PROVIDER" => Some("debug".to_string()),
            "TF_LOG" => Some("ERROR".to_string()),
            _ => None,
        };
        assert_eq!(level_from(both), LevelFilter::DEBUG);
        assert_eq!(
            level_from(|n| (n == "TF_LOG").then(|| "JSON".into())),
            LevelFilter::TRACE
        );
        assert_eq!(
            level_from(|n| (n == "TF_LOG").then(|| "off".into())),
            LevelFilter::OFF
        );
        assert_eq!(level_from(|_| None), LevelFilter::WARN);
    }

    #[test]
    fn timestamp_has_six_fraction_digits_and_z() {
        let t = time::macros::datetime!(2026-01-02 03:04:05.5 UTC);
        assert_eq!(t.format(TIMESTAMP).unwrap(), "2026-01-02T03:04:05.500000Z");
    }
}
