//! Blocking adapters between the jobs (which run on blocking threads) and
//! the object store's async API: a `Read` over an object's byte stream, and
//! a writer that feeds a multipart upload a part at a time.
//!
//! Both hold at most one chunk of the object (the upload: a part being
//! filled plus the parts in flight), so memory stays bounded by object size.

use std::io::Read;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::{MultipartUpload, WriteMultipart};
use tokio::runtime::Handle;

/// Size of each uploaded part (S3 wants at least 5 MiB but for the last).
const PART_BYTES: usize = 8 << 20;
/// Parts uploading at once.
const PARTS_IN_FLIGHT: usize = 2;

/// Reads an object's bytes as they arrive.
pub(super) struct ObjectReader {
    handle: Handle,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    chunk: Bytes,
}

impl ObjectReader {
    pub(super) fn new(
        handle: Handle,
        stream: BoxStream<'static, object_store::Result<Bytes>>,
    ) -> ObjectReader {
        ObjectReader {
            handle,
            stream,
            chunk: Bytes::new(),
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => self.chunk = bytes,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

/// A multipart upload written from a blocking thread.
pub(super) struct ObjectWriter {
    handle: Handle,
    upload: WriteMultipart,
}

impl ObjectWriter {
    pub(super) fn new(handle: Handle, upload: Box<dyn MultipartUpload>) -> ObjectWriter {
        ObjectWriter {
            handle,
            upload: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
        }
    }

    /// Append bytes, waiting while too many parts are in flight.
    pub(super) fn write(&mut self, bytes: &[u8]) -> object_store::Result<()> {
        self.handle
            .block_on(self.upload.wait_for_capacity(PARTS_IN_FLIGHT))?;
        self.upload.write(bytes);
        Ok(())
    }

    /// Complete the upload; returns the object's ETag if the store has one.
    pub(super) fn finish(self) -> object_store::Result<Option<String>> {
        let result = self.handle.block_on(self.upload.finish())?;
        Ok(result.e_tag)
    }

    /// Give the upload up (its parts are discarded).
    pub(super) fn abort(self) {
        let _ = self.handle.block_on(self.upload.abort());
    }
}
