//! Build script: compiles bpf/*.bpf.c and links them into one object (the skeletons and the program list are made
//! from it), and bakes the trust anchors named by `BPFGATE_CERTS` (a `:`-separated list of X.509 certificates, PEM
//! or DER) and the default policy named by `BPFGATE_POLICY` (a config file, see docs/policy.md; checked here with the
//! runtime's own parser) into the binary.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::exit;

use libbpf_cargo::SkeletonBuilder;

#[path = "src/signing/certfile.rs"]
mod certfile;
#[allow(dead_code)]
#[path = "src/signing/der.rs"]
mod der;
// The policy parser itself, so that a baked policy with a mistake fails the build, not a boot.
use bpfgate_policy::policy;

/// The gate's BPF side, one concern a file (bpf/gate.h says what they share). bpfgate.bpf.c defines the maps and
/// the config; the others declare them. Linked in this order into one object, the one the skeletons are made of.
const SOURCES: &[&str] = &[
    "bpfgate", "trust", "bpfcmd", "attach", "protect", "kernel", "status",
];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for f in ["bpf/gate.h", "bpf/bpfgate.h", "bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=BPFGATE_CERTS");
    println!("cargo:rerun-if-env-changed=BPFGATE_POLICY");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");

    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into());
    let objs = out.join("bpf");
    fs::create_dir_all(&objs)
        .unwrap_or_else(|e| fail(&format!("creating {}: {e}", objs.display())));
    let linked = out.join("bpfgate.bpf.o");
    let _ = fs::remove_file(&linked);
    let mut linker = libbpf_rs::Linker::new(&linked)
        .unwrap_or_else(|e| fail(&format!("starting the BPF linker: {e}")));
    for name in SOURCES {
        let src = format!("bpf/{name}.bpf.c");
        let obj = objs.join(format!("{name}.o"));
        println!("cargo:rerun-if-changed={src}");
        if let Err(e) = SkeletonBuilder::new()
            .source(&src)
            .obj(&obj)
            .clang(&clang)
            .clang_args(["-Ibpf", "-Wall", "-Werror", "-Wno-unused-function"])
            .build()
        {
            fail(&format!(
                "compiling {src} with {clang} failed: {e:#}\n\
                 Install clang (apt-get install clang) or point BPF_CLANG at one."
            ));
        }
        linker
            .add_file(&obj)
            .unwrap_or_else(|e| fail(&format!("linking {src}: {e}")));
    }
    linker
        .link()
        .unwrap_or_else(|e| fail(&format!("linking the gate's BPF objects: {e}")));
    if let Err(e) = SkeletonBuilder::new()
        .obj(&linked)
        .generate(out.join("bpfgate.skel.rs"))
    {
        fail(&format!(
            "generating the skeleton of the linked object: {e:#}"
        ));
    }
    programs(&linked, &out.join("programs.rs"));
    header_strings(&out.join("xattr.rs"));

    // The benchmark's baselines, with the `bench` feature only: the boot cost's loader of one empty LSM program
    // (src/bin/bpfgate-bench-minload.rs), and the floor, empty programs on the gate's hot hooks
    // (src/bin/bpfgate-bench-floor.rs).
    let bench: &[&str] = if env::var_os("CARGO_FEATURE_BENCH").is_some() {
        &["minimal", "floor"]
    } else {
        &[]
    };
    for name in bench {
        let src = format!("bpf/{name}.bpf.c");
        println!("cargo:rerun-if-changed={src}");
        if let Err(e) = SkeletonBuilder::new()
            .source(&src)
            .obj(out.join(format!("{name}.bpf.o")))
            .clang(&clang)
            .clang_args(["-Ibpf", "-Wall", "-Werror"])
            .build()
        {
            fail(&format!(
                "building the benchmark object {src} failed: {e:#}"
            ));
        }
    }

    // The loaders: light skeletons of every object, and the C shim that runs them (src/load/lskel/).
    for f in [
        "src/load/lskel/shim.c",
        "src/load/lskel/bpf/skel_internal.h",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=BPFTOOL");
    println!("cargo:rerun-if-env-changed=CC");
    light_skeleton(&out, "bpfgate", true);
    for name in bench {
        light_skeleton(&out, name, false);
    }

    let certs = match env::var("BPFGATE_CERTS") {
        Ok(list) => list
            .split(':')
            .filter(|p| !p.is_empty())
            .flat_map(|p| {
                println!("cargo:rerun-if-changed={p}");
                let certs = certfile::read(Path::new(p))
                    .unwrap_or_else(|e| fail(&format!("BPFGATE_CERTS: {p}: {e}")));
                for (name, der) in &certs {
                    check_certificate(name, der);
                }
                certs
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

/// The signature xattr names, from their one definition in bpf/bpfgate.h (C strings are no enum the skeleton's types
/// could carry): `pub const XATTR_SECURITY`/`XATTR_USER` as `&CStr`.
fn header_strings(dest: &Path) {
    let header = fs::read_to_string("bpf/bpfgate.h")
        .unwrap_or_else(|e| fail(&format!("reading bpf/bpfgate.h: {e}")));
    let mut src = String::from("/// Signature xattr names, in the order the gate reads them (bpf/bpfgate.h, by build.rs).\n");
    for name in ["XATTR_SECURITY", "XATTR_USER"] {
        let define = format!("#define BPFGATE_{name} ");
        let value = header
            .lines()
            .find_map(|l| l.strip_prefix(define.as_str()))
            .map(str::trim)
            .and_then(|v| v.strip_prefix('"')?.strip_suffix('"'))
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| fail(&format!("bpf/bpfgate.h: no `{define}\"name\"` line")));
        let _ = writeln!(src, "pub const {name}: &core::ffi::CStr = c{value:?};");
    }
    fs::write(dest, src).unwrap_or_else(|e| fail(&format!("writing {}: {e}", dest.display())));
}

/// `bpftool gen skeleton -L` of OUT/NAME.bpf.o (offline: it generates the loader program, it loads nothing), the
/// map and program names in the skeleton's order as NAME.lskel.rs, and libNAME_lskel.a from src/load/lskel/shim.c.
fn light_skeleton(out: &Path, name: &str, has_cfg: bool) {
    // Debian installs bpftool in /usr/sbin, which is not on a normal user's PATH.
    let bpftool = env::var("BPFTOOL").unwrap_or_else(|_| {
        if Path::new("/usr/sbin/bpftool").exists() {
            "/usr/sbin/bpftool".into()
        } else {
            "bpftool".into()
        }
    });
    let header = out.join(format!("{name}.lskel.h"));
    let gen = std::process::Command::new(&bpftool)
        .args(["gen", "skeleton", "-L"])
        .arg(out.join(format!("{name}.bpf.o")))
        .args(["name", name])
        .output()
        .unwrap_or_else(|e| {
            fail(&format!(
                "running {bpftool} (gen skeleton -L): {e}
Install bpftool (apt-get install bpftool) or point BPFTOOL at one."
            ))
        });
    if !gen.status.success() {
        fail(&format!(
            "{bpftool} gen skeleton -L {name}.bpf.o failed: {}",
            String::from_utf8_lossy(&gen.stderr)
        ));
    }
    let skeleton = String::from_utf8_lossy(&gen.stdout);
    fs::write(&header, cleanup_in_frame(&skeleton))
        .unwrap_or_else(|e| fail(&format!("writing {}: {e}", header.display())));

    // The names, from the skeleton's `struct bpf_map_desc NAME;` and `struct bpf_prog_desc NAME;` members.
    let text = String::from_utf8_lossy(&gen.stdout);
    let names = |kind: &str| -> Vec<String> {
        text.lines()
            .take_while(|l| !l.starts_with("};"))
            .filter_map(|l| l.trim().strip_prefix(kind))
            .map(|n| n.trim().trim_end_matches(';').to_string())
            .collect()
    };
    let (maps, progs) = (
        names("struct bpf_map_desc "),
        names("struct bpf_prog_desc "),
    );
    if progs.is_empty() {
        fail(&format!(
            "{bpftool} made a light skeleton of {name} without programs"
        ));
    }
    fs::write(
        out.join(format!("{name}.lskel.rs")),
        format!(
            "/// Maps of the light skeleton, in its order.\npub const MAPS: &[&str] = &{maps:?};\n\
             /// Programs of the light skeleton, in its order.\npub const PROGS: &[&str] = &{progs:?};\n"
        ),
    )
    .unwrap_or_else(|e| fail(&format!("writing {name}.lskel.rs: {e}")));

    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let obj = out.join(format!("{name}_shim.o"));
    let mut cmd = std::process::Command::new(&cc);
    cmd.args(["-c", "-O2", "-Wall", "-Werror", "-fno-strict-aliasing"])
        .arg(format!("-DSKEL={name}"))
        .arg(format!("-DSKEL_HEADER=\"{name}.lskel.h\""))
        .arg("-Ibpf")
        .arg("-Isrc/load/lskel")
        .arg(format!("-I{}", out.display()))
        .arg("src/load/lskel/shim.c")
        .arg("-o")
        .arg(&obj);
    if has_cfg {
        cmd.arg("-DSKEL_HAS_CFG");
    }
    if maps.is_empty() {
        cmd.arg("-DSKEL_NO_MAPS");
    }
    let status = cmd.status().unwrap_or_else(|e| {
        fail(&format!(
            "running {cc}: {e}\nInstall a C compiler (apt-get install gcc)."
        ))
    });
    if !status.success() {
        fail(&format!(
            "compiling src/load/lskel/shim.c for {name} with {cc} failed"
        ));
    }
    let lib = out.join(format!("lib{name}_lskel.a"));
    let _ = fs::remove_file(&lib);
    let status = std::process::Command::new(env::var("AR").unwrap_or_else(|_| "ar".into()))
        .arg("rcs")
        .arg(&lib)
        .arg(&obj)
        .status()
        .unwrap_or_else(|e| fail(&format!("running ar: {e}")));
    if !status.success() {
        fail(&format!("archiving {}", lib.display()));
    }
    println!("cargo:rustc-link-search=native={}", out.display());
}

/// The skeleton with its loader program's cleanup kept inside the loader's stack frame. libbpf's loader generator
/// (gen_loader.c, libbpf 1.1 to 1.7) keeps the fds of at most 32 programs (MAX_USED_PROGS) in its frame but sizes
/// its cleanup loop, which closes them on failure, by every program of the object, global subprograms included,
/// although those are never loaded on their own. The gate has 31 programs and two global functions (record,
/// trust_of): the loop's last reads fall outside the frame and the kernel refuses the loader ("invalid read from
/// stack R10 off=0"). Each such read (`r1 = *(u32 *)(r10 + off)`, off >= 0) opens a three-instruction step
/// (read, `if r1 s<= 0 goto +1`, `call sys_close`) for a slot no program fd is ever stored in: the step becomes three
/// `goto +0`, so that no jump offset changes. Anything else at such a read fails the build.
fn cleanup_in_frame(skeleton: &str) -> String {
    const START: &str = "opts.insns = (void *)\"\\\n";
    let Some(at) = skeleton.find(START) else {
        fail("the light skeleton has no `opts.insns = (void *)\"` line (bpftool changed its output?)")
    };
    let body = at + START.len();
    let Some(len) = skeleton[body..].find("\";") else {
        fail("the light skeleton's loader instructions do not end with `\";`")
    };
    let text = skeleton[body..body + len].replace("\\\n", "");
    // bpftool writes each byte as \0 or \xHH.
    let mut insns = Vec::with_capacity(text.len() / 3);
    let mut rest = text.as_str();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("\\0") {
            insns.push(0u8);
            rest = r;
        } else if let Some(byte) = rest
            .strip_prefix("\\x")
            .and_then(|r| r.get(..2))
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            insns.push(byte);
            rest = &rest[4..];
        } else {
            fail("the light skeleton's loader instructions are not \\0/\\xHH escapes (bpftool changed its output?)")
        }
    }
    if insns.len() % 8 != 0 {
        fail("the light skeleton's loader instructions are not whole 8-byte instructions");
    }
    const GOTO_0: [u8; 8] = [0x05, 0, 0, 0, 0, 0, 0, 0];
    let mut patched = 0;
    let mut i = 0;
    while i + 8 <= insns.len() {
        let insn = &insns[i..i + 8];
        // BPF_LDX | BPF_MEM | BPF_W, dst r1, src r10 (frame pointer), off >= 0: above the frame.
        if insn[0] == 0x61 && insn[1] == 0xa1 && i16::from_le_bytes([insn[2], insn[3]]) >= 0 {
            let step = insns.get(i + 8..i + 24);
            // `if r1 s<= 0 goto +1` (BPF_JMP | BPF_JSLE | BPF_K), then a helper call.
            let ok = step.is_some_and(|s| s[0] == 0xd5 && s[1] == 0x01 && s[2..4] == [1, 0] && s[8] == 0x85);
            if !ok {
                fail("the light skeleton's loader reads above its stack frame outside its cleanup loop");
            }
            for k in 0..3 {
                insns[i + 8 * k..i + 8 * k + 8].copy_from_slice(&GOTO_0);
            }
            patched += 1;
            i += 24;
            continue;
        }
        i += 8;
    }
    if patched == 0 {
        return skeleton.to_string();
    }
    let mut out = String::with_capacity(skeleton.len());
    out.push_str(&skeleton[..body]);
    for (n, b) in insns.iter().enumerate() {
        if n > 0 && n % 19 == 0 {
            out.push_str("\\\n");
        }
        if *b == 0 {
            out.push_str("\\0");
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push_str(&skeleton[body + len..]);
    out
}

/// The gate's programs as the linked object has them, in its order: (pin name, program, section), the one list
/// the loader attaches and `doctor` checks. The pin is the program's name without its `gate_` prefix.
fn programs(obj: &Path, dest: &Path) {
    let open = libbpf_rs::ObjectBuilder::default()
        .open_file(obj)
        .unwrap_or_else(|e| fail(&format!("opening {}: {e}", obj.display())));
    let mut src = String::from(
        "/// The gate's programs, from the linked object: (pin name, program, ELF section), in link order.\n\
         pub const PROGRAMS: &[(&str, &str, &str)] = &[\n",
    );
    for prog in open.progs() {
        let name = prog.name().to_string_lossy().into_owned();
        let section = prog.section().to_string_lossy().into_owned();
        let Some(pin) = name.strip_prefix("gate_") else {
            fail(&format!(
                "BPF program {name} ({section}): the gate's programs are named gate_PIN"
            ));
        };
        let _ = writeln!(src, "    ({pin:?}, {name:?}, {section:?}),");
    }
    src.push_str("];\n");
    fs::write(dest, src).unwrap_or_else(|e| fail(&format!("writing {}: {e}", dest.display())));
}

/// A baked certificate, parsed in full (the runtime only frames it; the kernel parses it when the gate loads, which
/// is too late to learn it is unusable): X.509 that parses to the end, with an RSA or EC key, usable for signatures.
fn check_certificate(name: &str, der: &[u8]) {
    use x509_parser::prelude::*;
    let bad = |why: String| -> ! {
        fail(&format!(
            "BPFGATE_CERTS: {name}: {why}\nBake the certificate whose key signs the loaders (`fsverity sign --cert`)."
        ))
    };
    let (rest, cert) = X509Certificate::from_der(der)
        .unwrap_or_else(|e| bad(format!("not a valid X.509 certificate: {e}")));
    if !rest.is_empty() {
        bad(format!("{} bytes after the certificate", rest.len()));
    }
    match cert.public_key().parsed() {
        Ok(
            x509_parser::public_key::PublicKey::RSA(_) | x509_parser::public_key::PublicKey::EC(_),
        ) => {}
        Ok(_) => bad("its key is neither RSA nor EC: the kernel's PKCS#7 check takes those".into()),
        Err(e) => bad(format!("its public key does not parse: {e}")),
    }
    if let Ok(Some(ku)) = cert.key_usage() {
        if !ku.value.digital_signature() {
            bad("its keyUsage does not allow digitalSignature".into());
        }
    }
    if !cert.validity().is_valid() {
        println!(
            "cargo:warning=BPFGATE_CERTS: {name}: outside its validity period ({} to {}); the kernel does not check dates",
            cert.validity().not_before,
            cert.validity().not_after
        );
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    exit(1)
}
