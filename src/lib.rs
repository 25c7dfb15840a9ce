//! bpfgate as a library: the modules behind the `bpfgate` binary, grouped by boundary, and exposed so that fuzz
//! targets and tests can reach the parsers of untrusted input (certificates, signature files, the status stream,
//! the command line).

/// Putting the gate into the kernel: the generated skeleton and the records shared with BPF, the light-skeleton
/// loader, the kernel checks and mounts, the keyring, the config, and `gate` (load, attach, pin, protect).
pub mod load {
    pub mod config;
    pub mod gate;
    pub mod kernel;
    pub mod keyring;
    pub mod lskel;
    pub mod pod;
    pub mod skel;
}

/// The boot paths: bpfgate as the initramfs's PID 1, and the kernel command line.
pub mod boot {
    pub mod cmdline;
    pub mod init;
}

/// Commands that look without changing anything: `status`, `log`, `doctor`, `check`.
pub mod inspect {
    pub mod check;
    pub mod doctor;
    pub mod events;
    pub mod libs;
    pub mod nextkernel;
    pub mod rollout;
    pub mod status;
}

/// Signatures and digests: fs-verity digests and `enroll`, certificates, the DER reader, SHA-256/512.
pub mod signing {
    #[allow(dead_code)]
    // read() serves build.rs; parse() is what the binary's tests and the fuzzers exercise
    pub mod certfile;
    pub mod der;
    pub mod sha256;
    pub mod sha512;
    pub mod store;
    pub mod verity;
}

/// The policy language and the bpf() command names, from their own crate (build.rs uses it too).
pub use bpfgate_policy::{commands, policy};

pub mod cli;
pub mod error;
pub mod json;
pub mod logging;
pub mod sys;
