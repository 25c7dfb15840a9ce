//! Benchmark helper, never for production: the baseline of the boot-cost benchmark. Loads one empty LSM program
//! (bpf/minimal.bpf.c) with the same libbpf skeleton machinery as `bpfgate load`, attaches it, pins the link at
//! `/sys/fs/bpf/bpfgate-minload` (the caller removes the pin, which detaches it) and exits, printing its peak
//! memory as `minload peak_kib N`.

use std::mem::MaybeUninit;
use std::process::ExitCode;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};

/// Generated code (libbpf-cargo), linted as src/skel.rs is.
#[allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    non_camel_case_types,
    dead_code,
    unsafe_op_in_unsafe_fn
)]
mod minimal {
    include!(concat!(env!("OUT_DIR"), "/minimal.skel.rs"));
}

const PIN: &str = "/sys/fs/bpf/bpfgate-minload";

fn main() -> ExitCode {
    match run() {
        Ok(kib) => {
            println!("minload peak_kib {kib}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bpfgate-bench-minload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<u64, String> {
    let mut storage = MaybeUninit::uninit();
    let open = minimal::MinimalSkelBuilder::default()
        .open(&mut storage)
        .map_err(|e| format!("opening: {e}"))?;
    let skel = open.load().map_err(|e| format!("loading: {e}"))?;
    let mut link = skel
        .progs
        .minimal_file_open
        .attach_lsm()
        .map_err(|e| format!("attaching: {e}"))?;
    link.pin(PIN)
        .map_err(|e| format!("pinning at {PIN}: {e}"))?;
    // VmHWM from /proc/self/status, as `bpfgate load` reports its own.
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}
