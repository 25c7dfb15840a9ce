//! fs-verity in userspace: the file digest (as `fsverity digest` prints it) and enrolment of a signed file
//! (enable fs-verity, store the `fsverity sign` signature in the xattrs the gate reads).

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;

use crate::error::Error;
use crate::signing::sha256::Sha256;
use crate::sys;

/// Data and Merkle tree block size bpfgate uses (and `fsverity sign` defaults to).
pub const BLOCK_SIZE: usize = 4096;
const HASH_SIZE: usize = 32;
const FS_VERITY_HASH_ALG_SHA256: u16 = 1;
/// Largest signature `enroll` accepts: what the gate reads (bpf/bpfgate.h BPFGATE_SIG_MAX).
pub const SIG_MAX: usize = crate::load::skel::types::bpfgate_limit::BPFGATE_SIG_MAX.0 as usize;

/// Signature xattr names, in the order the gate reads them (defined once, in bpf/bpfgate.h).
pub use crate::load::skel::xattr::{XATTR_SECURITY, XATTR_USER};

/// An xattr name for messages (the names are ASCII: build.rs checks).
pub fn name(xattr: &'static CStr) -> &'static str {
    xattr.to_str().unwrap_or("?")
}

/// The signature xattrs the gate reads, in order: the security.bpf.* name first where the kernel can read it.
pub fn read_order(security_bpf: bool) -> Vec<&'static str> {
    if security_bpf {
        vec![name(XATTR_SECURITY), name(XATTR_USER)]
    } else {
        vec![name(XATTR_USER)]
    }
}

/// fs-verity digest (sha256, 4096-byte blocks, no salt) of everything `r` yields.
pub fn digest_reader(mut r: impl Read) -> io::Result<[u8; HASH_SIZE]> {
    let mut level: Vec<[u8; HASH_SIZE]> = Vec::new();
    let mut size: u64 = 0;
    let mut block = vec![0u8; BLOCK_SIZE];
    loop {
        let mut filled = 0;
        while filled < BLOCK_SIZE {
            match r.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            break;
        }
        block[filled..].fill(0);
        level.push(Sha256::digest(&block));
        size += filled as u64;
        if filled < BLOCK_SIZE {
            break;
        }
    }
    // No tree for an empty file (zero root) or a one-block file (root = that block's hash); otherwise hash each
    // level's blocks of packed hashes until one remains.
    let mut root = [0u8; HASH_SIZE];
    if !level.is_empty() {
        while level.len() > 1 {
            level = level
                .chunks(BLOCK_SIZE / HASH_SIZE)
                .map(|hashes| {
                    let mut b = [0u8; BLOCK_SIZE];
                    for (dst, h) in b.chunks_exact_mut(HASH_SIZE).zip(hashes) {
                        dst.copy_from_slice(h);
                    }
                    Sha256::digest(&b)
                })
                .collect();
        }
        root = level[0];
    }
    // struct fsverity_descriptor: version, hash_algorithm, log_blocksize, salt_size, sig_size (0),
    // data_size, root_hash[64], salt[32], reserved[144].
    let mut desc = [0u8; 256];
    desc[0] = 1;
    desc[1] = FS_VERITY_HASH_ALG_SHA256 as u8;
    desc[2] = BLOCK_SIZE.trailing_zeros() as u8;
    desc[8..16].copy_from_slice(&size.to_le_bytes());
    desc[16..16 + HASH_SIZE].copy_from_slice(&root);
    Ok(Sha256::digest(&desc))
}

/// fs-verity digest of a file, computed from its content.
pub fn digest_file(path: &Path) -> Result<[u8; HASH_SIZE], Error> {
    let f = File::open(path).map_err(|e| Error::File(path.into(), e))?;
    digest_reader(io::BufReader::with_capacity(1 << 16, f)).map_err(|e| Error::File(path.into(), e))
}

/// Checks that `sig` looks like a DER PKCS#7 message as `fsverity sign` writes it.
pub fn check_signature_blob(sig: &[u8]) -> Result<(), String> {
    if sig.is_empty() {
        return Err("the file is empty".into());
    }
    if sig.len() > SIG_MAX {
        return Err(format!(
            "{} bytes is larger than the {SIG_MAX} bytes the gate reads",
            sig.len()
        ));
    }
    // ContentInfo ::= SEQUENCE { contentType OID 1.2.840.113549.1.7.2 (signedData), ... }; the kernel checks the rest.
    crate::signing::der::content_is_signed_data(sig).map_err(|_| {
        "not a DER PKCS#7 signedData message (make it with `fsverity sign FILE SIG --key K --cert C`)".to_string()
    })
}

/// Enables fs-verity on `file` (unless it already has it) and stores `sig_path`'s signature in both xattrs.
pub fn enroll(file: &Path, sig_path: &Path) -> Result<String, Error> {
    let sig = std::fs::read(sig_path).map_err(|e| Error::File(sig_path.into(), e))?;
    check_signature_blob(&sig).map_err(|why| Error::BadSignatureFile(sig_path.into(), why))?;
    let f = File::open(file).map_err(|e| Error::File(file.into(), e))?;
    let mut notes = Vec::new();
    match sys::measure_verity(f.as_fd()) {
        Ok(_) => notes.push("fs-verity was already enabled".to_string()),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {
            sys::enable_verity(f.as_fd(), BLOCK_SIZE as u32)
                .map_err(|e| Error::EnableVerity(file.into(), e))?;
            notes.push("fs-verity enabled (sha256, 4096-byte blocks)".to_string());
        }
        Err(e) => return Err(Error::EnableVerity(file.into(), e)),
    }
    // The security.bpf.* name is read first on kernels >= 6.15 and only privileged writers can set it; the user.*
    // name is what 6.12 can read. Both carry the same signature.
    sys::fsetxattr(f.as_fd(), XATTR_SECURITY, &sig)
        .map(|()| notes.push(format!("signature stored in {}", name(XATTR_SECURITY))))
        .or_else(|e| match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => Ok(()),
            _ => Err(Error::SetXattr(file.into(), XATTR_SECURITY, e)),
        })?;
    sys::fsetxattr(f.as_fd(), XATTR_USER, &sig)
        .map_err(|e| Error::SetXattr(file.into(), XATTR_USER, e))?;
    notes.push(format!("signature stored in {}", name(XATTR_USER)));
    Ok(notes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::sha256::hex;

    #[test]
    fn signature_blob_checks() {
        assert!(check_signature_blob(b"").unwrap_err().contains("empty"));
        assert!(check_signature_blob(&[0x30; SIG_MAX + 1])
            .unwrap_err()
            .contains("larger"));
        assert!(check_signature_blob(b"garbage that is not DER at all....")
            .unwrap_err()
            .contains("PKCS#7"));
        let mut ok = vec![0x30, 0x82, 0x01, 0x00];
        ok.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ]);
        ok.resize(300, 0);
        assert!(check_signature_blob(&ok).is_ok());
    }

    /// Golden digests from `fsverity digest` (fsverity-utils) on files of bytes `i * 31 + 7` (mod 256); see
    /// tests/data/verity-digests.txt and scripts/gen-verity-golden.sh, which regenerates them.
    #[test]
    fn digests_match_fsverity_utils() {
        let golden = include_str!("../../tests/data/verity-digests.txt");
        let mut n = 0;
        for line in golden
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (size, want) = line.split_once(' ').expect("golden line: SIZE sha256:HEX");
            let size: usize = size.parse().expect("golden size");
            let data: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
            let got = digest_reader(&data[..]).expect("reading from memory");
            assert_eq!(format!("sha256:{}", hex(&got)), want.trim(), "size {size}");
            n += 1;
        }
        assert!(n >= 6, "golden file has {n} cases");
    }
}
