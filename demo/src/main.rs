//! berth-demo: the smallest service that behaves like a quorum database, for berth's end-to-end
//! tests on a real Docker engine. Standard library only.
//!
//! - `berth-demo serve --id NAME --data DIR --listen ADDR --peers HOST:PORT,...`
//!   - `GET /health`: 200 while the process runs (liveness, process-local);
//!   - `GET /ready`: 200 only while this member reaches a majority of the members (itself and the
//!     peers' `/health`), 503 otherwise (readiness that needs quorum);
//!   - `POST /records` appends the body as one line to `DIR/records.log` and fsyncs it; refused with
//!     503 without quorum;
//!   - `GET /records` returns every record this member holds.
//! - `berth-demo probe URL`: exits 0 when `GET URL` answers 200 (a health check with no shell or curl).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("probe") if args.len() == 2 => {
            i32::from(get(&args[1], Duration::from_secs(2)).map(|(s, _)| s) != Some(200))
        }
        _ => {
            eprintln!(
                "usage: berth-demo serve --id NAME --data DIR --listen ADDR --peers HOST:PORT,... | berth-demo probe URL"
            );
            2
        }
    };
    std::process::exit(code);
}

struct Config {
    id: String,
    data: PathBuf,
    listen: String,
    peers: Vec<String>,
}

fn flag(args: &[String], name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    args.iter()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

fn serve(args: &[String]) -> i32 {
    let config = Config {
        id: flag(args, "id").unwrap_or_else(|| "member".into()),
        data: PathBuf::from(flag(args, "data").unwrap_or_else(|| "/data".into())),
        listen: flag(args, "listen").unwrap_or_else(|| "0.0.0.0:7000".into()),
        peers: flag(args, "peers")
            .map(|p| {
                p.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    };
    if let Err(e) = std::fs::create_dir_all(&config.data) {
        eprintln!("berth-demo: cannot create {}: {e}", config.data.display());
        return 1;
    }
    let listener = match TcpListener::bind(&config.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berth-demo: cannot listen on {}: {e}", config.listen);
            return 1;
        }
    };
    eprintln!(
        "berth-demo: {} serving on {} with data in {}",
        config.id,
        config.listen,
        config.data.display()
    );
    let config = std::sync::Arc::new(config);
    for stream in listener.incoming().flatten() {
        let config = config.clone();
        std::thread::spawn(move || {
            let _ = handle(stream, &config);
        });
    }
    0
}

fn handle(mut stream: TcpStream, config: &Config) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, text) = match (method, path) {
        ("GET", "/health") => (200, format!("{} alive\n", config.id)),
        ("GET", "/ready") => {
            let (seen, needed) = quorum(config);
            if seen >= needed {
                (
                    200,
                    format!("ready: {seen} of {} members\n", config.peers.len().max(1)),
                )
            } else {
                (503, format!("not ready: {seen} of {needed} needed\n"))
            }
        }
        ("POST", "/records") => {
            let (seen, needed) = quorum(config);
            if seen < needed {
                (503, "no quorum\n".to_string())
            } else {
                match append(&config.data, &body) {
                    Ok(()) => (201, "stored\n".to_string()),
                    Err(e) => (500, format!("{e}\n")),
                }
            }
        }
        ("GET", "/records") => (
            200,
            std::fs::read_to_string(config.data.join("records.log")).unwrap_or_default(),
        ),
        _ => (404, "not found\n".to_string()),
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Error",
    };
    write!(
        stream,
        "HTTP/1.0 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{text}",
        text.len()
    )?;
    stream.flush()
}

/// Members this one reaches (itself included) and the majority it needs.
fn quorum(config: &Config) -> (usize, usize) {
    let members = config.peers.len().max(1);
    let needed = members / 2 + 1;
    // A peer is this member when its host is the member's name, or a DNS name under it.
    let is_self = |peer: &&String| {
        let host = peer.split(':').next().unwrap_or("");
        host == config.id || host.starts_with(&format!("{}.", config.id))
    };
    let others = config.peers.iter().filter(|p| !is_self(p));
    let reached = others
        .filter(|peer| {
            get(&format!("http://{peer}/health"), Duration::from_millis(800)).map(|(s, _)| s)
                == Some(200)
        })
        .count();
    (1 + reached, needed)
}

/// Appends one record and makes it durable before answering.
fn append(data: &Path, body: &[u8]) -> std::io::Result<()> {
    let line: String = String::from_utf8_lossy(body).replace(['\n', '\r'], " ");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("records.log"))?;
    writeln!(file, "{line}")?;
    file.sync_all()
}

/// A minimal HTTP/1.0 GET: the status code and body, or `None` when the peer cannot be reached.
fn get(url: &str, timeout: Duration) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let address = authority.to_socket_addrs().ok()?.next()?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}
