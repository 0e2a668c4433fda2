//! Small helpers shared by the tests of tags, TTL and streams: a
//! hash-key-only table, optionally with a stream.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;

/// Create table `name` with string partition key `p`, optionally with a stream.
pub async fn create_table(client: &Client, name: &str, stream: Option<StreamViewType>) -> String {
    let mut req = client
        .create_table()
        .table_name(name)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("p")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("p")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .billing_mode(BillingMode::PayPerRequest);
    if let Some(view) = stream {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(view)
                .build()
                .expect("stream specification"),
        );
    }
    let out = req.send().await.expect("create table");
    out.table_description()
        .and_then(|t| t.table_arn())
        .unwrap_or_default()
        .to_owned()
}
