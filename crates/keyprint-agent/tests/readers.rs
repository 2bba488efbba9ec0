//! The readers the agent points at untrusted bytes — the evdev `input_event` decoder and assembler, the
//! uevent parser, the spool folder at start — fed random and mutated bytes (the cargo-fuzz targets'
//! bodies, `keyprint_agent::fuzzing`, on the stable toolchain).

use keyprint_agent::evdev::record;
use keyprint_agent::fuzzing::{input_events, spool_reader};
use keyprint_agent::uevent::{kernel_add_datagram, parse, udev_add_datagram};
use proptest::prelude::*;

fn recording() -> Vec<u8> {
    let keys = keyprint_agent::bench::human_keys("pack my box", 1_764_730_000_000_000);
    record(&keys, &[(1_764_730_000_500_000, 4, -3)])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn input_event_reader_takes_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        input_events(&data);
    }

    #[test]
    fn input_event_reader_takes_mutated_recordings(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12),
        cut in any::<usize>(),
    ) {
        let mut data = recording();
        for (at, b) in flips {
            let n = data.len();
            data[at % n] = b;
        }
        let n = data.len();
        data.truncate(cut % (n + 1));
        input_events(&data);
    }

    #[test]
    fn uevent_parser_takes_mutated_datagrams(
        udev in any::<bool>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        let mut d = if udev { udev_add_datagram("event7", 9) } else { kernel_add_datagram("event7", 9) };
        for (at, b) in flips {
            let n = d.len();
            d[at % n] = b;
        }
        let n = d.len();
        d.truncate(cut % (n + 1));
        let _ = parse(&d);
    }

    #[test]
    fn spool_reader_takes_any_folder(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        spool_reader(&data);
    }
}

#[test]
fn spool_reader_reads_real_batches() {
    let batch = br#"{"user":"alice","session":"s1","batch_seq":3,"records":[]}"#;
    let mut data = b"dropped_full=2 dropped_write=0 rejected=1".to_vec();
    data.push(0xff);
    data.extend_from_slice(batch);
    data.push(0xff);
    data.extend_from_slice(b"half a batch");
    spool_reader(&data);
    input_events(&recording());
}

/// An agent (edge, injection detector, spool) behind the reader, fed what a mutated recording decodes to:
/// timestamps that jump back (a `CLOCK_REALTIME` step), huge or zero gaps, unknown codes.
fn through_the_agent(data: &[u8]) {
    use keyprint_agent::agent::{Agent, Input};
    use keyprint_agent::evdev::{Assembler, Captured, Decoder};
    let d = tempfile::tempdir().unwrap();
    let cfg = keyprint_agent::config::Config::parse(
        &format!(
            "[sources]\n[upload]\n[spool]\ndir = {:?}\n[defence]\npolicy = \"monitor\"\n",
            d.path().join("spool")
        ),
        std::path::Path::new("t.toml"),
    )
    .unwrap()
    .validate()
    .unwrap();
    let spool = std::sync::Arc::new(std::sync::Mutex::new(
        keyprint_agent::spool::Spool::open(&cfg.spool.dir, cfg.spool.max_bytes).unwrap(),
    ));
    let mut a = Agent::new(
        cfg,
        "u",
        None,
        1,
        spool,
        Box::new(keyprint_agent::quarantine::CountingSink::default()),
        Box::new(|_| {}),
    );
    let info = keyprint_agent::x11::x11_source(9, "fuzz keyboard", true, true);
    a.handle(Input::Attach {
        info: info.clone(),
        at_us: 1_764_730_000_000_000,
        hotplug: true,
        grabbed: false,
    });
    let (mut dec, mut asm) = (Decoder::new("fuzz"), Assembler::new(1920.0, 1080.0));
    let (mut evs, mut out) = (Vec::new(), Vec::new());
    dec.push(data, &mut evs);
    for e in &evs {
        asm.push(e, &mut out);
    }
    for c in out {
        a.handle(match c {
            Captured::Key(key) => Input::Key {
                id: info.id.clone(),
                key,
            },
            Captured::Mouse(event) => Input::Mouse {
                id: info.id.clone(),
                event,
            },
        });
    }
    a.finish();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn agent_takes_whatever_the_reader_passes(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..16),
    ) {
        let mut data = recording();
        for (at, b) in flips {
            let n = data.len();
            data[at % n] = b;
        }
        through_the_agent(&data);
    }
}
