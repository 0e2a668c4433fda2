//! A single-table design through the AWS SDK: customers, orders and order
//! lines share one table and one overloaded GSI (`GSI1PK`/`GSI1SK`), and
//! five access patterns are answered with one request each — run against
//! the store and through the proxy, which must give the same answers.
//!
//! Layout (generic key names, as single-table designs use them):
//!
//! | entity     | PK            | SK                | GSI1PK         | GSI1SK           |
//! |------------|---------------|-------------------|----------------|------------------|
//! | customer   | `CUST#<id>`   | `PROFILE`         | `EMAIL#<mail>` | `CUST#<id>`      |
//! | order      | `CUST#<id>`   | `ORDER#<date>#<o>`| `ORDER#<o>`    | `ORDER#<o>`      |
//! | order line | `LINE#<o>#<p>`| `LINE#<o>#<p>`    | `ORDER#<o>`    | `PRODUCT#<p>`    |
//!
//! A cart (`CART#<id>`) carries no GSI attributes, so the sparse index
//! leaves it out.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue as Av, ScalarAttributeType, Select};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::items::put_all;
use ferrodyn_tests::values::text;
use ferrodyn_tests::{n, s, IndexSpec, TableSpec, TestProxy, TestStore};

const TABLE: &str = "app";
const CUSTOMERS: usize = 6;
const ORDERS_PER_CUSTOMER: usize = 8;
const LINES_PER_ORDER: usize = 3;

/// `PK`/`SK` and the overloaded GSI `GSI1` (`GSI1PK`/`GSI1SK`), all strings.
fn app_table() -> TableSpec {
    TableSpec::new(TABLE)
        .hash("PK", ScalarAttributeType::S)
        .range("SK", ScalarAttributeType::S)
        .gsi(
            IndexSpec::new("GSI1")
                .hash("GSI1PK", ScalarAttributeType::S)
                .range("GSI1SK", ScalarAttributeType::S),
        )
}

fn customer_id(c: usize) -> String {
    format!("c{c:02}")
}

fn order_id(c: usize, o: usize) -> String {
    format!("o{c:02}{o:02}")
}

/// Order `o` of every customer is dated in month `o + 1` of 2026.
fn order_date(o: usize) -> String {
    format!("2026-{:02}-15", o + 1)
}

fn status(c: usize, o: usize) -> &'static str {
    if (c + o).is_multiple_of(3) {
        "SHIPPED"
    } else {
        "PLACED"
    }
}

/// Every entity, written with BatchWriteItem (25 per request).
async fn load(client: &Client) {
    let mut items: Vec<HashMap<String, Av>> = Vec::new();
    for c in 0..CUSTOMERS {
        let id = customer_id(c);
        items.push(HashMap::from([
            ("PK".into(), s(&format!("CUST#{id}"))),
            ("SK".into(), s("PROFILE")),
            ("GSI1PK".into(), s(&format!("EMAIL#{id}@example.com"))),
            ("GSI1SK".into(), s(&format!("CUST#{id}"))),
            ("Type".into(), s("customer")),
            ("Name".into(), s(&format!("Customer {c}"))),
        ]));
        items.push(HashMap::from([
            ("PK".into(), s(&format!("CART#{id}"))),
            ("SK".into(), s("CART")),
            ("Type".into(), s("cart")),
        ]));
        for o in 0..ORDERS_PER_CUSTOMER {
            let oid = order_id(c, o);
            items.push(HashMap::from([
                ("PK".into(), s(&format!("CUST#{id}"))),
                ("SK".into(), s(&format!("ORDER#{}#{oid}", order_date(o)))),
                ("GSI1PK".into(), s(&format!("ORDER#{oid}"))),
                ("GSI1SK".into(), s(&format!("ORDER#{oid}"))),
                ("Type".into(), s("order")),
                ("Status".into(), s(status(c, o))),
                ("Total".into(), n((c * 100 + o) as i64)),
            ]));
            for p in 0..LINES_PER_ORDER {
                let key = format!("LINE#{oid}#p{p}");
                items.push(HashMap::from([
                    ("PK".into(), s(&key)),
                    ("SK".into(), s(&key)),
                    ("GSI1PK".into(), s(&format!("ORDER#{oid}"))),
                    ("GSI1SK".into(), s(&format!("PRODUCT#p{p}"))),
                    ("Type".into(), s("line")),
                    ("Quantity".into(), n((p + 1) as i64)),
                ]));
            }
        }
    }
    put_all(client, TABLE, &items).await;
}

/// Pattern 1: a customer's profile by id (GetItem on the base table).
async fn customer_by_id(client: &Client) {
    let out = client
        .get_item()
        .table_name(TABLE)
        .key("PK", s("CUST#c03"))
        .key("SK", s("PROFILE"))
        .send()
        .await
        .expect("get customer");
    let item = out.item().expect("customer c03 exists");
    assert_eq!(text(item, "Name"), "Customer 3");
}

/// Pattern 2: a customer by e-mail address (equality on the overloaded GSI).
async fn customer_by_email(client: &Client) {
    let out = client
        .query()
        .table_name(TABLE)
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :e")
        .expression_attribute_values(":e", s("EMAIL#c04@example.com"))
        .send()
        .await
        .expect("query by email");
    let items = out.items();
    assert_eq!(items.len(), 1);
    assert_eq!(text(&items[0], "PK"), "CUST#c04");
    assert_eq!(text(&items[0], "Type"), "customer");
}

/// Pattern 3: a customer's orders in a date range, newest first, without
/// the profile that shares the partition.
async fn orders_in_range_newest_first(client: &Client) {
    let out = client
        .query()
        .table_name(TABLE)
        .key_condition_expression("PK = :c AND SK BETWEEN :from AND :to")
        .expression_attribute_values(":c", s("CUST#c02"))
        .expression_attribute_values(":from", s("ORDER#2026-03"))
        .expression_attribute_values(":to", s("ORDER#2026-06-99"))
        .scan_index_forward(false)
        .send()
        .await
        .expect("orders in range");
    let dates: Vec<&str> = out
        .items()
        .iter()
        .map(|i| &text(i, "SK")["ORDER#".len().."ORDER#".len() + 10])
        .collect();
    assert_eq!(
        dates,
        ["2026-06-15", "2026-05-15", "2026-04-15", "2026-03-15"]
    );
    assert!(out.items().iter().all(|i| text(i, "Type") == "order"));
}

/// Pattern 4: an order with all its lines, from one GSI partition: the
/// order sorts before its lines (`ORDER#` < `PRODUCT#`).
async fn order_with_lines(client: &Client) {
    let out = client
        .query()
        .table_name(TABLE)
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :o")
        .expression_attribute_values(":o", s("ORDER#o0105"))
        .send()
        .await
        .expect("order with lines");
    let types: Vec<&str> = out.items().iter().map(|i| text(i, "Type")).collect();
    assert_eq!(types, ["order", "line", "line", "line"]);
    assert_eq!(text(&out.items()[0], "SK"), "ORDER#2026-06-15#o0105");
    let products: Vec<&str> = out.items()[1..].iter().map(|i| text(i, "GSI1SK")).collect();
    assert_eq!(products, ["PRODUCT#p0", "PRODUCT#p1", "PRODUCT#p2"]);
}

/// Pattern 5: how many of a customer's orders have shipped — the filter runs
/// after the key condition, so ScannedCount counts what was read.
async fn shipped_order_count(client: &Client) {
    let c = 1;
    let out = client
        .query()
        .table_name(TABLE)
        .key_condition_expression("PK = :c AND begins_with(SK, :order)")
        .filter_expression("#s = :shipped")
        .expression_attribute_names("#s", "Status")
        .expression_attribute_values(":c", s("CUST#c01"))
        .expression_attribute_values(":order", s("ORDER#"))
        .expression_attribute_values(":shipped", s("SHIPPED"))
        .select(Select::Count)
        .send()
        .await
        .expect("shipped count");
    let expected = (0..ORDERS_PER_CUSTOMER)
        .filter(|&o| status(c, o) == "SHIPPED")
        .count();
    assert_eq!(out.count() as usize, expected);
    assert_eq!(out.scanned_count() as usize, ORDERS_PER_CUSTOMER);
    assert!(out.items().is_empty());
}

/// The overloaded GSI is sparse: carts (no GSI attributes) are absent.
async fn sparse_index_leaves_out_carts(client: &Client) {
    let mut index_items = 0;
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(TABLE)
            .index_name("GSI1")
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan index");
        assert!(out.items().iter().all(|i| text(i, "Type") != "cart"));
        index_items += out.items().len();
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    let with_gsi = CUSTOMERS * (1 + ORDERS_PER_CUSTOMER * (1 + LINES_PER_ORDER));
    assert_eq!(index_items, with_gsi);
}

async fn answer_every_access_pattern(client: &Client) {
    app_table().create(client).await;
    load(client).await;
    customer_by_id(client).await;
    customer_by_email(client).await;
    orders_in_range_newest_first(client).await;
    order_with_lines(client).await;
    shipped_order_count(client).await;
    sparse_index_leaves_out_carts(client).await;
}

#[tokio::test]
async fn single_table_design_answers_five_access_patterns_on_the_store() {
    let store = TestStore::start().await;
    answer_every_access_pattern(&store.client()).await;
}

#[tokio::test]
async fn single_table_design_answers_five_access_patterns_through_the_proxy() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    answer_every_access_pattern(&client).await;
    // Asked again, the proxy's answers (cached or not) are the same.
    customer_by_id(&client).await;
    customer_by_email(&client).await;
    order_with_lines(&client).await;
}
