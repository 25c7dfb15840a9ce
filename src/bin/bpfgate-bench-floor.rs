//! Benchmark helper, never for production: the benchmark's floor. Attaches empty LSM programs on the hooks the
//! gate puts on the measured hot paths (bpf/floor.bpf.c) and holds them until standard input closes, so that
//! `make bench` can measure what any BPF LSM costs there, in the same boot as the gate and no gate at all.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::io::{Read, Write};
use std::process::ExitCode;

use bpfgate::lskel;

mod names {
    include!(concat!(env!("OUT_DIR"), "/floor.lskel.rs"));
}

#[link(name = "floor_lskel", kind = "static")]
unsafe extern "C" {
    fn floor_lskel_open() -> *mut c_void;
    fn floor_lskel_counts(maps: *mut c_uint, progs: *mut c_uint);
    fn floor_lskel_load(
        s: *mut c_void,
        log_level: u32,
        log_buf: *mut c_char,
        log_size: u32,
    ) -> c_int;
    fn floor_lskel_take_fds(s: *mut c_void, maps: *mut c_int, progs: *mut c_int);
    fn floor_lskel_destroy(s: *mut c_void);
}

fn main() -> ExitCode {
    let api = lskel::Api {
        open: floor_lskel_open,
        counts: floor_lskel_counts,
        load: floor_lskel_load,
        take_fds: floor_lskel_take_fds,
        destroy: floor_lskel_destroy,
        maps: names::MAPS,
        progs: names::PROGS,
    };
    let run = || -> Result<usize, bpfgate::error::Error> {
        let obj = lskel::load(&api, &mut |_| {})?;
        let mut links = Vec::new();
        for (name, prog) in &obj.progs {
            links.push(lskel::attach_lsm(std::os::fd::AsFd::as_fd(prog), name)?);
        }
        let mut out = std::io::stdout();
        let _ = writeln!(out, "attached {} programs", links.len());
        let _ = out.flush();
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        Ok(links.len())
    };
    match run() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bpfgate-bench-floor: {e}");
            ExitCode::FAILURE
        }
    }
}
