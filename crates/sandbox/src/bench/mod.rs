//! The benchmark suite (docs/benchmarks.md): each scenario starts the sandbox in this process with a
//! generated tenant, realistic latency and rate limits on both sides, runs the release
//! `confluence-connector sync` as a child process, and reports request counts by route, bytes
//! moved, wall time, the rate-limit floor, `wall / floor` and the connector's peak RSS.
//!
//! The binary is `src/bin/bench.rs`; docs/benchmarks.md has the command, the numbers and what
//! they mean. Logic lives here so tests can reuse it: [`metrics`] is the arithmetic (floor,
//! ratio, the Confluence request bound), [`scenario`] the parameters, [`mutate`] the changes
//! between two syncs, and `run` the orchestration.

pub mod metrics;
pub mod mutate;
mod run;
pub mod scenario;

pub use run::{run_scenarios, BenchOptions};
pub use scenario::{Scenario, ScenarioParams};
