//! The kernel command line's boot keys, as the embedded init reads them (root=, rootfstype=, rootflags=, ro/rw,
//! init=, rootdelay=/bpfgate.root_timeout=): fixed-capacity storage (no allocation can fail in PID 1), and a
//! malformed key is a warning, never a failed boot. The gate's own keys (`bpfgate=`, `bpfgate.KEY=`) belong to the
//! policy parser (`policy::Policy::apply_cmdline`), the one parser for every policy layer.

use heapless::{String, Vec};

/// Longest value kept for a key; longer ones are refused with a warning.
pub const VALUE_MAX: usize = 256;
/// Warnings kept (the rest are counted).
const WARNINGS_MAX: usize = 8;

pub type Value = String<VALUE_MAX>;

/// The keys the embedded init understands.
#[derive(Debug, PartialEq, Eq)]
pub struct Cmdline {
    pub root: Option<Value>,
    pub rootfstype: Option<Value>,
    pub rootflags: Option<Value>,
    /// `ro` (default) or `rw`.
    pub read_only: bool,
    pub init: Option<Value>,
    /// Seconds to wait for the root device (`rootdelay=` or `bpfgate.root_timeout=`).
    pub root_timeout: u32,
    pub warnings: Vec<String<VALUE_MAX>, WARNINGS_MAX>,
    pub dropped_warnings: usize,
}

impl Default for Cmdline {
    fn default() -> Self {
        Self {
            root: None,
            rootfstype: None,
            rootflags: None,
            read_only: true,
            init: None,
            root_timeout: 30,
            warnings: Vec::new(),
            dropped_warnings: 0,
        }
    }
}

impl Cmdline {
    fn warn(&mut self, args: core::fmt::Arguments<'_>) {
        let mut w = String::new();
        if core::fmt::write(&mut w, args).is_err() || self.warnings.push(w).is_err() {
            self.dropped_warnings += 1;
        }
    }

    fn value(&mut self, key: &str, v: &str) -> Option<Value> {
        match Value::try_from(v) {
            Ok(s) => Some(s),
            Err(()) => {
                self.warn(format_args!(
                    "{key}= longer than {VALUE_MAX} bytes: ignored"
                ));
                None
            }
        }
    }
}

/// Parses a kernel command line. Words are split on whitespace; a value may be double-quoted to hold spaces.
pub fn parse(line: &str) -> Cmdline {
    let mut c = Cmdline::default();
    for word in crate::policy::words(line) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v.trim_matches('"'))),
            None => (word, None),
        };
        match (key, value) {
            ("ro", None) => c.read_only = true,
            ("rw", None) => c.read_only = false,
            ("root", Some(v)) => c.root = c.value(key, v),
            ("rootfstype", Some(v)) => c.rootfstype = c.value(key, v),
            ("rootflags", Some(v)) => c.rootflags = c.value(key, v),
            ("init", Some(v)) => c.init = c.value(key, v),
            ("rootdelay" | "bpfgate.root_timeout", Some(v)) => match v.parse::<u32>() {
                Ok(n) if n <= 3600 => c.root_timeout = n,
                _ => c.warn(format_args!(
                    "{key}={v}: expected seconds (0-3600), ignored"
                )),
            },
            _ => {} // everything else belongs to the kernel or to the real init
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<Value> {
        Some(Value::try_from(s).unwrap())
    }

    #[test]
    fn table() {
        type Check = fn(&Cmdline) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |c| {
                c.root.is_none() && c.read_only && c.root_timeout == 30
            }),
            ("root=/dev/nvme0n1 rw", |c| {
                c.root == v("/dev/nvme0n1") && !c.read_only
            }),
            ("root=UUID=0a1b-2c ro", |c| {
                c.root == v("UUID=0a1b-2c") && c.read_only
            }),
            (
                "root=LABEL=rootfs rootfstype=ext4 rootflags=noatime,discard",
                |c| {
                    c.root == v("LABEL=rootfs")
                        && c.rootfstype == v("ext4")
                        && c.rootflags == v("noatime,discard")
                },
            ),
            ("init=/lib/systemd/systemd", |c| {
                c.init == v("/lib/systemd/systemd")
            }),
            ("rootdelay=5", |c| c.root_timeout == 5),
            ("bpfgate.root_timeout=0", |c| c.root_timeout == 0),
            // The gate's policy keys are the policy parser's, not warnings here.
            ("bpfgate=off bpfgate.required=0 bpfgate.bpf=restrict", |c| {
                c.warnings.is_empty() && *c == Cmdline::default()
            }),
            ("root=\"LABEL=my root\" quiet", |c| {
                c.root == v("LABEL=my root")
            }),
            ("console=ttyS0 panic=-1 quiet splash", |c| {
                c.warnings.is_empty()
            }),
        ];
        for (line, check) in cases {
            let c = parse(line);
            assert!(check(&c), "{line:?} -> {c:?}");
        }
    }

    #[test]
    fn bad_keys_warn_and_keep_defaults() {
        let cases: &[(&str, &str)] = &[
            ("rootdelay=soon", "expected seconds"),
            ("rootdelay=99999", "expected seconds"),
        ];
        for (line, want) in cases {
            let c = parse(line);
            assert!(c.root_timeout == 30, "{line}");
            assert!(
                c.warnings.iter().any(|w| w.contains(want)),
                "{line}: {:?}",
                c.warnings
            );
        }
        let long = format!("root=/dev/{}", "x".repeat(VALUE_MAX + 10));
        let c = parse(&long);
        assert!(c.root.is_none() && c.warnings[0].contains("longer than"));
        // More warnings than there is room for are counted, not lost silently, and nothing panics.
        let many = "rootdelay=x ".repeat(WARNINGS_MAX + 5);
        let c = parse(&many);
        assert_eq!(c.warnings.len(), WARNINGS_MAX);
        assert_eq!(c.dropped_warnings, 5);
    }
}
