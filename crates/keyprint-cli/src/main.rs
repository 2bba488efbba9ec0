//! `keyprint`: the command-line front door. Thin: parses flags and calls the library crates.

use clap::{Parser, Subcommand};

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
}

#[derive(Subcommand)]
enum BenchCmd {
    /// CMU keystroke benchmark (Killourhy & Maxion 2009), fixed text `.tie5Roanl`.
    Cmu(keyprint_bench::cmu::CmuArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Bench(BenchCmd::Cmu(a)) => keyprint_bench::cmu::run(&a),
    }
}
