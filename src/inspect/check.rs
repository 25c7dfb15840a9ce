//! `bpfgate check FILE...`: would the gate trust this file, and if not, exactly why. The checks run in the
//! gate's own order (script, fs-verity, digest algorithm, denylist, signature xattr, signer, signature), and the
//! signature is verified by the kernel's public-key code (`KEYCTL_PKEY_VERIFY` on a key made from the baked
//! certificate in this process's own keyring), so "trusted" here means what it means at exec.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use crate::policy::Digest;
use crate::signing::der;
use crate::signing::sha256::{hex, Sha256};
use crate::signing::verity::{SIG_MAX, XATTR_SECURITY, XATTR_USER};
use crate::sys;

const SHA256_OID: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const SHA512_OID: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
const RSA_OIDS: &[&[u8]] = &[
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01], // rsaEncryption
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b], // sha256WithRSAEncryption
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d], // sha512WithRSAEncryption
];
const ECDSA_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d]; // 1.2.840.10045: id-ecPublicKey, ecdsa-with-*

/// The answer for one file.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub trusted: bool,
    /// Machine-readable: `trusted`, or why not (the gate's exec reasons where they exist).
    pub reason: &'static str,
    /// For a person: what was found, and how to fix it.
    pub detail: String,
    /// A trusted file's profile (what it may do with bpf()) and how it got it: `digest` (a binding names its
    /// digest) or `default` (no binding does).
    pub profile: Option<(String, &'static str)>,
}

fn no(reason: &'static str, detail: impl Into<String>) -> Verdict {
    Verdict {
        trusted: false,
        reason,
        detail: detail.into(),
        profile: None,
    }
}

/// What the check compares against: the baked certificates, the policy's denylist, the xattr order.
pub struct Anchors<'a> {
    pub certs: &'a [(&'a str, &'a [u8])],
    pub denylist: &'a [Digest],
    /// The running kernel lets BPF read `security.bpf.*` (the gate reads that name first).
    pub security_xattr: bool,
    /// The kernel keyrings the policy's `anchors` name (builtin, secondary, platform): the gate consults them at
    /// exec; userspace cannot verify against them, so a signer found only there is reported, not judged.
    pub kernel_keyrings: Vec<&'static str>,
    /// The policy's profiles and bindings: which profile a trusted file gets.
    pub profiles: Option<&'a crate::policy::Policy>,
}

impl<'a> Anchors<'a> {
    /// What `load` would trust on this machine under `policy`: the certificates baked into this binary, and the
    /// signature xattr the running kernel lets BPF read.
    pub fn on_this_machine(policy: &'a crate::policy::Policy) -> Self {
        Self::of_policy(
            policy,
            crate::load::skel::certs::CERTS,
            crate::load::kernel::reads_security_xattr(),
        )
    }

    /// What `load` would trust under `policy`: the baked certificates `certs` when its `anchors` name them, the
    /// kernel keyrings it names, and its denylist.
    pub fn of_policy(
        policy: &'a crate::policy::Policy,
        certs: &'a [(&'a str, &'a [u8])],
        security_xattr: bool,
    ) -> Self {
        Self {
            certs: if policy.anchors & 1 == 1 { certs } else { &[] },
            denylist: &policy.denylist,
            security_xattr,
            kernel_keyrings: crate::policy::ANCHORS
                .iter()
                .enumerate()
                .filter(|(i, _)| *i > 0 && (policy.anchors >> i) & 1 == 1)
                .map(|(_, n)| *n)
                .collect(),
            profiles: Some(policy),
        }
    }
}

/// Checks one file.
pub fn check(path: &Path, a: &Anchors<'_>) -> Verdict {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) => return no("unreadable", format!("cannot open it: {e}")),
    };
    match f.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(_) => return no("not_a_regular_file", "only regular files are executed"),
        Err(e) => return no("unreadable", e.to_string()),
    }
    let mut head = [0u8; 2];
    if (&f).read_exact(&mut head).is_ok() && head == *b"#!" {
        return no(
            "script",
            "a #! script is never trusted: the interpreter's signature does not cover the script",
        );
    }
    let (alg, digest) = match sys::measure_verity(f.as_fd()) {
        Ok(v) => v,
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {
            return no(
                "no_verity",
                "fs-verity is not enabled on it: `bpfgate enroll --sig SIG FILE` enables it and stores the signature",
            )
        }
        Err(e) => {
            return no(
                "no_verity",
                format!(
                    "its filesystem cannot report fs-verity ({e}): use ext4 with -O verity, btrfs or f2fs"
                ),
            )
        }
    };
    let name = match alg {
        1 if digest.len() == 32 => "sha256",
        2 if digest.len() == 64 => "sha512",
        _ => {
            return no(
                "bad_digest",
                format!("fs-verity hash algorithm {alg} is not sha256 or sha512"),
            )
        }
    };
    let blocks = sys::verity_descriptor(f.as_fd())
        .ok()
        .and_then(|(_, log)| 1u64.checked_shl(log.into()))
        .map_or_else(String::new, |b| format!(", {b}-byte blocks"));
    let digest_text = format!("{name}:{}", hex(&digest));
    if a.denylist
        .iter()
        .any(|d| d.alg == alg && d.bytes[..usize::from(d.len).min(64)] == digest[..])
    {
        return no(
            "denylisted",
            format!("its digest {digest_text} is on the policy's denylist"),
        );
    }

    let mut names = Vec::new();
    if a.security_xattr {
        names.push(XATTR_SECURITY);
    }
    names.push(XATTR_USER);
    let mut sig = None;
    for n in names {
        match sys::fgetxattr(f.as_fd(), n, SIG_MAX) {
            Ok(v) => {
                sig = Some((n, v));
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => {
                return no(
                    "signature_too_big",
                    format!(
                        "{} is larger than the {SIG_MAX} bytes the gate reads",
                        n.to_string_lossy()
                    ),
                )
            }
            Err(e) => {
                return no(
                    "signature_unreadable",
                    format!("reading {}: {e}", n.to_string_lossy()),
                )
            }
        }
    }
    let Some((xattr, sig)) = sig else {
        return no(
            "no_signature",
            format!(
                "{digest_text}{blocks}; no signature xattr ({}): sign it with `fsverity sign` and `bpfgate enroll`",
                crate::signing::verity::read_order(a.security_xattr).join(", ")
            ),
        );
    };
    let xattr = xattr.to_string_lossy();
    let signer = match der::pkcs7_signer(&sig) {
        Ok(s) => s,
        Err(e) => {
            return no(
                "unparseable_signature",
                format!("{xattr} is not a PKCS#7 signature as `fsverity sign` makes: {e}"),
            )
        }
    };
    let who = format!(
        "CN={} serial {}",
        der::common_name(signer.issuer),
        hex(signer.serial)
    );
    let Some((cert_name, cert)) = a.certs.iter().find(|(_, c)| {
        der::certificate_ids(c)
            .is_ok_and(|(issuer, serial, _)| issuer == signer.issuer && serial == signer.serial)
    }) else {
        let known: Vec<String> = a
            .certs
            .iter()
            .filter_map(|(_, c)| der::certificate_ids(c).ok())
            .map(|(i, s, _)| format!("CN={} serial {}", der::common_name(i), hex(s)))
            .collect();
        let kernel = if a.kernel_keyrings.is_empty() {
            String::new()
        } else {
            format!(
                "; the policy also trusts the kernel's {} keyring(s), which the gate consults at exec and this \
                 check cannot (the verdict there may differ)",
                a.kernel_keyrings.join(", ")
            )
        };
        return no(
            "signer_not_an_anchor",
            format!(
                "signed by a certificate issued by {who}, not one of the {} baked in ({}){kernel}",
                known.len(),
                known.join("; ")
            ),
        );
    };
    match verify(&signer, alg, &digest, cert) {
        Ok(()) => {
            let print = Sha256::digest(cert);
            Verdict {
                trusted: true,
                reason: "trusted",
                detail: format!(
                    "{digest_text}{blocks}; signed by {who} ({cert_name}, SHA-256 fingerprint {}); signature in {xattr}",
                    crate::load::gate::colon_hex(&print)
                ),
                profile: a.profiles.map(|p| {
                    let (prof, why) = Digest::parse(&digest_text)
                        .map_or((&p.profiles[0], "default"), |d| p.profile_for(&d, Some(&print)));
                    (prof.name.to_string(), why)
                }),
            }
        }
        Err(v) => v,
    }
}

/// Verifies the signature over the fs-verity message ("FSVerity", algorithm, size, digest) with the kernel.
fn verify(signer: &der::Signer<'_>, alg: u16, digest: &[u8], cert: &[u8]) -> Result<(), Verdict> {
    if signer.has_attributes {
        return Err(no(
            "not_verified",
            "the signature carries signed attributes, which `fsverity sign` never writes; the gate decides at exec",
        ));
    }
    let mut msg = b"FSVerity".to_vec();
    msg.extend_from_slice(&alg.to_le_bytes());
    msg.extend_from_slice(&(digest.len() as u16).to_le_bytes());
    msg.extend_from_slice(digest);
    let (hash, hashed) = if signer.digest_oid == SHA256_OID {
        ("sha256", Sha256::digest(&msg).to_vec())
    } else if signer.digest_oid == SHA512_OID {
        ("sha512", crate::signing::sha512::digest(&msg).to_vec())
    } else {
        return Err(no(
            "bad_signature",
            "the signature's digest algorithm is neither sha256 nor sha512",
        ));
    };
    let enc = if RSA_OIDS.contains(&signer.sig_alg_oid) {
        "pkcs1"
    } else if signer.sig_alg_oid.starts_with(ECDSA_PREFIX) {
        "x962"
    } else {
        return Err(no(
            "bad_signature",
            "the signature algorithm is neither RSA nor ECDSA",
        ));
    };
    let key = sys::add_key("asymmetric", None, cert, sys::KEY_SPEC_PROCESS_KEYRING).map_err(|e| {
        no(
            "not_verified",
            format!("the kernel would not take the certificate as a key ({e}); the gate decides at exec"),
        )
    })?;
    match sys::pkey_verify(key, &format!("enc={enc} hash={hash}"), &hashed, signer.signature) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EKEYREJECTED | libc::EBADMSG | libc::EINVAL)) => {
            Err(no(
                "bad_signature",
                "the signature does not match this file's content (it signs another file, or the file changed \
                 before fs-verity was enabled)",
            ))
        }
        Err(e) => Err(no(
            "not_verified",
            format!("the kernel could not check the signature ({e}); the gate decides at exec"),
        )),
    }
}

/// One line per file: text, or JSON.
pub fn line(path: &Path, v: &Verdict, json: bool) -> String {
    if json {
        let o = crate::json::Object::new()
            .str("file", &path.display().to_string())
            .raw("trusted", v.trusted)
            .str("reason", v.reason)
            .str("detail", &v.detail);
        match &v.profile {
            Some((name, how)) => o.str("profile", name).str("profile_from", how),
            None => o,
        }
        .finish()
    } else if v.trusted {
        let profile = match &v.profile {
            Some((name, "digest")) => format!("; profile {name} (a binding names its digest)"),
            Some((name, "signer")) => format!("; profile {name} (a binding names its signer)"),
            Some((name, _)) => {
                format!("; profile {name} (the default: no binding names its digest or signer)")
            }
            None => String::new(),
        };
        format!("{}: trusted: {}{profile}", path.display(), v.detail)
    } else {
        format!("{}: untrusted: {}: {}", path.display(), v.reason, v.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_stay_json_for_any_file_name() {
        let v = no("no_verity", "say \"enable\"\tit");
        let l = line(Path::new("/tmp/a\nb\"c"), &v, true);
        assert_eq!(
            l,
            "{\"file\":\"/tmp/a\\nb\\\"c\",\"trusted\":false,\"reason\":\"no_verity\",\
             \"detail\":\"say \\\"enable\\\"\\tit\"}"
        );
        assert!(!l.contains('\n'));
    }

    const SIG: &[u8] = include_bytes!("../../tests/data/check-file.sig");

    fn pem(text: &str) -> Vec<u8> {
        crate::signing::certfile::parse("t", text.as_bytes())
            .unwrap()
            .remove(0)
            .1
    }

    /// A real `fsverity sign` signature and the certificate that made it (tests/data/check-*).
    #[test]
    fn reads_the_signer_and_finds_its_certificate() {
        let s = der::pkcs7_signer(SIG).unwrap();
        assert!(!s.has_attributes);
        assert_eq!(s.digest_oid, SHA256_OID);
        assert!(RSA_OIDS.contains(&s.sig_alg_oid));
        assert_eq!(s.signature.len(), 256);
        assert_eq!(der::common_name(s.issuer), "bpfgate test signer");
        let signer = pem(include_str!("../../tests/data/check-signer.pem"));
        let (issuer, serial, subject) = der::certificate_ids(&signer).unwrap();
        assert_eq!((issuer, serial), (s.issuer, s.serial));
        assert_eq!(der::common_name(subject), "bpfgate test signer");
        let foreign = pem(include_str!("../../tests/data/check-foreign.pem"));
        let (fi, fs, _) = der::certificate_ids(&foreign).unwrap();
        assert!(fi != s.issuer && fs != s.serial);
    }

    #[test]
    fn every_truncation_is_an_error() {
        for n in 0..SIG.len() {
            assert!(der::pkcs7_signer(&SIG[..n]).is_err(), "{n} bytes");
        }
    }

    #[test]
    fn files_without_verity_and_scripts() {
        let a = Anchors {
            certs: &[],
            denylist: &[],
            security_xattr: false,
            kernel_keyrings: Vec::new(),
            profiles: None,
        };
        let dir = std::env::temp_dir().join(format!("bpfgate-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(check(&script, &a).reason, "script");
        let plain = dir.join("p");
        std::fs::write(&plain, "\x7fELF").unwrap();
        let v = check(&plain, &a);
        assert_eq!(v.reason, "no_verity");
        assert!(!v.trusted);
        assert_eq!(check(&dir, &a).reason, "not_a_regular_file");
        assert_eq!(check(&dir.join("missing"), &a).reason, "unreadable");
        let l = line(&plain, &v, true);
        assert!(
            l.starts_with("{\"file\":") && l.contains("\"trusted\":false"),
            "{l}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
