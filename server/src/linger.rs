//! Lingering close. A socket closed while bytes it never read sit in its receive buffer makes
//! the kernel answer with a reset, and a peer that has not yet read our last frame loses it:
//! a client whose oversized message we refuse would see a reset instead of close code 1009.
//! So, like nginx's `lingering_close`, a connection's stream, when dropped, reads and discards
//! what is still arriving — for a bounded time and amount — before it really closes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Longest a closed connection is drained.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// Most bytes drained from a closed connection.
const LINGER_BYTES: usize = 1 << 20;

/// A TCP stream that drains its peer's remaining bytes when dropped.
pub struct Lingering {
    inner: Option<TcpStream>,
}

impl Lingering {
    pub fn new(stream: TcpStream) -> Self {
        Self { inner: Some(stream) }
    }

    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.inner.as_mut().map(Pin::new).ok_or_else(|| io::ErrorKind::NotConnected.into())
    }
}

impl AsyncRead for Lingering {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    // Forwarded so a WebSocket's burst of frames stays one `writev`: the default would
    // write only the first slice per call.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|stream| stream.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let (Some(stream), Ok(runtime)) = (self.inner.take(), tokio::runtime::Handle::try_current()) else { return };
        runtime.spawn(drain(stream));
    }
}

/// Says we are done (FIN), then reads until the peer closes, the time or byte budget runs
/// out, or the socket fails; then the stream closes with nothing unread.
async fn drain(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while drained < LINGER_BYTES {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}
