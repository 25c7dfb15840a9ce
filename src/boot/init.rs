//! Embedded init mode: bpfgate as the initramfs's `/init` (PID 1), for appliances with no shell in the initramfs.
//!
//! Mounts /proc, /sys, /dev (then securityfs and bpffs), loads the modules listed in `/etc/bpfgate/modules`, loads
//! the gate, mounts the real root from `root=` (a device path, `UUID=` or `LABEL=` of an ext2/3/4 filesystem),
//! `rootfstype=`, `rootflags=`, `ro`/`rw`, waiting for the device, moves /dev, /proc and /sys (with the bpffs and
//! its pins) into it, switches root and execs `init=` or `/sbin/init`.
//!
//! The initramfs trust window is open while bpfgate runs here (it is the initramfs's only program) and closes when
//! it execs the real init as PID 1: that init is judged on its own signature at its exec, like every other program,
//! and bpfgate's own exemption as the loader ends with that exec. Failure policy (`bpfgate.required=`, default 1): when the gate cannot load, a
//! required gate stops the boot with the reason on the console; an optional one logs a warning and boots on.

use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::boot::cmdline::{self, Cmdline};
use crate::load::gate;
use crate::policy::{self, Mode};
use crate::sys;

const NEW_ROOT: &str = "/root";
const MODULE_LIST: &str = "/etc/bpfgate/modules";

/// Runs the init sequence; returns only if it could not exec the real init (the caller then halts).
pub fn run() -> String {
    match boot() {
        Ok(never) => match never {},
        Err(reason) => reason,
    }
}

/// Progress goes to the kernel log, which the console shows at the kernel's console log level (not with `quiet`).
fn say(msg: &str) {
    log::info!("{msg}");
}

enum Never {}

fn boot() -> Result<Never, String> {
    let early: [(&str, &str, libc::c_ulong); 3] = [
        (
            "proc",
            "/proc",
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        ),
        (
            "sysfs",
            "/sys",
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        ),
        ("devtmpfs", "/dev", libc::MS_NOSUID),
    ];
    for (fstype, dir, flags) in early {
        let _ = fs::create_dir_all(dir);
        if let Err(e) = sys::mount(fstype, Path::new(dir), Some(fstype), flags, None) {
            if e.raw_os_error() != Some(libc::EBUSY) {
                return Err(format!("mounting {fstype} on {dir}: {e}"));
            }
        }
    }
    // Only now does /dev/kmsg exist.
    crate::logging::init(crate::logging::Sink::Kmsg, false);
    let line = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let cmd = cmdline::parse(&line);
    for w in &cmd.warnings {
        log::warn!("kernel command line: {w}");
    }
    if cmd.dropped_warnings > 0 {
        log::warn!(
            "kernel command line: {} more warnings",
            cmd.dropped_warnings
        );
    }

    load_modules();
    // The one policy parser: built-in and baked defaults, this initramfs's config file, the command line.
    let (policy, warnings) = match gate::boot_policy(Some(Path::new(policy::CONFIG_PATH))) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("{e}: using the built-in policy and the kernel command line");
            gate::boot_policy(None).unwrap_or_default()
        }
    };
    for w in &warnings.list {
        log::warn!("policy: {w}");
    }
    if warnings.dropped > 0 {
        log::warn!("policy: {} more warnings", warnings.dropped);
    }
    match policy.mode {
        Mode::Off => log::warn!("bpfgate=off (mode = off): booting WITHOUT the gate"),
        Mode::Enforce | Mode::Audit => match gate::load(&policy) {
            Ok(summary) => say(&summary),
            Err(e) if policy.required => {
                return Err(format!(
                    "the gate could not be loaded and bpfgate.required=1: {e}"
                ));
            }
            Err(e) => {
                log::error!("the gate could not be loaded: {e}");
                say("WARNING: booting WITHOUT the gate (bpfgate.required=0)");
            }
        },
    }

    let device = wait_for_root(&cmd)?;
    mount_root(&device, &cmd)?;
    switch_root()?;
    exec_init(&cmd)
}

/// Loads the modules the initramfs builder listed (one path per line), in order. A module that fails is logged;
/// the root device may not need it.
fn load_modules() {
    let Ok(list) = fs::read_to_string(MODULE_LIST) else {
        return;
    };
    for path in list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let result = fs::File::open(path).and_then(|f| sys::finit_module(f.as_fd()));
        match result {
            Ok(()) => log::info!("loaded module {path}"),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => log::warn!("loading module {path}: {e}"),
        }
    }
}

/// Resolves `root=` to a device node, polling until it appears or the timeout passes.
fn wait_for_root(cmd: &Cmdline) -> Result<PathBuf, String> {
    let root = cmd
        .root
        .as_deref()
        .ok_or("no root= on the kernel command line: nothing to boot")?;
    let deadline = Instant::now() + Duration::from_secs(cmd.root_timeout.into());
    let mut announced = false;
    loop {
        if let Some(dev) = find_device(root) {
            return Ok(dev);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "root device {root} did not appear within {}s (rootdelay= or bpfgate.root_timeout= to wait longer; \
                 is its driver built in or listed in {MODULE_LIST}?)",
                cmd.root_timeout
            ));
        }
        if !announced {
            say(&format!(
                "waiting up to {}s for root device {root}",
                cmd.root_timeout
            ));
            announced = true;
        }
        sleep(Duration::from_millis(100));
    }
}

fn find_device(root: &str) -> Option<PathBuf> {
    if let Some(uuid) = root.strip_prefix("UUID=") {
        return block_devices()
            .find(|d| ext_ids(d).is_some_and(|(u, _)| u.eq_ignore_ascii_case(uuid)));
    }
    if let Some(label) = root.strip_prefix("LABEL=") {
        return block_devices().find(|d| ext_ids(d).is_some_and(|(_, l)| l == label));
    }
    let p = PathBuf::from(root);
    p.exists().then_some(p)
}

/// Every block device the kernel knows, as its devtmpfs node.
fn block_devices() -> impl Iterator<Item = PathBuf> {
    fs::read_dir("/sys/class/block")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| Path::new("/dev").join(e.file_name()))
}

/// (UUID, label) of an ext2/3/4 filesystem on `dev`.
fn ext_ids(dev: &Path) -> Option<(String, String)> {
    let mut sb = [0u8; 2048];
    fs::File::open(dev).ok()?.read_exact(&mut sb).ok()?;
    ext_ids_from(&sb)
}

/// Parses the ext2/3/4 superblock at byte 1024 of `head`.
pub fn ext_ids_from(head: &[u8]) -> Option<(String, String)> {
    let sb = head.get(1024..1024 + 0x88)?;
    if sb[0x38..0x3a] != [0x53, 0xef] {
        return None;
    }
    let u = &sb[0x68..0x78];
    let hex =
        |r: std::ops::Range<usize>| u[r].iter().map(|b| format!("{b:02x}")).collect::<String>();
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    );
    let label = &sb[0x78..0x88];
    let end = label.iter().position(|b| *b == 0).unwrap_or(label.len());
    Some((uuid, String::from_utf8_lossy(&label[..end]).into_owned()))
}

fn mount_root(dev: &Path, cmd: &Cmdline) -> Result<(), String> {
    let _ = fs::create_dir_all(NEW_ROOT);
    let flags = if cmd.read_only { libc::MS_RDONLY } else { 0 };
    let source = dev.to_string_lossy();
    let types: Vec<&str> = match cmd.rootfstype.as_deref() {
        Some(t) => vec![t],
        None => vec!["ext4", "btrfs", "f2fs", "xfs", "ext3", "ext2"],
    };
    let mut last = None;
    for t in &types {
        match sys::mount(
            &source,
            Path::new(NEW_ROOT),
            Some(t),
            flags,
            cmd.rootflags.as_deref(),
        ) {
            Ok(()) => {
                say(&format!(
                    "mounted {source} ({t}, {}) on {NEW_ROOT}",
                    if cmd.read_only { "ro" } else { "rw" }
                ));
                return Ok(());
            }
            Err(e) => last = Some(format!("{t}: {e}")),
        }
    }
    Err(format!(
        "mounting root {source} failed ({}); set rootfstype= and rootflags= if it is not ext4",
        last.unwrap_or_default()
    ))
}

/// Moves the API filesystems into the new root (bpffs and its pins travel with /sys), then makes it `/`.
fn switch_root() -> Result<(), String> {
    for dir in ["/dev", "/proc", "/sys"] {
        let target = Path::new(NEW_ROOT).join(&dir[1..]);
        if !target.is_dir() {
            return Err(format!(
                "the new root has no {} directory to move {dir} into",
                target.display()
            ));
        }
        sys::mount(dir, &target, None, libc::MS_MOVE, None)
            .map_err(|e| format!("moving {dir}: {e}"))?;
    }
    std::env::set_current_dir(NEW_ROOT).map_err(|e| format!("chdir {NEW_ROOT}: {e}"))?;
    sys::mount(".", Path::new("/"), None, libc::MS_MOVE, None)
        .map_err(|e| format!("moving the new root to /: {e}"))?;
    sys::chroot(Path::new(".")).map_err(|e| format!("chroot: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))
}

fn exec_init(cmd: &Cmdline) -> Result<Never, String> {
    let candidates: Vec<&str> = match cmd.init.as_deref() {
        Some(i) => vec![i],
        None => vec!["/sbin/init", "/etc/init", "/bin/init", "/bin/sh"],
    };
    let mut errors = Vec::new();
    for init in candidates {
        let e = sys::execv(Path::new(init), &[init]);
        errors.push(format!("{init}: {e}"));
    }
    Err(format!(
        "no init to run in the new root ({})",
        errors.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_superblock_ids() {
        let mut head = vec![0u8; 2048];
        head[1024 + 0x38] = 0x53;
        head[1024 + 0x39] = 0xef;
        let uuid: [u8; 16] = [
            0x0b, 0xfa, 0x7e, 0x00, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0x01,
        ];
        head[1024 + 0x68..1024 + 0x78].copy_from_slice(&uuid);
        head[1024 + 0x78..1024 + 0x78 + 12].copy_from_slice(b"bpfgate-root");
        let (u, l) = ext_ids_from(&head).unwrap();
        assert_eq!(u, "0bfa7e00-0000-4000-8000-000000000001");
        assert_eq!(l, "bpfgate-root");
        head[1024 + 0x38] = 0;
        assert!(ext_ids_from(&head).is_none(), "no ext magic");
        assert!(ext_ids_from(&head[..100]).is_none(), "short read");
    }
}
