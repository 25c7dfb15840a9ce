//! bpfgate: bpf() is a privilege of signed, fs-verity-protected loaders, not of root.

use bpfgate::inspect::{check, doctor, events, status};
use bpfgate::load::{gate, skel};
use bpfgate::signing::{sha256, verity};
use bpfgate::{cli, logging, policy};
use std::io::Write;
use std::process::ExitCode;

use bpfgate::cli::Command;
use bpfgate::error::Error;

fn main() -> ExitCode {
    // As the initramfs's /init (PID 1), run the embedded init; it returns only to report why the boot stops.
    if std::process::id() == 1 {
        let reason = bpfgate::boot::init::run();
        let _ = writeln!(std::io::stderr(), "bpfgate: BOOT STOPPED: {reason}");
        log::error!("BOOT STOPPED: {reason}");
        let e = bpfgate::sys::halt();
        log::error!("halt failed: {e}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bpfgate: {e}");
            return ExitCode::from(2);
        }
    };
    // Errors go to whoever ran the command (stderr, whatever it is connected to); only the boot path (`load
    // --boot`, from the initramfs hooks and units) looks for syslog or the kernel log.
    let default_sink = match args.command {
        Command::Load { boot: true, .. } => logging::Sink::detect(),
        _ => logging::Sink::Stderr,
    };
    logging::init(args.log.unwrap_or(default_sink), args.verbose);
    match run(args.command) {
        Ok(code) => code,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Command) -> Result<ExitCode, Error> {
    match cmd {
        Command::Help => print!("{}", cli::HELP),
        Command::CommandHelp(name) => print!("{}", cli::command_help(name)),
        Command::Version => println!(
            "bpfgate {} ({} baked certificate(s))",
            env!("CARGO_PKG_VERSION"),
            skel::certs::CERTS.len()
        ),
        Command::Load { config, boot } => {
            let config = config.unwrap_or_else(|| policy::CONFIG_PATH.into());
            let (mut policy, warnings) = gate::boot_policy(Some(&config))?;
            // The initramfs trust window belongs to the boot paths only.
            policy.initramfs_trusted &= boot;
            for w in &warnings.list {
                log::warn!("policy: {w}");
            }
            if policy.mode == policy::Mode::Off {
                log::warn!("policy mode is off (bpfgate=off): the gate is NOT loaded");
                return Ok(ExitCode::SUCCESS);
            }
            match gate::load(&policy) {
                Ok(summary) => log::info!("{summary}"),
                Err(e) if boot && !policy.required => {
                    log::error!("{e}");
                    log::error!("WARNING: booting WITHOUT the gate (required = 0)");
                }
                Err(e) if boot => {
                    return Err(Error::Kernel(format!(
                        "BOOT STOPPED: the gate could not be loaded and required = 1: {e}"
                    )))
                }
                Err(e) => return Err(e),
            }
        }
        Command::Policy { config, cmdline } => {
            let text = match &config {
                Some(p) => Some(std::fs::read_to_string(p).map_err(|e| Error::File(p.clone(), e))?),
                None => std::fs::read_to_string(policy::CONFIG_PATH).ok(),
            };
            let source = config.as_ref().map_or_else(
                || policy::CONFIG_PATH.to_string(),
                |p| p.display().to_string(),
            );
            let line = cmdline
                .unwrap_or_else(|| std::fs::read_to_string("/proc/cmdline").unwrap_or_default());
            let (p, w) = policy::layered(
                skel::policy::BAKED,
                text.as_deref().map(|t| (t, source.as_str())),
                &line,
            );
            print!("{}", p.render());
            for m in &w.list {
                eprintln!("bpfgate: warning: {m}");
            }
            if w.dropped > 0 {
                eprintln!("bpfgate: warning: {} more", w.dropped);
            }
            if !w.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Log { follow, json } => {
            let mut last = 0;
            // Profile names live in the gate's config (the status stream's header).
            let profiles = status::read(&gate::status_pin())?
                .map(|st| bpfgate::load::config::profile_names(&st.config))
                .unwrap_or_default();
            loop {
                let Some(evs) = events::read(&gate::events_pin())? else {
                    eprintln!("bpfgate: not active (no {})", gate::events_pin().display());
                    return Ok(ExitCode::from(3));
                };
                let mut out = String::new();
                last = events::print_since(&evs, last, json, &profiles, &mut out);
                print!("{out}");
                if !follow {
                    break;
                }
                let _ = std::io::stdout().flush();
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        }
        Command::Rollout {
            json,
            search,
            config,
        } => {
            let Some(evs) = events::read(&gate::events_pin())? else {
                eprintln!("bpfgate: not active (no {})", gate::events_pin().display());
                return Ok(ExitCode::from(3));
            };
            let mut dirs: Vec<std::path::PathBuf> = bpfgate::inspect::rollout::SEARCH
                .iter()
                .map(Into::into)
                .collect();
            dirs.extend(search);
            let mut plan = bpfgate::inspect::rollout::plan(&evs, &dirs);
            let policy = check_policy(config)?;
            let anchors = check::Anchors::on_this_machine(&policy);
            let verify = |p: &std::path::Path| {
                let v = check::check(p, &anchors);
                if v.trusted {
                    Ok(())
                } else {
                    Err(v.reason)
                }
            };
            let system = bpfgate::inspect::libs::system_dirs();
            let preloads = std::fs::read_to_string("/etc/ld.so.preload")
                .map(|t| bpfgate::inspect::libs::preload(&t))
                .unwrap_or_default();
            let libs = bpfgate::inspect::rollout::libraries(&mut plan, &system, &preloads, verify);
            if json {
                println!("{}", bpfgate::inspect::rollout::json(&plan, &libs));
            } else {
                print!("{}", bpfgate::inspect::rollout::text(&plan, &libs));
            }
        }
        Command::Status { json } => match status::read(&gate::status_pin())? {
            Some(st) => print!("{}", if json { st.json() + "\n" } else { st.text() }),
            None => {
                println!(
                    "{}",
                    if json {
                        "{\"active\":false}"
                    } else {
                        "bpfgate: not active"
                    }
                );
                return Ok(ExitCode::from(3));
            }
        },
        Command::Check {
            config,
            json,
            files,
        } => {
            let policy = check_policy(config)?;
            let anchors = check::Anchors::on_this_machine(&policy);
            let mut all = true;
            for f in &files {
                let v = check::check(f, &anchors);
                all &= v.trusted;
                println!("{}", check::line(f, &v, json));
            }
            if !all {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Doctor {
            kernel: Some(release),
            root,
            cmdline,
            config,
            ..
        } => {
            use bpfgate::inspect::nextkernel;
            let t = nextkernel::Target {
                release,
                root,
                cmdline,
            };
            let (policy, mut findings) = nextkernel::target_policy(&t, config.as_deref())?;
            findings.extend(nextkernel::run(&t, &policy, skel::certs::CERTS.len()));
            let (text, all) = doctor::report(&findings);
            print!("{text}");
            if !all {
                // 1: the next boot would stop (the gate is required there); 3: it would go on without the gate
                // (2 is a usage error, as for every command).
                return Ok(ExitCode::from(if policy.required { 1 } else { 3 }));
            }
        }
        Command::Doctor { path, .. } => {
            // What `load` would enforce on this machine: the kernel must be able to do what it asks.
            let (policy, _) = gate::boot_policy(Some(std::path::Path::new(policy::CONFIG_PATH)))?;
            let (text, all) = doctor::report(&doctor::run(&path, &policy));
            print!("{text}");
            if !all {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Enroll { sig, file } => {
            println!("{}: {}", file.display(), verity::enroll(&file, &sig)?)
        }
        Command::EnrollStore { stores, files } => {
            let files: Vec<Result<std::path::PathBuf, String>> =
                files.into_iter().map(Ok).collect();
            if !enroll_from_stores(&stores, &files, None, false)?.0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Sync {
            stores,
            watch,
            config,
            quiet,
            reexec_init,
        } => {
            let files = match watch {
                Some(w) => bpfgate::signing::store::read_watch(&w)?,
                // The dpkg hook runs on every machine bpfgate is installed on: nothing to watch is not an error
                // there.
                None if quiet && !bpfgate::signing::store::has_default_watch() => {
                    return Ok(ExitCode::SUCCESS)
                }
                None => bpfgate::signing::store::default_watch()?,
            };
            let (all, enrolled) = enroll_from_stores(&stores, &files, config, quiet)?;
            if let Some(f) = bpfgate::signing::store::pid1_uses(&enrolled) {
                restore_pid1_trust(&f, reexec_init);
            }
            if !all {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Digest { files } => {
            for f in files {
                println!(
                    "sha256:{} {}",
                    sha256::hex(&verity::digest_file(&f)?),
                    f.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// PID 1 runs or maps `file`, which this sync has just enabled fs-verity on: it started it unverified (a package's
/// postinst re-executed it between unpacking and this hook, as `dpkg -i` of systemd does) and runs untrusted. With
/// `reexec` and systemd as PID 1, re-execute it now that the file verifies (the gate trusts a PID 1's exec of a
/// verified file when no user task shares its fs_struct); otherwise say what to do.
fn restore_pid1_trust(file: &std::path::Path, reexec: bool) {
    let f = file.display();
    let systemd = std::path::Path::new("/run/systemd/system").exists();
    if !(reexec && systemd) {
        println!(
            "bpfgate: PID 1 started {f} before its signature was enrolled and runs untrusted until it re-executes \
             ({})",
            if systemd {
                "systemctl daemon-reexec"
            } else {
                "its init system's re-exec, or a reboot"
            }
        );
        return;
    }
    println!(
        "bpfgate: PID 1 started {f} before its signature was enrolled: re-executing it (systemctl daemon-reexec)"
    );
    match std::process::Command::new("systemctl")
        .arg("daemon-reexec")
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!(
            "bpfgate: systemctl daemon-reexec failed ({s}): PID 1 stays untrusted until it re-executes"
        ),
        Err(e) => eprintln!(
            "bpfgate: cannot run systemctl daemon-reexec ({e}): PID 1 stays untrusted until it re-executes"
        ),
    }
}

/// Enrolls each file from the stores and says whether the gate would trust it now (under the boot policy, or
/// `config`). One line per file on stdout (`quiet`: none for a file that was enrolled and trusted already); what
/// went wrong names the file. Answers whether every file is trusted, and the (device, inode) of each file this run
/// enabled fs-verity on.
fn enroll_from_stores(
    stores: &[std::path::PathBuf],
    files: &[Result<std::path::PathBuf, String>],
    config: Option<std::path::PathBuf>,
    quiet: bool,
) -> Result<(bool, std::collections::BTreeSet<(u64, u64)>), Error> {
    use bpfgate::signing::store::{self, Outcome};
    use std::os::unix::fs::MetadataExt;
    let policy = check_policy(config)?;
    let anchors = check::Anchors::on_this_machine(&policy);
    let mut all = true;
    let mut enrolled = std::collections::BTreeSet::new();
    for f in files {
        let f = match f {
            Ok(f) => f,
            Err(why) => {
                println!("{why}");
                all = false;
                continue;
            }
        };
        let done = match store::enroll(stores, f) {
            Outcome::Enrolled(entry, notes) => {
                // A file that had no fs-verity until now: whoever runs or maps it started it unverified.
                if notes.contains("fs-verity enabled") {
                    if let Ok(m) = std::fs::metadata(f) {
                        enrolled.insert((m.dev(), m.ino()));
                    }
                }
                format!("enrolled from {} ({notes})", entry.display())
            }
            Outcome::Unchanged(entry) => format!("unchanged (signature of {})", entry.display()),
            Outcome::Failed(why) => {
                println!("{}: not enrolled: {why}", f.display());
                all = false;
                continue;
            }
        };
        let v = check::check(f, &anchors);
        all &= v.trusted;
        if v.trusted && quiet && done.starts_with("unchanged") {
            continue;
        }
        if v.trusted {
            println!("{}: {done}; trusted", f.display());
        } else {
            println!(
                "{}: {done}; but untrusted: {}: {}",
                f.display(),
                v.reason,
                v.detail
            );
        }
    }
    Ok((all, enrolled))
}

/// The policy `check` judges by: `config` (default: the boot config) over the built-in layers, its warnings logged.
fn check_policy(config: Option<std::path::PathBuf>) -> Result<policy::Policy, Error> {
    let config = config.unwrap_or_else(|| policy::CONFIG_PATH.into());
    let (policy, warnings) = gate::boot_policy(Some(&config))?;
    for w in &warnings.list {
        log::warn!("policy: {w}");
    }
    Ok(policy)
}
