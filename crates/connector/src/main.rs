//! `confluence-connector`: see `docs/operator/cli.md`.

fn main() -> std::process::ExitCode {
    connector::cli::main()
}
