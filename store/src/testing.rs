//! A store for tests: one line starts a fresh `ferrodyn-store` inside the
//! test process, in memory, on an ephemeral port of 127.0.0.1; dropping it
//! stops the server and deletes its data.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
//!
//! let db = ferrodyn_store::testing::Store::start().await;
//!
//! let config = aws_sdk_dynamodb::Config::builder()
//!     .behavior_version(BehaviorVersion::latest())
//!     .endpoint_url(db.endpoint())
//!     .region(Region::new("us-east-1"))
//!     .credentials_provider(Credentials::new("any", "any", None, None, "test"))
//!     .build();
//! let client = aws_sdk_dynamodb::Client::from_conf(config);
//! let tables = client.list_tables().send().await?;
//! assert!(tables.table_names().is_empty()); // fresh: nothing from other tests
//! # Ok(())
//! # }
//! ```
//!
//! The server runs on the test's tokio runtime (`#[tokio::test]` is
//! enough), with the defaults of `ferrodyn-store --in-memory --listen
//! 127.0.0.1:0`: no authentication, any credentials accepted.

use std::net::SocketAddr;

use tokio::sync::oneshot;

use crate::data_dir::DataDir;
use crate::ready::answers_health_check;
use crate::server::{self, ServeOptions};
use crate::StoreConfig;

/// A store serving on 127.0.0.1 until dropped, its data in memory.
pub struct Store {
    addr: SocketAddr,
    store: crate::Store,
    stop: Option<oneshot::Sender<()>>,
    // Dropped after the server was told to stop.
    _data: DataDir,
}

impl Store {
    /// Start a fresh, empty store and wait until it answers.
    ///
    /// # Panics
    ///
    /// When no in-memory directory can be created, the store cannot be
    /// opened or no port bound: in a test, the failure report.
    pub async fn start() -> Store {
        match Store::try_start().await {
            Ok(store) => store,
            Err(e) => panic!("cannot start a test store: {e:#}"),
        }
    }

    /// Like [`Store::start`], returning the error instead of panicking.
    pub async fn try_start() -> anyhow::Result<Store> {
        let data = DataDir::in_memory()?;
        let store = crate::Store::open(&StoreConfig::new(data.path()))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = server::serve(listener, store.clone(), ServeOptions::default(), async {
            let _ = stopped.await;
        });
        let mut task = tokio::spawn(serving);
        tokio::select! {
            ended = &mut task => anyhow::bail!("the server stopped at once: {ended:?}"),
            () = answers_health_check(addr, None) => {}
        }
        Ok(Store {
            addr,
            store,
            stop: Some(stop),
            _data: data,
        })
    }

    /// The URL to give a client: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the data lives while the server runs (a private tmpfs
    /// directory, removed on drop).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store itself, to call without HTTP.
    pub fn store(&self) -> &crate::Store {
        &self.store
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
