//! `keyprint bench aalto` without the rest of the CLI (same flags), for quick tuning runs:
//! `cargo run --release -p keyprint-bench --example aalto_dev -- --data $KEYPRINT_DATASETS --dev`.

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    aalto: keyprint_bench::aalto::AaltoArgs,
}

fn main() -> anyhow::Result<()> {
    keyprint_bench::aalto::run(&Args::parse().aalto)
}
