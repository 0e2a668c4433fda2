//! An export job: the table (or its changes over a window) written to a
//! bucket in DynamoDB's export layout.
//!
//! ```text
//! <prefix>/AWSDynamoDB/<export id>/_started
//! <prefix>/AWSDynamoDB/<export id>/data/<random>.json.gz     (one or more;
//!                                                  .ion.gz for ION)
//! <prefix>/AWSDynamoDB/<export id>/manifest-files.json       (+ .checksum)
//! <prefix>/AWSDynamoDB/<export id>/manifest-summary.json     (+ .checksum)
//! ```
//!
//! A full export reads the table as of its export time from one LMDB read
//! transaction — one consistent snapshot, while writes go on: the current
//! items with later changes undone from the change log — and streams
//! gzip-compressed
//! `{"Item":{...}}` lines (DYNAMODB_JSON) or `{Item:{...}}` Ion text after
//! the `$ion_1_0` marker (ION, see `transfer::ion`) into multipart uploads.
//! An incremental export reads the change log over the window and writes
//! one line per changed item with its keys, its image before the window
//! and after it. The manifests are written last; an export without them is
//! not finished.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::Engine as _;
use flate2::write::GzEncoder;
use md5::{Digest, Md5};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;
use tokio::runtime::Handle;

use super::ion;
use super::jobs::Counters;
use super::lines::{self, ChangeLine, ChangeMetadata, NumberValue};
use super::stream::ObjectWriter;
use super::TransferError;
use crate::api::transfer_types::{ExportDescription, ExportFormat, ExportType, ExportViewType};
use crate::engine::Engine;
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

/// Items per data file before the next one starts (DynamoDB writes several
/// files per table; readers take every file the manifest lists).
const ITEMS_PER_FILE: u64 = 1_000_000;
/// Compressed bytes gathered before they are handed to the upload.
const FLUSH_BYTES: usize = 1 << 20;
/// Change records read per read transaction (incremental exports).
const CHANGES_PER_READ: usize = 10_000;

/// What to export.
#[derive(Debug, Clone, Copy)]
pub enum ExportKind {
    /// The table as of `time_ms`.
    Full { time_ms: u64 },
    /// Changes committed in `from_ms..to_ms`.
    Incremental {
        from_ms: u64,
        to_ms: u64,
        view: ExportViewType,
    },
}

/// A prepared export.
pub struct ExportJob {
    pub engine: Arc<Engine>,
    pub table: Arc<TableMeta>,
    pub description: ExportDescription,
    pub kind: ExportKind,
    pub counters: Arc<Counters>,
}

/// What a finished export reports.
#[derive(Debug)]
pub struct ExportDone {
    pub item_count: u64,
    pub billed_size_bytes: u64,
    pub manifest_key: String,
}

/// The folder of an export: `[prefix/]AWSDynamoDB/<id>`.
pub fn export_base(prefix: Option<&str>, id: &str) -> String {
    match prefix.map(|p| p.trim_end_matches('/')) {
        Some(p) if !p.is_empty() => format!("{p}/AWSDynamoDB/{id}"),
        _ => format!("AWSDynamoDB/{id}"),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileEntry {
    item_count: u64,
    md5_checksum: String,
    etag: String,
    data_file_s3_key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    version: &'static str,
    export_arn: &'a str,
    start_time: String,
    end_time: String,
    table_arn: &'a str,
    table_id: &'a str,
    export_time: String,
    s3_bucket: &'a str,
    s3_prefix: Option<&'a str>,
    s3_sse_algorithm: &'static str,
    s3_sse_kms_key_id: Option<&'a str>,
    manifest_files_s3_key: String,
    billed_size_bytes: u64,
    item_count: u64,
    output_format: &'static str,
    export_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    export_from_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export_to_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export_view_type: Option<&'static str>,
}

/// One data file being written.
struct DataFile {
    key: String,
    writer: ObjectWriter,
    gz: GzEncoder<Vec<u8>>,
    md5: Md5,
    items: u64,
}

impl DataFile {
    fn open(
        handle: &Handle,
        bucket: &dyn ObjectStore,
        base: &str,
        format: ExportFormat,
    ) -> Result<DataFile, TransferError> {
        let extension = match format {
            ExportFormat::DynamodbJson => "json",
            ExportFormat::Ion => "ion",
        };
        let key = format!("{base}/data/{}.{extension}.gz", random_name());
        let upload =
            handle.block_on(bucket.put_multipart(&Path::parse(&key).map_err(|e| {
                TransferError::Invalid(format!("invalid object key {key}: {e}"))
            })?))?;
        let mut gz = GzEncoder::new(
            Vec::with_capacity(FLUSH_BYTES * 2),
            flate2::Compression::fast(),
        );
        if format == ExportFormat::Ion {
            gz.write_all(ion::VERSION_MARKER)?;
        }
        Ok(DataFile {
            key,
            writer: ObjectWriter::new(handle.clone(), upload),
            gz,
            md5: Md5::new(),
            items: 0,
        })
    }

    fn line(&mut self, line: &[u8]) -> Result<(), TransferError> {
        self.gz.write_all(line)?;
        self.items += 1;
        if self.gz.get_ref().len() >= FLUSH_BYTES {
            let chunk = std::mem::take(self.gz.get_mut());
            self.md5.update(&chunk);
            self.writer.write(&chunk)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<FileEntry, TransferError> {
        let DataFile {
            key,
            mut writer,
            gz,
            mut md5,
            items,
        } = self;
        let rest = gz.finish()?;
        md5.update(&rest);
        writer.write(&rest)?;
        let etag = writer.finish()?.unwrap_or_default();
        Ok(FileEntry {
            item_count: items,
            md5_checksum: base64::engine::general_purpose::STANDARD.encode(md5.finalize()),
            etag: etag.trim_matches('"').to_owned(),
            data_file_s3_key: key,
        })
    }

    fn abort(self) {
        self.writer.abort();
    }
}

/// Writes lines into data files, starting a new file every
/// [`ITEMS_PER_FILE`] items.
struct DataFiles<'a> {
    handle: &'a Handle,
    bucket: &'a dyn ObjectStore,
    base: &'a str,
    format: ExportFormat,
    current: Option<DataFile>,
    done: Vec<FileEntry>,
}

impl DataFiles<'_> {
    fn line(&mut self, line: &[u8]) -> Result<(), TransferError> {
        if self.current.is_none() {
            self.current = Some(DataFile::open(
                self.handle,
                self.bucket,
                self.base,
                self.format,
            )?);
        }
        let Some(file) = self.current.as_mut() else {
            return Ok(());
        };
        file.line(line)?;
        if file.items >= ITEMS_PER_FILE {
            self.close()?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), TransferError> {
        if let Some(file) = self.current.take() {
            self.done.push(file.finish()?);
        }
        Ok(())
    }

    fn abort(&mut self) {
        if let Some(file) = self.current.take() {
            file.abort();
        }
    }
}

/// 26 lowercase base32 characters, like DynamoDB's data file names.
fn random_name() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes = uuid::Uuid::new_v4().as_u128();
    (0..26)
        .map(|i| ALPHABET[((bytes >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Run the export on the current (blocking) thread.
pub fn run(
    job: ExportJob,
    bucket: Arc<dyn ObjectStore>,
    handle: Handle,
) -> Result<ExportDone, TransferError> {
    let _runtime = handle.enter();
    let d = &job.description;
    let id = d
        .export_arn
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let base = export_base(d.s3_prefix.as_deref(), &id);
    let put = |key: String, bytes: Vec<u8>| -> Result<(), TransferError> {
        let path = Path::parse(&key)
            .map_err(|e| TransferError::Invalid(format!("invalid object key {key}: {e}")))?;
        handle.block_on(bucket.put(&path, PutPayload::from(bytes)))?;
        Ok(())
    };
    put(format!("{base}/_started"), Vec::new())?;
    let mut files = DataFiles {
        handle: &handle,
        bucket: bucket.as_ref(),
        base: &base,
        format: d.export_format,
        current: None,
        done: Vec::new(),
    };
    let written = match job.kind {
        ExportKind::Full { time_ms } => full(&job, &mut files, time_ms),
        ExportKind::Incremental {
            from_ms,
            to_ms,
            view,
        } => incremental(&job, &mut files, from_ms, to_ms, view),
    }
    .and_then(|()| files.close());
    if let Err(e) = written {
        files.abort();
        return Err(e);
    }
    let item_count = Counters::get(&job.counters.items);
    let billed_size_bytes = Counters::get(&job.counters.bytes);

    let mut manifest = Vec::new();
    for f in &files.done {
        serde_json::to_writer(&mut manifest, f).map_err(std::io::Error::other)?;
        manifest.push(b'\n');
    }
    let files_key = format!("{base}/manifest-files.json");
    put(
        format!("{base}/manifest-files.checksum"),
        md5_hex(&manifest),
    )?;
    put(files_key.clone(), manifest)?;

    let incremental = match job.kind {
        ExportKind::Incremental {
            from_ms,
            to_ms,
            view,
        } => Some((from_ms, to_ms, view)),
        ExportKind::Full { .. } => None,
    };
    let summary = Summary {
        version: if incremental.is_some() {
            "2023-08-01"
        } else {
            "2020-06-30"
        },
        export_arn: &d.export_arn,
        start_time: super::iso_time((d.start_time * 1000.0) as u64),
        end_time: super::iso_time(super::now_ms()),
        table_arn: &d.table_arn,
        table_id: &d.table_id,
        export_time: super::iso_time((d.export_time * 1000.0) as u64),
        s3_bucket: &d.s3_bucket,
        s3_prefix: d.s3_prefix.as_deref(),
        s3_sse_algorithm: d.s3_sse_algorithm.as_str(),
        s3_sse_kms_key_id: d.s3_sse_kms_key_id.as_deref(),
        manifest_files_s3_key: files_key,
        billed_size_bytes,
        item_count,
        output_format: d.export_format.as_str(),
        export_type: if incremental.is_some() {
            ExportType::IncrementalExport.as_str()
        } else {
            ExportType::FullExport.as_str()
        },
        export_from_time: incremental.map(|(f, _, _)| super::iso_time(f)),
        export_to_time: incremental.map(|(_, t, _)| super::iso_time(t)),
        export_view_type: incremental.map(|(_, _, v)| v.as_str()),
    };
    let summary = serde_json::to_vec(&summary).map_err(std::io::Error::other)?;
    let manifest_key = format!("{base}/manifest-summary.json");
    put(
        format!("{base}/manifest-summary.checksum"),
        md5_hex(&summary),
    )?;
    put(manifest_key.clone(), summary)?;
    Ok(ExportDone {
        item_count,
        billed_size_bytes,
        manifest_key,
    })
}

fn md5_hex(bytes: &[u8]) -> Vec<u8> {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into_bytes()
}

/// Every item of the table as of `time_ms`, from one read transaction.
fn full(job: &ExportJob, files: &mut DataFiles<'_>, time_ms: u64) -> Result<(), TransferError> {
    let mut failure = None;
    let mut line = Vec::with_capacity(1024);
    job.engine.read(|view| {
        view.items_as_of(&job.table, time_ms, |item| {
            line.clear();
            let encoded = match job.description.export_format {
                ExportFormat::DynamodbJson => {
                    lines::item_line(&item, &mut line).map_err(std::io::Error::other)
                }
                ExportFormat::Ion => ion::item_line(&item, &mut line),
            };
            if let Err(e) = encoded {
                failure = Some(TransferError::Io(e));
                return Ok(false);
            }
            if let Err(e) = files.line(&line) {
                failure = Some(e);
                return Ok(false);
            }
            job.counters.items.fetch_add(1, Ordering::Relaxed);
            job.counters
                .bytes
                .fetch_add(item_size(&item) as u64, Ordering::Relaxed);
            Ok(true)
        })
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One changed item of the window.
struct Changed {
    keys: Item,
    old: Option<Item>,
    new: Option<Item>,
    time_ms: u64,
}

/// The table's changes committed in `from_ms..to_ms`, one line per item.
fn incremental(
    job: &ExportJob,
    files: &mut DataFiles<'_>,
    from_ms: u64,
    to_ms: u64,
    view_type: ExportViewType,
) -> Result<(), TransferError> {
    // Keyed by the keys' JSON, which is canonical (attribute names sorted).
    let mut changed: BTreeMap<String, Changed> = BTreeMap::new();
    let mut from_seq = 0;
    loop {
        let (records, more) = job.engine.read(|view| {
            view.changes()
                .read(job.table.id, from_seq, None, CHANGES_PER_READ, usize::MAX)
        })?;
        let Some(last) = records.last() else {
            break;
        };
        from_seq = last.seq + 1;
        for r in records {
            if r.time_ms < from_ms || r.time_ms >= to_ms {
                continue;
            }
            let key = serde_json::to_string(&r.keys).map_err(std::io::Error::other)?;
            match changed.get_mut(&key) {
                Some(c) => {
                    c.new = r.new;
                    c.time_ms = r.time_ms;
                }
                None => {
                    changed.insert(
                        key,
                        Changed {
                            keys: r.keys,
                            old: r.old,
                            new: r.new,
                            time_ms: r.time_ms,
                        },
                    );
                }
            }
        }
        if !more {
            break;
        }
    }
    let mut line = Vec::with_capacity(1024);
    for c in changed.values() {
        line.clear();
        let old_image = match view_type {
            ExportViewType::NewAndOldImages => c.old.as_ref(),
            ExportViewType::NewImage => None,
        };
        match job.description.export_format {
            ExportFormat::DynamodbJson => {
                let change = ChangeLine {
                    metadata: ChangeMetadata {
                        write_timestamp_micros: NumberValue {
                            n: (c.time_ms * 1000).to_string(),
                        },
                    },
                    keys: &c.keys,
                    new_image: c.new.as_ref(),
                    old_image,
                };
                serde_json::to_writer(&mut line, &change).map_err(std::io::Error::other)?;
                line.push(b'\n');
            }
            ExportFormat::Ion => ion::change_line(
                c.time_ms * 1000,
                &c.keys,
                c.new.as_ref(),
                old_image,
                &mut line,
            )?,
        }
        files.line(&line)?;
        job.counters.items.fetch_add(1, Ordering::Relaxed);
        let size = item_size(&c.keys)
            + c.new.as_ref().map_or(0, item_size)
            + c.old.as_ref().map_or(0, item_size);
        job.counters.bytes.fetch_add(size as u64, Ordering::Relaxed);
    }
    Ok(())
}
