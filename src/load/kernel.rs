//! What the running kernel offers the gate: API filesystems mounted, the BPF LSM active, BTF and each kfunc
//! present. Failures name what is missing and what to change.

use std::fs;
use std::path::Path;

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

use crate::error::Error;
use crate::sys;

pub const BPFFS: &str = "/sys/fs/bpf";
const SECURITYFS: &str = "/sys/kernel/security";
pub(crate) const LSM_LIST: &str = "/sys/kernel/security/lsm";
pub(crate) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// kfuncs the gate calls, with the kernel that brought them.
pub(crate) const KFUNCS: &[(&str, &str)] = &[
    ("bpf_get_fsverity_digest", "6.8"),
    ("bpf_get_file_xattr", "6.8"),
    ("bpf_lookup_user_key", "6.1"),
    ("bpf_key_put", "6.1"),
    ("bpf_verify_pkcs7_signature", "6.1"),
    ("bpf_dynptr_adjust", "6.4"),
    ("bpf_rcu_read_lock", "6.2"),
    ("bpf_rcu_read_unlock", "6.2"),
    ("bpf_iter_num_new", "6.4"),
    ("bpf_iter_num_next", "6.4"),
    ("bpf_iter_num_destroy", "6.4"),
];
/// The LSM hooks the gate's programs attach to (`bpf_lsm_HOOK`, as kernel BTF names them), from the object's own
/// program list: nothing to keep in step by hand.
pub(crate) fn hooks() -> Vec<String> {
    crate::load::skel::programs::PROGRAMS
        .iter()
        .filter_map(|(_, _, section)| lsm_hook(section))
        .map(|hook| format!("bpf_lsm_{hook}"))
        .collect()
}

/// Every name the gate looks for in kernel BTF: its kfuncs, its hooks (`hooks()`), the feature markers.
pub(crate) fn wanted_btf_names(hooks: &[String]) -> Vec<&str> {
    KFUNCS
        .iter()
        .map(|(n, _)| *n)
        .chain(hooks.iter().map(String::as_str))
        .chain([SECURITY_BPF_XATTR_MARKER, PROG_SIGNING_MARKER])
        .collect()
}

/// The hook of an LSM program's section (`lsm/HOOK`, `lsm.s/HOOK`).
pub(crate) fn lsm_hook(section: &str) -> Option<&str> {
    section
        .strip_prefix("lsm/")
        .or_else(|| section.strip_prefix("lsm.s/"))
}
/// Appeared in 6.15 with the change that lets BPF read `security.bpf.*` xattrs.
pub(crate) const SECURITY_BPF_XATTR_MARKER: &str = "bpf_set_dentry_xattr";

/// A struct bpf_map member that appeared in 6.18 with BPF program signing (maps bound to one program's hash).
pub(crate) const PROG_SIGNING_MARKER: &str = "excl_prog_sha";

/// Kernel features the gate will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    pub release: String,
    /// BPF can read `security.bpf.*` xattrs (kernel >= 6.15).
    pub security_bpf_xattr: bool,
    /// BPF_PROG_LOAD takes a signature and a keyring (kernel >= 6.18): policy bpf.signed can apply.
    pub prog_signing: bool,
}

/// Mounts sysfs, securityfs and bpffs where they are missing (the initramfs has none of them).
pub fn mount_api_filesystems() -> Result<(), Error> {
    let want: [(&'static str, &str, i64); 3] = [
        ("sysfs", "/sys", sys::SYSFS_MAGIC),
        ("securityfs", SECURITYFS, sys::SECURITYFS_MAGIC),
        ("bpf", BPFFS, sys::BPF_FS_MAGIC),
    ];
    for (fstype, dir, magic) in want {
        let path = Path::new(dir);
        if sys::fs_type(path).is_ok_and(|t| t == magic) {
            continue;
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // bpffs pins are for root only: mode 0700 on the mount root.
        let data = (fstype == "bpf").then_some("mode=0700");
        sys::mount(fstype, path, Some(fstype), flags, data)
            .map_err(|e| Error::Mount(fstype, path.into(), e))?;
        log::debug!("mounted {fstype} on {dir}");
    }
    Ok(())
}

/// The active LSMs, from securityfs.
pub fn active_lsms() -> Result<String, Error> {
    fs::read_to_string(LSM_LIST)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::Kernel(format!("cannot read the active LSM list {LSM_LIST}: {e}")))
}

/// Checks everything the gate needs and reports the features it can use.
pub fn probe() -> Result<Features, Error> {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let lsms = active_lsms()?;
    if !lsms.split(',').any(|l| l == "bpf") {
        return Err(Error::Kernel(format!(
            "the BPF LSM is not active on kernel {release} (active: {lsms}).\n\
             Add it to the kernel command line: lsm={lsms},bpf (the kernel needs CONFIG_BPF_LSM=y)."
        )));
    }
    if !Path::new(VMLINUX_BTF).exists() {
        return Err(Error::Kernel(format!(
            "kernel {release} exposes no BTF at {VMLINUX_BTF}: it needs CONFIG_DEBUG_INFO_BTF=y \
             (and sysfs mounted on /sys)."
        )));
    }
    let hooks = hooks();
    let present = btf_names(Path::new(VMLINUX_BTF), &wanted_btf_names(&hooks))
        .map_err(|e| Error::Kernel(format!("reading kernel BTF {VMLINUX_BTF}: {e}")))?;
    let has = |name: &str| present.contains(name);
    let missing: Vec<String> = KFUNCS
        .iter()
        .filter(|(n, _)| !has(n))
        .map(|(n, since)| format!("kfunc {n} (Linux {since})"))
        .chain(
            hooks
                .iter()
                .filter(|n| !has(n))
                .map(|n| format!("LSM hook {}", &n["bpf_lsm_".len()..])),
        )
        .collect();
    if !missing.is_empty() {
        return Err(Error::Kernel(format!(
            "kernel {release} lacks what the gate needs: {}.\nbpfgate needs Linux 6.12 or newer with \
             CONFIG_BPF_LSM, CONFIG_FS_VERITY and CONFIG_SYSTEM_DATA_VERIFICATION.",
            missing.join(", ")
        )));
    }
    Ok(Features {
        release,
        security_bpf_xattr: has(SECURITY_BPF_XATTR_MARKER),
        prog_signing: has(PROG_SIGNING_MARKER),
    })
}

/// Whether the gate reads `security.bpf.bpfgate.sig` first on this kernel (>= 6.15; false when BTF is unreadable).
pub fn reads_security_xattr() -> bool {
    btf_names(Path::new(VMLINUX_BTF), &[SECURITY_BPF_XATTR_MARKER])
        .is_ok_and(|s| s.contains(SECURITY_BPF_XATTR_MARKER))
}

/// Which of `wanted` appear in a BTF blob's string section. Streams just that section instead of parsing the
/// whole BTF: kernel BTF is several MiB, and libbpf reads it once more to load the gate.
pub(crate) fn btf_names(path: &Path, wanted: &[&str]) -> std::io::Result<HashSet<String>> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let mut f = fs::File::open(path)?;
    let mut hdr = [0u8; 24];
    f.read_exact(&mut hdr)?;
    let u32_at = |i: usize| u32::from_le_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
    if hdr[..2] != [0x9f, 0xeb] {
        return Err(bad("not little-endian BTF (bad magic)"));
    }
    let (hdr_len, str_off, str_len) = (
        u64::from(u32_at(4)),
        u64::from(u32_at(16)),
        u64::from(u32_at(20)),
    );
    f.seek(SeekFrom::Start(hdr_len + str_off))?;
    let wanted: HashSet<&[u8]> = wanted.iter().map(|w| w.as_bytes()).collect();
    let mut found = HashSet::new();
    let mut reader = f.take(str_len);
    let (mut buf, mut carry) = (vec![0u8; 1 << 16], Vec::new());
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for part in buf[..n].split_inclusive(|b| *b == 0) {
            carry.extend_from_slice(part);
            if carry.last() == Some(&0) {
                let name = &carry[..carry.len() - 1];
                if wanted.contains(name) {
                    found.insert(String::from_utf8_lossy(name).into_owned());
                }
                carry.clear();
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob with no types and the given string section.
    fn blob(strings: &[u8]) -> Vec<u8> {
        let mut b = vec![0x9f, 0xeb, 1, 0];
        b.extend_from_slice(&24u32.to_le_bytes()); // hdr_len
        b.extend_from_slice(&0u32.to_le_bytes()); // type_off
        b.extend_from_slice(&0u32.to_le_bytes()); // type_len
        b.extend_from_slice(&0u32.to_le_bytes()); // str_off
        b.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        b.extend_from_slice(strings);
        b
    }

    #[test]
    fn finds_names_in_the_string_section_only() {
        let dir = std::env::temp_dir().join(format!("bpfgate-btf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("btf");
        // A long first string pushes names across the 64 KiB read boundary.
        let mut strings = vec![0u8];
        strings.extend(std::iter::repeat_n(b'x', 70_000));
        strings.extend_from_slice(b"\0bpf_key_put\0bpf_lsm_bpf\0");
        let mut data = blob(&strings);
        data.extend_from_slice(b"bpf_verify_pkcs7_signature\0"); // past str_len: not a string of this BTF
        std::fs::write(&path, &data).unwrap();
        let found = btf_names(
            &path,
            &[
                "bpf_key_put",
                "bpf_lsm_bpf",
                "bpf_verify_pkcs7_signature",
                "bpf_key",
            ],
        )
        .unwrap();
        assert_eq!(
            found,
            ["bpf_key_put", "bpf_lsm_bpf"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        std::fs::write(&path, b"not btf at all, long enough for a header").unwrap();
        assert!(btf_names(&path, &["x"])
            .unwrap_err()
            .to_string()
            .contains("magic"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
