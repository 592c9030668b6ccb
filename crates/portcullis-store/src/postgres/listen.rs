//! The PostgreSQL side of the change feed: one task per store `LISTEN`s on
//! [`crate::feed::CHANNEL`] on a connection of its own and hands every notice of this store's
//! schema to the subscribers. When the connection is lost it connects again (backing off up to
//! [`MAX_BACKOFF`]) and, once listening again, sends [`FeedEvent::Resync`]: what was committed
//! meanwhile is read from the change log, never lost.
//!
//! The task starts with the first subscription (a CLI command never starts it) and stops when
//! the last handle of the store is dropped.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::{broadcast, watch};

use super::reach::Reach;
use crate::feed::{CHANNEL, Feed, FeedEvent, Listening, Notice};

/// Events a slow subscriber may fall behind by before it is told to resync.
const CAPACITY: usize = 4096;

/// The longest wait between two attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The running listener: its subscribers' channel, and its stop signal (dropped with the store).
#[derive(Debug)]
pub(crate) struct Hub {
    sender: broadcast::Sender<FeedEvent>,
    listening: Listening,
    _stop: watch::Sender<()>,
}

impl Hub {
    /// Starts listening for `schema`'s notices (must run inside a tokio runtime), on a
    /// connection of its own: it never takes one of the store's pool. A lost connection tells
    /// `reach` at once, so the store refuses calls without waiting for its pool to time out.
    pub(crate) fn start(options: PgConnectOptions, schema: String, reach: Reach) -> Hub {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        let (sender, _) = broadcast::channel(CAPACITY);
        let (stop, stopped) = watch::channel(());
        let listening = Listening::new();
        tokio::spawn(run(pool, schema, sender.clone(), stopped, listening.clone(), reach));
        Hub {
            sender,
            listening,
            _stop: stop,
        }
    }

    /// A new subscription.
    pub(crate) fn subscribe(&self) -> Feed {
        Feed::new(self.sender.subscribe(), self.listening.clone())
    }
}

async fn run(pool: PgPool, schema: String, sender: broadcast::Sender<FeedEvent>, mut stop: watch::Receiver<()>, listening: Listening, reach: Reach) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let connect = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            // A lost connection is reported at once (`Ok(None)`), not made again inside
            // `try_recv`, so the state says so while this task connects again.
            listener.eager_reconnect(false);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            _ = stop.changed() => return,
            connected = connect => match connected {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot listen to the change feed");
                    tokio::select! {
                        _ = stop.changed() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        backoff = Duration::from_millis(50);
        listening.set(true);
        reach.answered();
        tracing::info!("listening to the change feed");
        // Whatever was committed while nobody listened is in the log.
        let _ = sender.send(FeedEvent::Resync);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => {
                        if let Some(notice) = Notice::parse(notification.payload(), &schema) {
                            let _ = sender.send(FeedEvent::Notice(notice));
                        }
                    }
                    // The connection dropped: listen again (then resync) below.
                    Ok(None) => {
                        tracing::warn!("the change feed's connection dropped; listening again");
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the change feed's connection failed; listening again");
                        break;
                    }
                }
            }
        }
        listening.set(false);
        reach.lost();
    }
}
