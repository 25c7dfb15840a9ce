//! `bpfgate load`: open → set rodata → load → trust self → attach → pin → exit. The pinned links keep the gate
//! enforcing after this process is gone; no daemon stays behind.

use std::fs;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject};

use crate::config;
use crate::error::Error;
use crate::kernel::{self, Features};
use crate::keyring;
use crate::pod::Pod;
use crate::policy::{Policy, Warnings};
use crate::skel::{certs::CERTS, types, BpfgateSkel, BpfgateSkelBuilder};
use crate::sys;

/// Where the gate pins its links.
pub fn pin_dir() -> PathBuf {
    Path::new(kernel::BPFFS).join("bpfgate")
}

/// The pinned status iterator; its presence means the gate is active.
pub fn status_pin() -> PathBuf {
    pin_dir().join("status")
}

/// The pinned event iterator (`bpfgate log`).
pub fn events_pin() -> PathBuf {
    pin_dir().join("events")
}

/// The policy of this boot: built-in defaults, the policy baked at build time, the config file (when `config`
/// names one that exists), the kernel command line.
pub fn boot_policy(config: Option<&Path>) -> Result<(Policy, Warnings), Error> {
    let text = match config {
        Some(p) => match fs::read_to_string(p) {
            Ok(t) => Some((t, p.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::File(p.into(), e)),
        },
        None => None,
    };
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    Ok(crate::policy::layered(
        crate::skel::policy::BAKED,
        text.as_ref().map(|(t, s)| (t.as_str(), s.as_str())),
        &cmdline,
    ))
}

/// Loads and pins the gate with `policy`, unless one is already active. Returns a one-line summary.
pub fn load(policy: &Policy) -> Result<String, Error> {
    load_with(CERTS, policy)
}

fn load_with(certs: &[(&str, &[u8])], policy: &Policy) -> Result<String, Error> {
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
    let (features, keys) = prepare(certs)?;
    let ring = keys.serial;
    match attach_and_pin(&features, &keys, policy) {
        Ok(n) => Ok(format!(
            "active: {n} programs pinned at {}, {} mode, keyring {ring} with {} certificate(s), signature xattr {}; \
             peak memory {} KiB",
            pin_dir().display(),
            crate::policy::mode_name(policy.mode),
            certs.len(),
            if features.security_bpf_xattr {
                "security.bpf.bpfgate.sig, then user.bpfgate.sig"
            } else {
                "user.bpfgate.sig"
            },
            peak_rss_kib().map_or_else(|| "unknown".into(), |k| k.to_string())
        )),
        Err(e) => {
            keyring::discard(ring);
            Err(e)
        }
    }
}

/// This process's peak resident set size (VmHWM), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What every way of loading the gate starts with: API filesystems, kernel checks, the keyring.
pub fn prepare(certs: &[(&str, &[u8])]) -> Result<(Features, keyring::Keyring), Error> {
    if certs.is_empty() {
        return Err(Error::NoCertificates);
    }
    kernel::mount_api_filesystems()?;
    let features = kernel::probe()?;
    let max_certs = types::gate_config::default().key_serials.len();
    if certs.len() > max_certs {
        return Err(Error::Kernel(format!(
            "{} certificates baked in; the gate protects at most {max_certs} (BPFGATE_KEYS_MAX in bpf/bpfgate.h)",
            certs.len()
        )));
    }
    Ok((features, keyring::create(certs)?))
}

fn bpf_err(step: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> Error {
    let step = step.into();
    move |e| Error::Bpf(step, e)
}

/// A loaded, attached gate held by this process: its links are released when it is dropped, unless pinned.
pub struct Attached<'obj> {
    pub skel: BpfgateSkel<'obj>,
    pub links: Vec<(&'static str, Link)>,
    /// How long each phase took: open (object and kernel BTF, CO-RE), load (the verifier), attach.
    pub phases: [(&'static str, std::time::Duration); 3],
}

fn attach_and_pin(
    features: &Features,
    keys: &keyring::Keyring,
    policy: &Policy,
) -> Result<usize, Error> {
    let mut storage = MaybeUninit::uninit();
    let mut gate = attach(&mut storage, features, keys, policy)?;
    let dir = pin_dir();
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::Pin(dir.clone(), e))?;
    let mut pinned = Vec::new();
    for (name, link) in &mut gate.links {
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
    protect(&gate.skel, &gate.links, &dir, &pinned)?;
    Ok(gate.links.len())
}

/// Opens, configures, loads and attaches the gate (open → rodata → load → trust self → attach).
pub fn attach<'obj>(
    storage: &'obj mut MaybeUninit<OpenObject>,
    features: &Features,
    keys: &keyring::Keyring,
    policy: &Policy,
) -> Result<Attached<'obj>, Error> {
    let started = std::time::Instant::now();
    let mut open = BpfgateSkelBuilder::default()
        .open(storage)
        .map_err(bpf_err("opening the BPF object"))?;
    let rodata = open
        .maps
        .rodata_data
        .as_deref_mut()
        .ok_or_else(|| Error::Kernel("the BPF object has no memory-mapped rodata".into()))?;
    config::apply(&mut rodata.cfg, policy);
    rodata.cfg.init_mnt_ns = init_mnt_ns()?;
    if policy.initramfs_trusted {
        rodata.cfg.initramfs_dev = initramfs_dev();
    }
    rodata.cfg.keyring_serial = keys.serial as u32;
    for (slot, key) in rodata.cfg.key_serials.iter_mut().zip(&keys.keys) {
        *slot = *key as u32;
    }
    rodata.cfg.nr_cpus =
        libbpf_rs::num_possible_cpus().map_err(bpf_err("counting possible CPUs"))? as u32;
    rodata.cfg.xattr_security = features.security_bpf_xattr.into();
    rodata.cfg.loader_tgid = std::process::id();
    // Attached only for a moment, below, to record the bpffs mount.
    open.progs.gate_record_mount.set_autoattach(false);
    // The program hooks exist only when the policy needs them: bpf.token_only and bpf.signed (the map hook serves
    // protected maps too and checks the options itself). bpf.signed needs a kernel with program signing.
    let signed = policy.bpf_signed && features.prog_signing;
    if policy.bpf_signed && !signed {
        log::warn!(
            "bpf.signed = 1 has no effect on kernel {}: it has no BPF program signing (Linux 6.18 or newer); \
             untrusted tasks load nothing",
            features.release
        );
    }
    rodata.cfg.signed_progs = u32::from(signed);
    open.progs
        .gate_prog_load
        .set_autoload(policy.bpf_token_only || signed);
    open.progs.gate_prog_free.set_autoload(signed);

    let opened = std::time::Instant::now();
    let skel = open
        .load()
        .map_err(|e| diagnose_load_failure(e, features))?;
    let loaded = std::time::Instant::now();

    // The loader itself is part of the gate: trust it for its own short life, so that it may still pin once the
    // bpf() hook is live. The entry dies with this task.
    let pidfd = sys::pidfd_self().map_err(|e| Error::Kernel(format!("pidfd_open on self: {e}")))?;
    let me = types::task_trust {
        trusted: 1,
        reason: types::exec_reason::EXEC_TRUSTED_VERIFIED.0,
        loader: 1,
        ..Default::default()
    };
    let value = me.as_bytes();
    let key = std::os::fd::AsRawFd::as_raw_fd(&pidfd).to_ne_bytes();
    skel.maps
        .task_trust
        .update(&key, value, MapFlags::ANY)
        .map_err(bpf_err("marking the loader trusted"))?;

    // The denylist is filled before any hook runs, then frozen: no one changes it afterwards.
    for d in &policy.denylist {
        skel.maps
            .denylist
            .update(config::deny_key_of(d).as_bytes(), &[1], MapFlags::NO_EXIST)
            .map_err(bpf_err(format!("adding {d} to the denylist")))?;
    }
    libbpf_rs::MapHandle::try_from(&skel.maps.denylist)
        .and_then(|h| h.freeze())
        .map_err(bpf_err("freezing the denylist"))?;

    let p = &skel.progs;
    // The bpf() gate goes last, so nothing else is half-attached when it starts enforcing.
    let mut progs = vec![
        ("exec", &p.gate_exec),
        ("fork", &p.gate_fork),
        ("mmap", &p.gate_mmap),
        ("mprotect", &p.gate_mprotect),
        ("keys", &p.gate_key_permission),
        ("kernel_read_file", &p.gate_kernel_read_file),
        ("kernel_load_data", &p.gate_kernel_load_data),
        ("module_request", &p.gate_module_request),
        ("locked_down", &p.gate_locked_down),
        ("ptrace", &p.gate_ptrace),
        ("traceme", &p.gate_traceme),
        ("bpf_map", &p.gate_bpf_map),
        ("bpf_map_create", &p.gate_map_create),
        ("bpf_map_free", &p.gate_map_free),
        ("bpf_prog", &p.gate_bpf_prog),
        ("unlink", &p.gate_unlink),
        ("rmdir", &p.gate_rmdir),
        ("rename", &p.gate_rename),
        ("mount", &p.gate_mount_over),
        ("move_mount", &p.gate_move_mount_over),
        ("umount", &p.gate_umount),
        ("setxattr", &p.gate_setxattr),
        ("post_setxattr", &p.gate_post_setxattr),
        ("removexattr", &p.gate_removexattr),
        ("post_removexattr", &p.gate_post_removexattr),
    ];
    if policy.bpf_token_only || signed {
        progs.push(("prog_load", &p.gate_prog_load));
    }
    if signed {
        progs.push(("prog_free", &p.gate_prog_free));
    }
    progs.push(("bpf", &p.gate_bpf));
    let mut links: Vec<(&'static str, Link)> = Vec::with_capacity(progs.len() + 1);
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
    let events = p
        .gate_events
        .attach_iter(skel.maps.events.as_fd())
        .map_err(bpf_err("attaching the event iterator"))?;
    links.push(("events", events));
    let phases = [
        ("open", opened - started),
        ("load", loaded - opened),
        ("attach", loaded.elapsed()),
    ];
    log::debug!("phases: {phases:?}");
    Ok(Attached {
        skel,
        links,
        phases,
    })
}

/// The kernel's device number of the initramfs when this loader runs from it (`/` on ramfs or tmpfs, the initial
/// rootfs), else 0: no trust window.
fn initramfs_dev() -> u32 {
    use std::os::unix::fs::MetadataExt;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let root = Path::new("/");
    match (sys::fs_type(root), fs::metadata(root)) {
        (Ok(RAMFS_MAGIC | TMPFS_MAGIC), Ok(m)) => {
            let dev = m.dev();
            // Userspace dev_t to the kernel's internal MKDEV (major << 20 | minor).
            (libc::major(dev) << 20) | (libc::minor(dev) & 0xfffff)
        }
        _ => 0,
    }
}

/// Inode number of the initial mount namespace (PID 1's), for the `restrict` permission.
fn init_mnt_ns() -> Result<u32, Error> {
    use std::os::unix::fs::MetadataExt;
    let p = Path::new("/proc/1/ns/mnt");
    let ino = fs::metadata(p).map_err(|e| Error::File(p.into(), e))?.ino();
    u32::try_from(ino)
        .map_err(|_| Error::Kernel(format!("{}: inode {ino} does not fit 32 bits", p.display())))
}

/// Makes the gate's own objects untouchable: its maps, programs and links by id (a frozen ids map), its pins,
/// pin directory and bpffs root by inode, and its bpffs mount (recorded once, for the unmount check).
fn protect(
    skel: &BpfgateSkel<'_>,
    links: &[(&str, Link)],
    dir: &Path,
    pins: &[PathBuf],
) -> Result<(), Error> {
    use libbpf_rs::query::LinkInfo;
    use std::os::fd::AsFd as _;

    let mut ids = types::gate_ids::default();
    // Every map, program and link must fit, or some would go unprotected.
    if links.len() > ids.links.len() {
        return Err(Error::Kernel(format!(
            "{} links exceed BPFGATE_IDS_MAX ({})",
            links.len(),
            ids.links.len()
        )));
    }
    let m = &skel.maps;
    // Every map of the object, so that a map added later cannot be left out.
    for (n, map) in skel.object().maps().enumerate() {
        let slot = ids
            .maps
            .get_mut(n)
            .ok_or_else(|| Error::Kernel("the gate has more maps than BPFGATE_IDS_MAX".into()))?;
        *slot = map.info().map_err(bpf_err("reading a map id"))?.info.id;
    }
    for ((pslot, lslot), (name, link)) in ids.progs.iter_mut().zip(ids.links.iter_mut()).zip(links)
    {
        let info = LinkInfo::from_fd(link.as_fd())
            .map_err(bpf_err(format!("reading the {name} link's id")))?;
        (*pslot, *lslot) = (info.prog_id, info.id);
    }
    m.gate_ids
        .update(&0u32.to_ne_bytes(), ids.as_bytes(), MapFlags::ANY)
        .map_err(bpf_err("publishing the gate's ids"))?;
    libbpf_rs::MapHandle::try_from(&m.gate_ids)
        .and_then(|h| h.freeze())
        .map_err(bpf_err("freezing the gate's ids"))?;

    let mark = |path: &Path, role: types::gate_role| -> Result<(), Error> {
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| Error::Pin(path.into(), e))?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f).to_ne_bytes();
        m.gate_inodes
            .update(&fd, &role.0.to_ne_bytes(), MapFlags::ANY)
            .map_err(bpf_err(format!("protecting {}", path.display())))
    };
    for pin in pins {
        mark(pin, types::gate_role::ROLE_PIN)?;
    }
    mark(dir, types::gate_role::ROLE_PIN_DIR)?;
    mark(Path::new(kernel::BPFFS), types::gate_role::ROLE_BPFFS_ROOT)?;

    // The recorder notes the vfsmount of whatever this process opens that is marked as the pin directory.
    let recorder = skel
        .progs
        .gate_record_mount
        .attach_lsm()
        .map_err(bpf_err("attaching the mount recorder"))?;
    let opened = fs::File::open(dir).map_err(|e| Error::Pin(dir.into(), e));
    drop(recorder);
    drop(opened?);
    let rec = m
        .gate_mount
        .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
        .map_err(bpf_err("reading the recorded mount"))?;
    if rec.is_none_or(|v| v.iter().all(|b| *b == 0)) {
        return Err(Error::Kernel(format!(
            "could not record the bpffs mount of {}",
            dir.display()
        )));
    }
    libbpf_rs::MapHandle::try_from(&m.gate_mount)
        .and_then(|h| h.freeze())
        .map_err(bpf_err("freezing the recorded mount"))
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
        let e = load_with(&[], &Policy::default()).unwrap_err();
        assert!(matches!(e, Error::NoCertificates));
        assert!(e.to_string().contains("BPFGATE_CERTS="), "{e}");
    }
}
