//! The policy parser, over a config file and a kernel command line (split at the first NUL): never a panic, and
//! whatever it accepts renders back to the same policy.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (config, cmdline) = text.split_once('\0').unwrap_or((&text, ""));
    let (p, _) = bpfgate::policy::layered("", Some((config, "fuzz.conf")), cmdline);
    let (q, w) = bpfgate::policy::layered(&p.render(), None, "");
    assert!(w.is_empty(), "render produced warnings: {w:?}");
    assert_eq!(p, q);
});
