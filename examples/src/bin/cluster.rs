//! The demo: a Zeek-style cluster of four processes (a manager, a logger and
//! two workers), each its own endpoint, peered over loopback TLS (Broker's
//! default, encrypted mode).
//!
//! - Workers "scan" (make up scan observations at a steady rate), log every
//!   one as a typed `Demo::LOG` record to the logger, and raise a typed
//!   `Demo::scan_alert` event to the manager when a scan crosses the
//!   threshold.
//! - The threshold is a `#[published_id]`: it starts at 100 (no alerts); when
//!   half the scans are done the manager lowers it to 30 and publishes it,
//!   the workers pick it up, and alerts start to flow.
//! - Every node prints one line per second (events in/out, peers, queued
//!   messages); at the end the manager checks every count against what was
//!   sent (alerts, log records, their order, the threshold each worker ended
//!   with) and exits non-zero on any mismatch.
//!
//! Run it: `cargo run --release -p broker-examples --bin cluster`. The
//! manager is the process you start; it starts the others (this same
//! program with a role argument) and ends within 30 seconds.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use broker_core::logs::{Logger, TypedLogSubscriber};
use broker_core::prelude::*;

/// Scans per worker.
const SCANS: u64 = 6_000;
/// Scans per worker per 10 ms tick (2,000/s: three seconds of work).
const PER_TICK: u64 = 20;
const WORKERS: [&str; 2] = ["worker-1", "worker-2"];
/// The whole demo must end by then.
const DEADLINE: Duration = Duration::from_secs(30);
const INITIAL_THRESHOLD: u64 = 100;
const LOWERED_THRESHOLD: u64 = 30;

type Error = Box<dyn std::error::Error + Send + Sync>;

// ---- the cluster's vocabulary ------------------------------------------------

/// The scan threshold: a scan touching at least this many ports is an alert.
#[published_id(topic = "demo/cluster/config", name = "Demo::scan_threshold")]
static SCAN_THRESHOLD: Published<u64> = Published::new(INITIAL_THRESHOLD);

/// Worker → manager: a scan crossed the threshold.
#[event(topic = "demo/cluster/manager", name = "Demo::scan_alert")]
struct ScanAlert {
    worker: String,
    src: IpAddr,
    ports: u64,
    threshold: u64,
}

/// Worker → manager, twice a second: progress.
#[event(topic = "demo/cluster/manager", name = "Demo::heartbeat")]
struct Heartbeat {
    worker: String,
    scanned: u64,
}

/// Worker → manager: finished; what it sent.
#[event(topic = "demo/cluster/manager", name = "Demo::worker_done")]
struct WorkerDone {
    worker: String,
    scanned: u64,
    alerts: u64,
    threshold: u64,
}

/// Manager → logger: report once these many records arrived per worker.
#[event(topic = "demo/cluster/logger", name = "Demo::report_logs")]
struct ReportLogs {
    expected: BTreeMap<String, u64>,
}

/// Logger → manager: what it received.
#[event(topic = "demo/cluster/manager", name = "Demo::log_report")]
struct LogReport {
    received: BTreeMap<String, u64>,
    in_order: bool,
}

/// Manager → everyone: stop.
#[event(topic = "demo/cluster/all", name = "Demo::shutdown")]
struct Shutdown;

/// One scan, as a Zeek log record.
#[derive(Data, broker_core::Log, Clone, Debug)]
#[broker(name = "Demo::Scan")]
#[log(stream = "Demo::LOG", path = "scan")]
struct ScanRecord {
    ts: Timestamp,
    worker: String,
    seq: u64,
    src: IpAddr,
    ports: u64,
    threshold: u64,
}

// ---- per-process counters for the live view ----------------------------------
// Messages in and out: events, log records and identifier updates.

static EVENTS_IN: AtomicU64 = AtomicU64::new(0);
static EVENTS_OUT: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

/// What the manager learns, filled by its handlers.
#[derive(Default)]
struct ManagerState {
    alerts: BTreeMap<String, u64>,
    progress: BTreeMap<String, u64>,
    done: BTreeMap<String, (u64, u64, u64)>,
    report: Option<(BTreeMap<String, u64>, bool)>,
}

static MANAGER: Mutex<Option<ManagerState>> = Mutex::new(None);

fn with_manager<R>(f: impl FnOnce(&mut ManagerState) -> R) -> R {
    let mut guard = MANAGER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(guard.get_or_insert_with(ManagerState::default))
}

/// Pending `Demo::report_logs` request at the logger.
static REPORT_REQUEST: Mutex<Option<BTreeMap<String, u64>>> = Mutex::new(None);

// ---- handlers (each process starts them on its endpoint; an event only
// reaches the processes subscribed to its topic) --------------------------

#[handler]
fn on_scan_alert(alert: ScanAlert) {
    EVENTS_IN.fetch_add(1, Ordering::Relaxed);
    debug_assert!(
        alert.ports >= alert.threshold,
        "{} {}",
        alert.src,
        alert.ports
    );
    with_manager(|m| *m.alerts.entry(alert.worker).or_default() += 1);
}

#[handler]
fn on_heartbeat(beat: Heartbeat) {
    EVENTS_IN.fetch_add(1, Ordering::Relaxed);
    with_manager(|m| m.progress.insert(beat.worker, beat.scanned));
}

#[handler]
fn on_worker_done(done: WorkerDone) {
    EVENTS_IN.fetch_add(1, Ordering::Relaxed);
    with_manager(|m| {
        m.done
            .insert(done.worker, (done.scanned, done.alerts, done.threshold))
    });
}

#[handler]
fn on_report_logs(request: ReportLogs) {
    EVENTS_IN.fetch_add(1, Ordering::Relaxed);
    *REPORT_REQUEST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(request.expected);
}

#[handler]
fn on_log_report(report: LogReport) {
    EVENTS_IN.fetch_add(1, Ordering::Relaxed);
    with_manager(|m| m.report = Some((report.received, report.in_order)));
}

#[handler]
fn on_shutdown(_: Shutdown, ctx: Context) {
    if !ctx.is_local() {
        EVENTS_IN.fetch_add(1, Ordering::Relaxed);
    }
    STOP.store(true, Ordering::SeqCst);
}

// ---- the live view -------------------------------------------------------------

/// Prints one line per second for this node until the endpoint stops.
fn live_view(endpoint: &Endpoint, role: &'static str, start: Instant) {
    let weak = endpoint.downgrade();
    endpoint.runtime_handle().spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(endpoint) = weak.upgrade() else { break };
            let Ok(peers) = endpoint.peers().await else { break };
            let queued: usize = peers.iter().map(|p| p.queued).sum();
            println!(
                "{:>5.1}s  {role:<8}  messages in {:>6}  out {:>6}  peers {}  queued {:>4}  threshold {}",
                start.elapsed().as_secs_f64(),
                EVENTS_IN.load(Ordering::Relaxed),
                EVENTS_OUT.load(Ordering::Relaxed),
                peers.len(),
                queued,
                SCAN_THRESHOLD.get(),
            );
            let _ = std::io::stdout().flush();
        }
    });
}

/// Publishes `event` on its topic to the peers.
async fn send<E: TypedEvent>(endpoint: &Endpoint, event: E) -> Result<(), Error> {
    endpoint.publish_event(&event).await?;
    EVENTS_OUT.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> Result<T, Error> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if start.elapsed() > DEADLINE {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- roles ---------------------------------------------------------------------

/// A worker: peers with the manager and the logger, scans, reports.
async fn worker(name: &str, manager: u16, logger_port: u16, start: Instant) -> Result<(), Error> {
    let endpoint = Endpoint::new_in(Options::default(), tokio::runtime::Handle::current())?;
    endpoint
        .start_handlers_on(["demo/cluster/config", "demo/cluster/all"])
        .await?;
    let connect = Duration::from_secs(1);
    endpoint
        .peer_and_wait("127.0.0.1", manager, connect)
        .await?;
    endpoint
        .peer_and_wait("127.0.0.1", logger_port, connect)
        .await?;
    live_view(
        &endpoint,
        if name.ends_with('1') {
            "worker-1"
        } else {
            "worker-2"
        },
        start,
    );
    let logger = Logger::new(&endpoint).await?;
    let scans = logger.stream::<ScanRecord>()?;

    let mut rng = name.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3)
    });
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let (mut scanned, mut alerts) = (0u64, 0u64);
    let mut last_beat = Instant::now();
    while scanned < SCANS {
        tick.tick().await;
        for _ in 0..PER_TICK.min(SCANS - scanned) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let src = IpAddr::from([10, 0, (rng >> 8) as u8, rng as u8]);
            let ports = 1 + rng % 60;
            let threshold = SCAN_THRESHOLD.get();
            scanned += 1;
            EVENTS_OUT.fetch_add(1, Ordering::Relaxed);
            scans
                .write(&ScanRecord {
                    ts: Timestamp::now(),
                    worker: name.to_owned(),
                    seq: scanned,
                    src,
                    ports,
                    threshold,
                })
                .await?;
            if ports >= threshold {
                alerts += 1;
                let worker = name.to_owned();
                send(
                    &endpoint,
                    ScanAlert {
                        worker,
                        src,
                        ports,
                        threshold,
                    },
                )
                .await?;
            }
        }
        if last_beat.elapsed() >= Duration::from_millis(500) || scanned == SCANS {
            last_beat = Instant::now();
            send(
                &endpoint,
                Heartbeat {
                    worker: name.to_owned(),
                    scanned,
                },
            )
            .await?;
        }
    }
    // A worker reports once it has the manager's configuration.
    wait_for("the threshold update", || {
        (SCAN_THRESHOLD.version() > 0).then_some(())
    })
    .await?;
    logger.flush_logs().await?;
    let threshold = SCAN_THRESHOLD.get();
    send(
        &endpoint,
        WorkerDone {
            worker: name.to_owned(),
            scanned,
            alerts,
            threshold,
        },
    )
    .await?;
    wait_for("the shutdown", || STOP.load(Ordering::SeqCst).then_some(())).await?;
    endpoint.shutdown().await?;
    Ok(())
}

/// The logger: counts records per worker and checks their order.
async fn logger(manager: u16, start: Instant) -> Result<(), Error> {
    let endpoint = Endpoint::new_in(Options::default(), tokio::runtime::Handle::current())?;
    let port = endpoint.listen("127.0.0.1", 0).await?;
    endpoint
        .start_handlers_on([
            "demo/cluster/logger",
            "demo/cluster/config",
            "demo/cluster/all",
        ])
        .await?;
    let mut records = TypedLogSubscriber::<ScanRecord>::new(&endpoint).await?;
    endpoint
        .peer_and_wait("127.0.0.1", manager, Duration::from_secs(1))
        .await?;
    println!("READY {port}");
    std::io::stdout().flush()?;
    live_view(&endpoint, "logger", start);

    let mut received: BTreeMap<String, u64> = BTreeMap::new();
    let mut in_order = true;
    loop {
        let pending = REPORT_REQUEST
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(expected) = &pending
            && expected
                .iter()
                .all(|(w, n)| received.get(w).copied().unwrap_or(0) >= *n)
        {
            let report = LogReport {
                received: received.clone(),
                in_order,
            };
            send(&endpoint, report).await?;
            break;
        }
        match records.recv_timeout(Duration::from_millis(50)).await {
            Some(Ok(record)) => {
                EVENTS_IN.fetch_add(1, Ordering::Relaxed);
                let count = received.entry(record.worker).or_default();
                *count += 1;
                in_order &= record.seq == *count;
            }
            Some(Err(e)) => return Err(format!("a log record did not convert: {e}").into()),
            None => {}
        }
        if start.elapsed() > DEADLINE {
            return Err("the manager never asked for the report".into());
        }
    }
    wait_for("the shutdown", || STOP.load(Ordering::SeqCst).then_some(())).await?;
    endpoint.shutdown().await?;
    Ok(())
}

/// Starts this program as `role`, forwarding its stdout lines to ours; the
/// first line of the logger (`READY <port>`) is returned through `ready`.
fn spawn(args: &[String], ready: Option<std::sync::mpsc::Sender<u16>>) -> Result<Child, Error> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match (line.strip_prefix("READY "), &ready) {
                (Some(port), Some(tx)) => {
                    let _ = tx.send(port.trim().parse().unwrap_or(0));
                }
                _ => println!("{line}"),
            }
        }
    });
    Ok(child)
}

/// The manager: starts the others, lowers the threshold half-way, checks
/// every count at the end.
async fn manager(start: Instant) -> Result<bool, Error> {
    let endpoint = Endpoint::new_in(Options::default(), tokio::runtime::Handle::current())?;
    let port = endpoint.listen("127.0.0.1", 0).await?;
    endpoint.start_handlers_on(["demo/cluster/manager"]).await?;
    live_view(&endpoint, "manager", start);
    let common = |role: &str| vec![role.to_owned(), port.to_string()];

    let (tx, rx) = std::sync::mpsc::channel();
    let mut children = vec![spawn(&common("logger"), Some(tx))?];
    let logger_port = rx.recv_timeout(Duration::from_secs(10))?;
    for name in WORKERS {
        let mut args = common("worker");
        args.extend([logger_port.to_string(), name.to_owned()]);
        children.push(spawn(&args, None)?);
    }
    let mut children = scopeguard(children);

    // Half-way, lower the threshold for everyone.
    wait_for("half of the scans", || {
        with_manager(|m| (m.progress.values().sum::<u64>() >= SCANS).then_some(()))
    })
    .await?;
    SCAN_THRESHOLD.set(LOWERED_THRESHOLD);
    endpoint.publish_id(&SCAN_THRESHOLD).await?;
    EVENTS_OUT.fetch_add(1, Ordering::Relaxed);
    println!(
        "{:>5.1}s  manager   lowered Demo::scan_threshold to {LOWERED_THRESHOLD}",
        start.elapsed().as_secs_f64()
    );

    let done = wait_for("both workers", || {
        with_manager(|m| (m.done.len() == WORKERS.len()).then(|| m.done.clone()))
    })
    .await?;
    let expected = done
        .iter()
        .map(|(w, (scanned, _, _))| (w.clone(), *scanned))
        .collect();
    send(&endpoint, ReportLogs { expected }).await?;
    let (received, in_order) =
        wait_for("the log report", || with_manager(|m| m.report.clone())).await?;
    // A local raise: published to every node (auto-publish on the event's
    // topic) and handled here too.
    endpoint.raise(Shutdown).await?;
    EVENTS_OUT.fetch_add(1, Ordering::Relaxed);
    let alerts = with_manager(|m| m.alerts.clone());

    // Every process ends by itself; a straggler is killed at the deadline.
    let mut statuses = Vec::new();
    for child in children.0.iter_mut() {
        statuses.push(wait_child(child, start)?);
    }
    endpoint.shutdown().await?;

    println!("\nsummary after {:.1}s", start.elapsed().as_secs_f64());
    let mut ok = true;
    let mut check = |what: String, good: bool| {
        println!("  {} {what}", if good { "ok  " } else { "FAIL" });
        ok &= good;
    };
    for name in WORKERS {
        let (scanned, sent, threshold) = done.get(name).copied().unwrap_or_default();
        let got = alerts.get(name).copied().unwrap_or(0);
        check(
            format!("{name}: {scanned} scans, all {SCANS} done"),
            scanned == SCANS,
        );
        check(
            format!("{name}: alerts sent {sent}, received by the manager {got}"),
            sent == got,
        );
        let logged = received.get(name).copied().unwrap_or(0);
        check(
            format!("{name}: log records sent {scanned}, received by the logger {logged}"),
            logged == scanned,
        );
        check(
            format!("{name}: ended with threshold {threshold} (the manager's {LOWERED_THRESHOLD})"),
            threshold == LOWERED_THRESHOLD,
        );
    }
    check("log records arrived in order".into(), in_order);
    check(
        format!("processes exited cleanly ({statuses:?})"),
        statuses.iter().all(|s| *s == Some(0)),
    );
    println!("{}", if ok { "counts match" } else { "MISMATCH" });
    Ok(ok)
}

/// Children that are killed if the manager fails half-way.
struct ChildGuard(Vec<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn scopeguard(children: Vec<Child>) -> ChildGuard {
    ChildGuard(children)
}

fn wait_child(child: &mut Child, start: Instant) -> Result<Option<i32>, Error> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cluster: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let port = |i: usize| args.get(i).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
    let result: Result<bool, Error> = runtime.block_on(async {
        match args.first().map(String::as_str) {
            None => manager(start).await,
            Some("logger") => logger(port(1), start).await.map(|()| true),
            Some("worker") => {
                let name = args.get(3).cloned().unwrap_or_default();
                worker(&name, port(1), port(2), start).await.map(|()| true)
            }
            Some(other) => Err(format!("unknown role {other:?}").into()),
        }
    });
    let role = args.first().map_or("manager", String::as_str);
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cluster {role}: {e}");
            ExitCode::FAILURE
        }
    }
}
