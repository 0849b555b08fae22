//! The exporter's HTTP side: `GET /metrics` asks the exporter loop for the metrics and answers
//! with them; `/` says where they are; anything else is 404. Nothing here reads the model.

use super::{SCRAPE_TIMEOUT, ScrapeRequest};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// The content type of the text prometheus-client writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A client that sends no complete request header within this time is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the task is aborted; each is served on its own task.
pub(super) async fn serve(listener: TcpListener, scrapes: mpsc::Sender<ScrapeRequest>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait, then go on serving.
                tracing::warn!("accepting a metrics connection failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let scrapes = scrapes.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| respond(request, scrapes.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(
    request: Request<Incoming>,
    scrapes: mpsc::Sender<ScrapeRequest>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Ok(value) = content_type.parse() {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    let text = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            text,
            "only GET\n".into(),
        ));
    }
    Ok(match request.uri().path() {
        "/metrics" => match scrape(&scrapes).await {
            Some(metrics) => reply(StatusCode::OK, OPENMETRICS, metrics),
            None => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                text,
                "the exporter's loop did not answer\n".into(),
            ),
        },
        "/" => reply(
            StatusCode::OK,
            text,
            "qemu-dash exporter: the metrics are at /metrics\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            text,
            "not found; try /metrics\n".into(),
        ),
    })
}

/// Asks the exporter loop for the metrics.
async fn scrape(scrapes: &mpsc::Sender<ScrapeRequest>) -> Option<String> {
    let (reply, answer) = oneshot::channel();
    tokio::time::timeout(SCRAPE_TIMEOUT, async {
        scrapes.send(reply).await.ok()?;
        answer.await.ok()
    })
    .await
    .ok()
    .flatten()
}
