//! SIGINT and SIGTERM while berth writes `--out`. Their default action, dying at once, would
//! leave the staging directory in `--out`, or a commit half done. While a write is open
//! ([`catch`]) the handler only notes the signal; the write checks for it between its steps,
//! removes or undoes what it did, and berth exits with 128 + the signal's number, as a shell
//! reports a process that the signal ended. SIGKILL cannot be caught: the next write removes
//! what a killed one left (its staging directory names its process).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};

static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Held while a file is being staged or the commit runs: the watcher waits for it.
static WRITING: Mutex<()> = Mutex::new(());
/// Set once the write committed or was abandoned: the watcher has nothing left to do.
static SETTLED: AtomicBool = AtomicBool::new(false);

// libc, not rustix, for what touches signal dispositions: rustix keeps its signal calls unstable.
// Every other system call of berth's goes through rustix.
pub const SIGTERM: i32 = libc::SIGTERM;

/// Keeps the watcher from ending the process while a file is staged or the commit runs.
pub fn writing() -> MutexGuard<'static, ()> {
    WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Says that the write committed or was abandoned.
pub fn settled() {
    SETTLED.store(true, Ordering::SeqCst);
}

/// Watches for SIGINT and SIGTERM while specs compile, which may take long and polls for
/// nothing: on one, once no file is being staged, `abandon` removes what the write put in
/// `--out` and the process exits with 128 + the signal. A signal during the commit waits for
/// the commit, which undoes its steps itself; after it, there is nothing to do.
pub fn watch(abandon: impl FnOnce() + Send + 'static) {
    SETTLED.store(false, Ordering::SeqCst);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(20));
            if SETTLED.load(Ordering::SeqCst) {
                return;
            }
            let Some(signal) = received() else {
                continue;
            };
            let _writing = writing();
            if SETTLED.load(Ordering::SeqCst) {
                return;
            }
            abandon();
            eprintln!(
                "error[output/io]: interrupted by `{}`: nothing was written\n  = help: compile again to write the files; `--out` is as it was before this compile",
                name(signal)
            );
            std::process::exit(exit_code(signal));
        }
    });
}

/// The handler: an atomic store is all that a signal handler may safely do.
extern "C" fn note(signal: libc::c_int) {
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// While alive, SIGINT and SIGTERM are noted rather than acted on; dropped, each is handled as
/// before again.
pub struct Catch {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

/// Notes SIGINT and SIGTERM from now until the returned value is dropped.
pub fn catch() -> Catch {
    let mut previous = Vec::new();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sigaction` with a zeroed struct whose handler and mask are then set; the
        // handler only stores into an atomic. Neither std nor rustix sets a disposition.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // Reads and writes interrupted by the signal go on; the write checks for it itself.
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, &action, &mut old) != 0 {
                continue;
            }
            if old.sa_sigaction == libc::SIG_IGN {
                // A signal ignored when berth started (`nohup`, a background job) stays ignored.
                libc::sigaction(signal, &old, std::ptr::null_mut());
                continue;
            }
            previous.push((signal, old));
        }
    }
    Catch { previous }
}

impl Drop for Catch {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: puts back the disposition `sigaction` returned for this signal.
            unsafe { libc::sigaction(*signal, old, std::ptr::null_mut()) };
        }
    }
}

/// The first signal noted while a write was open, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The exit code after `signal`: 130 for SIGINT, 143 for SIGTERM.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// The signal's name, for messages.
pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Tests make a compile take long (`BERTH_TEST_STALL` set: a minute, not looking for signals, as
/// rendering a large spec would), after creating the file `BERTH_TEST_PAUSE_FILE` to say so
/// (debug builds only).
pub fn stall_for_test() {
    #[cfg(debug_assertions)]
    if std::env::var_os("BERTH_TEST_STALL").is_some() {
        if let Some(file) = std::env::var_os("BERTH_TEST_PAUSE_FILE") {
            let _ = std::fs::write(file, std::process::id().to_string());
        }
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// Tests stop a write at the point `BERTH_TEST_PAUSE_AT` names (`staged`: every file staged,
/// nothing moved yet; `commit`: after the commit's first rename), create the file
/// `BERTH_TEST_PAUSE_FILE` to say so, and wait up to a minute for the signal that they then send,
/// or until the test removes that file (debug builds only): a signal, or a change to `--out`, at
/// a chosen moment, without a race.
#[cfg_attr(not(debug_assertions), allow(unused_variables))]
pub fn pause_for_test(at: &str) {
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::AtomicBool;
        static PAUSED: AtomicBool = AtomicBool::new(false);
        if std::env::var("BERTH_TEST_PAUSE_AT").as_deref() != Ok(at)
            || PAUSED.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let file = std::env::var_os("BERTH_TEST_PAUSE_FILE").map(std::path::PathBuf::from);
        if let Some(file) = &file {
            let _ = std::fs::write(file, std::process::id().to_string());
        }
        let start = std::time::Instant::now();
        while received().is_none()
            && file.as_ref().is_none_or(|f| f.exists())
            && start.elapsed() < std::time::Duration::from_secs(60)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
