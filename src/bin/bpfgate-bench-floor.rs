//! Benchmark helper, never for production: the benchmark's floor. Attaches empty LSM programs on the hooks the
//! gate puts on the measured hot paths (bpf/floor.bpf.c) and holds them until standard input closes, so that
//! `make bench` can measure what any BPF LSM costs there, in the same boot as the gate and no gate at all. Then
//! prints each program's run count and total run time (kernel.bpf_stats_enabled=1) as `stat NAME RUN_CNT
//! RUN_TIME_NS`, as bpfgate-bench-hold does for the gate: the floor of each program's own cost.

use std::io::{Read, Write};
use std::process::ExitCode;

use bpfgate::load::lskel;
use libbpf_rs::query::{LinkInfo, ProgInfoIter};

mod names {
    include!(concat!(env!("OUT_DIR"), "/floor.lskel.rs"));
}

fn main() -> ExitCode {
    let api = bpfgate::lskel_api!("floor", "floor_lskel", names::MAPS, names::PROGS);
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
        let ids: Vec<(&str, u32)> = links
            .iter()
            .zip(&obj.progs)
            .filter_map(|(link, (name, _))| {
                LinkInfo::from_fd(std::os::fd::AsFd::as_fd(link))
                    .ok()
                    .map(|info| (*name, info.prog_id))
            })
            .collect();
        for prog in ProgInfoIter::default() {
            if let Some((name, _)) = ids.iter().find(|(_, id)| *id == prog.id) {
                let name = name.strip_prefix("floor_").unwrap_or(name);
                let _ = writeln!(out, "stat {name} {} {}", prog.run_cnt, prog.run_time_ns);
            }
        }
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
