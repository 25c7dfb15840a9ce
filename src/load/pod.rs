//! Plain-old-data records shared with the BPF side (generated from bpf/bpfgate.h): the one place where they are
//! viewed as bytes, for map updates, and rebuilt from bytes, from the status stream.

use crate::load::skel::types::{
    deny_key, gate_event, gate_ids, status_counter, status_header, task_trust,
};

/// A `#[repr(C)]` record of integers with no padding: every byte of a value is initialised, and every byte
/// pattern is a valid value.
///
/// # Safety
/// Implement only for such types; the size checks below guard the "no padding" part for the ones we use.
pub unsafe trait Pod: Copy + Default {
    /// The record's bytes, as the kernel sees them.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: Self is Pod, so all size_of::<Self>() bytes of *self are initialised integers.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast::<u8>(), size_of::<Self>()) }
    }

    /// The record at the front of `buf`, or None when `buf` is too short.
    fn read_from(buf: &[u8]) -> Option<Self> {
        let src = buf.get(..size_of::<Self>())?;
        let mut out = Self::default();
        // SAFETY: Self is Pod, so any bytes form a valid value; src holds exactly size_of::<Self>() bytes and does
        // not overlap the local `out`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.as_ptr(),
                (&mut out as *mut Self).cast::<u8>(),
                src.len(),
            )
        };
        Some(out)
    }
}

// The sizes of bpf/bpfgate.h: any padding would show here as a larger size.
const _: () = assert!(size_of::<task_trust>() == 6 * 4);
const _: () = assert!(size_of::<gate_ids>() == 3 * 40 * 4);
const _: () = assert!(size_of::<status_counter>() == 4 + 4 + 8);
const _: () = assert!(
    size_of::<status_header>()
        == 4 * 4 + (5 * 8 + 16 * 4 + 8 * 4 + 7 * 8 * 8 + 8 + 8 * 16 + 4 * 4 + 8 * 4 + 2 * 4 + 2 * 8)
);
const _: () = assert!(size_of::<gate_event>() == 3 * 8 + 10 * 4 + 16 + 48);
const _: () = assert!(size_of::<deny_key>() == 2 + 2 + 64);

// SAFETY: five u32 (trusted, reason, tainted, loader, signed_run), no padding (size checked above).
unsafe impl Pod for task_trust {}
// SAFETY: three arrays of u32, no padding (size checked above).
unsafe impl Pod for gate_ids {}
// SAFETY: u32 index, u32 _pad, u64 value, no padding (size checked above).
unsafe impl Pod for status_counter {}
// SAFETY: four u32 then gate_config (u64 fields and arrays, u32 fields and arrays, byte arrays, its u64 parts at
// 8-byte offsets and its size a multiple of 8), no padding (size checked above).
unsafe impl Pod for status_header {}
// SAFETY: three u64, eight u32, two byte arrays (16 and 48), no padding (size checked above).
unsafe impl Pod for gate_event {}
// SAFETY: two u16 and a 64-byte array, no padding (size checked above).
unsafe impl Pod for deny_key {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_short_input() {
        let c = status_counter {
            index: 7,
            _pad: 0,
            value: 0x0102_0304_0506_0708,
        };
        let back = status_counter::read_from(c.as_bytes()).unwrap();
        assert_eq!((back.index, back.value), (7, 0x0102_0304_0506_0708));
        assert!(status_counter::read_from(&c.as_bytes()[..15]).is_none());
    }
}
