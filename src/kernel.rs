//! What the running kernel offers the gate: API filesystems mounted, the BPF LSM active, BTF and each kfunc
//! present. Failures name what is missing and what to change.

use std::fs;
use std::path::Path;

use libbpf_rs::btf::types::Func;
use libbpf_rs::btf::Btf;

use crate::error::Error;
use crate::sys;

pub const BPFFS: &str = "/sys/fs/bpf";
const SECURITYFS: &str = "/sys/kernel/security";
const LSM_LIST: &str = "/sys/kernel/security/lsm";
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// kfuncs the gate calls, with the kernel that brought them.
const KFUNCS: &[(&str, &str)] = &[
    ("bpf_get_fsverity_digest", "6.8"),
    ("bpf_get_file_xattr", "6.8"),
    ("bpf_lookup_user_key", "6.1"),
    ("bpf_key_put", "6.1"),
    ("bpf_verify_pkcs7_signature", "6.1"),
    ("bpf_dynptr_adjust", "6.4"),
    ("bpf_rcu_read_lock", "6.2"),
    ("bpf_rcu_read_unlock", "6.2"),
];
/// LSM hooks the gate attaches to.
const HOOKS: &[&str] = &[
    "bpf_lsm_bprm_committed_creds",
    "bpf_lsm_task_alloc",
    "bpf_lsm_bpf",
    "bpf_lsm_inode_setxattr",
    "bpf_lsm_inode_post_setxattr",
    "bpf_lsm_inode_removexattr",
    "bpf_lsm_inode_post_removexattr",
    "bpf_lsm_kernel_read_file",
    "bpf_lsm_kernel_load_data",
    "bpf_lsm_kernel_module_request",
    "bpf_lsm_locked_down",
    "bpf_lsm_key_permission",
    "bpf_lsm_mmap_file",
    "bpf_lsm_file_mprotect",
    "bpf_lsm_ptrace_access_check",
    "bpf_lsm_ptrace_traceme",
    "bpf_lsm_bpf_map",
    "bpf_lsm_bpf_prog",
    "bpf_lsm_inode_unlink",
    "bpf_lsm_inode_rmdir",
    "bpf_lsm_inode_rename",
    "bpf_lsm_sb_mount",
    "bpf_lsm_move_mount",
    "bpf_lsm_sb_umount",
];
/// Appeared in 6.15 with the change that lets BPF read `security.bpf.*` xattrs.
const SECURITY_BPF_XATTR_MARKER: &str = "bpf_set_dentry_xattr";

/// Kernel features the gate will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    pub release: String,
    /// BPF can read `security.bpf.*` xattrs (kernel >= 6.15).
    pub security_bpf_xattr: bool,
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
        sys::mount(fstype, path, flags, data).map_err(|e| Error::Mount(fstype, path.into(), e))?;
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
    let btf = Btf::from_vmlinux()
        .map_err(|e| Error::Kernel(format!("reading kernel BTF {VMLINUX_BTF}: {e}")))?;
    let has = |name: &str| btf.type_by_name::<Func<'_>>(name).is_some();
    let missing: Vec<String> = KFUNCS
        .iter()
        .filter(|(n, _)| !has(n))
        .map(|(n, since)| format!("kfunc {n} (Linux {since})"))
        .chain(
            HOOKS
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
    })
}
