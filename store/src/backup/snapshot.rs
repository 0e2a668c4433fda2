//! Snapshot files: a table's items at one instant, as written by a backup
//! (and by a point-in-time restore before it loads), read back by restores.
//!
//! Format (see docs/backups.md), little-endian:
//!
//! ```text
//! magic "FDSNAP" | version u8 (1)
//! record*        : length u32 (> 0) | item (model::codec encoding)
//! end            : 0u32 | item count u64 | CRC-32 u32 of every byte before it
//! ```
//!
//! A snapshot is written to `<path>.tmp`, synced, then renamed into place,
//! so a file under its final name is always whole; its checksum is checked
//! again before a restore trusts it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::model::codec::{self, Reader};
use crate::model::value::Item;

const MAGIC: &[u8; 6] = b"FDSNAP";
/// Version byte of the snapshot format. Never reuse a value.
const VERSION: u8 = 1;
/// Bytes before the first record.
pub const HEADER_LEN: u64 = 7;
/// Bytes of the end marker, the count and the checksum.
const FOOTER_LEN: u64 = 4 + 8 + 4;
/// Largest record accepted: far above DynamoDB's 400 KB item limit, so
/// only a corrupt length exceeds it.
const MAX_RECORD: u32 = 16 << 20;

/// Why a snapshot cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("I/O error on snapshot {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("snapshot {path} is damaged: {what}")]
    Damaged { path: PathBuf, what: &'static str },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    }
}

fn damaged(path: &Path, what: &'static str) -> SnapshotError {
    SnapshotError::Damaged {
        path: path.to_owned(),
        what,
    }
}

/// What a finished snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub items: u64,
    /// Size of the file.
    pub bytes: u64,
    pub checksum: u32,
}

/// Writes a snapshot; nothing is visible under the final name before
/// [`SnapshotWriter::finish`].
pub struct SnapshotWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    crc: crc32fast::Hasher,
    items: u64,
    bytes: u64,
    buf: Vec<u8>,
}

impl SnapshotWriter {
    pub fn create(path: &Path) -> Result<SnapshotWriter, SnapshotError> {
        let tmp = tmp_path(path);
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let mut w = SnapshotWriter {
            path: path.to_owned(),
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
            items: 0,
            bytes: 0,
            buf: Vec::with_capacity(1024),
        };
        let mut header = MAGIC.to_vec();
        header.push(VERSION);
        w.put(&header)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.crc.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes).map_err(io(&self.tmp))
    }

    pub fn add(&mut self, item: &Item) -> Result<(), SnapshotError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        codec::encode_item(item, &mut buf);
        let len = u32::try_from(buf.len())
            .ok()
            .filter(|l| *l > 0 && *l <= MAX_RECORD)
            .ok_or_else(|| damaged(&self.tmp, "item too large for a snapshot record"))?;
        self.put(&len.to_le_bytes())?;
        self.put(&buf)?;
        self.buf = buf;
        self.items += 1;
        Ok(())
    }

    /// Items added so far and bytes written so far.
    pub fn progress(&self) -> (u64, u64) {
        (self.items, self.bytes)
    }

    /// Write the end, sync, and move the file under its final name.
    pub fn finish(mut self) -> Result<Summary, SnapshotError> {
        self.put(&0u32.to_le_bytes())?;
        let items = self.items;
        self.put(&items.to_le_bytes())?;
        let checksum = self.crc.clone().finalize();
        self.out
            .write_all(&checksum.to_le_bytes())
            .map_err(io(&self.tmp))?;
        let file = self.out.into_inner().map_err(|e| SnapshotError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(&self.tmp))?;
        std::fs::rename(&self.tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir);
        }
        Ok(Summary {
            items,
            bytes: self.bytes + 4,
            checksum,
        })
    }
}

/// Make a rename or removal in `dir` durable (best effort: some file
/// systems cannot sync a directory).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Where a snapshot is written before it is complete.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Read the whole file and check its framing, count and checksum; returns
/// what it holds.
pub fn verify(path: &Path) -> Result<Summary, SnapshotError> {
    let file = File::open(path).map_err(io(path))?;
    let len = file.metadata().map_err(io(path))?.len();
    if len < HEADER_LEN + FOOTER_LEN {
        return Err(damaged(path, "too short"));
    }
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut crc = crc32fast::Hasher::new();
    let mut header = [0u8; HEADER_LEN as usize];
    r.read_exact(&mut header).map_err(io(path))?;
    if &header[..6] != MAGIC || header[6] != VERSION {
        return Err(damaged(path, "not a snapshot of a known version"));
    }
    crc.update(&header);
    let mut items = 0u64;
    let mut buf = Vec::new();
    loop {
        let mut l = [0u8; 4];
        r.read_exact(&mut l).map_err(io(path))?;
        crc.update(&l);
        let n = u32::from_le_bytes(l);
        if n == 0 {
            break;
        }
        if n > MAX_RECORD {
            return Err(damaged(path, "record length out of range"));
        }
        buf.resize(n as usize, 0);
        r.read_exact(&mut buf).map_err(io(path))?;
        crc.update(&buf);
        items += 1;
    }
    let mut count = [0u8; 8];
    r.read_exact(&mut count).map_err(io(path))?;
    crc.update(&count);
    let mut sum = [0u8; 4];
    r.read_exact(&mut sum).map_err(io(path))?;
    let checksum = u32::from_le_bytes(sum);
    if crc.finalize() != checksum {
        return Err(damaged(path, "checksum mismatch"));
    }
    if u64::from_le_bytes(count) != items {
        return Err(damaged(path, "item count mismatch"));
    }
    Ok(Summary {
        items,
        bytes: len,
        checksum,
    })
}

/// Up to `max_items` items (and about `max_bytes`) from the record at byte
/// `offset`; returns them with the offset of the next record, or `None`
/// once the end is reached. Call [`verify`] first: this checks framing only.
pub fn read_chunk(
    path: &Path,
    offset: u64,
    max_items: usize,
    max_bytes: usize,
) -> Result<(Vec<Item>, Option<u64>), SnapshotError> {
    let mut file = File::open(path).map_err(io(path))?;
    file.seek(SeekFrom::Start(offset.max(HEADER_LEN)))
        .map_err(io(path))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut pos = offset.max(HEADER_LEN);
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut buf = Vec::new();
    while out.len() < max_items && bytes < max_bytes {
        let mut l = [0u8; 4];
        r.read_exact(&mut l).map_err(io(path))?;
        let n = u32::from_le_bytes(l);
        if n == 0 {
            return Ok((out, None));
        }
        if n > MAX_RECORD {
            return Err(damaged(path, "record length out of range"));
        }
        buf.resize(n as usize, 0);
        r.read_exact(&mut buf).map_err(io(path))?;
        let mut rd = Reader::new(&buf);
        let item = rd
            .item()
            .map_err(|_| damaged(path, "a record does not decode"))?;
        out.push(item);
        pos += 4 + u64::from(n);
        bytes += n as usize;
    }
    Ok((out, Some(pos)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::AttributeValue;

    #[test]
    fn written_snapshot_verifies_reads_back_and_detects_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.snap");
        let mut w = SnapshotWriter::create(&path).expect("create");
        let items: Vec<Item> = (0..10)
            .map(|i| {
                let mut it = Item::new();
                it.insert("p".into(), AttributeValue::S(format!("k{i}")));
                it
            })
            .collect();
        for it in &items {
            w.add(it).expect("add");
        }
        assert!(!path.exists(), "nothing under the final name before finish");
        let summary = w.finish().expect("finish");
        assert_eq!(summary.items, 10);
        assert_eq!(verify(&path).expect("verify"), summary);
        let (first, next) = read_chunk(&path, 0, 4, usize::MAX).expect("chunk");
        assert_eq!(first, items[..4]);
        let (rest, end) = read_chunk(&path, next.expect("more"), 100, usize::MAX).expect("rest");
        assert_eq!((rest.as_slice(), end), (&items[4..], None));

        let mut bytes = std::fs::read(&path).expect("read");
        bytes[12] ^= 0x40;
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(verify(&path), Err(SnapshotError::Damaged { .. })));
    }
}
