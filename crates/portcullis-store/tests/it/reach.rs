//! PostgreSQL going away: the store refuses calls at once (instead of each waiting for its
//! pool to time out) and lets them through again once the database answers. The database is
//! cut off by a TCP proxy in front of it, so the shared server itself is never stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_store::{Store, StoreError};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::harness::PgHarness;

/// A TCP proxy to the database that can be cut (its port closed, so connecting is refused as
/// when the database is stopped, and every connection through it closed) and opened again on
/// the same port.
struct Proxy {
    port: u16,
    target: (String, u16),
    accept: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    connections: Arc<std::sync::Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(target: (String, u16)) -> Proxy {
        let proxy = Proxy {
            port: 0,
            target,
            accept: std::sync::Mutex::new(None),
            connections: Arc::default(),
        };
        let listener = proxy.try_listen(0).expect("a port for the proxy");
        Proxy {
            port: listener.local_addr().expect("the proxy's address").port(),
            ..proxy
        }
        .serving(listener)
    }

    fn try_listen(&self, port: u16) -> std::io::Result<TcpListener> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(([127, 0, 0, 1], port).into())?;
        socket.listen(64)
    }

    fn serving(self, listener: TcpListener) -> Proxy {
        let (target, connections) = (self.target.clone(), self.connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.lock().expect("the proxy's connections").spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        *self.accept.lock().expect("the accept task") = Some(accept);
        self
    }

    fn cut(&self) {
        if let Some(accept) = self.accept.lock().expect("the accept task").take() {
            accept.abort();
        }
        self.connections.lock().expect("the proxy's connections").abort_all();
    }

    async fn open(self) -> Proxy {
        // The aborted accept task drops its listener once the runtime gets to it.
        for _ in 0..100 {
            if let Ok(listener) = self.try_listen(self.port) {
                return self.serving(listener);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the proxy's port {} could not be opened again", self.port)
    }
}

/// Calls are refused at once, saying why, while the database is known to be unreachable.
async fn assert_refused_at_once(store: &dyn Store) {
    for _ in 0..20 {
        let started = Instant::now();
        let refused = store.revision(portcullis_store::TenantId(1)).await;
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "refused at once, not after {:?}",
            started.elapsed()
        );
        match refused {
            Err(StoreError::Unavailable(message)) => assert!(message.contains("has not answered"), "the refusal says why: {message}"),
            other => panic!("refused while the database is down: {other:?}"),
        }
    }
    assert!(store.unreachable_for().is_some(), "the store says it cannot reach the database");
}

/// Once the database answers again, so do calls (within the probe's period), without reopening.
async fn assert_answers_again(store: &dyn Store) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.tenants().await {
            Ok(_) => break,
            Err(StoreError::Unavailable(_)) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("the database answers again within 10 s: {other:?}"),
        }
    }
    assert_eq!(store.unreachable_for(), None);
}

/// With the database cut off, the first call finds it gone (waiting, at worst, for the pool's
/// acquire timeout) and every later call is refused at once; with the change feed listening
/// (as a server's store is), its lost connection says so first and no call waits at all. Once
/// the database answers again calls succeed, without reopening the store.
pub async fn postgres_calls_are_refused_at_once_while_the_database_is_down(h: &PgHarness) {
    let options = h.options();
    let mut proxy = Proxy::start((options.get_host().to_owned(), options.get_port())).await;
    let store: Arc<dyn Store> = Arc::new(
        portcullis_store::postgres::PgStore::open_with(options.clone().host("127.0.0.1").port(proxy.port))
            .await
            .expect("the store opens through the proxy"),
    );
    store.tenants().await.expect("the database answers through the proxy");
    assert_eq!(store.unreachable_for(), None);

    // Without the feed: the first call pays for finding out, no later one does.
    proxy.cut();
    let first = store.tenants().await;
    assert!(matches!(first, Err(StoreError::Unavailable(_))), "the first call fails: {first:?}");
    assert_refused_at_once(store.as_ref()).await;
    proxy = proxy.open().await;
    assert_answers_again(store.as_ref()).await;

    // With the feed: the listener's connection drops with the database, so even the first
    // call is refused at once.
    let feed = store.subscribe().expect("PostgreSQL has a feed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !feed.is_listening() {
        assert!(Instant::now() < deadline, "the feed listens within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(2);
    while store.unreachable_for().is_none() {
        assert!(Instant::now() < deadline, "the lost listener marks the database unreachable within 2 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_refused_at_once(store.as_ref()).await;
    let proxy = proxy.open().await;
    assert_answers_again(store.as_ref()).await;
    proxy.cut();
}
