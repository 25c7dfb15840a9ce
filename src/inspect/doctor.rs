//! `bpfgate doctor [PATH]`: checks the running kernel and a filesystem for everything the gate needs, without
//! changing anything, and says what to change for each failure.

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::load::kernel::{
    self, KFUNCS, LSM_LIST, PROG_SIGNING_MARKER, SECURITY_BPF_XATTR_MARKER, VMLINUX_BTF,
};
use crate::sys;

/// One finding.
#[derive(Debug)]
pub struct Finding {
    /// None: information only.
    pub ok: Option<bool>,
    pub what: String,
    pub fix: Option<String>,
}

pub(crate) fn ok(what: impl Into<String>) -> Finding {
    Finding {
        ok: Some(true),
        what: what.into(),
        fix: None,
    }
}

pub(crate) fn fail(what: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        ok: Some(false),
        what: what.into(),
        fix: Some(fix.into()),
    }
}

pub(crate) fn info(what: impl Into<String>) -> Finding {
    Finding {
        ok: None,
        what: what.into(),
        fix: None,
    }
}

/// (major, minor) of a kernel release string.
pub fn version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

const EXT4_SUPER_MAGIC: i64 = 0xef53;
const BTRFS_SUPER_MAGIC: i64 = 0x9123_683e;
const F2FS_SUPER_MAGIC: i64 = 0xf2f5_2010;
const EXT4_FEATURE_RO_COMPAT_VERITY: u32 = 0x8000;

/// The device mounted at `mount` (from /proc/self/mountinfo), when it is a block device path.
fn device_of(mount: &Path) -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let target = mount.to_str()?;
    // Fields: id parent maj:min root mountpoint options ... - fstype source superoptions. Last match wins.
    info.lines()
        .rev()
        .filter(|l| l.split(' ').nth(4) == Some(target))
        .find_map(|l| l.split(" - ").nth(1)?.split(' ').nth(1).map(str::to_string))
        .filter(|s| s.starts_with("/dev/"))
}

/// Whether an ext4 superblock (1024 bytes in) has the verity feature.
pub fn ext4_has_verity(head: &[u8]) -> Option<bool> {
    let sb = head.get(1024..1024 + 0x68)?;
    if sb[0x38..0x3a] != [0x53, 0xef] {
        return None;
    }
    let ro_compat = u32::from_le_bytes(sb[0x64..0x68].try_into().ok()?);
    Some(ro_compat & EXT4_FEATURE_RO_COMPAT_VERITY != 0)
}

/// fs-verity on the filesystem holding `path`.
fn filesystem(path: &Path) -> Finding {
    let magic = match sys::fs_type(path) {
        Ok(m) => m,
        Err(e) => return fail(format!("{}: {e}", path.display()), "give an existing path"),
    };
    let name = match magic {
        EXT4_SUPER_MAGIC => "ext4",
        BTRFS_SUPER_MAGIC => "btrfs",
        F2FS_SUPER_MAGIC => "f2fs",
        _ => {
            return fail(
                format!(
                    "{} is on a filesystem without fs-verity (magic {magic:#x}): signed loaders cannot live there",
                    path.display()
                ),
                "keep signed loaders on ext4 (made or tuned with -O verity), btrfs or f2fs",
            )
        }
    };
    if magic != EXT4_SUPER_MAGIC {
        return ok(format!(
            "{} is on {name}, which supports fs-verity",
            path.display()
        ));
    }
    if !Path::new("/sys/fs/ext4/features/verity").exists() {
        return fail(
            "this kernel's ext4 has no fs-verity support",
            "use a kernel built with CONFIG_FS_VERITY=y",
        );
    }
    // The verity feature flag is in the superblock of the device: readable by root.
    let mount = mount_point(path);
    let Some(dev) = mount.as_deref().and_then(device_of) else {
        return info(format!(
            "{} is on ext4; could not find its device to read the verity feature (check with `tune2fs -l`)",
            path.display()
        ));
    };
    let mut head = vec![0u8; 2048];
    let read = fs::File::open(&dev).and_then(|mut f| f.read_exact(&mut head));
    match read.map(|()| ext4_has_verity(&head)) {
        Ok(Some(true)) => ok(format!(
            "{} is on ext4 {dev} with the verity feature",
            path.display()
        )),
        Ok(Some(false)) => fail(
            format!(
                "{} is on ext4 {dev} without the verity feature",
                path.display()
            ),
            format!("tune2fs -O verity {dev} (or mkfs.ext4 -O verity)"),
        ),
        Ok(None) => info(format!(
            "{dev} does not carry an ext4 superblock where expected"
        )),
        Err(e) => info(format!(
            "reading {dev}: {e} (run as root to check the verity feature)"
        )),
    }
}

/// The mount point holding `path` (the longest mount point that is a prefix of its canonical path).
fn mount_point(path: &Path) -> Option<std::path::PathBuf> {
    let p = fs::canonicalize(path).ok()?;
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(Path::new)
        .filter(|m| p.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
        .map(Path::to_path_buf)
}

/// Every check, in order. `path`: the filesystem to check for fs-verity (default /); `policy`: what `load` would
/// enforce here (for what it needs of the kernel).
pub fn run(path: &Path, policy: &crate::policy::Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let release = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    match version(&release) {
        Some(v) if v >= (6, 12) => out.push(ok(format!("kernel {release} (6.12 or newer)"))),
        _ => out.push(fail(
            format!("kernel {release:?}: bpfgate needs Linux 6.12 or newer"),
            "boot a 6.12 LTS or newer kernel",
        )),
    }
    match kernel::active_lsms() {
        Ok(l) if l.split(',').any(|x| x == "bpf") => {
            out.push(ok(format!("BPF LSM active ({l})")))
        }
        Ok(l) => out.push(fail(
            format!("the BPF LSM is not active (active: {l})"),
            format!("add lsm={l},bpf to the kernel command line (the kernel needs CONFIG_BPF_LSM=y)"),
        )),
        Err(_) if !Path::new(LSM_LIST).exists() => out.push(fail(
            format!("{LSM_LIST} is missing: securityfs is not mounted"),
            "mount -t securityfs securityfs /sys/kernel/security (bpfgate load does this itself), then rerun",
        )),
        Err(e) => out.push(fail(e.to_string(), "run as root")),
    }
    if !Path::new(VMLINUX_BTF).exists() {
        out.push(fail(
            format!("no kernel BTF at {VMLINUX_BTF}"),
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (and sysfs mounted on /sys)",
        ));
    } else {
        let hooks = kernel::hooks();
        match kernel::btf_names(Path::new(VMLINUX_BTF), &kernel::wanted_btf_names(&hooks)) {
            Ok(have) => {
                out.push(ok(format!("kernel BTF at {VMLINUX_BTF}")));
                let missing: Vec<String> = KFUNCS
                    .iter()
                    .filter(|(n, _)| !have.contains(*n))
                    .map(|(n, since)| format!("{n} (Linux {since})"))
                    .collect();
                if missing.is_empty() {
                    out.push(ok(format!("all {} kfuncs present", KFUNCS.len())));
                } else {
                    out.push(fail(
                        format!("missing kfuncs: {}", missing.join(", ")),
                        "use a newer kernel with CONFIG_FS_VERITY and CONFIG_SYSTEM_DATA_VERIFICATION",
                    ));
                }
                let missing: Vec<&str> = hooks
                    .iter()
                    .filter(|n| !have.contains(n.as_str()))
                    .map(|n| &n["bpf_lsm_".len()..])
                    .collect();
                if missing.is_empty() {
                    out.push(ok(format!("all {} LSM hooks present", hooks.len())));
                } else {
                    out.push(fail(
                        format!("missing LSM hooks: {}", missing.join(", ")),
                        "use a 6.12 or newer kernel with CONFIG_BPF_LSM=y",
                    ));
                }
                let security = have.contains(SECURITY_BPF_XATTR_MARKER);
                out.push(info(format!(
                    "signatures are read from {} ({})",
                    crate::signing::verity::read_order(security).join(", then "),
                    if security {
                        "kernel >= 6.15"
                    } else {
                        "this kernel cannot read security.bpf.* xattrs"
                    }
                )));
                let signing = have.contains(PROG_SIGNING_MARKER);
                out.push(info(if signing {
                    "BPF program signing available: policy bpf.signed can let untrusted tasks load signed programs"
                } else {
                    "no BPF program signing (Linux 6.18+): policy bpf.signed has no effect on this kernel"
                }));
                out.extend(signing_profiles(policy, signing));
            }
            Err(e) => out.push(fail(format!("reading {VMLINUX_BTF}: {e}"), "run as root")),
        }
    }
    if Path::new("/proc/keys").exists() {
        out.push(ok("kernel keyrings (CONFIG_KEYS)"));
    } else {
        out.push(fail(
            "no /proc/keys: the kernel has no keyrings",
            "use a kernel with CONFIG_KEYS=y",
        ));
    }
    out.push(filesystem(path));
    out.push(info(if crate::load::gate::status_pin().exists() {
        "the gate is active (bpfgate status)"
    } else {
        "the gate is not loaded"
    }));
    out
}

/// Profiles whose loaders may load only signed programs need a kernel that checks program signatures
/// (`signing`): without one, those loaders load nothing at all. Also `doctor --kernel`'s check.
pub(crate) fn signing_profiles(policy: &crate::policy::Policy, signing: bool) -> Option<Finding> {
    let names = policy.signing_profiles();
    if names.is_empty() {
        return None;
    }
    let names = names.join(", ");
    Some(if signing {
        ok(format!(
            "profile {names} requires signed programs: the kernel checks program signatures"
        ))
    } else {
        fail(
            format!(
                "profile {names} requires signed programs, and this kernel has no BPF program signing: \
                 its loaders would load no programs at all"
            ),
            format!(
                "boot Linux 6.18 or newer, or set profile.NAME.signed_programs = optional for {names} in {}",
                crate::policy::CONFIG_PATH
            ),
        )
    })
}

/// The report; the bool says whether every check passed.
pub fn report(findings: &[Finding]) -> (String, bool) {
    let mut s = String::new();
    for f in findings {
        let tag = match f.ok {
            Some(true) => "ok  ",
            Some(false) => "FAIL",
            None => "info",
        };
        s.push_str(&format!("{tag}  {}\n", f.what));
        if let Some(fix) = &f.fix {
            s.push_str(&format!("      fix: {fix}\n"));
        }
    }
    (s, findings.iter().all(|f| f.ok != Some(false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version("6.12.107+deb13-cloud-amd64"), Some((6, 12)));
        assert_eq!(version("7.2.13+deb14-cloud-amd64"), Some((7, 2)));
        assert_eq!(version("garbage"), None);
        assert!(version("6.1.0-13-amd64").unwrap() < (6, 12));
    }

    #[test]
    fn ext4_verity_flag() {
        let mut head = vec![0u8; 2048];
        assert_eq!(ext4_has_verity(&head), None);
        head[1024 + 0x38] = 0x53;
        head[1024 + 0x39] = 0xef;
        assert_eq!(ext4_has_verity(&head), Some(false));
        head[1024 + 0x65] = 0x80;
        assert_eq!(ext4_has_verity(&head), Some(true));
        assert_eq!(ext4_has_verity(&head[..1100]), None);
    }

    #[test]
    fn report_marks_failures() {
        let (s, all) = report(&[ok("a"), fail("b", "do c"), info("d")]);
        assert!(!all);
        assert_eq!(s, "ok    a\nFAIL  b\n      fix: do c\ninfo  d\n");
    }
}
