//! An import job: every object under a bucket prefix, parsed line by line
//! into items of a new table.
//!
//! Objects are streamed (decompressed on the fly for GZIP and ZSTD), so
//! memory holds one line and one write batch at a time. ION objects are Ion
//! text read a line at a time too: a line holds whole top-level values (the
//! `$ion_1_0` marker, `{Item:{...}}` structs), and a value still open at
//! the end of its line (by brackets, long strings, block comments) is
//! carried over to the next ones, up to the line limit — unless the next
//! line holds whole `{Item:...}` structs by itself, which marks the open
//! one as malformed. Binary Ion objects are read a value at a time. A line
//! (or Ion value) that cannot
//! become an item — unparsable, missing or mistyped key, too large — is
//! counted and logged with its reason and position to the import's error
//! log (the stand-in for DynamoDB's CloudWatch log stream
//! `/aws-dynamodb/imports` `<import id>/error`; see `Jobs::import_error_log`)
//! and skipped; an object that cannot be decompressed counts as one error
//! and the rest of it is skipped, as DynamoDB does. Items sharing a key
//! overwrite each other and are not errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;
use tokio::runtime::Handle;

use super::ion;
use super::jobs::Counters;
use super::lines::{self, CsvShape};
use super::stream::ObjectReader;
use super::TransferError;
use crate::api::transfer_types::{CsvOptions, InputCompressionType, InputFormat};
use crate::engine::{Abort, Engine};
use crate::model::key::Key;
use crate::model::table::TableMeta;
use crate::model::value::Item;

/// Items written per write transaction.
const BATCH_ITEMS: usize = 1000;
/// Longest line read; a longer one is an error (DynamoDB's items are at
/// most 400 KB, so no valid line comes near).
const MAX_LINE_BYTES: usize = 4 << 20;
/// DynamoDB's limit on the objects of one import.
pub const MAX_OBJECTS: usize = 5000;

/// Checks an item against the table as a write would, returning its key or
/// DynamoDB's message.
pub type ItemCheck = Arc<dyn Fn(&TableMeta, &Item) -> Result<Key, String> + Send + Sync>;

/// A prepared import.
pub struct ImportJob {
    pub engine: Arc<Engine>,
    pub bucket_name: String,
    pub prefix: Option<String>,
    pub table_name: String,
    pub import_arn: String,
    pub format: InputFormat,
    pub compression: InputCompressionType,
    pub csv: Option<CsvOptions>,
    pub counters: Arc<Counters>,
    pub error_log: PathBuf,
    pub check: ItemCheck,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pointer<'a> {
    bucket: &'a str,
    key: &'a str,
    item_index: u64,
}

/// One line of the error log, shaped like DynamoDB's CloudWatch events.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorEvent<'a> {
    item_s3_pointer: Pointer<'a>,
    import_arn: &'a str,
    error_messages: [&'a str; 1],
}

struct Run<'a> {
    job: &'a ImportJob,
    bucket: &'a dyn ObjectStore,
    handle: &'a Handle,
    table: Arc<TableMeta>,
    batch: Vec<(Key, Item)>,
    log: Option<std::io::BufWriter<std::fs::File>>,
}

/// Run the import on the current (blocking) thread. Returns the number of
/// rejected lines (the caller reports them as ItemValidationError).
pub fn run(
    job: ImportJob,
    bucket: Arc<dyn ObjectStore>,
    handle: Handle,
) -> Result<u64, TransferError> {
    let _runtime = handle.enter();
    let table = job
        .engine
        .table(&job.table_name)
        .filter(|t| t.importing.as_deref() == Some(job.import_arn.as_str()))
        .ok_or(TransferError::TableGone)?;
    let keys = list(&job, bucket.as_ref(), &handle)?;
    let mut run = Run {
        job: &job,
        bucket: bucket.as_ref(),
        handle: &handle,
        table,
        batch: Vec::with_capacity(BATCH_ITEMS),
        log: None,
    };
    for key in &keys {
        run.object(key)?;
    }
    run.flush()?;
    if let Some(log) = run.log.as_mut() {
        log.flush()?;
    }
    Ok(Counters::get(&job.counters.errors))
}

/// The keys of the objects to import, in order: every object whose key
/// starts with the prefix (a string prefix, as S3KeyPrefix is).
fn list(
    job: &ImportJob,
    bucket: &dyn ObjectStore,
    handle: &Handle,
) -> Result<Vec<String>, TransferError> {
    let prefix = job.prefix.as_deref().unwrap_or("");
    // object_store lists whole path segments: list the prefix's folder
    // and filter by the full prefix.
    let folder =
        match prefix.rfind('/') {
            Some(i) => Some(Path::parse(&prefix[..i]).map_err(|e| {
                TransferError::Invalid(format!("invalid S3KeyPrefix {prefix}: {e}"))
            })?),
            None => None,
        };
    let metas: Vec<object_store::ObjectMeta> =
        handle.block_on(bucket.list(folder.as_ref()).try_collect())?;
    let mut keys: Vec<String> = metas
        .into_iter()
        .map(|m| m.location.to_string())
        .filter(|k| k.starts_with(prefix))
        .collect();
    keys.sort();
    if keys.is_empty() {
        return Err(TransferError::Invalid(format!(
            "No objects were found in bucket {} under the prefix '{prefix}'",
            job.bucket_name
        )));
    }
    if keys.len() > MAX_OBJECTS {
        return Err(TransferError::Invalid(format!(
            "The import source has {} objects; an import takes at most {MAX_OBJECTS}",
            keys.len()
        )));
    }
    Ok(keys)
}

/// Read one line of at most [`MAX_LINE_BYTES`] into `line` (without its
/// newline). Returns false at the end of input; `Err(true)` for a line too
/// long (consumed and dropped), `Err(false)` for a read failure.
fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
) -> Result<bool, (bool, std::io::Error)> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = reader.fill_buf().map_err(|e| (false, e))?;
        if buf.is_empty() {
            return if too_long {
                Err((true, std::io::Error::other("line too long")))
            } else {
                Ok(any)
            };
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            return if too_long {
                Err((true, std::io::Error::other("line too long")))
            } else {
                Ok(true)
            };
        }
    }
}

impl Run<'_> {
    fn object(&mut self, key: &str) -> Result<(), TransferError> {
        let path = Path::parse(key)
            .map_err(|e| TransferError::Invalid(format!("invalid object key {key}: {e}")))?;
        let stream = self.handle.block_on(self.bucket.get(&path))?.into_stream();
        let raw = ObjectReader::new(self.handle.clone(), stream);
        let counters = self.job.counters.clone();
        // Count source bytes as they are read (ProcessedSizeBytes).
        let counted = Counted {
            inner: raw,
            counters,
        };
        let decoded: Box<dyn Read> = match self.job.compression {
            InputCompressionType::None => Box::new(counted),
            InputCompressionType::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            InputCompressionType::Zstd => match zstd::stream::read::Decoder::new(counted) {
                Ok(d) => Box::new(d),
                Err(e) => {
                    self.reject(key, 0, &format!("Unable to decompress the object: {e}"))?;
                    return Ok(());
                }
            },
        };
        let mut reader = BufReader::with_capacity(256 << 10, decoded);
        let mut csv = match self.job.format {
            InputFormat::Csv => Some(self.csv_shape()),
            _ => None,
        };
        if self.job.format == InputFormat::Ion && reader.fill_buf().is_ok_and(ion::is_binary) {
            return self.binary_ion(key, reader);
        }
        let mut line = Vec::with_capacity(4096);
        let mut index: u64 = 0;
        let mut pending = PendingIon::default();
        loop {
            match read_line(&mut reader, &mut line) {
                Ok(false) => break,
                Ok(true) => {}
                Err((true, _)) => {
                    self.job.counters.items.fetch_add(1, Ordering::Relaxed);
                    self.reject(key, index, "The item is larger than the maximum line size")?;
                    index += 1;
                    continue;
                }
                Err((false, e)) => {
                    self.reject(
                        key,
                        index,
                        &format!("Unable to read the object; the rest of it was skipped: {e}"),
                    )?;
                    break;
                }
            }
            let this = index;
            index += 1;
            let text = match std::str::from_utf8(&line) {
                Ok(t) => t,
                Err(_) => {
                    self.job.counters.items.fetch_add(1, Ordering::Relaxed);
                    self.reject(key, this, "The line is not valid UTF-8")?;
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            if self.job.format == InputFormat::Ion {
                self.ion_line(key, this, text, &mut pending)?;
                continue;
            }
            let parsed = match csv.as_mut() {
                Some(shape) if shape.header.is_none() => {
                    match lines::split_csv(text, shape.delimiter) {
                        Ok(h) => shape.header = Some(h),
                        Err(e) => {
                            return Err(TransferError::Invalid(format!(
                                "The CSV header of {key} cannot be read: {e}"
                            )))
                        }
                    }
                    continue;
                }
                Some(shape) => shape.item(text),
                None => lines::parse_item_line(text),
            };
            self.take(key, this, parsed)?;
        }
        if !pending.text.is_empty() {
            self.job.counters.items.fetch_add(1, Ordering::Relaxed);
            self.reject(key, pending.index, "The object ends inside an Ion value")?;
        }
        Ok(())
    }

    /// A binary Ion object, value by value; a value that cannot be read
    /// ends it (counted as one error, the rest of the object skipped).
    fn binary_ion(
        &mut self,
        key: &str,
        reader: BufReader<Box<dyn Read>>,
    ) -> Result<(), TransferError> {
        let items = match ion::binary_items(reader) {
            Ok(items) => items,
            Err(e) => {
                self.job.counters.items.fetch_add(1, Ordering::Relaxed);
                return self.reject(key, 0, &format!("Unable to read the Ion object: {e}"));
            }
        };
        for (index, item) in (0u64..).zip(items) {
            match item {
                Ok(parsed) => self.take(key, index, parsed)?,
                Err(e) => {
                    self.job.counters.items.fetch_add(1, Ordering::Relaxed);
                    return self.reject(
                        key,
                        index,
                        &format!(
                            "Unable to read the Ion value; the rest of the object was skipped: {e}"
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// One line of Ion text: its values, or the start or rest of a value
    /// that runs over several lines (see `ion::Depth`).
    fn ion_line(
        &mut self,
        key: &str,
        index: u64,
        text: &str,
        pending: &mut PendingIon,
    ) -> Result<(), TransferError> {
        if !pending.text.is_empty() {
            if let Some(values) = ion::items_alone(text) {
                self.job.counters.items.fetch_add(1, Ordering::Relaxed);
                self.reject(key, pending.index, "An Ion value is not closed")?;
                *pending = PendingIon::default();
                for parsed in values {
                    self.take(key, index, parsed)?;
                }
                return Ok(());
            }
            pending.text.push('\n');
        } else {
            pending.index = index;
        }
        pending.text.push_str(text);
        pending.depth.feed(text);
        if pending.text.len() > MAX_LINE_BYTES {
            self.job.counters.items.fetch_add(1, Ordering::Relaxed);
            self.reject(
                key,
                pending.index,
                "The item is larger than the maximum line size",
            )?;
            *pending = PendingIon::default();
            return Ok(());
        }
        if pending.depth.inside_value() {
            return Ok(());
        }
        let start = pending.index;
        let parsed = ion::parse_values(&pending.text);
        *pending = PendingIon::default();
        match parsed {
            Ok(values) => {
                for parsed in values {
                    self.take(key, start, parsed)?;
                }
                Ok(())
            }
            Err(message) => {
                self.job.counters.items.fetch_add(1, Ordering::Relaxed);
                self.reject(key, start, &message)
            }
        }
    }

    /// Count one parsed item and add it to the batch, or reject it.
    fn take(
        &mut self,
        key: &str,
        index: u64,
        parsed: Result<Item, String>,
    ) -> Result<(), TransferError> {
        self.job.counters.items.fetch_add(1, Ordering::Relaxed);
        let checked = parsed.and_then(|item| {
            let key = (self.job.check)(&self.table, &item)?;
            Ok((key, item))
        });
        match checked {
            Ok(entry) => {
                self.batch.push(entry);
                if self.batch.len() >= BATCH_ITEMS {
                    self.flush()?;
                }
                Ok(())
            }
            Err(message) => self.reject(key, index, &message),
        }
    }

    fn csv_shape(&self) -> CsvShape {
        let options = self.job.csv.clone().unwrap_or_default();
        let delimiter = options
            .delimiter
            .as_deref()
            .and_then(|d| d.chars().next())
            .unwrap_or(',');
        let mut key_types = std::collections::HashMap::new();
        let t = &self.table;
        for attr in t
            .key
            .attributes()
            .chain(t.global_indexes.iter().flat_map(|i| i.key.attributes()))
            .chain(t.local_indexes.iter().flat_map(|i| i.key.attributes()))
        {
            key_types.insert(attr.name.clone(), attr.scalar);
        }
        CsvShape {
            delimiter,
            header: options.header_list,
            key_types,
        }
    }

    fn reject(&mut self, key: &str, index: u64, message: &str) -> Result<(), TransferError> {
        self.job.counters.errors.fetch_add(1, Ordering::Relaxed);
        if self.log.is_none() {
            if let Some(dir) = self.job.error_log.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = std::fs::File::options()
                .create(true)
                .append(true)
                .open(&self.job.error_log)?;
            self.log = Some(std::io::BufWriter::new(file));
        }
        if let Some(log) = self.log.as_mut() {
            let event = ErrorEvent {
                item_s3_pointer: Pointer {
                    bucket: &self.job.bucket_name,
                    key,
                    item_index: index,
                },
                import_arn: &self.job.import_arn,
                error_messages: [message],
            };
            serde_json::to_writer(&mut *log, &event).map_err(std::io::Error::other)?;
            log.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Write the batch in one transaction.
    fn flush(&mut self) -> Result<(), TransferError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = Arc::new(std::mem::take(&mut self.batch));
        let name = self.job.table_name.clone();
        let arn = self.job.import_arn.clone();
        let job_batch = batch.clone();
        let written = self.handle.block_on(self.job.engine.write(move |ctx| {
            let table = ctx
                .table(&name)
                .filter(|t| t.importing.as_deref() == Some(arn.as_str()))
                .ok_or(Abort::Op(()))?;
            for (key, item) in job_batch.iter() {
                let old = ctx.get_item(&table, key)?;
                ctx.put_item(&table, key, item, old.as_ref())?;
            }
            Ok(())
        }));
        match written {
            Ok(()) => {
                self.job
                    .counters
                    .imported
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(Abort::Op(())) => Err(TransferError::TableGone),
            Err(Abort::Engine(e)) => Err(e.into()),
        }
    }
}

/// Ion text of a value that began on an earlier line: the text so far, the
/// line it began on, and how deep it is open.
#[derive(Default)]
struct PendingIon {
    text: String,
    index: u64,
    depth: ion::Depth,
}

/// Counts the source bytes read into ProcessedSizeBytes.
struct Counted {
    inner: ObjectReader,
    counters: Arc<Counters>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_whole_and_overlong_ones_rejected() {
        let text = format!("a\n\nbc\n{}\nd", "x".repeat(MAX_LINE_BYTES + 1));
        let mut r = BufReader::with_capacity(16, text.as_bytes());
        let mut line = Vec::new();
        assert!(matches!(read_line(&mut r, &mut line), Ok(true)));
        assert_eq!(line, b"a");
        assert!(matches!(read_line(&mut r, &mut line), Ok(true)));
        assert_eq!(line, b"");
        assert!(matches!(read_line(&mut r, &mut line), Ok(true)));
        assert_eq!(line, b"bc");
        assert!(matches!(read_line(&mut r, &mut line), Err((true, _))));
        assert!(matches!(read_line(&mut r, &mut line), Ok(true)));
        assert_eq!(line, b"d");
        assert!(matches!(read_line(&mut r, &mut line), Ok(false)));
    }
}
