//! Benchmark helper, never for production: the baseline of the boot-cost benchmark. Loads one empty LSM program
//! (bpf/minimal.bpf.c) through a light skeleton, the way `bpfgate load` loads the gate (src/load/lskel.rs), attaches it,
//! pins the link at `/sys/fs/bpf/bpfgate-minload` (the caller removes the pin, which detaches it) and exits,
//! printing its peak memory as `minload peak_kib N`.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;

use bpfgate::load::lskel;

mod names {
    include!(concat!(env!("OUT_DIR"), "/minimal.lskel.rs"));
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
    let api = bpfgate::lskel_api!("minimal", "minimal_lskel", names::MAPS, names::PROGS);
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
