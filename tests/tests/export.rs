//! ExportTableToPointInTime, DescribeExport, ListExports: a table exported
//! in DynamoDB's layout (manifests, gzip-compressed DynamoDB JSON or Amazon
//! Ion data files) to a folder and to moto's S3 server, imported back
//! unchanged; an incremental export holding exactly the changes of its
//! window; errors.

use std::io::Read;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::primitives::DateTime;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ExportFormat, ExportStatus, ExportType, ExportViewType,
    GlobalSecondaryIndex, ImportStatus, IncrementalExportSpecification, InputCompressionType,
    InputFormat, KeySchemaElement, KeyType, Projection, ProjectionType, S3BucketSource,
    ScalarAttributeType as T, TableCreationParameters,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::buckets::Buckets;
use ferrodyn_tests::transfers::{
    all_items, enable_pitr, finished_export, finished_import, store_with,
};
use ferrodyn_tests::{assert_error, b, bs, item, l, m, n, ns, s, ss, IndexSpec, Item, TableSpec};
use serde_json::Value;

const BUCKET: &str = "exports";

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("gzip data file");
    text
}

fn varied_item(i: usize) -> Item {
    let mut it = item([
        ("pk", s(&format!("user#{i:04}"))),
        ("sk", n(i % 7)),
        // 38 significant digits, the most a number holds.
        (
            "exact",
            n(format!("-1234567890123456789012345678901234567.{}", i % 10)),
        ),
        ("huge", n("9.9999999999999999999999999999999999999E+125")),
        ("group", s(&format!("g{}", i % 5))),
        ("bin", b(&[i as u8, 0, 255])),
        (
            "flag",
            aws_sdk_dynamodb::types::AttributeValue::Bool(i.is_multiple_of(2)),
        ),
        (
            "nothing",
            aws_sdk_dynamodb::types::AttributeValue::Null(true),
        ),
        (
            "nested",
            m([
                ("list", l(vec![n("1.5"), s("x\"y")])),
                ("deep", m([("k", n(-3))])),
            ]),
        ),
        ("tags", ss(&["a", "b", &format!("t{i}")])),
        ("scores", ns(&["1", "2.25", "-7E-3"])),
        ("blobs", bs(&[b"x", b"yz"])),
    ]);
    if i.is_multiple_of(3) {
        it.insert("unicode".into(), s("日本語 ✓"));
    }
    it
}

fn group_index() -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name("by-group")
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("group")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("gsi")
}

fn definition(name: &str, t: T) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .expect("definition")
}

fn key(name: &str, k: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(k)
        .build()
        .expect("key")
}

async fn export(client: &Client, table_arn: &str, prefix: &str, format: ExportFormat) -> String {
    client
        .export_table_to_point_in_time()
        .table_arn(table_arn)
        .s3_bucket(BUCKET)
        .s3_prefix(prefix)
        .export_format(format)
        .send()
        .await
        .expect("export")
        .export_description
        .and_then(|d| d.export_arn)
        .expect("export arn")
}

/// Check one data file's text: DynamoDB JSON lines, or Ion text after the
/// version marker with the string sets annotated. Returns its item count.
fn check_data_file(text: &str, format: &ExportFormat) -> usize {
    if *format == ExportFormat::Ion {
        let (marker, rest) = text.split_once('\n').expect("a marker line");
        assert_eq!(marker, "$ion_1_0");
        let mut count = 0;
        for line in rest.lines() {
            let value = ion_rs::Element::read_one(line.as_bytes()).expect("one Ion value");
            let item = value
                .as_struct()
                .and_then(|v| v.get("Item"))
                .and_then(ion_rs::Element::as_struct)
                .unwrap_or_else(|| panic!("not {{Item:{{...}}}}: {line}"));
            for (name, annotation) in [
                ("tags", "$dynamodb_SS"),
                ("scores", "$dynamodb_NS"),
                ("blobs", "$dynamodb_BS"),
            ] {
                let set = item.get(name).expect("a set attribute");
                assert_eq!(set.annotations().first(), Some(annotation), "{line}");
            }
            count += 1;
        }
        return count;
    }
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("item line");
        assert!(v["Item"]["pk"]["S"].is_string(), "{line}");
    }
    text.lines().count()
}

/// Export a table of varied items with a GSI in `format`, check the layout
/// and manifests, import the data files into a new table: same items, and
/// the index answers.
async fn round_trip(buckets: Buckets, format: ExportFormat) {
    buckets.create(BUCKET).await;
    let server = store_with(&buckets).await;
    let client = server.client();
    let created = TableSpec::new("source")
        .hash("pk", T::S)
        .range("sk", T::N)
        .gsi(IndexSpec::new("by-group").hash("group", T::S))
        .create(&client)
        .await;
    let table_arn = created.table_arn().expect("table arn").to_owned();
    enable_pitr(&client, "source").await;
    let source: Vec<Item> = (0..300).map(varied_item).collect();
    for it in &source {
        client
            .put_item()
            .table_name("source")
            .set_item(Some(it.clone()))
            .send()
            .await
            .expect("put");
    }
    let arn = export(&client, &table_arn, "nightly/run1", format.clone()).await;
    assert!(
        arn.starts_with(&format!("{table_arn}/export/")),
        "export ARN {arn}"
    );
    let done = finished_export(&client, &arn).await;
    assert_eq!(
        done.export_status(),
        Some(&ExportStatus::Completed),
        "{done:?}"
    );
    assert_eq!(done.item_count(), Some(300));
    assert!(done.billed_size_bytes().unwrap_or(0) > 0);
    let id = arn.rsplit('/').next().expect("export id");
    let base = format!("nightly/run1/AWSDynamoDB/{id}");
    assert_eq!(
        done.export_manifest(),
        Some(format!("{base}/manifest-summary.json").as_str())
    );

    // The manifests, as AWS writes them.
    let summary: Value = serde_json::from_slice(
        &buckets
            .get(BUCKET, &format!("{base}/manifest-summary.json"))
            .await,
    )
    .expect("summary json");
    assert_eq!(summary["version"], "2020-06-30");
    assert_eq!(summary["exportArn"], arn.as_str());
    assert_eq!(summary["tableArn"], table_arn.as_str());
    assert_eq!(summary["itemCount"], 300);
    assert_eq!(summary["outputFormat"], format.as_str());
    assert_eq!(summary["s3Bucket"], BUCKET);
    assert_eq!(summary["s3Prefix"], "nightly/run1");
    assert_eq!(
        summary["manifestFilesS3Key"],
        format!("{base}/manifest-files.json").as_str()
    );
    let files = buckets
        .get(BUCKET, &format!("{base}/manifest-files.json"))
        .await;
    let files = String::from_utf8(files).expect("utf-8 manifest");
    let mut lines_seen = 0;
    for entry in files.lines() {
        let entry: Value = serde_json::from_str(entry).expect("manifest line");
        let key = entry["dataFileS3Key"].as_str().expect("data file key");
        let extension = match format {
            ExportFormat::Ion => ".ion.gz",
            _ => ".json.gz",
        };
        assert!(
            key.starts_with(&format!("{base}/data/")) && key.ends_with(extension),
            "{key}"
        );
        let data = buckets.get(BUCKET, key).await;
        use base64::Engine as _;
        let md5 = base64::engine::general_purpose::STANDARD
            .decode(entry["md5Checksum"].as_str().expect("md5"))
            .expect("base64 md5");
        assert_eq!(md5.len(), 16);
        let count = check_data_file(&gunzip(&data), &format);
        assert_eq!(entry["itemCount"], count);
        lines_seen += count;
    }
    assert_eq!(lines_seen, 300);
    let all = buckets.keys(BUCKET, &base).await;
    assert!(all.contains(&format!("{base}/_started")), "{all:?}");
    assert!(
        all.contains(&format!("{base}/manifest-summary.checksum")),
        "{all:?}"
    );

    // Imported back: the same items, the index queryable.
    let params = TableCreationParameters::builder()
        .table_name("copy")
        .attribute_definitions(definition("pk", T::S))
        .attribute_definitions(definition("sk", T::N))
        .attribute_definitions(definition("group", T::S))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .global_secondary_indexes(group_index())
        .build()
        .expect("parameters");
    let import = client
        .import_table()
        .s3_bucket_source(
            S3BucketSource::builder()
                .s3_bucket(BUCKET)
                .s3_key_prefix(format!("{base}/data/"))
                .build()
                .expect("source"),
        )
        .input_format(match format {
            ExportFormat::Ion => InputFormat::Ion,
            _ => InputFormat::DynamodbJson,
        })
        .input_compression_type(InputCompressionType::Gzip)
        .table_creation_parameters(params)
        .send()
        .await
        .expect("import")
        .import_table_description
        .and_then(|d| d.import_arn)
        .expect("import arn");
    let imported = finished_import(&client, &import).await;
    assert_eq!(
        imported.import_status(),
        Some(&ImportStatus::Completed),
        "{imported:?}"
    );
    assert_eq!(imported.imported_item_count(), 300);
    assert_eq!(imported.error_count(), 0);
    assert_eq!(
        all_items(&client, "copy").await,
        all_items(&client, "source").await
    );
    let in_group = client
        .query()
        .table_name("copy")
        .index_name("by-group")
        .key_condition_expression("#g = :g")
        .expression_attribute_names("#g", "group")
        .expression_attribute_values(":g", s("g3"))
        .send()
        .await
        .expect("query the imported index");
    assert_eq!(in_group.count(), 60);
}

#[tokio::test]
async fn export_then_import_round_trips_through_a_folder() {
    round_trip(Buckets::folder(), ExportFormat::DynamodbJson).await;
}

#[tokio::test]
async fn export_then_import_round_trips_through_moto_s3() {
    if let Some(buckets) = Buckets::moto().await {
        round_trip(buckets, ExportFormat::DynamodbJson).await;
    }
}

#[tokio::test]
async fn ion_export_then_import_round_trips_through_a_folder() {
    round_trip(Buckets::folder(), ExportFormat::Ion).await;
}

#[tokio::test]
async fn ion_export_then_import_round_trips_through_moto_s3() {
    if let Some(buckets) = Buckets::moto().await {
        round_trip(buckets, ExportFormat::Ion).await;
    }
}

fn now() -> DateTime {
    DateTime::from(SystemTime::now())
}

/// A pause long enough that the change log's millisecond times of the
/// writes on either side of an instant differ from it.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(15)).await;
}

/// An ION incremental line in DynamoDB JSON's shape, for the checks both
/// formats share (strings, numbers and maps are all its items hold).
fn ion_change_as_json(line: &str) -> Value {
    fn typed(v: &ion_rs::Element) -> Value {
        if let Some(text) = v.as_string() {
            return serde_json::json!({ "S": text });
        }
        if let Some(d) = v.as_decimal() {
            return serde_json::json!({ "N": d.to_string().trim_end_matches('.') });
        }
        serde_json::json!({ "M": item(v) })
    }
    fn item(v: &ion_rs::Element) -> Value {
        let fields = v.as_struct().expect("an Ion struct");
        fields
            .fields()
            .map(|(name, v)| (name.text().unwrap_or_default().to_owned(), typed(v)))
            .collect()
    }
    let value = ion_rs::Element::read_one(line.as_bytes()).expect("one Ion value");
    let fields = value.as_struct().expect("an Ion struct");
    fields
        .fields()
        .map(|(name, v)| (name.text().unwrap_or_default().to_owned(), item(v)))
        .collect()
}

/// Changes before, inside and after a window: the incremental export holds
/// one line per item changed inside it, with its image before the window
/// and after it (none once deleted), and nothing else — in DynamoDB JSON
/// and in Ion.
async fn incremental_window(buckets: Buckets) {
    buckets.create(BUCKET).await;
    let server = store_with(&buckets).await;
    let client = server.client();
    let created = TableSpec::new("events")
        .hash("pk", T::S)
        .create(&client)
        .await;
    let table_arn = created.table_arn().expect("arn").to_owned();
    enable_pitr(&client, "events").await;
    let put = |k: &'static str, v: i64| {
        let client = client.clone();
        async move {
            client
                .put_item()
                .table_name("events")
                .item("pk", s(k))
                .item("v", n(v))
                .send()
                .await
                .expect("put");
        }
    };
    put("kept", 1).await;
    put("changed", 1).await;
    put("deleted", 1).await;
    tick().await;
    let from = now();
    tick().await;
    put("changed", 2).await;
    put("changed", 3).await;
    client
        .delete_item()
        .table_name("events")
        .key("pk", s("deleted"))
        .send()
        .await
        .expect("delete");
    put("created", 1).await;
    tick().await;
    let to = now();
    tick().await;
    put("changed", 4).await;
    put("late", 1).await;

    for (view, format) in [
        (ExportViewType::NewAndOldImages, ExportFormat::DynamodbJson),
        (ExportViewType::NewImage, ExportFormat::DynamodbJson),
        (ExportViewType::NewAndOldImages, ExportFormat::Ion),
    ] {
        let arn = client
            .export_table_to_point_in_time()
            .table_arn(&table_arn)
            .s3_bucket(BUCKET)
            .export_format(format.clone())
            .export_type(ExportType::IncrementalExport)
            .incremental_export_specification(
                IncrementalExportSpecification::builder()
                    .export_from_time(from)
                    .export_to_time(to)
                    .export_view_type(view.clone())
                    .build(),
            )
            .send()
            .await
            .expect("incremental export")
            .export_description
            .and_then(|d| d.export_arn)
            .expect("arn");
        let done = finished_export(&client, &arn).await;
        assert_eq!(
            done.export_status(),
            Some(&ExportStatus::Completed),
            "{done:?}"
        );
        assert_eq!(done.export_type(), Some(&ExportType::IncrementalExport));
        assert_eq!(done.item_count(), Some(3));
        let id = arn.rsplit('/').next().expect("id");
        let base = format!("AWSDynamoDB/{id}");
        let files = String::from_utf8(
            buckets
                .get(BUCKET, &format!("{base}/manifest-files.json"))
                .await,
        )
        .expect("manifest");
        let mut lines: Vec<Value> = Vec::new();
        for entry in files.lines() {
            let entry: Value = serde_json::from_str(entry).expect("entry");
            let data = buckets
                .get(BUCKET, entry["dataFileS3Key"].as_str().expect("key"))
                .await;
            let text = gunzip(&data);
            if format == ExportFormat::Ion {
                let mut ion_lines = text.lines();
                assert_eq!(ion_lines.next(), Some("$ion_1_0"));
                lines.extend(ion_lines.map(ion_change_as_json));
                continue;
            }
            for line in text.lines() {
                lines.push(serde_json::from_str(line).expect("line"));
            }
        }
        lines.sort_by_key(|l| l["Keys"]["pk"]["S"].as_str().unwrap_or_default().to_owned());
        let keys: Vec<&str> = lines
            .iter()
            .map(|l| l["Keys"]["pk"]["S"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(keys, ["changed", "created", "deleted"]);
        let with_old = view == ExportViewType::NewAndOldImages;
        let (changed, created, deleted) = (&lines[0], &lines[1], &lines[2]);
        assert_eq!(changed["NewImage"]["v"]["N"], "3");
        assert_eq!(created["NewImage"]["v"]["N"], "1");
        assert!(deleted.get("NewImage").is_none(), "{deleted}");
        assert!(changed["Metadata"]["WriteTimestampMicros"]["N"].is_string());
        if with_old {
            assert_eq!(changed["OldImage"]["v"]["N"], "1");
            assert_eq!(deleted["OldImage"]["v"]["N"], "1");
            assert!(created.get("OldImage").is_none(), "{created}");
        } else {
            assert!(lines.iter().all(|l| l.get("OldImage").is_none()));
        }
        let summary: Value = serde_json::from_slice(
            &buckets
                .get(BUCKET, &format!("{base}/manifest-summary.json"))
                .await,
        )
        .expect("summary");
        assert_eq!(summary["exportType"], "INCREMENTAL_EXPORT");
    }
}

#[tokio::test]
async fn incremental_export_holds_exactly_the_window_changes_in_a_folder() {
    incremental_window(Buckets::folder()).await;
}

#[tokio::test]
async fn incremental_export_holds_exactly_the_window_changes_in_moto_s3() {
    if let Some(buckets) = Buckets::moto().await {
        incremental_window(buckets).await;
    }
}

#[tokio::test]
async fn export_errors_are_dynamodbs() {
    let buckets = Buckets::folder();
    let server = store_with(&buckets).await;
    let client = server.client();
    let created = TableSpec::new("tbl").hash("pk", T::S).create(&client).await;
    let arn = created.table_arn().expect("arn").to_owned();

    let err = client
        .export_table_to_point_in_time()
        .table_arn(&arn)
        .s3_bucket(BUCKET)
        .send()
        .await
        .expect_err("point-in-time recovery is off")
        .into_service_error();
    assert_error(
        &err,
        "PointInTimeRecoveryUnavailableException",
        "Point in time recovery is not enabled for table 'tbl'",
    );
    enable_pitr(&client, "tbl").await;

    let err = client
        .export_table_to_point_in_time()
        .table_arn("arn:aws:dynamodb:us-east-1:000000000000:table/missing")
        .s3_bucket(BUCKET)
        .send()
        .await
        .expect_err("no such table")
        .into_service_error();
    assert_error(&err, "TableNotFoundException", "missing");

    let err = client
        .export_table_to_point_in_time()
        .table_arn(&arn)
        .s3_bucket(BUCKET)
        .export_time(DateTime::from_secs(4_000_000_000))
        .send()
        .await
        .expect_err("future export time")
        .into_service_error();
    assert_error(&err, "InvalidExportTimeException", "future");

    let err = client
        .export_table_to_point_in_time()
        .table_arn(&arn)
        .s3_bucket(BUCKET)
        .export_type(ExportType::IncrementalExport)
        .incremental_export_specification(
            IncrementalExportSpecification::builder()
                .export_from_time(now())
                .export_to_time(DateTime::from_secs(1_000_000))
                .build(),
        )
        .send()
        .await
        .expect_err("window ends before it starts")
        .into_service_error();
    assert_error(&err, "InvalidExportTimeException", "ExportFromTime");

    let err = client
        .describe_export()
        .export_arn(format!("{arn}/export/01700000000000-deadbeef"))
        .send()
        .await
        .expect_err("no such export")
        .into_service_error();
    assert_error(&err, "ExportNotFoundException", "01700000000000-deadbeef");

    let err = client
        .export_table_to_point_in_time()
        .table_arn(&arn)
        .s3_bucket(BUCKET)
        .export_format(ExportFormat::from("CSV"))
        .send()
        .await
        .expect_err("bad format")
        .into_service_error();
    assert_error(
        &err,
        "ValidationException",
        "Value 'CSV' at 'exportFormat' failed to satisfy constraint: Member must satisfy enum value set: [DYNAMODB_JSON, ION]",
    );

    // The same client token with other parameters conflicts; with the same
    // ones it answers the first export again.
    let first = client
        .export_table_to_point_in_time()
        .table_arn(&arn)
        .s3_bucket(BUCKET)
        .client_token("token-1")
        .send()
        .await
        .expect("export")
        .export_description
        .and_then(|d| d.export_arn)
        .expect("arn");
    let again = client
        .export_table_to_point_in_time()
        .table_arn(&arn)
        .s3_bucket(BUCKET)
        .client_token("token-1")
        .send()
        .await
        .expect("same export")
        .export_description
        .and_then(|d| d.export_arn)
        .expect("arn");
    assert_eq!(first, again);
    let err = client
        .export_table_to_point_in_time()
        .table_arn(&arn)
        .s3_bucket("another-bucket")
        .client_token("token-1")
        .send()
        .await
        .expect_err("token reused")
        .into_service_error();
    assert_error(&err, "ExportConflictException", "client token");
    finished_export(&client, &first).await;
}

#[tokio::test]
async fn list_exports_filters_by_table_and_pages() {
    let buckets = Buckets::folder();
    let server = store_with(&buckets).await;
    let client = server.client();
    let a = TableSpec::new("aaa").hash("pk", T::S).create(&client).await;
    let b = TableSpec::new("bbb").hash("pk", T::S).create(&client).await;
    let a_arn = a.table_arn().expect("arn").to_owned();
    let b_arn = b.table_arn().expect("arn").to_owned();
    enable_pitr(&client, "aaa").await;
    enable_pitr(&client, "bbb").await;
    let mut arns = Vec::new();
    for _ in 0..3 {
        arns.push(export(&client, &a_arn, "p", ExportFormat::DynamodbJson).await);
    }
    export(&client, &b_arn, "p", ExportFormat::DynamodbJson).await;
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_exports()
            .table_arn(&a_arn)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("list exports");
        assert!(page.export_summaries().len() <= 2);
        seen.extend(
            page.export_summaries()
                .iter()
                .map(|e| e.export_arn().unwrap_or_default().to_owned()),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, arns);
    let all = client.list_exports().send().await.expect("list all");
    assert_eq!(all.export_summaries().len(), 4);
    for arn in &arns {
        finished_export(&client, arn).await;
    }
}

/// A full export at an ExportTime in the past is the table as it was then:
/// later updates undone, later deletes restored, later inserts absent.
#[tokio::test]
async fn full_export_at_a_past_time_holds_the_table_as_it_was() {
    let buckets = Buckets::folder();
    buckets.create(BUCKET).await;
    let server = store_with(&buckets).await;
    let client = server.client();
    let created = TableSpec::new("history")
        .hash("pk", T::S)
        .create(&client)
        .await;
    let table_arn = created.table_arn().expect("arn").to_owned();
    enable_pitr(&client, "history").await;
    for (k, v) in [("a", 1), ("b", 1)] {
        client
            .put_item()
            .table_name("history")
            .item("pk", s(k))
            .item("v", n(v))
            .send()
            .await
            .expect("put");
    }
    tick().await;
    let then = now();
    tick().await;
    client
        .put_item()
        .table_name("history")
        .item("pk", s("a"))
        .item("v", n(2))
        .send()
        .await
        .expect("update");
    client
        .delete_item()
        .table_name("history")
        .key("pk", s("b"))
        .send()
        .await
        .expect("delete");
    client
        .put_item()
        .table_name("history")
        .item("pk", s("c"))
        .item("v", n(1))
        .send()
        .await
        .expect("insert");
    let arn = client
        .export_table_to_point_in_time()
        .table_arn(&table_arn)
        .s3_bucket(BUCKET)
        .export_time(then)
        .send()
        .await
        .expect("export")
        .export_description
        .and_then(|d| d.export_arn)
        .expect("arn");
    let done = finished_export(&client, &arn).await;
    assert_eq!(
        done.export_status(),
        Some(&ExportStatus::Completed),
        "{done:?}"
    );
    assert_eq!(done.item_count(), Some(2));
    let base = format!("AWSDynamoDB/{}", arn.rsplit('/').next().expect("id"));
    let files = String::from_utf8(
        buckets
            .get(BUCKET, &format!("{base}/manifest-files.json"))
            .await,
    )
    .expect("manifest");
    let mut seen = Vec::new();
    for entry in files.lines() {
        let entry: Value = serde_json::from_str(entry).expect("entry");
        let data = buckets
            .get(BUCKET, entry["dataFileS3Key"].as_str().expect("key"))
            .await;
        for line in gunzip(&data).lines() {
            let v: Value = serde_json::from_str(line).expect("line");
            seen.push((
                v["Item"]["pk"]["S"].as_str().unwrap_or_default().to_owned(),
                v["Item"]["v"]["N"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "1".to_owned())
        ]
    );
}
