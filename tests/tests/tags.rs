//! Tagging (TagResource, UntagResource, ListTagsOfResource) and the small
//! account operations (DescribeLimits, DescribeEndpoints) through the SDK.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::Tag;
use ferrodyn_tests::create_table;
use ferrodyn_tests::TestStore;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().expect("tag")
}

#[tokio::test]
async fn tags_are_added_replaced_listed_and_removed() {
    let s = TestStore::start().await;
    let c = s.client();
    let arn = create_table(&c, "tagged")
        .await
        .table_arn
        .expect("table arn");
    let listed = c.list_tags_of_resource().resource_arn(&arn).send().await;
    assert!(listed.expect("list").tags().is_empty());

    c.tag_resource()
        .resource_arn(&arn)
        .tags(tag("a", "1"))
        .tags(tag("b", ""))
        .send()
        .await
        .expect("tag");
    c.tag_resource()
        .resource_arn(&arn)
        .tags(tag("a", "2"))
        .send()
        .await
        .expect("retag");
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("list");
    let pairs: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, vec![("a", "2"), ("b", "")]);

    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("a")
        .tag_keys("never-there")
        .send()
        .await
        .expect("untag");
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("list");
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "b");
}

#[tokio::test]
async fn tag_success_body_is_empty() {
    let s = TestStore::start().await;
    let arn = create_table(&s.client(), "emptybody")
        .await
        .table_arn
        .expect("table arn");
    let body = format!(r#"{{"ResourceArn":"{arn}","Tags":[{{"Key":"k","Value":"v"}}]}}"#);
    let (status, _, out) = ferrodyn_tests::raw_post(
        s.addr,
        Some("DynamoDB_20120810.TagResource"),
        &[],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn tags_from_create_table_are_listed_and_validated() {
    let s = TestStore::start().await;
    let c = s.client();
    let too_many: Vec<Tag> = (0..51).map(|i| tag(&i.to_string(), "x")).collect();
    let err = c
        .create_table()
        .table_name("toomany")
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("p")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .expect("ks"),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("p")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .expect("ad"),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .set_tags(Some(too_many))
        .send()
        .await
        .expect_err("51 tags");
    assert_eq!(err.code(), Some("ValidationException"));
    let missing = c.describe_table().table_name("toomany").send().await;
    assert_eq!(
        missing.expect_err("no table").code(),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn tag_limits_and_bad_arns_get_dynamodb_errors() {
    let s = TestStore::start().await;
    let c = s.client();
    let arn = create_table(&c, "limits")
        .await
        .table_arn
        .expect("table arn");
    let code = |r: Result<_, aws_sdk_dynamodb::error::SdkError<_>>| {
        r.map(|_: aws_sdk_dynamodb::operation::tag_resource::TagResourceOutput| ())
            .expect_err("should fail")
            .code()
            .map(str::to_owned)
    };

    let not_arn = c.tag_resource().resource_arn("nope").tags(tag("a", "b"));
    assert_eq!(
        code(not_arn.send().await).as_deref(),
        Some("ValidationException")
    );
    let other = c
        .tag_resource()
        .resource_arn(format!("{arn}x"))
        .tags(tag("a", "b"));
    assert_eq!(
        code(other.send().await).as_deref(),
        Some("ResourceNotFoundException")
    );
    let index = c
        .tag_resource()
        .resource_arn(format!("{arn}/index/gsi"))
        .tags(tag("a", "b"));
    assert_eq!(
        code(index.send().await).as_deref(),
        Some("ValidationException")
    );
    let empty = c.tag_resource().resource_arn(&arn).set_tags(Some(vec![]));
    assert_eq!(
        code(empty.send().await).as_deref(),
        Some("ValidationException")
    );
    for (k, v) in [
        ("k".repeat(129), "v".to_owned()),
        ("k".to_owned(), "v".repeat(257)),
        ("hi!".to_owned(), "v".to_owned()),
        ("k".to_owned(), "d%g".to_owned()),
        ("aws:reserved".to_owned(), "v".to_owned()),
    ] {
        let r = c.tag_resource().resource_arn(&arn).tags(tag(&k, &v));
        assert_eq!(
            code(r.send().await).as_deref(),
            Some("ValidationException"),
            "{k}={v}"
        );
    }
    let ok = c
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag(&"k".repeat(128), &"v".repeat(256)));
    ok.send().await.expect("maximal tag");

    let first: Vec<Tag> = (0..30).map(|i| tag(&i.to_string(), "x")).collect();
    let overlapping: Vec<Tag> = (20..49).map(|i| tag(&i.to_string(), "y")).collect();
    let over: Vec<Tag> = (49..60).map(|i| tag(&i.to_string(), "z")).collect();
    let r = c.tag_resource().resource_arn(&arn).set_tags(Some(first));
    r.send().await.expect("30 tags");
    let r = c
        .tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(overlapping));
    r.send().await.expect("up to 50 tags");
    let r = c.tag_resource().resource_arn(&arn).set_tags(Some(over));
    assert_eq!(code(r.send().await).as_deref(), Some("ValidationException"));
}

#[tokio::test]
async fn describe_limits_and_endpoints_answer() {
    let s = TestStore::start().await;
    let c = s.client();
    let limits = c.describe_limits().send().await.expect("limits");
    assert_eq!(limits.table_max_read_capacity_units(), Some(40000));
    let endpoints = c.describe_endpoints().send().await.expect("endpoints");
    assert_eq!(endpoints.endpoints().len(), 1);
    let e = &endpoints.endpoints()[0];
    assert_eq!(e.address(), s.addr.to_string());
    assert_eq!(e.cache_period_in_minutes(), 1440);
}
