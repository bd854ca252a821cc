//! The metrics over HTTP: `GET /metrics` answers with
//! [`Metrics::to_prometheus_text`](super::Metrics::to_prometheus_text),
//! one request per connection, for Prometheus to scrape.
//!
//! Hostile clients are bounded: a request head may take at most
//! [`MAX_HEAD`] bytes and the whole exchange [`EXCHANGE_TIMEOUT`]; at most
//! [`MAX_CONCURRENT`] connections are served at once (more wait in the
//! kernel's backlog). Nothing but `GET` and `HEAD` of `/metrics` is served.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::control::Control;

/// The largest request head read.
pub(super) const MAX_HEAD: usize = 8 * 1024;
/// How long one connection may take, reading and answering.
pub(super) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub(super) const MAX_CONCURRENT: usize = 16;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves until the task is aborted (at the endpoint's shutdown).
pub(super) async fn serve(listener: TcpListener, control: mpsc::UnboundedSender<Control>) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let control = control.clone();
        tokio::spawn(async move {
            let exchange = answer(stream, &control);
            if tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
                .await
                .is_err()
            {
                tracing::debug!("metrics: {remote} took longer than {EXCHANGE_TIMEOUT:?}");
            }
            drop(permit);
        });
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: TcpStream, control: &mpsc::UnboundedSender<Control>) {
    let response = match read_head(&mut stream).await {
        Ok(Request::Metrics { head_only }) => match snapshot(control).await {
            Some(text) => Response::ok(text, head_only),
            None => Response::status(503, "Service Unavailable", "the endpoint has stopped\n"),
        },
        Ok(Request::NotFound) => Response::status(404, "Not Found", "only /metrics is served\n"),
        Ok(Request::BadMethod) => {
            Response::status(405, "Method Not Allowed", "only GET and HEAD\n")
        }
        Err(HeadError::TooLarge) => Response::status(
            431,
            "Request Header Fields Too Large",
            "request head too large\n",
        ),
        Err(HeadError::Malformed) => Response::status(400, "Bad Request", "malformed request\n"),
        Err(HeadError::Closed) => return,
    };
    let _ = stream.write_all(&response.bytes).await;
    let _ = stream.shutdown().await;
}

async fn snapshot(control: &mpsc::UnboundedSender<Control>) -> Option<String> {
    let (reply, wait) = oneshot::channel();
    control.send(Control::Metrics { reply }).ok()?;
    let metrics = wait.await.ok()?;
    Some(metrics.to_prometheus_text())
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Metrics { head_only: bool },
    NotFound,
    BadMethod,
}

#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    TooLarge,
    Malformed,
    Closed,
}

async fn read_head(stream: &mut TcpStream) -> Result<Request, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf) {
            Ok(Some(request)) => return Ok(request),
            Ok(None) if buf.len() >= MAX_HEAD => return Err(HeadError::TooLarge),
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The request in `buf`, `None` while its head is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Request>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(_)) => {
            let path = request.path.unwrap_or("");
            let path = path.split('?').next().unwrap_or(path);
            let head_only = match request.method {
                Some("GET") => false,
                Some("HEAD") => true,
                _ => return Ok(Some(Request::BadMethod)),
            };
            if path == "/metrics" {
                Ok(Some(Request::Metrics { head_only }))
            } else {
                Ok(Some(Request::NotFound))
            }
        }
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(_) => Err(HeadError::Malformed),
    }
}

struct Response {
    bytes: Vec<u8>,
}

impl Response {
    fn ok(body: String, head_only: bool) -> Response {
        let mut bytes = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        if !head_only {
            bytes.extend_from_slice(body.as_bytes());
        }
        Response { bytes }
    }

    fn status(code: u16, reason: &str, body: &str) -> Response {
        let bytes = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        Response { bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart() {
        let get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            parse_head(get),
            Ok(Some(Request::Metrics { head_only: false }))
        );
        let head = b"HEAD /metrics?x=1 HTTP/1.1\r\n\r\n";
        assert_eq!(
            parse_head(head),
            Ok(Some(Request::Metrics { head_only: true }))
        );
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\n\r\n"),
            Ok(Some(Request::NotFound))
        );
        assert_eq!(
            parse_head(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Ok(Some(Request::BadMethod))
        );
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nHost"), Ok(None));
        assert_eq!(
            parse_head(b"\x00\x01garbage\r\n\r\n"),
            Err(HeadError::Malformed)
        );
    }

    #[test]
    fn too_many_headers_is_too_large() {
        let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
        for i in 0..40 {
            head.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&head), Err(HeadError::TooLarge));
    }
}
