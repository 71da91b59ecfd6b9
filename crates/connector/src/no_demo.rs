//! `confluence-connector demo` in a build without the `demo` feature (the container image and
//! the systemd install): the sandbox is not linked, so the verb says so instead of running.

pub(crate) async fn run() -> anyhow::Result<()> {
    anyhow::bail!(
        "this build of confluence-connector has no demo: it was built without the `demo` \
         feature (production builds leave the sandbox out). Build with default features to try \
         it: cargo run --release --bin confluence-connector -- demo"
    )
}
