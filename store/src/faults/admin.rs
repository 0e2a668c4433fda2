//! The fault registry's HTTP routes, for any admin endpoint to mount
//! (authentication is the endpoint's job):
//!
//! * `GET /faults` — `{"Faults": [{"Id": 1, ...the spec..., "Injected": 3}]}`
//! * `POST /faults` with a [`FaultSpec`] as JSON — `{"Id": 1}`; 400 with
//!   `{"Message": ...}` when the spec is not valid
//! * `DELETE /faults` — removes every fault; `DELETE /faults/<id>` — that one
//!   (404 if there is none)

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;

use super::{FaultInfo, FaultSpec, Faults};

/// Largest fault spec accepted.
const MAX_BODY: usize = 64 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FaultList {
    faults: Vec<FaultInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Added {
    id: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Failure {
    message: String,
}

/// Whether `path` is one of these routes.
pub fn owns(path: &str) -> bool {
    path == "/faults" || path.starts_with("/faults/")
}

/// Answer a request to one of these routes (see [`owns`]).
pub async fn handle<B>(faults: &Faults, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().to_owned();
    let id = path.strip_prefix("/faults/");
    match (req.method().clone(), id) {
        (Method::GET, None) => json(
            StatusCode::OK,
            &FaultList {
                faults: faults.list(),
            },
        ),
        (Method::POST, None) => {
            let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return failure(StatusCode::BAD_REQUEST, "unreadable or too large body"),
            };
            let spec: FaultSpec = match serde_json::from_slice(&body) {
                Ok(s) => s,
                Err(e) => return failure(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            match faults.add(spec) {
                Ok(id) => json(StatusCode::OK, &Added { id }),
                Err(e) => failure(StatusCode::BAD_REQUEST, &e),
            }
        }
        (Method::DELETE, None) => {
            faults.clear();
            json(StatusCode::OK, &FaultList { faults: Vec::new() })
        }
        (Method::DELETE, Some(id)) => match id.parse::<u64>() {
            Ok(id) if faults.remove(id) => json(
                StatusCode::OK,
                &FaultList {
                    faults: faults.list(),
                },
            ),
            _ => failure(StatusCode::NOT_FOUND, &format!("no fault {id}")),
        },
        _ => failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "use GET or POST /faults, DELETE /faults or /faults/<id>",
        ),
    }
}

fn failure(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(
        status,
        &Failure {
            message: message.to_owned(),
        },
    )
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
