//! Benchmark helper, never for production: the baseline of the boot-cost benchmark. Loads one empty LSM program
//! (bpf/minimal.bpf.c) through a light skeleton, the way `bpfgate load` loads the gate (src/lskel.rs), attaches it,
//! pins the link at `/sys/fs/bpf/bpfgate-minload` (the caller removes the pin, which detaches it) and exits,
//! printing its peak memory as `minload peak_kib N`.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;

use bpfgate::lskel;

mod names {
    include!(concat!(env!("OUT_DIR"), "/minimal.lskel.rs"));
}

#[link(name = "minimal_lskel", kind = "static")]
unsafe extern "C" {
    fn minimal_lskel_open() -> *mut c_void;
    fn minimal_lskel_counts(maps: *mut c_uint, progs: *mut c_uint);
    fn minimal_lskel_load(
        s: *mut c_void,
        log_level: u32,
        log_buf: *mut c_char,
        log_size: u32,
    ) -> c_int;
    fn minimal_lskel_take_fds(s: *mut c_void, maps: *mut c_int, progs: *mut c_int);
    fn minimal_lskel_destroy(s: *mut c_void);
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
    let api = lskel::Api {
        open: minimal_lskel_open,
        counts: minimal_lskel_counts,
        load: minimal_lskel_load,
        take_fds: minimal_lskel_take_fds,
        destroy: minimal_lskel_destroy,
        maps: names::MAPS,
        progs: names::PROGS,
    };
    let obj = lskel::load(&api, &mut |_| {}).map_err(|e| format!("loading: {e}"))?;
    let prog = obj.prog("minimal_file_open").map_err(|e| e.to_string())?;
    let link = lskel::attach_lsm(prog, "attaching").map_err(|e| e.to_string())?;
    lskel::pin(link.as_fd(), Path::new(PIN)).map_err(|e| e.to_string())?;
    // VmHWM from /proc/self/status, as `bpfgate load` reports its own.
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}
