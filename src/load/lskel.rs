//! Loading a BPF object through its light skeleton (src/lskel/shim.c): the kernel relocates the programs against
//! its own BTF, so the loader never holds the kernel's BTF in memory. What comes back is plain fds, named by the
//! skeleton's order (build.rs), and the few bpf() calls the loader makes on them.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::Error;
use crate::load::skel::types;

/// The gate's map and program names, in the skeleton's order.
pub mod gate_names {
    include!(concat!(env!("OUT_DIR"), "/bpfgate.lskel.rs"));
}

/// The `Api` of a skeleton compiled by build.rs as `$lib` = `{SKEL}_lskel` (src/lskel/shim.c with -DSKEL=SKEL),
/// with the map and program name lists `$maps` and `$progs` from SKEL.lskel.rs.
#[macro_export]
macro_rules! lskel_api {
    ($skel:literal, $lib:literal, $maps:expr, $progs:expr) => {{
        mod ffi {
            use std::ffi::{c_char, c_int, c_uint, c_void};
            #[link(name = $lib, kind = "static")]
            unsafe extern "C" {
                #[link_name = concat!($skel, "_lskel_open")]
                pub fn open() -> *mut c_void;
                #[link_name = concat!($skel, "_lskel_counts")]
                pub fn counts(maps: *mut c_uint, progs: *mut c_uint);
                #[link_name = concat!($skel, "_lskel_load")]
                pub fn load(s: *mut c_void, level: u32, buf: *mut c_char, size: u32) -> c_int;
                #[link_name = concat!($skel, "_lskel_take_fds")]
                pub fn take_fds(s: *mut c_void, maps: *mut c_int, progs: *mut c_int);
                #[link_name = concat!($skel, "_lskel_destroy")]
                pub fn destroy(s: *mut c_void);
            }
        }
        $crate::load::lskel::Api {
            open: ffi::open,
            counts: ffi::counts,
            load: ffi::load,
            take_fds: ffi::take_fds,
            destroy: ffi::destroy,
            maps: $maps,
            progs: $progs,
        }
    }};
}

#[link(name = "bpfgate_lskel", kind = "static")]
unsafe extern "C" {
    fn bpfgate_lskel_cfg(s: *mut c_void) -> *mut types::gate_config;
}

/// The functions of one compiled skeleton (the gate's, or a benchmark's).
pub struct Api {
    pub open: unsafe extern "C" fn() -> *mut c_void,
    pub counts: unsafe extern "C" fn(*mut c_uint, *mut c_uint),
    pub load: unsafe extern "C" fn(*mut c_void, u32, *mut c_char, u32) -> c_int,
    pub take_fds: unsafe extern "C" fn(*mut c_void, *mut c_int, *mut c_int),
    pub destroy: unsafe extern "C" fn(*mut c_void),
    pub maps: &'static [&'static str],
    pub progs: &'static [&'static str],
}

/// A loaded object: its maps and programs, owned.
pub struct Loaded {
    pub maps: Vec<(&'static str, OwnedFd)>,
    pub progs: Vec<(&'static str, OwnedFd)>,
}

impl Loaded {
    pub fn map(&self, name: &str) -> Result<BorrowedFd<'_>, Error> {
        find(&self.maps, name, "map")
    }

    pub fn prog(&self, name: &str) -> Result<BorrowedFd<'_>, Error> {
        find(&self.progs, name, "program")
    }
}

fn find<'a>(list: &'a [(&str, OwnedFd)], name: &str, what: &str) -> Result<BorrowedFd<'a>, Error> {
    list.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, fd)| fd.as_fd())
        .ok_or_else(|| Error::Kernel(format!("the BPF object has no {what} named {name}")))
}

/// Largest verifier log kept for a failed load's message.
const LOG_SIZE: usize = 1 << 20;

/// Opens the skeleton, lets `configure` fill it, loads it. On failure, loads once more with the verifier's log on,
/// and returns the log's last lines in the error.
pub fn load(api: &Api, configure: &mut dyn FnMut(*mut c_void)) -> Result<Loaded, Error> {
    match load_once(api, configure, None) {
        Ok(l) => Ok(l),
        Err(first) => {
            let mut log = vec![0u8; LOG_SIZE];
            let retry = load_once(api, configure, Some(&mut log));
            drop(retry);
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            Err(Error::Kernel(if tail.is_empty() {
                first.to_string()
            } else {
                format!("{first}\nverifier log (last lines):\n{tail}")
            }))
        }
    }
}

fn load_once(
    api: &Api,
    configure: &mut dyn FnMut(*mut c_void),
    log: Option<&mut Vec<u8>>,
) -> Result<Loaded, Error> {
    // SAFETY: the shim allocates and returns a skeleton or NULL; it takes no arguments.
    let skel = unsafe { (api.open)() };
    if skel.is_null() {
        return Err(Error::Kernel("allocating the BPF skeleton failed".into()));
    }
    configure(skel);
    let (level, buf, size) = match log {
        Some(l) => (1, l.as_mut_ptr().cast::<c_char>(), l.len() as u32),
        None => (0, std::ptr::null_mut(), 0),
    };
    // SAFETY: `skel` is the live skeleton from open; `buf` is NULL or a writable buffer of `size` bytes that
    // outlives the call.
    let err = unsafe { (api.load)(skel, level, buf, size) };
    if err != 0 {
        // SAFETY: `skel` is live and not used after this.
        unsafe { (api.destroy)(skel) };
        return Err(Error::Kernel(format!(
            "loading the BPF object failed: {}",
            std::io::Error::from_raw_os_error(-err)
        )));
    }
    let (mut nm, mut np) = (0, 0);
    // SAFETY: writes two counts into the given locations.
    unsafe { (api.counts)(&mut nm, &mut np) };
    if nm as usize != api.maps.len() || np as usize != api.progs.len() {
        // SAFETY: `skel` is live and not used after this.
        unsafe { (api.destroy)(skel) };
        return Err(Error::Kernel(format!(
            "the light skeleton has {nm} maps and {np} programs, its name lists {} and {}",
            api.maps.len(),
            api.progs.len()
        )));
    }
    let mut maps = vec![-1 as c_int; nm as usize];
    let mut progs = vec![-1 as c_int; np as usize];
    // SAFETY: the arrays hold exactly the counts the shim reported; the fds become ours, the skeleton is freed
    // without closing them and not used again.
    unsafe {
        (api.take_fds)(skel, maps.as_mut_ptr(), progs.as_mut_ptr());
        (api.destroy)(skel);
    }
    let own = |names: &'static [&'static str],
               fds: Vec<c_int>|
     -> Result<Vec<(&'static str, OwnedFd)>, Error> {
        let owned: Vec<Option<(&'static str, OwnedFd)>> = names
            .iter()
            .zip(fds)
            .map(|(n, fd)| {
                // SAFETY: each positive fd was handed over by the shim and is owned by nobody else.
                (fd > 0).then(|| (*n, unsafe { OwnedFd::from_raw_fd(fd) }))
            })
            .collect();
        if owned.iter().any(Option::is_none) {
            return Err(Error::Kernel(
                "the light skeleton left an object without an fd".into(),
            ));
        }
        Ok(owned.into_iter().flatten().collect())
    };
    Ok(Loaded {
        maps: own(api.maps, maps)?,
        progs: own(api.progs, progs)?,
    })
}

/// The gate's skeleton.
pub fn gate_api() -> Api {
    lskel_api!(
        "bpfgate",
        "bpfgate_lskel",
        gate_names::MAPS,
        gate_names::PROGS
    )
}

/// The gate's configuration inside an opened (not yet loaded) gate skeleton.
///
/// # Safety
/// `skel` must be the live skeleton `load` passes to its `configure` callback.
pub unsafe fn gate_cfg<'a>(skel: *mut c_void) -> &'a mut types::gate_config {
    // SAFETY: the shim returns a pointer into the skeleton's rodata copy, valid and exclusive until the load.
    unsafe { &mut *bpfgate_lskel_cfg(skel) }
}

fn check(ret: c_int, what: &str) -> Result<c_int, Error> {
    if ret < 0 {
        Err(Error::Kernel(format!(
            "{what}: {}",
            std::io::Error::from_raw_os_error(-ret)
        )))
    } else {
        Ok(ret)
    }
}

/// bpf(BPF_MAP_UPDATE_ELEM).
pub fn update(map: BorrowedFd<'_>, key: &[u8], value: &[u8], what: &str) -> Result<(), Error> {
    // SAFETY: key and value point to live buffers of the map's key and value size (the callers pass the types
    // the map was declared with); the kernel copies them.
    let ret = unsafe {
        libbpf_rs::libbpf_sys::bpf_map_update_elem(
            map.as_raw_fd(),
            key.as_ptr().cast(),
            value.as_ptr().cast(),
            0,
        )
    };
    check(ret, what).map(drop)
}

/// bpf(BPF_MAP_LOOKUP_ELEM) into `value`; false when there is no such element.
pub fn lookup(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    what: &str,
) -> Result<bool, Error> {
    // SAFETY: as in update; `value` is writable and as large as the map's values.
    let ret = unsafe {
        libbpf_rs::libbpf_sys::bpf_map_lookup_elem(
            map.as_raw_fd(),
            key.as_ptr().cast(),
            value.as_mut_ptr().cast(),
        )
    };
    if ret == -libc::ENOENT {
        return Ok(false);
    }
    check(ret, what).map(|_| true)
}

/// bpf(BPF_MAP_FREEZE).
pub fn freeze(map: BorrowedFd<'_>, what: &str) -> Result<(), Error> {
    // SAFETY: plain syscall wrapper on a valid fd.
    check(
        unsafe { libbpf_rs::libbpf_sys::bpf_map_freeze(map.as_raw_fd()) },
        what,
    )
    .map(drop)
}

/// The kernel id of a map.
pub fn map_id(map: BorrowedFd<'_>) -> Result<u32, Error> {
    let mut info = libbpf_rs::libbpf_sys::bpf_map_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: `info` is a writable bpf_map_info of `len` bytes.
    let ret = unsafe {
        libbpf_rs::libbpf_sys::bpf_map_get_info_by_fd(map.as_raw_fd(), &mut info, &mut len)
    };
    check(ret, "reading a map id").map(|_| info.id)
}

/// Attaches an LSM program (BPF_LINK_CREATE, BPF_LSM_MAC); the link lives as long as its fd or a pin.
pub fn attach_lsm(prog: BorrowedFd<'_>, what: &str) -> Result<OwnedFd, Error> {
    // SAFETY: plain syscall wrapper; NULL options are allowed.
    let fd = unsafe {
        libbpf_rs::libbpf_sys::bpf_link_create(
            prog.as_raw_fd(),
            0,
            libbpf_rs::libbpf_sys::BPF_LSM_MAC,
            std::ptr::null(),
        )
    };
    // SAFETY: a non-negative return is a new fd owned by nobody else.
    check(fd, what).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches a map-element iterator program to `map` (BPF_LINK_CREATE, BPF_TRACE_ITER).
pub fn attach_map_iter(
    prog: BorrowedFd<'_>,
    map: BorrowedFd<'_>,
    what: &str,
) -> Result<OwnedFd, Error> {
    let mut info = libbpf_rs::libbpf_sys::bpf_iter_link_info::default();
    info.map.map_fd = map.as_raw_fd() as u32;
    let opts = libbpf_rs::libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_link_create_opts>() as _,
        iter_info: &mut info,
        iter_info_len: std::mem::size_of_val(&info) as u32,
        ..Default::default()
    };
    // SAFETY: `opts` and the `info` it points to live across the call.
    let fd = unsafe {
        libbpf_rs::libbpf_sys::bpf_link_create(
            prog.as_raw_fd(),
            0,
            libbpf_rs::libbpf_sys::BPF_TRACE_ITER,
            &opts,
        )
    };
    // SAFETY: a non-negative return is a new fd owned by nobody else.
    check(fd, what).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// bpf(BPF_OBJ_PIN).
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<(), Error> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Kernel(format!("{}: NUL in the path", path.display())))?;
    // SAFETY: `c` is a NUL-terminated path that lives across the call.
    let ret = unsafe { libbpf_rs::libbpf_sys::bpf_obj_pin(fd.as_raw_fd(), c.as_ptr()) };
    check(ret, &format!("pinning {}", path.display())).map(drop)
}
