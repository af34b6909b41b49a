//! The `berth` binary: parses the command line and hands over to [`berth::cli`].

// Compiling allocates many small, short-lived values on every core: mimalloc's per-thread heaps
// take a fifth off the user time of 100 specs against glibc's malloc (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc v3's `mi_option_purge_delay` (mimalloc.h), which the Rust bindings do not name.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

unsafe extern "C" {
    // Part of the mimalloc library the allocator above links.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

fn main() {
    // mimalloc gives freed memory back to the system a second after it is freed: a compile of
    // many specs allocates again long before, on other pages, and its peak memory was half again
    // what it used (1,000 specs: 32 MiB instead of 20). 5 ms: giving it back at once made each
    // worker's frees system calls that interrupt the other core (`madvise`, a TLB flush on
    // both), a tenth of the time of 100 specs, for 1.6 MiB less at the peak of 1,000; past 5 ms
    // nothing is faster (docs/performance.md). `MIMALLOC_PURGE_DELAY` in the environment still
    // decides, as mimalloc documents.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an option before any other thread exists; mimalloc reads it when it purges.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 5) };
    }
    // mimalloc maps memory in 2 MiB-aligned segments, which transparent huge pages would back
    // with whole huge pages, doubling the resident memory of a short run for no speed. Its
    // `no_thp` feature stops it asking for them; this stops a system that gives them always.
    // A kernel without the flag runs with huge pages, as before; nothing to report.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    // Writing into a closed pipe (`berth diff | head`) ends the process quietly, as in other
    // command-line tools, instead of failing a print.
    // Neither std nor rustix (whose signal calls are unstable) sets a disposition.
    // SAFETY: called before any other thread exists; restores the default disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    std::process::exit(berth::cli::main());
}
