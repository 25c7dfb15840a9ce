//! The kernel command line as the embedded init (PID 1) parses it: never a panic, bounded warnings.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let c = bpfgate::boot::cmdline::parse(&String::from_utf8_lossy(data));
    assert!(c.root.as_ref().is_none_or(|r| r.len() <= bpfgate::boot::cmdline::VALUE_MAX));
});
