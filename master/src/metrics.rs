//! Prometheus metrics of the master (`GET /metrics`, text format).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    pub op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
    pub status: u16,
}

type HistCtor = fn() -> Histogram;

pub struct Metrics {
    registry: Registry,
    pub ns_ops: Family<OpLabel, Counter>,
    pub requests: Family<RouteLabel, Counter>,
    pub latency: Family<OpLabel, Histogram, HistCtor>,
    pub chunks_allocated: Counter,
    pub chunks_from_pool: Counter,
    pub chunks_deleted: Counter,
    pub leases: Counter,
    pub rereplication_bytes: Counter,
    pub rereplication_copies: Counter,
    pub rereplication_queue: Gauge,
    pub chunks_total: Gauge,
    pub chunks_under_replicated: Gauge,
    pub chunks_missing: Gauge,
    pub chunks_over_replicated: Gauge,
    pub chunkservers_alive: Gauge,
    pub files: Gauge,
    /// Proposals answered `NoQuorum` because they were not committed in time.
    pub propose_timeouts: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ferrofs_master");
        let m = Metrics {
            ns_ops: Family::default(),
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 2.0, 16))
            }),
            chunks_allocated: Counter::default(),
            chunks_from_pool: Counter::default(),
            chunks_deleted: Counter::default(),
            leases: Counter::default(),
            rereplication_bytes: Counter::default(),
            rereplication_copies: Counter::default(),
            rereplication_queue: Gauge::default(),
            chunks_total: Gauge::default(),
            chunks_under_replicated: Gauge::default(),
            chunks_missing: Gauge::default(),
            chunks_over_replicated: Gauge::default(),
            chunkservers_alive: Gauge::default(),
            files: Gauge::default(),
            propose_timeouts: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("namespace_ops", "Namespace mutations", m.ns_ops.clone());
        registry.register(
            "propose_timeouts",
            "Proposals not committed within propose_timeout (answered no_quorum)",
            m.propose_timeouts.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.requests.clone(),
        );
        registry.register(
            "request_seconds",
            "Request latency by route",
            m.latency.clone(),
        );
        registry.register(
            "chunks_allocated",
            "Chunks allocated",
            m.chunks_allocated.clone(),
        );
        registry.register(
            "chunks_from_pool",
            "New chunks taken ready-made from the leader's pool",
            m.chunks_from_pool.clone(),
        );
        registry.register("chunks_deleted", "Chunks deleted", m.chunks_deleted.clone());
        registry.register("leases", "Write leases granted", m.leases.clone());
        registry.register(
            "rereplication_bytes",
            "Bytes restored by re-replication",
            m.rereplication_bytes.clone(),
        );
        registry.register(
            "rereplication_copies",
            "Replica copies completed",
            m.rereplication_copies.clone(),
        );
        registry.register(
            "rereplication_queue_length",
            "Chunks below goal waiting for copies",
            m.rereplication_queue.clone(),
        );
        registry.register("chunks", "Chunks known", m.chunks_total.clone());
        registry.register(
            "chunks_under_replicated",
            "Chunks below goal",
            m.chunks_under_replicated.clone(),
        );
        registry.register(
            "chunks_missing",
            "Chunks with no live replica",
            m.chunks_missing.clone(),
        );
        registry.register(
            "chunks_over_replicated",
            "Chunks above goal",
            m.chunks_over_replicated.clone(),
        );
        registry.register(
            "chunkservers_alive",
            "Live chunkservers",
            m.chunkservers_alive.clone(),
        );
        registry.register("files", "Files and directories", m.files.clone());
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut s = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut s, &self.registry);
        s
    }
}
