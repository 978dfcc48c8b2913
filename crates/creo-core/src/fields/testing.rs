//! Documents that tests across the workspace build the same way (not used by the server).

use yrs::types::xml::{XmlElementPrelim, XmlTextPrelim};
use yrs::{Doc, Transact, XmlFragment};

/// A fragment nested far deeper than any editor nests, as a hostile editor can write it.
pub fn deeply_nested(levels: usize) -> Doc {
    let doc = Doc::new();
    let fragment = doc.get_or_insert_xml_fragment("post");
    let mut txn = doc.transact_mut();
    let mut element = fragment.push_back(&mut txn, XmlElementPrelim::empty("bulletList"));
    for _ in 0..levels {
        element = element.push_back(&mut txn, XmlElementPrelim::empty("listItem"));
    }
    element.push_back(&mut txn, XmlTextPrelim::new("deep"));
    drop(txn);
    doc
}

/// Runs `f` on a thread with a small stack: what recursed per level overflows it.
pub fn on_a_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no stack overflow, no panic");
}
