//! PartiQL through the proxy: a SELECT by whole key is served from the item
//! cache (the entry a GetItem uses), and every PartiQL write kind —
//! ExecuteStatement INSERT/UPDATE/DELETE, BatchExecuteStatement,
//! ExecuteTransaction — is read back at once through the same proxy:
//! embedded, in front of `ferrodyn-store`, and in front of moto (whose
//! tables here have no stream, so nothing but the write path can keep the
//! cache coherent).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, BatchStatementRequest, ParameterizedStatement,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_proxy::credentials::{Credentials, Setting};
use ferrodyn_tests::{create_table, n, s, TestProxy, TestStore};

async fn exec(client: &Client, statement: &str) {
    client
        .execute_statement()
        .statement(statement)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
}

/// `v` of the item `p` as a PartiQL SELECT by key sees it.
async fn select_v(client: &Client, p: &str) -> Option<Av> {
    let items = client
        .execute_statement()
        .statement(format!("SELECT * FROM \"orders\" WHERE p = '{p}'"))
        .send()
        .await
        .expect("select")
        .items
        .unwrap_or_default();
    assert!(items.len() <= 1);
    items.into_iter().next().and_then(|mut i| i.remove("v"))
}

/// `v` of the item `p` as GetItem sees it.
async fn get_v(client: &Client, p: &str) -> Option<Av> {
    client
        .get_item()
        .table_name("orders")
        .key("p", s(p))
        .send()
        .await
        .expect("get")
        .item
        .and_then(|mut i| i.remove("v"))
}

/// `v` of the item `p` as a JSON Query sees it.
async fn query_v(client: &Client, p: &str) -> Option<Av> {
    client
        .query()
        .table_name("orders")
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s(p))
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|mut i| i.remove("v"))
}

/// `v` of the item `p` as a SELECT planned as a Query (`scan`: as a Scan)
/// sees it.
async fn select_many_v(client: &Client, p: &str, scan: bool) -> Option<Av> {
    let statement = if scan {
        "SELECT * FROM \"orders\" WHERE v > 0".to_owned()
    } else {
        format!("SELECT * FROM \"orders\" WHERE p = '{p}' AND v > 0")
    };
    client
        .execute_statement()
        .statement(&statement)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e:?}"))
        .items
        .unwrap_or_default()
        .into_iter()
        .find(|i| i.get("p") == Some(&s(p)))
        .and_then(|mut i| i.remove("v"))
}

/// Each read path, read twice (the second from the caches).
async fn reads(client: &Client, p: &str) -> [Option<Av>; 5] {
    let mut last = Default::default();
    for _ in 0..2 {
        last = [
            select_v(client, p).await,
            get_v(client, p).await,
            query_v(client, p).await,
            select_many_v(client, p, false).await,
            select_many_v(client, p, true).await,
        ];
    }
    last
}

fn all(v: Option<Av>) -> [Option<Av>; 5] {
    [v.clone(), v.clone(), v.clone(), v.clone(), v]
}

/// Every PartiQL write kind, each read back through the proxy at once.
async fn reads_its_own_partiql_writes(client: &Client) {
    create_table(client, "orders").await;
    assert_eq!(reads(client, "a").await, all(None));
    exec(client, "INSERT INTO \"orders\" VALUE {'p': 'a', 'v': 1}").await;
    assert_eq!(reads(client, "a").await, all(Some(n(1))), "after INSERT");
    // Values as parameters: moto's parser takes no number literal in SET.
    client
        .execute_statement()
        .statement("UPDATE \"orders\" SET v = ? WHERE p = ?")
        .parameters(n(2))
        .parameters(s("a"))
        .send()
        .await
        .expect("update");
    assert_eq!(reads(client, "a").await, all(Some(n(2))), "after UPDATE");
    client
        .batch_execute_statement()
        .statements(
            BatchStatementRequest::builder()
                .statement("UPDATE \"orders\" SET v = ? WHERE p = ?")
                .parameters(n(3))
                .parameters(s("a"))
                .build()
                .expect("statement"),
        )
        .send()
        .await
        .expect("batch");
    assert_eq!(
        reads(client, "a").await,
        all(Some(n(3))),
        "after BatchExecuteStatement"
    );
    assert_eq!(reads(client, "b").await, all(None));
    client
        .execute_transaction()
        .transact_statements(
            ParameterizedStatement::builder()
                .statement("UPDATE \"orders\" SET v = ? WHERE p = ?")
                .parameters(n(4))
                .parameters(s("a"))
                .build()
                .expect("statement"),
        )
        .transact_statements(
            ParameterizedStatement::builder()
                .statement("INSERT INTO \"orders\" VALUE {'p': 'b', 'v': 5}")
                .build()
                .expect("statement"),
        )
        .send()
        .await
        .expect("transaction");
    assert_eq!(
        reads(client, "a").await,
        all(Some(n(4))),
        "after ExecuteTransaction"
    );
    assert_eq!(
        reads(client, "b").await,
        all(Some(n(5))),
        "after ExecuteTransaction"
    );
    exec(client, "DELETE FROM \"orders\" WHERE p = 'a'").await;
    assert_eq!(reads(client, "a").await, all(None), "after DELETE");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_select_by_key_is_an_item_cache_hit_the_second_time() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "orders").await;
    exec(
        &client,
        "INSERT INTO \"orders\" VALUE {'p': 'a', 'v': 1, 'w': 'x'}",
    )
    .await;
    // Let the feed's echo of the insert land, so it invalidates nothing later.
    proxy.until_feed_delivered(1.0).await;
    let hits = "proxy_item_cache_hits_total";
    let misses = "proxy_item_cache_misses_total";
    let (h0, m0) = (proxy.metric(hits).await, proxy.metric(misses).await);
    assert_eq!(select_v(&client, "a").await, Some(n(1)));
    assert_eq!(
        proxy.metric(misses).await,
        m0 + 1.0,
        "the first SELECT misses"
    );
    assert_eq!(proxy.metric(hits).await, h0);
    assert_eq!(select_v(&client, "a").await, Some(n(1)));
    assert_eq!(proxy.metric(hits).await, h0 + 1.0, "the second SELECT hits");
    // The same entry serves GetItem and a projected SELECT.
    assert_eq!(get_v(&client, "a").await, Some(n(1)));
    let projected = client
        .execute_statement()
        .statement("SELECT w FROM \"orders\" WHERE p = 'a'")
        .send()
        .await
        .expect("select")
        .items
        .unwrap_or_default();
    assert_eq!(projected.len(), 1);
    assert_eq!(projected[0].len(), 1);
    assert_eq!(projected[0]["w"], s("x"));
    assert_eq!(proxy.metric(hits).await, h0 + 3.0);
    assert_eq!(proxy.metric(misses).await, m0 + 1.0);
    // Strongly consistent reads are not served from the cache.
    client
        .execute_statement()
        .statement("SELECT * FROM \"orders\" WHERE p = 'a'")
        .consistent_read(true)
        .send()
        .await
        .expect("consistent select");
    assert_eq!(proxy.metric(hits).await, h0 + 3.0);
}

/// The value of `name{operation="<op>"}` in `/metrics`.
async fn labelled(proxy: &TestProxy, name: &str, op: &str) -> f64 {
    let (_, text) = proxy.admin_get("/metrics").await;
    let prefix = format!("{name}{{operation=\"{op}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn selects_planned_as_query_or_scan_are_query_cache_hits_the_second_time() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "orders").await;
    exec(&client, "INSERT INTO \"orders\" VALUE {'p': 'a', 'v': 1}").await;
    proxy.until_feed_delivered(1.0).await;
    let hits = "proxy_query_cache_hits_total";
    for (scan, op) in [(false, "Query"), (true, "Scan")] {
        let before = labelled(&proxy, hits, op).await;
        assert_eq!(select_many_v(&client, "a", scan).await, Some(n(1)));
        assert_eq!(
            labelled(&proxy, hits, op).await,
            before,
            "{op}: first is a miss"
        );
        assert_eq!(select_many_v(&client, "a", scan).await, Some(n(1)));
        assert_eq!(
            labelled(&proxy, hits, op).await,
            before + 1.0,
            "{op}: second hits"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_proxy_reads_its_own_partiql_writes() {
    let proxy = TestProxy::embedded().await;
    reads_its_own_partiql_writes(&proxy.client()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_in_front_of_the_store_reads_its_own_partiql_writes() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    reads_its_own_partiql_writes(&proxy.client()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_in_front_of_moto_reads_its_own_partiql_writes() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let upstream = moto.endpoint.clone();
    let proxy = TestProxy::start_with(move |c| {
        c.upstream = Some(upstream);
        c.credentials = Setting::Static(Credentials {
            access_key_id: "AKIDFERRODYNPROXY".into(),
            secret_access_key: "proxy-secret".into(),
            session_token: None,
        });
        c.region = Some("us-east-1".into());
        // Long TTLs: only the write path can make the reads current.
        c.item_ttl = Duration::from_secs(3600);
        c.query_ttl = Duration::from_secs(3600);
    })
    .await;
    reads_its_own_partiql_writes(&proxy.client()).await;
}

/// A `moto_server` child process on a free port, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Start moto, or `None` if `FERRODYN_SKIP_MOTO=1` and it cannot start.
    async fn start() -> Option<Moto> {
        let skip = std::env::var("FERRODYN_SKIP_MOTO").is_ok_and(|v| v == "1");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
        let spawn = |program: &str, prefix: &[&str]| {
            Command::new(program)
                .args(prefix)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn("moto_server", &[]).or_else(|_| spawn("python3", &["-m", "moto.server"]));
        let mut child = match child {
            Ok(c) => c,
            Err(_) if skip => return None,
            Err(e) => {
                panic!("moto is not installed: `python3 -m pip install 'moto[server]'` ({e})")
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                if skip {
                    return None;
                }
                panic!("moto exited: {status}");
            }
            assert!(Instant::now() < deadline, "moto did not start within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
