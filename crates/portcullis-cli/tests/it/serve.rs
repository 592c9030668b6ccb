//! `portcullis serve` as a person and an operator meet it: a fresh start prints a key and a
//! `curl` line that works; SIGTERM stops it cleanly; SIGKILL during a burst of writes from 16
//! concurrent clients (committed in groups) loses no acknowledged write, no acknowledged
//! write's audit event and no acknowledged download decision's event (checked with
//! `portcullis audit` and the store).

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");
const KNOWN_KEY: &str = "pc_end-to-end-test-key-0123456789";

/// A running server and what it printed before it started listening.
struct Server {
    child: Child,
    base: String,
    printed: Vec<String>,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(BINARY)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = receiver
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the server did not start; it printed {printed:?}"));
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().expect("an address").to_owned();
            }
            printed.push(line);
        };
        // The lines after the address (key, curl) come at once.
        while let Ok(line) = receiver.recv_timeout(Duration::from_millis(300)) {
            printed.push(line);
        }
        Server { child, base, printed }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn wait(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// POSTs JSON with a bearer token; the status and the JSON answer.
fn post(agent: &ureq::Agent, url: &str, token: &str, body: &Value) -> Result<(u16, Value), ureq::Error> {
    let mut response = agent.post(url).header("Authorization", format!("Bearer {token}")).send_json(body)?;
    let status = response.status().as_u16();
    Ok((status, response.body_mut().read_json()?))
}

fn get(agent: &ureq::Agent, url: &str, token: &str) -> (u16, Value) {
    let mut response = agent
        .get(url)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().unwrap_or(Value::Null))
}

/// Pulls `-H 'Authorization: Bearer KEY'`, `-d 'BODY'` and the URL out of the printed curl line.
fn parse_curl(line: &str) -> (String, Value, String) {
    let quoted: Vec<&str> = line.split('\'').collect();
    let key = quoted[1]
        .strip_prefix("Authorization: Bearer ")
        .expect("the first header is the key")
        .to_owned();
    let body: Value = serde_json::from_str(quoted[5]).expect("the -d body is JSON");
    let url = quoted[6].trim().to_owned();
    (key, body, url)
}

#[test]
fn a_fresh_start_prints_a_key_and_a_curl_line_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    assert!(
        dir.path().join("portcullis.db").exists(),
        "the store is `portcullis.db` in the working directory"
    );
    let curl = server
        .printed
        .iter()
        .find(|l| l.trim_start().starts_with("curl "))
        .unwrap_or_else(|| panic!("no curl line in {:?}", server.printed));
    let (key, body, url) = parse_curl(curl);
    assert!(url.starts_with(&server.base), "{url}");
    let agent = agent();
    let (status, decision) = post(&agent, &url, &key, &body).expect("the curl request works");
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["decision"], "allow", "{decision}");
    let (status, health) = get(&agent, &format!("{}/health", server.base), "");
    assert_eq!((status, &health["status"]), (200, &json!("ok")));
    server.signal("TERM");
    assert!(server.wait().success(), "SIGTERM stops the server cleanly");

    // A second start keeps the store: no new tenant, no new key; the printed key still works.
    let server = Server::start(dir.path(), &[]);
    assert!(!server.printed.iter().any(|l| l.contains("API key")), "{:?}", server.printed);
    let url = url.replace(&url[..url.find("/v1").unwrap()], &server.base);
    let (status, decision) = post(&agent, &url, &key, &body).expect("the server answers");
    assert_eq!((status, &decision["decision"]), (200, &json!("allow")));
}

/// The connection limits and the public URL as flags: half a request head is cut off at
/// `--header-timeout`; SIGTERM waits for a request whose body never comes only
/// `--shutdown-grace` seconds; `--public-url` is what the AuthZEN metadata says, whatever
/// `Host` the client sends.
#[test]
fn connection_limits_and_the_public_url_are_flags() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--header-timeout",
            "1",
            "--shutdown-grace",
            "1",
            "--public-url",
            "https://pc.example.com",
            "--api-key",
            &format!("admin={KNOWN_KEY}"),
        ],
    );
    let address = server.base.trim_start_matches("http://").to_owned();

    let mut half = std::net::TcpStream::connect(&address).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    half.read_to_end(&mut received)
        .expect("the server closes the connection before the read timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "cut off after {:?}", started.elapsed());

    let mut forged = std::net::TcpStream::connect(&address).unwrap();
    forged.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    forged
        .write_all(b"GET /.well-known/authzen-configuration HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    forged.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("\"policy_decision_point\":\"https://pc.example.com\""), "{answer}");
    assert!(!answer.contains("evil.example"), "{answer}");

    let mut stuck = std::net::TcpStream::connect(&address).unwrap();
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KNOWN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stuck.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    server.signal("TERM");
    assert!(server.wait().success(), "SIGTERM stops the server cleanly");
    assert!(started.elapsed() < Duration::from_secs(8), "stopped after {:?}", started.elapsed());
}

/// `--rule-site` stores a site at start (once: the same text again is kept), `--authzen-site`
/// answers the tenant's AuthZEN requests from it; a site that does not load stops the start.
#[test]
fn rule_sites_and_the_authzen_site_are_flags() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/authzen");
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("authzen.db").display());
    let args = [
        "--database".to_owned(),
        database.clone(),
        "--tenant".to_owned(),
        examples.join("tenant.yaml").display().to_string(),
        "--api-key".to_owned(),
        format!("pep={KNOWN_KEY}"),
        "--rule-site".to_owned(),
        format!("todo={}", examples.join("todo.yaml").display()),
        "--authzen-site".to_owned(),
        "todo".to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(dir.path(), &args);
    assert!(
        server.printed.iter().any(|l| l.starts_with("stored rule site `todo`")),
        "{:?}",
        server.printed
    );
    let rick_deletes = json!({
        "subject": {"type": "user", "id": "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"},
        "action": {"name": "can_delete_todo"},
        "resource": {"type": "todo", "id": "t1", "properties": {"ownerID": "jerry@the-smiths.com"}}
    });
    let (status, answer) = post(&agent(), &format!("{}/access/v1/evaluation", server.base), KNOWN_KEY, &rick_deletes).unwrap();
    assert_eq!((status, answer["decision"].clone()), (200, json!(true)), "{answer}");
    assert_eq!(answer["context"]["tokens"], json!(["rule:Admins delete any todo"]));
    server.signal("TERM");
    assert!(server.wait().success());

    let again = Server::start(dir.path(), &args);
    assert!(
        again.printed.iter().any(|l| l.contains("kept as stored (same text)")),
        "{:?}",
        again.printed
    );
    drop(again);

    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "rules:\n  - { name: R, resourceFilter: todo_*, actions: [read], condition: user.roles = }\n",
    )
    .unwrap();
    let output = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
        .arg("--rule-site")
        .arg(format!("todo={}", broken.display()))
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("broken.yaml") && stderr.contains("rule `R`"), "{stderr}");
}

/// Concurrent clients of the SIGKILL test, each toggling its own user in a group.
const CLIENTS: usize = 16;

/// Clients of the SIGKILL test asking batches of download decisions, each for its own user.
const EXPORTERS: usize = 4;

/// An administrator, one user per client, and an app to download from.
fn crew_tenant() -> String {
    let mut text = String::from(
        "name: demo\nsubscription: user-based\ngroups:\n  - { name: crew, providerType: idp }\nusers:\n  \
         - { id: admin, name: Ada Admin, entitlement: professional, roles: [TenantAdmin] }\n",
    );
    for i in 0..CLIENTS.max(EXPORTERS) {
        text.push_str(&format!("  - {{ id: w{i}, entitlement: professional }}\n"));
    }
    text.push_str("content:\n  - { id: report, name: Report, type: app, owner: admin }\n");
    text
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let tenant_file = dir.path().join("crew.yaml");
    std::fs::write(&tenant_file, crew_tenant()).unwrap();
    let tenant_file = tenant_file.display().to_string();
    let args = ["--tenant", tenant_file.as_str(), "--api-key", &format!("admin={KNOWN_KEY}")];
    let server = Server::start(dir.path(), &args);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged_keys = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    // Per client, its acknowledged writes in order: (revision, joined).
    let acknowledged = Arc::new(Mutex::new(vec![Vec::<(u64, bool)>::new(); CLIENTS]));
    let mut writers = Vec::new();
    {
        let (stop, keys, base) = (stop.clone(), acknowledged_keys.clone(), server.base.clone());
        writers.push(std::thread::spawn(move || {
            let agent = agent();
            while !stop.load(Ordering::Relaxed) {
                match post(&agent, &format!("{base}/v1/api-keys"), KNOWN_KEY, &json!({"description": "stream"})) {
                    Ok((201, key)) => {
                        let id = key["id"].to_string().trim_matches('"').to_owned();
                        keys.lock().unwrap().push((key["token"].as_str().unwrap().to_owned(), id));
                    }
                    Ok((status, body)) => panic!("a key write failed: {status} {body}"),
                    Err(_) => break,
                }
            }
        }));
    }
    // Per exporter, how many download decisions were answered.
    let downloads = Arc::new(Mutex::new(vec![0usize; EXPORTERS]));
    for exporter in 0..EXPORTERS {
        let (stop, downloads, base) = (stop.clone(), downloads.clone(), server.base.clone());
        writers.push(std::thread::spawn(move || {
            let agent = agent();
            let check = json!({"user": format!("w{exporter}"), "action": "app:exportdata", "resource": "report"});
            let batch = json!({ "checks": vec![check; 50] });
            while !stop.load(Ordering::Relaxed) {
                match post(&agent, &format!("{base}/v1/check/batch"), KNOWN_KEY, &batch) {
                    Ok((200, body)) => downloads.lock().unwrap()[exporter] += body["results"].as_array().unwrap().len(),
                    Ok((status, body)) => panic!("a batch of downloads failed: {status} {body}"),
                    Err(_) => break,
                }
            }
        }));
    }
    for client in 0..CLIENTS {
        let (stop, acknowledged, base) = (stop.clone(), acknowledged.clone(), server.base.clone());
        writers.push(std::thread::spawn(move || {
            let agent = agent();
            let user = format!("w{client}");
            let mut join = true;
            while !stop.load(Ordering::Relaxed) {
                let verb = if join { "join" } else { "leave" };
                let change = json!({ verb: {"user": user, "group": "crew"} });
                match post(&agent, &format!("{base}/v1/changes"), KNOWN_KEY, &change) {
                    Ok((200, body)) => acknowledged.lock().unwrap()[client].push((body["revision"].as_u64().unwrap(), join)),
                    Ok((status, body)) => panic!("a change failed: {status} {body}"),
                    Err(_) => break,
                }
                join = !join;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    server.signal("KILL");
    let status = server.wait();
    assert!(!status.success());
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("a writer thread");
    }
    let keys = acknowledged_keys.lock().unwrap().clone();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let downloads = downloads.lock().unwrap().clone();
    let n_changes: usize = acknowledged.iter().map(Vec::len).sum();
    let revision = acknowledged.iter().flatten().map(|(r, _)| *r).max().unwrap_or(0);
    assert!(
        keys.len() > 5 && acknowledged.iter().all(|a| a.len() > 1) && downloads.iter().all(|n| *n > 0),
        "too few writes to mean anything: {} keys, changes per client {:?}, downloads per exporter {downloads:?}",
        keys.len(),
        acknowledged.iter().map(Vec::len).collect::<Vec<_>>()
    );

    let server = Server::start(dir.path(), &args);
    let agent = agent();
    let (_, me) = get(&agent, &format!("{}/v1/whoami", server.base), KNOWN_KEY);
    let stored = me["revision"].as_u64().expect("a revision");
    assert!(stored >= revision, "acknowledged revision {revision}, stored {stored}");
    for (key, _) in &keys {
        let (status, me) = get(&agent, &format!("{}/v1/whoami", server.base), key);
        assert_eq!(status, 200, "an acknowledged API key was lost: {me}");
    }
    eprintln!(
        "SIGKILL after {} acknowledged key writes, {n_changes} acknowledged changes from {CLIENTS} clients (up to revision {revision}) \
         and {downloads:?} answered download decisions; stored revision {stored}",
        keys.len()
    );

    // Every acknowledged write has its event, and the chain is whole.
    let database = format!("sqlite://{}", dir.path().join("portcullis.db").display());
    let verified = audit(&["verify", "--database", &database, "--tenant", "demo"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
    let queried = audit(&["query", "--database", &database, "--tenant", "demo", "--format", "json"]);
    assert!(queried.status.success());
    let events: Vec<Value> = String::from_utf8_lossy(&queried.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let created: std::collections::BTreeSet<String> = events
        .iter()
        .filter(|e| e["eventType"] == "com.qlik.api-key.created")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    for (_, id) in &keys {
        assert!(created.contains(id), "acknowledged API key {id} has no event");
    }
    // Every answered download decision is in the trail (a batch in flight at the kill may add more).
    for (exporter, answered) in downloads.iter().enumerate() {
        let user = format!("w{exporter}");
        let logged = events
            .iter()
            .filter(|e| e["eventType"] == "com.qlik.v1.app.data.exported" && e["actor"]["user"] == user.as_str())
            .count();
        assert!(logged >= *answered, "{user}: {answered} download decisions answered, {logged} logged");
    }
    let changes: Vec<(u64, String, bool)> = events
        .iter()
        .filter(|e| e["action"] == "join-group" || e["action"] == "leave-group")
        .map(|e| {
            (
                e["data"]["revision"].as_u64().unwrap(),
                e["resource"]["id"].as_str().unwrap().to_owned(),
                e["action"] == "join-group",
            )
        })
        .collect();
    let revisions: Vec<u64> = changes.iter().map(|(r, ..)| *r).collect();
    assert_eq!(revisions, (2..=stored).collect::<Vec<_>>(), "one event per stored change, in order");
    // Each client's acknowledged writes are stored at the revisions it was told, in its order;
    // at most its one write in flight at the kill follows them.
    let tenant = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = portcullis_store::open(&database).await.expect("the store opens");
        let record = store.tenant_by_name("demo").await.unwrap().expect("the tenant");
        store.load_tenant(record.id).await.expect("the tenant loads").0
    });
    for (client, acked) in acknowledged.iter().enumerate() {
        let user = format!("w{client}");
        let stored_writes: Vec<(u64, bool)> = changes.iter().filter(|(_, u, _)| *u == user).map(|(r, _, j)| (*r, *j)).collect();
        assert!(
            stored_writes.len() >= acked.len() && stored_writes.len() <= acked.len() + 1 && stored_writes[..acked.len()] == acked[..],
            "{user}: acknowledged {acked:?}, stored {stored_writes:?}"
        );
        let in_crew = tenant.users.get(&user).expect("the user").groups.iter().any(|g| g == "crew");
        assert_eq!(
            in_crew,
            stored_writes.last().is_some_and(|(_, joined)| *joined),
            "{user}'s last stored write"
        );
    }
}

/// Runs `portcullis audit ARGS`.
fn audit(args: &[&str]) -> std::process::Output {
    Command::new(BINARY).arg("audit").args(args).output().expect("the binary runs")
}

/// Runs `portcullis test --server` on folders against a server started for them.
fn conformance_through_http(folders: &[&Path]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let operator = "operator-token-for-conformance";
    let server = Server::start(dir.path(), &["--operator-token", operator]);
    let output = Command::new(BINARY)
        .args(["test", "--server", &server.base, "--operator-token", operator])
        .args(folders)
        .output()
        .expect("the runner starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "through HTTP:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_conformance_scenarios_pass_through_the_http_api() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The project's own corpus: cloud tenants, and the rules crate's rule sites.
    let stdout = conformance_through_http(&[
        &repo.join("crates/portcullis-conformance/test_data"),
        &repo.join("crates/portcullis-rules/test_data/scenarios"),
    ]);
    assert!(stdout.lines().last().is_some_and(|l| l.ends_with(" 0 failed")), "{stdout}");
    // The shared corpus, when it sits beside the repository (as `scripts/test.sh` expects it).
    let shared = repo.join("../shared/conformance");
    if shared.is_dir() {
        let stdout = conformance_through_http(&[&shared]);
        eprintln!("shared corpus through HTTP: {}", stdout.lines().last().unwrap_or_default());
    }
}
