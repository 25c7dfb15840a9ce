//! bpfgate as a library: the modules behind the `bpfgate` binary, exposed so that fuzz targets and tests can reach
//! the parsers of untrusted input (certificates, signature files, the status stream, the command line).

#[allow(dead_code)]
// read() serves build.rs; parse() is what the binary's tests and the fuzzers exercise
pub mod certfile;
pub mod check;
pub mod cli;
/// The policy language and the bpf() command names, from their own crate (build.rs uses it too).
pub use bpfgate_policy::{commands, policy};
pub mod cmdline;
pub mod config;
pub mod der;
pub mod doctor;
pub mod error;
pub mod events;
pub mod gate;
pub mod init;
pub mod json;
pub mod kernel;
pub mod keyring;
pub mod logging;
pub mod lskel;
pub mod pod;
pub mod sha256;
pub mod sha512;
pub mod skel;
pub mod status;
pub mod sys;
pub mod verity;
