//! What the tests on a real Docker engine share: finding the engine (or saying why a test cannot
//! run), unique names, waiting, crashing members from the host, and cleaning up.

use super::stdout;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

/// Says that the running test could not do its check. Under `CI=true` that is a failure; otherwise
/// `SKIPPED` is printed, and the test's name is added to `$BERTH_SKIPPED` (a file), from which
/// `scripts/test` counts and lists the skips.
pub fn skip(why: &str) -> bool {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} cannot do its check: {why}; CI=true requires it"
    );
    eprintln!("SKIPPED: {test}: {why}");
    if let Some(path) = std::env::var_os("BERTH_SKIPPED") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{test}: {why}");
        }
    }
    false
}

/// Whether a Docker engine answers; if not, the test is skipped (a failure under `CI=true`).
pub fn engine() -> bool {
    let answers = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    answers || skip("no Docker engine answers (`docker info` failed)")
}

/// One test at a time on the engine within a test binary: the scenarios share one engine, the
/// swarm, and the images, and their waits assume the machine is not also running others.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static ENGINE: Mutex<()> = Mutex::new(());
    ENGINE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The engine for this test alone, or `None` (a loud skip) when no engine answers.
pub fn exclusive_engine() -> Option<MutexGuard<'static, ()>> {
    engine().then(exclusive)
}

pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:x}", std::process::id(), nanos % 0xfffff)
}

pub fn wait_until(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    wait_until_or_explain(what, limit, done, String::new);
}

/// `wait_until`, with `explain`'s account of the state (logs, status) in the failure's message.
pub fn wait_until_or_explain(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
    explain: impl FnOnce() -> String,
) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() >= limit {
            panic!(
                "timed out after {limit:?} waiting until {what}\n{}",
                explain()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Running containers of one service, by the label every docker backend sets.
pub fn containers(service: &str) -> Vec<String> {
    let output = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=berth.service={service}"),
    ]);
    stdout(&output).lines().map(str::to_string).collect()
}

/// Kills every listed container's process at once from the host, as a power cut would. (`docker
/// kill` counts as a manual stop on this engine, after which no restart policy restarts it.)
pub fn crash(containers: &[String]) {
    let pids: Vec<String> = containers
        .iter()
        .map(|c| {
            stdout(&docker(&["inspect", "--format", "{{.State.Pid}}", c]))
                .trim()
                .to_string()
        })
        .collect();
    let status = Command::new("kill")
        .arg("-KILL")
        .args(&pids)
        .status()
        .unwrap();
    assert!(status.success(), "kill {pids:?}");
}

/// Commands run when dropped, last first, also when the test panics: what a test created goes.
pub struct Cleanup(pub Vec<Vec<String>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for command in self.0.iter().rev() {
            let _ = Command::new(&command[0]).args(&command[1..]).output();
        }
    }
}

pub fn cmd(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A swarm of this engine alone, made for the test and left when the guard drops. An engine that
/// is already in a swarm is not touched: the test is skipped (a failure under `CI=true`).
pub struct Swarm {
    pub node: String,
    gateway_existed: bool,
}

impl Swarm {
    pub fn init() -> Option<Swarm> {
        let state = stdout(&docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]))
            .trim()
            .to_string();
        if state != "inactive" {
            skip(&format!(
                "this engine is already in a swarm ({state}); the test will not touch it"
            ));
            return None;
        }
        let gateway_existed = docker(&["network", "inspect", "docker_gwbridge"])
            .status
            .success();
        let init = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        if !init.status.success() {
            skip(&format!(
                "docker swarm init failed: {}",
                super::stderr(&init).trim()
            ));
            return None;
        }
        let node = stdout(&docker(&["info", "--format", "{{.Swarm.NodeID}}"]))
            .trim()
            .to_string();
        Some(Swarm {
            node,
            gateway_existed,
        })
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = docker(&["swarm", "leave", "--force"]);
        if !self.gateway_existed {
            let _ = docker(&["network", "rm", "docker_gwbridge"]);
        }
    }
}

/// The reference of one of the images `tests/images/build.sh` builds (its directory's `TAG`).
pub fn image_tag(dir: &str) -> String {
    std::fs::read_to_string(super::root().join("tests/images").join(dir).join("TAG"))
        .unwrap()
        .trim()
        .to_string()
}

/// Builds the images (`tests/images/build.sh`, cached by the hash of their inputs) once per run.
pub fn images() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let output = Command::new("sh")
            .arg(super::root().join("tests/images/build.sh"))
            .args([
                "etcd",
                "etcd-client",
                "redis",
                "postgres",
                "rabbitmq",
                "amqp-client",
                "zookeeper",
                "zk-client",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(super::stderr(&output))
        }
    });
    if let Err(why) = built {
        panic!("tests/images/build.sh failed: {why}");
    }
}

/// An RFC 3339 timestamp as the engine writes it (`2026-12-07T11:45:15.123456789Z`), in
/// seconds of the Unix epoch: intervals that cross midnight keep their order.
pub fn epoch_seconds(timestamp: &str) -> f64 {
    let time: jiff::Timestamp = timestamp
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("`{timestamp}`: {e}"));
    // Whole seconds and their fraction apart: the nanoseconds since 1970 exceed an f64's precision.
    time.as_second() as f64 + f64::from(time.subsec_nanosecond()) / 1e9
}

/// The most of the intervals `(from, to)` that overlap at one moment: each member is down from
/// its old container's finish to its new container's start, and this is how many were down at once.
pub fn most_overlapping(intervals: &[(f64, f64)]) -> usize {
    intervals
        .iter()
        .map(|(from, _)| {
            intervals
                .iter()
                .filter(|(a, b)| a <= from && from < b)
                .count()
        })
        .max()
        .unwrap_or(0)
}
