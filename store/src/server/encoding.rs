//! Content encodings: gzip and deflate request bodies are undone (the body
//! limit applies to the decompressed size), and responses over a threshold
//! are compressed when the client's `Accept-Encoding` asks for it, read as
//! DynamoDB reads it.

use std::io::Read;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::{json_response, MAX_BODY_BYTES};

/// Responses larger than this are compressed when the client accepts it.
pub const COMPRESSION_THRESHOLD: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Gzip,
    Deflate,
}

/// The response encoding the client accepts, as DynamoDB reads it:
/// * only the first `Accept-Encoding` header counts;
/// * each coding's weight is the first `q=` in its parameters (clamped to
///   0..=1; an unreadable number counts as 1, none as 1), and weight 0
///   refuses it;
/// * `*` stands for every coding not listed by name; `identity` and codings
///   other than gzip and deflate are ignored;
/// * the highest weight wins, then a coding named over one matched by `*`,
///   then the earlier entry (gzip before deflate for `*`).
pub(super) fn response_encoding(headers: &http::HeaderMap) -> Option<Encoding> {
    let value = headers.get(header::ACCEPT_ENCODING)?.to_str().ok()?;
    // (weight, named explicitly, position) per coding; the best entry wins.
    let mut named: [Option<(f32, usize)>; 2] = [None, None];
    let mut wildcard: Option<(f32, usize)> = None;
    for (position, entry) in value.split(',').enumerate() {
        let (name, params) = entry.split_once(';').unwrap_or((entry, ""));
        let weight = params.find("q=").map_or(1.0, |at| {
            let v = params[at + 2..]
                .split(';')
                .next()
                .unwrap_or_default()
                .trim();
            v.parse::<f32>()
                .map_or(1.0, |q| if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) })
        });
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "gzip" => &mut named[0],
            "deflate" => &mut named[1],
            "*" => &mut wildcard,
            _ => continue,
        };
        // Several entries for one coding: the highest weight, then the first.
        if slot.is_none_or(|(w, _)| weight > w) {
            *slot = Some((weight, position));
        }
    }
    let candidate = |i: usize| -> Option<(f32, bool, usize)> {
        match (named[i], wildcard) {
            (Some((w, p)), _) => Some((w, true, p)),
            (None, Some((w, p))) => Some((w, false, p)),
            (None, None) => None,
        }
    };
    let better = |a: (f32, bool, usize), b: (f32, bool, usize)| {
        a.0 > b.0 || (a.0 == b.0 && (a.1 && !b.1 || (a.1 == b.1 && a.2 <= b.2)))
    };
    let pick = match (candidate(0), candidate(1)) {
        (Some(g), Some(d)) => {
            if better(g, d) {
                (Encoding::Gzip, g.0)
            } else {
                (Encoding::Deflate, d.0)
            }
        }
        (Some(g), None) => (Encoding::Gzip, g.0),
        (None, Some(d)) => (Encoding::Deflate, d.0),
        (None, None) => return None,
    };
    (pick.1 > 0.0).then_some(pick.0)
}

pub(super) fn compressed_response(
    status: StatusCode,
    body: &[u8],
    encoding: Encoding,
    request_id: HeaderValue,
) -> Response<Full<Bytes>> {
    use std::io::Write;
    let compressed = match encoding {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            e.write_all(body).and_then(|()| e.finish())
        }
        Encoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            e.write_all(body).and_then(|()| e.finish())
        }
    };
    match compressed {
        Ok(bytes) => {
            let mut resp = json_response(status, bytes, request_id);
            let name = match encoding {
                Encoding::Gzip => "gzip",
                Encoding::Deflate => "deflate",
            };
            resp.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
            resp
        }
        Err(_) => json_response(status, Bytes::copy_from_slice(body), request_id),
    }
}

pub(super) enum BodyError {
    TooLarge,
    Encoding(String),
}

/// Undo `Content-Encoding` (gzip, possibly several members, or deflate),
/// enforcing the body limit on the decompressed size.
pub(super) fn decode_content(encoding: Option<&str>, body: Bytes) -> Result<Bytes, BodyError> {
    let read_all = |mut r: Box<dyn Read>| -> Result<Bytes, BodyError> {
        let mut out = Vec::new();
        let n = r
            .by_ref()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                BodyError::Encoding(format!("Failed to decompress the request body: {e}"))
            })?;
        if n > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        Ok(Bytes::from(out))
    };
    match encoding {
        None | Some("") | Some("identity") => Ok(body),
        Some("gzip") | Some("x-gzip") => {
            if body.is_empty() {
                return Err(BodyError::Encoding("Empty gzip request body".into()));
            }
            read_all(Box::new(flate2::read::MultiGzDecoder::new(
                std::io::Cursor::new(body),
            )))
        }
        Some("deflate") => {
            if body.is_empty() {
                return Err(BodyError::Encoding("Empty deflate request body".into()));
            }
            read_all(Box::new(flate2::read::ZlibDecoder::new(
                std::io::Cursor::new(body),
            )))
        }
        Some(other) => Err(BodyError::Encoding(format!(
            "Unsupported Content-Encoding: {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(value: &str) -> Option<Encoding> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("header value"),
        );
        response_encoding(&headers)
    }

    #[test]
    fn accept_encoding_is_read_as_dynamodb_reads_it() {
        use Encoding::{Deflate, Gzip};
        let cases: &[(&str, Option<Encoding>)] = &[
            ("gzip", Some(Gzip)),
            ("DEFLATE", Some(Deflate)),
            ("identity", None),
            ("", None),
            ("br, zstd", None),
            // Equal weights: the earlier entry.
            ("deflate, gzip", Some(Deflate)),
            ("gzip, deflate", Some(Gzip)),
            // Weights decide first.
            ("gzip;q=0.3, deflate;q=0.7", Some(Deflate)),
            ("gzip;q=0", None),
            ("gzip;q=0.001", Some(Gzip)),
            // Out-of-range weights are clamped, unreadable ones count as 1.
            ("deflate;q=0.9, gzip;q=7", Some(Gzip)),
            ("deflate;q=-1, gzip;q=0.1", Some(Gzip)),
            ("deflate;q=0.9, gzip;q=zero", Some(Gzip)),
            // Only the first q= counts, wherever it appears.
            ("gzip;q=1;q=0", Some(Gzip)),
            ("gzip;xq=0;q=1", None),
            // The wildcard covers codings not named; named ones win ties.
            ("*", Some(Gzip)),
            ("*, deflate", Some(Deflate)),
            ("*, gzip;q=0.2", Some(Deflate)),
            ("*;q=0", None),
            ("*;q=0.4, identity", Some(Gzip)),
            // Malformed names match nothing.
            ("\"gzip\"", None),
            ("gzip deflate", None),
            // Repeated coding: its best entry.
            ("gzip;q=0, gzip;q=0.5", Some(Gzip)),
        ];
        for (value, expected) in cases {
            assert_eq!(pick(value), *expected, "Accept-Encoding: {value}");
        }
    }
}
