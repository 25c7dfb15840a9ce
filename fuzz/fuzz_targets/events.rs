//! The event stream as `bpfgate log` reads it from the pinned iterator: never a panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = bpfgate::inspect::events::parse(data) {
        let mut out = String::new();
        bpfgate::inspect::events::print_since(&events, 0, false, &mut out);
        bpfgate::inspect::events::print_since(&events, 0, true, &mut out);
    }
});
