//! Whether PostgreSQL can be reached. While the database is down, sqlx's pool retries
//! connecting until its acquire timeout (10 s) on every call, so every write and every
//! credential check would hang that long before failing. Instead the first call that finds the
//! database gone marks it unreachable, every later call is refused at once with
//! [`StoreError::Unavailable`] (a 503 at the server), and one background task connects every
//! [`PROBE_EVERY`] until the database answers, then lets calls through again (as does the
//! change feed's listener when it listens again, which may be first).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::err::StoreError;

/// How often the probe connects while the database is unreachable.
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// How long one probe may take to connect.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The reachability of one store's database, shared by its clones.
#[derive(Clone)]
pub(crate) struct Reach(Arc<Inner>);

struct Inner {
    /// How the probe connects (holds the password: never printed).
    options: PgConnectOptions,
    /// Since when the database has been unreachable; `None` while it answers.
    down_since: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reach").field("down_for", &self.down_for()).finish()
    }
}

impl Reach {
    pub(crate) fn new(options: PgConnectOptions) -> Reach {
        Reach(Arc::new(Inner {
            options,
            down_since: Mutex::new(None),
        }))
    }

    fn down_since(&self) -> MutexGuard<'_, Option<Instant>> {
        // The guarded value is a plain `Option<Instant>`: a panic elsewhere cannot leave it torn.
        self.0.down_since.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// For how long the database has been unreachable, if it is.
    pub(crate) fn down_for(&self) -> Option<Duration> {
        self.down_since().map(|since| since.elapsed())
    }

    /// Runs one call of the store unless the database is known to be unreachable; a call that
    /// finds it unreachable marks it so and starts the probe.
    pub(crate) async fn call<T>(&self, call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        if let Some(down) = self.down_for() {
            return Err(StoreError::Unavailable(format!(
                "the database has not answered for {} ms; calls are refused until it answers again",
                down.as_millis()
            )));
        }
        let result = call.await;
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.lost();
        }
        result
    }

    /// Marks the database unreachable and starts the probe, unless it is already marked.
    pub(crate) fn lost(&self) {
        {
            let mut since = self.down_since();
            if since.is_some() {
                return;
            }
            *since = Some(Instant::now());
        }
        tracing::warn!("the database does not answer; refusing calls until it does");
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(self.clone().probe());
            }
            // No runtime to probe from (cannot happen inside an async call, but never mark
            // the database down for good).
            Err(_) => *self.down_since() = None,
        }
    }

    /// The database answered on another connection (the feed listens again): calls go through.
    pub(crate) fn answered(&self) {
        if self.down_since().take().is_some() {
            tracing::info!("the database answers again");
        }
    }

    /// Connects until the database answers, then lets calls through again.
    async fn probe(self) {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            if let Ok(Ok(connection)) = tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&self.0.options)).await {
                let _ = connection.close().await;
                let down = self.down_since().take();
                tracing::info!(
                    down_ms = down.map(|since| since.elapsed().as_millis() as u64),
                    "the database answers again"
                );
                return;
            }
        }
    }
}
