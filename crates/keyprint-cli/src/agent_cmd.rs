//! `keyprint agent run|enroll|replay|bench`: the endpoint agent (library: keyprint-agent).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keyprint_agent::config::{CheckedConfig, Config};
use keyprint_agent::run::{RunOptions, run};
use keyprint_agent::upload::StoredCredential;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The agent's subcommands.
#[derive(Subcommand)]
pub enum AgentCmd {
    /// Capture (evdev, X11), defend against injection, spool and upload; needs a device credential.
    Run(ConfigArg),
    /// Exchange a one-time registration token for this device's credential (stored at upload.credential).
    Enroll(EnrollArgs),
    /// Like run, on a folder of recorded `input_event` streams (sources.input_dir); exits once input stops.
    Replay(ReplayArgs),
    /// Benchmark: CPU and peak RSS of the running agent at a live load (10 keys/s + 100 mouse events/s).
    Bench(BenchArgs),
}

/// `--config`.
#[derive(Args)]
pub struct ConfigArg {
    /// TOML configuration (example: packaging/keyprint-agent.toml).
    #[arg(long, default_value = "/etc/keyprint/agent.toml")]
    pub config: PathBuf,
}

/// `enroll` flags.
#[derive(Args)]
pub struct EnrollArgs {
    /// TOML configuration (gives where the credential is stored).
    #[arg(long, default_value = "/etc/keyprint/agent.toml")]
    pub config: PathBuf,
    /// Server URL.
    #[arg(long)]
    pub server: String,
    /// One-time registration token from `POST /v1/devices`.
    #[arg(long, env = "KEYPRINT_REGISTRATION_TOKEN")]
    pub token: String,
}

/// `replay` flags.
#[derive(Args)]
pub struct ReplayArgs {
    /// TOML configuration.
    #[arg(long)]
    pub config: PathBuf,
    /// Exit after this long without input, ms.
    #[arg(long, default_value_t = 2000)]
    pub idle_ms: u64,
}

/// `bench` flags.
#[derive(Args)]
pub struct BenchArgs {
    /// Seconds of load.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Keys per second.
    #[arg(long, default_value_t = 10)]
    pub keys_per_s: u32,
    /// Mouse events per second.
    #[arg(long, default_value_t = 100)]
    pub mouse_per_s: u32,
}

fn load(path: &Path) -> anyhow::Result<CheckedConfig> {
    Ok(Config::load(path)?.validate()?)
}

/// Runs one agent subcommand.
pub fn agent(cmd: &AgentCmd) -> anyhow::Result<()> {
    match cmd {
        AgentCmd::Run(a) => report(run(load(&a.config)?, RunOptions::default())),
        AgentCmd::Replay(a) => report(run(
            load(&a.config)?,
            RunOptions {
                exit_when_idle: Some(Duration::from_millis(a.idle_ms)),
            },
        )),
        AgentCmd::Enroll(a) => enroll(a),
        AgentCmd::Bench(a) => bench(a),
    }
}

fn report(r: Result<keyprint_agent::run::RunReport, String>) -> anyhow::Result<()> {
    let r = r.map_err(anyhow::Error::msg)?;
    println!(
        "keys {} mouse {} records {} batches {} acked {} pending {} dropped {} rejected {} verdicts {}",
        r.counts.keys,
        r.counts.mouse,
        r.counts.records,
        r.counts.batches,
        r.spool.acked,
        r.pending,
        r.spool.dropped_full + r.spool.dropped_write,
        r.spool.rejected,
        r.alerts
    );
    Ok(())
}

fn enroll(a: &EnrollArgs) -> anyhow::Result<()> {
    let cfg = load(&a.config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cred = rt
        .block_on(keyprint_client::Client::enroll_device(&a.server, &a.token))
        .map_err(|e| anyhow::anyhow!("enrolment refused: {e}"))?;
    let stored = StoredCredential {
        server: a.server.trim_end_matches('/').to_string(),
        credential: cred,
    };
    stored
        .save(&cfg.upload.credential)
        .with_context(|| format!("writing {}", cfg.upload.credential.display()))?;
    println!(
        "enrolled device {} (users {}); credential {} stored at {}",
        stored.credential.device,
        stored.credential.users.join(", "),
        stored.credential.key_id,
        cfg.upload.credential.display()
    );
    Ok(())
}

fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    use keyprint_agent::bench::{feed_realtime, key_load, mouse_load, proc_usage};
    if a.seconds < 5 {
        bail!("--seconds must be at least 5");
    }
    let dir = tempfile::tempdir()?;
    let (input, sys) = (dir.path().join("input"), dir.path().join("sys"));
    std::fs::create_dir_all(&input)?;
    keyprint_agent::sysfs::fake_device(
        &sys,
        "event0",
        "Bench Keyboard",
        Some(("046d", "c31c", "")),
        true,
        false,
    )?;
    keyprint_agent::sysfs::fake_device(
        &sys,
        "event1",
        "Bench Mouse",
        Some(("046d", "c077", "")),
        false,
        true,
    )?;
    // FIFOs, not files: a read blocks until data comes, as on a real /dev/input node (a recording file is
    // followed by polling, which would be measured instead of the agent).
    for node in ["event0", "event1"] {
        let path = std::ffi::CString::new(input.join(node).into_os_string().into_encoded_bytes())?;
        // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
        if unsafe { libc::mkfifo(path.as_ptr(), 0o600) } != 0 {
            bail!(
                "mkfifo {}: {}",
                input.join(node).display(),
                std::io::Error::last_os_error()
            );
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut scfg = keyprint_server::ServeConfig::new(dir.path().join("server"));
    scfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = rt.block_on(keyprint_server::start(&scfg))?;
    let reg = server
        .service
        .register_device(
            "bench",
            &keyprint_wire::RegisterDevice {
                device: "bench-host".into(),
                users: vec!["bench-user".into()],
                label: None,
            },
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let credential = rt
        .block_on(keyprint_client::Client::enroll_device(
            &server.url(),
            &reg.registration_token,
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cred = dir.path().join("credential.json");
    StoredCredential {
        server: server.url(),
        credential,
    }
    .save(&cred)?;
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[sources]\ninput_dir = {:?}\nsysfs = {:?}\n[spool]\ndir = {:?}\n[upload]\ncredential = {:?}\n",
            input,
            sys,
            dir.path().join("spool"),
            cred
        ),
    )?;
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(["agent", "run", "--config"])
        .arg(&config)
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id();
    let before = proc_usage(pid).context("reading /proc for the agent")?;
    let t0 = keyprint_agent::capture::now_us();
    let (keys, mouse) = (
        key_load(a.seconds, a.keys_per_s, t0),
        mouse_load(a.seconds, a.mouse_per_s, t0),
    );
    let start = Instant::now();
    let (ki, mi) = (input.join("event0"), input.join("event1"));
    let kt = std::thread::spawn(move || feed_realtime(&ki, &keys, start));
    feed_realtime(&mi, &mouse, start)?;
    kt.join().expect("feeder")?;
    std::thread::sleep(Duration::from_millis(300));
    let wall = start.elapsed().as_secs_f64();
    let after = proc_usage(pid).context("reading /proc for the agent")?;
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output()?;
    let log = String::from_utf8_lossy(&out.stderr);
    let stats = log
        .lines()
        .rev()
        .find(|l| l.contains("stats:"))
        .unwrap_or("");
    server.stop();
    let cpu = 100.0 * (after.cpu_s - before.cpu_s) / wall;
    println!(
        "agent benchmark: {} keys/s + {} mouse events/s for {:.1} s, live (kernel input_events written to two FIFOs as their times come)",
        a.keys_per_s, a.mouse_per_s, wall
    );
    println!(
        "the whole `keyprint agent run` process: evdev readers, edge, spool (fsync per batch), upload to a loopback server"
    );
    println!();
    println!("| agent | design | CPU, % of one core | peak RSS |");
    println!("|---|---|---|---|");
    println!(
        "| keyprint agent (measured) | Rust; per event: decode 24 bytes, O(1) edge update; per batch: one fsync, one HTTP POST | {cpu:.3} % | {:.1} MiB |",
        after.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "| UKIP (google/ukip, published design; not run here) | Python daemon: python-evdev read loop, per-event Python rule (5 keystrokes, gaps ≤ 50 ms), pyusb to detach | no figure published | no figure published |"
    );
    println!();
    println!(
        "budget: CPU ≤ 0.5 % of a core, RSS ≤ 20 MiB: {}",
        if cpu <= 0.5 && after.peak_rss_kib <= 20 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("agent {stats}");
    Ok(())
}
