//! Build script: compiles bpf/bpfgate.bpf.c into a libbpf skeleton and bakes the trust anchors named by
//! `BPFGATE_CERTS` (a `:`-separated list of X.509 certificates, PEM or DER) and the default policy named by
//! `BPFGATE_POLICY` (a config file, see docs/policy.md; checked here with the runtime's own parser) into the binary.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::exit;

use libbpf_cargo::SkeletonBuilder;

#[path = "src/certfile.rs"]
mod certfile;
// The policy parser itself, so that a baked policy with a mistake fails the build, not a boot.
#[allow(dead_code)]
#[path = "src/commands.rs"]
mod commands;
#[allow(dead_code)]
#[path = "src/policy.rs"]
mod policy;

const SRC: &str = "bpf/bpfgate.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for f in ["bpf/bpfgate.bpf.c", "bpf/bpfgate.h", "bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=BPFGATE_CERTS");
    println!("cargo:rerun-if-env-changed=BPFGATE_POLICY");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");

    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into());
    if let Err(e) = SkeletonBuilder::new()
        .source(SRC)
        .clang(&clang)
        .clang_args(["-Ibpf", "-Wall", "-Werror", "-Wno-unused-function"])
        .build_and_generate(out.join("bpfgate.skel.rs"))
    {
        fail(&format!(
            "building the BPF skeleton from {SRC} with {clang} failed: {e:#}\n\
             Install clang (apt-get install clang) or point BPF_CLANG at one."
        ));
    }

    // The boot-cost benchmark's baseline loader (src/bin/bpfgate-bench-minload.rs): one empty LSM program.
    println!("cargo:rerun-if-changed=bpf/minimal.bpf.c");
    if let Err(e) = SkeletonBuilder::new()
        .source("bpf/minimal.bpf.c")
        .clang(&clang)
        .clang_args(["-Ibpf", "-Wall", "-Werror"])
        .build_and_generate(out.join("minimal.skel.rs"))
    {
        fail(&format!(
            "building the benchmark's baseline skeleton from bpf/minimal.bpf.c failed: {e:#}"
        ));
    }

    let certs = match env::var("BPFGATE_CERTS") {
        Ok(list) => list
            .split(':')
            .filter(|p| !p.is_empty())
            .flat_map(|p| {
                println!("cargo:rerun-if-changed={p}");
                certfile::read(Path::new(p))
                    .unwrap_or_else(|e| fail(&format!("BPFGATE_CERTS: {p}: {e}")))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut src = String::from("/// Trust anchors baked in at build time: (source, DER).\npub static CERTS: &[(&str, &[u8])] = &[\n");
    for (name, der) in &certs {
        let _ = writeln!(src, "    ({name:?}, &{der:?}),");
    }
    src.push_str("];\n");
    fs::write(out.join("certs.rs"), src)
        .unwrap_or_else(|e| fail(&format!("writing certs.rs: {e}")));

    let baked = match env::var("BPFGATE_POLICY") {
        Ok(p) if !p.is_empty() => {
            println!("cargo:rerun-if-changed={p}");
            let text = fs::read_to_string(&p)
                .unwrap_or_else(|e| fail(&format!("BPFGATE_POLICY: {p}: {e}")));
            let (_, w) = policy::layered(&text, None, "");
            if !w.is_empty() {
                let list: Vec<&str> = w.list.iter().map(|m| m.as_str()).collect();
                fail(&format!(
                    "BPFGATE_POLICY: {p}: {}\nFix the file (see docs/policy.md) or unset BPFGATE_POLICY.",
                    list.join("\n")
                ));
            }
            text
        }
        _ => String::new(),
    };
    fs::write(
        out.join("policy.rs"),
        format!("/// The policy baked in at build time (BPFGATE_POLICY), in config syntax.\npub const BAKED: &str = {baked:?};\n"),
    )
    .unwrap_or_else(|e| fail(&format!("writing policy.rs: {e}")));
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    exit(1)
}
