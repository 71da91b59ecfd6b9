//! The command line: `run`, `sync`, `check`, `status`, `demo` (see `docs/operator/cli.md`).
//!
//! Exit codes: 0 success; 1 a tenant failed (`sync`), a check failed (`check`) or the daemon
//! stopped on an error; 2 the configuration could not be loaded or the command line is wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{DaemonConfig, Env, LoadedConfig};

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
    /// Start the sandbox in-process, sync a generated dataset into it, print what landed.
    Demo,
}

/// Exit code for "the configuration could not be loaded".
pub(crate) const EXIT_CONFIG: u8 = 2;

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
                crate::sync_cmd::run(loaded, tenant, dry_run, json).await
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
                    crate::sync_cmd::print_not_started_json(&message, dry_run);
                }
                code
            }
        },
        Command::Check => crate::check::run(cli.config.as_deref()).await,
        Command::Status { json, limit } => {
            match DaemonConfig::load_without_tenants(cli.config.as_deref(), &Env::from_process()) {
                Ok(daemon) => {
                    init_logging(&daemon);
                    report(crate::status::run(&daemon, json, limit).await)
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

/// An error and its causes on one line, each said once. The library errors end their own
/// message with their source (`cannot create the directory …: Not a directory (os error 20)`),
/// so anyhow's `{:#}`, which appends every source again, would print the OS error twice.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

pub(crate) fn init_logging(daemon: &DaemonConfig) {
    crate::telemetry::init(
        daemon.log.level,
        daemon.log.format,
        daemon.log.diagnostics_data_policy,
    );
}

/// `check` prints its own findings; logs only for warnings and worse.
pub(crate) fn init_logging_quiet(daemon: &DaemonConfig) {
    let level = match daemon.log.level {
        crate::config::LogLevel::Debug | crate::config::LogLevel::Trace => daemon.log.level,
        _ => crate::config::LogLevel::Warn,
    };
    crate::telemetry::init(level, daemon.log.format, daemon.log.diagnostics_data_policy);
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
    init_logging(&loaded.daemon);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot create the directory /x for the SQLite ledger: {source}")]
    struct CreateDirectory {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn error_text_says_each_cause_once() {
        let os = std::io::Error::from_raw_os_error(20);
        let os_text = os.to_string();
        let error =
            anyhow::Error::new(CreateDirectory { source: os }).context("opening the ledger");
        let text = error_text(&error);
        assert_eq!(text.matches(&os_text).count(), 1, "{text}");
        assert!(
            text.starts_with("opening the ledger: cannot create the directory /x"),
            "{text}"
        );
    }

    #[test]
    fn error_text_keeps_causes_the_message_does_not_repeat() {
        let error = anyhow::anyhow!("disk full").context("writing the run");
        assert_eq!(error_text(&error), "writing the run: disk full");
    }
}
