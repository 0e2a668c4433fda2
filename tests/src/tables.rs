//! Creating the tables tests run against: [`create_table`] for the common
//! shape (on-demand, partition key `p` of type S; with a stream:
//! [`create_table_with_stream`]), and [`TableSpec`] for
//! the others — a sort key, key attributes of other names and types,
//! global and local secondary indexes (also with multi-attribute keys), a
//! stream. Index specs ([`IndexSpec`]) also build the UpdateTable action
//! that adds an index later ([`add_index`]), and [`until_index_active`]
//! waits for its backfill.
//!
//! Tests of CreateTable's own validation build their requests by hand,
//! with [`key_element`] and [`attribute`].

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_table::UpdateTableOutput;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexDescription, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement,
    KeyType, LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableDescription,
};
use aws_sdk_dynamodb::Client;

pub fn key_element(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("key schema element")
}

pub fn attribute(name: &str, t: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .expect("attribute definition")
}

/// Creates the on-demand table `name` keyed by the string attribute `p`.
pub async fn create_table(client: &Client, name: &str) -> TableDescription {
    TableSpec::new(name)
        .hash("p", ScalarAttributeType::S)
        .create(client)
        .await
}

/// Creates the table of [`create_table`], with a stream of `view`.
pub async fn create_table_with_stream(
    client: &Client,
    name: &str,
    view: StreamViewType,
) -> TableDescription {
    TableSpec::new(name)
        .hash("p", ScalarAttributeType::S)
        .stream(view)
        .create(client)
        .await
}

/// Key attributes in the order they were added, each defined once.
#[derive(Clone, Default)]
struct Keys {
    elements: Vec<KeySchemaElement>,
    definitions: Vec<AttributeDefinition>,
}

impl Keys {
    fn add(&mut self, name: &str, key_type: KeyType, t: ScalarAttributeType) {
        self.elements.push(key_element(name, key_type));
        self.definitions.push(attribute(name, t));
    }
}

/// An on-demand table to create: its key, indexes and stream.
pub struct TableSpec {
    name: String,
    keys: Keys,
    gsis: Vec<IndexSpec>,
    lsis: Vec<IndexSpec>,
    stream: Option<StreamViewType>,
}

impl TableSpec {
    /// A table named `name`; give it at least a partition key ([`TableSpec::hash`]).
    pub fn new(name: &str) -> TableSpec {
        TableSpec {
            name: name.to_owned(),
            keys: Keys::default(),
            gsis: Vec::new(),
            lsis: Vec::new(),
            stream: None,
        }
    }

    /// Add a partition (HASH) key attribute.
    pub fn hash(mut self, name: &str, t: ScalarAttributeType) -> TableSpec {
        self.keys.add(name, KeyType::Hash, t);
        self
    }

    /// Add a sort (RANGE) key attribute.
    pub fn range(mut self, name: &str, t: ScalarAttributeType) -> TableSpec {
        self.keys.add(name, KeyType::Range, t);
        self
    }

    pub fn gsi(mut self, index: IndexSpec) -> TableSpec {
        self.gsis.push(index);
        self
    }

    pub fn lsi(mut self, index: IndexSpec) -> TableSpec {
        self.lsis.push(index);
        self
    }

    /// Enable a stream with `view`.
    pub fn stream(mut self, view: StreamViewType) -> TableSpec {
        self.stream = Some(view);
        self
    }

    /// Send CreateTable; panics if it fails.
    pub async fn create(self, client: &Client) -> TableDescription {
        // Each attribute is defined once, however many keys it is part of.
        let mut definitions: Vec<AttributeDefinition> = Vec::new();
        let index_keys = self.gsis.iter().chain(&self.lsis).map(|i| &i.keys);
        for d in std::iter::once(&self.keys)
            .chain(index_keys)
            .flat_map(|k| &k.definitions)
        {
            if !definitions
                .iter()
                .any(|e| e.attribute_name() == d.attribute_name())
            {
                definitions.push(d.clone());
            }
        }
        let mut request = client
            .create_table()
            .table_name(&self.name)
            .set_key_schema(Some(self.keys.elements))
            .set_attribute_definitions(Some(definitions))
            .billing_mode(BillingMode::PayPerRequest);
        for index in self.gsis {
            request = request.global_secondary_indexes(index.global());
        }
        for index in self.lsis {
            request = request.local_secondary_indexes(index.local());
        }
        if let Some(view) = self.stream {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(view)
                    .build()
                    .expect("stream specification"),
            );
        }
        request
            .send()
            .await
            .expect("create table")
            .table_description
            .expect("table description")
    }
}

/// A secondary index: its name, key attributes and projection (ALL unless
/// [`IndexSpec::keys_only`]).
#[derive(Clone)]
pub struct IndexSpec {
    name: String,
    keys: Keys,
    projection: ProjectionType,
}

impl IndexSpec {
    pub fn new(name: &str) -> IndexSpec {
        IndexSpec {
            name: name.to_owned(),
            keys: Keys::default(),
            projection: ProjectionType::All,
        }
    }

    /// Add a partition (HASH) key attribute.
    pub fn hash(mut self, name: &str, t: ScalarAttributeType) -> IndexSpec {
        self.keys.add(name, KeyType::Hash, t);
        self
    }

    /// Add a sort (RANGE) key attribute.
    pub fn range(mut self, name: &str, t: ScalarAttributeType) -> IndexSpec {
        self.keys.add(name, KeyType::Range, t);
        self
    }

    /// Project only the keys.
    pub fn keys_only(mut self) -> IndexSpec {
        self.projection = ProjectionType::KeysOnly;
        self
    }

    /// The index's key schema, in the order given.
    pub fn key_schema(&self) -> Vec<KeySchemaElement> {
        self.keys.elements.clone()
    }

    /// Definitions of the index's key attributes, in the order given.
    pub fn attribute_definitions(&self) -> Vec<AttributeDefinition> {
        self.keys.definitions.clone()
    }

    fn projection(&self) -> Projection {
        Projection::builder()
            .projection_type(self.projection.clone())
            .build()
    }

    fn global(self) -> GlobalSecondaryIndex {
        GlobalSecondaryIndex::builder()
            .index_name(&self.name)
            .set_key_schema(Some(self.key_schema()))
            .projection(self.projection())
            .build()
            .expect("global secondary index")
    }

    fn local(self) -> LocalSecondaryIndex {
        LocalSecondaryIndex::builder()
            .index_name(&self.name)
            .set_key_schema(Some(self.key_schema()))
            .projection(self.projection())
            .build()
            .expect("local secondary index")
    }

    /// The UpdateTable action that creates this index as a GSI.
    pub fn create_action(&self) -> GlobalSecondaryIndexUpdate {
        GlobalSecondaryIndexUpdate::builder()
            .create(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name(&self.name)
                    .set_key_schema(Some(self.key_schema()))
                    .projection(self.projection())
                    .build()
                    .expect("create index action"),
            )
            .build()
    }
}

/// Add `index` to `table` as a GSI with UpdateTable (defining its key
/// attributes); panics if that fails.
pub async fn add_index(client: &Client, table: &str, index: &IndexSpec) -> UpdateTableOutput {
    client
        .update_table()
        .table_name(table)
        .set_attribute_definitions(Some(index.attribute_definitions()))
        .global_secondary_index_updates(index.create_action())
        .send()
        .await
        .expect("update table")
}

/// The description of GSI `index` of `table`.
pub async fn describe_index(
    client: &Client,
    table: &str,
    index: &str,
) -> GlobalSecondaryIndexDescription {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe")
        .table
        .expect("table")
        .global_secondary_indexes()
        .iter()
        .find(|g| g.index_name() == Some(index))
        .cloned()
        .expect("index described")
}

/// Poll DescribeTable (at most 30 s) until GSI `index` of `table` is
/// ACTIVE; returns its description then.
pub async fn until_index_active(
    client: &Client,
    table: &str,
    index: &str,
) -> GlobalSecondaryIndexDescription {
    let limit = Duration::from_secs(30);
    let start = Instant::now();
    loop {
        let gsi = describe_index(client, table, index).await;
        if gsi.index_status() == Some(&IndexStatus::Active) {
            return gsi;
        }
        assert!(
            start.elapsed() < limit,
            "index {index} not ACTIVE after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
