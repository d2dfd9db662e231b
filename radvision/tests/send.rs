//! The C-STORE SCU against dcmtk's `storescp` on loopback: instances arrive byte-identical
//! in their data sets; a transfer syntax the workstation does not accept has no context
//! (sent as stored, never transcoded); a refused connection and a silent peer are
//! transient failures within the timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use radvision::ingest::part10;
use radvision::send::file_meta;
use radvision::send::scu::{Association, ScuConfig, Stored, Target, Transient};

const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";

fn element(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    if vr == b"OW" || vr == b"OB" {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
}

/// A tiny Explicit VR Little Endian CT data set with pixel data.
fn data_set(sop: &str, n: u8) -> Vec<u8> {
    let mut uid = sop.as_bytes().to_vec();
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    let mut class = CT.as_bytes().to_vec();
    class.push(0);
    let mut ds = Vec::new();
    element(&mut ds, 0x0008, 0x0016, b"UI", &class);
    element(&mut ds, 0x0008, 0x0018, b"UI", &uid);
    element(&mut ds, 0x0010, 0x0010, b"PN", b"Yamada^Taro ");
    element(&mut ds, 0x0028, 0x0010, b"US", &4u16.to_le_bytes());
    element(&mut ds, 0x0028, 0x0011, b"US", &4u16.to_le_bytes());
    let pixels: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(n)).collect();
    element(&mut ds, 0x7FE0, 0x0010, b"OW", &pixels);
    ds
}

struct StoreScp {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl StoreScp {
    async fn start(extra: &[&str]) -> StoreScp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("/usr/bin/storescp")
            .args(["-aet", "WS1", "-od"])
            .arg(dir.path())
            .args(extra)
            .args(["+B", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dcmtk storescp");
        let scp = StoreScp { child, dir, port };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return scp;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("storescp did not start");
    }

    fn received(&self) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        v.sort();
        v
    }
}

impl Drop for StoreScp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cfg(timeout: Duration) -> ScuConfig {
    ScuConfig {
        calling_ae: "ENKAKU".into(),
        connect_timeout: timeout,
        response_timeout: timeout,
    }
}

fn target(port: u16) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        called_ae: "WS1".into(),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn instances_arrive_byte_identical_and_unaccepted_syntaxes_have_no_context() {
    let scp = StoreScp::start(&[]).await;
    let mut a = Association::open(
        &cfg(Duration::from_secs(10)),
        &target(scp.port),
        &pairs(&[(CT, EXPLICIT_LE), (CT, JPEG_BASELINE)]),
    )
    .await
    .unwrap();
    // storescp's default accepts uncompressed syntaxes only.
    assert!(a.context_for(CT, JPEG_BASELINE).is_none());
    assert!(a.context_for(CT, IMPLICIT_LE).is_none());
    let pc = a.context_for(CT, EXPLICIT_LE).unwrap();
    let mut sent = Vec::new();
    for i in 1..=3u8 {
        let sop = format!("1.2.392.200.9.{i}");
        // Through a Part 10 file, as stored, and its file meta group stripped.
        let file = part10::wrap_dataset(CT, &sop, EXPLICIT_LE, &data_set(&sop, i));
        let m = file_meta::read(&file).unwrap();
        assert_eq!(m.sop_instance_uid, sop);
        let ds = Bytes::from(file).slice(m.data_set_offset..);
        assert_eq!(
            a.store(pc, CT, &sop, ds.clone()).await,
            Ok(Stored::Accepted)
        );
        sent.push(ds.to_vec());
    }
    a.release().await;
    let got: Vec<Vec<u8>> = scp
        .received()
        .iter()
        .map(|f| {
            let m = file_meta::read(f).unwrap();
            assert_eq!(m.transfer_syntax_uid, EXPLICIT_LE);
            f[m.data_set_offset..].to_vec()
        })
        .collect();
    sent.sort();
    let mut got = got;
    got.sort();
    assert_eq!(got, sent);
}

#[tokio::test]
async fn a_large_instance_is_split_into_pdus_the_workstation_accepts() {
    let scp = StoreScp::start(&["--max-pdu", "4096"]).await;
    let mut a = Association::open(
        &cfg(Duration::from_secs(10)),
        &target(scp.port),
        &pairs(&[(CT, EXPLICIT_LE)]),
    )
    .await
    .unwrap();
    let pc = a.context_for(CT, EXPLICIT_LE).unwrap();
    let sop = "1.2.392.200.9.100";
    let mut ds = data_set(sop, 1);
    // Replace the pixel data by 100 KB.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    ds.truncate(ds.len() - 32 - 12);
    element(&mut ds, 0x7FE0, 0x0010, b"OW", &big);
    assert_eq!(
        a.store(pc, CT, sop, Bytes::from(ds.clone())).await,
        Ok(Stored::Accepted)
    );
    a.release().await;
    let got = scp.received();
    assert_eq!(got.len(), 1);
    let m = file_meta::read(&got[0]).unwrap();
    assert_eq!(&got[0][m.data_set_offset..], &ds[..]);
}

#[tokio::test]
async fn a_refused_connection_and_a_silent_peer_are_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = Association::open(
        &cfg(Duration::from_secs(2)),
        &target(port),
        &pairs(&[(CT, EXPLICIT_LE)]),
    )
    .await
    .err()
    .unwrap();
    assert!(e.0.contains("connect"), "{e:?}");

    // Accepts the connection, never answers the A-ASSOCIATE-RQ.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (s, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    });
    let t = Instant::now();
    let e: Transient = Association::open(
        &cfg(Duration::from_secs(1)),
        &target(port),
        &pairs(&[(CT, EXPLICIT_LE)]),
    )
    .await
    .err()
    .unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(e.0.contains("in time"), "{e:?}");
    hold.abort();
}
