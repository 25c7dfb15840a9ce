//! Signature stores: `fsverity sign` signatures kept by the fs-verity digest of the file they sign, so that a package,
//! an image build or a CI job can ship signatures without knowing where the files will land.
//!
//! Layout: `DIR/sha256/HEX.sig`, HEX the file's fs-verity digest (sha256, 4096-byte blocks: the parameters `enroll`
//! enables fs-verity with, and `fsverity digest FILE` prints by default). Two stores by default, searched in order:
//! the local one under /etc (the operator's) and the packaged one under /usr/lib (the distribution's).
//! `scripts/sign-store.sh` signs a tree of files into a store.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::signing::sha256::hex;
use crate::signing::verity;
use crate::sys;

/// The stores `enroll --store` and `sync` search when none is named, in order.
pub const STORES: &[&str] = &["/etc/bpfgate/signatures", "/usr/lib/bpfgate/signatures"];
/// The watch list `sync` reads when none is named...
pub const WATCH: &str = "/etc/bpfgate/watch.conf";
/// ... with every `*.conf` in these (a package that ships a loader ships its watch entry here, beside its
/// signature in the packaged store).
pub const WATCH_DIRS: &[&str] = &["/etc/bpfgate/watch.d", "/usr/lib/bpfgate/watch.d"];

/// Where a store keeps the signature of the file with fs-verity digest `digest` (sha256).
pub fn entry(store: &Path, digest: &[u8; 32]) -> PathBuf {
    store.join("sha256").join(format!("{}.sig", hex(digest)))
}

/// The fs-verity digest the store is keyed by: measured when fs-verity is enabled already (it must then use
/// sha256, as `enroll` does; the signature xattr is returned too), computed in userspace otherwise (None).
fn digest_of(file: &Path) -> Result<([u8; 32], Option<Vec<u8>>), String> {
    let f = std::fs::File::open(file).map_err(|e| format!("cannot open it: {e}"))?;
    let fd = std::os::fd::AsFd::as_fd(&f);
    match sys::measure_verity(fd) {
        Ok((1, d)) if d.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(&d);
            Ok((out, sys::fgetxattr(fd, verity::XATTR_USER, verity::SIG_MAX).ok()))
        }
        Ok((alg, _)) => Err(format!(
            "fs-verity is enabled with hash algorithm {alg}, not sha256: stores are keyed by sha256 digests"
        )),
        Err(_) => verity::digest_file(file)
            .map(|d| (d, None))
            .map_err(|e| e.to_string()),
    }
}

/// What happened to one file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Enrolled now, from this store entry (and what `enroll` noted).
    Enrolled(PathBuf, String),
    /// Already carries the store's signature: nothing to do.
    Unchanged(PathBuf),
    /// Could not be enrolled: why, and how to fix it.
    Failed(String),
}

/// Enrolls `file` from the first store that has a signature for its digest. Changes nothing when none has one or
/// the entry is not a signature (`enroll` checks the blob before it touches the file).
pub fn enroll(stores: &[PathBuf], file: &Path) -> Outcome {
    match std::fs::metadata(file) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Outcome::Failed("not a regular file".into()),
        Err(e) => return Outcome::Failed(format!("cannot read it: {e}")),
    }
    let (digest, enrolled_sig) = match digest_of(file) {
        Ok(d) => d,
        Err(e) => return Outcome::Failed(e),
    };
    let Some(sig) = stores
        .iter()
        .map(|s| entry(s, &digest))
        .find(|p| p.exists())
    else {
        let searched: Vec<String> = stores.iter().map(|s| s.display().to_string()).collect();
        return Outcome::Failed(format!(
            "no signature for sha256:{} in {} (sign it into a store with sign-store.sh: /usr/share/bpfgate/, or scripts/ in the source)",
            hex(&digest),
            searched.join(", ")
        ));
    };
    let want = match std::fs::read(&sig) {
        Ok(b) => b,
        Err(e) => return Outcome::Failed(format!("{}: {e}", sig.display())),
    };
    if enrolled_sig.is_some_and(|v| v == want) {
        return Outcome::Unchanged(sig);
    }
    match verity::enroll(file, &sig) {
        Ok(notes) => Outcome::Enrolled(sig, notes),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// One executable file mapping of a `/proc/PID/maps` text.
#[derive(Debug, PartialEq, Eq)]
pub struct Mapping {
    /// `START-END`, the name of its `/proc/PID/map_files` entry.
    pub range: String,
    pub dev: u64,
    pub ino: u64,
    pub path: String,
}

/// Each file a `/proc/PID/maps` text maps executable.
pub fn executable_mappings(maps: &str) -> Vec<Mapping> {
    maps.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (range, perms, _, dev, ino) =
                (w.next()?, w.next()?, w.next()?, w.next()?, w.next()?);
            let path = w.collect::<Vec<_>>().join(" ");
            if !perms.contains('x') || !path.starts_with('/') {
                return None;
            }
            let (major, minor) = dev.split_once(':')?;
            Some(Mapping {
                range: range.to_string(),
                dev: libc::makedev(
                    u32::from_str_radix(major, 16).ok()?,
                    u32::from_str_radix(minor, 16).ok()?,
                ),
                ino: ino.parse().ok()?,
                path,
            })
        })
        .collect()
}

/// The file of `enrolled` (device, inode as stat(2) reports them) that PID 1 runs or maps executable, if any: PID 1
/// started or mapped it before its signature was enrolled, so it is not trusted now. Each mapping is identified by
/// stat(2) of its `/proc/1/map_files` entry (root only), whose device is the file's own (a btrfs subvolume's, where
/// /proc/1/maps names the superblock's); the maps line's numbers where that entry cannot be read.
pub fn pid1_uses(enrolled: &std::collections::BTreeSet<(u64, u64)>) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    if enrolled.is_empty() {
        return None;
    }
    if let Ok(m) = std::fs::metadata("/proc/1/exe") {
        if enrolled.contains(&(m.dev(), m.ino())) {
            return std::fs::read_link("/proc/1/exe").ok();
        }
    }
    let maps = std::fs::read_to_string("/proc/1/maps").ok()?;
    executable_mappings(&maps).into_iter().find_map(|m| {
        let id = std::fs::metadata(format!("/proc/1/map_files/{}", m.range))
            .map_or((m.dev, m.ino), |s| (s.dev(), s.ino()));
        enrolled.contains(&id).then(|| PathBuf::from(m.path))
    })
}

/// The files of a watch list: one path per line, `#` comments; a directory stands for the regular files in it (not
/// recursive). A path that does not exist is an error item, named, so that a typo is seen.
pub fn watch_list(text: &str) -> Vec<Result<PathBuf, String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let p = PathBuf::from(line);
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => match std::fs::read_dir(&p) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file()))
                        .collect();
                    files.sort();
                    out.extend(files.into_iter().map(Ok));
                }
                Err(e) => out.push(Err(format!("{line}: cannot list it: {e}"))),
            },
            Ok(_) => out.push(Ok(p)),
            Err(e) => out.push(Err(format!(
                "{line}: {e} (remove it from the watch list, or fix the path)"
            ))),
        }
    }
    out
}

/// Reads a watch list file.
pub fn read_watch(path: &Path) -> Result<Vec<Result<PathBuf, String>>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File(path.into(), e))?;
    Ok(watch_list(&text))
}

/// Is there any default watch list?
pub fn has_default_watch() -> bool {
    Path::new(WATCH).exists()
        || WATCH_DIRS.iter().any(|d| {
            std::fs::read_dir(d).is_ok_and(|mut e| {
                e.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "conf")))
            })
        })
}

/// The default watch lists: WATCH when it exists, then the `*.conf` files of WATCH_DIRS in name order. None at
/// all is an error that says where they go.
pub fn default_watch() -> Result<Vec<Result<PathBuf, String>>, Error> {
    let mut lists: Vec<PathBuf> = Vec::new();
    if Path::new(WATCH).exists() {
        lists.push(WATCH.into());
    }
    for d in WATCH_DIRS {
        if let Ok(entries) = std::fs::read_dir(d) {
            let mut confs: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            confs.sort();
            lists.extend(confs);
        }
    }
    if lists.is_empty() {
        return Err(Error::Usage(format!(
            "sync: nothing to watch: no {WATCH} and no *.conf in {} (one path per line; or --watch FILE)",
            WATCH_DIRS.join(" or ")
        )));
    }
    let mut out = Vec::new();
    for l in lists {
        out.extend(read_watch(&l)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_mappings_of_a_maps_text() {
        let maps = "\
55d0c0a00000-55d0c0a2a000 r--p 00000000 fd:01 1835 /usr/lib/systemd/systemd
55d0c0a2a000-55d0c0ab4000 r-xp 0002a000 fd:01 1835 /usr/lib/systemd/systemd
7f1e2a000000-7f1e2a1c0000 r-xp 00028000 103:02 4242 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1e2b000000-7f1e2b001000 r-xp 00000000 00:00 0 
7f1e2c000000-7f1e2c001000 r-xp 00000000 fd:01 77 /tmp/a file (deleted)
7ffd5c1f0000-7ffd5c1f2000 r-xp 00000000 00:00 0 [vdso]
garbage line
";
        let m: Vec<(u64, u64, String)> = executable_mappings(maps)
            .into_iter()
            .map(|m| (m.dev, m.ino, m.path))
            .collect();
        assert_eq!(
            m,
            [
                (
                    libc::makedev(0xfd, 1),
                    1835,
                    "/usr/lib/systemd/systemd".into()
                ),
                (
                    libc::makedev(0x103, 2),
                    4242,
                    "/usr/lib/x86_64-linux-gnu/libc.so.6".into()
                ),
                (libc::makedev(0xfd, 1), 77, "/tmp/a file (deleted)".into()),
            ]
        );
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bpfgate-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn entries_are_keyed_by_digest() {
        let d = [0xabu8; 32];
        assert_eq!(
            entry(Path::new("/usr/lib/bpfgate/signatures"), &d),
            PathBuf::from(format!(
                "/usr/lib/bpfgate/signatures/sha256/{}.sig",
                "ab".repeat(32)
            ))
        );
    }

    #[test]
    fn watch_lists_expand_directories_and_name_missing_paths() {
        let d = tmp("watch");
        std::fs::write(d.join("b"), "x").unwrap();
        std::fs::write(d.join("a"), "x").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        let text = format!(
            "# loaders\n{}   # all of it\n\n{}/a\n/nonexistent/bpfgate-loader\n",
            d.display(),
            d.display()
        );
        let got = watch_list(&text);
        let ok: Vec<&PathBuf> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok, [&d.join("a"), &d.join("b"), &d.join("a")]);
        let errs: Vec<&String> = got.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("/nonexistent/bpfgate-loader: ") && errs[0].contains("watch list")
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_and_bad_entries_change_nothing() {
        let d = tmp("enroll");
        let store = d.join("store");
        let file = d.join("loader");
        std::fs::write(&file, b"\x7fELF not really").unwrap();
        // No entry: named by digest, the file untouched.
        let Outcome::Failed(why) = enroll(std::slice::from_ref(&store), &file) else {
            panic!("enrolled without a signature")
        };
        let digest = verity::digest_file(&file).unwrap();
        assert!(
            why.contains(&format!("no signature for sha256:{}", hex(&digest))),
            "{why}"
        );
        // An entry that is not a signature: refused before the file is touched.
        std::fs::create_dir_all(store.join("sha256")).unwrap();
        std::fs::write(entry(&store, &digest), b"garbage").unwrap();
        let Outcome::Failed(why) = enroll(std::slice::from_ref(&store), &file) else {
            panic!("enrolled garbage")
        };
        assert!(why.contains("PKCS#7"), "{why}");
        assert_eq!(std::fs::read(&file).unwrap(), b"\x7fELF not really");
        assert!(matches!(enroll(&[store], &d), Outcome::Failed(w) if w == "not a regular file"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
