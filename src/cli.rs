//! Command-line parsing with lexopt (a few KB): paths need not be UTF-8, `--opt=value` and `--` work, every
//! command answers `-h`/`--help`, and every mistake names the argument.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::{Arg, Parser};

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
                         Keys: mode = enforce|audit|off, required = 0|1,
                         bpf|kmod|kimg|sysctl = allow|deny|restrict, bpf.allow, bpf.block, kmod.allow,
                         kimg.allow, sysctl.allow = comma-separated names or groups,
                         bpf.token_only = 0|1 (objects only through BPF tokens, docs/tokens.md),
                         bpf.signed = 0|1 (untrusted tasks may load programs signed for the gate's
                         keyring, Linux 6.18+, docs/signed-programs.md),
                         anchors = baked,builtin,secondary,platform (whose signatures count),
                         denylist = sha256:HEX,..., profile.NAME.bpf = commands a trusted loader
                         under profile NAME may use, profile.NAME.prog_types|map_types|attach_types = the
                         program, map and (cgroup, tracing, LSM) attach types they may use,
                         profile.NAME.signed_programs = required (only programs whose signature the kernel
                         verified for an anchor keyring, Linux 6.18+),
                         profile.NAME.kmod|kimg|sysctl = what trust adds there for them,
                         profile.NAME.signers = certificate SHA-256 fingerprints (everything they
                         sign), profile.NAME.digests = sha256:HEX,... (the files it
                         binds), profile.default = NAME (default full: all of bpf(); docs/profiles.md).
                         See docs/policy.md.
  log [--follow] [--json]
                         Print the gate's recorded decisions (denials; in audit mode, what would have been
                         denied; taints), oldest first, from the pinned event ring (the last 1024). With
                         --follow, keep printing new ones. Works for untrusted root (read(2) on a pin).
  rollout [--json] [--search DIR]... [--config FILE]
                         Turn the event log into a rollout plan: every executable that used bpf(), loaded a
                         module, touched a guarded kernel interface or attached a program while untrusted (run
                         in audit mode first), by path and fs-verity digest, with its event count, what it did,
                         and the commands to sign and enroll it; then the libraries those executables map at
                         start (ELF interpreter, DT_NEEDED) that do not verify, each with its commands (a signed
                         executable loses its trust at the first mapping of one). Processes that are gone are
                         found by inode in the usual bin directories and each --search DIR. --config: the
                         policy whose anchors and denylist decide what verifies (default /etc/bpfgate/policy.conf).
  status [--json]        Show whether the gate is active, the features in use, per-command decision counts and,
                         when the policy defines profiles, decisions per profile.
                         Works for any root process, trusted or not (reads the pinned status iterator).
                         Exit status 3 when no gate is active.
  enroll --sig SIG FILE  Enable fs-verity on FILE (sha256, 4096-byte blocks) and store SIG, made by
                         `fsverity sign FILE SIG --key KEY --cert CERT`, in the xattrs the gate reads
                         (security.bpf.bpfgate.sig and user.bpfgate.sig).
  enroll --store DIR [--store DIR]... FILE...
                         Enroll each FILE with the signature a store keeps for its fs-verity digest
                         (DIR/sha256/HEX.sig, made by scripts/sign-store.sh), then say whether the gate would
                         trust it. A file without a store entry, or whose entry is not a signature, is named
                         and left as it was. Exit status 1 when any file is not enrolled or not trusted.
  sync [--store DIR]... [--watch FILE] [--config FILE] [--quiet] [--reexec-init]
                         The same for every file of the watch lists (default /etc/bpfgate/watch.conf and the
                         *.conf of /etc/bpfgate/watch.d and /usr/lib/bpfgate/watch.d: one path per line, a
                         directory for the files in it) from the stores (default /etc/bpfgate/signatures, then
                         /usr/lib/bpfgate/signatures): enrolls what changed, prints each file it could not
                         enroll and why (--quiet: nothing for files that were fine already, and no error when
                         there is no watch list). When PID 1 runs or maps a file this run enabled fs-verity on,
                         it started that file unverified and runs untrusted: sync says so, and with
                         --reexec-init re-executes it (systemctl daemon-reexec), trusted again. The dpkg hook
                         `make install` adds runs `sync --quiet --reexec-init` after every package operation.
  check [--config FILE] [--json] FILE...
                         Say for each file whether the gate would trust it, and if not exactly why: script,
                         no_verity, bad_digest (algorithm), denylisted (policy as `load` reads it), no_signature,
                         signature_too_big, unparseable_signature, signer_not_an_anchor, bad_signature; for a
                         trusted file, its profile and why. The
                         signature is verified by the kernel against the baked certificates. Exit status 1
                         when any file is untrusted. Changes nothing (no gate needed).
  doctor [PATH]          Check the running kernel (version, BPF LSM in the active list, BTF, each kfunc and
                         hook, keyrings) and PATH's filesystem (default /) for fs-verity, what the policy
                         (/etc/bpfgate/policy.conf) needs of it (program signing for a profile with
                         signed_programs), and print the fix for each failure (e.g. the lsm= line to use).
                         Exit status 1 when a check fails.
  doctor --kernel VERSION [--root DIR] [--cmdline LINE] [--config FILE]
                         Before rebooting into an installed kernel: can the gate load there? Reads that
                         kernel's build configuration (DIR/boot/config-VERSION or
                         DIR/usr/lib/modules/VERSION/config), the command line the bootloader will pass
                         (DIR/etc/kernel/cmdline, else DIR/etc/default/grub; --cmdline overrides), the
                         policy (FILE, default DIR/etc/bpfgate/policy.conf) and this binary's trust anchors.
                         Exit status 0: all well; 1: a check failed and the policy requires the gate (that
                         boot would stop); 3: a check failed, the gate is optional (the boot would go on
                         without it). The initramfs builders run it for each kernel.
  digest FILE...         Print each file's fs-verity digest, computed in userspace (same output as
                         `fsverity digest`): sha256:HEX FILE.

As PID 1 (the initramfs's /init), bpfgate runs its embedded init instead: it loads the gate, mounts root= and
switches to the real init. See docs/boot.md.

Options:
  -v, --verbose          Debug messages (a failed load carries the verifier log's last lines without it).
  --log SINK             Where messages go. Default: stderr; for `load --boot`, stderr on a terminal, else
                         syslog when /dev/log exists, else /dev/kmsg (initramfs).
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
        /// `--kernel VERSION`: an installed kernel, not the running one.
        kernel: Option<String>,
        root: PathBuf,
        cmdline: Option<String>,
        config: Option<PathBuf>,
    },
    Status {
        json: bool,
    },
    Rollout {
        json: bool,
        search: Vec<PathBuf>,
        config: Option<PathBuf>,
    },
    Enroll {
        sig: PathBuf,
        file: PathBuf,
    },
    EnrollStore {
        stores: Vec<PathBuf>,
        files: Vec<PathBuf>,
    },
    Sync {
        stores: Vec<PathBuf>,
        watch: Option<PathBuf>,
        config: Option<PathBuf>,
        quiet: bool,
        reexec_init: bool,
    },
    Digest {
        files: Vec<PathBuf>,
    },
    Help,
    /// `bpfgate COMMAND --help`: that command's usage.
    CommandHelp(&'static str),
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

/// How an argument reads in a message: options as typed, values quoted (lossily, when not UTF-8).
fn shown(arg: &Arg<'_>) -> String {
    match arg {
        Arg::Short(c) => format!("\"-{c}\""),
        Arg::Long(l) => format!("\"--{l}\""),
        Arg::Value(v) => format!("{:?}", v.to_string_lossy()),
    }
}

/// A value that must be text (a command name, a sink, a command line).
fn text(v: OsString, what: &str) -> Result<String, Error> {
    v.into_string().map_err(|v| {
        usage(format!(
            "{what}: {:?} is not valid UTF-8",
            v.to_string_lossy()
        ))
    })
}

/// The option's value (`--opt VALUE` or `--opt=VALUE`), or an error naming what it needs.
fn value(p: &mut Parser, opt: &str, what: &str) -> Result<OsString, Error> {
    p.value().map_err(|_| usage(format!("{opt} needs {what}")))
}

/// lexopt's own errors (a value given to a flag, `--flag=x`), with the command named.
fn lex(cmd: &str) -> impl Fn(lexopt::Error) -> Error + '_ {
    move |e| usage(format!("{cmd}: {e}"))
}

/// Parses arguments (without argv\[0\]). Arguments need not be UTF-8 where they are paths; options take
/// `--opt VALUE` and `--opt=VALUE`, `--` ends the options, and `-h`/`--help` after a command asks for its usage.
pub fn parse<I>(args: I) -> Result<Args, Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut p = Parser::from_args(args);
    let (mut verbose, mut log) = (false, None);
    let name = loop {
        match p.next().map_err(lex("bpfgate"))? {
            None => return Err(usage("no command given")),
            Some(Arg::Short('v') | Arg::Long("verbose")) => verbose = true,
            Some(Arg::Long("log")) => {
                let v = text(
                    value(&mut p, "--log", "a value: stderr, syslog or kmsg")?,
                    "--log",
                )?;
                log =
                    Some(Sink::parse(&v).ok_or_else(|| {
                        usage(format!("--log {v:?}: use stderr, syslog or kmsg"))
                    })?);
            }
            Some(Arg::Short('h') | Arg::Long("help")) => break "help".to_string(),
            Some(Arg::Short('V') | Arg::Long("version")) => {
                return Ok(Args {
                    verbose,
                    log,
                    command: Command::Version,
                })
            }
            Some(Arg::Value(v)) => break text(v, "the command")?,
            Some(a) => return Err(usage(format!("unknown command or option {}", shown(&a)))),
        }
    };
    let command = command(&name, &mut p)?;
    Ok(Args {
        verbose,
        log,
        command,
    })
}

/// The command `name` and its arguments.
fn command(name: &str, p: &mut Parser) -> Result<Command, Error> {
    let cmd = name;
    let unexpected = |a: &Arg<'_>| usage(format!("{cmd}: unexpected argument {}", shown(a)));
    let help = |name: &'static str| Ok(Command::CommandHelp(name));
    Ok(match name {
        "help" => Command::Help,
        "load" => {
            let (mut config, mut boot) = (None, false);
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Long("config") => {
                        config = Some(value(p, "load --config", "a file")?.into())
                    }
                    Arg::Long("boot") => boot = true,
                    Arg::Short('h') | Arg::Long("help") => return help("load"),
                    a => return Err(unexpected(&a)),
                }
            }
            Command::Load { config, boot }
        }
        "policy" => {
            let (mut config, mut cmdline) = (None, None);
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Long("config") => {
                        config = Some(value(p, "policy --config", "a file")?.into())
                    }
                    Arg::Long("cmdline") => {
                        let v = value(p, "policy --cmdline", "a command line")?;
                        cmdline = Some(text(v, "policy --cmdline")?)
                    }
                    Arg::Short('h') | Arg::Long("help") => return help("policy"),
                    a => return Err(unexpected(&a)),
                }
            }
            Command::Policy { config, cmdline }
        }
        "log" => {
            let (mut follow, mut json) = (false, false);
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Short('f') | Arg::Long("follow") => follow = true,
                    Arg::Long("json") => json = true,
                    Arg::Short('h') | Arg::Long("help") => return help("log"),
                    a => return Err(unexpected(&a)),
                }
            }
            Command::Log { follow, json }
        }
        "check" => {
            let (mut config, mut json, mut files) = (None, false, Vec::new());
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Long("config") => {
                        config = Some(value(p, "check --config", "a file")?.into())
                    }
                    Arg::Long("json") => json = true,
                    Arg::Short('h') | Arg::Long("help") => return help("check"),
                    Arg::Value(v) => files.push(PathBuf::from(v)),
                    a => return Err(usage(format!("check: unknown option {}", shown(&a)))),
                }
            }
            if files.is_empty() {
                return Err(usage("check: at least one FILE is required"));
            }
            Command::Check {
                config,
                json,
                files,
            }
        }
        "doctor" => {
            let (mut path, mut kernel, mut root, mut cmdline, mut config) =
                (None, None, None, None, None);
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Short('h') | Arg::Long("help") => return help("doctor"),
                    Arg::Long("kernel") => {
                        let v = value(p, "doctor --kernel", "a kernel version")?;
                        kernel = Some(text(v, "doctor --kernel")?)
                    }
                    Arg::Long("root") => {
                        root = Some(PathBuf::from(value(p, "doctor --root", "a directory")?))
                    }
                    Arg::Long("cmdline") => {
                        let v = value(p, "doctor --cmdline", "a kernel command line")?;
                        cmdline = Some(text(v, "doctor --cmdline")?)
                    }
                    Arg::Long("config") => {
                        config = Some(value(p, "doctor --config", "a file")?.into())
                    }
                    Arg::Value(v) if path.is_none() => path = Some(PathBuf::from(v)),
                    a => return Err(unexpected(&a)),
                }
            }
            if kernel.is_none() && (root.is_some() || cmdline.is_some() || config.is_some()) {
                return Err(usage(
                    "doctor: --root, --cmdline and --config go with --kernel VERSION",
                ));
            }
            Command::Doctor {
                path: path.unwrap_or_else(|| PathBuf::from("/")),
                kernel,
                root: root.unwrap_or_else(|| PathBuf::from("/")),
                cmdline,
                config,
            }
        }
        "status" => {
            let mut json = false;
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Long("json") => json = true,
                    Arg::Short('h') | Arg::Long("help") => return help("status"),
                    a => return Err(unexpected(&a)),
                }
            }
            Command::Status { json }
        }
        "enroll" => {
            let (mut sig, mut stores, mut files) = (None, Vec::new(), Vec::new());
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Long("sig") => sig = Some(value(p, "enroll: --sig", "a file")?),
                    Arg::Long("store") => {
                        stores.push(PathBuf::from(value(p, "enroll: --store", "a directory")?))
                    }
                    Arg::Short('h') | Arg::Long("help") => return help("enroll"),
                    Arg::Value(v) => files.push(PathBuf::from(v)),
                    a => return Err(usage(format!("enroll: unknown option {}", shown(&a)))),
                }
            }
            if files.is_empty() {
                return Err(usage("enroll: FILE is required"));
            }
            match (sig, stores.is_empty()) {
                (Some(_), false) => {
                    return Err(usage("enroll: --sig SIG or --store DIR, not both"))
                }
                (Some(sig), true) => {
                    if files.len() > 1 {
                        return Err(usage(format!(
                            "enroll: one FILE at a time with --sig (extra {:?}); --store takes many",
                            files[1].display().to_string()
                        )));
                    }
                    Command::Enroll {
                        sig: sig.into(),
                        file: files.remove(0),
                    }
                }
                (None, false) => Command::EnrollStore { stores, files },
                (None, true) => {
                    return Err(usage(
                        "enroll: --sig SIG (made with `fsverity sign`) or --store DIR is required",
                    ))
                }
            }
        }
        "rollout" => {
            let (mut json, mut search, mut config) = (false, Vec::new(), None);
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Long("json") => json = true,
                    Arg::Long("config") => {
                        config = Some(value(p, "rollout --config", "a file")?.into())
                    }
                    Arg::Long("search") => {
                        search.push(PathBuf::from(value(p, "rollout: --search", "a directory")?))
                    }
                    Arg::Short('h') | Arg::Long("help") => return help("rollout"),
                    a => return Err(unexpected(&a)),
                }
            }
            Command::Rollout {
                json,
                search,
                config,
            }
        }
        "sync" => {
            let (mut stores, mut watch, mut config) = (Vec::new(), None, None);
            let (mut quiet, mut reexec_init) = (false, false);
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Long("quiet") => quiet = true,
                    Arg::Long("reexec-init") => reexec_init = true,
                    Arg::Long("store") => {
                        stores.push(PathBuf::from(value(p, "sync: --store", "a directory")?))
                    }
                    Arg::Long("watch") => {
                        watch = Some(PathBuf::from(value(p, "sync: --watch", "a file")?))
                    }
                    Arg::Long("config") => {
                        config = Some(PathBuf::from(value(p, "sync: --config", "a file")?))
                    }
                    Arg::Short('h') | Arg::Long("help") => return help("sync"),
                    a => return Err(unexpected(&a)),
                }
            }
            if stores.is_empty() {
                stores = crate::signing::store::STORES
                    .iter()
                    .map(PathBuf::from)
                    .collect();
            }
            Command::Sync {
                stores,
                watch,
                config,
                quiet,
                reexec_init,
            }
        }
        "digest" => {
            let mut files = Vec::new();
            while let Some(a) = p.next().map_err(lex(cmd))? {
                match a {
                    Arg::Short('h') | Arg::Long("help") => return help("digest"),
                    Arg::Value(v) => files.push(PathBuf::from(v)),
                    a => return Err(unexpected(&a)),
                }
            }
            if files.is_empty() {
                return Err(usage("digest: at least one FILE is required"));
            }
            Command::Digest { files }
        }
        other => return Err(usage(format!("unknown command or option {other:?}"))),
    })
}

/// One command's part of [`HELP`]: its lines of the command list, under a usage line. The global help stays the
/// one source of the text.
pub fn command_help(name: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in HELP.lines() {
        let starts_command =
            line.len() > 2 && line.starts_with("  ") && !line[2..].starts_with(' ');
        if starts_command {
            inside = line[2..].split_whitespace().next() == Some(name);
            if inside {
                out.push_str("Usage: bpfgate [-v] [--log SINK] ");
                out.push_str(line[2..].trim_end());
                out.push('\n');
                continue;
            }
        } else if line.is_empty() || !line.starts_with(' ') {
            inside = false;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("\n`bpfgate --help` lists the other commands and the options -v and --log.\n");
    out
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
            (
                "rollout --json --search /opt/bin --config /c",
                Command::Rollout {
                    json: true,
                    search: vec!["/opt/bin".into()],
                    config: Some("/c".into()),
                },
            ),
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
                "enroll --store /s --store /t a b",
                Command::EnrollStore {
                    stores: vec!["/s".into(), "/t".into()],
                    files: vec!["a".into(), "b".into()],
                },
            ),
            (
                "sync",
                Command::Sync {
                    stores: vec![
                        "/etc/bpfgate/signatures".into(),
                        "/usr/lib/bpfgate/signatures".into(),
                    ],
                    watch: None,
                    config: None,
                    quiet: false,
                    reexec_init: false,
                },
            ),
            (
                "sync --store /s --watch /w --config /c --quiet --reexec-init",
                Command::Sync {
                    stores: vec!["/s".into()],
                    watch: Some("/w".into()),
                    config: Some("/c".into()),
                    quiet: true,
                    reexec_init: true,
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
            (
                "doctor",
                Command::Doctor {
                    path: "/".into(),
                    kernel: None,
                    root: "/".into(),
                    cmdline: None,
                    config: None,
                },
            ),
            (
                "doctor /mnt",
                Command::Doctor {
                    path: "/mnt".into(),
                    kernel: None,
                    root: "/".into(),
                    cmdline: None,
                    config: None,
                },
            ),
            (
                "doctor --kernel 7.3.4 --root /tmp/r --cmdline lsm=bpf",
                Command::Doctor {
                    path: "/".into(),
                    kernel: Some("7.3.4".into()),
                    root: "/tmp/r".into(),
                    cmdline: Some("lsm=bpf".into()),
                    config: None,
                },
            ),
            ("--help", Command::Help),
            ("help", Command::Help),
            ("-V", Command::Version),
            ("-v --version", Command::Version),
            // lexopt's conventions: --opt=value, -- before operands that look like options.
            (
                "load --config=/etc/p.conf",
                Command::Load {
                    config: Some("/etc/p.conf".into()),
                    boot: false,
                },
            ),
            (
                "check --json -- -odd --name",
                Command::Check {
                    config: None,
                    json: true,
                    files: vec!["-odd".into(), "--name".into()],
                },
            ),
            (
                "enroll --sig=a.sig f",
                Command::Enroll {
                    sig: "a.sig".into(),
                    file: "f".into(),
                },
            ),
        ];
        for (line, want) in ok {
            assert_eq!(&p(line).unwrap().command, want, "{line}");
        }
        let a = p("-v --log kmsg load").unwrap();
        assert!(a.verbose);
        assert_eq!(a.log, Some(Sink::Kmsg));
        assert_eq!(p("--log=syslog status").unwrap().log, Some(Sink::Syslog));
    }

    #[test]
    fn every_command_answers_help_with_its_own_usage() {
        for cmd in [
            "load", "policy", "log", "status", "enroll", "check", "doctor", "digest",
        ] {
            for flag in ["-h", "--help"] {
                let line = format!("{cmd} {flag}");
                assert_eq!(
                    p(&line).unwrap().command,
                    Command::CommandHelp(cmd),
                    "{line}"
                );
            }
            let text = command_help(cmd);
            assert!(
                text.starts_with(&format!("Usage: bpfgate [-v] [--log SINK] {cmd}")),
                "{text}"
            );
            // Its own block only: no other command's line.
            let others = text
                .lines()
                .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
                .count();
            assert_eq!(others, 0, "{cmd}: {text}");
            assert!(text.lines().count() >= 2, "{cmd}: {text}");
        }
        // Options after the operands still count as asking for help.
        assert_eq!(
            p("check a --help").unwrap().command,
            Command::CommandHelp("check")
        );
    }

    #[test]
    fn paths_need_not_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'f', 0xff, b'x']);
        let a = parse([OsString::from("digest"), bad.clone()]).unwrap();
        assert_eq!(
            a.command,
            Command::Digest {
                files: vec![PathBuf::from(bad.clone())]
            }
        );
        // A command name or a sink must be text: an error naming the argument, no panic.
        let e = parse([bad.clone()]).unwrap_err().to_string();
        assert!(e.contains("not valid UTF-8"), "{e}");
        let e = parse([OsString::from("--log"), bad, OsString::from("load")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--log") && e.contains("not valid UTF-8"), "{e}");
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
            (
                "enroll f",
                "--sig SIG (made with `fsverity sign`) or --store DIR is required",
            ),
            ("enroll --sig s --store d f", "not both"),
            ("enroll --store", "--store needs a directory"),
            ("enroll --store d", "FILE is required"),
            ("sync --watch", "--watch needs a file"),
            ("sync extra", "\"extra\""),
            ("enroll --sig", "--sig needs a file"),
            ("enroll --sig s", "FILE is required"),
            ("enroll --sig s a b", "extra \"b\""),
            ("digest", "at least one FILE"),
            ("--log", "--log needs a value"),
            ("--log tty load", "\"tty\""),
            ("status --json=yes", "status: "),
            ("digest -x f", "\"-x\""),
        ];
        for (line, want) in bad {
            let e = p(line).unwrap_err();
            assert!(e.contains(want), "{line:?}: {e:?} should contain {want:?}");
        }
    }
}
