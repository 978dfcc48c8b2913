//! The conformance suite every media store must pass (`creo::media::files::Files`): the local
//! filesystem, and an S3-compatible server (moto's, started here). Objects are written from a
//! file (in parts past 8 MiB) or from memory, read whole or by range as streams, and deleted.

use futures_util::TryStreamExt;
use std::io::Write;

use creo::media::files::Files;

use crate::s3::{ACCESS_KEY, REGION, S3, SECRET_KEY};

/// Bytes that do not repeat, so a part written in the wrong place shows.
fn bytes(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

async fn read(files: &Files, key: &str, range: Option<std::ops::Range<u64>>) -> (u64, Vec<u8>) {
    let got = files.read(key, range).await.unwrap();
    let all: Vec<u8> = got
        .bytes
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .unwrap();
    (got.size, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_whole_by_range_and_in_parts_and_go_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start("conformance").await;
    // The S3 store reads its credentials as a deployment would: the standard variables.
    std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    std::env::set_var("AWS_REGION", REGION);
    let backends = [
        ("local", Files::local(&dir.path().join("media")).unwrap()),
        (
            "s3",
            Files::s3("s3://conformance/under/here", Some(&s3.endpoint)).unwrap(),
        ),
    ];
    let scratch = tempfile::tempdir().unwrap();
    for (name, files) in &backends {
        let small = bytes(1_000);
        let path = scratch.path().join("small");
        std::fs::write(&path, &small).unwrap();
        files.put_file("acct/med_small", &path).await.unwrap();
        assert_eq!(
            read(files, "acct/med_small", None).await,
            (1_000, small.clone()),
            "{name}"
        );
        assert_eq!(
            read(files, "acct/med_small", Some(10..20)).await,
            (1_000, small[10..20].to_vec()),
            "{name}: a range"
        );

        // Past 8 MiB it goes in parts.
        let large = bytes(20 << 20);
        let path = scratch.path().join("large");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&large)
            .unwrap();
        files.put_file("acct/med_large", &path).await.unwrap();
        let (size, tail) = read(files, "acct/med_large", Some((20 << 20) - 100..20 << 20)).await;
        assert_eq!(
            (size, tail),
            (20 << 20, large[large.len() - 100..].to_vec()),
            "{name}"
        );
        let (_, whole) = read(files, "acct/med_large", None).await;
        assert!(whole == large, "{name}: every part in its place");

        files
            .put_bytes("acct/med_small.thumb", b"thumb".to_vec())
            .await
            .unwrap();
        assert_eq!(
            read(files, "acct/med_small.thumb", None).await.1,
            b"thumb",
            "{name}"
        );

        files.delete("acct/med_large").await.unwrap();
        assert!(
            files.read("acct/med_large", None).await.is_err(),
            "{name}: gone"
        );
        files.delete("acct/med_large").await.unwrap();
        assert_eq!(
            read(files, "acct/med_small", None).await.0,
            1_000,
            "{name}: the rest stays"
        );
    }
}
