//! bpfgate: bpf() is a privilege of signed, fs-verity-protected loaders, not of root.

use bpfgate::{cli, gate, logging, sha256, skel, status, verity};
use std::io::Write;
use std::process::ExitCode;

use bpfgate::cli::Command;
use bpfgate::error::Error;

fn main() -> ExitCode {
    // As the initramfs's /init (PID 1), run the embedded init; it returns only to report why the boot stops.
    if std::process::id() == 1 {
        let reason = bpfgate::init::run();
        let _ = writeln!(std::io::stderr(), "bpfgate: BOOT STOPPED: {reason}");
        log::error!("BOOT STOPPED: {reason}");
        let e = bpfgate::sys::halt();
        log::error!("halt failed: {e}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bpfgate: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(args.log.unwrap_or_else(logging::Sink::detect), args.verbose);
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
        Command::Version => println!(
            "bpfgate {} ({} baked certificate(s))",
            env!("CARGO_PKG_VERSION"),
            skel::certs::CERTS.len()
        ),
        Command::Load => log::info!("{}", gate::load()?),
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
        Command::Enroll { sig, file } => {
            println!("{}: {}", file.display(), verity::enroll(&file, &sig)?)
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
