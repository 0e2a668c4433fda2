//! The Rust testing API: `ferrodyn_proxy::testing::Ferrodyn::start()` and
//! `ferrodyn_store::testing::Store::start()` each give a fresh, empty
//! server in memory; dropping one stops it and removes its data.

use ferrodyn_proxy::testing::Ferrodyn;
use ferrodyn_store::testing::Store;
use ferrodyn_tests::items::{put_v, value};
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{client_for, create_table, s};

#[tokio::test]
async fn each_ferrodyn_is_fresh_and_gone_when_dropped() {
    let first = Ferrodyn::start().await;
    let client = client_for(&first.endpoint());
    create_table(&client, "mine").await;
    put_v(&client, "mine", "k", "v").await;
    assert_eq!(value(&client, "mine", "k").await, Some(s("v")));
    assert!(first.data_dir().exists());

    let second = Ferrodyn::start().await;
    let other = client_for(&second.endpoint());
    let tables = other.list_tables().send().await.expect("list tables");
    assert!(tables.table_names().is_empty(), "{tables:?}");

    let (addr, dir) = (first.addr(), first.data_dir().to_owned());
    drop(first);
    assert!(!dir.exists(), "{} outlived the server", dir.display());
    until(PATIENCE, "the dropped server stops listening", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
}

#[tokio::test]
async fn each_store_is_fresh_and_gone_when_dropped() {
    let first = Store::start().await;
    let client = client_for(&first.endpoint());
    create_table(&client, "mine").await;
    put_v(&client, "mine", "k", "v").await;
    assert_eq!(value(&client, "mine", "k").await, Some(s("v")));

    let second = Store::start().await;
    let tables = client_for(&second.endpoint())
        .list_tables()
        .send()
        .await
        .expect("list tables");
    assert!(tables.table_names().is_empty(), "{tables:?}");

    let (addr, dir) = (first.addr(), first.data_dir().to_owned());
    drop(first);
    assert!(!dir.exists(), "{} outlived the server", dir.display());
    until(PATIENCE, "the dropped server stops listening", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
}
