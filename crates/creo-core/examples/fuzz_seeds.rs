//! Writes the fuzz targets' seed corpus (`fuzz/corpus/<target>/`): real messages of every kind
//! a client or another node sends, so the fuzzer starts from valid inputs and mutates them.
//!
//! `cargo run -p creo-core --example fuzz_seeds` (the corpus is committed; rerun after a change
//! to the encodings).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use creo_core::envelope::{DocMessage, Envelope, Origin};
use creo_core::sync::{encode_awareness, encode_sync_step1, encode_sync_step2, encode_update};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::AwarenessUpdate;
use yrs::updates::encoder::Encode;
use yrs::{Any, Array, Doc, Map, ReadTxn, StateVector, Text, Transact, XmlFragment};

fn updates() -> Vec<Vec<u8>> {
    let a = Doc::with_client_id(1);
    let text = a.get_or_insert_text("post");
    let map = a.get_or_insert_map("meta");
    let arr = a.get_or_insert_array("media");
    let frag = a.get_or_insert_xml_fragment("rich");
    let mut out = Vec::new();
    let mut edit = |f: &dyn Fn(&mut yrs::TransactionMut)| {
        let mut txn = a.transact_mut();
        f(&mut txn);
        out.push(txn.encode_update_v1());
    };
    edit(&|t| text.insert(t, 0, "Spring launch 🌷 is here"));
    edit(&|t| text.format(t, 0, 6, [("bold".into(), Any::Bool(true))].into()));
    edit(&|t| text.remove_range(t, 3, 4));
    edit(&|t| {
        map.insert(t, "tags", Any::from(vec![Any::from("a"), Any::from(1.5)]));
    });
    edit(&|t| {
        arr.insert(t, 0, Any::from(vec![Any::Null]));
    });
    edit(&|t| {
        frag.insert(t, 0, yrs::XmlElementPrelim::empty("paragraph"));
    });
    out.push(
        a.transact()
            .encode_state_as_update_v1(&StateVector::default()),
    );
    // A second client editing next to the first one's text: cross-client dependencies.
    let b = Doc::with_client_id(2);
    for u in &out {
        b.transact_mut()
            .apply_update(yrs::updates::decoder::Decode::decode_v1(u).unwrap())
            .unwrap();
    }
    let tb = b.get_or_insert_text("post");
    let mut txn = b.transact_mut();
    tb.insert(&mut txn, 2, "X");
    out.push(txn.encode_update_v1());
    out
}

fn awareness() -> Vec<u8> {
    let entry = |clock, json: &str| AwarenessUpdateEntry {
        clock,
        json: Arc::from(json),
    };
    AwarenessUpdate {
        clients: [
            (
                yrs::ClientID::new(10),
                entry(
                    1,
                    r##"{"user":{"name":"Ada","color":"#c33"},"cursor":null}"##,
                ),
            ),
            (yrs::ClientID::new(11), entry(2, "null")),
        ]
        .into(),
    }
    .encode_v1()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let updates = updates();
    for (i, u) in updates.iter().enumerate() {
        write(&corpus.join("update"), &format!("update-{i}"), u);
        write(
            &corpus.join("frame"),
            &format!("update-{i}"),
            &encode_update(u),
        );
    }
    let last = updates.last().unwrap().clone();
    write(
        &corpus.join("frame"),
        "sync-step2",
        &encode_sync_step2(last),
    );
    let sv = Doc::new().transact().state_vector();
    write(&corpus.join("frame"), "sync-step1", &encode_sync_step1(&sv));
    let aw = awareness();
    let frame = encode_awareness(yrs::updates::decoder::Decode::decode_v1(&aw).unwrap());
    write(&corpus.join("frame"), "awareness", &frame);
    write(&corpus.join("frame"), "query-awareness", &[3]);
    let mut several = encode_update(&updates[0]).to_vec();
    several.extend_from_slice(&frame);
    several.push(3);
    write(&corpus.join("frame"), "several", &several);
    let mut both = aw.clone();
    both.push(0xff);
    both.extend_from_slice(&aw);
    write(&corpus.join("awareness"), "two", &both);
    write(&corpus.join("awareness"), "one", &aw);
    let origin = Origin { node: 7, actor: 1 };
    let envelopes = [
        DocMessage::Updates(updates.iter().map(|u| Bytes::from(u.clone())).collect()),
        DocMessage::Awareness(Bytes::from(aw.clone())),
        DocMessage::Hello {
            presence: Some(Bytes::from(aw)),
        },
        DocMessage::Resync,
        DocMessage::Event(r#"{"type":"workflow"}"#.into()),
    ];
    for (i, message) in envelopes.into_iter().enumerate() {
        let e = Envelope::Doc {
            origin,
            seq: i as u64 + 1,
            message,
        };
        write(&corpus.join("envelope"), &format!("doc-{i}"), &e.encode());
    }
    println!("wrote {}", corpus.display());
}
