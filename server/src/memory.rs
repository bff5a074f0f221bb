//! Giving freed memory back to the system.
//!
//! glibc's malloc keeps freed heap memory for reuse rather than returning it, so a burst (many
//! sessions opened and closed, a spike of large answers) leaves the process at its peak size
//! for good. Measured on the debug build: 2,000 sessions opened and closed three times left the
//! resident size at 34 → 146 → 195 → 215 MB; one `malloc_trim(0)` brought it to 43 MB. The
//! memory was free, not leaked: it was only never handed back.
//!
//! So a background task looks every [`CHECK_EVERY`] at how much free memory malloc holds and
//! trims when it is more than [`TRIM_ABOVE`]. Both calls walk malloc's arenas under their locks
//! for well under a millisecond at these sizes; every few seconds that is noise. On other
//! C libraries this does nothing.
//!
//! The `gitgate` binary allocates Rust's memory with mimalloc (see `main.rs`); glibc's malloc
//! serves only the C libraries (libgit2, SQLite). mimalloc returns freed pages by itself, but
//! the heaps of threads that ended (the blocking pool's threads end after 10 s idle) are only
//! reclaimed by a later collection: the same task asks for one ([`collect_allocator`]). Without
//! mimalloc as the global allocator (the library's tests) the call finds nothing to do.
//!
//! The only module allowed `unsafe` (calls into glibc and mimalloc with no pointers; see the
//! workspace lints and the architecture test that keeps it the only one).
#![allow(unsafe_code)]

use std::time::Duration;

/// How often the free memory is looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Free memory held by malloc past which it is given back.
pub const TRIM_ABOVE: usize = 16 << 20;

/// Starts the trimming task on the current tokio runtime (it ends with the runtime).
pub fn spawn_trimmer() {
    if !supported() {
        return;
    }
    tokio::spawn(async {
        let mut every = tokio::time::interval(CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            // Off the async workers: the arena walk takes their locks.
            let _ = tokio::task::spawn_blocking(trim_if_worth_it).await;
        }
    });
}

/// Trims when malloc holds more than [`TRIM_ABOVE`] free; returns whether it did. Also has
/// mimalloc collect what it holds free.
pub fn trim_if_worth_it() -> bool {
    collect_allocator();
    free_held().is_some_and(|free| free > TRIM_ABOVE) && trim()
}

/// Turns transparent huge pages off for this process (and the processes it starts).
///
/// mimalloc asks the kernel for huge pages on its arenas (`madvise`), so touching one small
/// page of a 2 MiB region made the whole 2 MiB resident: under load the server measured 50 MiB
/// idle and 140-165 MiB at peak, against 33 and 49 MiB on glibc's malloc at the same calls/s;
/// without huge pages 33 and 61 MiB, and the same throughput. mimalloc's own switch for this
/// is read before `main` (from `MIMALLOC_ALLOW_THP`), after its first arena is set up, so the
/// process-wide switch is used instead: the kernel checks it on every page fault. Call first
/// thing in `main`.
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Has mimalloc free the empty pages of this thread's heap, reclaim the heaps of threads that
/// ended, and return free memory to the system now rather than on its next allocation.
pub fn collect_allocator() {
    // SAFETY: mi_collect takes no pointers and is safe to call from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn supported() -> bool {
    true
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn supported() -> bool {
    false
}

/// Bytes malloc holds free (in its arenas and mapped chunks not yet returned).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn free_held() -> Option<usize> {
    // SAFETY: mallinfo2 takes no arguments and only reads malloc's own statistics.
    let info = unsafe { libc::mallinfo2() };
    Some(info.fordblks)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn free_held() -> Option<usize> {
    None
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    // SAFETY: malloc_trim only releases free memory back to the kernel; no pointer is involved.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After the call the kernel reports huge pages off for the process.
    #[test]
    #[cfg(target_os = "linux")]
    fn transparent_huge_pages_are_turned_off() {
        disable_transparent_huge_pages();
        // SAFETY: PR_GET_THP_DISABLE takes integer arguments only and returns the flag.
        let flag = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(flag, 1);
    }

    /// Freed memory past the threshold is given back; below it nothing happens.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_memory_past_the_threshold_is_trimmed() {
        // Many mid-sized blocks (below the mmap threshold, so they live in the heap); every
        // other one is freed while its neighbours stay, so the freed ones cannot merge into the
        // heap's top (which glibc trims by itself on free) and stay in malloc's bins.
        let mut blocks: Vec<Option<Vec<u8>>> =
            (0..8192).map(|i| Some(vec![i as u8; 16 << 10])).collect();
        for block in blocks.iter_mut().step_by(2) {
            block.take();
        }
        const { assert!(4096 * (16 << 10) > TRIM_ABOVE) };
        let before = free_held().expect("glibc");
        assert!(before > TRIM_ABOVE, "{before} free");
        // malloc_trim says whether it gave memory back. (How much stays free afterwards is not
        // asserted: other tests' threads allocate meanwhile. The e2e test `memory.rs` measures
        // the effect on a whole server's resident size.)
        assert!(trim_if_worth_it());
        drop(blocks);
    }
}
