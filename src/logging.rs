//! Logging fitted to who runs the command: stderr for a person (any command but the boot path), and for `load
//! --boot` syslog when `/dev/log` exists, `/dev/kmsg` in the initramfs before any syslog. libbpf's own messages
//! go through the same logger.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stderr,
    Syslog,
    Kmsg,
}

impl Sink {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stderr" => Some(Sink::Stderr),
            "syslog" => Some(Sink::Syslog),
            "kmsg" => Some(Sink::Kmsg),
            _ => None,
        }
    }

    /// stderr on a terminal, else syslog if `/dev/log` exists, else `/dev/kmsg` if writable, else stderr.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Sink::Stderr
        } else if Path::new("/dev/log").exists() {
            Sink::Syslog
        } else if OpenOptions::new().write(true).open("/dev/kmsg").is_ok() {
            Sink::Kmsg
        } else {
            Sink::Stderr
        }
    }
}

enum Backend {
    Stderr,
    Syslog(Mutex<syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>>),
    Kmsg(Mutex<std::fs::File>),
}

struct Logger {
    backend: Backend,
    level: LevelFilter,
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        let msg = msg.trim_end();
        match &self.backend {
            Backend::Stderr => eprintln!("bpfgate: {}{msg}", prefix(r.level())),
            Backend::Syslog(l) => {
                if let Ok(mut l) = l.lock() {
                    let _ = match r.level() {
                        Level::Error => l.err(msg),
                        Level::Warn => l.warning(msg),
                        Level::Info => l.info(msg),
                        Level::Debug | Level::Trace => l.debug(msg),
                    };
                }
            }
            Backend::Kmsg(f) => {
                // <N> is the syslog priority the kernel log records with the line.
                let prio = match r.level() {
                    Level::Error => 3,
                    Level::Warn => 4,
                    Level::Info => 6,
                    Level::Debug | Level::Trace => 7,
                };
                if let Ok(mut f) = f.lock() {
                    // One write(2) per record: /dev/kmsg turns every write into a log entry of its own.
                    for line in msg.lines() {
                        let _ = f.write_all(format!("<{prio}>bpfgate: {line}\n").as_bytes());
                    }
                }
            }
        }
    }

    fn flush(&self) {}
}

fn prefix(l: Level) -> &'static str {
    match l {
        Level::Error => "error: ",
        Level::Warn => "warning: ",
        _ => "",
    }
}

/// Installs the logger (once) and routes libbpf's messages into it.
pub fn init(sink: Sink, verbose: bool) {
    let backend = match sink {
        Sink::Stderr => Backend::Stderr,
        Sink::Syslog => {
            let fmt = syslog::Formatter3164 {
                facility: syslog::Facility::LOG_AUTH,
                hostname: None,
                process: "bpfgate".into(),
                pid: std::process::id(),
            };
            syslog::unix(fmt)
                .map(|l| Backend::Syslog(Mutex::new(l)))
                .unwrap_or(Backend::Stderr)
        }
        Sink::Kmsg => OpenOptions::new()
            .write(true)
            .open("/dev/kmsg")
            .map(|f| Backend::Kmsg(Mutex::new(f)))
            .unwrap_or(Backend::Stderr),
    };
    let level = if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if log::set_boxed_logger(Box::new(Logger { backend, level })).is_ok() {
        log::set_max_level(level);
    }
    libbpf_rs::set_print(Some((
        if verbose {
            libbpf_rs::PrintLevel::Debug
        } else {
            libbpf_rs::PrintLevel::Warn
        },
        libbpf_message,
    )));
}

fn libbpf_message(level: libbpf_rs::PrintLevel, msg: String) {
    let lvl = match level {
        libbpf_rs::PrintLevel::Warn => Level::Warn,
        libbpf_rs::PrintLevel::Info => Level::Info,
        libbpf_rs::PrintLevel::Debug => Level::Debug,
    };
    log::log!(target: "libbpf", lvl, "libbpf: {}", msg.trim_end());
}
