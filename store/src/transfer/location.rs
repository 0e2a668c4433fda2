//! Where "S3" is: buckets of an S3-compatible endpoint, or folders.
//!
//! With `--s3-endpoint URL` a bucket is a bucket of that endpoint (MinIO,
//! Ceph, R2, moto's server, AWS itself), reached with path-style requests
//! and the credentials and region of the standard AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`/`AWS_DEFAULT_REGION`). Without it a bucket is the folder
//! `<export dir>/<bucket>`, and an object key is a path below it.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

use super::TransferError;

/// Where exports go and imports come from.
#[derive(Debug, Clone, Default)]
pub struct TransferConfig {
    /// `--s3-endpoint`: an S3-compatible endpoint URL.
    pub s3_endpoint: Option<String>,
    /// `--export-dir`: the folder whose subfolders are buckets (used when
    /// there is no endpoint); default `<data dir>/exports`.
    pub export_dir: Option<PathBuf>,
}

/// The flags both binaries accept for exports and imports.
#[derive(Debug, Clone, clap::Args)]
pub struct TransferArgs {
    /// S3-compatible endpoint for ExportTableToPointInTime and ImportTable
    /// (e.g. http://127.0.0.1:9000 for MinIO); credentials and region come
    /// from the standard AWS environment variables. Without it, buckets are
    /// folders under --export-dir.
    #[arg(long, env = "FERRODYN_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Folder whose subfolders stand for buckets when there is no
    /// --s3-endpoint (default: `exports` inside the data directory).
    #[arg(long, env = "FERRODYN_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,
}

impl TransferArgs {
    pub fn config(&self) -> TransferConfig {
        TransferConfig {
            s3_endpoint: self.s3_endpoint.clone(),
            export_dir: self.export_dir.clone(),
        }
    }
}

/// Opens buckets as object stores.
#[derive(Debug, Clone)]
pub struct Locations {
    endpoint: Option<String>,
    dir: PathBuf,
}

impl Locations {
    pub fn new(config: &TransferConfig, data_dir: &std::path::Path) -> Locations {
        Locations {
            endpoint: config.s3_endpoint.clone(),
            dir: config
                .export_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("exports")),
        }
    }

    /// The folder buckets map to when there is no endpoint.
    pub fn folder(&self) -> Option<&std::path::Path> {
        self.endpoint.is_none().then_some(self.dir.as_path())
    }

    /// The bucket `bucket` (a name DynamoDB accepts, so never a path). A
    /// folder bucket is created when `create` (exports), and must exist
    /// otherwise (imports), as an S3 bucket must.
    pub fn bucket(
        &self,
        bucket: &str,
        create: bool,
    ) -> Result<Arc<dyn ObjectStore>, TransferError> {
        if bucket.is_empty() || bucket.contains('/') || bucket == "." || bucket == ".." {
            return Err(TransferError::NoSuchBucket(bucket.to_owned()));
        }
        match &self.endpoint {
            Some(url) => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_endpoint(url)
                    .with_bucket_name(bucket)
                    .with_allow_http(true)
                    .with_virtual_hosted_style_request(false);
                if std::env::var_os("AWS_REGION").is_none()
                    && std::env::var_os("AWS_DEFAULT_REGION").is_none()
                {
                    builder = builder.with_region(crate::model::table::REGION);
                }
                Ok(Arc::new(builder.build()?))
            }
            None => {
                let dir = self.dir.join(bucket);
                if create {
                    std::fs::create_dir_all(&dir)?;
                } else if !dir.is_dir() {
                    return Err(TransferError::NoSuchBucket(bucket.to_owned()));
                }
                Ok(Arc::new(LocalFileSystem::new_with_prefix(dir)?))
            }
        }
    }
}
