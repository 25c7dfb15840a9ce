//! The generated BPF skeleton, the program list, the baked certificates, the baked policy and the signature xattr
//! names, all from `OUT_DIR`.
#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    non_camel_case_types,
    dead_code,
    unsafe_op_in_unsafe_fn
)]

include!(concat!(env!("OUT_DIR"), "/bpfgate.skel.rs"));

/// The gate's programs as the linked BPF object has them (build.rs): the one list of hooks.
pub mod programs {
    include!(concat!(env!("OUT_DIR"), "/programs.rs"));
}

/// Build-time trust anchors.
pub mod certs {
    include!(concat!(env!("OUT_DIR"), "/certs.rs"));
}

/// The signature xattr names (bpf/bpfgate.h, through build.rs).
pub mod xattr {
    include!(concat!(env!("OUT_DIR"), "/xattr.rs"));
}

/// Build-time default policy (`BPFGATE_POLICY`), checked by build.rs.
pub mod policy {
    include!(concat!(env!("OUT_DIR"), "/policy.rs"));
}
