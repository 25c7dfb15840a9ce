//! Signature files given to `bpfgate enroll --sig`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if bpfgate::signing::verity::check_signature_blob(data).is_ok() {
        assert!(!data.is_empty() && data.len() <= bpfgate::signing::verity::SIG_MAX);
    }
});
