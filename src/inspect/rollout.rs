//! `bpfgate rollout`: the event log as a rollout plan. Boot in audit mode (`bpfgate=audit`) and use the machine: every
//! executable that used bpf(), loaded a module, touched a guarded kernel interface or attached a program while
//! untrusted is in the log. This groups those events by executable (path and fs-verity digest), counts them, names
//! what each did, and prints the commands that sign and enroll each. Events that signing would not change (another
//! mount namespace under `restrict`, `bpf.block`, a profile, the gate's own objects) are left out.
//!
//! A signed executable that maps a library that does not verify loses its trust at that mapping, so each
//! executable's library closure (its ELF interpreter and `DT_NEEDED` libraries, [`crate::inspect::libs`]) is checked
//! too: the libraries that would not verify are listed once, with the executables that need them and their own
//! commands. Executables that already verify (they lost their trust to such a library, or were signed after the
//! events) get no commands of their own.

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
    /// It verifies now (set by [`libraries`]): it needs no signing of its own.
    pub verifies: bool,
    /// Libraries of its closure that do not verify (indexes into [`libraries`]' answer), and names not found.
    pub unsigned_libs: Vec<usize>,
    pub missing_libs: Vec<String>,
}

/// A library that some executable of the plan maps at start and that does not verify.
#[derive(Debug)]
pub struct Library {
    pub path: PathBuf,
    pub digest: Option<String>,
    /// Why it does not verify (`check`'s reason: `no_verity`, `bad_signature`, ...).
    pub reason: &'static str,
    /// The plan's executables that map it (their names).
    pub users: BTreeSet<String>,
}

/// The sha256 fs-verity digest of a file, as the plan prints it.
fn digest_of(p: &Path) -> Option<String> {
    crate::signing::verity::digest_file(p)
        .ok()
        .map(|d| format!("sha256:{}", hex(&d)))
}

/// Checks each executable of `plan` and its library closure with `verify` (a file's verdict: trusted, or why not;
/// `bpfgate check`'s in the command); returns the libraries that do not verify, each once, in first-use order.
/// `system` and `preloads`: [`crate::inspect::libs::closure`]'s.
pub fn libraries(
    plan: &mut [Executable],
    system: &[PathBuf],
    preloads: &[String],
    verify: impl Fn(&Path) -> Result<(), &'static str>,
) -> Vec<Library> {
    let mut libs: Vec<Library> = Vec::new();
    // Libraries found to verify, so that one every executable maps (libc) is checked once.
    let mut good: BTreeSet<PathBuf> = BTreeSet::new();
    for x in plan.iter_mut() {
        let Some(exe) = x.path.clone() else { continue };
        x.verifies = verify(&exe).is_ok();
        let (found, missing) = crate::inspect::libs::closure(&exe, system, preloads);
        x.missing_libs = missing;
        for lib in found {
            if good.contains(&lib) {
                continue;
            }
            let at = match libs.iter().position(|l| l.path == lib) {
                Some(i) => Some(i),
                None => match verify(&lib) {
                    Ok(()) => {
                        good.insert(lib);
                        None
                    }
                    Err(reason) => {
                        libs.push(Library {
                            digest: digest_of(&lib),
                            path: lib,
                            reason,
                            users: BTreeSet::new(),
                        });
                        Some(libs.len() - 1)
                    }
                },
            };
            if let Some(i) = at {
                libs[i].users.insert(x.name.clone());
                x.unsigned_libs.push(i);
            }
        }
    }
    libs
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
        x.digest = x.path.as_deref().and_then(digest_of);
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

/// The signature's file name for `p`: its file name, with a digest prefix where another file of the plan took that
/// name already (two `libc.so.6` of two directories must not overwrite each other's signature).
fn sig_name(p: &Path, digest: Option<&str>, used: &mut BTreeSet<String>) -> String {
    let base = p
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut name = base.clone();
    if used.contains(&name) {
        let tag = digest
            .and_then(|d| d.strip_prefix("sha256:"))
            .map_or("other", |h| &h[..h.len().min(12)]);
        name = format!("{base}.{tag}");
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}.{tag}.{n}");
            n += 1;
        }
    }
    used.insert(name.clone());
    name
}

/// The commands that sign and enroll one file (`name`: the signature's file name).
fn commands(p: &Path, name: &str, indent: &str) -> String {
    let p = p.display();
    format!(
        "{indent}fsverity sign {p} {name}.sig --key KEY --cert CERT\n{indent}bpfgate enroll --sig {name}.sig {p}\n\
         {indent}(or into a store: sign-store.sh KEY CERT STORE {p}; bpfgate enroll --store STORE {p})\n"
    )
}

/// The plan for a person: each executable, what it did, and the commands to sign and enroll it; then the libraries
/// they need signed too.
pub fn text(plan: &[Executable], libs: &[Library]) -> String {
    if plan.is_empty() {
        return "Nothing in the log used a guarded interface while untrusted: nothing to sign.\n"
            .into();
    }
    let mut s = format!(
        "{} executable(s) used guarded interfaces while untrusted. Sign and enroll each (KEY and CERT: a key \
         whose certificate is baked into bpfgate), then enforce.\n",
        plan.len()
    );
    let mut used = BTreeSet::new();
    for x in plan {
        let ops: Vec<&str> = x.ops.iter().map(String::as_str).collect();
        match &x.path {
            Some(p) => {
                s += &format!(
                    "\n{} ({}): {} event(s): {}\n",
                    p.display(),
                    x.digest.as_deref().unwrap_or("digest unreadable"),
                    x.events,
                    ops.join(", "),
                );
                if !x.verifies {
                    s += &commands(p, &sig_name(p, x.digest.as_deref(), &mut used), "  ");
                } else if x.unsigned_libs.is_empty() {
                    s += "  it verifies now: signed since, or it lost its trust to code it maps that this plan \
                          cannot see (a dlopen'ed library, anonymous executable memory: the log's taint lines say \
                          which)\n";
                } else {
                    s += "  it verifies now: it lost its trust to the libraries below\n";
                }
                if !x.unsigned_libs.is_empty() {
                    let names: Vec<String> = x
                        .unsigned_libs
                        .iter()
                        .filter_map(|&i| libs.get(i))
                        .map(|l| l.path.display().to_string())
                        .collect();
                    s += &format!(
                        "  maps {} librar{} that do not verify (below): {}\n",
                        names.len(),
                        if names.len() == 1 { "y" } else { "ies" },
                        names.join(", ")
                    );
                }
                if !x.missing_libs.is_empty() {
                    s += &format!(
                        "  libraries not found here (check them by hand): {}\n",
                        x.missing_libs.join(", ")
                    );
                }
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
    if !libs.is_empty() {
        s += &format!(
            "\n{} librar{} these executables map at start do not verify: a signed executable loses its trust at \
             the first mapping of one. Sign and enroll each too.\n",
            libs.len(),
            if libs.len() == 1 { "y" } else { "ies" }
        );
        for l in libs {
            let users: Vec<&str> = l.users.iter().map(String::as_str).collect();
            let name = sig_name(&l.path, l.digest.as_deref(), &mut used);
            s += &format!(
                "\n{} ({}): {}; mapped by {}\n{}",
                l.path.display(),
                l.digest.as_deref().unwrap_or("digest unreadable"),
                l.reason,
                users.join(", "),
                commands(&l.path, &name, "  ")
            );
        }
    }
    s
}

/// The plan as JSON: one object per executable, each with the libraries of its closure that do not verify.
pub fn json(plan: &[Executable], libs: &[Library]) -> String {
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
            let o = match &x.digest {
                Some(d) => o.str("digest", d),
                None => o.raw("digest", "null"),
            };
            let unsigned: Vec<String> = x
                .unsigned_libs
                .iter()
                .filter_map(|&i| libs.get(i))
                .map(|l| {
                    let o = crate::json::Object::new().str("path", &l.path.display().to_string());
                    match &l.digest {
                        Some(d) => o.str("digest", d),
                        None => o.raw("digest", "null"),
                    }
                    .str("reason", l.reason)
                    .finish()
                })
                .collect();
            // Whether it verifies is known only for a file that was found.
            o.raw(
                "verifies",
                if x.path.is_some() {
                    x.verifies.to_string()
                } else {
                    "null".into()
                },
            )
            .raw("unsigned_libraries", format!("[{}]", unsigned.join(",")))
            .raw("missing_libraries", crate::json::strings(&x.missing_libs))
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
        let t = text(&p, &[]);
        assert!(t.starts_with("2 executable(s)"), "{t}");
        assert!(
            t.contains("loader (inode 11, device 8:1): 3 event(s): bpf map_create, bpf prog_load"),
            "{t}"
        );
        let j = json(&p, &[]);
        assert!(j.starts_with("[{\"name\":\"loader\",\"inode\":11,\"events\":3,\"ops\":[\"bpf map_create\",\"bpf prog_load\"],\"path\":null"), "{j}");
        assert!(text(&[], &[]).starts_with("Nothing in the log"));
    }

    /// Two files of one name get two signature names: the second sign line must not overwrite the first.
    #[test]
    fn signature_names_do_not_collide() {
        let mut used = BTreeSet::new();
        let d = Some("sha256:0123456789abcdef0123");
        assert_eq!(
            sig_name(Path::new("/lib/libc.so.6"), d, &mut used),
            "libc.so.6"
        );
        assert_eq!(
            sig_name(Path::new("/lib32/libc.so.6"), d, &mut used),
            "libc.so.6.0123456789ab"
        );
        assert_eq!(
            sig_name(Path::new("/opt/libc.so.6"), d, &mut used),
            "libc.so.6.0123456789ab.2"
        );
        assert_eq!(
            sig_name(Path::new("/x/libc.so.6"), None, &mut used),
            "libc.so.6.other"
        );
    }

    /// A signed dynamic executable needs its libraries: the plan lists those that do not verify, once each, with
    /// the executables that map them, and gives the executable that verifies no commands of its own.
    #[test]
    fn lists_the_libraries_that_do_not_verify() {
        use crate::inspect::libs::tests::image;
        let d = std::env::temp_dir().join(format!("bpfgate-rollout-libs-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let ld = d.join("ld.so");
        std::fs::write(&ld, image(None, &[], None)).unwrap();
        for (n, needed) in [
            ("libsigned.so", &[][..]),
            ("libz.so", &[]),
            ("libelf.so", &["libz.so"]),
        ] {
            std::fs::write(d.join(n), image(None, needed, Some("$ORIGIN"))).unwrap();
        }
        let ld_s = ld.display().to_string();
        let exe = |name: &str, needed: &[&str]| {
            let p = d.join(name);
            std::fs::write(&p, image(Some(&ld_s), needed, Some("$ORIGIN"))).unwrap();
            Executable {
                path: Some(p),
                name: name.into(),
                events: 1,
                ops: ["bpf prog_load".to_string()].into(),
                ..Default::default()
            }
        };
        let mut plan = vec![
            exe("bpftool", &["libelf.so", "libsigned.so", "libgone.so"]),
            exe("signedtool", &["libz.so"]),
        ];
        let verify = |p: &Path| match p.file_name().and_then(|n| n.to_str()) {
            Some("libsigned.so" | "signedtool" | "ld.so") => Ok(()),
            _ => Err("no_verity"),
        };
        let libs = libraries(&mut plan, &[], &[], verify);
        let names: Vec<&str> = libs
            .iter()
            .map(|l| l.path.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["libelf.so", "libz.so"]);
        assert_eq!(
            libs[1].users.iter().collect::<Vec<_>>(),
            ["bpftool", "signedtool"]
        );
        assert_eq!(plan[0].missing_libs, ["libgone.so"]);
        assert!(!plan[0].verifies && plan[1].verifies);
        let t = text(&plan, &libs);
        assert!(t.contains("  bpfgate enroll --sig bpftool.sig "), "{t}");
        assert!(!t.contains("--sig signedtool.sig"), "{t}");
        assert!(
            t.contains("  it verifies now: it lost its trust to the libraries below"),
            "{t}"
        );
        assert!(t.contains("maps 2 libraries that do not verify"), "{t}");
        assert!(
            t.contains("libraries not found here (check them by hand): libgone.so"),
            "{t}"
        );
        assert!(
            t.contains("2 libraries these executables map at start do not verify"),
            "{t}"
        );
        assert!(t.contains("libz.so.sig --key KEY --cert CERT"), "{t}");
        assert!(
            t.contains("no_verity; mapped by bpftool, signedtool"),
            "{t}"
        );
        let j = json(&plan, &libs);
        assert!(
            j.contains("\"verifies\":false,\"unsigned_libraries\":[{\"path\":"),
            "{j}"
        );
        assert!(
            j.contains("\"reason\":\"no_verity\"}],\"missing_libraries\":[\"libgone.so\"]"),
            "{j}"
        );
        std::fs::remove_dir_all(&d).unwrap();
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
