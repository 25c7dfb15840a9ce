//! `bpfgate log`: the gate's recorded decisions, read from the pinned event iterator with plain read(2), like
//! `status`: no bpf() call, no fd to the gate's maps, so untrusted root can read it and nothing can be written.
//!
//! The ring holds the last BPFGATE_EVENTS records; each has a sequence number, so a reader sees what it missed.

use std::fmt::Write as _;
use std::path::Path;

use crate::commands;
use crate::error::Error;
use crate::load::pod::Pod;
use crate::load::skel::types::{
    attach_path, bpfgate_limit, event_kind, event_verdict, event_why, gate_event, gate_object,
};
use crate::policy::{ATTACH_TYPES, KIMG_OPS, KMOD_OPS, MAP_TYPES, PROG_TYPES, SYSCTL_OPS};

/// Parses the iterator's output (whole gate_event records) and orders it by sequence number.
pub fn parse(buf: &[u8]) -> Result<Vec<gate_event>, Error> {
    let size = size_of::<gate_event>();
    if buf.len() % size != 0 {
        return Err(Error::Status(format!(
            "the gate's event stream is malformed: {} bytes is not a whole number of {size}-byte records \
             (is this bpfgate older or newer than the loaded gate?)",
            buf.len()
        )));
    }
    let mut v: Vec<gate_event> = buf.chunks(size).filter_map(gate_event::read_from).collect();
    v.sort_by_key(|e| e.seq);
    Ok(v)
}

/// Reads the ring; `Ok(None)` when no gate is active.
pub fn read(pin: &Path) -> Result<Option<Vec<gate_event>>, Error> {
    crate::inspect::status::read_pin(pin)?
        .map(|buf| parse(&buf))
        .transpose()
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn chars(b: &[i8]) -> String {
    let bytes: Vec<u8> = b.iter().map(|c| *c as u8).collect();
    cstr(&bytes)
}

/// The event's area (`bpf`, `kmod`, ...).
pub fn kind(e: &gate_event) -> &'static str {
    match event_kind(e.kind) {
        event_kind::EV_BPF => "bpf",
        event_kind::EV_KMOD => "kmod",
        event_kind::EV_KIMG => "kimg",
        event_kind::EV_PTRACE => "ptrace",
        event_kind::EV_GATE => "gate",
        event_kind::EV_TAINT => "taint",
        event_kind::EV_WINDOW => "initramfs",
        event_kind::EV_ATTACH => "attach",
        event_kind::EV_SYSCTL => "sysctl",
        _ => "unknown",
    }
}

/// What was attempted, by name.
pub fn what(e: &gate_event) -> String {
    let d = e.detail as usize;
    match event_kind(e.kind) {
        event_kind::EV_BPF if typed(e) => {
            let t = d >> 8;
            let (names, unnamed) = match event_why(e.why) {
                event_why::WHY_PROFILE_MAP_TYPE => (MAP_TYPES, "map_type"),
                event_why::WHY_PROFILE_ATTACH_TYPE => (ATTACH_TYPES, "attach_type"),
                _ => (PROG_TYPES, "prog_type"),
            };
            format!(
                "{} {}",
                commands::name(d & 0xff),
                names
                    .get(t)
                    .map_or_else(|| format!("{unnamed}_{t}"), |s| s.to_string())
            )
        }
        event_kind::EV_BPF => commands::name(d),
        event_kind::EV_KMOD => KMOD_OPS
            .get(d)
            .map_or_else(|| format!("op_{d}"), |s| s.to_string()),
        event_kind::EV_KIMG => KIMG_OPS
            .get(d)
            .map_or_else(|| format!("op_{d}"), |s| s.to_string()),
        event_kind::EV_SYSCTL => SYSCTL_OPS
            .get(d)
            .map_or_else(|| format!("op_{d}"), |s| s.to_string()),
        event_kind::EV_PTRACE => format!("attach_to_pid_{d}"),
        event_kind::EV_GATE => match gate_object(e.detail) {
            gate_object::OBJ_MAP => "map",
            gate_object::OBJ_PROG => "program",
            gate_object::OBJ_LINK => "link",
            gate_object::OBJ_PIN => "pin",
            gate_object::OBJ_MOUNT => "mount",
            gate_object::OBJ_KEY => "keyring",
            _ => "object",
        }
        .into(),
        event_kind::EV_TAINT => "exec_mapping".into(),
        event_kind::EV_WINDOW => "trust_window_closed".into(),
        event_kind::EV_ATTACH => match attach_path(e.detail) {
            attach_path::ATTACH_PERF_EVENT => "perf_event_ioctl",
            attach_path::ATTACH_TUN => "tun_ioctl",
            attach_path::ATTACH_KCM => "kcm_ioctl",
            attach_path::ATTACH_SOCKET => "socket_setsockopt",
            attach_path::ATTACH_PACKET_FANOUT => "packet_fanout",
            attach_path::ATTACH_PINNED_PATH => "pinned_path",
            attach_path::ATTACH_NETLINK => "netlink",
            attach_path::ATTACH_IPTABLES => "iptables",
            attach_path::ATTACH_FD_RECEIVE => "fd_receive",
            _ => "program",
        }
        .into(),
        _ => format!("{d}"),
    }
}

/// A bpf() event that names the refused program, map or attach type in its detail (command | type << 8).
fn typed(e: &gate_event) -> bool {
    matches!(
        event_why(e.why),
        event_why::WHY_PROFILE_PROG_TYPE
            | event_why::WHY_PROFILE_MAP_TYPE
            | event_why::WHY_PROFILE_ATTACH_TYPE
    )
}

fn verdict(e: &gate_event) -> &'static str {
    match event_verdict(e.verdict) {
        event_verdict::VERDICT_DENIED => "denied",
        event_verdict::VERDICT_AUDIT => "audit",
        event_verdict::VERDICT_NOTED => "noted",
        _ => "unknown",
    }
}

fn why(e: &gate_event) -> &'static str {
    match event_why(e.why) {
        event_why::WHY_UNTRUSTED => "untrusted",
        event_why::WHY_NAMESPACE => "not_initial_mount_namespace",
        event_why::WHY_BLOCKED => "blocked",
        event_why::WHY_NO_TOKEN => "no_token",
        event_why::WHY_PROTECTED_MAP => "protected_map",
        event_why::WHY_PROTECTED => "gate_object",
        event_why::WHY_TAINT_FILE => "unverified_file",
        event_why::WHY_TAINT_ANON => "anonymous_memory",
        event_why::WHY_PROFILE => "not_in_profile",
        event_why::WHY_PROFILE_PROG_TYPE => "prog_type_not_in_profile",
        event_why::WHY_PROFILE_MAP_TYPE => "map_type_not_in_profile",
        event_why::WHY_PROFILE_ATTACH_TYPE => "attach_type_not_in_profile",
        event_why::WHY_PROFILE_UNSIGNED => "unsigned_program",
        event_why::WHY_PROFILE_NO_SIGNING => "signing_unsupported_by_kernel",
        _ => "none",
    }
}

/// The executable's full path when the process still runs the same file (same inode: a recycled pid does not
/// count).
pub fn live_exe(e: &gate_event) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let proc_exe = format!("/proc/{}/exe", e.tgid);
    match std::fs::metadata(&proc_exe) {
        Ok(m) if m.ino() == e.exe_ino => std::fs::read_link(&proc_exe).ok(),
        _ => None,
    }
}

/// The executable's file name as the event recorded it.
pub fn exe_name(e: &gate_event) -> String {
    chars(&e.exe)
}

/// The executable's full path when the process still runs the same file; its file name from the record otherwise.
fn exe_path(e: &gate_event) -> String {
    live_exe(e).map_or_else(|| chars(&e.exe), |p| p.display().to_string())
}

use crate::json::string as json_str;

/// The profile of the task an event is about, by name (`profiles`: the gate's names by index); None when the task
/// was not trusted or the policy defines no profiles.
fn profile<'a>(e: &gate_event, profiles: &'a [String]) -> Option<&'a str> {
    if e.profile == bpfgate_limit::BPFGATE_NO_PROFILE.0 {
        return None;
    }
    Some(
        profiles
            .get(e.profile as usize)
            .map_or("unknown", String::as_str),
    )
}

/// One line per event (`profiles`: the gate's profile names by index).
pub fn line(e: &gate_event, json: bool, profiles: &[String]) -> String {
    let comm = chars(&e.comm);
    let exe = exe_path(e);
    let prof = profile(e, profiles);
    if json {
        format!(
            "{{\"seq\":{},\"time_ns\":{},\"pid\":{},\"tgid\":{},\"uid\":{},\"comm\":{},\"exe\":{},\
             \"exe_ino\":{},\"exe_dev\":{},\"kind\":\"{}\",\"what\":{},\"verdict\":\"{}\",\"reason\":\"{}\",\"profile\":{}}}",
            e.seq,
            e.time_ns,
            e.pid,
            e.tgid,
            e.uid,
            json_str(&comm),
            json_str(&exe),
            e.exe_ino,
            e.exe_dev,
            kind(e),
            json_str(&what(e)),
            verdict(e),
            why(e),
            prof.map_or_else(|| "null".into(), json_str)
        )
    } else {
        format!(
            "[{:>6}.{:06}] #{} {} {} {}: pid {} ({comm}, uid {}) exe {exe} (inode {}): {}{}",
            e.time_ns / 1_000_000_000,
            e.time_ns / 1000 % 1_000_000,
            e.seq,
            verdict(e),
            kind(e),
            what(e),
            e.tgid,
            e.uid,
            e.exe_ino,
            why(e),
            prof.map_or_else(String::new, |p| format!(" (profile {p})"))
        )
    }
}

/// Prints the events after `after` (a sequence number), saying how many were overwritten before they were read.
/// Returns the last sequence number seen.
pub fn print_since(
    events: &[gate_event],
    after: u64,
    json: bool,
    profiles: &[String],
    out: &mut String,
) -> u64 {
    let mut last = after;
    for e in events.iter().filter(|e| e.seq > after) {
        if e.seq > last + 1 && !json {
            let _ = writeln!(
                out,
                "... {} event(s) overwritten before they were read",
                e.seq - last - 1
            );
        }
        let _ = writeln!(out, "{}", line(e, json, profiles));
        last = e.seq;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, kind: event_kind, detail: u32, verdict: event_verdict) -> gate_event {
        let mut e = gate_event {
            seq,
            kind: kind.0,
            detail,
            verdict: verdict.0,
            why: event_why::WHY_UNTRUSTED.0,
            tgid: u32::MAX, // no such process: the record's own file name is used
            profile: bpfgate_limit::BPFGATE_NO_PROFILE.0,
            ..Default::default()
        };
        for (d, s) in e.comm.iter_mut().zip(b"bpftool\0") {
            *d = *s as i8;
        }
        for (d, s) in e.exe.iter_mut().zip(b"bpftool\0") {
            *d = *s as i8;
        }
        e
    }

    #[test]
    fn orders_names_and_reports_gaps() {
        let recs = [
            ev(9, event_kind::EV_KMOD, 1, event_verdict::VERDICT_DENIED),
            ev(5, event_kind::EV_BPF, 0, event_verdict::VERDICT_AUDIT),
            ev(6, event_kind::EV_KIMG, 2, event_verdict::VERDICT_DENIED),
        ];
        let mut buf = Vec::new();
        for r in &recs {
            buf.extend_from_slice(r.as_bytes());
        }
        let v = parse(&buf).unwrap();
        assert_eq!(v.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6, 9]);
        let mut out = String::new();
        let last = print_since(&v, 4, false, &[], &mut out);
        assert_eq!(last, 9);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].contains("audit bpf map_create") && lines[0].contains("(bpftool, uid 0)"),
            "{out}"
        );
        assert!(lines[1].contains("denied kimg dev_mem"), "{out}");
        assert!(lines[2].contains("2 event(s) overwritten"), "{out}");
        assert!(
            lines[3].contains("denied kmod autoload: pid") && lines[3].ends_with("untrusted"),
            "{out}"
        );
        let mut out = String::new();
        print_since(&v, 6, true, &[], &mut out);
        assert_eq!(out.lines().count(), 1);
        assert!(
            out.contains("\"kind\":\"kmod\",\"what\":\"autoload\",\"verdict\":\"denied\"")
                && out.contains("\"profile\":null"),
            "{out}"
        );
        // A trusted task's event names its profile.
        let mut e = ev(10, event_kind::EV_BPF, 5, event_verdict::VERDICT_DENIED);
        e.why = event_why::WHY_PROFILE.0;
        e.profile = 1;
        let names = ["full".to_string(), "readonly".to_string()];
        let text = line(&e, false, &names);
        assert!(
            text.contains("denied bpf prog_load")
                && text.ends_with("not_in_profile (profile readonly)"),
            "{text}"
        );
        assert!(line(&e, true, &names)
            .ends_with("\"reason\":\"not_in_profile\",\"profile\":\"readonly\"}"));
    }

    #[test]
    fn rejects_partial_records() {
        let e = ev(1, event_kind::EV_BPF, 0, event_verdict::VERDICT_DENIED);
        let b = e.as_bytes();
        let err = parse(&b[..b.len() - 1]).unwrap_err().to_string();
        assert!(err.contains("not a whole number"), "{err}");
        assert!(parse(&[]).unwrap().is_empty());
    }
}
