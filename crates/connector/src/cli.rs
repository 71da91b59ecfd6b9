//! The command line: `run`, `sync`, `check`, `status`, `access-report`, `demo` (see
//! `docs/operator/cli.md`).
//!
//! Exit codes: 0 success; 1 a tenant failed (`sync`, `access-report`), a check failed (`check`) or the daemon
//! stopped on an error; 2 the configuration could not be loaded or the command line is wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd::Outcome;
use crate::config::{DaemonConfig, Env, LoadedConfig};
use crate::errors::error_text;

/// Syncs labelled Confluence pages into a Unique knowledge base.
#[derive(Debug, Parser)]
#[command(name = "confluence-connector", version, about)]
pub struct Cli {
    /// The daemon config file (YAML). Without it, settings come from the environment only.
    #[arg(
        long,
        global = true,
        env = "CONFLUENCE_CONNECTOR_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: every tenant on its schedule until SIGTERM or SIGINT.
    Run,
    /// One cycle for every tenant (or one), then exit; non-zero when a tenant failed.
    Sync {
        /// Only this tenant.
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
        /// Discover and diff, print what would change, write nothing to Unique.
        #[arg(long)]
        dry_run: bool,
        /// Print a JSON summary on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config, resolve secrets, reach Confluence and Unique.
    Check,
    /// Recent runs per tenant from the state ledger.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Runs shown per tenant.
        #[arg(long, default_value_t = 5)]
        limit: u32,
    },
    /// Who can read each synced space and page in Confluence, as permission sync computes it.
    /// Read-only: writes nothing to Unique or the ledger; works with `permissions.mode: none`.
    AccessReport {
        /// Only this tenant.
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
        /// Print JSON instead of text.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV, one row per (space, page, principal).
        #[arg(long)]
        csv: bool,
    },
    /// Start the sandbox in-process, sync a generated dataset into it, print what landed.
    Demo,
}

/// Exit code for "the configuration could not be loaded".
const EXIT_CONFIG: u8 = 2;

fn exit_code(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Success => ExitCode::SUCCESS,
        Outcome::Failed => ExitCode::FAILURE,
        Outcome::ConfigInvalid => ExitCode::from(EXIT_CONFIG),
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(dispatch(cli));
    // Abandoned runs are aborted, but blocking work (file or DNS I/O) may still be going; do not wait.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Demo => report(crate::demo::run().await),
        Command::Run => match load(cli.config.as_deref()) {
            Ok(loaded) => report(crate::daemon::run(cli.config, loaded).await),
            Err(code) => code,
        },
        Command::Sync {
            tenant,
            dry_run,
            json,
        } => match DaemonConfig::load(cli.config.as_deref(), &Env::from_process()) {
            Ok(loaded) => {
                start_logging(&loaded);
                exit_code(crate::cmd::sync::run(loaded, tenant, dry_run, json).await)
            }
            Err(errors) => {
                let code = config_failed(&errors);
                if json {
                    let problems: Vec<String> =
                        errors.errors().iter().map(ToString::to_string).collect();
                    let message = format!(
                        "the configuration has {} problem(s): {}",
                        errors.len(),
                        problems.join("; ")
                    );
                    crate::cmd::sync::print_not_started_json(&message, dry_run);
                }
                code
            }
        },
        Command::Check => exit_code(crate::cmd::check::run(cli.config.as_deref()).await),
        Command::AccessReport { tenant, json, csv } => {
            use crate::cmd::access_report::{self, Format};
            let format = match (json, csv) {
                (true, _) => Format::Json,
                (_, true) => Format::Csv,
                _ => Format::Text,
            };
            match load(cli.config.as_deref()) {
                Ok(loaded) => exit_code(access_report::run(loaded, tenant, format).await),
                Err(code) => code,
            }
        }
        Command::Status { json, limit } => {
            match DaemonConfig::load_without_tenants(cli.config.as_deref(), &Env::from_process()) {
                Ok(daemon) => {
                    crate::telemetry::init_from_config(&daemon);
                    report(crate::cmd::status::run(&daemon, json, limit).await)
                }
                Err(errors) => config_failed(&errors),
            }
        }
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = error_text(&e);
            tracing::error!(error = %text, "stopped on an error");
            eprintln!("error: {text}");
            ExitCode::FAILURE
        }
    }
}

fn config_failed(errors: &crate::config::ConfigErrors) -> ExitCode {
    eprintln!("the configuration has {} problem(s):", errors.len());
    for e in errors.errors() {
        eprintln!("  - {e}");
    }
    ExitCode::from(EXIT_CONFIG)
}

/// Sets logging up from the config and logs its warnings.
fn start_logging(loaded: &LoadedConfig) {
    crate::telemetry::init_from_config(&loaded.daemon);
    for w in &loaded.warnings {
        tracing::warn!(file = %w.file, field = %w.field, "{}", w.message);
    }
}

/// Loads the config and sets logging up from it; on failure prints every problem.
fn load(path: Option<&std::path::Path>) -> Result<LoadedConfig, ExitCode> {
    match DaemonConfig::load(path, &Env::from_process()) {
        Ok(loaded) => {
            start_logging(&loaded);
            Ok(loaded)
        }
        Err(errors) => Err(config_failed(&errors)),
    }
}
