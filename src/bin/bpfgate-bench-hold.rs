//! Benchmark helper, never for production: attaches the gate's programs without pinning or protecting them and
//! holds them until standard input closes, so a benchmark can compare the gate attached and detached in one boot.
//! Then prints each program's run count and total run time (with kernel.bpf_stats_enabled=1) as
//! `stat NAME RUN_CNT RUN_TIME_NS`, detaches, and removes its keyring.

use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::process::ExitCode;

use bpfgate::error::Error;
use bpfgate::logging::{self, Sink};
use bpfgate::skel::certs::CERTS;
use bpfgate::{gate, keyring};
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

fn run() -> Result<(), Error> {
    let (features, keys) = gate::prepare(CERTS)?;
    let mut storage = MaybeUninit::uninit();
    // The default policy, as on a booted machine: what the benchmark measures is the gate's cost as shipped. The
    // benchmark runs from the initramfs, where the initramfs trust window would stay open for the whole boot (and
    // every untrusted task would pay the window's check); after a real boot it is closed.
    let policy = bpfgate::policy::Policy {
        initramfs_trusted: false,
        ..Default::default()
    };
    let held = match gate::attach(&mut storage, &features, &keys, &policy) {
        Ok(g) => g,
        Err(e) => {
            keyring::discard(keys.serial);
            return Err(e);
        }
    };
    let mut out = std::io::stdout();
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
    keyring::discard(keys.serial);
    Ok(())
}
