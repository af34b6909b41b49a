//! The `berth` binary: parses the command line and hands over to [`berth::cli`].

// Compiling allocates many small, short-lived values on every core: mimalloc's per-thread heaps
// take a fifth off the user time of 100 specs against glibc's malloc (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // mimalloc maps memory in 2 MiB-aligned segments, which transparent huge pages would back
    // with whole huge pages, doubling the resident memory of a short run for no speed. Its
    // `no_thp` feature stops it asking for them; this stops a system that gives them always.
    // SAFETY: prctl with these arguments only sets a flag of this process.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    // Writing into a closed pipe (`berth diff | head`) ends the process quietly, as in other
    // command-line tools, instead of failing a print.
    // SAFETY: called before any other thread exists; restores the default disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    std::process::exit(berth::cli::main());
}
