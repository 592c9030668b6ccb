//! Opening a fresh store per test: a temporary SQLite file, or a fresh PostgreSQL schema.

use std::io::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use portcullis_store::Store;
use portcullis_store::postgres::PgStore;
use portcullis_store::sqlite::SqliteStore;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// A database a test can open (and open again, to see what was made durable).
pub trait Harness: Sync {
    /// Which backend the test's database is.
    fn backend(&self) -> portcullis_store::Backend;

    /// Opens a store on the test's database.
    fn open(&self) -> impl Future<Output = Arc<dyn Store>> + Send;

    /// Opens a store on the test's database with audit keys.
    fn open_with_keys(&self, keys: portcullis_store::Keyring) -> impl Future<Output = Arc<dyn Store>> + Send;

    /// Runs SQL on the test's database behind the store's back (to tamper with it).
    fn execute(&self, sql: &str) -> impl Future<Output = ()> + Send;
}

/// A temporary SQLite file.
pub struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl SqliteHarness {
    pub fn new() -> Self {
        SqliteHarness {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
}

impl Harness for SqliteHarness {
    fn backend(&self) -> portcullis_store::Backend {
        portcullis_store::Backend::Sqlite
    }

    async fn open(&self) -> Arc<dyn Store> {
        self.open_with_keys(portcullis_store::Keyring::none()).await
    }

    async fn open_with_keys(&self, keys: portcullis_store::Keyring) -> Arc<dyn Store> {
        let url = format!("sqlite://{}", self.dir.path().join("test.db").display());
        Arc::new(SqliteStore::open(&url).await.expect("the SQLite store opens").with_audit_keys(keys))
    }

    async fn execute(&self, sql: &str) {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.dir.path().join("test.db"))
            .create_if_missing(true);
        // A one-connection pool: a pool is an executor that can be held across awaits.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("a SQLite connection");
        sqlx::raw_sql(sql).execute(&pool).await.unwrap_or_else(|e| panic!("`{sql}`: {e}"));
        pool.close().await;
    }
}

/// The PostgreSQL server tests use, from `PORTCULLIS_TEST_POSTGRES`.
pub fn postgres_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh schema in the test PostgreSQL database.
pub struct PgHarness {
    options: PgConnectOptions,
    schema: String,
}

impl PgHarness {
    /// A fresh schema, or `None` (after saying so by name) when PostgreSQL does not answer
    /// and is not required.
    pub async fn new(test: &str) -> Option<PgHarness> {
        let url = postgres_url();
        let options = match PgConnectOptions::from_str(&url) {
            Ok(options) => options,
            Err(error) => return skip(test, &error.to_string()),
        };
        let connected = tokio::time::timeout(Duration::from_secs(3), PgConnection::connect_with(&options)).await;
        let mut connection = match connected {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return skip(test, &error.to_string()),
            Err(_) => return skip(test, "no answer within 3 s"),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let short: String = test.chars().take(30).collect();
        let schema = format!("pc_{short}_{}_{nanos}", std::process::id());
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
            .execute(&mut connection)
            .await
            .expect("a fresh schema");
        let _ = connection.close().await;
        // The schema names the test's connections too, so a test can find its own.
        let options = options.options([("search_path", schema.as_str())]).application_name(&schema);
        Some(PgHarness { options, schema })
    }

    /// The schema (also the application name of the test's connections).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// How the test connects (to its own schema).
    pub fn options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// Removes the test's schema.
    pub async fn drop_schema(&self) {
        if let Ok(mut connection) = PgConnection::connect_with(&self.options).await {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
                .execute(&mut connection)
                .await;
            let _ = connection.close().await;
        }
    }
}

fn skip(test: &str, reason: &str) -> Option<PgHarness> {
    if std::env::var("PORTCULLIS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("PostgreSQL is required (PORTCULLIS_REQUIRE_POSTGRES=1) but {}: {reason}", postgres_url());
    }
    // Written to the process's stderr directly, so the test harness does not swallow it.
    let _ = writeln!(std::io::stderr().lock(), "skipped (no PostgreSQL): postgres::{test}");
    None
}

impl Harness for PgHarness {
    fn backend(&self) -> portcullis_store::Backend {
        portcullis_store::Backend::Postgres
    }

    async fn open(&self) -> Arc<dyn Store> {
        self.open_with_keys(portcullis_store::Keyring::none()).await
    }

    async fn open_with_keys(&self, keys: portcullis_store::Keyring) -> Arc<dyn Store> {
        Arc::new(
            PgStore::open_with(self.options.clone())
                .await
                .expect("the PostgreSQL store opens")
                .with_audit_keys(keys),
        )
    }

    async fn execute(&self, sql: &str) {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options.clone())
            .await
            .expect("a PostgreSQL connection");
        sqlx::raw_sql(sql).execute(&pool).await.unwrap_or_else(|e| panic!("`{sql}`: {e}"));
        pool.close().await;
    }
}
