//! The command line: NUL-separated arguments.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = data.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned());
    let _ = bpfgate::cli::parse(args);
});
