//! `bpfgate load`: open → set rodata → load → trust self → attach → pin → exit. The pinned links keep the gate
//! enforcing after this process is gone; no daemon stays behind.

use std::ffi::c_void;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::load::config;
use crate::load::kernel::{self, Features};
use crate::load::keyring;
use crate::load::lskel::{self, Loaded};
use crate::load::pod::Pod;
use crate::load::skel::{certs::CERTS, programs, types};
use crate::policy::{Policy, Warnings};
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
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    policy_with(config, &cmdline)
}

/// The policy a boot with kernel command line `cmdline` gets: built-in defaults, the baked policy, the config file
/// (when `config` names one that exists), the command line. `doctor --kernel` asks it for another kernel's boot.
pub fn policy_with(config: Option<&Path>, cmdline: &str) -> Result<(Policy, Warnings), Error> {
    let text = match config {
        Some(p) => match fs::read_to_string(p) {
            Ok(t) => Some((t, p.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::File(p.into(), e)),
        },
        None => None,
    };
    Ok(crate::policy::layered(
        crate::load::skel::policy::BAKED,
        text.as_ref().map(|(t, s)| (t.as_str(), s.as_str())),
        cmdline,
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
    let (features, keys) = prepare(certs, policy)?;
    let ring = keys.serial;
    match attach_and_pin(&features, &keys, policy) {
        Ok(n) => Ok(format!(
            "active: {n} programs pinned at {}, {} mode, keyring {ring} with {} certificate(s), signature xattr {}; \
             peak memory {} KiB",
            pin_dir().display(),
            crate::policy::mode_name(policy.mode),
            certs.len(),
            crate::signing::verity::read_order(features.security_bpf_xattr).join(", then "),
            peak_rss_kib().map_or_else(|| "unknown".into(), |k| k.to_string())
        )),
        Err(e) => {
            keys.discard();
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

/// A SHA-256 certificate fingerprint as `openssl x509 -fingerprint -sha256` prints it (upper case, colons).
pub fn colon_hex(print: &[u8; 32]) -> String {
    print
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The baked certificates each signer-bound profile gets. A fingerprint that names no baked certificate binds
/// nothing: warned, naming the certificates there are (the policy parser cannot know them).
pub fn signer_groups(certs: &[(&str, &[u8])], policy: &Policy) -> Vec<keyring::SignerGroup> {
    let prints: Vec<[u8; 32]> = certs
        .iter()
        .map(|(_, der)| crate::signing::sha256::Sha256::digest(der))
        .collect();
    for b in &policy.signers {
        if !prints.contains(&b.fingerprint) {
            let baked: Vec<String> = certs
                .iter()
                .zip(&prints)
                .map(|((name, _), print)| format!("{name} {}", colon_hex(print)))
                .collect();
            log::warn!(
                "policy: profile {} is bound to signer {}, which is not a certificate baked into this bpfgate \
                 (baked: {}); that binding is ignored",
                policy
                    .profiles
                    .get(usize::from(b.profile))
                    .map_or("?", |p| p.name.as_str()),
                colon_hex(&b.fingerprint),
                baked.join("; ")
            );
        }
    }
    policy
        .profiles
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let certs: Vec<usize> = prints
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    policy
                        .signers
                        .iter()
                        .any(|b| usize::from(b.profile) == i && b.fingerprint == **f)
                })
                .map(|(c, _)| c)
                .collect();
            (!certs.is_empty()).then(|| keyring::SignerGroup {
                profile: i as u8,
                name: p.name.to_string(),
                certs,
            })
        })
        .collect()
}

/// What every way of loading the gate starts with: API filesystems, kernel checks, the keyrings.
pub fn prepare(
    certs: &[(&str, &[u8])],
    policy: &Policy,
) -> Result<(Features, keyring::Keyring), Error> {
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
    Ok((
        features,
        keyring::create(certs, &signer_groups(certs, policy))?,
    ))
}

/// A loaded, attached gate held by this process: its links are released when it is dropped, unless pinned.
pub struct Attached {
    pub obj: Loaded,
    pub links: Vec<(&'static str, OwnedFd)>,
    /// How long each phase took: open (the skeleton, configured), load (the loader program: CO-RE in the kernel,
    /// maps, the verifier for every program), attach.
    pub phases: [(&'static str, std::time::Duration); 3],
}

fn attach_and_pin(
    features: &Features,
    keys: &keyring::Keyring,
    policy: &Policy,
) -> Result<usize, Error> {
    let gate = attach(features, keys, policy)?;
    let dir = pin_dir();
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::Pin(dir.clone(), e))?;
    let mut pinned = Vec::new();
    for (name, link) in &gate.links {
        let path = dir.join(name);
        if let Err(e) = lskel::pin(link.as_fd(), &path) {
            for p in &pinned {
                let _ = fs::remove_file(p);
            }
            let _ = fs::remove_dir(&dir);
            return Err(e);
        }
        pinned.push(path);
    }
    protect(&gate.obj, &gate.links, &dir, &pinned)?;
    Ok(gate.links.len())
}

/// The LSM programs to attach, by pin name and program, from the object's own list (`skel::programs`): the
/// policy's optional program hooks only when it needs them, and the bpf() gate last, so that nothing else is
/// half-attached when it starts enforcing. The iterators follow, attached once per map.
fn lsm_hooks(prog_load: bool, prog_free: bool, sysctl: bool) -> Vec<(&'static str, &'static str)> {
    let mut hooks: Vec<(&'static str, &'static str)> = programs::PROGRAMS
        .iter()
        .filter(|(_, _, section)| kernel::lsm_hook(section).is_some())
        .filter(|(pin, _, _)| match *pin {
            "bpf" => false,
            "prog_load" => prog_load,
            "prog_free" => prog_free,
            "sysctl" => sysctl,
            _ => true,
        })
        .map(|(pin, prog, _)| (*pin, *prog))
        .collect();
    hooks.push(("bpf", "gate_bpf"));
    hooks
}

/// Configures, loads and attaches the gate (configure → load → trust self → denylist → attach).
pub fn attach(
    features: &Features,
    keys: &keyring::Keyring,
    policy: &Policy,
) -> Result<Attached, Error> {
    let started = std::time::Instant::now();
    let init_ns = init_mnt_ns()?;
    let nr_cpus = libbpf_rs::num_possible_cpus()
        .map_err(|e| Error::Bpf("counting possible CPUs".into(), e))? as u32;
    // The program hooks exist only when the policy needs them: bpf.token_only, bpf.signed and a profile's
    // signed_programs (the map hook serves protected maps too and checks the options itself). Signed programs
    // need a kernel with program signing.
    let signed = policy.bpf_signed && features.prog_signing;
    if policy.bpf_signed && !signed {
        log::warn!(
            "bpf.signed = 1 has no effect on kernel {}: it has no BPF program signing (Linux 6.18 or newer); \
             untrusted tasks load nothing",
            features.release
        );
    }
    let signing_profiles = policy.signing_profiles();
    if !signing_profiles.is_empty() && !features.prog_signing {
        log::warn!(
            "profile {} requires signed programs, and kernel {} has no BPF program signing (Linux 6.18 or newer): \
             its loaders load no programs (refused as signing_unsupported_by_kernel)",
            signing_profiles.join(", "),
            features.release
        );
    }
    let track_signed = features.prog_signing && (signed || !signing_profiles.is_empty());
    let initramfs = if policy.initramfs_trusted {
        initramfs_dev()
    } else {
        0
    };
    let mut configure = |skel: *mut c_void| {
        // SAFETY: `skel` is the live, not yet loaded skeleton lskel::load passes here.
        let cfg = unsafe { lskel::gate_cfg(skel) };
        config::apply(cfg, policy);
        cfg.init_mnt_ns = init_ns;
        cfg.initramfs_dev = initramfs;
        cfg.keyring_serial = keys.serial as u32;
        for (slot, key) in cfg.key_serials.iter_mut().zip(&keys.keys) {
            *slot = *key as u32;
        }
        for (profile, ring) in &keys.profiles {
            if let Some(slot) = cfg.profile_keyrings.get_mut(usize::from(*profile)) {
                *slot = *ring as u32;
            }
        }
        cfg.signer_bindings = keys.profiles.len() as u32;
        cfg.nr_cpus = nr_cpus;
        cfg.xattr_security = features.security_bpf_xattr.into();
        cfg.loader_tgid = std::process::id();
        cfg.signed_progs = u32::from(signed);
        cfg.prog_signing = u32::from(features.prog_signing);
        cfg.track_signed = u32::from(track_signed);
        config::fast_paths(cfg);
    };
    let opened = std::time::Instant::now();
    let obj = lskel::load(&lskel::gate_api(), &mut configure)
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
    lskel::update(
        obj.map("task_trust")?,
        &pidfd.as_raw_fd().to_ne_bytes(),
        me.as_bytes(),
        "marking the loader trusted",
    )?;

    // The denylist is filled before any hook runs, then frozen: no one changes it afterwards.
    let denylist = obj.map("denylist")?;
    for d in &policy.denylist {
        lskel::update(
            denylist,
            config::deny_key_of(d).as_bytes(),
            &[1],
            &format!("adding {d} to the denylist"),
        )?;
    }
    lskel::freeze(denylist, "freezing the denylist")?;
    // So are the profile bindings (digest -> profile index).
    let bindings = obj.map("profile_bindings")?;
    for b in &policy.bindings {
        lskel::update(
            bindings,
            config::deny_key_of(&b.digest).as_bytes(),
            &u32::from(b.profile).to_ne_bytes(),
            &format!("binding {} to a profile", b.digest),
        )?;
    }
    lskel::freeze(bindings, "freezing the profile bindings")?;

    // The sysctl guard runs on every open: attached only when the policy restricts the BPF sysctls.
    let hooks = lsm_hooks(
        policy.bpf_token_only || track_signed,
        track_signed,
        policy.sysctl != crate::policy::Perm::Allow,
    );
    let mut links: Vec<(&'static str, OwnedFd)> = Vec::with_capacity(hooks.len() + 2);
    for (name, prog) in hooks {
        links.push((
            name,
            lskel::attach_lsm(obj.prog(prog)?, &format!("attaching the {name} hook"))?,
        ));
    }
    // The pinned iterators: the status stream over the counters, the event ring.
    for (name, prog, map) in [
        ("status", "gate_iter", "counters"),
        ("events", "gate_iter", "events"),
    ] {
        links.push((
            name,
            lskel::attach_map_iter(
                obj.prog(prog)?,
                obj.map(map)?,
                &format!("attaching the {name} iterator"),
            )?,
        ));
    }
    let phases = [
        ("open", opened - started),
        ("load", loaded - opened),
        ("attach", loaded.elapsed()),
    ];
    log::debug!("phases: {phases:?}");
    Ok(Attached { obj, links, phases })
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
    obj: &Loaded,
    links: &[(&str, OwnedFd)],
    dir: &Path,
    pins: &[PathBuf],
) -> Result<(), Error> {
    use libbpf_rs::query::LinkInfo;

    let mut ids = types::gate_ids::default();
    // Every map, program and link must fit, or some would go unprotected.
    if links.len() > ids.links.len() || obj.maps.len() > ids.maps.len() {
        return Err(Error::Kernel(format!(
            "{} links and {} maps exceed BPFGATE_IDS_MAX ({})",
            links.len(),
            obj.maps.len(),
            ids.links.len()
        )));
    }
    // Every map of the object, so that a map added later cannot be left out.
    for (slot, (_, map)) in ids.maps.iter_mut().zip(&obj.maps) {
        *slot = lskel::map_id(map.as_fd())?;
    }
    for ((pslot, lslot), (name, link)) in ids.progs.iter_mut().zip(ids.links.iter_mut()).zip(links)
    {
        let info = LinkInfo::from_fd(link.as_fd())
            .map_err(|e| Error::Bpf(format!("reading the {name} link's id"), e))?;
        (*pslot, *lslot) = (info.prog_id, info.id);
    }
    let gate_ids = obj.map("gate_ids")?;
    lskel::update(
        gate_ids,
        &0u32.to_ne_bytes(),
        ids.as_bytes(),
        "publishing the gate's ids",
    )?;
    lskel::freeze(gate_ids, "freezing the gate's ids")?;

    let gate_inodes = obj.map("gate_inodes")?;
    let mark = |path: &Path, role: types::gate_role| -> Result<(), Error> {
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| Error::Pin(path.into(), e))?;
        lskel::update(
            gate_inodes,
            &f.as_raw_fd().to_ne_bytes(),
            &role.0.to_ne_bytes(),
            &format!("protecting {}", path.display()),
        )
    };
    for pin in pins {
        mark(pin, types::gate_role::ROLE_PIN)?;
    }
    mark(dir, types::gate_role::ROLE_PIN_DIR)?;
    mark(Path::new(kernel::BPFFS), types::gate_role::ROLE_BPFFS_ROOT)?;

    // The ioctl hook notes, once, the vfsmount of the pin directory this process names by an ioctl (any command:
    // bpffs answers ENOTTY, the hook has run by then).
    let opened = fs::File::open(dir).map_err(|e| Error::Pin(dir.into(), e))?;
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one long into `flags`, which outlives the call; the fd is open.
    let _ = unsafe { libc::ioctl(opened.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    drop(opened);
    let gate_mount = obj.map("chain_root")?;
    let mut rec = [0u8; 8];
    let found = lskel::lookup(
        gate_mount,
        &0u32.to_ne_bytes(),
        &mut rec,
        "reading the recorded mount",
    )?;
    if !found || rec.iter().all(|b| *b == 0) {
        return Err(Error::Kernel(format!(
            "could not record the bpffs mount of {}",
            dir.display()
        )));
    }
    lskel::freeze(gate_mount, "freezing the recorded mount")
}

/// Turns a failed load into the reason a person can act on.
fn diagnose_load_failure(e: Error, f: &Features) -> Error {
    Error::Kernel(format!(
        "loading the gate into kernel {} failed: {e}\n\
         The kernel checks passed (BPF LSM active, BTF and kfuncs present), so this is most likely the verifier \
         rejecting a program on this kernel (its log, when there is one, is above).",
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
