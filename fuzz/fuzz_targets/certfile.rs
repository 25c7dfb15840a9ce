//! Certificate files (BPFGATE_CERTS): PEM bundles or DER. Must return Ok or a reason, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = bpfgate::signing::certfile::parse("fuzz", data) {
        assert!(certs.iter().all(|(_, der)| der.first() == Some(&0x30)));
    }
});
