//! The policy as the BPF side holds it: `gate_config` rodata (frozen by the kernel at load) and the denylist map.
//! One conversion each way, so that `load` writes and `status` reads the same fields.

use crate::commands;
use crate::load::skel::types::{deny_key, gate_config, gate_counter, gate_mode, gate_perm};
use crate::policy::{Digest, Mode, Perm, Policy, Profile, PROFILES_MAX};

fn perm_to(p: Perm) -> u32 {
    match p {
        Perm::Allow => gate_perm::PERM_ALLOW.0,
        Perm::Deny => gate_perm::PERM_DENY.0,
        Perm::Restrict => gate_perm::PERM_RESTRICT.0,
    }
}

fn perm_from(v: u32) -> Perm {
    match gate_perm(v) {
        gate_perm::PERM_ALLOW => Perm::Allow,
        gate_perm::PERM_RESTRICT => Perm::Restrict,
        _ => Perm::Deny,
    }
}

/// Writes the policy's fields into the rodata config (mode must not be `off`: nothing loads then).
pub fn apply(cfg: &mut gate_config, p: &Policy) {
    cfg.mode = if p.mode == Mode::Audit {
        gate_mode::MODE_AUDIT.0
    } else {
        gate_mode::MODE_ENFORCE.0
    };
    cfg.bpf_perm = perm_to(p.bpf);
    cfg.kmod_perm = perm_to(p.kmod);
    cfg.kimg_perm = perm_to(p.kimg);
    cfg.sysctl_perm = perm_to(p.sysctl);
    cfg.bpf_allow = p.bpf_allow;
    cfg.bpf_block = p.bpf_block;
    cfg.kmod_allow = p.kmod_allow;
    cfg.kimg_allow = p.kimg_allow;
    cfg.sysctl_allow = p.sysctl_allow;
    cfg.denylist_len = p.denylist.len() as u32;
    cfg.token_only = u32::from(p.bpf_token_only);
    cfg.anchors = p.anchors as u32;
    cfg.profiles = p.profiles.len() as u32;
    for (i, prof) in p.profiles.iter().enumerate().take(PROFILES_MAX) {
        cfg.profile_bpf[i] = prof.bpf;
        cfg.profile_prog_types[i] = prof.prog_types;
        cfg.profile_kmod[i] = prof.kmod;
        cfg.profile_kimg[i] = prof.kimg;
        cfg.profile_sysctl[i] = prof.sysctl;
        cfg.profile_map_types[i] = prof.map_types;
        cfg.profile_attach_types[i] = prof.attach_types;
        cfg.profile_signed |= u32::from(prof.signed_programs) << i;
        for (d, b) in cfg.profile_names[i].iter_mut().zip(prof.name.bytes()) {
            *d = b as i8;
        }
    }
    cfg.attach_controlled = crate::policy::attach_controlled();
    cfg.profile_default = u32::from(p.profile_default);
    cfg.bindings = p.bindings.len() as u32;
}

/// The bpf() gate's fast paths (gate_bpf, bpf/bpfcmd.bpf.c) from the config's final fields, so call it last: the
/// commands the gate allows to everyone with no check but the allow-list (`bpf_fast_allow`), and those it allows
/// a trusted task with no check but its trust (`bpf_fast_trusted`). A command with a check of its own never takes
/// either: the gate's objects by id, link changes through an fd, `bpf.block`, a signed loader's runs, BTF under
/// `bpf.token_only`, a listed map write (protected maps), and for trusted tasks profiles and `restrict`'s
/// namespace check. Commands past the last counted slot always take the full path.
pub fn fast_paths(cfg: &mut gate_config) {
    let bit = |name: &str| {
        commands::NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| 1u64 << i)
    };
    let bits = |names: &[&str]| names.iter().fold(0, |m, n| m | bit(n));
    // Slots below BPFGATE_CMD_OTHER (the last counter slot, shared by all later commands).
    let known = (1u64 << (gate_counter::CNT_CMD_DENIED.0 - 1)) - 1;
    let mut special = cfg.bpf_block
        | bits(&[
            "prog_get_fd_by_id",
            "map_get_fd_by_id",
            "link_get_fd_by_id",
            "link_update",
            "link_detach",
        ]);
    if cfg.track_signed != 0 {
        special |= bit("prog_test_run");
    }
    if cfg.token_only != 0 {
        special |= bit("btf_load");
    }
    let writes = bits(&[
        "map_update_elem",
        "map_delete_elem",
        "map_lookup_and_delete_elem",
        "map_freeze",
        "map_update_batch",
        "map_delete_batch",
        "map_lookup_and_delete_batch",
    ]);
    let (allow, trusted) = match gate_perm(cfg.bpf_perm) {
        gate_perm::PERM_ALLOW => (u64::MAX, 0),
        gate_perm::PERM_DENY if cfg.profiles <= 1 => (cfg.bpf_allow & !writes, !cfg.bpf_allow),
        _ => (cfg.bpf_allow & !writes, 0),
    };
    cfg.bpf_fast_allow = allow & known & !special;
    cfg.bpf_fast_trusted = trusted & known & !special;
}

/// The names of the gate's profiles, by index (from its config).
pub fn profile_names(cfg: &gate_config) -> Vec<String> {
    let n = (cfg.profiles as usize).clamp(1, PROFILES_MAX);
    cfg.profile_names[..n]
        .iter()
        .map(|name| {
            let bytes: Vec<u8> = name
                .iter()
                .take_while(|c| **c != 0)
                .map(|c| *c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .collect()
}

/// The policy a running gate enforces, read back from its config. The denylist's digests stay in the kernel
/// (only their number is in the config), so the returned list is empty.
pub fn policy_of(cfg: &gate_config) -> Policy {
    Policy {
        mode: if cfg.mode == gate_mode::MODE_AUDIT.0 {
            Mode::Audit
        } else {
            Mode::Enforce
        },
        required: true,
        bpf: perm_from(cfg.bpf_perm),
        bpf_allow: cfg.bpf_allow,
        bpf_block: cfg.bpf_block,
        bpf_token_only: cfg.token_only != 0,
        bpf_signed: cfg.signed_progs != 0,
        anchors: u64::from(cfg.anchors),
        kmod: perm_from(cfg.kmod_perm),
        kmod_allow: cfg.kmod_allow,
        kimg: perm_from(cfg.kimg_perm),
        kimg_allow: cfg.kimg_allow,
        sysctl: perm_from(cfg.sysctl_perm),
        sysctl_allow: cfg.sysctl_allow,
        denylist: heapless::Vec::new(),
        // Only known as "a window was set up at load" (it may have closed since).
        initramfs_trusted: cfg.initramfs_dev != 0,
        // The bindings' digests stay in the kernel, as the denylist's do.
        profiles: profile_names(cfg)
            .iter()
            .enumerate()
            .map(|(i, name)| Profile {
                name: heapless::String::try_from(name.as_str()).unwrap_or_default(),
                bpf: cfg.profile_bpf[i],
                prog_types: cfg.profile_prog_types[i],
                kmod: cfg.profile_kmod[i],
                kimg: cfg.profile_kimg[i],
                sysctl: cfg.profile_sysctl[i],
                map_types: cfg.profile_map_types[i],
                attach_types: cfg.profile_attach_types[i],
                signed_programs: (cfg.profile_signed >> i) & 1 == 1,
            })
            .collect(),
        profile_default: cfg.profile_default.min(PROFILES_MAX as u32 - 1) as u8,
        bindings: heapless::Vec::new(),
        // Signer bindings live on as keyrings (cfg.profile_keyrings), not as fingerprints.
        signers: heapless::Vec::new(),
    }
}

/// The denylist map's key for a digest.
pub fn deny_key_of(d: &Digest) -> deny_key {
    deny_key {
        alg: d.alg,
        size: d.len,
        digest: d.bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::skel::types::{kimg_op, kmod_op, sysctl_op};
    use crate::policy::{self, KIMG_OPS, KMOD_OPS, SYSCTL_OPS};

    #[test]
    fn round_trip() {
        let (p, w) = policy::layered(
            "mode=audit\nbpf=restrict\nkmod=allow\nkimg.allow=dev_mem\nsysctl=restrict\nsysctl.allow=bpf_jit_limit\nbpf.block=token_create\nbpf.token_only=1\nanchors=baked,secondary\nprofile.readonly.bpf=read,prog_get_fd_by_id\nprofile.network_3.bpf=prog_load\nprofile.network_3.prog_types=xdp,network\nprofile.network_3.kmod=load\nprofile.network_3.kimg=bpf_write_user\nprofile.network_3.sysctl=bpf_jit_harden\nprofile.network_3.map_types=array,ringbuf\nprofile.network_3.attach_types=cgroup_inet_ingress,lsm_mac\nprofile.network_3.signed_programs=required\nprofile.default=readonly",
            None,
            "",
        );
        assert!(w.is_empty());
        let mut cfg = gate_config::default();
        apply(&mut cfg, &p);
        cfg.initramfs_dev = 1; // as when loaded from the initramfs (gate.rs sets it)
        let back = policy_of(&cfg);
        assert_eq!(back.render(), p.render());
    }

    /// The config `load` writes for policy `text` (kernel features as given), fast paths included.
    fn loaded(text: &str, track_signed: bool) -> gate_config {
        let (p, w) = policy::layered(text, None, "");
        assert!(w.is_empty(), "{w:?}");
        let mut cfg = gate_config::default();
        apply(&mut cfg, &p);
        cfg.track_signed = u32::from(track_signed);
        fast_paths(&mut cfg);
        cfg
    }

    fn has(map: u64, cmd: &str) -> bool {
        let i = commands::NAMES.iter().position(|n| *n == cmd).unwrap();
        map >> i & 1 == 1
    }

    /// The default policy: the read-only commands pass for everyone at once, the rest for a trusted task at once;
    /// the commands with checks of their own take neither path.
    #[test]
    fn fast_paths_of_the_default_policy() {
        let cfg = loaded("", false);
        assert_eq!(cfg.bpf_fast_allow & cfg.bpf_fast_trusted, 0);
        for cmd in ["map_lookup_elem", "obj_get_info_by_fd", "prog_get_next_id", "map_lookup_batch"] {
            assert!(has(cfg.bpf_fast_allow, cmd), "{cmd}");
        }
        for cmd in ["map_update_elem", "map_create", "prog_load", "obj_pin", "link_create", "btf_load", "prog_test_run"] {
            assert!(has(cfg.bpf_fast_trusted, cmd), "{cmd}");
            assert!(!has(cfg.bpf_fast_allow, cmd), "{cmd}");
        }
        for cmd in ["map_get_fd_by_id", "prog_get_fd_by_id", "link_get_fd_by_id", "link_update", "link_detach"] {
            assert!(!has(cfg.bpf_fast_allow | cfg.bpf_fast_trusted, cmd), "{cmd}");
        }
        // The shared slot of commands this build does not number: always the full path.
        assert_eq!((cfg.bpf_fast_allow | cfg.bpf_fast_trusted) >> 63, 0);
    }

    /// Each policy knob that adds a check to a command takes that command off the fast paths.
    #[test]
    fn fast_paths_leave_checked_commands_to_the_full_path() {
        let cfg = loaded("bpf.allow=read,map_update_elem
bpf.block=token_create
bpf.token_only=1", true);
        for cmd in ["map_update_elem", "token_create", "btf_load", "prog_test_run"] {
            assert!(!has(cfg.bpf_fast_allow | cfg.bpf_fast_trusted, cmd), "{cmd}");
        }
        assert!(has(cfg.bpf_fast_allow, "map_lookup_elem"));
        assert!(has(cfg.bpf_fast_trusted, "prog_load"));
        // Profiles and restrict check more than trust: no trusted fast path at all.
        for text in ["profile.readonly.bpf=read", "bpf=restrict"] {
            let cfg = loaded(text, false);
            assert_eq!(cfg.bpf_fast_trusted, 0, "{text}");
            assert!(has(cfg.bpf_fast_allow, "map_lookup_elem"), "{text}");
        }
        // bpf=allow: everything without a check of its own passes for everyone, listed writes included.
        let cfg = loaded("bpf=allow", false);
        assert_eq!(cfg.bpf_fast_trusted, 0);
        for cmd in ["map_update_elem", "prog_load", "map_lookup_elem"] {
            assert!(has(cfg.bpf_fast_allow, cmd), "{cmd}");
        }
        assert!(!has(cfg.bpf_fast_allow, "link_update"));
    }

    /// policy.rs names operations by bit; bpf/bpfgate.h numbers them: the two lists must agree.
    #[test]
    fn operation_names_match_the_header() {
        assert_eq!(KMOD_OPS.len(), 2);
        assert_eq!(KMOD_OPS[kmod_op::KMOD_LOAD.0 as usize], "load");
        assert_eq!(KMOD_OPS[kmod_op::KMOD_AUTOLOAD.0 as usize], "autoload");
        assert_eq!(KIMG_OPS.len(), kimg_op::KIMG_OPS.0 as usize);
        for (op, name) in [
            (kimg_op::KIMG_KEXEC, "kexec"),
            (kimg_op::KIMG_DEV_MEM, "dev_mem"),
            (kimg_op::KIMG_IOPORT, "ioport"),
            (kimg_op::KIMG_XEN_USER_ACTIONS, "xen_user_actions"),
            (kimg_op::KIMG_INTEGRITY_OTHER, "integrity_other"),
            (kimg_op::KIMG_KCORE, "kcore"),
            (kimg_op::KIMG_PERF, "perf"),
            (kimg_op::KIMG_XFRM_SECRET, "xfrm_secret"),
            (kimg_op::KIMG_CONFIDENTIALITY_OTHER, "confidentiality_other"),
        ] {
            assert_eq!(KIMG_OPS[op.0 as usize], name);
        }
        assert_eq!(kimg_op::KIMG_KCORE.0 as usize, policy::KIMG_CONFIDENTIALITY);
        assert_eq!(SYSCTL_OPS.len(), sysctl_op::SYSCTL_OPS.0 as usize);
        for (op, name) in [
            (sysctl_op::SYSCTL_BPF_STATS_ENABLED, "bpf_stats_enabled"),
            (
                sysctl_op::SYSCTL_UNPRIVILEGED_BPF_DISABLED,
                "unprivileged_bpf_disabled",
            ),
            (sysctl_op::SYSCTL_BPF_JIT_ENABLE, "bpf_jit_enable"),
            (sysctl_op::SYSCTL_BPF_JIT_HARDEN, "bpf_jit_harden"),
            (sysctl_op::SYSCTL_BPF_JIT_KALLSYMS, "bpf_jit_kallsyms"),
            (sysctl_op::SYSCTL_BPF_JIT_LIMIT, "bpf_jit_limit"),
        ] {
            assert_eq!(SYSCTL_OPS[op.0 as usize], name);
        }
        assert_eq!(
            crate::load::skel::types::gate_config::default()
                .bpf_allow
                .count_ones(),
            0
        );
    }
}
