//! `keyprint bench net`: keyprint-net on the real Zeek captures of `network-logs/`.
//!
//! 1. **Per capture** (`slips/*`): every finding with its reasons, without and with intel files.
//! 2. **Labelled evaluation**, built from real logs and labelled by construction (deterministic: every
//!    choice is drawn from a splitmix64 generator seeded with `--seed`). For each mixed capture (`test9`,
//!    `test10`) as benign background — minus Slips' planted test rows (uid `Cscan…`), which part 1 shows —
//!    devices are ranked by connection count and, in the second half of the capture's time span, we merge:
//!    - the horizontal scan capture's `tcp/80` flows, re-timed and re-addressed to a device drawn among
//!      the three most active (bad pairs: that device × every host it contacted);
//!    - the vertical scan capture's flows to `45.33.32.156`, likewise (bad pair: device × that host);
//!    - a blocklisted domain (drawn from the non-onion domains of `blocklists/maltrail-alphav.txt`): a
//!      DNS lookup by the most active device to its usual resolver, answered with an address drawn from
//!      203.0.113.0/24, then three connections to that address copying the shape (protocol, port,
//!      service, state, duration, bytes) of one of the device's real TCP flows, with a TLS row carrying
//!      the domain as SNI when the port is 443 (bad pairs: device × domain, device × address);
//!    - a periodic beacon re-timed from a real TCP flow of a drawn device: 12 attempts to an address drawn
//!      from 198.51.100.0/24, period `clamp(span / 14, 10 s, 60 s)` with ±10 % uniform jitter, every
//!      fourth attempt failed (`S0`, no bytes) (bad pair: device × address).
//!
//!    A flagged pair is (device, host or name) for every target of every finding. Precision and recall
//!    are computed over pairs, without and with the intel file, and without and with a baseline learned
//!    on the first half of the background (then only the second half is scanned).
//! 3. **Beaconing, keyprint vs RITA** on the injected beacon of each scenario.
//! 4. **Throughput**: conn rows per second for parse + analyze (`scan`) beside a parse-only pass over
//!    the same files, in memory, repeated `--repeat` times.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use keyprint_net::beacon::{regularity, rita_score};
use keyprint_net::fs::read_dir;
use keyprint_net::zeek::{LogKind, parse_log};
use keyprint_net::{
    Analyzer, Baselines, Conn, Dns, Finding, IntelSet, Logs, Peer, Proto, Settings, Ssl,
};

/// Flags of `keyprint bench net`.
#[derive(clap::Args, Debug)]
pub struct NetArgs {
    /// The unpacked data sets (holding `network-logs/`), or `network-logs/` itself.
    #[arg(long, env = "KEYPRINT_DATASETS")]
    pub data: PathBuf,
    /// Seed of the labelled set's construction.
    #[arg(long, default_value_t = 13)]
    pub seed: u64,
    /// Repetitions of the throughput passes.
    #[arg(long, default_value_t = 300)]
    pub repeat: usize,
    /// Also write the labelled set: one folder per scenario with Zeek JSON logs (`conn.log`, `dns.log`,
    /// `ssl.log`, readable by `keyprint net scan`) and `labels.csv` (`device,peer,kind`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// splitmix64 (Steele, Lea & Flood 2014): small, seedable, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const CAPTURES: &[&str] = &[
    "port-scans/horizontal",
    "port-scans/vertical",
    "test13-malicious-dhcpscan-zeek-dir",
    "test9-mixed-zeek-dir",
    "test10-mixed-zeek-dir",
];

fn net_dir(data: &Path) -> PathBuf {
    let nested = data.join("network-logs");
    if nested.is_dir() {
        nested
    } else {
        data.to_path_buf()
    }
}

fn analyzer(intel: &IntelSet, baselines: Baselines) -> Analyzer {
    Analyzer::new(
        Settings::default().check().expect("defaults are valid"),
        intel.clone(),
        baselines,
    )
}

fn kinds(f: &Finding) -> String {
    f.reasons
        .iter()
        .map(|r| r.kind.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the benchmark and prints every table.
pub fn run(a: &NetArgs) -> anyhow::Result<()> {
    let dir = net_dir(&a.data);
    let slips = dir.join("slips");
    anyhow::ensure!(
        slips.is_dir(),
        "{}: no slips/ captures (unpack the data sets first)",
        dir.display()
    );
    let list_path = dir.join("blocklists/maltrail-alphav.txt");
    let list = std::fs::read(&list_path).with_context(|| list_path.display().to_string())?;
    // The evaluation's intel: the ransomware blocklist. Part 1 adds Zeek's btest example Intel file,
    // whose made-up indicators (upload.wikimedia.org, meta.wikimedia.org) test10's real traffic matches.
    let mut intel = IntelSet::new();
    intel.add_file("maltrail-alphav.txt", &list)?;
    let mut intel_all = intel.clone();
    let zeek_intel = dir.join("zeek-btest-baselines/intel-input-example.intel.dat");
    if let Ok(b) = std::fs::read(&zeek_intel) {
        intel_all.add_file("intel-input-example.intel.dat", &b)?;
    }
    println!(
        "intel: maltrail-alphav.txt ({} indicators); part 1 adds Zeek's btest intel-input-example.intel.dat ({} in all)\n",
        intel.len(),
        intel_all.len()
    );

    let captures = per_capture(&slips, &intel_all)?;
    let scenarios = build_scenarios(a, &captures, &list)?;
    evaluate(&scenarios, &intel);
    compare_beacons(&scenarios);
    throughput(&slips, &intel, a.repeat)
}

/// Part 1: every real capture, its findings with and without intel. Returns the captures' records.
fn per_capture(slips: &Path, intel_all: &IntelSet) -> anyhow::Result<Vec<(String, Logs)>> {
    // 1. Per capture.
    println!("== 1. Findings per real capture (no baseline; default settings) ==");
    let mut captures = Vec::new();
    for c in CAPTURES {
        let read = read_dir(&slips.join(c)).with_context(|| c.to_string())?;
        let (acc, rej, failed) = read.totals();
        let plain = analyzer(&IntelSet::new(), Baselines::default()).analyze(&read.logs);
        let with = analyzer(intel_all, Baselines::default()).analyze(&read.logs);
        println!(
            "{c}: {} conn, {} dns, {} ssl, {} dhcp rows ({acc} accepted, {rej} rejected, {failed} files failed); {} findings, {} with intel",
            read.logs.conn.len(),
            read.logs.dns.len(),
            read.logs.ssl.len(),
            read.logs.dhcp.len(),
            plain.findings.len(),
            with.findings.len()
        );
        for f in &with.findings {
            let detail = &f.reasons[0].detail;
            let short: String = detail.chars().take(110).collect();
            let only = if plain
                .findings
                .iter()
                .any(|p| p.device == f.device && p.peer == f.peer)
            {
                ""
            } else {
                " (intel only)"
            };
            println!(
                "    {:5.1} {} -> {}{only}  [{}] {}",
                f.score,
                f.device,
                f.peer,
                kinds(f),
                short
            );
        }
        captures.push((c.to_string(), read.logs));
    }

    Ok(captures)
}

/// Part 2a: builds (and prints, and with `--out` writes) the labelled scenarios.
fn build_scenarios(
    a: &NetArgs,
    captures: &[(String, Logs)],
    list: &[u8],
) -> anyhow::Result<Vec<Scenario>> {
    // 2. Labelled evaluation.
    println!("\n== 2. Labelled evaluation (seed {}) ==", a.seed);
    let horiz = &captures[0].1;
    let vert = &captures[1].1;
    let domains: Vec<String> = String::from_utf8_lossy(list)
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('#')
                && !l.ends_with(".onion")
                && !l.contains(['/', ':'])
        })
        .filter(|l| l.parse::<IpAddr>().is_err())
        .map(str::to_string)
        .collect();
    anyhow::ensure!(!domains.is_empty(), "no domain in the blocklist");
    let mut rng = Rng(a.seed);
    let mut scenarios = Vec::new();
    for (name, bg) in captures.iter().filter(|(n, _)| n.contains("mixed")) {
        scenarios.push(build(name, bg.clone(), horiz, vert, &domains, &mut rng)?);
    }
    for s in &scenarios {
        println!(
            "{}: background {} conn / {} dns rows ({} planted Slips rows removed); injected {} conn, {} dns, {} ssl rows; {} bad pairs",
            s.name,
            s.background_conn,
            s.background_dns,
            s.removed,
            s.injected.0,
            s.injected.1,
            s.injected.2,
            s.bad.len()
        );
        println!("    {}", s.notes.join("; "));
    }
    if let Some(out) = &a.out {
        for s in &scenarios {
            let d = out.join(&s.name);
            write_scenario(&d, s).with_context(|| d.display().to_string())?;
            println!("wrote {}", d.display());
        }
    }
    Ok(scenarios)
}

/// Part 2b: precision and recall of flagged pairs in the four configurations.
fn evaluate(scenarios: &[Scenario], intel: &IntelSet) {
    println!(
        "\n{:<26} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "configuration", "TP", "FP", "FN", "precision", "recall"
    );
    let empty = IntelSet::new();
    for (label, use_intel, use_base) in [
        ("no intel, no baseline", false, false),
        ("intel, no baseline", true, false),
        ("no intel, baseline", false, true),
        ("intel, baseline", true, true),
    ] {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        let mut fps = Vec::new();
        let mut fns = Vec::new();
        let mut per_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for s in scenarios {
            let (logs, base) = if use_base {
                (&s.second_half, Baselines::learn(&s.first_half))
            } else {
                (&s.all, Baselines::default())
            };
            let an = analyzer(if use_intel { intel } else { &empty }, base).analyze(logs);
            let flagged = flagged_pairs(&an.findings);
            tp += flagged.keys().filter(|p| s.bad.contains_key(*p)).count();
            for (p, why) in &flagged {
                if !s.bad.contains_key(p) {
                    fp += 1;
                    fps.push(format!("{}: {} -> {} [{}]", s.name, p.0, p.1, why));
                }
            }
            for (p, kind) in &s.bad {
                let e = per_kind.entry(*kind).or_insert((0, 0));
                e.1 += 1;
                if flagged.contains_key(p) {
                    e.0 += 1;
                } else {
                    fn_ += 1;
                    fns.push(format!("{}: {} -> {} ({kind})", s.name, p.0, p.1));
                }
            }
        }
        let prec = if tp + fp > 0 {
            tp as f64 / (tp + fp) as f64
        } else {
            f64::NAN
        };
        let rec = if tp + fn_ > 0 {
            tp as f64 / (tp + fn_) as f64
        } else {
            f64::NAN
        };
        let kinds_line: Vec<String> = per_kind
            .iter()
            .map(|(k, (f, n))| format!("{k} {f}/{n}"))
            .collect();
        println!(
            "{label:<26} {tp:>4} {fp:>4} {fn_:>4} {prec:>9.3} {rec:>7.3}   found: {}",
            kinds_line.join(", ")
        );
        for f in fps.iter().take(8) {
            println!("      false positive: {f}");
        }
        if fps.len() > 8 {
            println!("      … {} more false positives", fps.len() - 8);
        }
        for f in fns.iter().take(8) {
            println!("      missed: {f}");
        }
        if fns.len() > 8 {
            println!("      … {} more missed", fns.len() - 8);
        }
    }
}

/// Part 3: keyprint's statistic beside RITA's on each injected beacon.
fn compare_beacons(scenarios: &[Scenario]) {
    let empty = IntelSet::new();
    // 3. keyprint vs RITA on the injected beacons.
    println!("\n== 3. Beaconing: keyprint's rCV beside RITA's score, on the injected beacon ==");
    for s in scenarios {
        let an = analyzer(&empty, Baselines::default()).analyze(&s.all);
        let (dev, addr, port) = s.beacon;
        let Some(b) = an.beacons.iter().find(|b| b.device == dev && matches!(b.peer, Peer::Endpoint { addr: a, port: p, .. } if a == addr && p == port)) else {
            println!("{}: beacon series not found", s.name);
            continue;
        };
        let ts: Vec<f64> = s.beacon_ts.clone();
        let span = s.all.time_span().map_or(0.0, |(x, y)| y - x);
        let st = Settings::default();
        let first_k = (3..=ts.len()).find(|&k| {
            regularity(&ts[..k], st.beacon_merge_gap_s).is_some_and(|r| {
                r.events >= st.beacon_min_events
                    && r.rcv <= st.beacon_max_rcv
                    && r.median_interval_s >= st.beacon_min_interval_s
            })
        });
        let rita = b.rita.expect("12 attempts");
        let higher = an
            .beacons
            .iter()
            .filter(|o| o.rita.is_some_and(|r| r.score >= rita.score))
            .count()
            - 1;
        let rita6 = rita_score(&ts[..6], &[0.0; 6], span).map_or(f64::NAN, |r| r.score);
        println!(
            "{}: {} -> {}:{} period {:.0} s; keyprint rCV {:.3} over {} events, flagged after attempt {} ({:.0} s); RITA score {:.3} (ts {:.3}, ds {:.3}, duration {:.3}), {:.3} after 6 attempts; {} other series score ≥ it under RITA (of {})",
            s.name,
            dev,
            addr,
            port,
            s.beacon_period_s,
            b.regularity.map_or(f64::NAN, |r| r.rcv),
            b.regularity.map_or(0, |r| r.events),
            first_k.map_or("never".into(), |k| k.to_string()),
            first_k.map_or(f64::NAN, |k| ts[k - 1] - ts[0]),
            rita.score,
            rita.ts_score,
            rita.ds_score,
            rita.dur_score,
            rita6,
            higher,
            an.beacons.len() - 1
        );
    }
}

/// Part 4: conn rows per second, parse only and full scan, in memory.
fn throughput(slips: &Path, intel: &IntelSet, repeat: usize) -> anyhow::Result<()> {
    // 4. Throughput.
    println!("\n== 4. Throughput (in memory, {repeat} passes a round) ==");
    let mut files: Vec<(String, usize, Vec<u8>)> = Vec::new();
    for (i, c) in CAPTURES.iter().enumerate() {
        for e in std::fs::read_dir(slips.join(c))? {
            let p = e?.path();
            let name = p.to_string_lossy().into_owned();
            if !matches!(LogKind::from_name(&name), LogKind::Other(_)) {
                files.push((name, i, std::fs::read(&p)?));
            }
        }
    }
    let an = analyzer(intel, Baselines::default());
    let parse_pass = || {
        let mut rows = 0usize;
        for (name, _, b) in &files {
            rows += parse_log(name, b).map_or(0, |p| p.logs.conn.len());
        }
        rows
    };
    let scan_pass = || {
        let (mut rows, mut found) = (0usize, 0usize);
        for i in 0..CAPTURES.len() {
            let mut logs = Logs::default();
            for (name, _, b) in files.iter().filter(|f| f.1 == i) {
                if let Ok(p) = parse_log(name, b) {
                    logs.extend(p.logs);
                }
            }
            rows += logs.conn.len();
            found += an.analyze(&logs).findings.len();
        }
        (rows, found)
    };
    // One untimed pass of each (caches, allocator), then three timed rounds; the best round is kept,
    // as the machine is shared.
    let (rows, (_, found)) = (parse_pass(), scan_pass());
    let (mut parse_s, mut scan_s) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..repeat {
            std::hint::black_box(parse_pass());
        }
        parse_s = parse_s.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for _ in 0..repeat {
            std::hint::black_box(scan_pass());
        }
        scan_s = scan_s.min(t.elapsed().as_secs_f64());
    }
    let total = (rows * repeat) as f64;
    println!(
        "parse only : {} conn rows in {parse_s:.3} s = {:.0} conn rows/s (best of 3 rounds)",
        rows * repeat,
        total / parse_s
    );
    println!(
        "scan       : {} conn rows in {scan_s:.3} s = {:.0} conn rows/s (parse + all rules + intel; {found} findings per pass; best of 3 rounds)",
        rows * repeat,
        total / scan_s
    );
    Ok(())
}

/// (device, host-or-name) pairs of findings, with the reasons that flagged each.
fn flagged_pairs(findings: &[Finding]) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for f in findings {
        let mut hosts: BTreeSet<String> = f.targets.iter().cloned().collect();
        match &f.peer {
            Peer::Endpoint { addr, .. } | Peer::Host(addr) => {
                hosts.insert(addr.to_string());
            }
            Peer::Name(n) => {
                hosts.insert(n.clone());
            }
            Peer::Port { .. } => {}
        }
        for h in hosts {
            out.entry((f.device.to_string(), h))
                .or_insert_with(|| kinds(f));
        }
    }
    out
}

struct Scenario {
    name: String,
    all: Logs,
    first_half: Logs,
    second_half: Logs,
    /// Bad pairs and what was injected there (`horizontal`, `vertical`, `blocklisted`, `beacon`).
    bad: BTreeMap<(String, String), &'static str>,
    background_conn: usize,
    background_dns: usize,
    removed: usize,
    injected: (usize, usize, usize),
    beacon: (IpAddr, IpAddr, u16),
    beacon_ts: Vec<f64>,
    beacon_period_s: f64,
    notes: Vec<String>,
}

fn build(
    name: &str,
    mut bg: Logs,
    horiz: &Logs,
    vert: &Logs,
    domains: &[String],
    rng: &mut Rng,
) -> anyhow::Result<Scenario> {
    let before = bg.conn.len();
    bg.conn.retain(|c| !c.uid.starts_with("Cscan"));
    let removed = before - bg.conn.len();
    let (t0, t1) = bg.time_span().unwrap_or((0.0, 1.0));
    let span = (t1 - t0).max(1.0);
    let mid = t0 + span / 2.0;
    let mut counts: HashMap<IpAddr, usize> = HashMap::new();
    for c in &bg.conn {
        *counts.entry(c.orig_h).or_default() += 1;
    }
    let mut devices: Vec<(usize, IpAddr)> = counts
        .into_iter()
        .filter(|(a, n)| *n >= 3 && !a.is_unspecified() && !is_link_local(*a))
        .map(|(a, n)| (n, a))
        .collect();
    devices.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let top: Vec<IpAddr> = devices.iter().take(3).map(|d| d.1).collect();
    anyhow::ensure!(
        !top.is_empty(),
        "{name}: no device with 3 or more connections to build on"
    );
    let victim = top[0];
    let pick = |rng: &mut Rng| top[rng.below(top.len())];
    let mut inj = Logs::default();
    let mut bad = BTreeMap::new();
    let mut notes = Vec::new();

    // Horizontal scan flows.
    let scanner = pick(rng);
    let h: Vec<&Conn> = horiz
        .conn
        .iter()
        .filter(|c| c.proto == Proto::Tcp && c.resp_p == 80)
        .collect();
    let h0 = h.iter().map(|c| c.ts).fold(f64::INFINITY, f64::min);
    let shift = mid + rng.uniform() * span * 0.25 - h0;
    for (k, c) in h.iter().enumerate() {
        let mut c = (*c).clone();
        c.ts += shift;
        c.orig_h = scanner;
        c.uid = format!("KPH{k}");
        bad.insert((scanner.to_string(), c.resp_h.to_string()), "horizontal");
        inj.conn.push(c);
    }
    notes.push(format!(
        "horizontal scan from {scanner} ({} flows)",
        h.len()
    ));

    // Vertical scan flows.
    let vscanner = pick(rng);
    let target: IpAddr = Ipv4Addr::new(45, 33, 32, 156).into();
    let v: Vec<&Conn> = vert.conn.iter().filter(|c| c.resp_h == target).collect();
    let v0 = v.iter().map(|c| c.ts).fold(f64::INFINITY, f64::min);
    let shift = mid + rng.uniform() * span * 0.25 - v0;
    for (k, c) in v.iter().enumerate() {
        let mut c = (*c).clone();
        c.ts += shift;
        c.orig_h = vscanner;
        c.uid = format!("KPV{k}");
        inj.conn.push(c);
    }
    bad.insert((vscanner.to_string(), target.to_string()), "vertical");
    notes.push(format!("vertical scan from {vscanner} ({} flows)", v.len()));

    // A blocklisted domain: lookup and connections shaped like one of the victim's real flows.
    let domain = domains[rng.below(domains.len())].clone();
    let addr: IpAddr = Ipv4Addr::new(203, 0, 113, 1 + rng.below(250) as u8).into();
    let mut resolvers: HashMap<IpAddr, usize> = HashMap::new();
    for d in bg
        .dns
        .iter()
        .filter(|d| d.orig_h == victim && d.resp_p == 53)
    {
        *resolvers.entry(d.resp_h).or_default() += 1;
    }
    let resolver = resolvers
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or_else(
            || {
                bg.dns
                    .first()
                    .map_or(Ipv4Addr::new(192, 0, 2, 53).into(), |d| d.resp_h)
            },
            |r| r.0,
        );
    let shapes: Vec<&Conn> = bg
        .conn
        .iter()
        .filter(|c| c.orig_h == victim && c.proto == Proto::Tcp && c.orig_bytes.unwrap_or(0) > 0)
        .collect();
    anyhow::ensure!(
        !shapes.is_empty(),
        "{name}: device {victim} has no TCP flow with payload to copy"
    );
    let shape = shapes[rng.below(shapes.len())].clone();
    let t = mid + rng.uniform() * span * 0.4;
    inj.dns.push(Dns {
        ts: t,
        uid: "KPD0".into(),
        orig_h: victim,
        resp_h: resolver,
        resp_p: 53,
        query: Some(domain.clone()),
        qtype_name: Some("A".into()),
        rcode_name: Some("NOERROR".into()),
        answers: vec![addr.to_string()],
    });
    for k in 0..3 {
        let mut c = shape.clone();
        c.ts = t + 0.2 + span * 0.1 * k as f64;
        c.resp_h = addr;
        c.uid = format!("KPB{k}");
        if c.resp_p == 443 {
            inj.ssl.push(Ssl {
                ts: c.ts + 0.01,
                uid: c.uid.clone(),
                orig_h: victim,
                resp_h: addr,
                resp_p: 443,
                server_name: Some(domain.clone()),
            });
        }
        inj.conn.push(c);
    }
    bad.insert((victim.to_string(), domain.clone()), "blocklisted");
    bad.insert((victim.to_string(), addr.to_string()), "blocklisted");
    notes.push(format!("{victim} looks up {domain} via {resolver} -> {addr}, 3 connections shaped like {}:{} ({} B out)",
        shape.resp_h, shape.resp_p, shape.orig_bytes.unwrap_or(0)));

    // A beacon re-timed from one real flow.
    let bdev = pick(rng);
    let bshapes: Vec<&Conn> = bg
        .conn
        .iter()
        .filter(|c| c.orig_h == bdev && c.proto == Proto::Tcp)
        .collect();
    let bshapes = if bshapes.is_empty() {
        shapes.clone()
    } else {
        bshapes
    };
    let bshape = bshapes[rng.below(bshapes.len())].clone();
    let baddr: IpAddr = Ipv4Addr::new(198, 51, 100, 1 + rng.below(250) as u8).into();
    let period = (span / 14.0).clamp(10.0, 60.0);
    let start = mid + rng.uniform() * span * 0.05;
    let mut beacon_ts = Vec::new();
    for k in 0..12 {
        let mut c = bshape.clone();
        c.orig_h = bdev;
        c.resp_h = baddr;
        c.ts = start + period * (k as f64 + 0.2 * rng.uniform() - 0.1);
        c.uid = format!("KPC{k}");
        if k % 4 == 3 {
            c.conn_state = Some("S0".into());
            c.orig_bytes = Some(0);
            c.resp_bytes = Some(0);
            c.resp_pkts = Some(0);
            c.duration_s = None;
        }
        beacon_ts.push(c.ts);
        inj.conn.push(c);
    }
    bad.insert((bdev.to_string(), baddr.to_string()), "beacon");
    notes.push(format!(
        "beacon {bdev} -> {baddr}:{} every {period:.0} s ±10 %, 12 attempts, 3 failed",
        bshape.resp_p
    ));

    let injected = (inj.conn.len(), inj.dns.len(), inj.ssl.len());
    let mut first_half = bg.clone();
    first_half.retain_time(f64::NEG_INFINITY, mid);
    let mut second_half = bg.clone();
    second_half.retain_time(mid, f64::INFINITY);
    second_half.extend(inj.clone());
    let background_conn = bg.conn.len();
    let background_dns = bg.dns.len();
    let mut all = bg;
    all.extend(inj);
    Ok(Scenario {
        name: name.to_string(),
        all,
        first_half,
        second_half,
        bad,
        background_conn,
        background_dns,
        removed,
        injected,
        beacon: (bdev, baddr, bshape.resp_p),
        beacon_ts,
        beacon_period_s: period,
        notes,
    })
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_link_local(),
        IpAddr::V6(v) => (v.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Writes a scenario's merged logs as Zeek JSON (field names as Zeek writes them) and its labels.
fn write_scenario(dir: &Path, s: &Scenario) -> anyhow::Result<()> {
    use serde_json::json;
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir)?;
    let mut conn = String::new();
    for c in &s.all.conn {
        let v = json!({
            "ts": c.ts, "uid": c.uid, "id.orig_h": c.orig_h.to_string(), "id.orig_p": c.orig_p,
            "id.resp_h": c.resp_h.to_string(), "id.resp_p": c.resp_p, "proto": c.proto.as_str(),
            "service": c.service, "duration": c.duration_s, "orig_bytes": c.orig_bytes,
            "resp_bytes": c.resp_bytes, "conn_state": c.conn_state, "resp_pkts": c.resp_pkts,
        });
        writeln!(conn, "{v}")?;
    }
    let mut dns = String::new();
    for d in &s.all.dns {
        let v = json!({
            "ts": d.ts, "uid": d.uid, "id.orig_h": d.orig_h.to_string(), "id.resp_h": d.resp_h.to_string(),
            "id.resp_p": d.resp_p, "query": d.query, "qtype_name": d.qtype_name, "rcode_name": d.rcode_name,
            "answers": d.answers,
        });
        writeln!(dns, "{v}")?;
    }
    let mut ssl = String::new();
    for x in &s.all.ssl {
        let v = json!({
            "ts": x.ts, "uid": x.uid, "id.orig_h": x.orig_h.to_string(), "id.resp_h": x.resp_h.to_string(),
            "id.resp_p": x.resp_p, "server_name": x.server_name,
        });
        writeln!(ssl, "{v}")?;
    }
    let mut labels = String::from("device,peer,kind\n");
    for ((dev, peer), kind) in &s.bad {
        writeln!(labels, "{dev},{peer},{kind}")?;
    }
    std::fs::write(dir.join("conn.log"), conn)?;
    std::fs::write(dir.join("dns.log"), dns)?;
    if !ssl.is_empty() {
        std::fs::write(dir.join("ssl.log"), ssl)?;
    }
    std::fs::write(dir.join("labels.csv"), labels)?;
    Ok(())
}
