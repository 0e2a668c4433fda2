//! A connection's idle deadline ([`super::Limits::header_timeout`]): a
//! connection that is handling no request and has neither finished an
//! answer nor written anything for the header timeout is closed. That
//! bounds the time a client may take to send a request's head (a slowloris
//! client dribbling a byte every few seconds completes no head) and the
//! time a keep-alive connection stays idle, as hyper's header-read timer
//! does, without arming and dropping a timer for every request: each
//! connection has one timer, which it moves only when it fires.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one connection has done lately.
pub(super) struct Activity {
    opened: Instant,
    /// Requests being handled (HTTP/1.1 handles one at a time).
    in_progress: AtomicU32,
    /// When an answer was last finished or bytes last written, in
    /// milliseconds since `opened`.
    last: AtomicU64,
}

impl Activity {
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_progress: AtomicU32::new(0),
            last: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    /// Marks a request in progress until the guard is dropped.
    pub(super) fn busy(self: &Arc<Self>) -> Busy {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// When the connection's timer fires: the next time to look again, or
    /// `None` if the connection has been idle for `timeout` and is to be
    /// closed.
    pub(super) fn next_check(&self, timeout: Duration) -> Option<tokio::time::Instant> {
        let now = Instant::now();
        if self.in_progress.load(Ordering::Relaxed) > 0 {
            return Some((now + timeout).into());
        }
        let last = self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed));
        let deadline = last + timeout;
        (deadline > now).then(|| deadline.into())
    }
}

/// A request in progress on its connection (see [`Activity::busy`]).
pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's stream, noting each write that makes progress: a client
/// reading a long answer slowly is not idle.
pub(super) struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> Watched<S> {
        Watched { inner, activity }
    }

    fn progress(&self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.activity.touch();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_idle_only_with_no_request_in_progress_for_the_timeout() {
        let activity = Activity::new();
        let timeout = Duration::from_millis(50);
        assert!(activity.next_check(timeout).is_some(), "just opened");
        let busy = activity.busy();
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            activity.next_check(timeout).is_some(),
            "a request in progress, however long"
        );
        drop(busy);
        assert!(activity.next_check(timeout).is_some(), "just answered");
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(activity.next_check(timeout), None, "idle for the timeout");
    }
}
