//! bpf() commands by number (uapi `enum bpf_cmd`), and the read-only set untrusted tasks keep.

/// Names of bpf() commands, indexed by command number.
pub const NAMES: &[&str] = &[
    "map_create",
    "map_lookup_elem",
    "map_update_elem",
    "map_delete_elem",
    "map_get_next_key",
    "prog_load",
    "obj_pin",
    "obj_get",
    "prog_attach",
    "prog_detach",
    "prog_test_run",
    "prog_get_next_id",
    "map_get_next_id",
    "prog_get_fd_by_id",
    "map_get_fd_by_id",
    "obj_get_info_by_fd",
    "prog_query",
    "raw_tracepoint_open",
    "btf_load",
    "btf_get_fd_by_id",
    "task_fd_query",
    "map_lookup_and_delete_elem",
    "map_freeze",
    "btf_get_next_id",
    "map_lookup_batch",
    "map_lookup_and_delete_batch",
    "map_update_batch",
    "map_delete_batch",
    "link_create",
    "link_update",
    "link_get_fd_by_id",
    "link_get_next_id",
    "enable_stats",
    "iter_create",
    "link_detach",
    "prog_bind_map",
    "token_create",
    "prog_stream_read_by_fd",
];

/// Commands untrusted tasks keep: they read state through fds the task already holds, or enumerate ids. None
/// creates, changes, pins or attaches anything, nor turns an id or a path into an fd. Every other command,
/// including any the kernel adds later, is denied.
pub const UNTRUSTED: &[&str] = &[
    "map_lookup_elem",
    "map_get_next_key",
    "map_lookup_batch",
    "obj_get_info_by_fd",
    "prog_query",
    "task_fd_query",
    "prog_get_next_id",
    "map_get_next_id",
    "btf_get_next_id",
    "link_get_next_id",
];

/// Name of command `cmd`, or `cmd_N` for one this build does not know.
pub fn name(cmd: usize) -> String {
    NAMES
        .get(cmd)
        .map_or_else(|| format!("cmd_{cmd}"), |n| (*n).to_string())
}

/// Bitmap of `UNTRUSTED` by command number (rodata `cfg.untrusted_cmds`).
pub fn untrusted_bitmap() -> u64 {
    UNTRUSTED
        .iter()
        .filter_map(|u| NAMES.iter().position(|n| n == u))
        .fold(0, |m, i| m | (1u64 << i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_uapi() {
        for (cmd, name) in [
            (0, "map_create"),
            (5, "prog_load"),
            (7, "obj_get"),
            (14, "map_get_fd_by_id"),
            (18, "btf_load"),
            (28, "link_create"),
            (30, "link_get_fd_by_id"),
            (36, "token_create"),
        ] {
            assert_eq!(NAMES[cmd], name);
        }
    }

    #[test]
    fn untrusted_set_is_read_only() {
        let bm = untrusted_bitmap();
        assert_eq!(
            bm.count_ones() as usize,
            UNTRUSTED.len(),
            "every untrusted command name exists"
        );
        for denied in [
            "map_create",
            "prog_load",
            "btf_load",
            "token_create",
            "link_create",
            "raw_tracepoint_open",
            "prog_attach",
            "prog_detach",
            "link_update",
            "link_detach",
            "map_update_elem",
            "map_delete_elem",
            "map_update_batch",
            "map_delete_batch",
            "map_lookup_and_delete_elem",
            "map_lookup_and_delete_batch",
            "map_freeze",
            "obj_pin",
            "obj_get",
            "prog_get_fd_by_id",
            "map_get_fd_by_id",
            "link_get_fd_by_id",
            "btf_get_fd_by_id",
            "iter_create",
            "prog_test_run",
            "enable_stats",
            "prog_bind_map",
        ] {
            let i = NAMES.iter().position(|n| *n == denied).unwrap();
            assert_eq!(bm >> i & 1, 0, "{denied} must be denied to untrusted tasks");
        }
    }
}
