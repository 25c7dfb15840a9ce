//! The one error type: a variant per failed step, naming the object and saying how to fix it.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// Bad command line.
    Usage(String),
    /// Built without `BPFGATE_CERTS`: enforcing with no anchor would trust nobody, silently.
    NoCertificates,
    /// Reading or opening a file.
    File(PathBuf, io::Error),
    /// A signature file that is not what `fsverity sign` makes.
    BadSignatureFile(PathBuf, String),
    EnableVerity(PathBuf, io::Error),
    SetXattr(PathBuf, &'static CStr, io::Error),
    /// Mounting a pseudo filesystem.
    Mount(&'static str, PathBuf, io::Error),
    /// The running kernel lacks something the gate needs.
    Kernel(String),
    /// Creating or closing the gate's keyring.
    Keyring(&'static str, io::Error),
    /// A libbpf-rs call failed (counting CPUs, reading a link's id); the load itself is the light skeleton's.
    Bpf(String, libbpf_rs::Error),
    /// Creating or removing the pin directory.
    Pin(PathBuf, io::Error),
    /// The status stream could not be read or parsed.
    Status(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}\nRun `bpfgate --help` for usage."),
            Error::NoCertificates => write!(
                f,
                "this bpfgate was built without trust anchors, so it would trust no loader; refusing to load.\n\
                 Rebuild with the signing certificate(s): BPFGATE_CERTS=/path/cert.pem[:/path/other.der] make"
            ),
            Error::File(p, e) => write!(f, "{}: {e}", p.display()),
            Error::BadSignatureFile(p, why) => write!(f, "{}: not a usable signature: {why}", p.display()),
            Error::EnableVerity(p, e) => {
                write!(f, "{}: enabling fs-verity failed: {e}", p.display())?;
                match e.raw_os_error() {
                    Some(libc::EOPNOTSUPP) | Some(libc::ENOTTY) => write!(
                        f,
                        "\nThe filesystem does not support fs-verity: use ext4 made or tuned with `-O verity` \
                         (tune2fs -O verity DEV), btrfs or f2fs; tmpfs and overlayfs cannot."
                    ),
                    Some(libc::ETXTBSY) => write!(f, "\nThe file is open for writing somewhere; close it first."),
                    Some(libc::EROFS) => write!(f, "\nThe filesystem is mounted read-only; remount it rw to enroll."),
                    _ => Ok(()),
                }
            }
            Error::SetXattr(p, name, e) => {
                write!(f, "{}: setting xattr {} failed: {e}", p.display(), name.to_string_lossy())
            }
            Error::Mount(fs, p, e) => write!(f, "mounting {fs} on {} failed: {e}", p.display()),
            Error::Kernel(m) => write!(f, "{m}"),
            Error::Keyring(step, e) => write!(f, "setting up the gate's keyring: {step}: {e}"),
            Error::Bpf(step, e) => write!(f, "{step}: {e}"),
            Error::Pin(p, e) => write!(f, "pinning under {}: {e}", p.display()),
            Error::Status(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}
