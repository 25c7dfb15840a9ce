//! ELF files as `bpfgate rollout` reads them (interpreter, DT_NEEDED, RPATH/RUNPATH): Ok or a reason, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bpfgate::inspect::libs::parse(data);
});
