//! Build script: compiles bpf/bpfgate.bpf.c into a libbpf skeleton and bakes the trust anchors named by
//! `BPFGATE_CERTS` (a `:`-separated list of X.509 certificates, PEM or DER) into the binary.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::exit;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/bpfgate.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for f in ["bpf/bpfgate.bpf.c", "bpf/bpfgate.h", "bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=BPFGATE_CERTS");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");

    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into());
    if let Err(e) = SkeletonBuilder::new()
        .source(SRC)
        .clang(&clang)
        .clang_args(["-Ibpf", "-Wall", "-Wno-unused-function"])
        .build_and_generate(out.join("bpfgate.skel.rs"))
    {
        fail(&format!(
            "building the BPF skeleton from {SRC} with {clang} failed: {e:#}\n\
             Install clang (apt-get install clang) or point BPF_CLANG at one."
        ));
    }

    let certs = match env::var("BPFGATE_CERTS") {
        Ok(list) => list
            .split(':')
            .filter(|p| !p.is_empty())
            .flat_map(|p| {
                println!("cargo:rerun-if-changed={p}");
                read_certs(Path::new(p)).unwrap_or_else(|e| fail(&format!("BPFGATE_CERTS: {p}: {e}")))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut src = String::from("/// Trust anchors baked in at build time: (source, DER).\npub static CERTS: &[(&str, &[u8])] = &[\n");
    for (name, der) in &certs {
        let _ = writeln!(src, "    ({name:?}, &{der:?}),");
    }
    src.push_str("];\n");
    fs::write(out.join("certs.rs"), src).unwrap_or_else(|e| fail(&format!("writing certs.rs: {e}")));
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    exit(1)
}

/// Reads one file of certificates: DER, or PEM with one or more CERTIFICATE blocks.
fn read_certs(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let data = fs::read(path).map_err(|e| e.to_string())?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ders = if data.starts_with(b"-----BEGIN") || data.windows(11).any(|w| w == b"-----BEGIN ") {
        pem_certificates(&data)?
    } else {
        vec![data]
    };
    if ders.is_empty() {
        return Err("no CERTIFICATE block in PEM file".into());
    }
    ders.into_iter()
        .enumerate()
        .map(|(i, der)| {
            check_der_sequence(&der).map_err(|e| format!("certificate {i}: not DER X.509 ({e})"))?;
            Ok((format!("{name}#{i}"), der))
        })
        .collect()
}

fn pem_certificates(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(data).map_err(|_| "PEM file is not text".to_string())?;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut body, line) {
            (None, "-----BEGIN CERTIFICATE-----") => body = Some(String::new()),
            (Some(b), "-----END CERTIFICATE-----") => {
                out.push(base64(b)?);
                body = None;
            }
            (Some(b), l) => b.push_str(l),
            (None, _) => {}
        }
    }
    if body.is_some() {
        return Err("unterminated CERTIFICATE block".into());
    }
    Ok(out)
}

fn base64(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("invalid base64 character {:?}", c as char)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// An X.509 certificate is one DER SEQUENCE spanning the whole buffer.
fn check_der_sequence(der: &[u8]) -> Result<(), String> {
    if der.first() != Some(&0x30) {
        return Err("does not start with a SEQUENCE".into());
    }
    let (len, hdr) = match der.get(1) {
        Some(&l) if l < 0x80 => (usize::from(l), 2),
        Some(&l) if (0x81..=0x84).contains(&l) => {
            let n = usize::from(l & 0x7f);
            let bytes = der.get(2..2 + n).ok_or("truncated length")?;
            (bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)), 2 + n)
        }
        _ => return Err("bad length".into()),
    };
    if hdr + len != der.len() {
        return Err(format!("length {} does not match file size {}", hdr + len, der.len()));
    }
    Ok(())
}
