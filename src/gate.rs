//! `bpfgate load`: open → set rodata → load → trust self → attach → pin → exit. The pinned links keep the gate
//! enforcing after this process is gone; no daemon stays behind.

use std::fs;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags};

use crate::commands;
use crate::error::Error;
use crate::kernel::{self, Features};
use crate::keyring;
use crate::skel::{certs::CERTS, types, BpfgateSkelBuilder};
use crate::sys;

/// Where the gate pins its links.
pub fn pin_dir() -> PathBuf {
    Path::new(kernel::BPFFS).join("bpfgate")
}

/// The pinned status iterator; its presence means the gate is active.
pub fn status_pin() -> PathBuf {
    pin_dir().join("status")
}

/// Loads and pins the gate, unless one is already active. Returns a one-line summary.
pub fn load() -> Result<String, Error> {
    load_with(CERTS)
}

fn load_with(certs: &[(&str, &[u8])]) -> Result<String, Error> {
    // Checked before anything touches the system: a gate with no anchor would silently trust nobody.
    if certs.is_empty() {
        return Err(Error::NoCertificates);
    }
    kernel::mount_api_filesystems()?;
    if status_pin().exists() {
        return Ok(format!(
            "already active (pinned at {}); nothing changed",
            pin_dir().display()
        ));
    }
    let features = kernel::probe()?;
    let ring = keyring::create(certs)?;
    match attach_and_pin(&features, ring) {
        Ok(n) => Ok(format!(
            "active: {n} programs pinned at {}, keyring {ring} with {} certificate(s), signature xattr {}",
            pin_dir().display(),
            certs.len(),
            if features.security_bpf_xattr {
                "security.bpf.bpfgate.sig, then user.bpfgate.sig"
            } else {
                "user.bpfgate.sig"
            }
        )),
        Err(e) => {
            keyring::discard(ring);
            Err(e)
        }
    }
}

fn bpf_err(step: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> Error {
    let step = step.into();
    move |e| Error::Bpf(step, e)
}

fn attach_and_pin(features: &Features, ring: i32) -> Result<usize, Error> {
    let mut storage = MaybeUninit::uninit();
    let mut open = BpfgateSkelBuilder::default()
        .open(&mut storage)
        .map_err(bpf_err("opening the BPF object"))?;
    let rodata = open
        .maps
        .rodata_data
        .as_deref_mut()
        .ok_or_else(|| Error::Kernel("the BPF object has no memory-mapped rodata".into()))?;
    rodata.cfg.untrusted_cmds = commands::untrusted_bitmap();
    rodata.cfg.keyring_serial = ring as u32;
    rodata.cfg.nr_cpus =
        libbpf_rs::num_possible_cpus().map_err(bpf_err("counting possible CPUs"))? as u32;
    rodata.cfg.xattr_security = features.security_bpf_xattr.into();

    let skel = open
        .load()
        .map_err(|e| diagnose_load_failure(e, features))?;

    // The loader itself is part of the gate: trust it for its own short life, so that it may still pin once the
    // bpf() hook is live. The entry dies with this task.
    let pidfd = sys::pidfd_self().map_err(|e| Error::Kernel(format!("pidfd_open on self: {e}")))?;
    let me = types::task_trust {
        trusted: 1,
        reason: types::exec_reason::EXEC_TRUSTED_VERIFIED.0,
    };
    // SAFETY: task_trust is a plain #[repr(C)] struct of two u32 generated from bpf/bpfgate.h; viewing it as bytes
    // for the map update is sound (no padding, no pointers).
    let value = unsafe {
        std::slice::from_raw_parts(
            (&me as *const types::task_trust).cast::<u8>(),
            size_of::<types::task_trust>(),
        )
    };
    let key = std::os::fd::AsRawFd::as_raw_fd(&pidfd).to_ne_bytes();
    skel.maps
        .task_trust
        .update(&key, value, MapFlags::ANY)
        .map_err(bpf_err("marking the loader trusted"))?;

    let p = &skel.progs;
    // The bpf() gate goes last, so nothing else is half-attached when it starts enforcing.
    let progs = [
        ("exec", &p.gate_exec),
        ("fork", &p.gate_fork),
        ("setxattr", &p.gate_setxattr),
        ("post_setxattr", &p.gate_post_setxattr),
        ("removexattr", &p.gate_removexattr),
        ("post_removexattr", &p.gate_post_removexattr),
        ("bpf", &p.gate_bpf),
    ];
    let mut links: Vec<(&str, Link)> = Vec::with_capacity(progs.len() + 1);
    for (name, prog) in progs {
        links.push((
            name,
            prog.attach_lsm()
                .map_err(bpf_err(format!("attaching the {name} hook")))?,
        ));
    }
    let status = p
        .gate_status
        .attach_iter(skel.maps.counters.as_fd())
        .map_err(bpf_err("attaching the status iterator"))?;
    links.push(("status", status));

    let dir = pin_dir();
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::Pin(dir.clone(), e))?;
    let mut pinned = Vec::new();
    for (name, link) in &mut links {
        let path = dir.join(name);
        if let Err(e) = link.pin(&path) {
            for p in &pinned {
                let _ = fs::remove_file(p);
            }
            let _ = fs::remove_dir(&dir);
            return Err(Error::Bpf(format!("pinning {}", path.display()), e));
        }
        pinned.push(path);
    }
    Ok(links.len())
}

/// Turns a failed load into the reason a person can act on.
fn diagnose_load_failure(e: libbpf_rs::Error, f: &Features) -> Error {
    Error::Kernel(format!(
        "loading the gate into kernel {} failed: {e}\n\
         The kernel checks passed (BPF LSM active, BTF and kfuncs present), so this is most likely the verifier \
         rejecting the programs on this kernel; run `bpfgate -v load` for libbpf's verifier log.",
        f.release
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_load_without_certificates_before_touching_the_system() {
        let e = load_with(&[]).unwrap_err();
        assert!(matches!(e, Error::NoCertificates));
        assert!(e.to_string().contains("BPFGATE_CERTS="), "{e}");
    }
}
