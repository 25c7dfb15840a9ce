//! The shared libraries an executable maps at start: its ELF interpreter (`PT_INTERP`, which the kernel maps at exec)
//! and its `DT_NEEDED` entries, resolved the way the dynamic loader does, recursively. A trusted process loses its
//! trust at the first executable mapping of a file that does not verify (`taint` in the log), so signing a dynamic
//! loader means signing this closure too; `bpfgate rollout` lists it. Libraries opened later with dlopen(3) are not
//! named in the file and are not found here.
//!
//! Resolution (ld.so(8)): a name with a `/` is a path; otherwise the object's `DT_RPATH` and the executable's (each
//! only where that file has no `DT_RUNPATH`), the object's `DT_RUNPATH` (for its own dependencies only), the directories of `/etc/ld.so.conf` (with its `include`s), then the default directories. A
//! candidate of another ELF class or machine is skipped, as the loader skips it. `LD_LIBRARY_PATH` is not read:
//! it is the environment of a process long gone. Reads at most the first [`MAX_READ`] bytes of each file and never
//! panics on its contents.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Headers and dynamic sections of the libraries seen in practice sit well inside this.
pub const MAX_READ: u64 = 64 << 20;

/// The loader's default directories (x86-64 Debian and Fedora layouts; the multiarch ones first).
const DEFAULT_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// What one ELF file names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dynamic {
    /// `PT_INTERP`: the dynamic loader the kernel maps at exec.
    pub interp: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` and `DT_RUNPATH`, split at `:`.
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// `e_machine`, and whether the file is 64-bit: a library must match its user.
    pub machine: u16,
    pub class64: bool,
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// A NUL-terminated string at `at`.
fn cstr(b: &[u8], at: usize) -> Option<String> {
    let s = b.get(at..)?;
    let end = s.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&s[..end]).into_owned())
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// Parses an ELF image (little-endian; 64- or 32-bit). `Ok(None)`: not an ELF file (a script, data).
pub fn parse(b: &[u8]) -> Result<Option<Dynamic>, String> {
    if b.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Ok(None);
    }
    let bad = |what: &str| format!("malformed ELF: {what}");
    let class64 = match b.get(4) {
        Some(2) => true,
        Some(1) => false,
        _ => return Err(bad("unknown class")),
    };
    if b.get(5) != Some(&1) {
        return Err(bad("big-endian files are not read"));
    }
    let machine = u16le(b, 18).ok_or_else(|| bad("truncated header"))?;
    // (offset, entry size, count) of the program headers; then each header's fields.
    let (phoff, phentsize, phnum) = if class64 {
        (u64le(b, 0x20), u16le(b, 0x36), u16le(b, 0x38))
    } else {
        (
            u32le(b, 0x1c).map(u64::from),
            u16le(b, 0x2a),
            u16le(b, 0x2c),
        )
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Err(bad("truncated header"));
    };
    struct Ph {
        kind: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
    }
    let mut phs = Vec::new();
    for i in 0..usize::from(phnum) {
        let at = usize::try_from(phoff)
            .ok()
            .and_then(|o| o.checked_add(i.checked_mul(usize::from(phentsize))?))
            .ok_or_else(|| bad("program header offset"))?;
        let ph = if class64 {
            (|| {
                Some(Ph {
                    kind: u32le(b, at)?,
                    offset: u64le(b, at + 8)?,
                    vaddr: u64le(b, at + 16)?,
                    filesz: u64le(b, at + 32)?,
                })
            })()
        } else {
            (|| {
                Some(Ph {
                    kind: u32le(b, at)?,
                    offset: u32le(b, at + 4)?.into(),
                    vaddr: u32le(b, at + 8)?.into(),
                    filesz: u32le(b, at + 16)?.into(),
                })
            })()
        };
        phs.push(ph.ok_or_else(|| bad("program headers run past the end"))?);
    }
    let mut d = Dynamic {
        machine,
        class64,
        ..Default::default()
    };
    let to_usize = |v: u64| usize::try_from(v).map_err(|_| bad("offset out of range"));
    if let Some(p) = phs.iter().find(|p| p.kind == PT_INTERP) {
        d.interp = Some(cstr(b, to_usize(p.offset)?).ok_or_else(|| bad("PT_INTERP"))?);
    }
    let Some(dynamic) = phs.iter().find(|p| p.kind == PT_DYNAMIC) else {
        return Ok(Some(d)); // static
    };
    // The dynamic entries: (tag, value) pairs up to DT_NULL.
    let (entsize, start) = (if class64 { 16 } else { 8 }, to_usize(dynamic.offset)?);
    let count = to_usize(dynamic.filesz)? / entsize;
    let mut entries = Vec::new();
    for i in 0..count {
        let at = start
            .checked_add(i * entsize)
            .ok_or_else(|| bad("PT_DYNAMIC"))?;
        let (tag, val) = if class64 {
            (u64le(b, at), u64le(b, at + 8))
        } else {
            (u32le(b, at).map(u64::from), u32le(b, at + 4).map(u64::from))
        };
        let (Some(tag), Some(val)) = (tag, val) else {
            return Err(bad("PT_DYNAMIC runs past the end"));
        };
        if tag == DT_NULL {
            break;
        }
        entries.push((tag, val));
    }
    let Some(&(_, strtab)) = entries.iter().find(|(t, _)| *t == DT_STRTAB) else {
        return Ok(Some(d));
    };
    // DT_STRTAB is an address: the file offset is found through the PT_LOAD segment that holds it.
    let strtab = phs
        .iter()
        .filter(|p| p.kind == PT_LOAD)
        .find(|p| strtab >= p.vaddr && strtab - p.vaddr < p.filesz)
        .map(|p| p.offset + (strtab - p.vaddr))
        .ok_or_else(|| bad("DT_STRTAB outside every loaded segment"))?;
    let string = |off: u64| {
        strtab
            .checked_add(off)
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| cstr(b, o))
            .ok_or_else(|| bad("string table"))
    };
    for &(tag, val) in &entries {
        match tag {
            DT_NEEDED => d.needed.push(string(val)?),
            DT_RPATH => d.rpath.extend(string(val)?.split(':').map(String::from)),
            DT_RUNPATH => d.runpath.extend(string(val)?.split(':').map(String::from)),
            _ => {}
        }
    }
    Ok(Some(d))
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut b = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_READ)
        .read_to_end(&mut b)?;
    Ok(b)
}

/// The directories of an ld.so.conf file, following `include` lines (globs of the form `DIR/*.conf` or `DIR/*`).
pub fn ld_so_conf(path: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pat) = line.strip_prefix("include").map(str::trim) {
            if depth > 4 || pat.is_empty() {
                continue;
            }
            let pat = Path::new(pat);
            let (dir, suffix) = match pat.file_name().and_then(|n| n.to_str()) {
                Some(n) if n.starts_with('*') => (pat.parent().unwrap_or(Path::new("/")), &n[1..]),
                _ => {
                    ld_so_conf(pat, depth + 1, out);
                    continue;
                }
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(suffix))
                })
                .collect();
            files.sort();
            for f in files {
                ld_so_conf(&f, depth + 1, out);
            }
        } else if line.starts_with('/') {
            out.push(PathBuf::from(line));
        }
    }
}

/// Where libraries are looked for after an object's own paths.
pub fn system_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    ld_so_conf(Path::new("/etc/ld.so.conf"), 0, &mut dirs);
    dirs.extend(DEFAULT_DIRS.iter().map(PathBuf::from));
    dirs
}

/// A search directory with `$ORIGIN` (the directory of the object that names it) expanded.
fn origin(dir: &str, of: &Path) -> PathBuf {
    let o = of.to_string_lossy();
    PathBuf::from(dir.replace("${ORIGIN}", &o).replace("$ORIGIN", &o))
}

/// The closure of `exe`: every library it maps at start, interpreter first, each once (canonical paths), and the
/// names that could not be found.
pub fn closure(exe: &Path, system: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let (mut found, mut missing, mut seen) = (Vec::new(), Vec::new(), BTreeSet::new());
    let mut loaded: BTreeSet<String> = BTreeSet::new();
    let Ok(b) = read_head(exe) else {
        return (found, missing);
    };
    let Ok(Some(top)) = parse(&b) else {
        return (found, missing);
    };
    let (machine, class64) = (top.machine, top.class64);
    let exe_origin = exe.parent().unwrap_or(Path::new("/")).to_path_buf();
    let exe_rpath: Vec<PathBuf> = if top.runpath.is_empty() {
        top.rpath.iter().map(|d| origin(d, &exe_origin)).collect()
    } else {
        Vec::new()
    };
    let compatible = |p: &Path| {
        read_head(p)
            .ok()
            .and_then(|b| parse(&b).ok().flatten())
            .is_some_and(|d| d.machine == machine && d.class64 == class64)
    };
    if let Some(i) = &top.interp {
        let p = std::fs::canonicalize(i).unwrap_or_else(|_| PathBuf::from(i));
        if p.exists() {
            seen.insert(p.clone());
            found.push(p);
        } else {
            missing.push(i.clone());
        }
    }
    // Breadth first, as the loader orders its search list.
    let mut queue = std::collections::VecDeque::from([(exe.to_path_buf(), top)]);
    while let Some((obj, d)) = queue.pop_front() {
        let dir = obj.parent().unwrap_or(Path::new("/")).to_path_buf();
        let mut dirs: Vec<PathBuf> = Vec::new();
        if d.runpath.is_empty() {
            dirs.extend(d.rpath.iter().map(|r| origin(r, &dir)));
        }
        dirs.extend(exe_rpath.iter().cloned());
        dirs.extend(d.runpath.iter().map(|r| origin(r, &dir)));
        dirs.extend(system.iter().cloned());
        for name in &d.needed {
            // A name the loader has already loaded is that object (it matches loaded libraries by name first).
            if loaded.contains(name) {
                continue;
            }
            let hit = if name.contains('/') {
                Some(PathBuf::from(name)).filter(|p| compatible(p))
            } else {
                dirs.iter()
                    .map(|dir| dir.join(name))
                    .find(|p| compatible(p))
            };
            let Some(p) = hit else {
                if !missing.contains(name) {
                    missing.push(name.clone());
                }
                continue;
            };
            loaded.insert(name.clone());
            let p = std::fs::canonicalize(&p).unwrap_or(p);
            if !seen.insert(p.clone()) {
                continue;
            }
            if let Ok(Some(next)) = read_head(&p).map(|b| parse(&b).ok().flatten()) {
                queue.push_back((p.clone(), next));
            }
            found.push(p);
        }
    }
    (found, missing)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ELF64 image: one PT_LOAD covering the file, PT_INTERP, PT_DYNAMIC with `needed` and a runpath.
    pub(crate) fn image(interp: Option<&str>, needed: &[&str], runpath: Option<&str>) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut add = |s: &str| {
            let off = strtab.len() as u64;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            off
        };
        let needed: Vec<u64> = needed.iter().map(|n| add(n)).collect();
        let runpath = runpath.map(&mut add);
        let interp_off = interp.map(&mut add);
        let (ph_off, phnum) = (64u64, 3u64);
        let dyn_off = ph_off + 56 * phnum;
        let mut dynamic: Vec<(u64, u64)> = needed.iter().map(|&o| (DT_NEEDED, o)).collect();
        if let Some(r) = runpath {
            dynamic.push((DT_RUNPATH, r));
        }
        let str_off = dyn_off + 16 * (dynamic.len() as u64 + 2);
        let vaddr = 0x400000u64;
        dynamic.push((DT_STRTAB, vaddr + str_off));
        dynamic.push((DT_NULL, 0));
        let total = str_off + strtab.len() as u64;
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&ph_off.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(phnum as u16).to_le_bytes());
        let mut ph = |kind: u32, off: u64, filesz: u64| {
            let mut h = vec![0u8; 56];
            h[..4].copy_from_slice(&kind.to_le_bytes());
            h[8..16].copy_from_slice(&off.to_le_bytes());
            h[16..24].copy_from_slice(&(vaddr + off).to_le_bytes());
            h[32..40].copy_from_slice(&filesz.to_le_bytes());
            b.extend_from_slice(&h);
        };
        ph(PT_LOAD, 0, total);
        ph(PT_DYNAMIC, dyn_off, 16 * dynamic.len() as u64);
        match interp_off {
            Some(o) => ph(PT_INTERP, str_off + o, 1),
            None => ph(0, 0, 0),
        }
        for (t, v) in dynamic {
            b.extend_from_slice(&t.to_le_bytes());
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&strtab);
        b
    }

    #[test]
    fn parses_interp_needed_and_runpath() {
        let d = parse(&image(
            Some("/lib64/ld.so"),
            &["liba.so.1", "libb.so"],
            Some("$ORIGIN/../lib:/opt"),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(d.interp.as_deref(), Some("/lib64/ld.so"));
        assert_eq!(d.needed, ["liba.so.1", "libb.so"]);
        assert_eq!(d.runpath, ["$ORIGIN/../lib", "/opt"]);
        assert!(d.class64 && d.machine == 62);
        assert_eq!(parse(b"#!/bin/sh\n").unwrap(), None);
    }

    #[test]
    fn truncated_and_garbage_images_are_errors_not_panics() {
        let good = image(Some("/l"), &["x.so"], None);
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        let mut bad = good.clone();
        bad[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&bad).is_err());
        let mut bad = good;
        bad[4] = 9;
        assert!(parse(&bad).unwrap_err().contains("class"));
    }

    #[test]
    fn closure_follows_runpath_and_needed_of_needed() {
        let d = std::env::temp_dir().join(format!("bpfgate-libs-{}", std::process::id()));
        let lib = d.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(d.join("ld.so"), image(None, &[], None)).unwrap();
        // liba's own RUNPATH finds its dependencies (the executable's covers only its own).
        std::fs::write(
            lib.join("liba.so"),
            image(None, &["libb.so", "libc.so"], Some("$ORIGIN")),
        )
        .unwrap();
        std::fs::write(lib.join("libb.so"), image(None, &["libc.so"], None)).unwrap();
        std::fs::write(lib.join("libc.so"), image(None, &[], None)).unwrap();
        let ld = d.join("ld.so").display().to_string();
        std::fs::write(
            d.join("exe"),
            image(
                Some(&ld),
                &["liba.so", "libmissing.so"],
                Some("$ORIGIN/lib"),
            ),
        )
        .unwrap();
        let (found, missing) = closure(&d.join("exe"), &[]);
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["ld.so", "liba.so", "libb.so", "libc.so"]);
        assert_eq!(missing, ["libmissing.so"]);
        // A library of another machine is skipped, as the loader skips it.
        let mut other = image(None, &[], None);
        other[18] = 3;
        std::fs::write(lib.join("libc.so"), other).unwrap();
        let (found, missing) = closure(&d.join("exe"), &[]);
        assert_eq!(found.len(), 3);
        assert_eq!(missing, ["libmissing.so", "libc.so"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn ld_so_conf_follows_includes() {
        let d = std::env::temp_dir().join(format!("bpfgate-ldconf-{}", std::process::id()));
        std::fs::create_dir_all(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("ld.so.conf"),
            format!("include {}/conf.d/*.conf\n/opt/lib # local\n", d.display()),
        )
        .unwrap();
        std::fs::write(d.join("conf.d/b.conf"), "/b\n").unwrap();
        std::fs::write(d.join("conf.d/a.conf"), "# none\n/a\n").unwrap();
        std::fs::write(d.join("conf.d/c.txt"), "/c\n").unwrap();
        let mut out = Vec::new();
        ld_so_conf(&d.join("ld.so.conf"), 0, &mut out);
        assert_eq!(out, [PathBuf::from("/a"), "/b".into(), "/opt/lib".into()]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
#[cfg(test)]
mod host {
    /// cat(1) of this machine is a dynamic executable: its closure is what ld.so mapped executable in a cat that
    /// prints its own /proc/self/maps.
    #[test]
    fn closure_of_cat_matches_what_the_loader_maps() {
        let cat = std::fs::canonicalize("/bin/cat").unwrap();
        let (found, missing) = super::closure(&cat, &super::system_dirs());
        assert!(missing.is_empty(), "{missing:?}");
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names[0].starts_with("ld-linux"), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("libc.so")), "{names:?}");
        let out = std::process::Command::new(&cat)
            .arg("/proc/self/maps")
            .output()
            .unwrap();
        let mut mapped: Vec<std::path::PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(1).is_some_and(|p| p.contains('x')))
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|p| p.starts_with('/'))
            .map(|p| std::fs::canonicalize(p).unwrap())
            .filter(|p| *p != cat)
            .collect();
        mapped.sort();
        mapped.dedup();
        let mut f = found;
        f.sort();
        assert_eq!(f, mapped);
    }
}
