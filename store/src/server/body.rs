//! Reading a request's body whole, within the size limit.
//!
//! Almost every body arrives with its request's head and is handed over as
//! one frame holding all of it: that frame is the body, taken as it is (no
//! copy, no buffer list, no further poll to learn that nothing follows).

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

#[derive(Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// More than the limit: declared by the request, or sent.
    TooLarge,
    /// The connection failed while the body was arriving.
    Failed,
}

/// The whole of `body`, if it holds at most `limit` bytes.
pub(super) async fn read(mut body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
    if body.size_hint().lower() > limit as u64 {
        return Err(ReadError::TooLarge);
    }
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    let mut len = 0usize;
    // A body whose declared length has all arrived ends without another
    // poll; a chunked one ends when the stream does.
    while !body.is_end_stream() {
        let Some(frame) = body.frame().await else {
            break;
        };
        // Trailers carry nothing a DynamoDB request uses.
        let Ok(data) = frame.map_err(|_| ReadError::Failed)?.into_data() else {
            continue;
        };
        len += data.len();
        if len > limit {
            return Err(ReadError::TooLarge);
        }
        match &mut joined {
            Some(buf) => buf.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut buf = BytesMut::with_capacity(len);
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&data);
                joined = Some(buf);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}
