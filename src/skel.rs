//! The generated BPF skeleton and the baked certificates, both from `OUT_DIR`.
#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    non_camel_case_types,
    dead_code,
    unsafe_op_in_unsafe_fn
)]

include!(concat!(env!("OUT_DIR"), "/bpfgate.skel.rs"));

/// Build-time trust anchors.
pub mod certs {
    include!(concat!(env!("OUT_DIR"), "/certs.rs"));
}
