//! `bpfgate status`: reads the pinned status iterator with plain read(2). No bpf() call and no fd to any of the
//! gate's maps, programs or links is involved, so it works for untrusted root (the initramfs copy of bpfgate is
//! never signed) and there is nothing in it to widen into a write.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use crate::commands;
use crate::error::Error;
use crate::json;
use crate::load::gate;
use crate::load::pod::Pod;
use crate::load::skel::types::{
    bpfgate_limit, exec_reason, gate_config, gate_counter, status_counter, status_header,
};

const MAGIC: u32 = bpfgate_limit::BPFGATE_STATUS_MAGIC.0;
const VERSION: u32 = bpfgate_limit::BPFGATE_STATUS_VERSION.0;

/// Decoded status stream.
#[derive(Debug, Default)]
pub struct Status {
    pub config: gate_config,
    pub counters: Vec<u64>,
}

/// Parses the iterator's output: one status_header, then status_counter records.
pub fn parse(buf: &[u8]) -> Result<Status, Error> {
    let bad = |why: &str| Error::Status(format!("the gate's status stream is malformed: {why}"));
    let hdr = status_header::read_from(buf).ok_or_else(|| bad("shorter than its header"))?;
    if hdr.magic != MAGIC || hdr.version != VERSION {
        return Err(bad(&format!(
            "magic {:#x} version {} (this bpfgate reads version {VERSION})",
            hdr.magic, hdr.version
        )));
    }
    let n = hdr.counters as usize;
    if n > 4096 {
        return Err(bad(&format!("{n} counters")));
    }
    let mut counters = vec![0u64; n];
    for rec in buf[size_of::<status_header>()..].chunks(size_of::<status_counter>()) {
        let c = status_counter::read_from(rec).ok_or_else(|| bad("truncated counter record"))?;
        *counters
            .get_mut(c.index as usize)
            .ok_or_else(|| bad("counter index out of range"))? = c.value;
    }
    Ok(Status {
        config: hdr.config,
        counters,
    })
}

/// Reads the status of the running gate; `Ok(None)` when no gate is active.
pub fn read(pin: &Path) -> Result<Option<Status>, Error> {
    read_pin(pin)?.map(|buf| parse(&buf)).transpose()
}

/// The whole stream of one of the gate's iterator pins (read(2): no bpf() call, no fd to the gate's objects);
/// `Ok(None)` when the pin is not there, i.e. no gate is active.
pub(crate) fn read_pin(pin: &Path) -> Result<Option<Vec<u8>>, Error> {
    let mut f = match std::fs::File::open(pin) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::File(pin.into(), e)),
    };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|e| Error::File(pin.into(), e))?;
    Ok(Some(buf))
}

/// Exec verdict reasons, in `enum exec_reason` order, as printed.
const REASONS: &[(exec_reason, &str)] = &[
    (exec_reason::EXEC_TRUSTED_VERIFIED, "trusted_verified"),
    (exec_reason::EXEC_TRUSTED_CACHED, "trusted_cached"),
    (exec_reason::EXEC_UNTRUSTED_CACHED, "untrusted_cached"),
    (exec_reason::EXEC_SCRIPT, "script"),
    (exec_reason::EXEC_NO_VERITY, "no_verity"),
    (exec_reason::EXEC_BAD_DIGEST, "bad_digest"),
    (exec_reason::EXEC_NO_SIG, "no_signature"),
    (exec_reason::EXEC_SIG_UNREADABLE, "signature_unreadable"),
    (exec_reason::EXEC_SIG_TOO_BIG, "signature_too_big"),
    (exec_reason::EXEC_BAD_SIG, "bad_signature"),
    (exec_reason::EXEC_NO_KEYRING, "no_keyring"),
    (exec_reason::EXEC_NO_MEMORY, "no_memory"),
    (exec_reason::EXEC_TRACED, "traced"),
    (exec_reason::EXEC_DENYLISTED, "denylisted"),
    (exec_reason::EXEC_INITRAMFS, "initramfs"),
    (exec_reason::EXEC_SHARED_FS, "shared_fs"),
    (exec_reason::EXEC_PERSONALITY, "personality"),
    (exec_reason::EXEC_SECCOMP_LISTENER, "seccomp_listener"),
];

const OTHER: &[(gate_counter, &str)] = &[
    (gate_counter::CNT_FORK_TRUSTED, "fork_trusted"),
    (gate_counter::CNT_CACHE_DROPPED, "cache_dropped"),
    (
        gate_counter::CNT_SIG_SECURITY_XATTR,
        "sig_from_security_xattr",
    ),
    (gate_counter::CNT_SIG_USER_XATTR, "sig_from_user_xattr"),
    (gate_counter::CNT_GATE_PROTECTED, "gate_protected"),
    (gate_counter::CNT_PTRACE_DENIED, "ptrace_denied"),
    (gate_counter::CNT_TAINT_FILE, "tainted_by_unverified_file"),
    (gate_counter::CNT_TAINT_ANON, "tainted_by_anonymous_exec"),
    (
        gate_counter::CNT_KERNEL_MODIFY_DENIED,
        "kernel_modify_denied",
    ),
    (gate_counter::CNT_AUDITED, "audited"),
    (gate_counter::CNT_EVENTS, "events"),
    (gate_counter::CNT_NO_TOKEN, "no_token_denied"),
    (gate_counter::CNT_PROTECTED_MAP, "protected_map_denied"),
    (gate_counter::CNT_SIGNED, "signed_steps_allowed"),
    (gate_counter::CNT_ATTACH_DENIED, "attach_outside_bpf_denied"),
];

impl Status {
    fn get(&self, slot: u32) -> u64 {
        self.counters.get(slot as usize).copied().unwrap_or(0)
    }

    /// (name, allowed, denied) for each bpf() command seen at least once.
    fn commands(&self) -> Vec<(String, u64, u64)> {
        let slots = gate_counter::CNT_CMD_DENIED.0;
        (0..slots)
            .map(|c| {
                let name = if c == slots - 1 {
                    "other".to_string()
                } else {
                    commands::name(c as usize)
                };
                (
                    name,
                    self.get(gate_counter::CNT_CMD_ALLOWED.0 + c),
                    self.get(gate_counter::CNT_CMD_DENIED.0 + c),
                )
            })
            .filter(|(_, a, d)| a + d > 0)
            .collect()
    }

    /// (profile, allowed, denied): the bpf() decisions on trusted tasks, per profile (counted only when the policy
    /// defines profiles; `full` alone counts nothing).
    fn profiles(&self) -> Vec<(String, u64, u64)> {
        crate::load::config::profile_names(&self.config)
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name,
                    self.get(gate_counter::CNT_PROFILE_ALLOWED.0 + i as u32),
                    self.get(gate_counter::CNT_PROFILE_DENIED.0 + i as u32),
                )
            })
            .collect()
    }

    fn xattrs(&self) -> Vec<&'static str> {
        crate::signing::verity::read_order(self.config.xattr_security != 0)
    }

    /// Serials of the certificate keys in the gate's keyring.
    fn certificate_keys(&self) -> Vec<String> {
        self.config
            .key_serials
            .iter()
            .filter(|k| **k != 0)
            .map(u32::to_string)
            .collect()
    }

    fn untrusted_cmds(&self) -> Vec<String> {
        (0..64)
            .filter(|i| self.config.bpf_allow >> i & 1 == 1)
            .map(commands::name)
            .collect()
    }

    /// The policy the gate enforces (the denylist as a count: its digests stay in the kernel).
    pub fn policy(&self) -> crate::policy::Policy {
        crate::load::config::policy_of(&self.config)
    }

    /// Human-readable report.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "bpfgate: active (pinned at {})",
            gate::pin_dir().display()
        );
        let certs = self.certificate_keys();
        let _ = writeln!(
            s,
            "keyring: {} (certificate keys: {})",
            self.config.keyring_serial,
            certs.join(" ")
        );
        let _ = writeln!(
            s,
            "signature xattrs read: {}",
            self.xattrs().join(", then ")
        );
        let _ = writeln!(s, "mode: {}", crate::policy::mode_name(self.policy().mode));
        let _ = writeln!(s, "policy:");
        for line in self.policy().render().lines() {
            if !line.starts_with("required") && !line.starts_with("mode") {
                let line = if line.starts_with("denylist") {
                    format!("denylist = {} digest(s)", self.config.denylist_len)
                } else {
                    line.to_string()
                };
                let _ = writeln!(s, "  {line}");
            }
        }
        let _ = writeln!(s, "exec verdicts:");
        for (r, name) in REASONS {
            let _ = writeln!(
                s,
                "  {name:<22} {}",
                self.get(gate_counter::CNT_EXEC.0 + r.0)
            );
        }
        for (c, name) in OTHER {
            let _ = writeln!(s, "{name:<24} {}", self.get(c.0));
        }
        let _ = writeln!(s, "bpf() commands:            allowed     denied");
        for (name, a, d) in self.commands() {
            let _ = writeln!(s, "  {name:<22} {a:>10} {d:>10}");
        }
        if self.config.profiles > 1 {
            let _ = writeln!(s, "bpf() by profile:          allowed     denied");
            for (name, a, d) in self.profiles() {
                let _ = writeln!(s, "  {name:<22} {a:>10} {d:>10}");
            }
        }
        s
    }

    /// JSON report (stable keys; counters always present).
    pub fn json(&self) -> String {
        let mut s = String::from("{\"active\":true");
        let _ = write!(
            s,
            ",\"pin_dir\":{}",
            json::string(&gate::pin_dir().display().to_string())
        );
        let _ = write!(s, ",\"keyring\":{}", self.config.keyring_serial);
        let certs = self.certificate_keys();
        let _ = write!(s, ",\"certificate_keys\":[{}]", certs.join(","));
        let _ = write!(s, ",\"nr_cpus\":{}", self.config.nr_cpus);
        let _ = write!(s, ",\"signature_xattrs\":{}", json::strings(self.xattrs()));
        let _ = write!(
            s,
            ",\"untrusted_commands\":{}",
            json::strings(self.untrusted_cmds())
        );
        let _ = write!(
            s,
            ",\"mode\":{}",
            json::string(crate::policy::mode_name(self.policy().mode))
        );
        let policy: Vec<String> = self
            .policy()
            .render()
            .lines()
            .filter_map(|l| l.split_once(" = "))
            .filter(|(k, _)| !matches!(*k, "mode" | "required" | "denylist"))
            .map(|(k, v)| format!("{}:{}", json::string(k), json::string(v)))
            .collect();
        let _ = write!(
            s,
            ",\"policy\":{{{},\"denylist_len\":{}}}",
            policy.join(","),
            self.config.denylist_len
        );
        let exec: Vec<String> = REASONS
            .iter()
            .map(|(r, n)| format!("\"{n}\":{}", self.get(gate_counter::CNT_EXEC.0 + r.0)))
            .collect();
        let _ = write!(s, ",\"exec\":{{{}}}", exec.join(","));
        for (c, name) in OTHER {
            let _ = write!(s, ",\"{name}\":{}", self.get(c.0));
        }
        let cmds: Vec<String> = self
            .commands()
            .iter()
            .map(|(n, a, d)| format!("\"{n}\":{{\"allowed\":{a},\"denied\":{d}}}"))
            .collect();
        let _ = write!(s, ",\"bpf\":{{{}}}", cmds.join(","));
        let profiles: Vec<String> = self
            .profiles()
            .iter()
            .map(|(n, a, d)| format!("{}:{{\"allowed\":{a},\"denied\":{d}}}", json::string(n)))
            .collect();
        let _ = write!(s, ",\"profiles\":{{{}}}}}", profiles.join(","));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(counters: &[(u32, u64)], n: u32) -> Vec<u8> {
        let mut hdr = status_header {
            magic: MAGIC,
            version: VERSION,
            counters: n,
            ..Default::default()
        };
        hdr.config.bpf_allow = 1 << 1; // map_lookup_elem
        hdr.config.keyring_serial = 77;
        hdr.config.nr_cpus = 2;
        hdr.config.xattr_security = 1;
        let mut b = hdr.as_bytes().to_vec();
        for (i, v) in counters {
            let c = status_counter {
                index: *i,
                _pad: 0,
                value: *v,
            };
            b.extend_from_slice(c.as_bytes());
        }
        b
    }

    #[test]
    fn parses_and_reports() {
        let denied_map_create = gate_counter::CNT_CMD_DENIED.0;
        let st = parse(&stream(
            &[(denied_map_create, 3), (gate_counter::CNT_EXEC.0 + 1, 9)],
            144,
        ))
        .unwrap();
        assert_eq!(st.config.keyring_serial, 77);
        let j = st.json();
        assert!(
            j.contains("\"map_create\":{\"allowed\":0,\"denied\":3}"),
            "{j}"
        );
        assert!(j.contains("\"trusted_cached\":9"), "{j}");
        assert!(
            j.contains("\"untrusted_commands\":[\"map_lookup_elem\"]"),
            "{j}"
        );
        assert!(st.text().contains("map_create"));
        assert!(
            j.ends_with(",\"profiles\":{\"\":{\"allowed\":0,\"denied\":0}}}"),
            "{j}"
        );
        // Profiles: counted per profile, named from the config.
        let mut hdr = status_header {
            magic: MAGIC,
            version: VERSION,
            counters: gate_counter::CNT_MAX.0,
            ..Default::default()
        };
        let (p, _) = crate::policy::layered("profile.readonly.bpf = read", None, "");
        crate::load::config::apply(&mut hdr.config, &p);
        let mut b = hdr.as_bytes().to_vec();
        for (index, value) in [
            (gate_counter::CNT_PROFILE_ALLOWED.0 + 1, 4),
            (gate_counter::CNT_PROFILE_DENIED.0 + 1, 2),
        ] {
            b.extend_from_slice(
                status_counter {
                    index,
                    _pad: 0,
                    value,
                }
                .as_bytes(),
            );
        }
        let st = parse(&b).unwrap();
        let j = st.json();
        assert!(
            j.contains("\"profiles\":{\"full\":{\"allowed\":0,\"denied\":0},\"readonly\":{\"allowed\":4,\"denied\":2}}"),
            "{j}"
        );
        assert!(
            st.text()
                .contains("  readonly                        4          2"),
            "{}",
            st.text()
        );
    }

    /// A stream the 6.12 guest's pinned iterator produced (tests/data; refresh it when the layout changes).
    #[test]
    fn parses_a_real_kernel_stream() {
        let st = parse(include_bytes!("../../tests/data/status-stream-6.12.bin")).unwrap();
        assert_eq!(st.counters.len(), gate_counter::CNT_MAX.0 as usize);
        assert_ne!(st.config.keyring_serial, 0);
        assert!(
            st.config.key_serials.iter().filter(|k| **k != 0).count() == 2,
            "two baked certificates"
        );
        assert!(st.get(gate_counter::CNT_EXEC.0 + exec_reason::EXEC_TRUSTED_VERIFIED.0) > 0);
        assert!(
            st.get(gate_counter::CNT_CMD_DENIED.0) > 0,
            "denied map_create"
        );
        assert!(st.json().contains("\"map_create\":{\"allowed\":"));
        // The policy the kernel side holds reads back as the default policy the guest loaded.
        // (`bpfgate load` without --boot: no initramfs window.)
        let want = crate::policy::Policy {
            initramfs_trusted: false,
            ..Default::default()
        };
        assert_eq!(st.policy().render(), want.render());
    }

    #[test]
    fn rejects_malformed_streams() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "shorter than its header"),
            (vec![0; size_of::<status_header>()], "magic"),
            (stream(&[(5000, 1)], 144), "out of range"),
            (stream(&[], 100_000), "counters"),
            (
                {
                    let mut s = stream(&[(1, 1)], 144);
                    s.pop();
                    s
                },
                "truncated",
            ),
        ];
        for (buf, want) in cases {
            let err = parse(&buf).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }
}
