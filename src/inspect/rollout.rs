//! `bpfgate rollout`: the event log as a rollout plan. Boot in audit mode (`bpfgate=audit`) and use the machine: every
//! executable that used bpf(), loaded a module, touched a guarded kernel interface or attached a program while
//! untrusted is in the log. This groups those events by executable (path and fs-verity digest), counts them, names
//! what each did, and prints the commands that sign and enroll each. Events that signing would not change (another
//! mount namespace under `restrict`, `bpf.block`, a profile, the gate's own objects) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::inspect::events;
use crate::load::skel::types::{event_kind, event_verdict, event_why, gate_event};
use crate::signing::sha256::hex;

/// Where executables are looked for when the process that used bpf() is gone (its /proc/PID/exe with it).
pub const SEARCH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/usr/lib/systemd",
    "/usr/libexec",
];

/// One executable of the plan.
#[derive(Debug, Default)]
pub struct Executable {
    /// The file, when it could be found (same device and inode as the event's).
    pub path: Option<PathBuf>,
    /// The file name the event recorded.
    pub name: String,
    pub dev: u64,
    pub ino: u64,
    /// Its fs-verity digest (sha256, what a store is keyed by), when the path is known.
    pub digest: Option<String>,
    pub events: u64,
    /// What it did: `bpf prog_load`, `kmod load`, ...
    pub ops: BTreeSet<String>,
}

/// The kernel's device number encoding (MKDEV: major << 20 | minor) as stat(2) reports it.
fn user_dev(kdev: u32) -> u64 {
    libc::makedev(kdev >> 20, kdev & 0xf_ffff)
}

/// Groups the untrusted decisions of `evs` by executable, most events first; `search`: directories to look for the
/// files of processes that are gone.
pub fn plan(evs: &[gate_event], search: &[PathBuf]) -> Vec<Executable> {
    let mut by_file: BTreeMap<(u64, u64), Executable> = BTreeMap::new();
    for e in evs {
        let decided = e.verdict == event_verdict::VERDICT_AUDIT.0
            || e.verdict == event_verdict::VERDICT_DENIED.0;
        if !decided || e.why != event_why::WHY_UNTRUSTED.0 {
            continue;
        }
        let key = (user_dev(e.exe_dev), e.exe_ino);
        let x = by_file.entry(key).or_insert_with(|| Executable {
            name: events::exe_name(e),
            dev: key.0,
            ino: key.1,
            ..Default::default()
        });
        x.events += 1;
        // A ptrace attempt names its target pid: the plan names the operation only.
        let what = if e.kind == event_kind::EV_PTRACE.0 {
            "attach".to_string()
        } else {
            events::what(e)
        };
        x.ops.insert(format!("{} {what}", events::kind(e)));
        if x.path.is_none() {
            x.path = events::live_exe(e);
        }
    }
    let mut out: Vec<Executable> = by_file.into_values().collect();
    for x in &mut out {
        if x.path.is_none() {
            x.path = find(x.dev, x.ino, &x.name, search);
        }
        x.digest = x
            .path
            .as_deref()
            .and_then(|p| crate::signing::verity::digest_file(p).ok())
            .map(|d| format!("sha256:{}", hex(&d)));
    }
    out.sort_by(|a, b| b.events.cmp(&a.events).then(a.name.cmp(&b.name)));
    out
}

/// The file with this device and inode in the search directories (by the recorded name first, then any).
fn find(dev: u64, ino: u64, name: &str, search: &[PathBuf]) -> Option<PathBuf> {
    let same = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.dev() == dev && m.ino() == ino);
    search
        .iter()
        .map(|d| d.join(name))
        .find(|p| same(p))
        .or_else(|| {
            search.iter().find_map(|d| {
                std::fs::read_dir(d)
                    .ok()?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| same(p))
            })
        })
}

/// The plan for a person: each executable, what it did, and the commands to sign and enroll it.
pub fn text(plan: &[Executable]) -> String {
    if plan.is_empty() {
        return "Nothing in the log used a guarded interface while untrusted: nothing to sign.\n"
            .into();
    }
    let mut s = format!(
        "{} executable(s) used guarded interfaces while untrusted. Sign and enroll each (KEY and CERT: a key \
         whose certificate is baked into bpfgate), then enforce.\n",
        plan.len()
    );
    for x in plan {
        let ops: Vec<&str> = x.ops.iter().map(String::as_str).collect();
        match &x.path {
            Some(p) => {
                let p = p.display();
                s += &format!(
                    "\n{p} ({}): {} event(s): {}\n  fsverity sign {p} {name}.sig --key KEY --cert CERT\n  \
                     bpfgate enroll --sig {name}.sig {p}\n  (or into a store: sign-store.sh KEY CERT STORE {p}; \
                     bpfgate enroll --store STORE {p})\n",
                    x.digest.as_deref().unwrap_or("digest unreadable"),
                    x.events,
                    ops.join(", "),
                    name = x.name
                );
            }
            None => {
                s += &format!(
                    "\n{} (inode {}, device {}:{}): {} event(s): {}\n  not found: the process is gone and no \
                     search directory holds that file; run `bpfgate rollout --search DIR` with its directory\n",
                    x.name,
                    x.ino,
                    libc::major(x.dev),
                    libc::minor(x.dev),
                    x.events,
                    ops.join(", ")
                );
            }
        }
    }
    s
}

/// The plan as JSON: one object per executable.
pub fn json(plan: &[Executable]) -> String {
    let items: Vec<String> = plan
        .iter()
        .map(|x| {
            let o = crate::json::Object::new()
                .str("name", &x.name)
                .raw("inode", x.ino)
                .raw("events", x.events)
                .raw("ops", crate::json::strings(&x.ops));
            let o = match &x.path {
                Some(p) => o.str("path", &p.display().to_string()),
                None => o.raw("path", "null"),
            };
            match &x.digest {
                Some(d) => o.str("digest", d),
                None => o.raw("digest", "null"),
            }
            .finish()
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(
        why: event_why,
        verdict: event_verdict,
        kind: event_kind,
        detail: u32,
        ino: u64,
        name: &[u8],
    ) -> gate_event {
        let mut e = gate_event {
            seq: 1,
            kind: kind.0,
            detail,
            verdict: verdict.0,
            why: why.0,
            tgid: u32::MAX,
            exe_ino: ino,
            exe_dev: (8 << 20) | 1,
            ..Default::default()
        };
        for (d, s) in e.exe.iter_mut().zip(name.iter().chain(b"\0")) {
            *d = *s as i8;
        }
        e
    }

    #[test]
    fn groups_untrusted_decisions_by_executable() {
        let (a, d) = (event_verdict::VERDICT_AUDIT, event_verdict::VERDICT_DENIED);
        let u = event_why::WHY_UNTRUSTED;
        let evs = [
            ev(u, a, event_kind::EV_BPF, 0, 11, b"loader"),
            ev(u, a, event_kind::EV_BPF, 5, 11, b"loader"),
            ev(u, a, event_kind::EV_BPF, 5, 11, b"loader"),
            ev(u, d, event_kind::EV_KMOD, 0, 22, b"modprobe"),
            // Not fixed by signing: left out.
            ev(
                event_why::WHY_BLOCKED,
                d,
                event_kind::EV_BPF,
                18,
                33,
                b"blocked",
            ),
            ev(
                event_why::WHY_PROTECTED,
                d,
                event_kind::EV_GATE,
                3,
                44,
                b"rm",
            ),
            ev(
                u,
                event_verdict::VERDICT_NOTED,
                event_kind::EV_TAINT,
                0,
                55,
                b"noted",
            ),
        ];
        let p = plan(&evs, &[]);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].name.as_str(), p[0].events), ("loader", 3));
        assert_eq!(
            p[0].ops.iter().collect::<Vec<_>>(),
            ["bpf map_create", "bpf prog_load"]
        );
        assert_eq!(p[0].dev, libc::makedev(8, 1));
        assert_eq!((p[1].name.as_str(), p[1].events), ("modprobe", 1));
        let t = text(&p);
        assert!(t.starts_with("2 executable(s)"), "{t}");
        assert!(
            t.contains("loader (inode 11, device 8:1): 3 event(s): bpf map_create, bpf prog_load"),
            "{t}"
        );
        let j = json(&p);
        assert!(j.starts_with("[{\"name\":\"loader\",\"inode\":11,\"events\":3,\"ops\":[\"bpf map_create\",\"bpf prog_load\"],\"path\":null"), "{j}");
        assert!(text(&[]).starts_with("Nothing in the log"));
    }

    #[test]
    fn finds_files_by_device_and_inode() {
        let d = std::env::temp_dir().join(format!("bpfgate-rollout-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("renamed-loader");
        std::fs::write(&f, b"\x7fELF").unwrap();
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!(
            find(m.dev(), m.ino(), "loader", std::slice::from_ref(&d)),
            Some(f.clone())
        );
        assert_eq!(
            find(
                m.dev(),
                m.ino() + 1,
                "renamed-loader",
                std::slice::from_ref(&d)
            ),
            None
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
