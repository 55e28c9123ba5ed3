//! What the supervisor counts, in the forms operators read: Prometheus exposition (the web
//! server's `/metrics`, through `prometheus-client`) with Falco's metric names where the
//! concept is Falco's (`falcosecurity_falco_rules_matches_total`,
//! `falcosecurity_falco_outputs_queue_num_drops_total`) and tiercel's own (`tiercel_*`);
//! and Falco's metrics snapshot (`metrics.output_rule`: an alert of the rule
//! "Falco internal: metrics snapshot"; `metrics.output_file`: one JSON line per interval).
//!
//! Every figure is read from atomics at scrape time; nothing here runs on the hot path.
//! The notification latency histogram is lock-free (atomic buckets), filled by the sessions
//! for the sampled notifications.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde_json::{json, Map, Value};

use crate::session::Stats;
use crate::sinks::{OutputStats, RuleCounters, SinkStats};

/// Upper bounds of the latency buckets, in nanoseconds (then +Inf).
const BOUNDS_NS: [u64; 12] = [
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 5_000_000,
    20_000_000,
];

/// RECV-return → SEND-call time of the sampled notifications: atomic buckets, no lock.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe_ns(&self, ns: u64) {
        let i = BOUNDS_NS.partition_point(|&b| b < ns);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// (sum in seconds, count, per-bucket counts with their upper bound in seconds).
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let buckets = BOUNDS_NS
            .iter()
            .map(|&b| b as f64 / 1e9)
            // prometheus-client writes f64::MAX as `+Inf`.
            .chain(std::iter::once(f64::MAX))
            .zip(self.buckets.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        (
            self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            self.count.load(Ordering::Relaxed),
            buckets,
        )
    }
}

/// A histogram read at scrape time.
#[derive(Debug)]
struct HistogramSnapshot(f64, u64, Vec<(f64, u64)>);

impl EncodeMetric for HistogramSnapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.0, self.1, &self.2, None)
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Where the figures come from: the supervisor's counters, the outputs' counters, the
/// per-rule counts kept by the output side.
#[derive(Clone)]
pub struct Sources {
    pub start: SystemTime,
    pub stats: Arc<Stats>,
    pub sinks: Arc<SinkStats>,
    pub outputs: Vec<(&'static str, Arc<OutputStats>)>,
    pub rules: RuleCounters,
    /// Rules loaded now (updated on reload).
    pub rules_loaded: Arc<AtomicU64>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// The Falco version whose rules language and engine (0.63.0) tiercel implements.
pub const FALCO_VERSION: &str = "0.44.1";

fn counter(r: &mut Registry, name: &str, help: &str, v: u64) {
    r.register(name, help, ConstCounter::new(v));
}

type Labels = Vec<(String, String)>;

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Sources {
    /// The Prometheus text exposition (OpenMetrics text, as `prometheus-client` encodes it).
    pub fn prometheus(&self) -> String {
        let mut r = Registry::default();
        let s = &self.stats;
        // Falco's names.
        let matches = Family::<Labels, prometheus_client::metrics::counter::Counter>::default();
        let denied = Family::<Labels, prometheus_client::metrics::counter::Counter>::default();
        if let Ok(rules) = self.rules.lock() {
            for (name, c) in rules.iter() {
                matches
                    .get_or_create(&vec![
                        ("priority".into(), c.priority.clone()),
                        ("rule_name".into(), name.clone()),
                        ("source".into(), c.source.clone()),
                        ("tags".into(), c.tags.join(",")),
                    ])
                    .inc_by(c.matches);
                if c.denied > 0 {
                    denied
                        .get_or_create(&vec![("rule_name".into(), name.clone())])
                        .inc_by(c.denied);
                }
            }
        }
        r.register(
            "falcosecurity_falco_rules_matches",
            "Alerts per rule (Falco's rules counters)",
            matches,
        );
        counter(
            &mut r,
            "falcosecurity_falco_outputs_queue_num_drops",
            "Alerts dropped because the output queue was full",
            load(&self.sinks.dropped),
        );
        let info = Family::<Labels, Gauge>::default();
        info.get_or_create(&vec![
            ("version".into(), env!("CARGO_PKG_VERSION").into()),
            ("falco_version".into(), FALCO_VERSION.into()),
        ])
        .set(1);
        r.register("tiercel_info", "tiercel's version", info);
        // tiercel's own.
        for (name, help, v) in [
            (
                "tiercel_notifications",
                "Seccomp notifications received",
                &s.notifications,
            ),
            (
                "tiercel_notifications_continued",
                "Notifications answered CONTINUE",
                &s.continued,
            ),
            (
                "tiercel_notifications_denied",
                "Notifications refused with an errno",
                &s.denied,
            ),
            (
                "tiercel_notifications_gone",
                "Notifications whose caller went away",
                &s.gone,
            ),
            (
                "tiercel_runtime_phase",
                "Notifications answered while the runtime ran (never denied)",
                &s.runtime_phase,
            ),
            ("tiercel_alerts", "Alerts raised", &s.alerts),
            (
                "tiercel_would_deny",
                "Calls enforce mode would have refused, seen in audit mode",
                &s.would_deny,
            ),
            (
                "tiercel_emulated_opens",
                "Opens performed on the caller's behalf (fd handed over with ADDFD)",
                &s.emulated,
            ),
            (
                "tiercel_sessions_started",
                "Listener fds received",
                &s.sessions_started,
            ),
            ("tiercel_recv_errors", "Failed RECV ioctls", &s.recv_errors),
            ("tiercel_send_errors", "Failed SEND ioctls", &s.send_errors),
            (
                "tiercel_panics",
                "Panics caught while handling a notification",
                &s.panics,
            ),
        ] {
            counter(&mut r, name, help, load(v));
        }
        r.register(
            "tiercel_sessions_active",
            "Listener fds being served",
            ConstGauge::new(i64::try_from(load(&s.sessions_active)).unwrap_or(i64::MAX)),
        );
        r.register(
            "tiercel_cache_bytes",
            "Bytes held by the containers' process tables and user dbs (bounded per container, freed with its last session)",
            ConstGauge::new(
                i64::try_from(crate::event::procfs::cache_bytes()).unwrap_or(i64::MAX),
            ),
        );
        r.register(
            "tiercel_proc_watches",
            "Tasks whose process facts are kept true by pidfds (three descriptors each; at most 64 per container, 1024 in all)",
            ConstGauge::new(i64::try_from(crate::event::procfs::watches()).unwrap_or(i64::MAX)),
        );
        r.register(
            "tiercel_rules_loaded",
            "Rules loaded",
            ConstGauge::new(i64::try_from(load(&self.rules_loaded)).unwrap_or(i64::MAX)),
        );
        r.register("tiercel_rule_denied", "Calls refused, per rule", denied);
        let (sum, count, buckets) = s.latency.snapshot();
        r.register(
            "tiercel_notification_handling_seconds",
            "RECV return to SEND call, sampled (one notification in 8)",
            HistogramSnapshot(sum, count, buckets),
        );
        let (written, dropped, errors) = (
            Family::<Labels, prometheus_client::metrics::counter::Counter>::default(),
            Family::<Labels, prometheus_client::metrics::counter::Counter>::default(),
            Family::<Labels, prometheus_client::metrics::counter::Counter>::default(),
        );
        for (name, st) in &self.outputs {
            let l = vec![("output".to_string(), name.to_string())];
            written.get_or_create(&l).inc_by(load(&st.written));
            dropped.get_or_create(&l).inc_by(load(&st.dropped));
            errors.get_or_create(&l).inc_by(load(&st.errors));
        }
        r.register(
            "tiercel_output_written",
            "Alerts written, per output",
            written,
        );
        r.register(
            "tiercel_output_dropped",
            "Alerts an output dropped (its own queue full: slow endpoint)",
            dropped,
        );
        r.register("tiercel_output_errors", "Failed writes, per output", errors);
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }

    /// Falco's metrics snapshot fields (`falco.*`; per-rule counts as `falco.rules.NAME`
    /// when `rules_counters` is set; tiercel's as `tiercel.*`).
    pub fn snapshot_fields(&self, rules_counters: bool) -> Map<String, Value> {
        let s = &self.stats;
        let now = SystemTime::now();
        let ns = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        };
        let mut m = Map::new();
        m.insert("evt.source".into(), json!("syscall"));
        m.insert("falco.version".into(), json!(FALCO_VERSION));
        m.insert("falco.start_ts".into(), json!(ns(self.start)));
        m.insert(
            "falco.duration_sec".into(),
            json!(now.duration_since(self.start).unwrap_or_default().as_secs()),
        );
        m.insert(
            "falco.outputs_queue_num_drops".into(),
            json!(load(&self.sinks.dropped)),
        );
        m.insert("falco.num_evts".into(), json!(load(&s.notifications)));
        if rules_counters {
            let mut total = 0;
            if let Ok(rules) = self.rules.lock() {
                for (name, c) in rules.iter() {
                    total += c.matches;
                    m.insert(format!("falco.rules.{name}"), json!(c.matches));
                }
            }
            m.insert("falco.rules.matches_total".into(), json!(total));
        }
        m.insert("tiercel.version".into(), json!(env!("CARGO_PKG_VERSION")));
        m.insert(
            "tiercel.notifications".into(),
            json!(load(&s.notifications)),
        );
        m.insert("tiercel.continued".into(), json!(load(&s.continued)));
        m.insert("tiercel.denied".into(), json!(load(&s.denied)));
        m.insert(
            "tiercel.sessions_active".into(),
            json!(load(&s.sessions_active)),
        );
        m.insert(
            "tiercel.cache_bytes".into(),
            json!(crate::event::procfs::cache_bytes()),
        );
        m.insert(
            "tiercel.proc_watches".into(),
            json!(crate::event::procfs::watches()),
        );
        m.insert("tiercel.alerts".into(), json!(load(&s.alerts)));
        m.insert("tiercel.would_deny".into(), json!(load(&s.would_deny)));
        m.insert("tiercel.emulated_opens".into(), json!(load(&s.emulated)));
        m.insert(
            "tiercel.output_dropped".into(),
            json!(load(&self.sinks.output_dropped)),
        );
        m
    }
}

/// `metrics:` of falco.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub interval: Duration,
    pub output_rule: bool,
    pub output_file: Option<PathBuf>,
    pub rules_counters_enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            interval: Duration::from_secs(3600),
            output_rule: true,
            output_file: None,
            rules_counters_enabled: true,
        }
    }
}

/// A Prometheus time duration (`ms s m h d w y`, combinable: `1h30m`), at least 100 ms as
/// Falco enforces.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?}: expected a duration like 15m, 1h, 1h30m, 500ms");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, len) = [
            ("ms", 2usize),
            ("s", 1),
            ("m", 1),
            ("h", 1),
            ("d", 1),
            ("w", 1),
            ("y", 1),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))
        .ok_or_else(bad)?;
        let ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => 31_536_000_000,
        };
        total += Duration::from_millis(n.checked_mul(ms).ok_or_else(bad)?);
        rest = &rest[len..];
    }
    Ok(total.max(Duration::from_millis(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(100));
        for bad in ["", "h", "1x", "1.5h", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn histogram_buckets() {
        let h = LatencyHistogram::default();
        h.observe_ns(500);
        h.observe_ns(1_000);
        h.observe_ns(3_000);
        h.observe_ns(1_000_000_000);
        let (sum, count, b) = h.snapshot();
        assert_eq!(count, 4);
        assert!((sum - 1.0000045).abs() < 1e-9);
        assert_eq!(b[0], (1e-6, 2));
        assert_eq!(b[2], (5e-6, 1));
        assert_eq!(b.last().unwrap().1, 1);
    }
}
