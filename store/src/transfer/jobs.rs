//! The records of export and import jobs: what DescribeExport/ListExports
//! and DescribeImport/ListImports answer.
//!
//! Each job's description is kept in memory and, at every change of status,
//! written to `<data dir>/transfers/{exports,imports}/<id>.json` (written to
//! a temporary file and renamed, so a record is whole or absent). The live
//! counters of a running job are atomics the job bumps and the describe
//! operations read; they are written to disk with the final status.
//!
//! On open, a job still IN_PROGRESS on disk was interrupted by a stop of the
//! store: it becomes FAILED (an import's table is deleted by the store, see
//! `ops::transfer`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::api::transfer_types::{
    ExportDescription, ExportStatus, ImportStatus, ImportTableDescription,
};

/// Version of a job record file. Never reuse a value.
const RECORD_FORMAT: u8 = 1;

/// Failure code of a job cut short by a stop of the store.
pub const INTERRUPTED_CODE: &str = "InternalError";
pub const INTERRUPTED_MESSAGE: &str =
    "The job was interrupted because the server stopped; start it again";

#[derive(Serialize, Deserialize)]
struct Record<T> {
    format: u8,
    description: T,
}

/// Live counters of a running job.
#[derive(Debug, Default)]
pub struct Counters {
    /// Items exported, or processed (lines read) by an import.
    pub items: AtomicU64,
    /// Bytes exported (item sizes), or read from the source by an import.
    pub bytes: AtomicU64,
    /// Items written by an import.
    pub imported: AtomicU64,
    /// Lines an import rejected.
    pub errors: AtomicU64,
}

impl Counters {
    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }
}

struct Entry<T> {
    description: T,
    counters: Arc<Counters>,
}

/// Every export and import this store ran.
pub struct Jobs {
    dir: PathBuf,
    exports: Mutex<Vec<Entry<ExportDescription>>>,
    imports: Mutex<Vec<Entry<ImportTableDescription>>>,
}

fn wrap<T>(description: T) -> Entry<T> {
    Entry {
        description,
        counters: Arc::default(),
    }
}

fn id_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn load<T: DeserializeOwned>(dir: &Path) -> Vec<T> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    // Ids start with the start time in milliseconds: name order is age order.
    paths.sort();
    for path in paths {
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Record<T>>(&b).map_err(|e| e.to_string()))
        {
            Ok(r) if r.format == RECORD_FORMAT => out.push(r.description),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "job record of an unknown format ignored")
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "unreadable job record ignored")
            }
        }
    }
    out
}

fn save<T: Serialize>(dir: &Path, id: &str, description: &T) {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{id}.json.tmp"));
        let bytes = serde_json::to_vec(&Record {
            format: RECORD_FORMAT,
            description,
        })
        .map_err(std::io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dir.join(format!("{id}.json")))
    };
    if let Err(error) = write() {
        tracing::error!(dir = %dir.display(), id, %error, "cannot save a job record");
    }
}

fn now_s() -> f64 {
    super::now_ms() as f64 / 1000.0
}

impl Jobs {
    /// Load the records under `data_dir`; interrupted jobs become FAILED.
    /// Returns the registry and the ARNs of the interrupted imports.
    pub fn open(data_dir: &Path) -> (Jobs, Vec<String>) {
        let dir = data_dir.join("transfers");
        let mut exports: Vec<ExportDescription> = load(&dir.join("exports"));
        let mut imports: Vec<ImportTableDescription> = load(&dir.join("imports"));
        let mut interrupted = Vec::new();
        for e in &mut exports {
            if e.export_status == ExportStatus::InProgress {
                e.export_status = ExportStatus::Failed;
                e.end_time = Some(now_s());
                e.failure_code = Some(INTERRUPTED_CODE.into());
                e.failure_message = Some(INTERRUPTED_MESSAGE.into());
                save(&dir.join("exports"), id_of(&e.export_arn), e);
            }
        }
        for i in &mut imports {
            if matches!(
                i.import_status,
                ImportStatus::InProgress | ImportStatus::Cancelling
            ) {
                i.import_status = ImportStatus::Failed;
                i.end_time = Some(now_s());
                i.failure_code = Some(INTERRUPTED_CODE.into());
                i.failure_message = Some(INTERRUPTED_MESSAGE.into());
                save(&dir.join("imports"), id_of(&i.import_arn), i);
                interrupted.push(i.import_arn.clone());
            }
        }
        (
            Jobs {
                dir,
                exports: Mutex::new(exports.into_iter().map(wrap).collect()),
                imports: Mutex::new(imports.into_iter().map(wrap).collect()),
            },
            interrupted,
        )
    }

    /// Where an import's rejected lines are logged.
    pub fn import_error_log(&self, import_arn: &str) -> PathBuf {
        self.dir
            .join("imports")
            .join(format!("{}.errors.jsonl", id_of(import_arn)))
    }

    // ---- exports ----

    /// Register a new export; returns its live counters.
    pub fn add_export(&self, description: ExportDescription) -> Arc<Counters> {
        save(
            &self.dir.join("exports"),
            id_of(&description.export_arn),
            &description,
        );
        let counters = Arc::new(Counters::default());
        if let Ok(mut list) = self.exports.lock() {
            list.push(Entry {
                description,
                counters: counters.clone(),
            });
        }
        counters
    }

    /// Change an export's description (and save it).
    pub fn update_export(&self, arn: &str, change: impl FnOnce(&mut ExportDescription)) {
        let Ok(mut list) = self.exports.lock() else {
            return;
        };
        if let Some(e) = list.iter_mut().find(|e| e.description.export_arn == arn) {
            change(&mut e.description);
            save(&self.dir.join("exports"), id_of(arn), &e.description);
        }
    }

    /// The export's description with its live counters.
    pub fn export(&self, arn: &str) -> Option<ExportDescription> {
        let list = self.exports.lock().ok()?;
        list.iter()
            .find(|e| e.description.export_arn == arn)
            .map(live_export)
    }

    /// Every export, oldest first, with live counters.
    pub fn exports(&self) -> Vec<ExportDescription> {
        match self.exports.lock() {
            Ok(list) => list.iter().map(live_export).collect(),
            Err(_) => Vec::new(),
        }
    }

    // ---- imports ----

    pub fn add_import(&self, description: ImportTableDescription) -> Arc<Counters> {
        save(
            &self.dir.join("imports"),
            id_of(&description.import_arn),
            &description,
        );
        let counters = Arc::new(Counters::default());
        if let Ok(mut list) = self.imports.lock() {
            list.push(Entry {
                description,
                counters: counters.clone(),
            });
        }
        counters
    }

    pub fn update_import(&self, arn: &str, change: impl FnOnce(&mut ImportTableDescription)) {
        let Ok(mut list) = self.imports.lock() else {
            return;
        };
        if let Some(e) = list.iter_mut().find(|e| e.description.import_arn == arn) {
            change(&mut e.description);
            save(&self.dir.join("imports"), id_of(arn), &e.description);
        }
    }

    pub fn import(&self, arn: &str) -> Option<ImportTableDescription> {
        let list = self.imports.lock().ok()?;
        list.iter()
            .find(|e| e.description.import_arn == arn)
            .map(live_import)
    }

    pub fn imports(&self) -> Vec<ImportTableDescription> {
        match self.imports.lock() {
            Ok(list) => list.iter().map(live_import).collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn live_export(e: &Entry<ExportDescription>) -> ExportDescription {
    let mut d = e.description.clone();
    if d.export_status == ExportStatus::InProgress {
        d.item_count = Counters::get(&e.counters.items);
        d.billed_size_bytes = Counters::get(&e.counters.bytes);
    }
    d
}

fn live_import(e: &Entry<ImportTableDescription>) -> ImportTableDescription {
    let mut d = e.description.clone();
    if d.import_status == ImportStatus::InProgress {
        let c = &e.counters;
        d.processed_item_count = Counters::get(&c.items);
        d.processed_size_bytes = Counters::get(&c.bytes);
        d.imported_item_count = Counters::get(&c.imported);
        d.error_count = Counters::get(&c.errors);
    }
    d
}
