//! The edge of the server, below HTTP: how many connections may be open (in all, and per
//! client address), how large a request head may be, how long a client may leave a response
//! unread, and request heads checked before hyper reads them — characters a URI may not hold
//! (`"`, `<`, `>`, `{`, `|`, …, as curl sends them unencoded) percent-encoded, and heads that
//! are not HTTP refused. What is refused here is still answered with a JSON body and, when
//! CORS is on, its headers, like every other error.
//!
//! Silent and slow clients: hyper closes a connection whose next request head has not arrived
//! within [`super::server::HEADER_READ_TIMEOUT`] (idle keep-alive connections included).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Limits on connections, with the defaults of a public server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address (a browser opens 6 per host).
    pub max_per_ip: usize,
    /// Largest request head (request line and headers), in bytes; larger gets 431.
    pub max_head_bytes: usize,
    /// How long a response may wait on a client that does not read it before the connection
    /// is closed.
    pub write_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_per_ip: 256,
            max_head_bytes: 48 * 1024,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Counts open connections, in all and per address.
#[derive(Debug)]
pub struct Gate {
    limits: ConnectionLimits,
    open: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection counted by a [`Gate`]; uncounted when dropped.
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The server holds `max_connections`.
    Full,
    /// The client's address holds `max_per_ip`.
    TooManyFromAddress,
}

impl Gate {
    /// A gate with these limits.
    #[must_use]
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: AtomicUsize::new(0),
            per_ip: Mutex::default(),
        })
    }

    /// Admits a connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refused> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.limits.max_per_ip {
            drop(per_ip);
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::TooManyFromAddress);
        }
        *count += 1;
        Ok(Ticket {
            gate: Arc::clone(self),
            ip,
        })
    }

    /// Connections open now.
    #[must_use]
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The limits.
    #[must_use]
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut per_ip = self.gate.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
        drop(per_ip);
        self.gate.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A complete HTTP/1.1 response with a JSON error body, closing the connection.
#[must_use]
pub fn refusal(status: u16, reason: &str, code: &str, description: &str, cors: bool) -> Vec<u8> {
    let body = serde_json::json!({ "code": code, "description": description }).to_string();
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if status == 503 {
        out.push_str(&format!("retry-after: {}\r\n", super::error::RETRY_AFTER_S));
    }
    if cors {
        out.push_str("access-control-allow-origin: *\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// Where a connection's incoming bytes stand.
#[derive(Debug)]
enum Reading {
    /// Gathering a request head (`head` so far).
    Head,
    /// A request with a body came: its bytes (and all after) go to hyper unexamined; hyper
    /// answers it (413: no route takes a body) and closes.
    Through,
    /// This side answered the head itself (`out[at..]` still to write), then ends.
    Refusing { out: Vec<u8>, at: usize },
    /// Refusal written: the connection ends.
    Done,
}

/// A connection's byte stream with the checks of this module; see the module docs.
pub struct Guarded<S> {
    inner: S,
    limits: ConnectionLimits,
    cors: bool,
    reading: Reading,
    /// The head being gathered.
    head: Vec<u8>,
    /// Checked bytes waiting for hyper, from `ready_at`.
    ready: Vec<u8>,
    ready_at: usize,
    /// Armed while the client does not take what is written.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    _ticket: Option<Ticket>,
}

impl<S> Guarded<S> {
    /// Wraps a connection admitted with `ticket` (released when the connection ends).
    pub fn new(inner: S, limits: ConnectionLimits, cors: bool, ticket: Option<Ticket>) -> Self {
        Self {
            inner,
            limits,
            cors,
            reading: Reading::Head,
            head: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            stalled: None,
            _ticket: ticket,
        }
    }

    fn refuse(&mut self, status: u16, reason: &str, code: &str, description: &str) {
        self.head.clear();
        self.ready.clear();
        self.ready_at = 0;
        self.reading = Reading::Refusing {
            out: refusal(status, reason, code, description, self.cors),
            at: 0,
        };
    }

    /// Takes in bytes read from the client: complete heads are checked and queued for hyper.
    fn take_in(&mut self, bytes: &[u8]) {
        let mut pending: Vec<u8> = bytes.to_vec();
        while !pending.is_empty() {
            match self.reading {
                Reading::Head => {}
                Reading::Through => {
                    self.ready.extend_from_slice(&pending);
                    return;
                }
                Reading::Refusing { .. } | Reading::Done => return,
            }
            // Blank lines before a request are allowed (RFC 9112 §2.2).
            if self.head.is_empty() {
                let skip = pending
                    .iter()
                    .take_while(|b| **b == b'\r' || **b == b'\n')
                    .count();
                pending.drain(..skip);
                if pending.is_empty() {
                    return;
                }
            }
            let before = self.head.len();
            self.head.append(&mut pending);
            let max = self.limits.max_head_bytes;
            let end = head_end(&self.head, before);
            if end.map_or(self.head.len(), |e| e) > max {
                if self.head.iter().take(max).any(|b| *b == b'\n') {
                    self.refuse(
                        431,
                        "Request Header Fields Too Large",
                        "head_too_large",
                        &format!("the request line and headers exceed {max} bytes"),
                    );
                } else {
                    self.refuse(
                        414,
                        "URI Too Long",
                        "uri_too_long",
                        &format!("the request line exceeds {max} bytes"),
                    );
                }
                return;
            }
            let Some(end) = end else {
                return;
            };
            // What follows the head is the next request, pipelined (or a body).
            pending = self.head.split_off(end);
            let head = std::mem::take(&mut self.head);
            match check_head(&head) {
                Ok((checked, has_body)) => {
                    self.ready.extend_from_slice(&checked);
                    if has_body {
                        self.reading = Reading::Through;
                    }
                }
                Err((status, reason, code, description)) => {
                    self.refuse(status, reason, code, &description);
                    return;
                }
            }
        }
    }
}

/// The end (exclusive) of a request head in `buf`, searching from a little before `from`.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let tail = &buf[start..];
    for i in 0..tail.len() {
        if tail[i..].starts_with(b"\r\n\r\n") {
            return Some(start + i + 4);
        }
        if tail[i..].starts_with(b"\n\n") {
            return Some(start + i + 2);
        }
    }
    None
}

/// Bytes a request target may hold as they are; others are percent-encoded.
fn target_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

type HeadError = (u16, &'static str, &'static str, String);

/// Checks a complete request head; returns it with its target's stray characters
/// percent-encoded, and whether a body follows.
fn check_head(head: &[u8]) -> Result<(Vec<u8>, bool), HeadError> {
    let bad = |description: String| (400, "Bad Request", "bad_request", description);
    let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(
            "the request line is not `METHOD target HTTP/1.1`".into()
        ));
    };
    if method.is_empty() || !method.iter().all(u8::is_ascii_uppercase) {
        return Err(bad("the request method is not valid".into()));
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err((
            505,
            "HTTP Version Not Supported",
            "http_version",
            "this server speaks HTTP/1.1 and HTTP/1.0".into(),
        ));
    }
    if target.is_empty() || target.iter().any(|b| *b < 0x21 || *b == 0x7f) {
        return Err(bad("the request target is not valid".into()));
    }
    let mut out = Vec::with_capacity(head.len() + 16);
    out.extend_from_slice(method);
    out.push(b' ');
    for &b in target {
        if target_byte_ok(b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out.push(b' ');
    out.extend_from_slice(version);
    out.extend_from_slice(b"\r\n");
    let rest = &head[(line_end + 1).min(head.len())..];
    out.extend_from_slice(rest);
    // The headers, as hyper will read them.
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&out) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("the request head is incomplete".into())),
        Err(httparse::Error::TooManyHeaders) => {
            return Err((
                431,
                "Request Header Fields Too Large",
                "too_many_headers",
                "a request may carry at most 128 headers".into(),
            ));
        }
        Err(e) => return Err(bad(format!("the request head is not valid HTTP: {e}"))),
    }
    let has_body = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length")
                && std::str::from_utf8(h.value).map_or(true, |v| v.trim() != "0"))
    });
    Ok((out, has_body))
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_at < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_at);
                buf.put_slice(&this.ready[this.ready_at..this.ready_at + n]);
                this.ready_at += n;
                if this.ready_at == this.ready.len() {
                    this.ready.clear();
                    this.ready_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            match &mut this.reading {
                Reading::Refusing { out, at } => {
                    while *at < out.len() {
                        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &out[*at..]))?;
                        if n == 0 {
                            break;
                        }
                        *at += n;
                    }
                    let _ = Pin::new(&mut this.inner).poll_flush(cx);
                    this.reading = Reading::Done;
                    // End of input for hyper: the connection closes.
                    return Poll::Ready(Ok(()));
                }
                Reading::Done => return Poll::Ready(Ok(())),
                Reading::Head | Reading::Through => {}
            }
            let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
            let mut read = ReadBuf::uninit(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let got = read.filled();
            if got.is_empty() {
                // The client closed: hand hyper what is left of a head, so that it sees it.
                if !this.head.is_empty() {
                    let head = std::mem::take(&mut this.head);
                    this.ready.extend_from_slice(&head);
                    continue;
                }
                return Poll::Ready(Ok(()));
            }
            this.take_in(got);
        }
    }
}

impl<S> Guarded<S> {
    /// The outcome of a write: a stall longer than the write timeout ends the connection.
    fn stall<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match outcome {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.limits.write_timeout;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read the response",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write(cx, data);
        this.stall(cx, outcome)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.stall(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_flush(cx);
        this.stall(cx, outcome)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(head: &str) -> Result<String, u16> {
        check_head(head.as_bytes())
            .map(|(h, _)| String::from_utf8(h).unwrap())
            .map_err(|e| e.0)
    }

    #[test]
    fn stray_characters_are_encoded_and_garbage_refused() {
        assert_eq!(
            checked("GET /items?filter=population>1000 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap(),
            "GET /items?filter=population%3E1000 HTTP/1.1\r\nHost: a\r\n\r\n"
        );
        assert_eq!(
            checked("GET /a?f={\"op\":\"<\"} HTTP/1.1\r\n\r\n").unwrap(),
            "GET /a?f=%7B%22op%22:%22%3C%22%7D HTTP/1.1\r\n\r\n"
        );
        assert_eq!(checked("GARBAGE\r\n\r\n"), Err(400));
        assert_eq!(checked("get / HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(checked("GET / HTTP/2.0\r\n\r\n"), Err(505));
        assert_eq!(checked("GET / HTTP/1.1\r\nBad Header\r\n\r\n"), Err(400));
        let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(checked(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(431));
    }

    #[test]
    fn heads_are_found_across_reads() {
        let mut g = Guarded::new((), ConnectionLimits::default(), true, None);
        g.take_in(b"GET /a HTTP/1.1\r\nHo");
        assert!(g.ready.is_empty());
        g.take_in(b"st: x\r\n\r\nGET /b> HTTP/1.1\r\n\r\n");
        assert_eq!(
            String::from_utf8(g.ready.clone()).unwrap(),
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b%3E HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn oversized_heads_are_refused_with_json() {
        let limits = ConnectionLimits {
            max_head_bytes: 100,
            ..ConnectionLimits::default()
        };
        let mut g = Guarded::new((), limits, true, None);
        g.take_in(b"GET / HTTP/1.1\r\n");
        g.take_in(&[b'a'; 150]);
        let Reading::Refusing { out, .. } = &g.reading else {
            panic!("refused");
        };
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 431"), "{text}");
        assert!(text.contains("access-control-allow-origin: *"), "{text}");
        assert!(text.ends_with("\"}"), "{text}");
    }

    #[test]
    fn the_gate_counts_per_address() {
        let gate = Gate::new(ConnectionLimits {
            max_connections: 3,
            max_per_ip: 2,
            ..ConnectionLimits::default()
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let t1 = gate.admit(a).unwrap();
        let _t2 = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Refused::TooManyFromAddress);
        let _t3 = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).unwrap_err(), Refused::Full);
        drop(t1);
        let _t4 = gate.admit(b).unwrap();
        assert_eq!(gate.open(), 3);
    }
}
