//! The connection loop over a real socket: a client that sends half a request, or stays idle,
//! is cut off; shutdown waits for a stuck client only up to
//! its deadline.

use std::time::{Duration, Instant};

use portcullis_server::{ConnectionLimits, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::support::TestApp;

/// Starts the test app on a free port; returns its address and a sender that stops it.
async fn start(app: &TestApp, limits: ConnectionLimits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        serve(listener, router, limits, async {
            let _ = stopped.await;
        })
        .await
        .expect("the server runs");
    });
    (address, stop, server)
}

/// Reads until the server closes the connection; what it sent, and how long that took.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time")
        .ok();
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

fn limits(header_read: u64, idle: u64, grace: u64) -> ConnectionLimits {
    ConnectionLimits {
        header_read: Duration::from_millis(header_read),
        idle: Duration::from_millis(idle),
        shutdown_grace: Duration::from_millis(grace),
    }
}

#[tokio::test]
async fn half_a_request_head_is_cut_off_at_the_header_timeout() {
    let app = TestApp::new().await;
    let (address, _stop, _server) = start(&app, limits(500, 60_000, 1000)).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: example\r\n").await.unwrap();
    let (_, took) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(took >= Duration::from_millis(400), "closed after {took:?}, before the timeout");
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let app = TestApp::new().await;
    let (address, _stop, _server) = start(&app, limits(60_000, 500, 1000)).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: example\r\n\r\n").await.unwrap();
    let (answer, took) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took >= Duration::from_millis(400), "closed after {took:?}, before the timeout");
}

#[tokio::test]
async fn shutdown_stops_waiting_for_a_stuck_client_at_the_deadline() {
    let app = TestApp::new().await;
    let (address, stop, server) = start(&app, limits(60_000, 60_000, 500)).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    // A request whose body never comes, from a client with a key: the handler waits for it.
    let key = app.key("demo", "admin").await;
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nHost: example\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops at its deadline")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400), "stopped after {:?}", started.elapsed());
}
