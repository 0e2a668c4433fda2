//! Small helpers shared by the tests of tags, TTL and streams: a
//! hash-key-only table and an `aws-sdk-dynamodbstreams` client.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};

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

/// A DynamoDB Streams client for `endpoint` with static test credentials.
pub fn streams_client_for(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "ferrodyn", "ferrodyn", None, None, "tests",
        ))
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}
