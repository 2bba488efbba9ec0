//! Fuzzes the agent's evdev reader: any bytes as a `/dev/input/eventN` stream through the `input_event`
//! decoder (split into two reads) and the keystroke/mouse assembler, and through the uevent parser
//! (`keyprint_agent::fuzzing::input_events`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| keyprint_agent::fuzzing::input_events(data));
