//! The policy, and the one parser for its three layers: the defaults compiled in at build time (`BPFGATE_POLICY`,
//! checked by build.rs with this same code), the config file inside the initramfs (`/etc/bpfgate/policy.conf`), and
//! the kernel command line (`bpfgate=MODE`, `bpfgate.KEY=VALUE`). Each layer overrides the one before, key by key.
//!
//! Config syntax: one `key = value` per line, `#` starts a comment. The command line uses the same keys with a
//! `bpfgate.` prefix. A malformed line or value is a warning that names it and keeps the previous layer's value: a
//! policy typo never fails a boot, and `bpfgate policy --config FILE` shows the warnings before a boot does.
//!
//! Storage is fixed-capacity (heapless): PID 1 parses this before anything else runs, and nothing here allocates.
//! build.rs uses this crate too, so a baked policy with a mistake fails the build, not a boot.

use core::fmt::Write as _;
use heapless::{String, Vec};

use crate::commands;

/// Where the initramfs carries the config file.
pub const CONFIG_PATH: &str = "/etc/bpfgate/policy.conf";
/// Digests a denylist holds (baked, config and command line together).
pub const DENY_MAX: usize = 64;
/// Profiles, the built-in `full` included (`BPFGATE_PROFILES` in bpf/bpfgate.h).
pub const PROFILES_MAX: usize = 8;
/// Longest profile name (`BPFGATE_PROFILE_NAME` in bpf/bpfgate.h holds it with its NUL).
pub const PROFILE_NAME_MAX: usize = 15;
/// Digest bindings, all profiles together.
pub const BIND_MAX: usize = 64;
/// Signer bindings: one per baked certificate at most (`BPFGATE_KEYS_MAX`).
pub const SIGNERS_MAX: usize = 8;
/// The built-in profile: the whole of bpf(), today's behaviour. Index 0.
pub const FULL: &str = "full";
const WARNING_MAX: usize = 256;
const WARNINGS_MAX: usize = 16;

/// `mode`: what the gate does with the decisions it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deny, and record each denial.
    Enforce,
    /// Decide and record; deny nothing the policy areas cover (the gate's own protection stays on).
    Audit,
    /// Do not load the gate.
    Off,
}

/// Permission of one area (bpf, kmod, kimg, sysctl), as in bpflock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// Everyone may; the gate does not restrict the area.
    Allow,
    /// Trusted tasks may; untrusted ones only what the area's allow-list names.
    Deny,
    /// As `deny`, and a trusted task must also be in the initial mount namespace.
    Restrict,
}

/// `kmod` operations (index = bit in `kmod.allow`; `enum kmod_op` in bpf/bpfgate.h).
pub const KMOD_OPS: &[&str] = &["load", "autoload"];

/// Trust anchors, by bit (enum gate_anchor in bpf/bpfgate.h): the baked certificates and the kernel's keyrings.
pub const ANCHORS: &[&str] = &["baked", "builtin", "secondary", "platform"];

/// `kimg` operations (index = bit in `kimg.allow`; `enum kimg_op` in bpf/bpfgate.h): kexec, then the kernel's
/// lockdown reasons by name. Those up to `integrity_other` can change the running kernel; the rest read it.
pub const KIMG_OPS: &[&str] = &[
    "kexec",
    "module_signature",
    "dev_mem",
    "efi_test",
    "hibernation",
    "pci_access",
    "ioport",
    "msr",
    "acpi_tables",
    "device_tree",
    "pcmcia_cis",
    "tiocsserial",
    "module_parameters",
    "mmiotrace",
    "debugfs",
    "xmon_wr",
    "bpf_write_user",
    "dbg_write_kernel",
    "rtas_error_injection",
    "xen_user_actions",
    "integrity_other",
    "kcore",
    "kprobes",
    "bpf_read_kernel",
    "dbg_read_kernel",
    "perf",
    "tracefs",
    "xmon_rw",
    "xfrm_secret",
    "confidentiality_other",
];
/// The BPF sysctls (index = bit in `sysctl.allow`; `enum sysctl_op` in bpf/bpfgate.h), by their file names under
/// /proc/sys/kernel (the first two) and /proc/sys/net/core. A write to any of them changes what bpf() does for
/// everyone: statistics, unprivileged use, the JIT's hardening, its address exposure and its memory limit.
pub const SYSCTL_OPS: &[&str] = &[
    "bpf_stats_enabled",
    "unprivileged_bpf_disabled",
    "bpf_jit_enable",
    "bpf_jit_harden",
    "bpf_jit_kallsyms",
    "bpf_jit_limit",
];

/// BPF program types by uapi number (`enum bpf_prog_type`, lower case, without the prefix), for
/// `profile.NAME.prog_types`. Types the kernel adds later have no name here and are refused to every profile but
/// `full`.
pub const PROG_TYPES: &[&str] = &[
    "unspec",
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
    "netfilter",
];

/// BPF map types by uapi number (`enum bpf_map_type`, lower case, without the prefix), for
/// `profile.NAME.map_types`. Types the kernel adds later are refused to every profile but `full`.
pub const MAP_TYPES: &[&str] = &[
    "unspec",
    "hash",
    "array",
    "prog_array",
    "perf_event_array",
    "percpu_hash",
    "percpu_array",
    "stack_trace",
    "cgroup_array",
    "lru_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "array_of_maps",
    "hash_of_maps",
    "devmap",
    "sockmap",
    "cpumap",
    "xskmap",
    "sockhash",
    "cgroup_storage",
    "reuseport_sockarray",
    "percpu_cgroup_storage",
    "queue",
    "stack",
    "sk_storage",
    "devmap_hash",
    "struct_ops",
    "ringbuf",
    "inode_storage",
    "task_storage",
    "bloom_filter",
    "user_ringbuf",
    "cgrp_storage",
    "arena",
    "insn_array",
    "rhash",
];

/// BPF attach types by uapi number (`enum bpf_attach_type`, lower case, without the `BPF_` prefix), for
/// `profile.NAME.attach_types`.
pub const ATTACH_TYPES: &[&str] = &[
    "cgroup_inet_ingress",
    "cgroup_inet_egress",
    "cgroup_inet_sock_create",
    "cgroup_sock_ops",
    "sk_skb_stream_parser",
    "sk_skb_stream_verdict",
    "cgroup_device",
    "sk_msg_verdict",
    "cgroup_inet4_bind",
    "cgroup_inet6_bind",
    "cgroup_inet4_connect",
    "cgroup_inet6_connect",
    "cgroup_inet4_post_bind",
    "cgroup_inet6_post_bind",
    "cgroup_udp4_sendmsg",
    "cgroup_udp6_sendmsg",
    "lirc_mode2",
    "flow_dissector",
    "cgroup_sysctl",
    "cgroup_udp4_recvmsg",
    "cgroup_udp6_recvmsg",
    "cgroup_getsockopt",
    "cgroup_setsockopt",
    "trace_raw_tp",
    "trace_fentry",
    "trace_fexit",
    "modify_return",
    "lsm_mac",
    "trace_iter",
    "cgroup_inet4_getpeername",
    "cgroup_inet6_getpeername",
    "cgroup_inet4_getsockname",
    "cgroup_inet6_getsockname",
    "xdp_devmap",
    "cgroup_inet_sock_release",
    "xdp_cpumap",
    "sk_lookup",
    "xdp",
    "sk_skb_verdict",
    "sk_reuseport_select",
    "sk_reuseport_select_or_migrate",
    "perf_event",
    "trace_kprobe_multi",
    "lsm_cgroup",
    "struct_ops",
    "netfilter",
    "tcx_ingress",
    "tcx_egress",
    "trace_uprobe_multi",
    "cgroup_unix_connect",
    "cgroup_unix_sendmsg",
    "cgroup_unix_recvmsg",
    "cgroup_unix_getpeername",
    "cgroup_unix_getsockname",
    "netkit_primary",
    "netkit_peer",
    "trace_kprobe_session",
    "trace_uprobe_session",
    "trace_fsession",
    "trace_fentry_multi",
    "trace_fexit_multi",
    "trace_fsession_multi",
];

/// The attach types whose names start with `prefix`, or are one of `also`.
fn attach_family(prefix: &str, also: &[&str]) -> u64 {
    ATTACH_TYPES
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with(prefix) || also.contains(n))
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// Attach types of cgroup programs: every `cgroup_*` name.
fn attach_cgroup() -> u64 {
    attach_family("cgroup_", &[])
}

/// Attach types of tracing programs: BTF-typed tracepoints, fentry/fexit/fmod_ret with their session and
/// multi-attach forms, iterators, perf events (kprobes, tracepoints), kprobe/uprobe multi and session links.
fn attach_tracing() -> u64 {
    attach_family("trace_", &["modify_return", "perf_event"])
}

/// Attach types of LSM programs.
fn attach_lsm() -> u64 {
    attach_family("lsm_", &[])
}

/// The attach types a profile controls (`profile.NAME.attach_types`): those of cgroup, tracing and LSM programs,
/// where one program type reaches many places in the kernel. Other attach types (XDP, tc, sockets, netfilter,
/// struct_ops) follow from the program type, which `prog_types` names. Attach types past this list (newer
/// kernels) are controlled too: no profile but `full` names them.
pub fn attach_controlled() -> u64 {
    attach_cgroup() | attach_tracing() | attach_lsm() | !range(0, ATTACH_TYPES.len())
}

/// Program-type groups: what a networking, a cgroup or a tracing loader loads.
fn prog_group(names: &[&str]) -> u64 {
    bits(PROG_TYPES, names)
}

/// First of the read-only (confidentiality) kimg operations.
pub const KIMG_CONFIDENTIALITY: usize = 21;

/// bpf() commands that only change map contents (bpflock's `bpf_write`).
pub const BPF_WRITE: &[&str] = &[
    "map_update_elem",
    "map_delete_elem",
    "map_lookup_and_delete_elem",
    "map_freeze",
    "map_lookup_and_delete_batch",
    "map_update_batch",
    "map_delete_batch",
];

/// One denylisted fs-verity digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// fs-verity hash algorithm: 1 sha256, 2 sha512.
    pub alg: u16,
    pub len: u16,
    pub bytes: [u8; 64],
}

impl Digest {
    /// Parses `sha256:HEX` or `sha512:HEX` (what `fsverity digest` and `bpfgate digest` print).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let (alg, len, hex) = if let Some(h) = s.strip_prefix("sha256:") {
            (1, 32, h)
        } else if let Some(h) = s.strip_prefix("sha512:") {
            (2, 64, h)
        } else {
            return Err("expected sha256:HEX or sha512:HEX, as `fsverity digest FILE` prints");
        };
        if hex.len() != 2 * len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("wrong number of hex digits for the algorithm");
        }
        let mut bytes = [0u8; 64];
        for (i, b) in bytes.iter_mut().take(len).enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| "bad hex digit")?;
        }
        Ok(Self {
            alg,
            len: len as u16,
            bytes,
        })
    }
}

impl core::fmt::Display for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.alg == 2 { "sha512:" } else { "sha256:" })?;
        for b in &self.bytes[..usize::from(self.len).min(64)] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What a trusted loader may do with bpf(): a named set of commands (`profile.NAME.bpf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String<PROFILE_NAME_MAX>,
    /// bpf() commands its loaders may use (bitmap by command number; `full`: every bit, unknown commands too).
    pub bpf: u64,
    /// Program types its loaders may load (bitmap by `enum bpf_prog_type`; `full`: every bit). None for a new
    /// profile: what a profile does not name, it does not get.
    pub prog_types: u64,
    /// What trust adds in the other areas, beyond their allow-lists (bitmaps over KMOD_OPS, KIMG_OPS,
    /// SYSCTL_OPS; `full`: everything). None for a new profile.
    pub kmod: u64,
    pub kimg: u64,
    pub sysctl: u64,
    /// Map types its loaders may create (bitmap by `enum bpf_map_type`; `full`: every bit). None for a new
    /// profile.
    pub map_types: u64,
    /// Attach types (of cgroup, tracing and LSM programs: `attach_controlled`) its loaders may load programs
    /// for and attach (bitmap by `enum bpf_attach_type`; `full`: every bit). None for a new profile.
    pub attach_types: u64,
    /// Every program its loaders load must carry a signature the kernel verified against an anchor keyring
    /// (`profile.NAME.signed_programs = required`; kernels with BPF program signing).
    pub signed_programs: bool,
}

/// A file bound to a profile by its fs-verity digest (`profile.NAME.digests`): wins over the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub digest: Digest,
    /// Index into `Policy::profiles`.
    pub profile: u8,
}

/// A signer bound to a profile (`profile.NAME.signers`): files whose signature a baked certificate with this
/// SHA-256 fingerprint (of its DER encoding, as `openssl x509 -fingerprint -sha256` prints it) verifies get the
/// profile, unless a digest binding names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerBinding {
    pub fingerprint: [u8; 32],
    /// Index into `Policy::profiles`.
    pub profile: u8,
}

/// Parses a SHA-256 certificate fingerprint: 64 hex digits, colons allowed, either case.
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], &'static str> {
    let mut out = [0u8; 32];
    let mut n = 0;
    let mut hi: Option<u8> = None;
    for c in s.trim().trim_start_matches("sha256:").chars() {
        if c == ':' {
            continue;
        }
        let d = c
            .to_digit(16)
            .ok_or("a certificate's SHA-256 fingerprint: 64 hex digits, colons allowed")?
            as u8;
        match hi.take() {
            None => hi = Some(d),
            Some(h) => {
                *out.get_mut(n)
                    .ok_or("more than 64 hex digits for a SHA-256 fingerprint")? = h << 4 | d;
                n += 1;
            }
        }
    }
    if n != 32 || hi.is_some() {
        return Err("a certificate's SHA-256 fingerprint has 64 hex digits (colons allowed)");
    }
    Ok(out)
}

/// The whole policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// A gate that cannot load stops the boot (initramfs paths).
    pub required: bool,
    pub bpf: Perm,
    /// bpf() commands untrusted tasks keep (bitmap by command number).
    pub bpf_allow: u64,
    /// bpf() commands no task may use, trusted ones included (the gate's own loader excepted).
    pub bpf_block: u64,
    /// map_create, prog_load and btf_load only through a BPF token (for every task but the gate's loader).
    pub bpf_token_only: bool,
    /// Untrusted tasks may load programs whose signature the kernel verified against the gate's keyring or a
    /// kernel keyring named in `anchors` (kernels with BPF program signing, 6.18+).
    pub bpf_signed: bool,
    pub kmod: Perm,
    pub kmod_allow: u64,
    pub kimg: Perm,
    pub kimg_allow: u64,
    /// Writes to the BPF sysctls (opened for writing).
    pub sysctl: Perm,
    pub sysctl_allow: u64,
    /// Whose signatures are trusted: bitmap over ANCHORS (never empty).
    pub anchors: u64,
    /// Digests never trusted, whatever their signature. Grows across layers, never shrinks.
    pub denylist: Vec<Digest, DENY_MAX>,
    /// Programs of the initramfs are trusted until the real root's init starts (when the gate loads there).
    pub initramfs_trusted: bool,
    /// Profiles of trusted loaders; `full` first, always.
    pub profiles: Vec<Profile, PROFILES_MAX>,
    /// The profile of a trusted file no binding names (index into `profiles`).
    pub profile_default: u8,
    /// Files bound to a profile by digest. Grows across layers; binding a digest again moves it.
    pub bindings: Vec<Binding, BIND_MAX>,
    /// Signers bound to a profile. Grows across layers; binding a signer again moves it.
    pub signers: Vec<SignerBinding, SIGNERS_MAX>,
}

/// Warnings collected while parsing; the ones past capacity are counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Warnings {
    pub list: Vec<String<WARNING_MAX>, WARNINGS_MAX>,
    pub dropped: usize,
}

impl Warnings {
    fn push(&mut self, args: core::fmt::Arguments<'_>) {
        /// Writes character by character, so that a message longer than the buffer is cut, not lost (a
        /// heapless string refuses a whole piece that does not fit).
        struct Cut(String<WARNING_MAX>);
        impl core::fmt::Write for Cut {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                s.chars()
                    .try_for_each(|c| self.0.push(c))
                    .map_err(|_| core::fmt::Error)
            }
        }
        let mut w = Cut(String::new());
        let _ = w.write_fmt(args);
        if self.list.push(w.0).is_err() {
            self.dropped += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.dropped == 0
    }
}

fn bits(names: &[&str], set: &[&str]) -> u64 {
    set.iter()
        .filter_map(|s| names.iter().position(|n| n == s))
        .fold(0, |m, i| m | (1u64 << i))
}

fn range(from: usize, to: usize) -> u64 {
    (from..to).fold(0, |m, i| m | (1u64 << i))
}

impl Default for Policy {
    /// The built-in defaults (before any layer): enforce, required, every area `deny`, untrusted tasks keep the
    /// read-only bpf() commands and the kernel-reading kimg operations.
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            required: true,
            bpf: Perm::Deny,
            bpf_allow: bits(commands::NAMES, commands::UNTRUSTED),
            bpf_block: 0,
            bpf_token_only: false,
            bpf_signed: false,
            kmod: Perm::Deny,
            kmod_allow: 0,
            kimg: Perm::Deny,
            kimg_allow: range(KIMG_CONFIDENTIALITY, KIMG_OPS.len()),
            sysctl: Perm::Deny,
            sysctl_allow: 0,
            anchors: 1, // baked
            denylist: Vec::new(),
            initramfs_trusted: true,
            profiles: Vec::from_iter([Profile {
                name: String::try_from(FULL).unwrap_or_default(),
                bpf: u64::MAX,
                prog_types: u64::MAX,
                kmod: u64::MAX,
                kimg: u64::MAX,
                sysctl: u64::MAX,
                map_types: u64::MAX,
                attach_types: u64::MAX,
                signed_programs: false,
            }]),
            profile_default: 0,
            bindings: Vec::new(),
            signers: Vec::new(),
        }
    }
}

/// A named group of a list key and the bits it stands for.
type Group = (&'static str, fn() -> u64);

/// The list keys, their names and groups.
struct ListKey {
    names: &'static [&'static str],
    groups: &'static [Group],
}

const BPF_LIST: ListKey = ListKey {
    names: commands::NAMES,
    groups: &[
        ("read", || bits(commands::NAMES, commands::UNTRUSTED)),
        ("write", || bits(commands::NAMES, BPF_WRITE)),
    ],
};
const KMOD_LIST: ListKey = ListKey {
    names: KMOD_OPS,
    groups: &[],
};
const SYSCTL_LIST: ListKey = ListKey {
    names: SYSCTL_OPS,
    groups: &[],
};
const PROG_TYPE_LIST: ListKey = ListKey {
    names: PROG_TYPES,
    groups: &[
        ("network", || {
            prog_group(&[
                "socket_filter",
                "sched_cls",
                "sched_act",
                "xdp",
                "lwt_in",
                "lwt_out",
                "lwt_xmit",
                "sock_ops",
                "sk_skb",
                "sk_msg",
                "lwt_seg6local",
                "sk_reuseport",
                "flow_dissector",
                "sk_lookup",
                "netfilter",
            ])
        }),
        ("cgroup", || {
            prog_group(&[
                "cgroup_skb",
                "cgroup_sock",
                "cgroup_device",
                "cgroup_sock_addr",
                "cgroup_sysctl",
                "cgroup_sockopt",
            ])
        }),
        ("tracing", || {
            prog_group(&[
                "kprobe",
                "tracepoint",
                "perf_event",
                "raw_tracepoint",
                "raw_tracepoint_writable",
                "tracing",
            ])
        }),
    ],
};
const MAP_TYPE_LIST: ListKey = ListKey {
    names: MAP_TYPES,
    groups: &[],
};
const ATTACH_TYPE_LIST: ListKey = ListKey {
    names: ATTACH_TYPES,
    groups: &[
        ("cgroup", attach_cgroup),
        ("tracing", attach_tracing),
        ("lsm", attach_lsm),
    ],
};
const ANCHOR_LIST: ListKey = ListKey {
    names: ANCHORS,
    groups: &[],
};
const KIMG_LIST: ListKey = ListKey {
    names: KIMG_OPS,
    groups: &[
        ("integrity", || range(0, KIMG_CONFIDENTIALITY)),
        ("confidentiality", || {
            range(KIMG_CONFIDENTIALITY, KIMG_OPS.len())
        }),
    ],
};

/// Every key, for messages.
const KEYS: &str =
    "mode, required, bpf, bpf.allow, bpf.block, bpf.token_only, bpf.signed, kmod, kmod.allow, kimg, kimg.allow, sysctl, \
     sysctl.allow, anchors, denylist, initramfs, profile.NAME.bpf, profile.NAME.prog_types, profile.NAME.map_types, \
     profile.NAME.attach_types, profile.NAME.signed_programs, profile.NAME.kmod, profile.NAME.kimg, \
     profile.NAME.sysctl, profile.NAME.digests, profile.NAME.signers, profile.default";

/// Parses a comma-separated list of digests or fingerprints (`none` or nothing: empty), all or nothing: the first
/// bad entry is the error.
#[allow(clippy::result_large_err)]
fn items<T>(
    v: &str,
    parse: fn(&str) -> Result<T, &'static str>,
    mut each: impl FnMut(T) -> Result<(), String<WARNING_MAX>>,
) -> Result<(), String<WARNING_MAX>> {
    for item in v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "none")
    {
        let d = parse(item).map_err(|e| {
            let mut s = String::new();
            let cut = item.get(..24).unwrap_or(item);
            let _ = write!(s, "{cut:?}...: {e}");
            s
        })?;
        each(d)?;
    }
    Ok(())
}

impl ListKey {
    /// A comma-separated list of names and groups; `none` (or nothing) is the empty list, `all` everything.
    // The message is a fixed-size string on purpose: PID 1 parses this before anything may allocate.
    #[allow(clippy::result_large_err)]
    fn parse(&self, v: &str) -> Result<u64, String<WARNING_MAX>> {
        let mut m = 0u64;
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "none" {
                continue;
            }
            if item == "all" {
                m |= range(0, self.names.len());
                continue;
            }
            if let Some((_, g)) = self.groups.iter().find(|(n, _)| *n == item) {
                m |= g();
                continue;
            }
            match self.names.iter().position(|n| *n == item) {
                Some(i) => m |= 1 << i,
                None => {
                    let mut e = String::new();
                    let _ = write!(e, "unknown name {item:?}");
                    return Err(e);
                }
            }
        }
        Ok(m)
    }

    fn render(&self, m: u64) -> std::string::String {
        let v: std::vec::Vec<&str> = (0..self.names.len())
            .filter(|i| m >> i & 1 == 1)
            .map(|i| self.names[i])
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(",")
        }
    }
}

fn flag(v: &str) -> Result<bool, &'static str> {
    match v {
        "1" | "yes" | "true" => Ok(true),
        "0" | "no" | "false" => Ok(false),
        _ => Err("expected 0 or 1"),
    }
}

fn perm(v: &str) -> Result<Perm, &'static str> {
    match v {
        "allow" => Ok(Perm::Allow),
        "deny" => Ok(Perm::Deny),
        "restrict" => Ok(Perm::Restrict),
        _ => Err("expected allow, deny or restrict"),
    }
}

fn perm_name(p: Perm) -> &'static str {
    match p {
        Perm::Allow => "allow",
        Perm::Deny => "deny",
        Perm::Restrict => "restrict",
    }
}

pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Enforce => "enforce",
        Mode::Audit => "audit",
        Mode::Off => "off",
    }
}

impl Policy {
    /// Sets one key. On error the policy is unchanged and the message says what was expected.
    #[allow(clippy::result_large_err)] // fixed-size message, as in ListKey::parse
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String<WARNING_MAX>> {
        let msg = |m: &str| -> String<WARNING_MAX> {
            let mut s = String::new();
            let _ = s.push_str(m);
            s
        };
        let v = value.trim();
        match key {
            "mode" => {
                self.mode = match v {
                    "enforce" => Mode::Enforce,
                    "audit" => Mode::Audit,
                    "off" => Mode::Off,
                    _ => return Err(msg("expected enforce, audit or off")),
                }
            }
            "required" => self.required = flag(v).map_err(msg)?,
            "bpf.token_only" => self.bpf_token_only = flag(v).map_err(msg)?,
            "bpf.signed" => self.bpf_signed = flag(v).map_err(msg)?,
            "initramfs" => {
                self.initramfs_trusted = match v {
                    "trusted" => true,
                    "untrusted" => false,
                    _ => return Err(msg("expected trusted or untrusted")),
                }
            }
            "bpf" => self.bpf = perm(v).map_err(msg)?,
            "kmod" => self.kmod = perm(v).map_err(msg)?,
            "kimg" => self.kimg = perm(v).map_err(msg)?,
            "sysctl" => self.sysctl = perm(v).map_err(msg)?,
            "bpf.allow" => self.bpf_allow = BPF_LIST.parse(v)?,
            "bpf.block" => self.bpf_block = BPF_LIST.parse(v)?,
            "kmod.allow" => self.kmod_allow = KMOD_LIST.parse(v)?,
            "kimg.allow" => self.kimg_allow = KIMG_LIST.parse(v)?,
            "sysctl.allow" => self.sysctl_allow = SYSCTL_LIST.parse(v)?,
            "anchors" => {
                let a = ANCHOR_LIST.parse(v)?;
                if a == 0 {
                    return Err(msg(
                        "at least one anchor: baked, builtin, secondary, platform",
                    ));
                }
                self.anchors = a;
            }
            "denylist" => {
                // All or nothing: a bad entry leaves the list as it was.
                let mut next = self.denylist.clone();
                items(v, Digest::parse, |d| {
                    if !next.contains(&d) && next.push(d).is_err() {
                        let mut s = String::new();
                        let _ = write!(s, "more than {DENY_MAX} digests");
                        return Err(s);
                    }
                    Ok(())
                })?;
                self.denylist = next;
            }
            "profile.default" => {
                self.profile_default = self.profile_index(v).ok_or_else(|| self.no_profile(v))?;
            }
            k if k.starts_with("profile.") => return self.set_profile(k, v),
            _ => {
                let mut s = String::new();
                let _ = write!(s, "unknown key (known: {KEYS})");
                return Err(s);
            }
        }
        Ok(())
    }

    /// Index of the profile called `name`.
    pub fn profile_index(&self, name: &str) -> Option<u8> {
        self.profiles
            .iter()
            .position(|p| p.name == name)
            .map(|i| i as u8)
    }

    fn no_profile(&self, name: &str) -> String<WARNING_MAX> {
        let mut s = String::new();
        let _ = write!(
            s,
            "no profile {name:?} (define it first with profile.{name}.bpf; defined:"
        );
        for p in &self.profiles {
            let _ = write!(s, " {}", p.name);
        }
        let _ = s.push(')');
        s
    }

    /// `profile.NAME.bpf` (defines NAME, or redefines its commands) and `profile.NAME.digests` (binds files).
    #[allow(clippy::result_large_err)]
    fn set_profile(&mut self, key: &str, v: &str) -> Result<(), String<WARNING_MAX>> {
        let msg = |m: core::fmt::Arguments<'_>| -> String<WARNING_MAX> {
            let mut s = String::new();
            let _ = s.write_fmt(m);
            s
        };
        let rest = &key["profile.".len()..];
        let Some((name, field)) = rest.rsplit_once('.') else {
            return Err(msg(format_args!(
                "expected profile.NAME.FIELD (bpf, prog_types, map_types, attach_types, signed_programs, kmod, kimg, sysctl, digests, signers) or profile.default"
            )));
        };
        if name.is_empty()
            || name.len() > PROFILE_NAME_MAX
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            || name == "default"
        {
            return Err(msg(format_args!(
                "profile name {name:?}: 1 to {PROFILE_NAME_MAX} of a-z, 0-9, _ (not \"default\")"
            )));
        }
        match field {
            "bpf" | "prog_types" | "map_types" | "attach_types" | "signed_programs" | "kmod" | "kimg"
            | "sysctl" => {
                if name == FULL {
                    return Err(msg(format_args!(
                        "the built-in profile full (all of bpf()) cannot be changed; define a new one"
                    )));
                }
                let m = match field {
                    "bpf" => BPF_LIST.parse(v)?,
                    "prog_types" => PROG_TYPE_LIST.parse(v)?,
                    "map_types" => MAP_TYPE_LIST.parse(v)?,
                    "attach_types" => ATTACH_TYPE_LIST.parse(v)?,
                    "signed_programs" => match v {
                        "required" => 1,
                        "optional" => 0,
                        _ => {
                            return Err(msg(format_args!(
                                "expected required (every program its loaders load must be signed for an anchor \
                                 keyring) or optional"
                            )))
                        }
                    },
                    "kmod" => KMOD_LIST.parse(v)?,
                    "kimg" => KIMG_LIST.parse(v)?,
                    _ => SYSCTL_LIST.parse(v)?,
                };
                let i = match self.profile_index(name) {
                    Some(i) => usize::from(i),
                    None => {
                        let profile = Profile {
                            name: String::try_from(name)
                                .map_err(|_| msg(format_args!("name too long")))?,
                            bpf: 0,
                            prog_types: 0,
                            kmod: 0,
                            kimg: 0,
                            sysctl: 0,
                            map_types: 0,
                            attach_types: 0,
                            signed_programs: false,
                        };
                        self.profiles.push(profile).map_err(|_| {
                            msg(format_args!(
                                "more than {PROFILES_MAX} profiles (full included)"
                            ))
                        })?;
                        self.profiles.len() - 1
                    }
                };
                let p = &mut self.profiles[i];
                if field == "signed_programs" {
                    p.signed_programs = m != 0;
                    return Ok(());
                }
                *match field {
                    "bpf" => &mut p.bpf,
                    "prog_types" => &mut p.prog_types,
                    "map_types" => &mut p.map_types,
                    "attach_types" => &mut p.attach_types,
                    "kmod" => &mut p.kmod,
                    "kimg" => &mut p.kimg,
                    _ => &mut p.sysctl,
                } = m;
                Ok(())
            }
            "digests" => {
                let profile = self
                    .profile_index(name)
                    .ok_or_else(|| self.no_profile(name))?;
                // All or nothing, as the denylist.
                let mut next = self.bindings.clone();
                items(v, Digest::parse, |digest| {
                    if let Some(b) = next.iter_mut().find(|b| b.digest == digest) {
                        b.profile = profile;
                    } else if next.push(Binding { digest, profile }).is_err() {
                        return Err(msg(format_args!("more than {BIND_MAX} digest bindings")));
                    }
                    Ok(())
                })?;
                self.bindings = next;
                Ok(())
            }
            "signers" => {
                let profile = self
                    .profile_index(name)
                    .ok_or_else(|| self.no_profile(name))?;
                let mut next = self.signers.clone();
                items(v, parse_fingerprint, |fingerprint| {
                    if let Some(b) = next.iter_mut().find(|b| b.fingerprint == fingerprint) {
                        b.profile = profile;
                    } else if next
                        .push(SignerBinding {
                            fingerprint,
                            profile,
                        })
                        .is_err()
                    {
                        return Err(msg(format_args!("more than {SIGNERS_MAX} signer bindings")));
                    }
                    Ok(())
                })?;
                self.signers = next;
                Ok(())
            }
            _ => Err(msg(format_args!(
                "unknown profile field {field:?} (known: bpf, prog_types, map_types, attach_types, signed_programs, kmod, kimg, sysctl, digests, signers)"
            ))),
        }
    }

    /// The profiles whose loaders may load only signed programs (`signed_programs = required`), by name.
    pub fn signing_profiles(&self) -> std::vec::Vec<&str> {
        self.profiles
            .iter()
            .filter(|p| p.signed_programs)
            .map(|p| p.name.as_str())
            .collect()
    }

    /// The profile a trusted file with this digest, verified by the certificate with this fingerprint (None: a
    /// kernel keyring's), gets, and what chose it: `digest` (a digest binding, which wins), `signer`, or `default`.
    pub fn profile_for(
        &self,
        digest: &Digest,
        signer: Option<&[u8; 32]>,
    ) -> (&Profile, &'static str) {
        let (i, why) = if let Some(b) = self.bindings.iter().find(|b| b.digest == *digest) {
            (b.profile, "digest")
        } else if let Some(b) =
            signer.and_then(|f| self.signers.iter().find(|b| b.fingerprint == *f))
        {
            (b.profile, "signer")
        } else {
            (self.profile_default, "default")
        };
        (
            &self.profiles[usize::from(i).min(self.profiles.len() - 1)],
            why,
        )
    }

    /// Applies a config file's text. `source` names it in warnings.
    pub fn apply_config(&mut self, text: &str, source: &str, w: &mut Warnings) {
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                w.push(format_args!(
                    "{source}:{}: expected key = value, got {line:?}; ignored",
                    n + 1
                ));
                continue;
            };
            let k = k.trim();
            if let Err(e) = self.set(k, v) {
                w.push(format_args!("{source}:{}: {k}: {e}; ignored", n + 1));
            }
        }
    }

    /// Applies the `bpfgate=` and `bpfgate.KEY=` words of a kernel command line. Other words, and the boot keys
    /// the embedded init reads itself (`bpfgate.root_timeout`), are left alone.
    pub fn apply_cmdline(&mut self, line: &str, w: &mut Warnings) {
        for word in words(line) {
            let (key, value) = match word.split_once('=') {
                Some((k, v)) => (k, v.trim_matches('"')),
                None => (word, ""),
            };
            let key = match key {
                "bpfgate" => "mode",
                k => match k.strip_prefix("bpfgate.") {
                    Some("root_timeout") | None => continue,
                    Some(k) => k,
                },
            };
            if let Err(e) = self.set(key, value) {
                w.push(format_args!("kernel command line: {word}: {e}; ignored"));
            }
        }
    }

    /// The policy in config syntax: `apply_config(render())` over the defaults gives this policy back.
    pub fn render(&self) -> std::string::String {
        let deny: std::vec::Vec<std::string::String> =
            self.denylist.iter().map(|d| d.to_string()).collect();
        format!(
            "mode = {}\nrequired = {}\nbpf = {}\nbpf.allow = {}\nbpf.block = {}\nbpf.token_only = {}\nbpf.signed = {}\nkmod = {}\n\
             kmod.allow = {}\n\
             kimg = {}\nkimg.allow = {}\nsysctl = {}\nsysctl.allow = {}\nanchors = {}\ndenylist = {}\ninitramfs = {}\n",
            mode_name(self.mode),
            u8::from(self.required),
            perm_name(self.bpf),
            BPF_LIST.render(self.bpf_allow),
            BPF_LIST.render(self.bpf_block),
            u8::from(self.bpf_token_only),
            u8::from(self.bpf_signed),
            perm_name(self.kmod),
            KMOD_LIST.render(self.kmod_allow),
            perm_name(self.kimg),
            KIMG_LIST.render(self.kimg_allow),
            perm_name(self.sysctl),
            SYSCTL_LIST.render(self.sysctl_allow),
            ANCHOR_LIST.render(self.anchors),
            if deny.is_empty() {
                "none".into()
            } else {
                deny.join(",")
            },
            if self.initramfs_trusted {
                "trusted"
            } else {
                "untrusted"
            }
        ) + &self.render_profiles()
    }

    /// The profiles in config syntax: each one's commands, its bindings one line each (in order), the default.
    pub fn render_profiles(&self) -> std::string::String {
        let mut out = std::string::String::new();
        for p in self.profiles.iter().skip(1) {
            out += &format!("profile.{}.bpf = {}\n", p.name, BPF_LIST.render(p.bpf));
            out += &format!(
                "profile.{}.prog_types = {}\n",
                p.name,
                PROG_TYPE_LIST.render(p.prog_types)
            );
            out += &format!(
                "profile.{}.map_types = {}\n",
                p.name,
                MAP_TYPE_LIST.render(p.map_types)
            );
            out += &format!(
                "profile.{}.attach_types = {}\n",
                p.name,
                ATTACH_TYPE_LIST.render(p.attach_types)
            );
            if p.signed_programs {
                out += &format!("profile.{}.signed_programs = required\n", p.name);
            }
            out += &format!("profile.{}.kmod = {}\n", p.name, KMOD_LIST.render(p.kmod));
            out += &format!("profile.{}.kimg = {}\n", p.name, KIMG_LIST.render(p.kimg));
            out += &format!(
                "profile.{}.sysctl = {}\n",
                p.name,
                SYSCTL_LIST.render(p.sysctl)
            );
        }
        for b in &self.bindings {
            let name = self
                .profiles
                .get(usize::from(b.profile))
                .map_or(FULL, |p| p.name.as_str());
            out += &format!("profile.{name}.digests = {}\n", b.digest);
        }
        for b in &self.signers {
            let name = self
                .profiles
                .get(usize::from(b.profile))
                .map_or(FULL, |p| p.name.as_str());
            let hex: std::string::String =
                b.fingerprint.iter().map(|x| format!("{x:02x}")).collect();
            out += &format!("profile.{name}.signers = {hex}\n");
        }
        let default = self
            .profiles
            .get(usize::from(self.profile_default))
            .map_or(FULL, |p| p.name.as_str());
        out += &format!("profile.default = {default}\n");
        out
    }
}

/// Whitespace-separated words of a kernel command line; double quotes keep spaces inside a word.
pub fn words(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line.trim();
    core::iter::from_fn(move || {
        rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|(_, ch)| {
                if *ch == '"' {
                    quoted = !quoted;
                }
                ch.is_whitespace() && !quoted
            })
            .map_or(rest.len(), |(i, _)| i);
        let (w, r) = rest.split_at(end);
        rest = r;
        Some(w)
    })
}

/// The policy of a boot: built-in defaults, then the baked text, the config file (when there is one), the kernel
/// command line.
pub fn layered(baked: &str, config: Option<(&str, &str)>, cmdline: &str) -> (Policy, Warnings) {
    let mut p = Policy::default();
    let mut w = Warnings::default();
    p.apply_config(baked, "built-in policy", &mut w);
    if let Some((text, source)) = config {
        p.apply_config(text, source, &mut w);
    }
    p.apply_cmdline(cmdline, &mut w);
    (p, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn bit(name: &str) -> u64 {
        1 << commands::NAMES.iter().position(|n| *n == name).unwrap()
    }

    fn kimg(name: &str) -> u64 {
        1 << KIMG_OPS.iter().position(|n| *n == name).unwrap()
    }

    /// One table for all three layers: each case is (config text, command line, check).
    #[test]
    fn table() {
        type Check = fn(&Policy) -> bool;
        let d = Policy::default();
        let cases: &[(&str, &str, Check)] = &[
            ("", "", |p| *p == Policy::default()),
            ("mode = audit", "", |p| p.mode == Mode::Audit),
            ("", "bpfgate=audit", |p| p.mode == Mode::Audit),
            ("mode = audit", "bpfgate=enforce", |p| p.mode == Mode::Enforce),
            ("mode=off # comment", "", |p| p.mode == Mode::Off),
            ("required = 0", "", |p| !p.required),
            ("required = 0", "bpfgate.required=1", |p| p.required),
            ("bpf = restrict", "", |p| p.bpf == Perm::Restrict),
            ("bpf = restrict", "bpfgate.bpf=allow", |p| p.bpf == Perm::Allow),
            ("kmod = allow\nkimg = restrict", "", |p| {
                p.kmod == Perm::Allow && p.kimg == Perm::Restrict
            }),
            ("bpf.allow = none", "", |p| p.bpf_allow == 0),
            ("bpf.allow = read, prog_test_run", "", |p| {
                p.bpf_allow == Policy::default().bpf_allow | bit("prog_test_run")
            }),
            ("bpf.block = token_create,write", "", |p| {
                p.bpf_block & bit("token_create") != 0
                    && p.bpf_block & bit("map_update_elem") != 0
                    && p.bpf_block & bit("map_delete_batch") != 0
                    && p.bpf_block & bit("prog_load") == 0
            }),
            ("", "bpfgate.bpf.block=prog_load,btf_load", |p| {
                p.bpf_block == bit("prog_load") | bit("btf_load")
            }),
            ("anchors = baked, secondary", "", |p| p.anchors == 0b101),
            ("", "bpfgate.anchors=platform", |p| p.anchors == 0b1000),
            ("anchors = all", "", |p| p.anchors == 0b1111),
            ("bpf.token_only = 1", "", |p| p.bpf_token_only),
            ("bpf.token_only = yes", "bpfgate.bpf.token_only=0", |p| !p.bpf_token_only),
            ("", "bpfgate.bpf.token_only=1", |p| p.bpf_token_only),
            ("bpf.signed = 1", "", |p| p.bpf_signed),
            ("bpf.signed = 1", "bpfgate.bpf.signed=0", |p| !p.bpf_signed),
            ("kmod.allow = autoload", "", |p| p.kmod_allow == 0b10),
            ("initramfs = untrusted", "", |p| !p.initramfs_trusted),
            ("initramfs = untrusted", "bpfgate.initramfs=trusted", |p| p.initramfs_trusted),
            ("kmod.allow = all", "", |p| p.kmod_allow == 0b11),
            ("kimg.allow = none", "", |p| p.kimg_allow == 0),
            ("sysctl = allow", "", |p| p.sysctl == Perm::Allow),
            ("sysctl.allow = bpf_jit_limit, bpf_stats_enabled", "bpfgate.sysctl=restrict", |p| {
                p.sysctl == Perm::Restrict && p.sysctl_allow == 0b10_0001
            }),
            ("sysctl.allow = all", "", |p| p.sysctl_allow == 0b11_1111),
            ("kimg.allow = integrity", "bpfgate.kimg.allow=perf,kexec", |p| {
                p.kimg_allow == kimg("perf") | kimg("kexec")
            }),
            ("kimg.allow = confidentiality, dev_mem", "", |p| {
                p.kimg_allow == Policy::default().kimg_allow | kimg("dev_mem")
            }),
            ("denylist = sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "", |p| {
                p.denylist.len() == 1 && p.denylist[0].alg == 1 && p.denylist[0].bytes[1] == 0x11
            }),
            // The denylist grows across layers.
            (
                "denylist = sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                "bpfgate.denylist=sha512:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                |p| p.denylist.len() == 2 && p.denylist[1].alg == 2 && p.denylist[1].len == 64,
            ),
            // Words that are not the gate's are not its business.
            ("", "root=/dev/vda ro quiet bpfgate.root_timeout=5 init=/bin/sh", |p| {
                *p == Policy::default()
            }),
        ];
        for (config, line, check) in cases {
            let (p, w) = layered("", Some((config, "policy.conf")), line);
            assert!(check(&p), "{config:?} {line:?} -> {p:?}");
            assert!(w.is_empty(), "{config:?} {line:?}: {w:?}");
        }
        assert_eq!(d.bpf_allow, bits(commands::NAMES, commands::UNTRUSTED));
    }

    /// A bad key or value warns, names the place and keeps the previous layer's value.
    #[test]
    fn bad_input_warns_and_keeps_the_previous_value() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "mode = maybe",
                "",
                "policy.conf:1: mode: expected enforce, audit or off",
            ),
            ("bpf = sometimes", "", "expected allow, deny or restrict"),
            ("bpf.allow = prog_lod", "", "unknown name \"prog_lod\""),
            (
                "\n\nfrobnicate = 1",
                "",
                "policy.conf:3: frobnicate: unknown key",
            ),
            ("just words", "", "expected key = value"),
            (
                "bpf.token_only = maybe",
                "",
                "policy.conf:1: bpf.token_only: expected 0 or 1",
            ),
            (
                "anchors = none",
                "",
                "policy.conf:1: anchors: at least one anchor",
            ),
            ("anchors = mok", "", "unknown name \"mok\""),
            ("denylist = sha256:abc", "", "wrong number of hex digits"),
            ("denylist = md5:00", "", "expected sha256:HEX or sha512:HEX"),
            (
                "",
                "bpfgate=maybe",
                "kernel command line: bpfgate=maybe: expected enforce",
            ),
            ("", "bpfgate.kimg.allow=kcore,frob", "unknown name \"frob\""),
            (
                "sysctl.allow = bpf_jit_enabled",
                "",
                "unknown name \"bpf_jit_enabled\"",
            ),
            ("", "bpfgate.required=perhaps", "expected 0 or 1"),
            ("initramfs = maybe", "", "expected trusted or untrusted"),
            (
                "",
                "bpfgate.frobnicate=1",
                "bpfgate.frobnicate=1: unknown key",
            ),
        ];
        for (config, line, want) in cases {
            let (p, w) = layered("", Some((config, "policy.conf")), line);
            assert_eq!(p, Policy::default(), "{config:?} {line:?}");
            assert!(
                w.list.iter().any(|m| m.contains(want)),
                "{config:?} {line:?}: want {want:?} in {w:?}"
            );
        }
        // A bad denylist entry rejects the whole value: the good entry before it is not half-applied.
        let (p, _) = layered("", None, &format!("bpfgate.denylist={SHA256},sha256:zz"));
        assert!(p.denylist.is_empty());
        // Capacity: more warnings than fit are counted; more digests than fit are refused, not truncated.
        let (_, w) = layered("", None, &"bpfgate.x=1 ".repeat(WARNINGS_MAX + 3));
        assert_eq!((w.list.len(), w.dropped), (WARNINGS_MAX, 3));
        let many: std::vec::Vec<std::string::String> =
            (0..=DENY_MAX).map(|i| format!("sha256:{i:064x}")).collect();
        let (p, w) = layered(
            "",
            Some((&format!("denylist = {}", many.join(",")), "c")),
            "",
        );
        assert!(
            p.denylist.is_empty() && w.list[0].contains("more than 64"),
            "{w:?}"
        );
    }

    /// A warning longer than its buffer is cut at the buffer's end, never dropped or emptied.
    #[test]
    fn long_warnings_are_cut_not_lost() {
        let key = "k".repeat(300);
        let (_, w) = layered("", Some((&format!("{key} = 1"), "policy.conf")), "");
        assert_eq!(w.list.len(), 1);
        assert!(w.list[0].starts_with("policy.conf:1: kkk") && w.list[0].len() == WARNING_MAX);
    }

    /// Profiles: defined by their commands, bound by digest, chosen as the default; in all three layers.
    #[test]
    fn profiles() {
        let sha = |i: u8| format!("sha256:{}", format!("{i:02x}").repeat(32));
        type Check = fn(&Policy) -> bool;
        let cases: &[(&str, &str, Check)] = &[
            ("", "", |p| {
                p.profiles.len() == 1 && p.profiles[0].name == FULL && p.profiles[0].bpf == u64::MAX
            }),
            ("profile.readonly.bpf = read, prog_get_fd_by_id", "", |p| {
                p.profiles.len() == 2
                    && p.profiles[1].name == "readonly"
                    && p.profiles[1].bpf == Policy::default().bpf_allow | bit("prog_get_fd_by_id")
                    && p.profile_default == 0
            }),
            (
                "profile.net.bpf = prog_load\nprofile.net.bpf = map_create",
                "",
                |p| p.profiles.len() == 2 && p.profiles[1].bpf == bit("map_create"),
            ),
            ("profile.ro.bpf = read\nprofile.default = ro", "", |p| {
                p.profile_default == 1
            }),
            ("profile.ro.bpf = read", "bpfgate.profile.default=ro", |p| {
                p.profile_default == 1
            }),
            (
                "",
                "bpfgate.profile.ro.bpf=read bpfgate.profile.default=ro",
                |p| p.profile_default == 1,
            ),
            (
                "profile.ro.bpf = read\nprofile.default = ro",
                "bpfgate.profile.default=full",
                |p| p.profile_default == 0,
            ),
            ("profile.x.bpf = none", "", |p| {
                p.profiles[1].bpf == 0 && p.profiles[1].prog_types == 0
            }),
            (
                "profile.net.prog_types = xdp, socket_filter\nprofile.net.bpf = prog_load",
                "",
                |p| {
                    p.profiles.len() == 2
                        && p.profiles[1].prog_types == 0b100_0010
                        && p.profiles[1].bpf == bit("prog_load")
                },
            ),
            ("profile.net.prog_types = network", "", |p| {
                p.profiles[1].prog_types & (1 << 6) != 0
                    && p.profiles[1].prog_types & (1 << 2) == 0
                    && p.profiles[1].prog_types & (1 << 29) == 0
            }),
            ("profile.t.prog_types = tracing, lsm", "", |p| {
                p.profiles[1].prog_types & (1 << 29) != 0
                    && p.profiles[1].prog_types & (1 << 2) != 0
                    && p.profiles[1].prog_types & (1 << 6) == 0
            }),
            // A later layer's list replaces the earlier one.
            (
                "profile.t.prog_types = tracing, lsm",
                "bpfgate.profile.t.prog_types=cgroup",
                |p| {
                    p.profiles[1].prog_types
                        == prog_group(&[
                            "cgroup_skb",
                            "cgroup_sock",
                            "cgroup_device",
                            "cgroup_sock_addr",
                            "cgroup_sysctl",
                            "cgroup_sockopt",
                        ])
                },
            ),
            // Map types, attach types and signed programs: none until named.
            ("profile.x.bpf = map_create", "", |p| {
                p.profiles[1].map_types == 0
                    && p.profiles[1].attach_types == 0
                    && !p.profiles[1].signed_programs
                    && p.profiles[0].map_types == u64::MAX
                    && p.profiles[0].attach_types == u64::MAX
            }),
            ("profile.x.map_types = array, ringbuf, hash", "", |p| {
                p.profiles[1].map_types == 1 << 2 | 1 << 27 | 1 << 1
            }),
            ("profile.x.map_types = all", "", |p| {
                p.profiles[1].map_types == range(0, MAP_TYPES.len())
            }),
            (
                "profile.sd.attach_types = cgroup_inet_ingress, lsm_mac",
                "bpfgate.profile.sd.signed_programs=required",
                |p| p.profiles[1].attach_types == 1 << 27 | 1 && p.profiles[1].signed_programs,
            ),
            (
                "profile.sd.signed_programs = required",
                "bpfgate.profile.sd.signed_programs=optional",
                |p| !p.profiles[1].signed_programs,
            ),
            ("profile.t.attach_types = tracing", "", |p| {
                let a = p.profiles[1].attach_types;
                a & 1 << 24 != 0 // trace_fentry
                    && a & 1 << 26 != 0 // modify_return
                    && a & 1 << 41 != 0 // perf_event
                    && a & 1 << 27 == 0 // lsm_mac
                    && a & 1 << 37 == 0 // xdp
                    && a & 1 == 0
            }),
            ("profile.c.attach_types = cgroup, lsm", "", |p| {
                let a = p.profiles[1].attach_types;
                a & 1 << 6 != 0 // cgroup_device
                    && a & 1 << 53 != 0 // cgroup_unix_getsockname
                    && a & 1 << 43 != 0 // lsm_cgroup
                    && a & 1 << 24 == 0
                    && a & 1 << 46 == 0 // tcx_ingress
            }),
        ];
        for (config, line, check) in cases {
            let (p, w) = layered("", Some((config, "policy.conf")), line);
            assert!(check(&p), "{config:?} {line:?} -> {p:?}");
            assert!(w.is_empty(), "{config:?} {line:?}: {w:?}");
        }
        // Bindings: per line, across layers; a digest bound again moves; an unbound digest gets the default.
        let (p, w) = layered(
            &format!(
                "profile.ro.bpf = read\nprofile.net.bpf = prog_load\nprofile.ro.digests = {}, {}",
                sha(1),
                sha(2)
            ),
            Some((
                &format!("profile.net.digests = {}\nprofile.default = net", sha(2)),
                "c",
            )),
            &format!("bpfgate.profile.full.digests={}", sha(3)),
        );
        assert!(w.is_empty(), "{w:?}");
        let d = |i| Digest::parse(&sha(i)).unwrap();
        assert_eq!(p.bindings.len(), 3);
        let of = |i| {
            let (prof, why) = p.profile_for(&d(i), None);
            (prof.name.to_string(), why)
        };
        assert_eq!(of(1), ("ro".into(), "digest"));
        assert_eq!(of(2).0, "net");
        assert_eq!(of(3).0, FULL);
        assert_eq!(of(4), ("net".into(), "default"));
        let (q, w) = layered(&p.render(), None, "");
        assert!(w.is_empty(), "{w:?}\n{}", p.render());
        assert_eq!(p, q);
        // Signers: a fingerprint as openssl prints it (colons, upper case) or plain hex; a digest binding wins.
        let fp = "AB:".repeat(31) + "CD";
        let (p, w) = layered(
            &format!("profile.ro.bpf = read\nprofile.net.bpf = prog_load\nprofile.ro.signers = {fp}\nprofile.net.digests = {}", sha(7)),
            None,
            "",
        );
        assert!(w.is_empty(), "{w:?}");
        let mut f = [0xabu8; 32];
        f[31] = 0xcd;
        assert_eq!(
            p.signers.as_slice(),
            &[SignerBinding {
                fingerprint: f,
                profile: 1
            }]
        );
        assert_eq!(p.profile_for(&d(1), Some(&f)).1, "signer");
        assert_eq!(p.profile_for(&d(1), Some(&f)).0.name.as_str(), "ro");
        assert_eq!(p.profile_for(&d(7), Some(&f)).0.name.as_str(), "net");
        assert_eq!(p.profile_for(&d(7), Some(&f)).1, "digest");
        assert_eq!(p.profile_for(&d(1), Some(&[0; 32])).1, "default");
        let (q, w) = layered(&p.render(), None, "");
        assert!(w.is_empty(), "{w:?}\n{}", p.render());
        assert_eq!(p, q);
        assert_eq!(parse_fingerprint(&"ab".repeat(32)), Ok([0xab; 32]));
        for bad in [
            "ab",
            &"ab".repeat(33),
            &("zz".to_string() + &"ab".repeat(31)),
            &("a".to_string() + &"ab".repeat(31)),
        ] {
            assert!(parse_fingerprint(bad).is_err(), "{bad}");
        }
        // Bad input: names what was wrong and keeps what was there.
        let bad: &[(&str, &str)] = &[
            ("profile.ro.signers = 00", "no profile \"ro\""),
            ("profile.full.bpf = read", "cannot be changed"),
            ("profile.Big.bpf = read", "1 to 15 of a-z"),
            ("profile.default.bpf = read", "not \"default\""),
            ("profile.waytoolongprofilename.bpf = read", "1 to 15"),
            ("profile.ro.bpf = prog_lod", "unknown name \"prog_lod\""),
            ("profile.ro.digests = sha256:00", "no profile \"ro\""),
            ("profile.default = ro", "no profile \"ro\" (define it first"),
            (
                "profile.ro.caps = 1",
                "unknown profile field \"caps\" (known: bpf, prog_types, map_types, attach_types, signed_programs, kmod, kimg, sysctl, digests, signers)",
            ),
            (
                "profile.net.prog_types = xdp, kprobes",
                "unknown name \"kprobes\"",
            ),
            ("profile.full.prog_types = xdp", "cannot be changed"),
            ("profile.full.signed_programs = required", "cannot be changed"),
            ("profile.x.map_types = hashmap", "unknown name \"hashmap\""),
            ("profile.x.attach_types = fentry", "unknown name \"fentry\""),
            ("profile.x.signed_programs = yes", "expected required"),
            ("profile.ro = read", "expected profile.NAME.FIELD (bpf, prog_types"),
        ];
        for (config, want) in bad {
            let (p, w) = layered("", Some((config, "policy.conf")), "");
            assert_eq!(p, Policy::default(), "{config:?}");
            assert!(
                w.list.iter().any(|m| m.contains(want)),
                "{config:?}: want {want:?} in {w:?}"
            );
        }
        let (p, w) = layered(
            &format!(
                "profile.ro.bpf = read\nprofile.ro.digests = {}, sha256:zz",
                sha(1)
            ),
            None,
            "",
        );
        assert!(
            p.bindings.is_empty() && w.list[0].contains("wrong number of hex digits"),
            "{w:?}"
        );
        let many: std::string::String = (0..PROFILES_MAX)
            .map(|i| format!("profile.p{i}.bpf = read\n"))
            .collect();
        let (p, w) = layered(&many, None, "");
        assert_eq!(p.profiles.len(), PROFILES_MAX);
        assert!(w.list[0].contains("more than 8 profiles"), "{w:?}");
    }

    /// The baked layer is under the other two.
    #[test]
    fn layers_override_in_order() {
        let baked = "bpf = restrict\nkmod.allow = autoload\nmode = audit";
        let (p, w) = layered(baked, Some(("kmod.allow = none", "c")), "bpfgate=enforce");
        assert!(w.is_empty());
        assert_eq!(
            (p.bpf, p.kmod_allow, p.mode),
            (Perm::Restrict, 0, Mode::Enforce)
        );
    }

    #[test]
    fn render_round_trips() {
        let (p, w) = layered(
            "mode=audit\nbpf=restrict\nbpf.block=token_create\nkimg.allow=kcore,kexec\nkmod=allow\ninitramfs=untrusted\nbpf.token_only=1\nanchors=baked,platform\nsysctl=allow\nsysctl.allow=bpf_jit_harden\nprofile.sd.bpf=prog_load,link_create\nprofile.sd.prog_types=cgroup,lsm\nprofile.sd.map_types=hash,array\nprofile.sd.attach_types=cgroup,lsm_mac\nprofile.sd.signed_programs=required\nprofile.sd.kmod=load\nprofile.ro.bpf=read\nprofile.default=ro",
            None,
            &format!("bpfgate.denylist={SHA256} bpfgate.required=0 bpfgate.bpf.allow=none"),
        );
        assert!(w.is_empty());
        let (q, w) = layered(&p.render(), None, "");
        assert!(w.is_empty(), "{w:?}\n{}", p.render());
        assert_eq!(p, q);
        let (d, _) = layered(&Policy::default().render(), None, "");
        assert_eq!(d, Policy::default());
    }

    #[test]
    fn names_fit_their_bitmaps() {
        assert_eq!(PROG_TYPES[6], "xdp");
        assert_eq!(PROG_TYPES[29], "lsm");
        assert_eq!(PROG_TYPES[32], "netfilter");
        assert_eq!(MAP_TYPES[27], "ringbuf");
        assert_eq!(MAP_TYPES[35], "rhash");
        assert_eq!(ATTACH_TYPES[27], "lsm_mac");
        assert_eq!(ATTACH_TYPES[37], "xdp");
        assert_eq!(ATTACH_TYPES[61], "trace_fsession_multi");
        // What a profile controls: cgroup, tracing and LSM attach types and the unnamed future ones; not XDP,
        // tc or socket attach types.
        let c = attach_controlled();
        assert!(c & 1 << 0 != 0 && c & 1 << 27 != 0 && c & 1 << 41 != 0 && c & 1 << 63 != 0);
        assert!(c & 1 << 37 == 0 && c & 1 << 46 == 0 && c & 1 << 4 == 0 && c & 1 << 44 == 0);
        assert!(
            PROG_TYPES.len() <= 64
                && MAP_TYPES.len() <= 64
                && ATTACH_TYPES.len() <= 64
                && commands::NAMES.len() <= 64
                && KIMG_OPS.len() <= 64
                && KMOD_OPS.len() <= 64
                && SYSCTL_OPS.len() <= 64
        );
        assert_eq!(KIMG_OPS[KIMG_CONFIDENTIALITY], "kcore");
        assert_eq!(KIMG_OPS[KIMG_CONFIDENTIALITY - 1], "integrity_other");
    }
}
