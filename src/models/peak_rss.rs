//! The process's peak resident memory while one node of a run was built and tested, so a run
//! shows which model needs the memory. Linux only: the kernel's high-water mark (VmHWM) is reset
//! to the current RSS before a node (`/proc/self/clear_refs`) and read after it. Elsewhere, or
//! where /proc is closed to the process, nodes carry no figure.
//!
//! The figure is the process's, not the node's alone: memory the allocator keeps from earlier
//! nodes counts too (see `allocator.rs`), so it is an upper bound of what the node needed.

/// Starts a new high-water mark at the current resident size.
pub fn reset() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The high-water mark since the last `reset`, in bytes.
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_mark_rises_with_memory_touched() {
        reset();
        let before = peak_bytes().expect("VmHWM on Linux");
        let touched = std::hint::black_box(vec![1u8; 64 << 20]);
        let during = peak_bytes().unwrap();
        assert!(during >= before + (60 << 20), "{before} -> {during}");
        drop(touched);
    }
}
