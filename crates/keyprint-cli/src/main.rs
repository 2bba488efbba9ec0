//! `keyprint`: the command-line front door. Thin: parses flags and calls the library crates.

use clap::{Parser, Subcommand};

mod agent_cmd;
mod devices_cmd;
mod injection_cmd;
mod net_cmd;
mod service_cmds;

/// keyprint — continuous behavioral authentication (keystroke and mouse dynamics, injection detection).
#[derive(Parser)]
#[command(name = "keyprint", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a benchmark protocol on a public data set.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// The endpoint agent for Linux: capture (evdev, X11), injection defence, spool, upload.
    #[command(subcommand)]
    Agent(agent_cmd::AgentCmd),
    /// Simulate an attack device: render a DuckyScript payload as a generic key-event file.
    #[command(subcommand)]
    Simulate(injection_cmd::SimulateCmd),
    /// Run the keystroke-injection detector (and the UKIP / DuckHunt rules) over a generic key-event file.
    /// Exit status: 0 when every stream is clean, 3 when keyprint judged a stream injected, 1 on error.
    Detect(injection_cmd::DetectArgs),
    /// Serve the HTTP/JSON API: ingest, continuous trust scores, alerts.
    Serve(service_cmds::ServeArgs),
    /// Start a server on embedded storage and replay bundled real sessions through it.
    Demo(service_cmds::DemoArgs),
    /// List alerts (analyst view).
    Alerts(service_cmds::AlertsArgs),
    /// List sessions, or one session's trust history (analyst view).
    Sessions(service_cmds::SessionsArgs),
    /// List users and their enrolment (analyst view).
    Users(service_cmds::UsersArgs),
    /// Registered devices and their credentials: register, list, revoke, rotate (admin).
    #[command(subcommand)]
    Devices(devices_cmd::DevicesCmd),
    /// Review a user's enrolment: approve a held one, or reset it (admin).
    #[command(subcommand)]
    Enrolment(devices_cmd::EnrolmentCmd),
    /// Load-test the server on loopback (bounded): events/s, ingest-to-score latency.
    Loadtest(service_cmds::LoadArgs),
    /// Time to detect (ANIA/ANGA) by replaying the CMU benchmark through the service (`--aalto`: free text on
    /// Aalto; `--balabit`: mouse on Balabit).
    ReplayEval(service_cmds::ReplayEvalArgs),
    /// Device network-behavior profiling on Zeek logs: scan, learn baselines, watch live logs.
    #[command(subcommand)]
    Net(net_cmd::NetCmd),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// CMU keystroke benchmark (Killourhy & Maxion 2009), fixed text `.tie5Roanl`.
    Cmu(keyprint_bench::cmu::CmuArgs),
    /// Keystroke-injection detection: payload corpus × timing models vs CMU and Aalto humans, with baselines.
    Injection(keyprint_bench::injection::InjectionArgs),
    /// Aalto free-text benchmark (TypeNet protocol), plain and hashed key identities.
    Aalto(keyprint_bench::aalto::AaltoArgs),
    /// Balabit mouse-dynamics challenge: one-class and random-forest models, global AUC, ANIA/ANGA.
    Balabit(keyprint_bench::balabit::BalabitArgs),
    /// Privacy: letters and words an attacker reads back from what the server stores (old wire vs content-free).
    Privacy(keyprint_bench::privacy::PrivacyArgs),
    /// Network profiling on real Zeek captures: findings per capture, labelled precision/recall, throughput.
    Net(keyprint_bench::net::NetArgs),
}

/// Restores the default SIGPIPE action, so that `keyprint … | head` ends quietly like other Unix tools instead
/// of panicking on a closed stdout (Rust ignores SIGPIPE by default).
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid action for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The server keeps Rust's default (SIGPIPE ignored): a closed standard output must not end it.
    if !matches!(cli.cmd, Cmd::Serve(_)) {
        default_sigpipe();
    }
    match cli.cmd {
        Cmd::Bench(BenchCmd::Cmu(a)) => keyprint_bench::cmu::run(&a),
        Cmd::Bench(BenchCmd::Injection(a)) => keyprint_bench::injection::run(&a),
        Cmd::Simulate(c) => injection_cmd::simulate(&c),
        Cmd::Detect(a) => {
            if injection_cmd::detect(&a)? {
                std::process::exit(injection_cmd::EXIT_INJECTION);
            }
            Ok(())
        }
        Cmd::Bench(BenchCmd::Aalto(a)) => keyprint_bench::aalto::run(&a),
        Cmd::Bench(BenchCmd::Balabit(a)) => keyprint_bench::balabit::run(&a).map(|_| ()),
        Cmd::Bench(BenchCmd::Privacy(a)) => keyprint_bench::privacy::run(&a).map(|_| ()),
        Cmd::Bench(BenchCmd::Net(a)) => keyprint_bench::net::run(&a),
        Cmd::Agent(c) => agent_cmd::agent(&c),
        Cmd::Serve(a) => service_cmds::serve(&a),
        Cmd::Demo(a) => service_cmds::demo(&a),
        Cmd::Alerts(a) => service_cmds::alerts(&a),
        Cmd::Sessions(a) => service_cmds::sessions(&a),
        Cmd::Users(a) => service_cmds::users(&a),
        Cmd::Devices(c) => devices_cmd::devices(&c),
        Cmd::Enrolment(c) => devices_cmd::enrolment(&c),
        Cmd::Loadtest(a) => service_cmds::loadtest(&a),
        Cmd::ReplayEval(a) => service_cmds::replay_eval(&a),
        Cmd::Net(c) => {
            if net_cmd::run(&c)? {
                std::process::exit(net_cmd::EXIT_FOUND);
            }
            Ok(())
        }
    }
}
