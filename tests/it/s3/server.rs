//! Test support for object storage: a local S3 server (`moto_server` from the venv) on a free
//! loopback port, stopped when dropped (a failing test included), and a TCP proxy in front of
//! it that drops, stalls or cuts connections, or goes down for good.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `moto_server` on 127.0.0.1, with one bucket.
pub(crate) struct Moto {
    child: Child,
    pub(crate) port: u16,
}

impl Moto {
    /// Starts the server with the venv's `python` and creates `bucket`.
    pub(crate) fn start(python: &Path, bucket: &str) -> Moto {
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server (is moto[server] in the venv? run scripts/python-env)");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_mins(1);
        while request(port, "GET", "/").is_none() {
            assert!(Instant::now() < deadline, "moto_server did not answer on port {port}");
            thread::sleep(Duration::from_millis(100));
        }
        let status = request(port, "PUT", &format!("/{bucket}")).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "creating the bucket: {status}");
        moto
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The keys under `prefix/` in `bucket` (first 1000), straight from the server.
    pub(crate) fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let path = format!("/{bucket}?list-type=2&prefix={prefix}/");
        let body = request_body(self.port, "GET", &path).expect("list the bucket");
        body.split("<Key>")
            .skip(1)
            .filter_map(|k| k.split_once("</Key>"))
            .map(|(k, _)| k.to_string())
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One unsigned HTTP/1.1 request (moto accepts them); the status line, or `None` when nothing
/// answers.
fn request(port: u16, method: &str, path: &str) -> Option<String> {
    let text = request_body(port, method, path)?;
    text.lines().next().filter(|l| l.starts_with("HTTP/")).map(str::to_string)
}

/// The whole answer (status line, headers and body) to one unsigned request.
fn request_body(port: u16, method: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// What the proxy does to the connections it accepts.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Faults {
    /// Close every Nth connection after reading the start of its request (0: never).
    pub(crate) drop_every: usize,
    /// Hold every Nth connection this long without answering, then close it (0: never).
    pub(crate) stall_every: usize,
    pub(crate) stall: Duration,
    /// Cut a forwarded connection once it has carried this many request bytes (0: never).
    pub(crate) cut_after: u64,
    /// Go down for good (close every connection, accept none) once this many request bytes
    /// went through in all (0: never).
    pub(crate) down_after: u64,
}

struct State {
    upstream: u16,
    faults: Faults,
    accepted: AtomicUsize,
    bytes_up: AtomicU64,
    down: AtomicBool,
    stop: AtomicBool,
    log: Mutex<Vec<Request>>,
}

/// One HTTP request the proxy forwarded: its method, path (with the query) and `Range` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) range: Option<String>,
}

/// Reads the requests out of one connection's upward bytes: headers up to the blank line,
/// then `Content-Length` bytes of body skipped.
#[derive(Default)]
struct RequestParser {
    head: Vec<u8>,
    body_left: u64,
}

impl RequestParser {
    fn feed(&mut self, mut bytes: &[u8], log: &Mutex<Vec<Request>>) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = (self.body_left.min(bytes.len() as u64)) as usize;
                self.body_left -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            self.head.push(bytes[0]);
            bytes = &bytes[1..];
            if !self.head.ends_with(b"\r\n\r\n") {
                continue;
            }
            let text = String::from_utf8_lossy(&self.head).into_owned();
            self.head.clear();
            let mut lines = text.split("\r\n");
            let mut first = lines.next().unwrap_or_default().split(' ');
            let (method, path) =
                (first.next().unwrap_or_default(), first.next().unwrap_or_default());
            let mut range = None;
            for line in lines {
                let Some((name, value)) = line.split_once(':') else { continue };
                if name.eq_ignore_ascii_case("content-length") {
                    self.body_left = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("range") {
                    range = Some(value.trim().to_string());
                }
            }
            log.lock().unwrap().push(Request {
                method: method.to_string(),
                path: path.to_string(),
                range,
            });
        }
    }
}

/// A TCP proxy on a free loopback port in front of `upstream`.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    state: Arc<State>,
}

impl Proxy {
    pub(crate) fn start(upstream: u16, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            upstream,
            faults,
            accepted: AtomicUsize::new(0),
            bytes_up: AtomicU64::new(0),
            down: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                thread::spawn(move || serve(&st, &conn));
            }
        });
        Proxy { port, state }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Request bytes forwarded to the server so far.
    pub(crate) fn bytes_up(&self) -> u64 {
        self.state.bytes_up.load(Ordering::SeqCst)
    }

    /// The requests forwarded so far, in the order they began, and the log emptied.
    pub(crate) fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut *self.state.log.lock().unwrap())
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.state.down.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(st: &State, client: &TcpStream) {
    let n = st.accepted.fetch_add(1, Ordering::SeqCst) + 1;
    let f = st.faults;
    if st.down.load(Ordering::SeqCst) {
        return;
    }
    if f.drop_every > 0 && n.is_multiple_of(f.drop_every) {
        let mut start = [0u8; 64];
        let mut reader = client;
        let _ = reader.read(&mut start);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    if f.stall_every > 0 && n.is_multiple_of(f.stall_every) {
        thread::sleep(f.stall);
        return;
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", st.upstream)) else { return };
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    thread::scope(|scope| {
        scope.spawn(|| pump(st, client, &server, true));
        scope.spawn(|| pump(st, &s2, &c2, false));
    });
}

/// Copies `from` to `to` until either side closes, the connection is cut or the proxy goes
/// down; then closes both.
fn pump(st: &State, mut from: &TcpStream, mut to: &TcpStream, upward: bool) {
    let f = st.faults;
    let mut carried = 0u64;
    let mut parser = RequestParser::default();
    let mut buf = vec![0u8; 64 << 10];
    from.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    loop {
        if st.down.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        if upward {
            parser.feed(&buf[..n], &st.log);
            carried += n as u64;
            let total = st.bytes_up.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
            if f.down_after > 0 && total > f.down_after {
                st.down.store(true, Ordering::SeqCst);
                break;
            }
            if f.cut_after > 0 && carried > f.cut_after {
                break;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
