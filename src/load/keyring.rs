//! The gate's keyring: the baked certificates, in a keyring linked into root's user keyring (`_uid.0`, which
//! lives as long as the initial user namespace, so it outlives the loader), closed to later additions and with
//! write, link and setattr permissions removed so its contents and permissions cannot change.

use crate::error::Error;
use crate::sys::{self, KEY_SPEC_PROCESS_KEYRING, KEY_SPEC_USER_KEYRING};

const KEYRING_NAME: &str = "bpfgate";

// Key permission bits (linux/keyctl.h): possessor is << 24, user << 16.
const KEY_VIEW: u32 = 0x01;
const KEY_READ: u32 = 0x02;
const KEY_SEARCH: u32 = 0x08;
/// View, read and search for the possessor and the owner: enough for the kernel to verify against it (the
/// signature check searches the keyring as possessor), nothing that changes it.
const READ_ONLY: u32 =
    ((KEY_VIEW | KEY_READ | KEY_SEARCH) << 24) | ((KEY_VIEW | KEY_READ | KEY_SEARCH) << 16);

/// The gate's keyring, the serials of the certificate keys in it, and the signer-binding keyrings: for each profile
/// bound to signers, a keyring holding those certificates' keys (linked again, not copied).
pub struct Keyring {
    pub serial: i32,
    pub keys: Vec<i32>,
    pub profiles: Vec<(u8, i32)>,
}

/// The certificates (indices into the baked list) bound to one profile, and its name.
pub struct SignerGroup {
    pub profile: u8,
    pub name: String,
    pub certs: Vec<usize>,
}

impl Keyring {
    /// Unlinks every keyring this run made, so a failed load leaves nothing behind (the kernel frees them).
    pub fn discard(&self) {
        for (_, ring) in &self.profiles {
            discard(*ring);
        }
        discard(self.serial);
    }
}

/// A closed, read-only keyring `desc` holding `keys` (which must still grant link permission), linked into root's
/// user keyring.
fn sealed_ring(desc: &str, keys: &[i32]) -> Result<i32, Error> {
    let ring = sys::add_key("keyring", Some(desc), &[], KEY_SPEC_PROCESS_KEYRING)
        .map_err(|e| Error::Keyring("creating a signer-binding keyring", e))?;
    let seal = || -> Result<(), Error> {
        for key in keys {
            sys::key_link(*key, ring).map_err(|e| {
                Error::Keyring("linking a certificate into a signer-binding keyring", e)
            })?;
        }
        sys::keyring_close(ring)
            .map_err(|e| Error::Keyring("closing a signer-binding keyring", e))?;
        sys::key_link(ring, KEY_SPEC_USER_KEYRING).map_err(|e| {
            Error::Keyring(
                "linking a signer-binding keyring into root's user keyring",
                e,
            )
        })?;
        sys::key_setperm(ring, READ_ONLY)
            .map_err(|e| Error::Keyring("making a signer-binding keyring read-only", e))
    };
    if let Err(e) = seal() {
        discard(ring);
        return Err(e);
    }
    Ok(ring)
}

/// Creates the keyring from DER certificates, and one keyring per signer group (`bpfgate.NAME`).
///
/// A keyring of the same name in `_uid.0` is replaced (the kernel's add_key semantics); the caller only gets here
/// when no gate is active, so no running gate holds the old serial.
pub fn create(certs: &[(&str, &[u8])], groups: &[SignerGroup]) -> Result<Keyring, Error> {
    // Made in this process's own keyring, so that this process possesses it while filling it whatever session
    // keyring it runs under (a systemd service has a private one that does not reach `_uid.0`); linked into
    // `_uid.0` once complete, which keeps it after this process exits.
    let ring = sys::add_key("keyring", Some(KEYRING_NAME), &[], KEY_SPEC_PROCESS_KEYRING)
        .map_err(|e| Error::Keyring("creating keyring \"bpfgate\"", e))?;
    let mut out = Keyring {
        serial: ring,
        keys: Vec::with_capacity(certs.len()),
        profiles: Vec::new(),
    };
    let fill = |out: &mut Keyring| -> Result<(), Error> {
        for (name, der) in certs {
            let key = sys::add_key("asymmetric", None, der, ring).map_err(|e| {
                Error::Keyring(
                    if e.raw_os_error() == Some(libc::EBADMSG) || e.raw_os_error() == Some(libc::ENOPKG) {
                        "adding a certificate (the kernel could not parse it as X.509, or lacks its algorithm)"
                    } else {
                        "adding a certificate"
                    },
                    std::io::Error::new(e.kind(), format!("{name}: {e}")),
                )
            })?;
            out.keys.push(key);
        }
        // The signer-binding keyrings link the keys before they lose their link permission.
        for g in groups {
            let keys: Vec<i32> = g
                .certs
                .iter()
                .filter_map(|i| out.keys.get(*i).copied())
                .collect();
            let r = sealed_ring(&format!("{KEYRING_NAME}.{}", g.name), &keys)?;
            out.profiles.push((g.profile, r));
        }
        for key in &out.keys {
            sys::key_setperm(*key, READ_ONLY)
                .map_err(|e| Error::Keyring("making a certificate read-only", e))?;
        }
        sys::keyring_close(ring)
            .map_err(|e| Error::Keyring("closing the keyring to new keys", e))?;
        sys::key_link(ring, KEY_SPEC_USER_KEYRING)
            .map_err(|e| Error::Keyring("linking the keyring into root's user keyring", e))?;
        sys::key_setperm(ring, READ_ONLY)
            .map_err(|e| Error::Keyring("making the keyring read-only", e))
    };
    if let Err(e) = fill(&mut out) {
        out.discard();
        return Err(e);
    }
    Ok(out)
}

/// Unlinks one keyring this run made.
fn discard(ring: i32) {
    match sys::key_unlink(ring, KEY_SPEC_USER_KEYRING) {
        // Never linked there (it failed before): the process keyring drops it when this process exits.
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
            log::warn!("could not remove keyring {ring} after a failed load: {e}")
        }
        _ => {}
    }
    let _ = sys::key_unlink(ring, KEY_SPEC_PROCESS_KEYRING);
}
