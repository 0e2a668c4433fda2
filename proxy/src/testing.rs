//! The full database for tests: one line starts a fresh `ferrodyn` (the
//! proxy with its caches and the store embedded, in memory) inside the test
//! process on an ephemeral port of 127.0.0.1; dropping it stops the server
//! and deletes its data.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
//! use aws_sdk_dynamodb::types::{
//!     AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
//!     ScalarAttributeType,
//! };
//!
//! let db = ferrodyn_proxy::testing::Ferrodyn::start().await;
//!
//! let config = aws_sdk_dynamodb::Config::builder()
//!     .behavior_version(BehaviorVersion::latest())
//!     .endpoint_url(db.endpoint())
//!     .region(Region::new("us-east-1"))
//!     .credentials_provider(Credentials::new("any", "any", None, None, "test"))
//!     .build();
//! let client = aws_sdk_dynamodb::Client::from_conf(config);
//! client
//!     .create_table()
//!     .table_name("users")
//!     .attribute_definitions(
//!         AttributeDefinition::builder()
//!             .attribute_name("id")
//!             .attribute_type(ScalarAttributeType::S)
//!             .build()?,
//!     )
//!     .key_schema(
//!         KeySchemaElement::builder()
//!             .attribute_name("id")
//!             .key_type(KeyType::Hash)
//!             .build()?,
//!     )
//!     .billing_mode(BillingMode::PayPerRequest)
//!     .send()
//!     .await?;
//! client
//!     .put_item()
//!     .table_name("users")
//!     .item("id", AttributeValue::S("ada".into()))
//!     .send()
//!     .await?;
//! let got = client
//!     .get_item()
//!     .table_name("users")
//!     .key("id", AttributeValue::S("ada".into()))
//!     .send()
//!     .await?;
//! assert!(got.item().is_some());
//! # Ok(())
//! # }
//! ```
//!
//! The server runs on the test's tokio runtime (`#[tokio::test]` is
//! enough), with the defaults of `ferrodyn --in-memory --listen
//! 127.0.0.1:0`: no authentication, any credentials accepted; its admin
//! endpoint (`/metrics`, `/readyz`) listens on another ephemeral port.

use std::net::SocketAddr;

use ferrodyn_store::data_dir::DataDir;
use ferrodyn_store::ready::answers_health_check;
use tokio::sync::oneshot;

use crate::Config;

/// A `ferrodyn` serving on 127.0.0.1 until dropped, its data in memory.
pub struct Ferrodyn {
    addr: SocketAddr,
    admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    // Dropped after the server was told to stop.
    _data: DataDir,
}

impl Ferrodyn {
    /// Start a fresh, empty database and wait until it answers.
    ///
    /// # Panics
    ///
    /// When no in-memory directory can be created, the store cannot be
    /// opened or no port bound: in a test, the failure report.
    pub async fn start() -> Ferrodyn {
        match Ferrodyn::try_start().await {
            Ok(db) => db,
            Err(e) => panic!("cannot start a test ferrodyn: {e:#}"),
        }
    }

    /// Like [`Ferrodyn::start`], returning the error instead of panicking.
    pub async fn try_start() -> anyhow::Result<Ferrodyn> {
        let data = DataDir::in_memory()?;
        let config = Config::new(data.path());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (addr, admin_addr) = (listener.local_addr()?, admin.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let mut task = tokio::spawn(crate::run(listener, Some(admin), config, async {
            let _ = stopped.await;
        }));
        tokio::select! {
            ended = &mut task => match ended {
                Ok(Err(e)) => return Err(anyhow::Error::new(e).context("ferrodyn stopped at once")),
                other => anyhow::bail!("ferrodyn stopped at once: {other:?}"),
            },
            () = answers_health_check(addr, None) => {}
        }
        Ok(Ferrodyn {
            addr,
            admin: admin_addr,
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

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin endpoint's URL (`/metrics`, `/healthz`, `/readyz`).
    pub fn admin_endpoint(&self) -> String {
        format!("http://{}", self.admin)
    }
}

impl Drop for Ferrodyn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
