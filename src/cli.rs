//! Command-line parsing: hand-rolled to keep the static binary small; every mistake names the argument.

use std::path::PathBuf;

use crate::error::Error;
use crate::logging::Sink;

pub const HELP: &str = "\
bpfgate: bpf() for signed, fs-verity-protected loaders only, not for root

Usage: bpfgate [-v] [--log stderr|syslog|kmsg] COMMAND

Commands:
  load [--config FILE] [--boot]
                         Load the gate: mount securityfs and bpffs if missing, check the kernel, put the
                         baked certificates into a closed keyring, attach, pin under /sys/fs/bpf/bpfgate,
                         protect the pins, keyring and maps (from trusted loaders too), exit.
                         Policy: built-in defaults < policy baked at build time (BPFGATE_POLICY) < FILE
                         (default /etc/bpfgate/policy.conf, when it exists) < the kernel command line
                         (bpfgate=MODE, bpfgate.KEY=VALUE). A second run reports the active gate and changes
                         nothing: the policy of a running gate cannot change.
                         --boot: as the initramfs hooks and units run it: the failure policy applies (a gate
                         that cannot load fails the command only when `required = 1`), and when run from the
                         initramfs its programs stay trusted until the real root's init starts (policy key
                         `initramfs`, docs/boot.md).
  policy [--config FILE] [--cmdline LINE]
                         Print the policy `load` would use, in config syntax, and every warning about the
                         config or command line (LINE instead of /proc/cmdline). Exit status 1 on warnings.
                         Keys: mode = enforce|audit|off, required = 0|1, bpf|kmod|kimg = allow|deny|restrict,
                         bpf.allow, bpf.block, kmod.allow, kimg.allow = comma-separated names or groups,
                         bpf.token_only = 0|1 (objects only through BPF tokens, docs/tokens.md),
                         bpf.signed = 0|1 (untrusted tasks may load programs signed for the gate's
                         keyring, Linux 6.18+, docs/signed-programs.md),
                         anchors = baked,builtin,secondary,platform (whose signatures count),
                         denylist = sha256:HEX,... See docs/policy.md.
  log [--follow] [--json]
                         Print the gate's recorded decisions (denials; in audit mode, what would have been
                         denied; taints), oldest first, from the pinned event ring (the last 1024). With
                         --follow, keep printing new ones. Works for untrusted root (read(2) on a pin).
  status [--json]        Show whether the gate is active, the features in use and per-command decision counts.
                         Works for any root process, trusted or not (reads the pinned status iterator).
                         Exit status 3 when no gate is active.
  enroll --sig SIG FILE  Enable fs-verity on FILE (sha256, 4096-byte blocks) and store SIG, made by
                         `fsverity sign FILE SIG --key KEY --cert CERT`, in the xattrs the gate reads
                         (security.bpf.bpfgate.sig and user.bpfgate.sig).
  check [--config FILE] [--json] FILE...
                         Say for each file whether the gate would trust it, and if not exactly why: script,
                         no_verity, bad_digest (algorithm), denylisted (policy as `load` reads it), no_signature,
                         signature_too_big, unparseable_signature, signer_not_an_anchor, bad_signature. The
                         signature is verified by the kernel against the baked certificates. Exit status 1
                         when any file is untrusted. Changes nothing (no gate needed).
  doctor [PATH]          Check the running kernel (version, BPF LSM in the active list, BTF, each kfunc and
                         hook, keyrings) and PATH's filesystem (default /) for fs-verity, and print the fix
                         for each failure (e.g. the lsm= line to use). Exit status 1 when a check fails.
  digest FILE...         Print each file's fs-verity digest, computed in userspace (same output as
                         `fsverity digest`): sha256:HEX FILE.

As PID 1 (the initramfs's /init), bpfgate runs its embedded init instead: it loads the gate, mounts root= and
switches to the real init. See docs/boot.md.

Options:
  -v, --verbose          Debug messages (a failed load carries the verifier log's last lines without it).
  --log SINK             Where messages go. Default: stderr on a terminal, else syslog when /dev/log exists,
                         else /dev/kmsg (initramfs).
  -h, --help             This help.
  -V, --version          Version and the number of baked certificates.
";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Load {
        config: Option<PathBuf>,
        boot: bool,
    },
    Policy {
        config: Option<PathBuf>,
        cmdline: Option<String>,
    },
    Log {
        follow: bool,
        json: bool,
    },
    Check {
        config: Option<PathBuf>,
        json: bool,
        files: Vec<PathBuf>,
    },
    Doctor {
        path: PathBuf,
    },
    Status {
        json: bool,
    },
    Enroll {
        sig: PathBuf,
        file: PathBuf,
    },
    Digest {
        files: Vec<PathBuf>,
    },
    Help,
    Version,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub verbose: bool,
    pub log: Option<Sink>,
    pub command: Command,
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Parses arguments (without argv\[0\]).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, Error> {
    let mut it = args.into_iter();
    let (mut verbose, mut log) = (false, None);
    let command = loop {
        let Some(a) = it.next() else {
            return Err(usage("no command given"));
        };
        match a.as_str() {
            "-v" | "--verbose" => verbose = true,
            "--log" => {
                let v = it
                    .next()
                    .ok_or_else(|| usage("--log needs a value: stderr, syslog or kmsg"))?;
                log =
                    Some(Sink::parse(&v).ok_or_else(|| {
                        usage(format!("--log {v:?}: use stderr, syslog or kmsg"))
                    })?);
            }
            "-h" | "--help" | "help" => break Command::Help,
            "-V" | "--version" => break Command::Version,
            "load" => {
                let (mut config, mut boot) = (None, false);
                while let Some(a) = it.next() {
                    match a.as_str() {
                        "--config" => {
                            config = Some(value(&mut it, "load --config", "a file")?.into())
                        }
                        "--boot" => boot = true,
                        _ => return Err(usage(format!("load: unexpected argument {a:?}"))),
                    }
                }
                break Command::Load { config, boot };
            }
            "policy" => {
                let (mut config, mut cmdline) = (None, None);
                while let Some(a) = it.next() {
                    match a.as_str() {
                        "--config" => {
                            config = Some(value(&mut it, "policy --config", "a file")?.into())
                        }
                        "--cmdline" => {
                            cmdline = Some(value(&mut it, "policy --cmdline", "a command line")?)
                        }
                        _ => return Err(usage(format!("policy: unexpected argument {a:?}"))),
                    }
                }
                break Command::Policy { config, cmdline };
            }
            "log" => {
                let (mut follow, mut json) = (false, false);
                for a in it.by_ref() {
                    match a.as_str() {
                        "--follow" | "-f" => follow = true,
                        "--json" => json = true,
                        _ => return Err(usage(format!("log: unexpected argument {a:?}"))),
                    }
                }
                break Command::Log { follow, json };
            }
            "check" => {
                let (mut config, mut json, mut files) = (None, false, Vec::new());
                while let Some(a) = it.next() {
                    match a.as_str() {
                        "--config" => {
                            config = Some(value(&mut it, "check --config", "a file")?.into())
                        }
                        "--json" => json = true,
                        s if s.starts_with('-') => {
                            return Err(usage(format!("check: unknown option {s:?}")))
                        }
                        _ => files.push(PathBuf::from(a)),
                    }
                }
                if files.is_empty() {
                    return Err(usage("check: at least one FILE is required"));
                }
                break Command::Check {
                    config,
                    json,
                    files,
                };
            }
            "doctor" => {
                let path = it.next().map_or_else(|| PathBuf::from("/"), PathBuf::from);
                if let Some(a) = it.next() {
                    return Err(usage(format!("doctor: unexpected argument {a:?}")));
                }
                break Command::Doctor { path };
            }
            "status" => {
                let mut json = false;
                for a in it.by_ref() {
                    match a.as_str() {
                        "--json" => json = true,
                        _ => return Err(usage(format!("status: unexpected argument {a:?}"))),
                    }
                }
                break Command::Status { json };
            }
            "enroll" => {
                let (mut sig, mut file) = (None, None);
                while let Some(a) = it.next() {
                    match a.as_str() {
                        "--sig" => {
                            sig = Some(
                                it.next()
                                    .ok_or_else(|| usage("enroll: --sig needs a file"))?,
                            )
                        }
                        s if s.starts_with('-') => {
                            return Err(usage(format!("enroll: unknown option {s:?}")))
                        }
                        _ if file.is_none() => file = Some(a),
                        _ => {
                            return Err(usage(format!("enroll: one FILE at a time (extra {a:?})")))
                        }
                    }
                }
                let sig = sig.ok_or_else(|| {
                    usage("enroll: --sig SIG is required (make it with `fsverity sign`)")
                })?;
                let file = file.ok_or_else(|| usage("enroll: FILE is required"))?;
                break Command::Enroll {
                    sig: sig.into(),
                    file: file.into(),
                };
            }
            "digest" => {
                let files: Vec<PathBuf> = it.by_ref().map(PathBuf::from).collect();
                if files.is_empty() {
                    return Err(usage("digest: at least one FILE is required"));
                }
                break Command::Digest { files };
            }
            other => return Err(usage(format!("unknown command or option {other:?}"))),
        }
    };
    Ok(Args {
        verbose,
        log,
        command,
    })
}

fn value(it: &mut impl Iterator<Item = String>, opt: &str, what: &str) -> Result<String, Error> {
    it.next()
        .ok_or_else(|| usage(format!("{opt} needs {what}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(String::from)).map_err(|e| e.to_string())
    }

    #[test]
    fn table() {
        let ok: &[(&str, Command)] = &[
            (
                "load",
                Command::Load {
                    config: None,
                    boot: false,
                },
            ),
            (
                "load --config /etc/p.conf --boot",
                Command::Load {
                    config: Some("/etc/p.conf".into()),
                    boot: true,
                },
            ),
            (
                "policy",
                Command::Policy {
                    config: None,
                    cmdline: None,
                },
            ),
            (
                "policy --cmdline bpfgate=audit --config c",
                Command::Policy {
                    config: Some("c".into()),
                    cmdline: Some("bpfgate=audit".into()),
                },
            ),
            (
                "log",
                Command::Log {
                    follow: false,
                    json: false,
                },
            ),
            (
                "log -f --json",
                Command::Log {
                    follow: true,
                    json: true,
                },
            ),
            ("status", Command::Status { json: false }),
            ("status --json", Command::Status { json: true }),
            (
                "enroll --sig a.sig f",
                Command::Enroll {
                    sig: "a.sig".into(),
                    file: "f".into(),
                },
            ),
            (
                "enroll f --sig a.sig",
                Command::Enroll {
                    sig: "a.sig".into(),
                    file: "f".into(),
                },
            ),
            (
                "digest a b",
                Command::Digest {
                    files: vec!["a".into(), "b".into()],
                },
            ),
            (
                "check --json a b",
                Command::Check {
                    config: None,
                    json: true,
                    files: vec!["a".into(), "b".into()],
                },
            ),
            ("doctor", Command::Doctor { path: "/".into() }),
            (
                "doctor /mnt",
                Command::Doctor {
                    path: "/mnt".into(),
                },
            ),
            ("--help", Command::Help),
            ("-V", Command::Version),
        ];
        for (line, want) in ok {
            assert_eq!(&p(line).unwrap().command, want, "{line}");
        }
        let a = p("-v --log kmsg load").unwrap();
        assert!(a.verbose);
        assert_eq!(a.log, Some(Sink::Kmsg));
    }

    #[test]
    fn errors_name_the_argument() {
        let bad: &[(&str, &str)] = &[
            ("", "no command"),
            ("frobnicate", "\"frobnicate\""),
            ("load now", "\"now\""),
            ("load --config", "--config needs a file"),
            ("policy --cmdline", "--cmdline needs a command line"),
            ("log --tail", "\"--tail\""),
            ("check", "at least one FILE"),
            ("check --yaml f", "\"--yaml\""),
            ("doctor / /mnt", "\"/mnt\""),
            ("status --yaml", "\"--yaml\""),
            ("enroll f", "--sig SIG is required"),
            ("enroll --sig", "--sig needs a file"),
            ("enroll --sig s", "FILE is required"),
            ("enroll --sig s a b", "extra \"b\""),
            ("digest", "at least one FILE"),
            ("--log", "--log needs a value"),
            ("--log tty load", "\"tty\""),
        ];
        for (line, want) in bad {
            let e = p(line).unwrap_err();
            assert!(e.contains(want), "{line:?}: {e:?} should contain {want:?}");
        }
    }
}
