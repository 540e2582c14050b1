//! The ferrofs object_store backend passes object_store's own conformance tests
//! (`object_store::integration`, the suite its S3, GCS, Azure and local stores run),
//! against a real cluster; and its files are ordinary ferrofs files.

mod common;

use common::*;
use ferrofs_object_store::FerroStore;
use object_store::integration::*;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

async fn store(c: &TestCluster, root: &str) -> Arc<FerroStore> {
    c.client().mkdir_p(root).await.unwrap();
    Arc::new(FerroStore::new(c.client(), root).unwrap())
}

/// The conformance suite, function by function, each on a fresh store rooted at a
/// directory of its own (as upstream runs each on a new store: some leave objects that
/// others, listing the whole store, must not see).
#[tokio::test(flavor = "multi_thread")]
async fn conformance_suite() {
    let c = TestCluster::builder().chunkservers(3).start().await;
    phase!("put_get_delete_list");
    let s = store(&c, "/os/put_get_delete_list").await;
    put_get_delete_list(s.as_ref()).await;
    phase!("get_opts");
    let s = store(&c, "/os/get_opts").await;
    get_opts(s.as_ref()).await;
    phase!("put_opts (no conditional update)");
    let s = store(&c, "/os/put_opts").await;
    put_opts(s.as_ref(), false).await;
    phase!("list_uses_directories_correctly");
    let s = store(&c, "/os/list_uses_directories_correctly").await;
    list_uses_directories_correctly(s.as_ref()).await;
    phase!("list_with_delimiter");
    let s = store(&c, "/os/list_with_delimiter").await;
    list_with_delimiter(s.as_ref()).await;
    phase!("rename_and_copy");
    let s = store(&c, "/os/rename_and_copy").await;
    rename_and_copy(s.as_ref()).await;
    phase!("copy_if_not_exists");
    let s = store(&c, "/os/copy_if_not_exists").await;
    copy_if_not_exists(s.as_ref()).await;
    phase!("copy_rename_nonexistent_object");
    let s = store(&c, "/os/copy_rename_nonexistent_object").await;
    copy_rename_nonexistent_object(s.as_ref()).await;
    phase!("multipart_race_condition");
    let s = store(&c, "/os/multipart_race_condition").await;
    multipart_race_condition(s.as_ref(), true).await;
    phase!("multipart_out_of_order");
    let s = store(&c, "/os/multipart_out_of_order").await;
    multipart_out_of_order(s.as_ref()).await;
    phase!("stream_get");
    let s = store(&c, "/os/stream_get").await;
    stream_get(s.as_ref()).await;
    phase!("list_with_offset_exclusivity");
    let s = store(&c, "/os/list_with_offset_exclusivity").await;
    list_with_offset_exclusivity(s.as_ref()).await;
}

/// A store at `/` hides the gateways' staging directories; objects are files for the
/// client, and files written by the client are objects.
#[tokio::test(flavor = "multi_thread")]
async fn objects_are_files() {
    let c = TestCluster::builder()
        .chunkservers(2)
        .replication(2)
        .start()
        .await;
    let s = store(&c, "/").await;
    let data = random_bytes(3 << 20, 5);
    s.put(&Path::from("d/x.bin"), data.clone().into())
        .await
        .unwrap();
    assert_eq!(
        sha256(&c.client().get_bytes("/d/x.bin").await.unwrap()),
        sha256(&data)
    );
    assert!(
        c.client().resolve("/.ferrofs-staging").await.is_ok(),
        "puts are staged"
    );
    c.client()
        .put_bytes("/d/y.txt", "from the client".into())
        .await
        .unwrap();
    let got = s
        .get(&Path::from("d/y.txt"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"from the client");
    let all: Vec<String> = futures::TryStreamExt::try_collect::<Vec<_>>(s.list(None))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    let mut all = all;
    all.sort();
    assert_eq!(
        all,
        ["d/x.bin", "d/y.txt"],
        "the staging directory is not listed"
    );
    let r = s
        .get_range(&Path::from("d/x.bin"), 1_000_000..1_000_010)
        .await
        .unwrap();
    assert_eq!(&r[..], &data[1_000_000..1_000_010]);
}
