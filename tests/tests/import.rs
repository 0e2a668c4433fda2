//! ImportTable, DescribeImport, ListImports: CSV (with a header or a
//! HeaderList, any delimiter), DynamoDB JSON and Amazon Ion, uncompressed or GZIP or
//! ZSTD, from a folder and from moto's S3 server; bad lines counted and
//! logged, never dropped silently; an import that fails leaves no table.

use std::io::Write;

use aws_sdk_dynamodb::types::{
    AttributeValue, CsvOptions, ImportStatus, InputCompressionType, InputFormat,
    InputFormatOptions, S3BucketSource, ScalarAttributeType as T, TableStatus,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::buckets::Buckets;
use ferrodyn_tests::transfers::{all_items, finished_import, simple_table, store_with};
use ferrodyn_tests::{assert_error, b, bs, l, m, n, ns, s, ss, TableSpec};

const BUCKET: &str = "imports";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

fn source(prefix: &str) -> S3BucketSource {
    S3BucketSource::builder()
        .s3_bucket(BUCKET)
        .s3_key_prefix(prefix)
        .build()
        .expect("source")
}

async fn start_import(
    client: &Client,
    prefix: &str,
    format: InputFormat,
    compression: InputCompressionType,
    csv: Option<CsvOptions>,
    table: &str,
    key_type: T,
) -> String {
    client
        .import_table()
        .s3_bucket_source(source(prefix))
        .input_format(format)
        .input_compression_type(compression)
        .set_input_format_options(csv.map(|c| InputFormatOptions::builder().csv(c).build()))
        .table_creation_parameters(simple_table(table, key_type))
        .send()
        .await
        .expect("import")
        .import_table_description
        .and_then(|d| d.import_arn)
        .expect("import arn")
}

/// 100,000 CSV lines in two gzip files, 10 of them malformed: 99,990 items,
/// 10 errors each logged with its object and line, the table ACTIVE and the
/// import FAILED with DynamoDB's ItemValidationError.
async fn csv_with_bad_lines(buckets: Buckets) {
    buckets.create(BUCKET).await;
    let server = store_with(&buckets).await;
    let client = server.client();
    let bad: [usize; 10] = [
        3, 17, 999, 12_345, 40_000, 50_001, 66_666, 77_777, 88_888, 99_999,
    ];
    let mut files = [
        String::from("pk,name,note\n"),
        String::from("pk,name,note\n"),
    ];
    for i in 0..100_000usize {
        let line = if let Some(which) = bad.iter().position(|&b| b == i) {
            match which % 5 {
                0 => format!("not-a-number-{i},x,y\n"),
                1 => format!("{i},only-two\n"),
                2 => format!("{i},\"unclosed,z\n"),
                3 => ",missing key,z\n".to_owned(),
                _ => format!("{i},a,b,c\n"),
            }
        } else {
            format!("{i},name {i},\"quoted, with comma\"\n")
        };
        files[i / 50_000].push_str(&line);
    }
    for (f, text) in files.iter().enumerate() {
        buckets
            .put(
                BUCKET,
                &format!("big/part-{f}.csv.gz"),
                gzip(text.as_bytes()),
            )
            .await;
    }
    let arn = start_import(
        &client,
        "big/part-",
        InputFormat::Csv,
        InputCompressionType::Gzip,
        None,
        "people",
        T::N,
    )
    .await;
    let d = finished_import(&client, &arn).await;
    assert_eq!(d.import_status(), Some(&ImportStatus::Failed), "{d:?}");
    assert_eq!(d.failure_code(), Some("ItemValidationError"));
    assert_eq!(d.imported_item_count(), 99_990);
    assert_eq!(d.processed_item_count(), 100_000);
    assert_eq!(d.error_count(), 10);
    assert!(d.processed_size_bytes().unwrap_or(0) > 0);
    assert_eq!(
        d.cloud_watch_log_group_arn(),
        Some("arn:aws:logs:us-east-1:000000000000:log-group:/aws-dynamodb/imports:*")
    );
    let table = client
        .describe_table()
        .table_name("people")
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    assert_eq!(table.table_status(), Some(&TableStatus::Active));
    let mut count = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name("people")
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("count");
        count += page.count();
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(count, 99_990);
    let one = client
        .get_item()
        .table_name("people")
        .key("pk", ferrodyn_tests::n(4))
        .send()
        .await
        .expect("get")
        .item
        .expect("item 4");
    assert_eq!(one["name"], ferrodyn_tests::s("name 4"));
    assert_eq!(one["note"], ferrodyn_tests::s("quoted, with comma"));

    // The error log: one event per bad line, naming its object and line.
    let id = arn.rsplit('/').next().expect("id");
    let log = server
        .dir
        .path()
        .join("transfers/imports")
        .join(format!("{id}.errors.jsonl"));
    let log = std::fs::read_to_string(&log).expect("error log");
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    assert_eq!(events.len(), 10);
    let mut pointers: Vec<(String, u64)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["importArn"], arn.as_str());
            assert!(e["errorMessages"][0]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            (
                e["itemS3Pointer"]["key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["itemS3Pointer"]["itemIndex"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    pointers.sort();
    // Line indexes count the header as line 0 of each object.
    let expected: Vec<(String, u64)> = bad
        .iter()
        .map(|&i| {
            (
                format!("big/part-{}.csv.gz", i / 50_000),
                (i % 50_000 + 1) as u64,
            )
        })
        .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(pointers, expected);
}

#[tokio::test]
async fn csv_import_counts_and_logs_malformed_lines_from_a_folder() {
    csv_with_bad_lines(Buckets::folder()).await;
}

#[tokio::test]
async fn csv_import_counts_and_logs_malformed_lines_from_moto_s3() {
    if let Some(buckets) = Buckets::moto().await {
        csv_with_bad_lines(buckets).await;
    }
}

/// Amazon Ion: text with the version marker, good items (one running over
/// two lines, two on one line) and three bad values — an unclosed struct, a
/// key of the wrong type, a float (no DynamoDB type) — each counted and
/// logged with its line, and a binary Ion object; every good item imported
/// with exact numbers and every type.
async fn ion_with_bad_values(buckets: Buckets) {
    buckets.create(BUCKET).await;
    let server = store_with(&buckets).await;
    let client = server.client();
    let text = concat!(
        "$ion_1_0\n",
        "{Item:{pk:\"a\",n:12345678901234567890123456789012345678.,tags:$dynamodb_SS::[\"x\",\"y\"]}}\n",
        "{Item:{pk:\"c\",\n",
        "  m:{l:[1.5,null,true,{{aGk=}}],ns:$dynamodb_NS::[1d-3,7],bs:$dynamodb_BS::[{{AA==}}]}}}\n",
        "{Item:{pk:\"b\",oops:}\n",
        "{Item:{pk:7}}\n",
        "{Item:{pk:\"f\",x:1e0}}\n",
        "{Item:{pk:\"d\"}} {Item:{pk:\"e\",big:-0.00000000000000000000000000000000000000000001}}\n",
    );
    buckets
        .put(BUCKET, "ion/part-0.ion.gz", gzip(text.as_bytes()))
        .await;
    // Binary Ion too: an object of its own, opening with the binary marker.
    let mut binary = Vec::new();
    for value in [
        "{Item:{pk:\"g\",ns:$dynamodb_NS::[1.5,2.]}}",
        "{Item:{pk:\"h\",big:12345678901234567890123456789012345678.}}",
    ] {
        binary = ion_rs::Element::read_one(value)
            .expect("an Ion value")
            .encode_to(binary, ion_rs::v1_0::Binary)
            .expect("binary Ion");
    }
    buckets
        .put(BUCKET, "ion/part-1.ion.gz", gzip(&binary))
        .await;
    let arn = start_import(
        &client,
        "ion/",
        InputFormat::Ion,
        InputCompressionType::Gzip,
        None,
        "ionic",
        T::S,
    )
    .await;
    let d = finished_import(&client, &arn).await;
    assert_eq!(d.import_status(), Some(&ImportStatus::Failed), "{d:?}");
    assert_eq!(d.failure_code(), Some("ItemValidationError"));
    let id = arn.rsplit('/').next().expect("id");
    let log = server
        .dir
        .path()
        .join("transfers/imports")
        .join(format!("{id}.errors.jsonl"));
    let log = std::fs::read_to_string(&log).expect("error log");
    assert_eq!(d.imported_item_count(), 6, "{log}");
    assert_eq!(d.processed_item_count(), 9);
    assert_eq!(d.error_count(), 3);
    let items = all_items(&client, "ionic").await;
    let item = |pk: &str| {
        items
            .iter()
            .find(|i| i["pk"] == s(pk))
            .unwrap_or_else(|| panic!("item {pk} in {items:?}"))
    };
    assert_eq!(items.len(), 6);
    assert_eq!(item("g")["ns"], ns(&["1.5", "2"]));
    assert_eq!(
        item("h")["big"],
        n("12345678901234567890123456789012345678")
    );
    assert_eq!(item("a")["n"], n("12345678901234567890123456789012345678"));
    assert_eq!(item("a")["tags"], ss(&["x", "y"]));
    assert_eq!(
        item("c")["m"],
        m([
            (
                "l",
                l(vec![
                    n("1.5"),
                    AttributeValue::Null(true),
                    AttributeValue::Bool(true),
                    b(b"hi"),
                ])
            ),
            ("ns", ns(&["0.001", "7"])),
            ("bs", bs(&[&[0u8]])),
        ])
    );
    assert_eq!(item("d").len(), 1);
    assert_eq!(
        item("e")["big"],
        n("-0.00000000000000000000000000000000000000000001")
    );

    let mut lines: Vec<u64> = log
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).expect("event");
            assert_eq!(e["itemS3Pointer"]["key"], "ion/part-0.ion.gz");
            e["itemS3Pointer"]["itemIndex"].as_u64().unwrap_or(u64::MAX)
        })
        .collect();
    lines.sort();
    assert_eq!(lines, [4, 5, 6], "{log}");
}

#[tokio::test]
async fn ion_import_counts_and_logs_malformed_values_from_a_folder() {
    ion_with_bad_values(Buckets::folder()).await;
}

#[tokio::test]
async fn ion_import_counts_and_logs_malformed_values_from_moto_s3() {
    if let Some(buckets) = Buckets::moto().await {
        ion_with_bad_values(buckets).await;
    }
}

/// GZIP and ZSTD inputs, DynamoDB JSON and CSV with a HeaderList and a
/// delimiter: each imports every item.
async fn compressions(buckets: Buckets) {
    buckets.create(BUCKET).await;
    let server = store_with(&buckets).await;
    let client = server.client();
    let json: String = (0..50)
        .map(|i| format!("{{\"Item\":{{\"pk\":{{\"S\":\"k{i}\"}},\"n\":{{\"N\":\"{i}\"}}}}}}\n"))
        .collect();
    buckets
        .put(
            BUCKET,
            "json/zstd/data.json.zst",
            zstd::encode_all(json.as_bytes(), 3).expect("zstd"),
        )
        .await;
    buckets
        .put(BUCKET, "json/gzip/data.json.gz", gzip(json.as_bytes()))
        .await;
    buckets
        .put(BUCKET, "json/plain/data.json", json.clone().into_bytes())
        .await;
    let csv: String = (0..50).map(|i| format!("k{i}|v{i}\n")).collect();
    buckets
        .put(
            BUCKET,
            "csv/data.csv.zst",
            zstd::encode_all(csv.as_bytes(), 3).expect("zstd"),
        )
        .await;

    for (prefix, compression, table) in [
        ("json/zstd/", InputCompressionType::Zstd, "from-zstd"),
        ("json/gzip/", InputCompressionType::Gzip, "from-gzip"),
        ("json/plain/", InputCompressionType::None, "from-plain"),
    ] {
        let arn = start_import(
            &client,
            prefix,
            InputFormat::DynamodbJson,
            compression,
            None,
            table,
            T::S,
        )
        .await;
        let d = finished_import(&client, &arn).await;
        assert_eq!(
            d.import_status(),
            Some(&ImportStatus::Completed),
            "{table}: {d:?}"
        );
        assert_eq!(d.imported_item_count(), 50, "{table}");
        let items = all_items(&client, table).await;
        assert_eq!(items.len(), 50);
        assert!(items.iter().all(|i| matches!(
            i.get("n"),
            Some(aws_sdk_dynamodb::types::AttributeValue::N(_))
        )));
    }
    let csv_options = CsvOptions::builder()
        .delimiter("|")
        .header_list("pk")
        .header_list("value")
        .build();
    let arn = start_import(
        &client,
        "csv/",
        InputFormat::Csv,
        InputCompressionType::Zstd,
        Some(csv_options),
        "from-csv",
        T::S,
    )
    .await;
    let d = finished_import(&client, &arn).await;
    assert_eq!(d.import_status(), Some(&ImportStatus::Completed), "{d:?}");
    // With a HeaderList the first line is data.
    assert_eq!(d.imported_item_count(), 50);
    let first = client
        .get_item()
        .table_name("from-csv")
        .key("pk", ferrodyn_tests::s("k0"))
        .send()
        .await
        .expect("get")
        .item
        .expect("first line imported");
    assert_eq!(first["value"], ferrodyn_tests::s("v0"));
}

#[tokio::test]
async fn gzip_zstd_and_header_list_inputs_import_from_a_folder() {
    compressions(Buckets::folder()).await;
}

#[tokio::test]
async fn gzip_zstd_and_header_list_inputs_import_from_moto_s3() {
    if let Some(buckets) = Buckets::moto().await {
        compressions(buckets).await;
    }
}

#[tokio::test]
async fn import_errors_are_dynamodbs_and_a_failed_import_leaves_no_table() {
    let buckets = Buckets::folder();
    buckets.create(BUCKET).await;
    let server = store_with(&buckets).await;
    let client = server.client();
    buckets
        .put(
            BUCKET,
            "one.json",
            b"{\"Item\":{\"pk\":{\"S\":\"a\"}}}\n".to_vec(),
        )
        .await;
    TableSpec::new("taken")
        .hash("pk", T::S)
        .create(&client)
        .await;

    let err = client
        .import_table()
        .s3_bucket_source(source("one.json"))
        .input_format(InputFormat::DynamodbJson)
        .table_creation_parameters(simple_table("taken", T::S))
        .send()
        .await
        .expect_err("table exists")
        .into_service_error();
    assert_error(
        &err,
        "ResourceInUseException",
        "Table already exists: taken",
    );

    let err = client
        .describe_import()
        .import_arn(
            "arn:aws:dynamodb:us-east-1:000000000000:table/x/import/01700000000000-deadbeef",
        )
        .send()
        .await
        .expect_err("no such import")
        .into_service_error();
    assert_error(&err, "ImportNotFoundException", "01700000000000-deadbeef");

    let err = client
        .import_table()
        .s3_bucket_source(source("one.json"))
        .input_format(InputFormat::from("XML"))
        .table_creation_parameters(simple_table("tab1", T::S))
        .send()
        .await
        .expect_err("bad format")
        .into_service_error();
    assert_error(
        &err,
        "ValidationException",
        "Value 'XML' at 'inputFormat' failed to satisfy constraint: Member must satisfy enum value set: [DYNAMODB_JSON, ION, CSV]",
    );

    // A client token names one import: reused with another source it conflicts.
    let first = client
        .import_table()
        .client_token("tok")
        .s3_bucket_source(source("one.json"))
        .input_format(InputFormat::DynamodbJson)
        .table_creation_parameters(simple_table("tab2", T::S))
        .send()
        .await
        .expect("import")
        .import_table_description
        .and_then(|d| d.import_arn)
        .expect("arn");
    let err = client
        .import_table()
        .client_token("tok")
        .s3_bucket_source(source("other.json"))
        .input_format(InputFormat::DynamodbJson)
        .table_creation_parameters(simple_table("tab2", T::S))
        .send()
        .await
        .expect_err("token reused")
        .into_service_error();
    assert_error(&err, "ImportConflictException", "client token");
    let d = finished_import(&client, &first).await;
    assert_eq!(d.import_status(), Some(&ImportStatus::Completed), "{d:?}");
    assert_eq!(d.imported_item_count(), 1);

    // A bucket that does not exist: the import fails and its table goes.
    let arn = client
        .import_table()
        .s3_bucket_source(
            S3BucketSource::builder()
                .s3_bucket("no-such-bucket")
                .build()
                .expect("source"),
        )
        .input_format(InputFormat::DynamodbJson)
        .table_creation_parameters(simple_table("doomed", T::S))
        .send()
        .await
        .expect("accepted")
        .import_table_description
        .and_then(|d| d.import_arn)
        .expect("arn");
    let d = finished_import(&client, &arn).await;
    assert_eq!(d.import_status(), Some(&ImportStatus::Failed), "{d:?}");
    assert!(d.failure_code().is_some() && d.failure_message().is_some());
    let err = client
        .describe_table()
        .table_name("doomed")
        .send()
        .await
        .expect_err("the failed import's table is gone")
        .into_service_error();
    assert_error(&err, "ResourceNotFoundException", "doomed");

    // ListImports filters by table.
    let listed = client
        .list_imports()
        .table_arn("arn:aws:dynamodb:us-east-1:000000000000:table/tab2")
        .send()
        .await
        .expect("list imports");
    let arns: Vec<&str> = listed
        .import_summary_list()
        .iter()
        .filter_map(|i| i.import_arn())
        .collect();
    assert_eq!(arns, [first.as_str()]);
    assert_eq!(
        client
            .list_imports()
            .send()
            .await
            .expect("list")
            .import_summary_list()
            .len(),
        2
    );
}
