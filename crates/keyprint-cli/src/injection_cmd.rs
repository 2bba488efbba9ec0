//! `keyprint simulate ducky` and `keyprint detect`: the command-line side of keystroke-injection detection
//! (the work is done by `keyprint-injection`; files are read and written with `keyprint-datasets::generic`).

use anyhow::Context;
use keyprint_core::event::{Origin, Stream};
use keyprint_datasets::generic::{key_events_to_jsonl, read_key_events};
use keyprint_injection::detector::{
    InjectionConfig, InjectionDetector, StreamDetector, run_stream,
};
use keyprint_injection::ducky;
use keyprint_injection::timing::{Timing, render};
use keyprint_injection::{DuckHunt, Ukip};
use std::path::PathBuf;

/// `keyprint simulate …`.
#[derive(clap::Subcommand)]
pub enum SimulateCmd {
    /// Render a DuckyScript payload as a generic key-event JSONL file (W3C codes, µs, attach at t = 0).
    Ducky(DuckyArgs),
}

/// Arguments of `keyprint simulate ducky`.
#[derive(clap::Args)]
pub struct DuckyArgs {
    /// The DuckyScript payload file.
    pub payload: PathBuf,
    /// Device timing model: `stock`, `jitter:MS` or `human` (see keyprint_injection::timing).
    #[arg(long, default_value = "stock", value_parser = parse_timing)]
    pub timing: Timing,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the random draws (the payload's RANDOM_* and $_RANDOM_INT, jitter, human timing).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device id written in every row.
    #[arg(long, default_value = "simulated-ducky")]
    pub device: String,
    /// The simulated target host: `$_OS` and the USB signals OS-detection extensions read
    /// (windows, macos, linux, chromeos, android, ios).
    #[arg(long, default_value = "windows", value_parser = parse_target_os)]
    pub target_os: ducky::TargetOs,
    /// Simulated answer time of every `WAIT_FOR_*` command (button press, lock-key change, storage), ms.
    #[arg(long, default_value_t = 1000)]
    pub wait_ms: u64,
    /// Largest number of interpreter steps (statements, loop rounds, expression nodes) before the run stops
    /// with a located error.
    #[arg(long, default_value_t = ducky::Limits::default().max_steps)]
    pub max_steps: u64,
    /// Largest simulated payload time before the run stops with a located error, ms.
    #[arg(long, default_value_t = ducky::Limits::default().max_time_ms)]
    pub max_time_ms: u64,
}

fn parse_target_os(s: &str) -> Result<ducky::TargetOs, String> {
    s.parse()
}

fn parse_timing(s: &str) -> Result<Timing, String> {
    s.parse()
}

/// `keyprint simulate ducky`: runs the payload (DuckyScript 3 or 1) on the simulated device and host, then
/// renders its keystrokes under the timing model.
///
/// # Errors
/// When the payload cannot be read or has errors (each printed with its file, line and column; a run that
/// exceeds a limit is one such error), or the output cannot be written.
pub fn simulate(cmd: &SimulateCmd) -> anyhow::Result<()> {
    let SimulateCmd::Ducky(a) = cmd;
    let text = std::fs::read_to_string(&a.payload)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.payload.display()))?;
    let options = ducky::Options {
        seed: a.seed,
        target_os: a.target_os,
        wait_ms: a.wait_ms,
        limits: ducky::Limits {
            max_steps: a.max_steps,
            max_time_ms: a.max_time_ms,
            ..ducky::Limits::default()
        },
    };
    let script = ducky::parse_with(&text, &options).map_err(|errs| {
        let lines: Vec<String> = errs
            .iter()
            .map(|e| format!("{}: {e}", a.payload.display()))
            .collect();
        anyhow::anyhow!("{} error(s):\n{}", errs.len(), lines.join("\n"))
    })?;
    let stream = Stream {
        origin: Origin {
            device: Some(a.device.clone()),
            ..Origin::default()
        },
        events: render(&script, a.timing, a.seed),
    };
    anyhow::ensure!(
        !stream.events.is_empty(),
        "{}: the payload types no keystroke",
        a.payload.display()
    );
    let jsonl = key_events_to_jsonl(&stream);
    match &a.out {
        Some(p) => {
            std::fs::write(p, jsonl).with_context(|| format!("writing {}", p.display()))?;
            eprintln!(
                "wrote {} key events ({} timing, seed {}) to {}",
                stream.events.len(),
                a.timing,
                a.seed,
                p.display()
            );
        }
        None => print!("{jsonl}"),
    }
    Ok(())
}

/// Arguments of `keyprint detect`.
#[derive(clap::Args)]
pub struct DetectArgs {
    /// A generic key-event file (JSONL, or CSV by extension), one stream per (tenant, user, session, device).
    pub file: PathBuf,
    /// Device ids allowed to type at machine speed (assistive macro software); repeatable.
    #[arg(long = "allow-device")]
    pub allow_device: Vec<String>,
    /// Time (µs, the file's clock) at which the device was attached, for the typing-after-attach rule.
    #[arg(long)]
    pub attached_us: Option<i64>,
}

fn origin_label(o: &Origin) -> String {
    let f = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
    format!(
        "tenant={} user={} session={} device={}",
        f(&o.tenant),
        f(&o.user),
        f(&o.session),
        f(&o.device)
    )
}

/// Exit status of `keyprint detect` when keyprint judged at least one stream injected.
pub const EXIT_INJECTION: i32 = 3;

/// `keyprint detect`: keyprint's detector, with UKIP and DuckHunt alongside, on every stream of the file.
/// Returns whether keyprint judged any stream injected (the binary then exits with [`EXIT_INJECTION`]).
///
/// # Errors
/// When the file cannot be read, or holds no usable key event.
pub fn detect(a: &DetectArgs) -> anyhow::Result<bool> {
    let loaded = read_key_events(&a.file)?;
    eprintln!("read {}: {}", a.file.display(), loaded.report.summary());
    for r in &loaded.report.rejected {
        eprintln!("  rejected {r}");
    }
    anyhow::ensure!(
        !loaded.data.is_empty(),
        "{}: no usable key event ({})",
        a.file.display(),
        loaded.report.summary()
    );
    let cfg = InjectionConfig {
        allowed_devices: a.allow_device.clone(),
        ..InjectionConfig::default()
    };
    let mut injected = 0;
    for s in &loaded.data {
        println!(
            "stream {} ({} key events)",
            origin_label(&s.origin),
            s.events.len()
        );
        let mut dets: Vec<Box<dyn StreamDetector>> = vec![
            Box::new(InjectionDetector::new(
                cfg.clone(),
                s.origin.device.as_deref(),
            )),
            Box::new(Ukip::default()),
            Box::new(DuckHunt::default()),
        ];
        for d in dets.iter_mut() {
            let (v, _) = run_stream(d.as_mut(), a.attached_us, &s.events, &[]);
            let name = d.name().to_string();
            match v {
                Some(v) => {
                    if name == "keyprint" {
                        injected += 1;
                    }
                    println!(
                        "  {name:<9} INJECTION  reason={} keystroke={} t_us={}  ({})",
                        v.reason, v.keystroke, v.t_us, v.detail
                    );
                }
                None => println!("  {name:<9} clean      score={:.3}", d.score()),
            }
        }
    }
    println!(
        "{} of {} streams judged injected by keyprint",
        injected,
        loaded.data.len()
    );
    Ok(injected > 0)
}
