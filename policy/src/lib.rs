//! bpfgate's policy language: the policy, its three layers (build-time defaults, the initramfs config file, the
//! kernel command line) and their one parser, and the bpf() command names the policy speaks of. Its own crate so
//! that build.rs (which checks a baked policy) and the binary share it as a dependency.

pub mod commands;
pub mod policy;
