//! The shared libraries an executable maps at start: its ELF interpreter (`PT_INTERP`, which the kernel maps at exec)
//! and its `DT_NEEDED` entries, resolved the way the dynamic loader does, recursively. A trusted process loses its
//! trust at the first executable mapping of a file that does not verify (`taint` in the log), so signing a dynamic
//! loader means signing this closure too; `bpfgate rollout` lists it. Libraries opened later with dlopen(3) are not
//! named in the file and are not found here.
//!
//! Resolution (ld.so(8), glibc's order): `/etc/ld.so.preload` first; a name with a `/` is a path; otherwise, when
//! the object asking has no `DT_RUNPATH`, the `DT_RPATH` of it and of each object up its loading chain to the
//! executable (each where that file has no `DT_RUNPATH`); the object's `DT_RUNPATH` (for its own dependencies
//! only); the directories of `/etc/ld.so.conf` (what ld.so.cache is built from, with its `include`s); the default
//! directories. `$ORIGIN` is the directory the object was opened from. A name already loaded is that object; a
//! candidate of another ELF class or machine is skipped, as the loader skips it. Not modelled: `LD_LIBRARY_PATH`
//! (the environment of a process long gone), `glibc-hwcaps/` subdirectories, `$LIB` and `$PLATFORM`. Reads only the headers, the dynamic section and its strings of
//! each file, opens regular files only, and never panics on their contents.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// Where an ELF image's bytes come from: a slice (tests, fuzzing) or a file read at offsets, so that a large
/// library is not read whole (its headers, dynamic section and strings are all that is needed).
pub trait Source {
    /// `len` bytes at `off`, fewer at the end of the image; None when `off` is past it or the read fails.
    fn read(&self, off: u64, len: usize) -> Option<Vec<u8>>;
}

impl Source for [u8] {
    fn read(&self, off: u64, len: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(off).ok()?;
        let rest = self.get(start..)?;
        Some(rest[..rest.len().min(len)].to_vec())
    }
}

impl Source for std::fs::File {
    fn read(&self, off: u64, len: usize) -> Option<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut b = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match self.read_at(&mut b[got..], off.checked_add(got as u64)?) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        b.truncate(got);
        Some(b)
    }
}

/// Exactly `len` bytes at `off`.
fn exact(src: &(impl Source + ?Sized), off: u64, len: usize) -> Option<Vec<u8>> {
    src.read(off, len).filter(|b| b.len() == len)
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

/// The longest string (path, library name, search path) read; a longer one is an error.
const MAX_STRING: usize = 4096;
/// The largest dynamic section read (entries up to DT_NULL); real ones are a few hundred bytes.
const MAX_DYNAMIC: u64 = 1 << 20;

/// A NUL-terminated string at `off`.
fn cstr(src: &(impl Source + ?Sized), off: u64) -> Option<String> {
    let b = src.read(off, MAX_STRING)?;
    let end = b.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&b[..end]).into_owned())
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
    parse_from(b)
}

/// [`parse`] from any [`Source`].
pub fn parse_from(src: &(impl Source + ?Sized)) -> Result<Option<Dynamic>, String> {
    let bad = |what: &str| format!("malformed ELF: {what}");
    let Some(h) = src.read(0, 64) else {
        return Ok(None);
    };
    if h.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Ok(None);
    }
    let class64 = match h.get(4) {
        Some(2) => true,
        Some(1) => false,
        _ => return Err(bad("unknown class")),
    };
    if h.get(5) != Some(&1) {
        return Err(bad("big-endian files are not read"));
    }
    let machine = u16le(&h, 18).ok_or_else(|| bad("truncated header"))?;
    // (offset, entry size, count) of the program headers; then each header's fields.
    let (phoff, phentsize, phnum) = if class64 {
        (u64le(&h, 0x20), u16le(&h, 0x36), u16le(&h, 0x38))
    } else {
        (
            u32le(&h, 0x1c).map(u64::from),
            u16le(&h, 0x2a),
            u16le(&h, 0x2c),
        )
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Err(bad("truncated header"));
    };
    let need = if class64 { 56 } else { 32 };
    if usize::from(phentsize) < need && phnum > 0 {
        return Err(bad("program header entry size"));
    }
    let table = exact(src, phoff, usize::from(phentsize) * usize::from(phnum))
        .ok_or_else(|| bad("program headers run past the end"))?;
    struct Ph {
        kind: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
    }
    let mut phs = Vec::new();
    for e in table.chunks_exact(usize::from(phentsize).max(1)) {
        let ph = if class64 {
            Ph {
                kind: u32le(e, 0).unwrap_or(0),
                offset: u64le(e, 8).unwrap_or(0),
                vaddr: u64le(e, 16).unwrap_or(0),
                filesz: u64le(e, 32).unwrap_or(0),
            }
        } else {
            Ph {
                kind: u32le(e, 0).unwrap_or(0),
                offset: u32le(e, 4).unwrap_or(0).into(),
                vaddr: u32le(e, 8).unwrap_or(0).into(),
                filesz: u32le(e, 16).unwrap_or(0).into(),
            }
        };
        phs.push(ph);
    }
    let mut d = Dynamic {
        machine,
        class64,
        ..Default::default()
    };
    if let Some(p) = phs.iter().find(|p| p.kind == PT_INTERP) {
        d.interp = Some(cstr(src, p.offset).ok_or_else(|| bad("PT_INTERP"))?);
    }
    let Some(dynamic) = phs.iter().find(|p| p.kind == PT_DYNAMIC) else {
        return Ok(Some(d)); // static
    };
    // The dynamic entries: (tag, value) pairs up to DT_NULL.
    let entsize = if class64 { 16 } else { 8 };
    let dyn_bytes = src
        .read(dynamic.offset, dynamic.filesz.min(MAX_DYNAMIC) as usize)
        .ok_or_else(|| bad("PT_DYNAMIC past the end"))?;
    let mut entries = Vec::new();
    for e in dyn_bytes.chunks_exact(entsize) {
        let (tag, val) = if class64 {
            (u64le(e, 0), u64le(e, 8))
        } else {
            (u32le(e, 0).map(u64::from), u32le(e, 4).map(u64::from))
        };
        let (Some(tag), Some(val)) = (tag, val) else {
            return Err(bad("PT_DYNAMIC entry"));
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
        .and_then(|p| p.offset.checked_add(strtab - p.vaddr))
        .ok_or_else(|| bad("DT_STRTAB outside every loaded segment"))?;
    let string = |off: u64| {
        strtab
            .checked_add(off)
            .and_then(|o| cstr(src, o))
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

/// Parses the ELF file at `path`, reading only what it needs. A path that is not a regular file (a FIFO, a
/// device) is not opened: `Ok(None)`, as for a file that is not ELF.
pub fn parse_file(path: &Path) -> Result<Option<Dynamic>, String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_from(&f)
}

/// The directories of an ld.so.conf file, following `include` lines (each pattern a path or a glob of the form
/// `DIR/*SUFFIX`; a relative one is taken from the including file's directory). What ldconfig builds
/// `/etc/ld.so.cache` from.
pub fn ld_so_conf(path: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let here = path.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(pats) = line
            .strip_prefix("include")
            .filter(|r| r.starts_with([' ', '\t']))
        else {
            if line.starts_with('/') {
                out.push(PathBuf::from(line));
            }
            continue;
        };
        if depth > 4 {
            continue;
        }
        for pat in pats.split_whitespace() {
            let pat = here.join(pat);
            let (dir, suffix) = match pat.file_name().and_then(|n| n.to_str()) {
                Some(n) if n.starts_with('*') => (pat.parent().unwrap_or(Path::new("/")), &n[1..]),
                _ => {
                    ld_so_conf(&pat, depth + 1, out);
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

/// The libraries of `/etc/ld.so.preload`, which ld.so maps into every dynamic process (names separated by white
/// space or colons).
pub fn preload(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split([' ', '\t', ':']))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// A search directory with `$ORIGIN` (the directory of the object that names it) expanded.
fn origin(dir: &str, of: &Path) -> PathBuf {
    let o = of.to_string_lossy();
    PathBuf::from(dir.replace("${ORIGIN}", &o).replace("$ORIGIN", &o))
}

/// One object of the closure being walked: where the loader opened it, what it names, and the `DT_RPATH`
/// directories of its loading chain (its own and its loaders', each where that file has no `DT_RUNPATH`).
struct Object {
    opened: PathBuf,
    d: Dynamic,
    chain: Vec<PathBuf>,
}

/// The closure of `exe`: every library it maps at start, interpreter and preloads first, each once (canonical
/// paths), and what could not be found or read (names, or `PATH: why`). `preloads`: [`preload`]'s list.
pub fn closure(exe: &Path, system: &[PathBuf], preloads: &[String]) -> (Vec<PathBuf>, Vec<String>) {
    let (mut found, mut missing, mut seen) = (Vec::new(), Vec::new(), BTreeSet::new());
    let mut loaded: BTreeSet<String> = BTreeSet::new();
    let top = match parse_file(exe) {
        Ok(Some(d)) => d,
        Ok(None) => return (found, missing),
        Err(e) => return (found, vec![e]),
    };
    if top.interp.is_none() && top.needed.is_empty() {
        return (found, missing); // static: ld.so, and so the preloads, never run
    }
    let (machine, class64) = (top.machine, top.class64);
    // A candidate the loader would take: an ELF file of the executable's class and machine, parsed once.
    let compatible = |p: PathBuf| {
        parse_file(&p)
            .ok()
            .flatten()
            .filter(|d| d.machine == machine && d.class64 == class64)
            .map(|d| (p, d))
    };
    if let Some(i) = &top.interp {
        let p = std::fs::canonicalize(i).unwrap_or_else(|_| PathBuf::from(i));
        if p.is_file() {
            seen.insert(p.clone());
            found.push(p);
        } else {
            missing.push(i.clone());
        }
    }
    let own_rpath = |d: &Dynamic, opened: &Path| -> Vec<PathBuf> {
        let dir = opened.parent().unwrap_or(Path::new("/"));
        if d.runpath.is_empty() {
            d.rpath.iter().map(|r| origin(r, dir)).collect()
        } else {
            Vec::new()
        }
    };
    let exe_chain = own_rpath(&top, exe);
    // The preloads come first in the search list, as if the executable named them before its own.
    let mut top = top;
    top.needed.splice(0..0, preloads.iter().cloned());
    // Breadth first, as the loader orders its search list.
    let mut queue = std::collections::VecDeque::from([Object {
        opened: exe.to_path_buf(),
        d: top,
        chain: exe_chain,
    }]);
    while let Some(obj) = queue.pop_front() {
        let dir = obj.opened.parent().unwrap_or(Path::new("/")).to_path_buf();
        // An object with DT_RUNPATH is searched without any DT_RPATH, its loaders' included.
        let mut dirs: Vec<PathBuf> = if obj.d.runpath.is_empty() {
            obj.chain.clone()
        } else {
            Vec::new()
        };
        dirs.extend(obj.d.runpath.iter().map(|r| origin(r, &dir)));
        dirs.extend(system.iter().cloned());
        for name in &obj.d.needed {
            // A name the loader has already loaded is that object (it matches loaded libraries by name first).
            if loaded.contains(name) {
                continue;
            }
            let hit = if name.contains('/') {
                compatible(PathBuf::from(name))
            } else {
                dirs.iter().find_map(|dir| compatible(dir.join(name)))
            };
            let Some((opened, d)) = hit else {
                if !missing.contains(name) {
                    missing.push(name.clone());
                }
                continue;
            };
            loaded.insert(name.clone());
            let p = std::fs::canonicalize(&opened).unwrap_or_else(|_| opened.clone());
            if !seen.insert(p.clone()) {
                continue;
            }
            let mut chain = own_rpath(&d, &opened);
            chain.extend(obj.chain.iter().cloned());
            queue.push_back(Object { opened, d, chain });
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
        image_tagged(interp, needed, runpath, DT_RUNPATH)
    }

    /// The same with the search path under `tag` (DT_RPATH or DT_RUNPATH).
    fn image_tagged(
        interp: Option<&str>,
        needed: &[&str],
        runpath: Option<&str>,
        tag: u64,
    ) -> Vec<u8> {
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
            dynamic.push((tag, r));
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
        let (found, missing) = closure(&d.join("exe"), &[], &[]);
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
        let (found, missing) = closure(&d.join("exe"), &[], &[]);
        assert_eq!(found.len(), 3);
        assert_eq!(missing, ["libmissing.so", "libc.so"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// glibc's DT_RPATH rules: the executable's RPATH serves its libraries' dependencies too, unless the library
    /// asking has a DT_RUNPATH; preloads come first; a FIFO named like a library is never opened.
    #[test]
    fn rpath_scoping_preloads_and_fifos() {
        let names = |v: &[PathBuf]| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        let d = std::env::temp_dir().join(format!("bpfgate-rpath-{}", std::process::id()));
        let (rp, pre) = (d.join("rp"), d.join("pre"));
        std::fs::create_dir_all(&rp).unwrap();
        std::fs::create_dir_all(&pre).unwrap();
        // liba (RPATH-less, RUNPATH-less) needs libb, found only through the executable's RPATH; libc has a
        // RUNPATH of its own and needs libd, which the executable's RPATH would find: the loader does not look.
        std::fs::write(rp.join("liba.so"), image(None, &["libb.so"], None)).unwrap();
        std::fs::write(rp.join("libb.so"), image(None, &[], None)).unwrap();
        std::fs::write(
            rp.join("libc.so"),
            image(None, &["libd.so"], Some("/nonexistent")),
        )
        .unwrap();
        std::fs::write(rp.join("libd.so"), image(None, &[], None)).unwrap();
        std::fs::write(pre.join("libpre.so"), image(None, &[], None)).unwrap();
        let exe = d.join("exe");
        std::fs::write(
            &exe,
            image_tagged(None, &["liba.so", "libc.so"], Some("$ORIGIN/rp"), DT_RPATH),
        )
        .unwrap();
        let pre_path = pre.join("libpre.so").display().to_string();
        let (found, missing) = closure(&exe, &[], &[pre_path]);
        assert_eq!(
            names(&found),
            ["libpre.so", "liba.so", "libc.so", "libb.so"]
        );
        assert_eq!(missing, ["libd.so"]);
        // A FIFO where a library would be found is skipped, not opened (which would block).
        std::fs::remove_file(rp.join("libb.so")).unwrap();
        let fifo =
            std::ffi::CString::new(rp.join("libb.so").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let (found, missing) = closure(&exe, &[], &[]);
        assert_eq!(names(&found), ["liba.so", "libc.so"]);
        assert_eq!(missing, ["libb.so", "libd.so"]);
        // A static executable maps nothing, preloads included.
        std::fs::write(&exe, image(None, &[], None)).unwrap();
        assert_eq!(closure(&exe, &[], &["/x.so".into()]), (vec![], vec![]));
        assert_eq!(
            preload("/a.so /b.so:/c.so # x\n\n/d.so\n"),
            ["/a.so", "/b.so", "/c.so", "/d.so"]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn ld_so_conf_follows_includes() {
        let d = std::env::temp_dir().join(format!("bpfgate-ldconf-{}", std::process::id()));
        std::fs::create_dir_all(d.join("conf.d")).unwrap();
        // A relative pattern is taken from the including file's directory; a line may hold several.
        std::fs::write(
            d.join("ld.so.conf"),
            "include conf.d/*.conf extra.conf\n/opt/lib # local\nincludes-not-a-keyword\n",
        )
        .unwrap();
        std::fs::write(d.join("conf.d/b.conf"), "/b\n").unwrap();
        std::fs::write(d.join("conf.d/a.conf"), "# none\n/a\n").unwrap();
        std::fs::write(d.join("conf.d/c.txt"), "/c\n").unwrap();
        std::fs::write(d.join("extra.conf"), "/e\n").unwrap();
        let mut out = Vec::new();
        ld_so_conf(&d.join("ld.so.conf"), 0, &mut out);
        assert_eq!(
            out,
            [
                PathBuf::from("/a"),
                "/b".into(),
                "/e".into(),
                "/opt/lib".into()
            ]
        );
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
        let (found, missing) = super::closure(&cat, &super::system_dirs(), &[]);
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
