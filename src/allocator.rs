//! The global allocator (mimalloc) and when it gives freed memory back to the kernel.
//!
//! mimalloc returns ("purges") freed pages to the kernel a second after they fall free. A model
//! build or a generator run frees and reallocates gigabytes of Arrow and Parquet buffers every
//! second, so each purge was followed by the kernel zeroing the same amount of fresh pages again:
//! 9% of a mediation's CPU was `clear_page`. Batch commands keep freed memory for reuse until they
//! end (peak RSS of bronze to invoices 7.0-7.7 -> 8.8-9.0 GB); the server keeps the default so a
//! large query's memory goes back once it is done.

use std::ffi::{c_int, c_long};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// `mi_option_purge_delay` of mimalloc's `mi_option_t` (v3 header bundled by libmimalloc-sys 0.1.49).
// The `extended` feature that declares it needs a crate this build does not vendor.
const MI_OPTION_PURGE_DELAY: c_int = 15;
// Its default in that version's options.c.
const DEFAULT_PURGE_DELAY_MS: c_long = 1000;

unsafe extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
}

/// `true`: freed memory stays with the process for reuse (batch work); `false`: mimalloc's
/// default, freed memory goes back to the kernel shortly after (serving).
pub fn keep_freed_memory(keep: bool) {
    let delay = if keep { -1 } else { DEFAULT_PURGE_DELAY_MS };
    // SAFETY: sets one option of the allocator linked through the `mimalloc` crate; any value is valid.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, delay) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge delay in force, in milliseconds (-1: never).
    fn purge_delay_ms() -> i64 {
        // SAFETY: reads one option of the linked allocator.
        unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }
    }

    #[test]
    fn option_index_is_the_purge_delay_and_switches_both_ways() {
        // mi_option_purge_delay's default is 1000 ms, no other option's: a wrong index would read another.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), DEFAULT_PURGE_DELAY_MS);
        }
        keep_freed_memory(true);
        assert_eq!(purge_delay_ms(), -1);
        keep_freed_memory(false);
        assert_eq!(purge_delay_ms(), DEFAULT_PURGE_DELAY_MS);
    }
}
