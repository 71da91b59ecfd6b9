//! For the tests of this workspace only: the one place that decides whether the PostgreSQL
//! tests run.

/// The server the PostgreSQL tests use (`scripts/test.sh` starts a throwaway cluster).
pub const POSTGRES_URL_VAR: &str = "DATABASE_URL_POSTGRES";

/// Set by CI (`.ci/run`): there, a PostgreSQL test that would be skipped fails instead, so a
/// broken cluster start cannot turn the PostgreSQL suite into a silent pass.
pub const REQUIRE_POSTGRES_VAR: &str = "CFC_REQUIRE_POSTGRES";

/// A fresh database `<prefix>_<uuid>` on the server [`POSTGRES_URL_VAR`] names; its URL keeps
/// the server's credentials and query. Without that variable: `None`, after saying that `what`
/// is skipped, or a panic when [`REQUIRE_POSTGRES_VAR`] is set.
pub async fn fresh_postgres_database(prefix: &str, what: &str) -> Option<String> {
    use sqlx::Connection as _;
    let base = match std::env::var(POSTGRES_URL_VAR) {
        Ok(base) => base,
        Err(_) if std::env::var_os(REQUIRE_POSTGRES_VAR).is_some() => panic!(
            "{what} needs PostgreSQL, {POSTGRES_URL_VAR} is not set and {REQUIRE_POSTGRES_VAR} \
             says PostgreSQL tests must run here"
        ),
        Err(_) => {
            println!(
                "skipped: {what} needs PostgreSQL and {POSTGRES_URL_VAR} is not set \
                 (scripts/test.sh starts a throwaway cluster)"
            );
            return None;
        }
    };
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connecting to the PostgreSQL test server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("creating the test database");
    admin.close().await.expect("closing the admin connection");
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (base.as_str(), String::new()),
    };
    let (server, _database) = without_query
        .rsplit_once('/')
        .expect("a PostgreSQL URL names a database");
    Some(format!("{server}/{name}{query}"))
}
