//! Turning a live field into given content with the fewest edits: what restoring a version and
//! choosing an AI variation write. Whatever is unchanged keeps its identity in the CRDT, so
//! its formatting, the comments anchored in it and other editors' cursors stay where they are;
//! only what differs is deleted or inserted, and formatting that differs is re-applied.
//!
//! Children are matched by content (`similar`'s diff of their fingerprints), so a paragraph
//! added or removed does not disturb the ones around it; a changed paragraph is edited in
//! place, character by character. The diff is bounded in time (`DIFF_DEADLINE`): past it,
//! `similar` falls back to a coarser, still correct, diff.
//!
//! Offsets are those of the document being written: `snapshot::writable` documents count
//! text in UTF-8 bytes.

use std::time::{Duration, Instant};

use similar::{capture_diff_slices_deadline, Algorithm, DiffOp};
use yrs::types::xml::{XmlElementPrelim, XmlOut, XmlTextPrelim, XmlTextRef};
use yrs::types::Attrs;
use yrs::{Any, Text, TransactionMut, Xml, XmlFragment};

use super::content::{self, fingerprint, Element, Node, Run};
use super::MAX_NESTING;

/// How long one diff may search for the smallest edit before settling for a larger one.
const DIFF_DEADLINE: Duration = Duration::from_millis(200);

fn diff<T: std::hash::Hash + Eq + Ord>(old: &[T], new: &[T]) -> Vec<DiffOp> {
    let deadline = Instant::now() + DIFF_DEADLINE;
    capture_diff_slices_deadline(Algorithm::Myers, old, new, Some(deadline))
}

/// Makes the children of `parent` (a fragment or an element) equal `target`.
pub fn children<F: XmlFragment>(txn: &mut TransactionMut, parent: &F, target: &[Node]) {
    reconcile_children(txn, parent, target, 1);
}

fn reconcile_children<F: XmlFragment>(
    txn: &mut TransactionMut,
    parent: &F,
    target: &[Node],
    depth: usize,
) {
    let current: Vec<XmlOut> = parent.children(txn).collect();
    let nodes: Vec<Option<Node>> = current.iter().map(|c| content::read_one(c, txn)).collect();
    let old: Vec<u64> = nodes
        .iter()
        .map(|n| n.as_ref().map_or(0, fingerprint))
        .collect();
    let new: Vec<u64> = target.iter().map(fingerprint).collect();
    // From the end, so the indexes of what comes before stay valid.
    for op in diff(&old, &new).into_iter().rev() {
        let (at, old_len, from, new_len) = span(op);
        let paired = old_len.min(new_len);
        for k in 0..paired {
            let (i, want) = (at + k, &target[from + k]);
            if nodes[i].as_ref() == Some(want) {
                continue; // equal (a fingerprint is only a hint)
            }
            if !edit_in_place(txn, &current[i], want, depth) {
                parent.remove_range(txn, i as u32, 1);
                insert(txn, parent, i as u32, want);
            }
        }
        if old_len > paired {
            parent.remove_range(txn, (at + paired) as u32, (old_len - paired) as u32);
        }
        for k in paired..new_len {
            insert(txn, parent, (at + k) as u32, &target[from + k]);
        }
    }
}

/// Edits a child into `want` where both are the same kind (text, or an element of the same
/// tag); `false` when they are not.
fn edit_in_place(txn: &mut TransactionMut, child: &XmlOut, want: &Node, depth: usize) -> bool {
    match (child, want) {
        (XmlOut::Text(text), Node::Text(runs)) => {
            self::text(txn, text, runs);
            true
        }
        (XmlOut::Element(element), Node::Element(e)) if *element.tag() == e.tag => {
            let now = content::attributes(element, txn);
            for (k, _) in now
                .iter()
                .filter(|(k, _)| !e.attrs.iter().any(|(n, _)| n == k))
            {
                element.remove_attribute(txn, k);
            }
            for (k, v) in &e.attrs {
                if !now.iter().any(|(n, old)| n == k && old == v) {
                    element.insert_attribute(txn, k.clone(), v.clone());
                }
            }
            if depth < MAX_NESTING {
                reconcile_children(txn, element, &e.children, depth + 1);
            }
            true
        }
        _ => false,
    }
}

/// Inserts `node` at `index` of `parent`, built with an explicit stack.
fn insert<F: XmlFragment>(txn: &mut TransactionMut, parent: &F, index: u32, node: &Node) {
    match node {
        Node::Text(runs) => {
            let text = parent.insert(txn, index, XmlTextPrelim::new(""));
            write_runs(txn, &text, 0, runs);
        }
        Node::Element(e) => {
            let root = insert_element(txn, parent, index, e);
            let mut stack = vec![(root, e.children.as_slice())];
            while let Some((element, children)) = stack.pop() {
                for (i, child) in children.iter().enumerate() {
                    match child {
                        Node::Text(runs) => {
                            let text = element.insert(txn, i as u32, XmlTextPrelim::new(""));
                            write_runs(txn, &text, 0, runs);
                        }
                        Node::Element(inner) => {
                            let made = insert_element(txn, &element, i as u32, inner);
                            stack.push((made, inner.children.as_slice()));
                        }
                    }
                }
            }
        }
    }
}

fn insert_element<F: XmlFragment>(
    txn: &mut TransactionMut,
    parent: &F,
    index: u32,
    e: &Element,
) -> yrs::XmlElementRef {
    let element = parent.insert(txn, index, XmlElementPrelim::empty(e.tag.clone()));
    for (k, v) in &e.attrs {
        element.insert_attribute(txn, k.clone(), v.clone());
    }
    element
}

fn write_runs(txn: &mut TransactionMut, text: &XmlTextRef, mut at: u32, runs: &[Run]) {
    for run in runs {
        text.insert_with_attributes(txn, at, &run.text, run.attrs.clone());
        at += run.text.len() as u32;
    }
}

/// One unit of a text as it is now: a character (with the index of its run), or something
/// embedded, which counts one and never matches a character.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Unit {
    Char(char),
    Embed,
}

/// A text as it is now, unit by unit: its formatting, and where each unit starts in the
/// document's offsets (bytes; an embed counts one), with the end last.
struct Units {
    units: Vec<Unit>,
    attrs: Vec<Attrs>,
    offset: Vec<u32>,
}

fn units_of<X: Text>(text: &X, txn: &TransactionMut) -> Units {
    let (mut units, mut attrs, mut offset) = (Vec::new(), Vec::new(), Vec::new());
    let mut at = 0u32;
    for d in text.diff(txn, yrs::types::text::YChange::identity) {
        let formatting: Attrs = d.attributes.map(|a| *a).unwrap_or_default();
        match d.insert {
            yrs::Out::Any(Any::String(s)) => {
                for c in s.chars() {
                    units.push(Unit::Char(c));
                    attrs.push(formatting.clone());
                    offset.push(at);
                    at += c.len_utf8() as u32;
                }
            }
            _ => {
                units.push(Unit::Embed);
                attrs.push(formatting);
                offset.push(at);
                at += 1;
            }
        }
    }
    offset.push(at);
    Units {
        units,
        attrs,
        offset,
    }
}

/// Makes a text (an XML text node or a root text) read `target`, formatting included.
pub fn text<X: Text>(txn: &mut TransactionMut, text: &X, target: &[Run]) {
    let Units {
        units: old_units,
        attrs: old_attrs,
        offset,
    } = units_of(text, txn);
    let (new_units, new_attrs): (Vec<Unit>, Vec<&Attrs>) = target
        .iter()
        .flat_map(|run| run.text.chars().map(move |c| (Unit::Char(c), &run.attrs)))
        .unzip();

    for op in diff(&old_units, &new_units).into_iter().rev() {
        let (old_index, old_len, new_index, new_len) = match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                // Formatting that differs on unchanged characters, a stretch at a time.
                let mut k = 0;
                while k < len {
                    let (was, want) = (&old_attrs[old_index + k], new_attrs[new_index + k]);
                    let mut end = k + 1;
                    while end < len
                        && old_attrs[old_index + end] == *was
                        && new_attrs[new_index + end] == want
                    {
                        end += 1;
                    }
                    if was != want {
                        let (from, to) = (offset[old_index + k], offset[old_index + end]);
                        text.format(txn, from, to - from, formatting_change(was, want));
                    }
                    k = end;
                }
                continue;
            }
            other => span(other),
        };
        remove(txn, text, &offset, old_index, old_len);
        insert_units(
            txn,
            text,
            offset[old_index],
            &new_units[new_index..new_index + new_len],
            &new_attrs[new_index..new_index + new_len],
        );
    }
}

/// A change as (old index, old length, new index, new length).
fn span(op: DiffOp) -> (usize, usize, usize, usize) {
    match op {
        DiffOp::Equal {
            old_index,
            new_index,
            len,
        } => (old_index, len, new_index, len),
        DiffOp::Delete {
            old_index,
            old_len,
            new_index,
        } => (old_index, old_len, new_index, 0),
        DiffOp::Insert {
            old_index,
            new_index,
            new_len,
        } => (old_index, 0, new_index, new_len),
        DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } => (old_index, old_len, new_index, new_len),
    }
}

fn remove<X: Text>(txn: &mut TransactionMut, text: &X, offset: &[u32], at: usize, len: usize) {
    let (from, to) = (offset[at], offset[at + len]);
    if to > from {
        text.remove_range(txn, from, to - from);
    }
}

/// Inserts characters, a stretch of one formatting at a time, each with exactly its formatting
/// (nothing inherited from the text around it).
fn insert_units<X: Text>(
    txn: &mut TransactionMut,
    text: &X,
    mut at: u32,
    units: &[Unit],
    attrs: &[&Attrs],
) {
    let mut k = 0;
    while k < units.len() {
        let mut end = k + 1;
        while end < units.len() && attrs[end] == attrs[k] {
            end += 1;
        }
        let chunk: String = units[k..end]
            .iter()
            .filter_map(|u| match u {
                Unit::Char(c) => Some(*c),
                Unit::Embed => None,
            })
            .collect();
        text.insert_with_attributes(txn, at, &chunk, attrs[k].clone());
        at += chunk.len() as u32;
        k = end;
    }
}

/// The formatting to apply to turn `was` into `want`: the new values, and `null` for what goes.
fn formatting_change(was: &Attrs, want: &Attrs) -> Attrs {
    let mut change = want.clone();
    for k in was.keys() {
        if !want.contains_key(k) {
            change.insert(k.clone(), Any::Null);
        }
    }
    change
}

/// Makes a text read `target` with the fewest edits, for text that comes without formatting
/// (an AI variation): unchanged characters keep their formatting, and inserted ones take that of
/// the character before them (the one after, at the start), as typed text does.
pub fn plain<X: Text>(txn: &mut TransactionMut, text: &X, target: &str) {
    let Units {
        units: old,
        attrs,
        offset,
    } = units_of(text, txn);
    let new: Vec<Unit> = target.chars().map(Unit::Char).collect();
    for op in diff(&old, &new).into_iter().rev() {
        if matches!(op, DiffOp::Equal { .. }) {
            continue;
        }
        let (old_index, old_len, new_index, new_len) = span(op);
        remove(txn, text, &offset, old_index, old_len);
        if new_len > 0 {
            let joins = old_index
                .checked_sub(1)
                .or((old_index + old_len < old.len()).then_some(old_index + old_len))
                .map(|i| attrs[i].clone())
                .unwrap_or_default();
            let formatting = vec![&joins; new_len];
            insert_units(
                txn,
                text,
                offset[old_index],
                &new[new_index..new_index + new_len],
                &formatting,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{read, replace_plain};
    use yrs::types::xml::XmlElementRef;
    use yrs::updates::decoder::Decode;
    use yrs::{
        Assoc, Doc, IndexedSequence, ReadTxn, StateVector, Transact, Update, XmlFragmentRef,
    };

    fn bold() -> Attrs {
        Attrs::from([("bold".into(), Any::Map(Default::default()))])
    }

    /// What Tiptap writes for "<p>Our <b>new bottle</b> keeps drinks cold.</p><p>Shop now.</p>".
    fn post() -> (Doc, XmlFragmentRef) {
        let doc = Doc::new();
        let fragment = doc.get_or_insert_xml_fragment("post");
        {
            let mut txn = doc.transact_mut();
            for line in ["Our new bottle keeps drinks cold.", "Shop now."] {
                let p = fragment.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
                p.push_back(&mut txn, XmlTextPrelim::new(line));
            }
            let first = text_of(&fragment, &txn, 0);
            first.format(&mut txn, 4, 10, bold());
        }
        (doc, fragment)
    }

    fn text_of<T: ReadTxn>(fragment: &XmlFragmentRef, txn: &T, i: u32) -> XmlTextRef {
        let p: XmlElementRef = fragment.get(txn, i).unwrap().into_xml_element().unwrap();
        p.get(txn, 0).unwrap().into_xml_text().unwrap()
    }

    fn content_of(doc: &Doc) -> Vec<Node> {
        let fragment = doc.get_or_insert_xml_fragment("post");
        let txn = doc.transact();
        content::read(&fragment, &txn)
    }

    /// Another replica receives what `doc` wrote since `before`, as the server's clients do.
    fn sync(from: &Doc, to: &Doc, before: &StateVector) {
        let update = from.transact().encode_diff_v1(before);
        to.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
    }

    #[test]
    fn restoring_brings_back_formatting_and_keeps_what_did_not_change() {
        let (doc, fragment) = post();
        let version = content_of(&doc);
        // A comment's anchor on "keeps drinks", which no edit touches.
        let anchor = {
            let txn = doc.transact();
            text_of(&fragment, &txn, 0)
                .sticky_index(&txn, 15, Assoc::After)
                .unwrap()
        };
        // Edits after the version: bold removed, words changed, a paragraph added and one removed.
        {
            let mut txn = doc.transact_mut();
            let first = text_of(&fragment, &txn, 0);
            first.format(&mut txn, 4, 10, Attrs::from([("bold".into(), Any::Null)]));
            first.remove_range(&mut txn, 0, 3);
            first.insert(&mut txn, 0, "The");
            fragment.remove_range(&mut txn, 1, 1);
            let p = fragment.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new("Limited stock!"));
        }
        assert_ne!(content_of(&doc), version);

        // The restore is written by a replica of its own, as the server writes it.
        let restorer = Doc::new();
        sync(&doc, &restorer, &StateVector::default());
        let before = restorer.transact().state_vector();
        let target = restorer.get_or_insert_xml_fragment("post");
        children(&mut restorer.transact_mut(), &target, &version);
        sync(&restorer, &doc, &before);

        assert_eq!(
            content_of(&doc),
            version,
            "the version's text and formatting"
        );
        assert_eq!(
            read(&doc, "post").unwrap(),
            "Our new bottle keeps drinks cold.\nShop now."
        );
        let txn = doc.transact();
        let at = anchor.get_offset(&txn).unwrap();
        assert!(
            XmlTextRef::from(at.branch) == text_of(&fragment, &txn, 0) && at.index == 15,
            "the anchor still stands before \"keeps drinks\": its words were never re-created"
        );
    }

    #[test]
    fn element_attributes_and_lists_are_restored() {
        let (doc, fragment) = post();
        {
            let mut txn = doc.transact_mut();
            let list = fragment.push_back(&mut txn, XmlElementPrelim::empty("bulletList"));
            let item = list.push_back(&mut txn, XmlElementPrelim::empty("listItem"));
            let p = item.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            let t = p.push_back(&mut txn, XmlTextPrelim::new("one"));
            t.format(&mut txn, 0, 3, bold());
            let first: XmlElementRef = fragment.get(&txn, 0).unwrap().into_xml_element().unwrap();
            first.insert_attribute(&mut txn, "textAlign", Any::from("center"));
        }
        let version = content_of(&doc);
        {
            let mut txn = doc.transact_mut();
            let len = fragment.len(&txn);
            fragment.remove_range(&mut txn, 0, len);
        }
        children(&mut doc.transact_mut(), &fragment, &version);
        assert_eq!(content_of(&doc), version);
    }

    #[test]
    fn a_plain_replacement_keeps_the_formatting_of_words_it_keeps() {
        let (doc, fragment) = post();
        replace_plain(
            &doc,
            "post",
            "Our new bottle keeps drinks cold all day.\n\n\n#hydration",
        );
        assert_eq!(
            read(&doc, "post").unwrap(),
            "Our new bottle keeps drinks cold all day.\n#hydration",
            "blank lines make no empty paragraphs; the removed line is gone"
        );
        let txn = doc.transact();
        let runs = content::runs(&text_of(&fragment, &txn, 0), &txn);
        assert_eq!(runs[1].text, "new bottle");
        assert_eq!(runs[1].attrs, bold(), "the bold words stay bold");
        assert!(runs[2].attrs.is_empty(), "{runs:?}");
    }

    #[test]
    fn a_root_text_with_formatting_is_restored_too() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("caption");
        {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "Hello world");
            text.format(&mut txn, 6, 5, bold());
        }
        let version = content::runs(&text, &doc.transact());
        {
            let mut txn = doc.transact_mut();
            text.remove_range(&mut txn, 0, 11);
            text.insert(&mut txn, 0, "Goodbye");
        }
        self::text(&mut doc.transact_mut(), &text, &version);
        assert_eq!(content::runs(&text, &doc.transact()), version);
    }

    #[test]
    fn deep_content_is_restored_without_recursion_past_the_nesting_bound() {
        crate::fields::testing::on_a_small_stack(|| {
            let deep = crate::fields::testing::deeply_nested(20_000);
            let version = content_of(&deep);
            let doc = Doc::new();
            let fragment = doc.get_or_insert_xml_fragment("post");
            children(&mut doc.transact_mut(), &fragment, &version);
            let _ = fingerprint(&version[0]);
        });
    }
}
