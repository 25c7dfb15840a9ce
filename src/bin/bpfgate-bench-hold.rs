//! Benchmark helper, never for production: attaches the gate's programs without pinning or protecting them and
//! holds them until standard input closes, so a benchmark can compare the gate attached and detached in one boot.
//! Then prints each program's run count and total run time (with kernel.bpf_stats_enabled=1) as
//! `stat NAME RUN_CNT RUN_TIME_NS`, detaches, and removes its keyring. Also prints where its load went: `phase NAME
//! US` (open, load = the verifier, attach) and `verified NAME INSNS` (instructions the verifier walked).

use std::io::{Read, Write};
use std::process::ExitCode;

use bpfgate::error::Error;
use bpfgate::load::gate;
use bpfgate::load::skel::certs::CERTS;
use bpfgate::logging::{self, Sink};
use libbpf_rs::query::{LinkInfo, ProgInfoIter};

fn main() -> ExitCode {
    logging::init(Sink::Stderr, false);
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// CLOCK_BOOTTIME in ns: the clock of the kernel's `load_time` of each program.
fn boottime_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn run() -> Result<(), Error> {
    // The default policy, as on a booted machine: what the benchmark measures is the gate's cost as shipped. The
    // benchmark runs from the initramfs, where the initramfs trust window would stay open for the whole boot (and
    // every untrusted task would pay the window's check); after a real boot it is closed.
    // BPFGATE_BENCH_POLICY=FILE (tests/guest/bench.sh, BENCH_POLICY=profiles): that config over the defaults.
    let mut policy = bpfgate::policy::Policy {
        initramfs_trusted: false,
        ..Default::default()
    };
    if let Some(path) = std::env::var_os("BPFGATE_BENCH_POLICY") {
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::File(path.clone().into(), e))?;
        let mut w = bpfgate::policy::Warnings::default();
        policy.apply_config(&text, &path.to_string_lossy(), &mut w);
        if !w.is_empty() {
            return Err(Error::Status(format!("benchmark policy: {:?}", w.list)));
        }
    }
    let (features, keys) = gate::prepare(CERTS, &policy)?;
    let started = boottime_ns();
    let held = match gate::attach(&features, &keys, &policy) {
        Ok(g) => g,
        Err(e) => {
            keys.discard();
            return Err(e);
        }
    };
    let mut out = std::io::stdout();
    for (name, d) in held.phases {
        let _ = writeln!(out, "phase {name} {}", d.as_micros());
    }
    // The kernel's BPF_PROG_LOADs, in order: each program's load_time (end of its load) against the start.
    let load_started = started + held.phases[0].1.as_nanos();
    let mut loads: Vec<(u128, u32)> = ProgInfoIter::default()
        .filter(|p| p.load_time.as_nanos() >= load_started)
        .map(|p| (p.load_time.as_nanos(), p.id))
        .collect();
    loads.sort();
    if let Some(first) = loads.first() {
        let _ = writeln!(
            out,
            "phase before_first_prog {}",
            (first.0 - load_started) / 1000
        );
        let _ = writeln!(
            out,
            "phase prog_loads {} {}",
            (loads[loads.len() - 1].0 - first.0) / 1000,
            loads.len()
        );
    }
    let _ = writeln!(out, "attached {} programs", held.links.len());
    let _ = out.flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());

    let mut ids = Vec::new();
    for (name, link) in &held.links {
        if let Ok(info) = LinkInfo::from_fd(std::os::fd::AsFd::as_fd(link)) {
            ids.push((*name, info.prog_id));
        }
    }
    let mut seen = 0;
    for prog in ProgInfoIter::default() {
        seen += 1;
        if let Some((name, _)) = ids.iter().find(|(_, id)| *id == prog.id) {
            let _ = writeln!(out, "stat {name} {} {}", prog.run_cnt, prog.run_time_ns);
            let _ = writeln!(out, "verified {name} {}", prog.verified_insns);
        }
    }
    if ids.is_empty() || seen == 0 {
        let _ = writeln!(
            out,
            "no statistics: {} link ids, {seen} programs visible",
            ids.len()
        );
    }
    drop(held);
    keys.discard();
    Ok(())
}
