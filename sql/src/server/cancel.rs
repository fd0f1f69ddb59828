//! Stopping a running statement: a CancelRequest from another connection
//! (matched by the pid and secret key the session got in BackendKeyData),
//! or the session's `statement_timeout`. Both end the statement with 57014,
//! as PostgreSQL does.
//!
//! A connection handles one message at a time. [`Interrupts`] numbers the
//! messages; a cancel request marks the message running when it arrives,
//! so it stops whatever that message is doing (the statement, or the rows
//! pgwire drains after it) and nothing later: like PostgreSQL, a cancel
//! that arrives between statements does nothing.
//!
//! A statement also stops when its client goes away ([`Interrupts::watch_peer`],
//! looked at whenever the statement is polled and at every batch a scan
//! produces, at most every 100 ms):
//! nobody would read its answer, and on a small machine an abandoned scan
//! would take the CPU from everyone else (PostgreSQL's
//! `client_connection_check_interval`, always on).
//!
//! A statement stops by being dropped ([`Interrupts::run`], and
//! [`Interruptible`] for row streams): DataFusion's streams stop their work
//! when dropped, and a dropped buffered transaction leaves nothing in the
//! store. A commit is never cut short ([`Interrupts::hold`]): a statement
//! interrupted while it commits finishes, as PostgreSQL's commit does.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures::Stream;
use parking_lot::Mutex;
use pgwire::api::cancel::CancelHandler;
use pgwire::error::PgWireResult;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::SecretKey;
use pgwire::messages::ProtocolVersion;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::error::{code, Error};

/// Why a statement was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A CancelRequest for this session.
    Cancel,
    /// `statement_timeout` ran out.
    Timeout,
    /// The client closed its connection.
    ClientGone,
}

impl Reason {
    /// The error the statement fails with (PostgreSQL's words).
    pub fn error(self) -> Error {
        match self {
            Reason::Cancel => Error::new(
                code::QUERY_CANCELED,
                "canceling statement due to user request",
            ),
            Reason::Timeout => Error::new(
                code::QUERY_CANCELED,
                "canceling statement due to statement timeout",
            ),
            Reason::ClientGone => Error::new(code::CONNECTION_FAILURE, "connection to client lost"),
        }
    }
}

/// When a statement must be done by (`statement_timeout`), if ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from now; none for a zero timeout (PostgreSQL's `0`:
    /// disabled).
    pub fn after(timeout: Duration) -> Deadline {
        if timeout.is_zero() {
            Deadline(None)
        } else {
            Deadline(Instant::now().checked_add(timeout))
        }
    }

    fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }
}

struct Shared {
    /// Number of the message being handled.
    message: AtomicU64,
    /// Number of the message a cancel request arrived during.
    cancelled: AtomicU64,
    /// Sections that must not be cut short (commits) running now.
    holds: AtomicUsize,
    /// Woken on cancel, and when a hold ends.
    notify: Arc<Notify>,
    /// A row stream failed after its statement had returned: the
    /// transaction block it ran in has failed (see [`Interrupts::take_stream_failure`]).
    stream_failed: AtomicBool,
    /// The client's socket, watched for its end while a statement runs.
    peer: Mutex<Option<Peer>>,
    /// The deadline of the statement started last (for checks inside
    /// execution, `server::interrupt_exec`).
    deadline: Mutex<Deadline>,
}

/// One connection's interrupt state, shared by its session, its handlers
/// and the node's [`CancelRegistry`].
#[derive(Clone)]
pub struct Interrupts {
    shared: Arc<Shared>,
}

impl Default for Interrupts {
    fn default() -> Self {
        Interrupts {
            shared: Arc::new(Shared {
                message: AtomicU64::new(1),
                cancelled: AtomicU64::new(0),
                holds: AtomicUsize::new(0),
                notify: Arc::new(Notify::new()),
                stream_failed: AtomicBool::new(false),
                peer: Mutex::new(None),
                deadline: Mutex::new(Deadline::default()),
            }),
        }
    }
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupts")
            .field("message", &self.shared.message.load(Ordering::Relaxed))
            .finish()
    }
}

impl Interrupts {
    /// A new message from the client starts: cancel requests from now on
    /// are for it.
    pub fn begin_message(&self) {
        self.shared.message.fetch_add(1, Ordering::SeqCst);
    }

    /// A cancel request: stops what the current message is doing.
    pub fn cancel(&self) {
        let now = self.shared.message.load(Ordering::SeqCst);
        self.shared.cancelled.store(now, Ordering::SeqCst);
        self.shared.notify.notify_waiters();
    }

    fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::SeqCst) == self.shared.message.load(Ordering::SeqCst)
    }

    /// Whether the running statement must stop now (for checks inside
    /// execution).
    pub fn check_now(&self) -> Option<Reason> {
        let deadline = *self.shared.deadline.lock();
        self.check(deadline)
    }

    fn check(&self, deadline: Deadline) -> Option<Reason> {
        if self.is_cancelled() {
            Some(Reason::Cancel)
        } else if deadline.passed() {
            Some(Reason::Timeout)
        } else if self.client_gone() {
            Some(Reason::ClientGone)
        } else {
            None
        }
    }

    /// Watches `peer` (a second, non-blocking handle on the client's
    /// socket) while statements run: its end stops them.
    pub fn watch_peer(&self, peer: std::net::TcpStream) {
        *self.shared.peer.lock() = Some(Peer {
            socket: peer,
            checked: Instant::now(),
        });
    }

    /// Whether the client closed its connection (looked at no more than
    /// every [`PEER_CHECK_EVERY`]).
    fn client_gone(&self) -> bool {
        let mut peer = self.shared.peer.lock();
        let Some(p) = peer.as_mut() else {
            return false;
        };
        let now = Instant::now();
        if now.duration_since(p.checked) < PEER_CHECK_EVERY {
            return false;
        }
        p.checked = now;
        let mut buf = [0u8; 1];
        match p.socket.peek(&mut buf) {
            // End of stream, or reset.
            Ok(0) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ),
            // A pipelined message: the client is there.
            Ok(_) => false,
        }
    }

    /// A future that completes when the current message is cancelled,
    /// `deadline` passes or the client goes away.
    pub fn waiter(&self, deadline: Deadline) -> Waiter {
        Waiter {
            interrupts: self.clone(),
            notified: Box::pin(self.shared.notify.clone().notified_owned()),
            sleep: deadline.0.map(|d| Box::pin(tokio::time::sleep_until(d))),
            deadline,
        }
    }

    /// Marks a section that must run to its end (a commit and what follows
    /// it): an interrupt that arrives meanwhile waits for the guard to go,
    /// and is dropped if the statement ends first.
    pub fn hold(&self) -> Hold {
        self.shared.holds.fetch_add(1, Ordering::SeqCst);
        Hold {
            shared: self.shared.clone(),
        }
    }

    /// Runs `fut` until it ends, the message is cancelled or `deadline`
    /// passes (`Err` with the reason; `fut` is dropped then, unless it
    /// holds a [`Hold`], in which case it runs on until the hold ends).
    pub async fn run<F: Future>(&self, deadline: Deadline, fut: F) -> Result<F::Output, Reason> {
        *self.shared.deadline.lock() = deadline;
        tokio::pin!(fut);
        let mut waiter = self.waiter(deadline);
        // The waiter first: a busy statement uses up the task's cooperative
        // budget, and what is polled after it would not get to run.
        let reason = tokio::select! {
            biased;
            reason = &mut waiter => reason,
            out = &mut fut => return Ok(out),
        };
        loop {
            let released = self.shared.notify.clone().notified_owned();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.shared.holds.load(Ordering::SeqCst) == 0 {
                return Err(reason);
            }
            tokio::select! {
                biased;
                out = &mut fut => return Ok(out),
                _ = released => {}
            }
        }
    }

    /// Notes that a row stream failed after its statement had returned.
    fn note_stream_failure(&self) {
        self.shared.stream_failed.store(true, Ordering::SeqCst);
    }

    /// Whether a row stream failed since the last call: the transaction
    /// block (if any) it ran in has failed.
    pub fn take_stream_failure(&self) -> bool {
        self.shared.stream_failed.swap(false, Ordering::SeqCst)
    }
}

/// How often a running statement looks whether its client is still
/// there (a `recv` with `MSG_PEEK`).
const PEER_CHECK_EVERY: Duration = Duration::from_millis(100);

/// A second handle on a client's socket.
struct Peer {
    socket: std::net::TcpStream,
    checked: Instant,
}

/// See [`Interrupts::hold`].
pub struct Hold {
    shared: Arc<Shared>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.shared.holds.fetch_sub(1, Ordering::SeqCst);
        self.shared.notify.notify_waiters();
    }
}

/// See [`Interrupts::waiter`].
pub struct Waiter {
    interrupts: Interrupts,
    deadline: Deadline,
    notified: Pin<Box<OwnedNotified>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Future for Waiter {
    type Output = Reason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        // Register for wake-ups before looking, so that a cancel between
        // the look and the registration is not lost.
        while self.notified.as_mut().poll(cx).is_ready() {
            self.notified = Box::pin(self.interrupts.shared.notify.clone().notified_owned());
        }
        if let Some(reason) = self.interrupts.check(self.deadline) {
            return Poll::Ready(reason);
        }
        if let Some(sleep) = &mut self.sleep {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Reason::Timeout);
            }
        }
        Poll::Pending
    }
}

/// The rows a statement returns, stopped (with a 57014 error and the
/// statement's stream dropped) when the message is cancelled or the
/// statement's deadline passes while they are being sent.
pub struct Interruptible {
    inner: Option<Pin<Box<dyn Stream<Item = PgWireResult<DataRow>> + Send>>>,
    waiter: Waiter,
}

impl Interruptible {
    /// `rows`, interruptible through `interrupts` until `deadline`.
    pub fn new(
        rows: impl Stream<Item = PgWireResult<DataRow>> + Send + 'static,
        interrupts: &Interrupts,
        deadline: Deadline,
    ) -> Interruptible {
        Interruptible {
            inner: Some(Box::pin(rows)),
            waiter: interrupts.waiter(deadline),
        }
    }
}

impl Stream for Interruptible {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(reason) = Pin::new(&mut this.waiter).poll(cx) {
            this.inner = None;
            this.waiter.interrupts.note_stream_failure();
            tracing::debug!(?reason, "statement interrupted while sending rows");
            return Poll::Ready(Some(Err(super::to_pgwire(reason.error()))));
        }
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Err(e))) => {
                // The first error ends the statement.
                this.inner = None;
                this.waiter.interrupts.note_stream_failure();
                Poll::Ready(Some(Err(e)))
            }
            other => other,
        }
    }
}

/// A node's connections by the pid and secret key they were given, for
/// CancelRequest.
pub struct CancelRegistry {
    conns: Mutex<HashMap<i32, (SecretKey, Interrupts)>>,
    next_pid: AtomicI32,
}

/// Process ids start here (small numbers look like nothing PostgreSQL
/// would send, and some tools print them).
const FIRST_PID: i32 = 10_000;

impl Default for CancelRegistry {
    fn default() -> Self {
        CancelRegistry {
            conns: Mutex::new(HashMap::new()),
            next_pid: AtomicI32::new(FIRST_PID),
        }
    }
}

/// A connection's entry in the [`CancelRegistry`]; dropping it (when the
/// connection ends) removes the entry.
pub struct Registration {
    pid: i32,
    registry: Arc<CancelRegistry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.conns.lock().remove(&self.pid);
    }
}

impl CancelRegistry {
    /// Gives a connection a pid (unique among this node's connections)
    /// and a random secret key of the size its protocol version uses.
    pub fn register(
        self: &Arc<Self>,
        interrupts: Interrupts,
        version: ProtocolVersion,
    ) -> (i32, SecretKey, Registration) {
        let key = match version {
            ProtocolVersion::PROTOCOL3_0 => SecretKey::I32(rand::random()),
            _ => SecretKey::Bytes(bytes::Bytes::from(rand::random::<[u8; 32]>().to_vec())),
        };
        let mut conns = self.conns.lock();
        let pid = loop {
            let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
            if pid <= 0 {
                // Wrapped after two billion connections: start over.
                self.next_pid.store(FIRST_PID, Ordering::Relaxed);
                continue;
            }
            if !conns.contains_key(&pid) {
                break pid;
            }
        };
        conns.insert(pid, (key.clone(), interrupts));
        (
            pid,
            key,
            Registration {
                pid,
                registry: self.clone(),
            },
        )
    }

    /// Cancels what connection `pid` is running if `key` is its secret;
    /// says whether it was.
    pub fn cancel(&self, pid: i32, key: &SecretKey) -> bool {
        let target = {
            let conns = self.conns.lock();
            match conns.get(&pid) {
                Some((secret, interrupts)) if secret_matches(secret, key) => {
                    Some(interrupts.clone())
                }
                _ => None,
            }
        };
        match target {
            Some(interrupts) => {
                interrupts.cancel();
                true
            }
            None => false,
        }
    }

    /// Number of registered connections.
    pub fn len(&self) -> usize {
        self.conns.lock().len()
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Compares secrets without stopping at the first difference.
fn secret_matches(ours: &SecretKey, theirs: &SecretKey) -> bool {
    let (a, b) = (ours.to_bytes(), theirs.to_bytes());
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Answers CancelRequests from the node's registry.
pub struct Canceller {
    registry: Arc<CancelRegistry>,
}

impl Canceller {
    /// A handler over `registry`.
    pub fn new(registry: Arc<CancelRegistry>) -> Canceller {
        Canceller { registry }
    }
}

#[async_trait]
impl CancelHandler for Canceller {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let done = self.registry.cancel(request.pid, &request.secret_key);
        // PostgreSQL answers nothing either way; it only logs.
        tracing::debug!(pid = request.pid, matched = done, "cancel request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_stops_the_running_message_only() {
        let i = Interrupts::default();
        i.begin_message();
        // A cancel between messages is forgotten by the next one.
        i.cancel();
        i.begin_message();
        let r = i.run(Deadline::default(), async { 7 }).await;
        assert_eq!(r, Ok(7));
        let j = i.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            j.cancel();
        });
        let r = i
            .run(Deadline::default(), std::future::pending::<()>())
            .await;
        assert_eq!(r, Err(Reason::Cancel));
    }

    #[tokio::test]
    async fn a_deadline_stops_a_statement() {
        let i = Interrupts::default();
        let r = i
            .run(
                Deadline::after(Duration::from_millis(10)),
                std::future::pending::<()>(),
            )
            .await;
        assert_eq!(r, Err(Reason::Timeout));
    }

    #[tokio::test]
    async fn a_hold_finishes_before_the_interrupt() {
        let i = Interrupts::default();
        let j = i.clone();
        let r = i
            .run(Deadline::default(), async move {
                let _hold = j.hold();
                j.cancel();
                tokio::time::sleep(Duration::from_millis(20)).await;
                "committed"
            })
            .await;
        assert_eq!(r, Ok("committed"));
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(secret_matches(
            &SecretKey::I32(5),
            &SecretKey::Bytes(bytes::Bytes::from_static(&[0, 0, 0, 5]))
        ));
        assert!(!secret_matches(&SecretKey::I32(5), &SecretKey::I32(6)));
    }
}
