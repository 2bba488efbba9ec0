//! The endpoint agent as a real process (`keyprint agent run|replay`) against a real server on loopback:
//! the evdev path on recorded `input_event` streams with a fake sysfs (a keyboard attached mid-session typing
//! a payload), kill -9 mid-upload, a server down for a while, a full disk, and the X11 path under Xvfb with
//! xdotool (skipped, saying so, where Xvfb or xdotool is missing; `.ci/run` installs both).

use keyprint_agent::evdev::record;
use keyprint_agent::sysfs::fake_device;
use keyprint_core::event::KeyEvent;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_keyprint");

struct Server {
    rt: tokio::runtime::Runtime,
    _running: keyprint_server::Running,
    data: PathBuf,
    read_token: String,
    url: String,
}

fn server_at(
    data: &Path,
    bind: std::net::SocketAddr,
) -> (tokio::runtime::Runtime, keyprint_server::Running) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = keyprint_server::ServeConfig::new(data.to_path_buf());
    cfg.bind = bind;
    let running = rt
        .block_on(keyprint_server::start(&cfg))
        .expect("server starts");
    (rt, running)
}

fn server(dir: &Path) -> Server {
    let data = dir.join("server");
    let (rt, running) = server_at(&data, ([127, 0, 0, 1], 0).into());
    let read = running
        .service
        .create_key("acme", keyprint_wire::Role::Read)
        .unwrap();
    Server {
        url: running.url(),
        rt,
        _running: running,
        data,
        read_token: read.token,
    }
}

/// Registers device `device` for user `alice` (as an admin would with `POST /v1/devices`); returns the
/// one-time registration token.
fn register(service: &keyprint_server::service::Service, device: &str) -> String {
    service
        .register_device(
            "acme",
            &keyprint_wire::RegisterDevice {
                device: device.into(),
                users: vec!["alice".into()],
                label: Some("agent test".into()),
            },
        )
        .expect("device registered")
        .registration_token
}

impl Server {
    /// (seq) of every stored batch of sessions starting with `prefix`, by session.
    fn batches(&self, prefix: &str) -> std::collections::BTreeMap<String, Vec<i64>> {
        let c = rusqlite::Connection::open(self.data.join("keyprint.db")).unwrap();
        let mut st = c
            .prepare("SELECT session, seq FROM batches WHERE session LIKE ?1 ORDER BY session, seq")
            .unwrap();
        let mut out: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        let rows = st
            .query_map([format!("{prefix}%")], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .unwrap();
        for r in rows {
            let (s, q) = r.unwrap();
            out.entry(s).or_default().push(q);
        }
        out
    }

    fn records_text(&self) -> String {
        let c = rusqlite::Connection::open(self.data.join("keyprint.db")).unwrap();
        let mut st = c.prepare("SELECT records FROM batches").unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The tenant's alerts (the rows of the first page, up to 1,000).
    fn alerts(&self) -> serde_json::Value {
        self.rt.block_on(async {
            let page: serde_json::Value = reqwest::Client::new()
                .get(format!("{}/v1/alerts?limit=1000", self.url))
                .bearer_auth(&self.read_token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            page["items"].clone()
        })
    }
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    input: PathBuf,
    sys: PathBuf,
    spool: PathBuf,
}

/// A folder with input, fake sysfs and spool, a config, and the device credential obtained by the real
/// `keyprint agent enroll` with `registration` (a one-time token from [`register`]).
fn setup(server_url: &str, registration: &str, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (input, sys, spool) = (
        dir.path().join("input"),
        dir.path().join("sys"),
        dir.path().join("spool"),
    );
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&sys).unwrap();
    let cred = dir.path().join("credential.json");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "session_prefix = \"t\"\n[sources]\ninput_dir = {input:?}\nsysfs = {sys:?}\nscan_ms = 50\n[spool]\ndir = {spool:?}\n[upload]\ncredential = {cred:?}\nflush_ms = 200\nmax_backoff_ms = 400\n{extra}"
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["agent", "enroll", "--config"])
        .arg(&config)
        .args(["--server", server_url, "--token", registration])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "enroll: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("enrolled device"));
    Setup {
        dir,
        config,
        input,
        sys,
        spool,
    }
}

/// A running agent whose stderr lines are collected.
struct AgentProc {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

fn spawn(cmd: &str, config: &Path, extra: &[&str]) -> AgentProc {
    let mut child = Command::new(BIN)
        .args(["agent", cmd, "--config"])
        .arg(config)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l, err) = (log.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    AgentProc { child, log }
}

impl AgentProc {
    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
    fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < within {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
    fn term(mut self) -> String {
        unsafe { libc_kill(self.child.id() as i32, 15) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(15) {
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.log()
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn now_us() -> i64 {
    keyprint_agent::capture::now_us()
}

use keyprint_agent::bench::{human_keys as human, machine_keys as payload};

fn spool_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".batch"))
            .count()
    })
}

const OWNER_TEXT: &str =
    "sphinx of black quartz judge my vow and pack my box with five dozen liquor jugs";

#[test]
fn evdev_hotplugged_payload_is_blocked_and_alerted_at_the_server() {
    let work = tempfile::tempdir().unwrap();
    let srv = server(work.path());
    let s = setup(
        &srv.url,
        &register(&srv._running.service, "laptop-block"),
        "[defence]\npolicy = \"block\"\n",
    );
    fake_device(
        &s.sys,
        "event3",
        "Lenovo ThinkPad Keyboard",
        Some(("17ef", "6047", "")),
        true,
        false,
    )
    .unwrap();
    let t0 = now_us();
    std::fs::write(
        s.input.join("event3"),
        record(&human(OWNER_TEXT, t0 + 300_000), &[]),
    )
    .unwrap();
    let agent = spawn("run", &s.config, &[]);
    assert!(
        agent.wait_log("device present evdev:event3", Duration::from_secs(10)),
        "{}",
        agent.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    // A keyboard is plugged in mid-session and types a payload at once.
    let usb = fake_device(
        &s.sys,
        "event7",
        "ATMEL Keyboard",
        Some(("03eb", "2401", "HAK5")),
        true,
        false,
    )
    .unwrap();
    let t1 = now_us() + 400_000;
    std::fs::write(
        s.input.join("event7"),
        record(&payload("powershell -w hidden iwr evil", t1), &[]),
    )
    .unwrap();
    assert!(
        agent.wait_log("injection verdict on evdev:event7", Duration::from_secs(10)),
        "{}",
        agent.log()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let log = agent.term();
    assert_eq!(
        std::fs::read_to_string(usb.join("authorized")).unwrap(),
        "0\n",
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("injection verdict on evdev:event7"))
        .unwrap();
    let k: u64 = line
        .split("at keystroke ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(k <= 3, "detected at keystroke {k}: {line}");
    eprintln!("verdict: {line}");
    let alerts = srv.alerts();
    let a = alerts.to_string();
    assert!(
        a.contains("evdev-event7-usb-03eb-2401"),
        "no alert naming the device: {a}\n{log}"
    );
    assert!(
        !a.contains("evdev-event3"),
        "the owner's keyboard alerted: {a}"
    );
    // Nothing left in the spool; no key identity in the log or on the server.
    assert_eq!(spool_files(&s.spool), 0, "{log}");
    let stored = srv.records_text();
    assert!(stored.contains("free_text") && stored.contains("injection"));
    for hay in [&log, &stored] {
        for w in OWNER_TEXT
            .split(' ')
            .chain(["powershell", "hidden", "evil"])
            .filter(|w| w.len() > 3)
        {
            assert!(!hay.contains(w), "found {w:?}");
        }
        for code in ["KeyA", "KeyS", "Space", "\"code\"", "Digit"] {
            assert!(!hay.contains(code), "found {code:?}");
        }
    }
    drop(s.dir);
}

fn many_keys(n: usize, t0: i64) -> Vec<KeyEvent> {
    let text: String = OWNER_TEXT.chars().cycle().take(n).collect();
    human(&text, t0)
}

/// A keyboard present at start (`event3`) whose recording holds `n` human-like keystrokes from 1 s ahead.
fn owner_keyboard(s: &Setup, n: usize) {
    fake_device(
        &s.sys,
        "event3",
        "Keyboard",
        Some(("17ef", "6047", "")),
        true,
        false,
    )
    .unwrap();
    std::fs::write(
        s.input.join("event3"),
        record(&many_keys(n, now_us() + 1_000_000), &[]),
    )
    .unwrap();
}

fn contiguous(seqs: &[i64]) -> bool {
    seqs.iter().enumerate().all(|(i, &s)| s == i as i64)
}

#[test]
fn kill_9_mid_upload_loses_and_duplicates_nothing() {
    let work = tempfile::tempdir().unwrap();
    let srv = server(work.path());
    let s = setup(
        &srv.url,
        &register(&srv._running.service, "laptop-kill"),
        "",
    );
    std::fs::write(
        s.config.clone(),
        std::fs::read_to_string(&s.config)
            .unwrap()
            .replace("flush_ms = 200", "flush_ms = 200\nbatch_records = 1"),
    )
    .unwrap();
    owner_keyboard(&s, 4000);
    let agent = spawn("run", &s.config, &[]);
    // Wait until uploading is under way, then kill -9.
    let t = Instant::now();
    loop {
        let stored: usize = srv.batches("t-").values().map(Vec::len).sum();
        if stored >= 3 || t.elapsed() > Duration::from_secs(20) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut child = agent.child;
    child.kill().unwrap();
    child.wait().unwrap();
    let pending = spool_files(&s.spool);
    let before: usize = srv.batches("t-").values().map(Vec::len).sum();
    eprintln!("killed with {before} batches stored and {pending} pending in the spool");
    assert!(
        pending > 0,
        "upload finished before the kill; nothing tested"
    );
    // Restart with no input: only the spool is uploaded.
    std::fs::remove_file(s.input.join("event3")).unwrap();
    let agent = spawn("run", &s.config, &[]);
    let t = Instant::now();
    while spool_files(&s.spool) > 0 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = agent.term();
    assert_eq!(spool_files(&s.spool), 0, "{log}");
    let b = srv.batches("t-");
    assert_eq!(b.len(), 1, "{b:?}");
    let seqs = b.values().next().unwrap();
    // Every batch spooled before the kill is stored exactly once and none is missing: the batches acknowledged
    // before the kill plus those left in the spool, less at most one that was stored but not yet deleted when
    // the kill came (sent again, answered as a duplicate).
    assert!(contiguous(seqs), "{seqs:?}");
    assert!(
        seqs.len() == before + pending || seqs.len() + 1 == before + pending,
        "{} stored; {before} before the kill + {pending} pending",
        seqs.len()
    );
}

#[test]
fn server_down_then_up_and_a_full_disk() {
    let work = tempfile::tempdir().unwrap();
    // A port with nothing listening: reserve it, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    // The server registers and enrols two devices, then goes down: the agents meet a dead port.
    let data = work.path().join("server");
    let (rt, running) = server_at(&data, ([127, 0, 0, 1], port).into());
    let s = setup(
        &url,
        &register(&running.service, "laptop-down"),
        "batch_records = 1\n",
    );
    let s2 = setup(&url, &register(&running.service, "laptop-full"), "");
    running.stop();
    drop(rt);
    std::thread::sleep(Duration::from_millis(200));
    owner_keyboard(&s, 1000);
    let agent = spawn("run", &s.config, &[]);
    assert!(
        agent.wait_log("retrying in", Duration::from_secs(10)),
        "{}",
        agent.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    let pending = spool_files(&s.spool);
    assert!(pending >= 2, "{pending}: {}", agent.log());
    // The server comes back on the same port and data directory.
    let (rt, running) = server_at(&data, ([127, 0, 0, 1], port).into());
    let t = Instant::now();
    while spool_files(&s.spool) > 0 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = agent.term();
    assert_eq!(spool_files(&s.spool), 0, "{log}");
    let c = rusqlite::Connection::open(data.join("keyprint.db")).unwrap();
    let seqs: Vec<i64> = c
        .prepare("SELECT seq FROM batches WHERE session LIKE 't-%' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!seqs.is_empty() && contiguous(&seqs), "{seqs:?}");
    running.stop();
    drop(rt);

    // Disk full: the spool on a 64 KiB tmpfs (root only; skipped otherwise) with the server down.
    let small = work.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: disk-full part (cannot mount a tmpfs here)");
        return;
    }
    let cfg = std::fs::read_to_string(&s2.config)
        .unwrap()
        .replace(
            &format!("{:?}", s2.spool),
            &format!("{:?}", small.join("spool")),
        )
        .replace("flush_ms = 200", "flush_ms = 200\nbatch_records = 1");
    std::fs::write(&s2.config, cfg).unwrap();
    owner_keyboard(&s2, 20_000);
    let agent = spawn("run", &s2.config, &[]);
    let full = agent.wait_log("spool: batch dropped", Duration::from_secs(30));
    let log = agent.term();
    let _ = Command::new("umount").arg(&small).status();
    assert!(full, "{log}");
    let stats = log
        .lines()
        .rev()
        .find(|l| l.contains("stats:"))
        .unwrap_or_default()
        .to_string();
    eprintln!("disk full: {stats}");
    assert!(
        stats.contains("dropped_write=") && !stats.contains("dropped_write=0 "),
        "{stats}"
    );
}

fn which(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// xdotool keysym of a W3C code (the keys of the CMU phrase `.tie5Roanl` + Return).
fn keysym(code: &str) -> String {
    match code {
        "Period" => "period".into(),
        "ShiftLeft" => "Shift_L".into(),
        "ShiftRight" => "Shift_R".into(),
        "Enter" => "Return".into(),
        c if c.starts_with("Key") => c[3..].to_ascii_lowercase(),
        c if c.starts_with("Digit") => c[5..].into(),
        c => panic!("no keysym for {c}"),
    }
}

/// A real X server (Xvfb) on display `:offset+pid%100`, or `None` (saying so) where Xvfb or a tool is missing.
fn xvfb(offset: u32, tools: &[&str]) -> Option<(Child, String)> {
    if let Some(missing) = ["Xvfb"].iter().chain(tools).find(|t| !which(t)) {
        eprintln!("skipped: {missing} missing (apt-get install xvfb xdotool xinput)");
        return None;
    }
    let display = format!(":{}", offset + std::process::id() % 100);
    let xvfb = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    Some((xvfb, display))
}

/// The agent's config with the X11 source on `display` (evdev off).
fn x11_config(s: &Setup, display: &str) {
    let cfg = std::fs::read_to_string(&s.config).unwrap().replace(
        "[sources]\n",
        &format!("[sources]\nevdev = false\nx11 = true\ndisplay = \"{display}\"\n"),
    );
    std::fs::write(&s.config, cfg).unwrap();
}

/// A device that appears in the X server while the agent runs (here the XTEST keyboard of a new master, as
/// `xinput create-master` makes it; a USB keyboard plugged in shows up the same way) is picked up at once and
/// judged as freshly attached; its removal is seen too.
#[test]
fn x11_hotplugged_device_is_picked_up() {
    let Some((mut xvfb, display)) = xvfb(190, &["xinput"]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let srv = server(work.path());
    let s = setup(
        &srv.url,
        &register(&srv._running.service, "desktop-hotplug"),
        "",
    );
    x11_config(&s, &display);
    let agent = spawn("run", &s.config, &[]);
    assert!(
        agent.wait_log("x11: listening", Duration::from_secs(10)),
        "{}",
        agent.log()
    );
    let xinput = |args: &[&str]| {
        let st = Command::new("xinput")
            .args(args)
            .env("DISPLAY", &display)
            .status()
            .unwrap();
        assert!(st.success(), "xinput {args:?}");
    };
    xinput(&["create-master", "ducky"]);
    let attached = agent.wait_log("ducky XTEST keyboard", Duration::from_secs(10));
    xinput(&["remove-master", "ducky pointer"]);
    std::thread::sleep(Duration::from_millis(500));
    let log = agent.term();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert!(attached, "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("ducky XTEST keyboard"))
        .unwrap();
    eprintln!("hot-plug: {line}");
    assert!(line.contains("device attached x11:"), "{line}");
    assert!(
        log.lines()
            .any(|l| l.contains("device detached x11:") && l.contains("ducky XTEST keyboard")),
        "removal not seen: {log}"
    );
}

#[test]
fn x11_xdotool_machine_typing_is_flagged_and_human_typing_is_not() {
    let Some((mut xvfb, display)) = xvfb(90, &["xdotool"]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let srv = server(work.path());
    let run = |device: &str, typing: &dyn Fn()| -> String {
        let s = setup(&srv.url, &register(&srv._running.service, device), "");
        x11_config(&s, &display);
        let agent = spawn("run", &s.config, &[]);
        assert!(
            agent.wait_log("x11: listening", Duration::from_secs(10)),
            "{}",
            agent.log()
        );
        typing();
        std::thread::sleep(Duration::from_millis(2500));
        agent.term()
    };
    // Real human timing: CMU subjects typing `.tie5Roanl` + Return, as keydown/keyup with the recorded delays.
    let layout = keyprint_core::keystroke::FixedTextLayout::cmu_strong_password();
    let subjects = keyprint_server::cmu_subjects(keyprint_server::CMU_DEMO, "cmu-demo").unwrap();
    let typings: Vec<Vec<f64>> = subjects[0].1.iter().take(5).cloned().collect();
    let keys: Vec<KeyEvent> =
        keyprint_server::demo::typings_to_events(&layout, &typings, 0, 700_000)
            .into_iter()
            .flatten()
            .collect();
    let mut evs: Vec<(i64, bool, String)> = keys
        .iter()
        .flat_map(|k| {
            [
                (k.press_us, true, keysym(k.key.as_code().unwrap())),
                (k.release_us, false, keysym(k.key.as_code().unwrap())),
            ]
        })
        .collect();
    evs.sort_by_key(|e| e.0);
    // alice enrols her free text first (as her own registered device would, through the edge) from the same
    // subject's other typings, so the X11 capture of her typing is scored against her template.
    let svc = &srv._running.service;
    let (_, enrol_device) = svc
        .provision_device("acme", "alice-enrol-desk", &["alice"])
        .unwrap();
    let enrol_typings: Vec<Vec<f64>> = subjects[0].1[5..65].to_vec();
    let mut edge = keyprint_edge::Edge::new(keyprint_edge::EdgeConfig::default()).unwrap();
    let mut records = Vec::new();
    for k in keyprint_server::demo::typings_to_events(&layout, &enrol_typings, 1_000_000, 700_000)
        .into_iter()
        .flatten()
    {
        edge.key(&k, &mut records);
    }
    edge.finish(&mut records);
    let mut batcher =
        keyprint_client::SessionBatcher::new("alice", "enrol-1", Some("alice-enrol-desk"), 10_000);
    for r in &records {
        batcher.push(r);
    }
    let ack = svc
        .ingest(&enrol_device, &batcher.flush().unwrap())
        .unwrap();
    assert!(ack.samples >= 10, "{ack:?}");
    let enrolled = svc
        .users("acme", &keyprint_server::service::PageRequest::default())
        .unwrap()
        .items;
    assert!(
        enrolled.iter().any(|u| u.user == "alice"
            && u.engines
                .iter()
                .any(|e| e.engine == "free-text" && e.enrolled)),
        "alice's free text not enrolled: {enrolled:?}"
    );
    let human_log = run("desktop-human", &|| {
        let mut args: Vec<String> = Vec::new();
        let mut t = evs[0].0;
        for (at, down, sym) in &evs {
            if *at > t {
                args.extend(["sleep".into(), format!("{:.3}", (*at - t) as f64 / 1e6)]);
                t = *at;
            }
            args.extend([if *down { "keydown" } else { "keyup" }.into(), sym.clone()]);
        }
        let st = Command::new("xdotool")
            .args(&args)
            .env("DISPLAY", &display)
            .status()
            .unwrap();
        assert!(st.success());
    });
    let machine_log = run("desktop-xdotool", &|| {
        let st = Command::new("xdotool")
            .args([
                "type",
                "--delay",
                "12",
                "the quick brown fox jumps over the lazy dog and keeps running far away",
            ])
            .env("DISPLAY", &display)
            .status()
            .unwrap();
        assert!(st.success());
    });
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    eprintln!(
        "human typing (CMU timings through xdotool): {}",
        human_log
            .lines()
            .rev()
            .find(|l| l.contains("stats:"))
            .unwrap_or_default()
    );
    assert!(!human_log.contains("injection verdict"), "{human_log}");
    assert!(human_log.contains("XTEST keyboard"), "{human_log}");
    let line = machine_log
        .lines()
        .find(|l| l.contains("injection verdict"))
        .unwrap_or_else(|| panic!("{machine_log}"));
    eprintln!("machine typing: {line}");
    assert!(
        line.contains("Virtual core XTEST keyboard") && line.contains("XTEST auto-type recognised"),
        "{line}"
    );
    let alerts = srv.alerts().to_string();
    assert!(
        alerts.contains("-xtest"),
        "no alert naming the XTEST source: {alerts}"
    );
    let stored = srv.records_text();
    assert!(
        stored.contains("free_text"),
        "the human typing produced no window summary"
    );
    // The human typing captured from X11 was scored against alice's template as her own typing: trust above
    // the alert threshold, no alert for that session.
    let human = svc
        .sessions(
            "acme",
            Some("alice"),
            &keyprint_server::service::PageRequest {
                limit: keyprint_wire::MAX_PAGE_LIMIT,
                cursor: None,
            },
        )
        .unwrap()
        .items
        .into_iter()
        .filter(|s| s.device.as_deref() == Some("desktop-human"))
        .collect::<Vec<_>>();
    // (The X server's other input devices open sessions too; only the one that typed has samples.)
    let scored: Vec<_> = human
        .iter()
        .filter(|s| s.trust.state == keyprint_wire::TrustState::Scoring)
        .collect();
    assert_eq!(scored.len(), 1, "sessions from desktop-human: {human:?}");
    let s = scored[0];
    eprintln!(
        "X11 human typing scored against alice's template: session {} trust {:.1}",
        s.session, s.trust.trust
    );
    assert!(s.trust.trust >= 30.0 && s.alerts == 0, "{s:?}");
}

#[test]
fn without_a_device_credential_the_agent_refuses_to_capture() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[sources]\ninput_dir = {:?}\n[spool]\ndir = {:?}\n[upload]\ncredential = {:?}\n",
            dir.path(),
            dir.path().join("spool"),
            dir.path().join("missing.json")
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["agent", "run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("missing.json") && err.contains("keyprint agent enroll"),
        "{err}"
    );
    assert!(
        !dir.path().join("spool").exists(),
        "it opened a spool before refusing"
    );
}

#[test]
fn replay_runs_a_folder_of_recordings_and_exits_when_input_stops() {
    let work = tempfile::tempdir().unwrap();
    let srv = server(work.path());
    let s = setup(
        &srv.url,
        &register(&srv._running.service, "laptop-replay"),
        "",
    );
    owner_keyboard(&s, 300);
    let out = Command::new(BIN)
        .args(["agent", "replay", "--idle-ms", "1000", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 300 keys: 6 windows and the device's attach record; everything acknowledged.
    assert!(
        stdout.starts_with("keys 300 mouse 0 records 7 "),
        "{stdout}"
    );
    assert!(
        stdout.contains("pending 0 dropped 0 rejected 0 verdicts 0"),
        "{stdout}"
    );
    let stored: usize = srv.batches("t-").values().map(Vec::len).sum();
    assert!(stored >= 1);
}
