//! The `angzarr-local` binary running a system: delivery that survives
//! `kill -9`, and a topology file whose components it starts, watches and
//! stops.

// The binary runs as a child process, waited on from the test's own thread;
// blocking there is harmless (the crate's own code may not: clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use angzarr_client::proto::SyncMode;
use angzarr_client::{shutdown_signal, ComponentKind, DomainClient, ListenAddress, Server};
use examples::player::Player;
use examples::proto::RegisterPlayer;

#[path = "../../tests/support/bank.rs"]
mod bank;
use bank::Recorder;

const ROLE: &str = "ANGZARR_SYSTEM_TEST_ROLE";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("azl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn angzarr_local(args: &[String], stderr: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .expect("angzarr-local starts")
}

/// Connects once the coordinator's socket answers (a process coming up has
/// nothing to wait on but its socket).
async fn connect(socket: &Path) -> DomainClient {
    let deadline = Instant::now() + bank::PATIENCE;
    let endpoint = format!("unix:{}", socket.display());
    loop {
        if socket.exists() {
            if let Ok(client) = DomainClient::connect(&endpoint).await {
                if client.queries().aggregate_roots().await.is_ok() {
                    return client;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "angzarr-local never answered on {endpoint}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn register(client: &DomainClient, root: uuid::Uuid) {
    client
        .command("player", root)
        .with_command(&RegisterPlayer {
            display_name: "p".into(),
            email: "p@example.com".into(),
            ..Default::default()
        })
        .with_sync_mode(SyncMode::Async)
        .execute()
        .await
        .expect("registered");
}

fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

/// Serves the player aggregate and `recorder` as projector `ledger` on Unix
/// sockets in `dir`: the coordinator's socket, and the arguments that run
/// angzarr-local with both on `dir/events.db`.
async fn player_and_ledger(dir: &Path, recorder: &Recorder) -> (PathBuf, Vec<String>) {
    let aggregate = dir.join("business-player.sock");
    let projector = dir.join("projector-ledger.sock");
    let components = Server::new()
        .aggregate(Player)
        .listen_component("player", ListenAddress::Unix(aggregate.clone()))
        .service(recorder.clone().into_server())
        .listen(ListenAddress::Unix(projector.clone()))
        .bind()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    tokio::spawn(components.serve());
    let coordinator = dir.join("coordinator.sock");
    let args = vec![
        "--db".into(),
        dir.join("events.db").display().to_string(),
        "--listen".into(),
        format!("unix:{}", coordinator.display()),
        "--domain".into(),
        format!("player=unix:{}", aggregate.display()),
        "--projector".into(),
        format!("ledger:player=unix:{}", projector.display()),
    ];
    (coordinator, args)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_coordinator_resumes_delivery_and_loses_nothing() {
    let dir = temp_dir("kill");
    let recorder = Recorder::new("ledger");
    let gate = recorder.gate();
    let (coordinator, args) = player_and_ledger(&dir, &recorder).await;
    let mut child = angzarr_local(&args, &dir.join("first.log"));
    let client = connect(&coordinator).await;
    let roots: Vec<uuid::Uuid> = (0..10).map(|_| uuid::Uuid::new_v4()).collect();
    for root in &roots {
        register(&client, *root).await;
    }
    // Three books go through; the fourth is in flight, held at the gate,
    // when the coordinator is killed.
    gate.add_permits(3);
    recorder
        .wait_until("three books", |seen| seen.len() == 3)
        .await;
    recorder.wait_for_calls(4).await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    drop(client);

    let mut child = angzarr_local(&args, &dir.join("second.log"));
    gate.add_permits(1000);
    let seen = recorder
        .wait_until("every registration", |seen| {
            roots
                .iter()
                .all(|root| seen.iter().any(|s| s.root == *root))
        })
        .await;
    let mut first_arrivals: Vec<uuid::Uuid> = Vec::new();
    for book in &seen {
        assert_eq!(book.sequences, [0]);
        if !first_arrivals.contains(&book.root) {
            first_arrivals.push(book.root);
        }
    }
    assert_eq!(first_arrivals, roots, "in the order written, none skipped");
    assert!(
        seen.len() <= roots.len() + 1,
        "at most the book in flight twice: {seen:#?}"
    );
    assert!(interrupt(&mut child).success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Commands from 16 clients at once share transactions; the coordinator is
/// killed while they are in flight. Every command it acknowledged is in the
/// database afterwards, each timeline without a gap, and a restart carries
/// on from there.
#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_command_survives_a_kill_under_load() {
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
    use std::sync::Arc;

    const CLIENTS: usize = 16;
    const KILL_AFTER: usize = 400;

    let dir = temp_dir("kill-load");
    let aggregate = dir.join("business-player.sock");
    let components = Server::new()
        .aggregate(Player)
        .listen(ListenAddress::Unix(aggregate.clone()))
        .bind()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    tokio::spawn(components.serve());
    let coordinator = dir.join("coordinator.sock");
    let db = dir.join("events.db");
    let args: Vec<String> = vec![
        "--db".into(),
        db.display().to_string(),
        "--listen".into(),
        format!("unix:{}", coordinator.display()),
        "--domain".into(),
        format!("player=unix:{}", aggregate.display()),
    ];
    let mut child = angzarr_local(&args, &dir.join("first.log"));
    let client = connect(&coordinator).await;

    let roots: Vec<uuid::Uuid> = (0..CLIENTS).map(|_| uuid::Uuid::new_v4()).collect();
    // Per player, how many commands were acknowledged (its next sequence).
    let acknowledged: Arc<Vec<AtomicU32>> =
        Arc::new((0..CLIENTS).map(|_| AtomicU32::new(0)).collect());
    let total = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let writers: Vec<_> = roots
        .iter()
        .enumerate()
        .map(|(index, &root)| {
            let client = client.clone();
            let (acknowledged, total, enough) = (
                Arc::clone(&acknowledged),
                Arc::clone(&total),
                Arc::clone(&enough),
            );
            tokio::spawn(async move {
                for sequence in 0.. {
                    let builder = client.command("player", root).with_sequence(sequence);
                    let builder = if sequence == 0 {
                        builder.with_command(&RegisterPlayer {
                            display_name: "p".into(),
                            email: format!("{root}@example.com"),
                            ..Default::default()
                        })
                    } else {
                        builder.with_command(&examples::proto::DepositFunds {
                            amount: Some(examples::player::chips(1)),
                        })
                    };
                    if builder
                        .with_sync_mode(SyncMode::Async)
                        .execute()
                        .await
                        .is_err()
                    {
                        // The coordinator is gone: what it acknowledged counts.
                        return;
                    }
                    acknowledged[index].store(sequence + 1, Ordering::SeqCst);
                    if total.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                        enough.notify_one();
                    }
                }
            })
        })
        .collect();
    enough.notified().await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    for writer in writers {
        writer.await.expect("a writer");
    }
    drop(client);

    {
        let store = angzarr_local::SqliteStore::open(&db).expect("the database reopens");
        for (index, root) in roots.iter().enumerate() {
            let key = angzarr_local::AggregateKey {
                domain: "player".into(),
                edition: "angzarr".into(),
                root: *root,
            };
            let stored: Vec<Option<u32>> = angzarr_local::EventStore::pages(&store, &key, None)
                .unwrap()
                .iter()
                .map(|page| page.sequence())
                .collect();
            let acked = acknowledged[index].load(Ordering::SeqCst) as usize;
            assert!(
                stored.len() >= acked,
                "player {index}: {acked} commands acknowledged, {} stored",
                stored.len()
            );
            // At most the one command in flight beyond what was acknowledged.
            assert!(stored.len() <= acked + 1, "player {index}: {stored:?}");
            let expected: Vec<Option<u32>> = (0..stored.len() as u32).map(Some).collect();
            assert_eq!(stored, expected, "player {index}: a gap");
        }
    }

    let mut child = angzarr_local(&args, &dir.join("second.log"));
    let client = connect(&coordinator).await;
    let next = client
        .queries()
        .next_sequence(angzarr_client::proto::Cover::new("player", roots[0]))
        .await
        .expect("the history reads back");
    client
        .command("player", roots[0])
        .with_sequence(next)
        .with_command(&examples::proto::DepositFunds {
            amount: Some(examples::player::chips(1)),
        })
        .execute()
        .await
        .expect("a restart carries on from the stored sequence");
    assert!(interrupt(&mut child).success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Not a test of its own: the component processes the topology tests start
/// (the role comes from the environment; without one it does nothing).
#[test]
fn component_process_for_topology_tests() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let domain = std::env::var("DOMAIN").expect("DOMAIN is set");
        let address = ListenAddress::from_env(ComponentKind::Aggregate, &domain).unwrap();
        let base = PathBuf::from(std::env::var("UDS_BASE_PATH").expect("UDS_BASE_PATH is set"));
        std::fs::write(
            base.join(format!("{domain}.pid")),
            std::process::id().to_string(),
        )
        .unwrap();
        let stop = base.join(format!("stop-{domain}"));
        let shutdown = async move {
            if role == "short" {
                // Ends on its own when the test says so.
                while !stop.exists() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            } else {
                shutdown_signal().await;
            }
        };
        Server::new()
            .aggregate(Player)
            .listen(address)
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal(shutdown)
            .bind()
            .await
            .unwrap()
            .serve()
            .await
            .unwrap();
    });
}

fn component(domain: &str, role: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "    - domain: {domain}\n      command: [{:?}, --exact, component_process_for_topology_tests, --nocapture]\n      env: {{ {ROLE}: {role} }}\n",
        exe.display().to_string()
    )
}

async fn wait_for_text(path: &Path, text: &str) -> String {
    let deadline = Instant::now() + bank::PATIENCE;
    loop {
        let content = std::fs::read_to_string(path).unwrap_or_default();
        if content.contains(text) {
            return content;
        }
        assert!(
            Instant::now() < deadline,
            "{} never said {text:?}:\n{content}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topology_file_starts_watches_and_stops_its_components() {
    let dir = temp_dir("topology");
    let recorder = Recorder::new("ledger");
    let projector = dir.join("projector-ledger.sock");
    let served = Server::new()
        .service(recorder.clone().into_server())
        .listen(ListenAddress::Unix(projector))
        .bind()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    tokio::spawn(served.serve());
    let config = format!(
        "storage:\n  type: sqlite\n  sqlite:\n    path: {db}\ntransport:\n  type: uds\n  uds:\n    base_path: {base}\nmessaging:\n  type: ipc\nstandalone:\n  aggregates:\n{player}      retries: 3\n{short}  projectors:\n    - domain: ledger\n      listen_domain: player\n",
        db = dir.join("events.db").display(),
        base = dir.display(),
        player = component("player", "player"),
        short = component("short", "short"),
    );
    std::fs::write(dir.join("system.yaml"), &config).unwrap();
    let coordinator = dir.join("coordinator.sock");
    let log = dir.join("angzarr-local.log");
    let mut child = angzarr_local(
        &[
            "--config".into(),
            dir.join("system.yaml").display().to_string(),
            "--listen".into(),
            format!("unix:{}", coordinator.display()),
            "--log-dir".into(),
            dir.join("logs").display().to_string(),
        ],
        &log,
    );
    let client = connect(&coordinator).await;
    let root = uuid::Uuid::new_v4();
    register(&client, root).await;
    recorder
        .wait_until("the registration", |seen| {
            seen.iter().any(|s| s.root == root)
        })
        .await;
    assert!(dir.join("logs/business-player.log").exists());
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("standalone.aggregates[0].retries: unknown key, ignored"),
        "unknown keys are warned about"
    );

    // A component that exits is reported.
    std::fs::write(dir.join("stop-short"), "").unwrap();
    wait_for_text(&log, "a component exited").await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("aggregate short"), "{text}");

    // Shutdown stops the rest.
    let player_pid = std::fs::read_to_string(dir.join("player.pid")).unwrap();
    assert!(alive(&player_pid));
    assert!(interrupt(&mut child).success());
    assert!(!alive(&player_pid), "the player component was stopped");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_component_that_never_comes_up_is_named_with_its_log() {
    let dir = temp_dir("broken");
    for (command, expected) in [
        (
            "[\"false\"]",
            "aggregate broken exited (exit code 1) before answering health",
        ),
        (
            "[\"sleep\", \"30\"]",
            "aggregate broken did not answer health at unix:",
        ),
    ] {
        let config = format!(
            "transport: {{ type: uds, uds: {{ base_path: {} }} }}\nstandalone:\n  aggregates:\n    - domain: broken\n      command: {command}\n",
            dir.display()
        );
        std::fs::write(dir.join("system.yaml"), config).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
            .args([
                "--memory",
                "--start-timeout",
                "1",
                "--listen",
                "127.0.0.1:0",
                "--config",
            ])
            .arg(dir.join("system.yaml"))
            .arg("--log-dir")
            .arg(dir.join("logs"))
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            stderr.contains("business-broken.log"),
            "the log is named: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--synchronous` and the topology file's `storage.sqlite.synchronous`
/// choose SQLite's setting, the flag first; a value that is not one is
/// refused before anything is opened, naming the value.
#[tokio::test(flavor = "multi_thread")]
async fn the_synchronous_setting_comes_from_the_flag_or_the_file() {
    let dir = temp_dir("synchronous");
    let refused = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .arg("--db")
        .arg(dir.join("refused.db"))
        .args(["--synchronous", "fast", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("`fast` is not a synchronous setting (normal or full)"),
        "{stderr}"
    );
    assert!(!dir.join("refused.db").exists(), "nothing was opened");

    let config = dir.join("system.yaml");
    std::fs::write(
        &config,
        format!(
            "storage: {{ sqlite: {{ path: {}, synchronous: full }} }}\n",
            dir.join("file.db").display()
        ),
    )
    .unwrap();
    for (args, said) in [
        (
            vec!["--config".to_owned(), config.display().to_string()],
            "file.db (synchronous=full)",
        ),
        (
            vec![
                "--config".to_owned(),
                config.display().to_string(),
                "--synchronous".to_owned(),
                "normal".to_owned(),
            ],
            "file.db (synchronous=normal)",
        ),
        (
            vec!["--db".to_owned(), dir.join("flag.db").display().to_string()],
            "flag.db (synchronous=normal)",
        ),
    ] {
        let log = dir.join("stderr.log");
        let mut args = args;
        args.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
        let mut child = angzarr_local(&args, &log);
        wait_for_text(&log, said).await;
        let status = interrupt(&mut child);
        assert!(status.success(), "{status}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Relative paths in a topology file mean the same from any directory:
/// they are the file's, and the programs it starts run beside it.
#[test]
fn a_topology_files_relative_paths_are_its_own() {
    let dir = temp_dir("relative");
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("system.yaml"),
        "storage: { type: sqlite, sqlite: { path: events.db } }\n\
         transport: { type: uds, uds: { base_path: sockets } }\n\
         standalone:\n  \
           projectors:\n    \
             - domain: where\n      \
               listen_domain: player\n      \
               command: [sh, -c, \"pwd > ran-in.txt\"]\n",
    )
    .unwrap();
    let stderr = dir.join("stderr.txt");
    let status = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .args(["--config", "conf/system.yaml", "--start-timeout", "30"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .status()
        .unwrap();
    let said = std::fs::read_to_string(&stderr).unwrap();
    assert!(!status.success(), "the projector exits at once: {said}");
    assert!(said.contains("exited"), "{said}");
    let ran_in = std::fs::read_to_string(conf.join("ran-in.txt")).unwrap();
    assert_eq!(
        Path::new(ran_in.trim()).canonicalize().unwrap(),
        conf.canonicalize().unwrap()
    );
    assert!(conf.join("events.db").is_file(), "the store is the file's");
    assert!(conf.join("sockets").is_dir(), "so are the sockets");
    assert!(!dir.join("events.db").exists());
    assert!(!dir.join("sockets").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `events` reads a database; a name that is none says so and creates
/// nothing.
#[test]
fn events_from_a_missing_database_is_an_error_that_creates_nothing() {
    let dir = temp_dir("typo");
    let typo = dir.join("typo.db");
    let output = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .args(["events", "--correlation", "c-1", "--db"])
        .arg(&typo)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains(&format!("{}: no such database", typo.display())),
        "{said}"
    );
    assert!(!typo.exists(), "nothing was created");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `angzarr-local dead-letters --db {db} {more}`: its exit status and
/// output.
fn dead_letters_of(db: &Path, more: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .args(["dead-letters", "--db"])
        .arg(db)
        .args(more)
        .output()
        .unwrap();
    let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
    said.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

/// A projector that fails a book `--max-attempts` times: the running
/// coordinator sets it aside and goes on; `dead-letters` lists it from
/// another process, and `--replay` hands it back to the running coordinator,
/// which delivers it.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_is_listed_and_replayed_from_the_command_line() {
    let dir = temp_dir("dead");
    let db = dir.join("events.db");
    let recorder = Recorder::new("ledger");
    let (coordinator, mut args) = player_and_ledger(&dir, &recorder).await;
    args.extend(["--max-attempts".into(), "2".into()]);
    let mut child = angzarr_local(&args, &dir.join("serve.log"));
    let client = connect(&coordinator).await;
    let (poisoned, next) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    recorder.fail_next(2);
    register(&client, poisoned).await;
    register(&client, next).await;
    recorder
        .wait_until("the next book, past the failing one", |seen| {
            seen.iter().any(|s| s.root == next)
        })
        .await;
    assert_eq!(recorder.calls(), 3, "two attempts, then the next book");

    let (listed, said) = dead_letters_of(&db, &[]);
    assert!(listed, "{said}");
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 2, "{said}");
    assert!(lines[0].starts_with("  id  consumer"), "{said}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row[..6],
        [
            "1",
            "projector:ledger",
            "player",
            &poisoned.simple().to_string(),
            "0",
            "2"
        ],
        "{said}"
    );
    assert!(
        lines[1].ends_with("  Unavailable: the recorder is down for now"),
        "{said}"
    );

    let (replayed, said) = dead_letters_of(&db, &["--replay", "1"]);
    assert!(replayed, "{said}");
    assert!(
        said.starts_with("dead letter 1 queued again for projector:ledger as outbox entry "),
        "{said}"
    );
    recorder
        .wait_until("the replayed book", |seen| {
            seen.iter().filter(|s| s.root == poisoned).count() == 1
        })
        .await;
    let (_, said) = dead_letters_of(&db, &[]);
    assert_eq!(said, "no dead letters\n");
    let (found, said) = dead_letters_of(&db, &["--discard", "1"]);
    assert!(!found);
    assert_eq!(
        said,
        format!("angzarr-local: no dead letter 1 in {}\n", db.display())
    );
    let (conflicting, _) = dead_letters_of(&db, &["--replay", "1", "--discard", "1"]);
    assert!(!conflicting, "one of --replay and --discard");
    assert!(interrupt(&mut child).success());
    drop(client);

    let typo = dir.join("typo.db");
    let (opened, said) = dead_letters_of(&typo, &[]);
    assert!(!opened);
    assert!(said.contains("typo.db: no such database"), "{said}");
    assert!(!typo.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
