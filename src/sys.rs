//! Thin wrappers over the raw system calls bpfgate needs, each returning `io::Result`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// `KEY_SPEC_USER_KEYRING`: the caller's user keyring (`_uid.N`), which lives as long as its user namespace.
pub const KEY_SPEC_USER_KEYRING: i32 = -4;
/// `KEY_SPEC_PROCESS_KEYRING`: a keyring that lives as long as this process.
pub const KEY_SPEC_PROCESS_KEYRING: i32 = -2;
const KEYCTL_SETPERM: libc::c_int = 5;
const KEYCTL_LINK: libc::c_int = 8;
const KEYCTL_UNLINK: libc::c_int = 9;
const KEYCTL_RESTRICT_KEYRING: libc::c_int = 29;

/// Filesystem magic numbers (`statfs.f_type`).
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
pub const SECURITYFS_MAGIC: i64 = 0x7363_6673;
pub const SYSFS_MAGIC: i64 = 0x6265_6572;

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{s:?} contains a NUL byte"),
        )
    })
}

fn cpath(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} contains a NUL byte", p.display()),
        )
    })
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `add_key(2)`: adds a key of `kind` to `keyring`; `desc` None lets the key type describe it.
pub fn add_key(kind: &str, desc: Option<&str>, payload: &[u8], keyring: i32) -> io::Result<i32> {
    let kind = cstr(kind)?;
    let desc = desc.map(cstr).transpose()?;
    let desc_ptr = desc.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
    let payload_ptr = if payload.is_empty() {
        std::ptr::null()
    } else {
        payload.as_ptr()
    };
    // SAFETY: every pointer is valid for the call (NUL-terminated strings, payload of payload.len() bytes, or null
    // with length 0); the kernel copies them and keeps no reference.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            kind.as_ptr(),
            desc_ptr,
            payload_ptr,
            payload.len(),
            keyring,
        )
    };
    check(ret).map(|s| s as i32)
}

fn keyctl(
    op: libc::c_int,
    a2: libc::c_ulong,
    a3: libc::c_ulong,
    a4: libc::c_ulong,
) -> io::Result<libc::c_long> {
    // SAFETY: keyctl takes integers or pointers that the callers below pass valid (or null) for the operation.
    check(unsafe { libc::syscall(libc::SYS_keyctl, op, a2, a3, a4, 0 as libc::c_ulong) })
}

/// `KEYCTL_SETPERM`.
pub fn key_setperm(key: i32, perm: u32) -> io::Result<()> {
    keyctl(KEYCTL_SETPERM, key as libc::c_ulong, perm.into(), 0).map(drop)
}

/// `KEYCTL_RESTRICT_KEYRING` with no type: the keyring takes no further links at all.
pub fn keyring_close(keyring: i32) -> io::Result<()> {
    keyctl(KEYCTL_RESTRICT_KEYRING, keyring as libc::c_ulong, 0, 0).map(drop)
}

/// `KEYCTL_LINK`: links `key` into `keyring`.
pub fn key_link(key: i32, keyring: i32) -> io::Result<()> {
    keyctl(
        KEYCTL_LINK,
        key as libc::c_ulong,
        keyring as libc::c_ulong,
        0,
    )
    .map(drop)
}

/// `KEYCTL_UNLINK`.
pub fn key_unlink(key: i32, keyring: i32) -> io::Result<()> {
    keyctl(
        KEYCTL_UNLINK,
        key as libc::c_ulong,
        keyring as libc::c_ulong,
        0,
    )
    .map(drop)
}

/// `pidfd_open(2)` on this process.
pub fn pidfd_self() -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) })?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `mount(2)`: `source` on `target`; `fstype` None for moves and binds.
pub fn mount(
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let (src, tgt) = (cstr(source)?, cpath(target)?);
    let fs = fstype.map(cstr).transpose()?;
    let data = data.map(cstr).transpose()?;
    let fs_ptr = fs.as_ref().map_or(std::ptr::null(), |f| f.as_ptr());
    let data_ptr = data
        .as_ref()
        .map_or(std::ptr::null(), |d| d.as_ptr().cast());
    // SAFETY: NUL-terminated strings valid for the call; fstype and data are null or strings.
    check(unsafe { libc::mount(src.as_ptr(), tgt.as_ptr(), fs_ptr, flags, data_ptr) }.into())
        .map(drop)
}

/// `chroot(2)`.
pub fn chroot(dir: &Path) -> io::Result<()> {
    let d = cpath(dir)?;
    // SAFETY: d is a valid NUL-terminated path.
    check(unsafe { libc::chroot(d.as_ptr()) }.into()).map(drop)
}

/// `finit_module(2)` with no parameters.
pub fn finit_module(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fd is open; the parameter string is an empty NUL-terminated string.
    check(unsafe { libc::syscall(libc::SYS_finit_module, fd.as_raw_fd(), c"".as_ptr(), 0) })
        .map(drop)
}

/// `reboot(2)` with RB_HALT_SYSTEM: stops the machine with the console as it is.
pub fn halt() -> io::Error {
    // SAFETY: plain integer argument; on success it does not return.
    unsafe { libc::reboot(libc::RB_HALT_SYSTEM) };
    io::Error::last_os_error()
}

/// `execv(2)`; returns only on failure.
pub fn execv(path: &Path, args: &[&str]) -> io::Error {
    let p = match cpath(path) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let args: Vec<CString> = match args.iter().map(|a| cstr(a)).collect() {
        Ok(a) => a,
        Err(e) => return e,
    };
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: p and every argv entry are NUL-terminated strings that outlive the call; argv ends with null.
    unsafe { libc::execv(p.as_ptr(), argv.as_ptr()) };
    io::Error::last_os_error()
}

/// `statfs(2)`'s filesystem type of `path`.
pub fn fs_type(path: &Path) -> io::Result<i64> {
    let p = cpath(path)?;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: p is a valid string; st is a writable statfs.
    check(unsafe { libc::statfs(p.as_ptr(), st.as_mut_ptr()) }.into())?;
    // SAFETY: statfs succeeded and filled the struct.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // f_type's integer type differs between architectures
    Ok(st.f_type as i64)
}

/// `FS_IOC_ENABLE_VERITY` with sha256 and `block_size`, no salt, no builtin signature.
pub fn enable_verity(fd: BorrowedFd<'_>, block_size: u32) -> io::Result<()> {
    #[repr(C)]
    struct FsverityEnableArg {
        version: u32,
        hash_algorithm: u32,
        block_size: u32,
        salt_size: u32,
        salt_ptr: u64,
        sig_size: u32,
        reserved1: u32,
        sig_ptr: u64,
        reserved2: [u64; 11],
    }
    const FS_IOC_ENABLE_VERITY: libc::c_ulong = 0x4080_6685; // _IOW('f', 133, struct fsverity_enable_arg)
    let arg = FsverityEnableArg {
        version: 1,
        hash_algorithm: 1,
        block_size,
        salt_size: 0,
        salt_ptr: 0,
        sig_size: 0,
        reserved1: 0,
        sig_ptr: 0,
        reserved2: [0; 11],
    };
    // SAFETY: arg is a fully initialised struct fsverity_enable_arg that outlives the call.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_ENABLE_VERITY, &arg) }.into()).map(drop)
}

/// `FS_IOC_MEASURE_VERITY`: (algorithm, digest), or ENODATA when the file has no fs-verity.
pub fn measure_verity(fd: BorrowedFd<'_>) -> io::Result<(u16, Vec<u8>)> {
    const FS_IOC_MEASURE_VERITY: libc::c_ulong = 0xc004_6686; // _IOWR('f', 134, struct fsverity_digest)
    let mut buf = [0u8; 4 + 64];
    buf[2..4].copy_from_slice(&64u16.to_ne_bytes());
    // SAFETY: buf is a struct fsverity_digest header followed by room for digest_size (64) bytes.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_MEASURE_VERITY, buf.as_mut_ptr()) }.into())?;
    let alg = u16::from_ne_bytes([buf[0], buf[1]]);
    let size = usize::from(u16::from_ne_bytes([buf[2], buf[3]])).min(64);
    Ok((alg, buf[4..4 + size].to_vec()))
}

/// `fsetxattr(2)`.
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: name is NUL-terminated, value valid for value.len() bytes.
    check(
        unsafe {
            libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        }
        .into(),
    )
    .map(drop)
}

/// `fgetxattr(2)` into a buffer of at most `max` bytes: the value, or ERANGE when it is larger.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; max];
    // SAFETY: name is NUL-terminated; buf is valid for buf.len() bytes.
    let n = check(
        unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        }
        .try_into()
        .unwrap_or(-1),
    )?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// `FS_IOC_READ_VERITY_METADATA` of the descriptor: (hash algorithm, log2 of the block size).
pub fn verity_descriptor(fd: BorrowedFd<'_>) -> io::Result<(u8, u8)> {
    const FS_IOC_READ_VERITY_METADATA: libc::c_ulong = 0xc028_6687; // _IOWR('f', 135, 40-byte arg)
    const FS_VERITY_METADATA_TYPE_DESCRIPTOR: u64 = 2;
    let mut desc = [0u8; 256];
    let arg: [u64; 5] = [
        FS_VERITY_METADATA_TYPE_DESCRIPTOR,
        0,
        desc.len() as u64,
        desc.as_mut_ptr() as u64,
        0,
    ];
    // SAFETY: arg is a struct fsverity_read_metadata_arg whose buffer (desc) outlives the call.
    let n = check(
        unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_READ_VERITY_METADATA, arg.as_ptr()) }.into(),
    )?;
    if n < 3 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok((desc[1], desc[2]))
}

/// `KEYCTL_PKEY_VERIFY`: checks `sig` over the message digest `data` with public key `key`; `info` like
/// "enc=pkcs1 hash=sha256". Ok means the signature verifies.
pub fn pkey_verify(key: i32, info: &str, data: &[u8], sig: &[u8]) -> io::Result<()> {
    const KEYCTL_PKEY_VERIFY: libc::c_long = 28;
    // struct keyctl_pkey_params { __s32 key_id; __u32 in_len; __u32 in2_len; __u32 __spare[7]; }
    let mut params = [0u32; 10];
    params[0] = key as u32;
    params[1] = u32::try_from(data.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    params[2] = u32::try_from(sig.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let info = cstr(info)?;
    // SAFETY: params is a keyctl_pkey_params; info is NUL-terminated; data and sig are valid for the lengths given
    // in params; the kernel only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_PKEY_VERIFY,
            params.as_ptr(),
            info.as_ptr(),
            data.as_ptr(),
            sig.as_ptr(),
        )
    };
    check(ret).map(drop)
}
