//! The status stream read from the kernel's pinned iterator, and both reports made from it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(st) = bpfgate::inspect::status::parse(data) {
        let _ = st.text();
        let _ = st.json();
    }
});
