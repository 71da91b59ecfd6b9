//! `bench`: the benchmark suite (see docs/benchmarks.md).
//!
//! ```sh
//! cargo run --release -p sandbox --bin bench -- initial-10k resync-nochange resync-1pct
//! cargo run --release -p sandbox --bin bench -- all --json-out bench.jsonl
//! cargo run --release -p sandbox --bin bench -- all --scale 0.05      # a quick run
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use clap::Parser;
use sandbox::bench::{run_scenarios, BenchOptions, Scenario};

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Runs the release confluence-connector against the sandbox and prints one JSON object per scenario"
)]
struct Cli {
    /// initial-10k, resync-nochange, resync-1pct, big-attachment, discovery-100k, rate-100rpm,
    /// permissions-10k, permissions-resync, or all. The resync scenarios run on the tenant of
    /// initial-10k (permissions-resync: permissions-10k), which runs first when not named.
    #[arg(required = true)]
    scenarios: Vec<String>,
    /// Also append each result as one JSON line to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Multiplies page and attachment counts (0.05 for a quick run; the big attachment keeps
    /// its 1 GiB).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// The connector binary. Default: `cargo build --release -p connector` and the
    /// `confluence-connector` next to this binary.
    #[arg(long)]
    connector: Option<PathBuf>,
    /// Tenant configs, state databases and connector output go here.
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// The tenant's processing.concurrency.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The tenant's processing.bodyBatchSize (Cloud allows 250).
    #[arg(long, default_value_t = 250)]
    body_batch_size: usize,
    /// Override every scenario's Confluence rate (requests per minute; recorded in the result).
    #[arg(long)]
    confluence_rpm: Option<u32>,
    /// Override every scenario's Unique rate (requests per minute; recorded in the result).
    #[arg(long)]
    unique_rpm: Option<u32>,
}

/// Builds the release connector (a no-op when it is fresh) and returns its path.
fn build_connector() -> anyhow::Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "connector",
            "--bin",
            "confluence-connector",
        ])
        .status()
        .context("running cargo build for the connector")?;
    if !status.success() {
        bail!("cargo build --release -p connector failed");
    }
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let path = exe
        .parent()
        .context("the bench binary's directory")?
        .join("confluence-connector");
    if !path.is_file() {
        bail!(
            "{} not found after building; pass --connector",
            path.display()
        );
    }
    Ok(path)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let scenarios = Scenario::parse_list(&cli.scenarios).map_err(anyhow::Error::msg)?;
    if !(cli.scale > 0.0 && cli.scale.is_finite()) {
        bail!("--scale must be a positive number");
    }
    let connector = match cli.connector {
        Some(path) => path,
        None => build_connector()?,
    };
    let connector = std::fs::canonicalize(&connector)
        .with_context(|| format!("connector binary {}", connector.display()))?;
    std::fs::create_dir_all(&cli.work_dir)
        .with_context(|| format!("creating {}", cli.work_dir.display()))?;
    let options = BenchOptions {
        connector,
        work_dir: std::fs::canonicalize(&cli.work_dir)?,
        scale: cli.scale,
        concurrency: cli.concurrency.max(1),
        body_batch_size: cli.body_batch_size.max(1),
        confluence_rpm: cli.confluence_rpm,
        unique_rpm: cli.unique_rpm,
    };
    let mut json_out = match &cli.json_out {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => None,
    };
    run_scenarios(&scenarios, &options, |result| {
        let line = serde_json::to_string(result)?;
        // The file first: a closed stdout (`| head`) must not lose a result that took minutes.
        if let Some(file) = json_out.as_mut() {
            writeln!(file, "{line}")?;
            file.flush()?;
        }
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        Ok(())
    })
    .await
}
