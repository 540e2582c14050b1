//! Standard output for the CLI's results. `println!` panics when the reader has gone
//! (`ferrofs admin status --json | head`); these end the process quietly instead, with
//! the status a shell gives a process killed by SIGPIPE (128 + 13). SIGPIPE itself
//! stays ignored: a broken connection to a master must stay an error the client can
//! retry elsewhere, not the end of the process.

use std::fmt;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

/// Exit status of a process whose output pipe closed.
const BROKEN_PIPE_STATUS: i32 = 141;

pub fn write(args: fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let r = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")?;
        }
        Ok(())
    });
    if let Err(e) = r {
        failed(e)
    }
}

fn failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(BROKEN_PIPE_STATUS)
    }
    eprintln!("ferrofs: writing to standard output: {e}");
    std::process::exit(1)
}

/// Standard output as an async sink (`cat`, `get -`, `tail`), ending the process
/// quietly when it is a closed pipe.
pub struct AsyncStdout(tokio::io::Stdout);

pub fn async_stdout() -> AsyncStdout {
    AsyncStdout(tokio::io::stdout())
}

fn check<T>(p: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
    match p {
        Poll::Ready(Err(e)) => failed(e),
        p => p,
    }
}

impl AsyncWrite for AsyncStdout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        check(Pin::new(&mut self.0).poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        check(Pin::new(&mut self.0).poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        check(Pin::new(&mut self.0).poll_shutdown(cx))
    }
}

/// `println!` that ends the process quietly when standard output is a closed pipe.
macro_rules! outln {
    () => {
        $crate::out::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*), true)
    };
}
