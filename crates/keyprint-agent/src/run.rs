//! The daemon: sources on their threads → [`Agent`] on this thread → spool → [`Uploader`] on a
//! single-threaded tokio runtime of its own. `SIGTERM`/`SIGINT` end the sessions (last windows summarised),
//! spool them, give the uploader a few seconds, and exit; `kill -9` loses nothing spooled.

use crate::agent::{Agent, Input};
use crate::capture::{EvdevSource, Quarantine};
use crate::config::{CheckedConfig, Policy};
use crate::quarantine::{CountingSink, KeySink};
use crate::spool::Spool;
use crate::uevent::{GROUP_KERNEL, GROUP_UDEV, UeventCounts, UeventSocket};
use crate::uinput::{Grabs, UinputSink};
use crate::upload::{StoredCredential, Uploader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);
static UEVENTS: UeventCounts = UeventCounts::new();

/// The uinput device node quarantine writes to.
pub const UINPUT_PATH: &str = "/dev/uinput";
/// The folder whose nodes uevents describe; another `sources.input_dir` (a replay) is scanned only.
pub const DEV_INPUT: &str = "/dev/input";

/// Quarantine's OS parts.
pub struct QuarantineParts {
    /// Where released keys go: the uinput keyboard, or a counter when there is none.
    pub sink: Box<dyn KeySink + Send>,
    /// What capture needs to grab (`None`: nothing is grabbed).
    pub capture: Option<Quarantine>,
    /// The uinput keyboard's sysfs name, never captured.
    pub own_sysname: Option<String>,
}

/// Quarantine's OS parts under `cfg`'s policy: the uinput keyboard made on `uinput_path` (the sink) and
/// what capture needs to grab. When the uinput device cannot be made, quarantine falls back to `block`
/// and `log` says so, once.
pub fn quarantine_parts(
    cfg: &CheckedConfig,
    uinput_path: &Path,
    log: &mut dyn FnMut(&str),
) -> QuarantineParts {
    let none = || QuarantineParts {
        sink: Box::new(CountingSink::default()),
        capture: None,
        own_sysname: None,
    };
    if cfg.defence.policy != Policy::Quarantine {
        return none();
    }
    let grabs = Grabs::default();
    let made = crate::uinput::open_uinput(uinput_path).and_then(|io| {
        UinputSink::create(
            Box::new(io),
            grabs.clone(),
            Box::new(crate::capture::now_us),
        )
    });
    match made {
        Ok(sink) => {
            let own = sink.sysname.clone();
            log(&format!(
                "quarantine: virtual keyboard \"{}\" created ({}); hot-plugged keyboards are grabbed until they type like a human",
                crate::uinput::UINPUT_NAME,
                own.as_deref().unwrap_or("sysfs name unknown")
            ));
            let c = cfg.clone();
            let q = Quarantine {
                grabs,
                wants: Arc::new(move |i| {
                    i.keyboard
                        && c.allowed(
                            i.vendor.as_deref(),
                            i.product.as_deref(),
                            i.serial.as_deref(),
                        )
                        .is_none()
                }),
                grabber: Arc::new(crate::capture::grab_node),
            };
            QuarantineParts {
                sink: Box::new(sink),
                capture: Some(q),
                own_sysname: own,
            }
        }
        Err(e) => {
            log(&format!(
                "quarantine: cannot create the virtual keyboard ({}: {e}); falling back to block: keys are not held, a verdict de-authorizes the device",
                uinput_path.display()
            ));
            none()
        }
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// How long to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Stop once input has been seen and none came for this long (replays).
    pub exit_when_idle: Option<Duration>,
}

/// What a run did (printed at exit).
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Agent counters.
    pub counts: crate::agent::AgentCounts,
    /// Spool counters.
    pub spool: crate::spool::SpoolCounts,
    /// Batches still pending at exit.
    pub pending: usize,
    /// Verdicts handled.
    pub alerts: usize,
}

fn log(line: &str) {
    eprintln!("keyprint-agent: {line}");
}

/// Runs the agent until a signal (or idleness, for replays).
///
/// # Errors
/// A message when there is no device credential (the agent refuses to capture without one), the user is not
/// bound to the device, or the spool cannot be opened.
pub fn run(cfg: CheckedConfig, opts: RunOptions) -> Result<RunReport, String> {
    let cred = StoredCredential::load(&cfg.upload.credential)?;
    let server = cfg
        .upload
        .server
        .clone()
        .unwrap_or_else(|| cred.server.clone());
    let user = match &cfg.upload.user {
        Some(u) if cred.credential.users.contains(u) => u.clone(),
        Some(u) => {
            return Err(format!(
                "upload.user {u:?} is not bound to device {}",
                cred.credential.device
            ));
        }
        None => cred
            .credential
            .users
            .first()
            .cloned()
            .ok_or("the credential binds no user")?,
    };
    let spool = Spool::open(&cfg.spool.dir, cfg.spool.max_bytes)
        .map_err(|e| format!("spool {}: {e}", cfg.spool.dir.display()))?;
    let pending = spool.pending();
    let spool = Arc::new(Mutex::new(spool));
    log(&format!(
        "device {} user {user} server {server}; {pending} batches pending in the spool",
        cred.credential.device
    ));
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let wake = Arc::new(tokio::sync::Notify::new());
    let uploader = Uploader::new(
        spool.clone(),
        &server,
        &cred.credential.token,
        Duration::from_millis(cfg.upload.max_backoff_ms),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let up_wake = wake.clone();
    let upload_thread = std::thread::Builder::new()
        .name("upload".into())
        .spawn(move || rt.block_on(uploader.run(Duration::from_secs(5), up_wake)))
        .map_err(|e| e.to_string())?;
    drop(upload_thread);

    let (tx, rx) = std::sync::mpsc::channel::<Input>();
    let QuarantineParts {
        sink,
        capture: quarantine,
        own_sysname,
    } = quarantine_parts(&cfg, Path::new(UINPUT_PATH), &mut log);
    if cfg.sources.evdev {
        let src = EvdevSource {
            input_dir: cfg.sources.input_dir.clone(),
            sysfs: cfg.sources.sysfs.clone(),
            screen_px: cfg.sources.screen_px,
            scan: Duration::from_millis(cfg.sources.scan_ms),
            quarantine,
            own_sysname,
        };
        let added = uevents(&cfg);
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("evdev-scan".into())
            .spawn(move || src.run(tx, added))
            .map_err(|e| e.to_string())?;
    }
    if cfg.sources.x11 {
        let (display, screen, tx) = (
            cfg.sources.display.clone(),
            cfg.sources.screen_px,
            tx.clone(),
        );
        std::thread::Builder::new()
            .name("x11".into())
            .spawn(move || {
                if let Err(e) = crate::x11::run(display.as_deref(), screen, tx, || {
                    log("x11: listening (XInput 2 raw events)")
                }) {
                    log(&e.to_string());
                }
            })
            .map_err(|e| e.to_string())?;
    }
    drop(tx);
    let start_ms = crate::capture::now_us() as u64 / 1000;
    let mut agent = Agent::new(
        cfg.clone(),
        &user,
        Some(&cred.credential.device),
        start_ms,
        spool.clone(),
        sink,
        Box::new(log),
    );
    let flush = Duration::from_millis(cfg.upload.flush_ms);
    let (mut last_flush, mut last_input, mut last_stats) =
        (Instant::now(), None::<Instant>, Instant::now());
    loop {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let next = match rx.try_recv() {
            Ok(input) => Ok(input),
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {
                agent.idle();
                rx.recv_timeout(Duration::from_millis(250).min(flush))
            }
        };
        match next {
            Ok(input) => {
                last_input = Some(Instant::now());
                agent.handle(input);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() >= flush {
            agent.tick();
            wake.notify_one();
            last_flush = Instant::now();
        }
        if last_stats.elapsed() >= Duration::from_secs(60) {
            stats(&agent, &spool);
            last_stats = Instant::now();
        }
        if let (Some(idle), Some(t)) = (opts.exit_when_idle, last_input)
            && t.elapsed() >= idle
        {
            break;
        }
    }
    agent.finish();
    wake.notify_one();
    // Give the uploader a moment to send what is pending; whatever remains stays spooled.
    let deadline = Instant::now() + Duration::from_secs(5);
    while spool.lock().expect("spool lock").pending() > 0 && Instant::now() < deadline {
        wake.notify_one();
        std::thread::sleep(Duration::from_millis(50));
    }
    stats(&agent, &spool);
    let s = spool.lock().expect("spool lock");
    Ok(RunReport {
        counts: agent.counts,
        spool: s.counts,
        pending: s.pending(),
        alerts: agent.alerts.len(),
    })
}

/// The uevent listener, when `sources.input_dir` is `/dev/input` and the netlink socket opens.
fn uevents(cfg: &CheckedConfig) -> Option<std::sync::mpsc::Receiver<crate::uevent::Added>> {
    if cfg.sources.input_dir != Path::new(DEV_INPUT) {
        return None;
    }
    match UeventSocket::open(GROUP_KERNEL | GROUP_UDEV) {
        Ok(sock) => {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("uevent".into())
                .spawn(move || {
                    let e = sock.run(tx, &UEVENTS);
                    log(&format!("uevents: {e}; falling back to the periodic scan"));
                })
                .ok()?;
            log(
                "hot-plug: kernel and udev uevents (periodic scan every 10 × scan_ms as a safety net)",
            );
            Some(rx)
        }
        Err(e) => {
            log(&format!(
                "hot-plug: no uevent socket ({e}): scanning {DEV_INPUT} every scan_ms"
            ));
            None
        }
    }
}

fn stats(agent: &Agent, spool: &Arc<Mutex<Spool>>) {
    let s = spool.lock().expect("spool lock");
    let (a, c) = (agent.counts, s.counts);
    log(&format!(
        "stats: keys={} mouse={} records={} batches={} spooled={} acked={} pending={} dropped_full={} dropped_write={} rejected={} verdicts={} uevents={} bad_uevents={}",
        a.keys,
        a.mouse,
        a.records,
        a.batches,
        c.spooled,
        c.acked,
        s.pending(),
        c.dropped_full,
        c.dropped_write,
        c.rejected,
        agent.alerts.len(),
        UEVENTS.received.load(Ordering::Relaxed),
        UEVENTS.bad.load(Ordering::Relaxed),
    ));
}
