//! A document's text fields, whichever shape the client gave them: a root `Y.Text` (plain
//! clients, REST) or a root XML fragment written by a ProseMirror/Tiptap binding (the browser
//! editor binds its rich text to `post` and to each `post.<platform>` variant).
//!
//! Everything that reads or writes "the post" goes through here, so comments, platform checks,
//! AI suggestions and generations work the same on both shapes. The plain text of a fragment is
//! its text blocks joined by "\n", exactly what ProseMirror's `doc.textBetween(0, size, "\n")`
//! gives in the browser, so an index the editor computes is an index the server understands.

pub mod content;
pub mod reconcile;
pub mod testing;

use yrs::types::text::{Diff, YChange};
use yrs::types::xml::{XmlElementPrelim, XmlOut, XmlTextPrelim, XmlTextRef};
use yrs::{
    Assoc, Doc, IndexedSequence, Out, ReadTxn, StickyIndex, Text, TextRef, Transact, Xml,
    XmlFragment, XmlFragmentRef,
};

/// The block the editor's schema uses for a line of text (Tiptap's paragraph).
const PARAGRAPH: &str = "paragraph";

/// What a root holds.
enum Field {
    Text(TextRef),
    Xml(XmlFragmentRef),
}

/// The field `name` of a document, or `None` when the document has no such root. A root is XML
/// when it holds XML elements, text otherwise (stored states do not say which).
fn get<T: ReadTxn>(txn: &T, name: &str) -> Option<Field> {
    let fragment = txn.get_xml_fragment(name)?;
    if holds_elements(&fragment, txn) {
        Some(Field::Xml(fragment))
    } else {
        txn.get_text(name).map(Field::Text)
    }
}

/// The plain text of the field `name` (`None` when the document has no such root).
pub fn read(doc: &Doc, name: &str) -> Option<String> {
    let txn = doc.transact();
    Some(match get(&txn, name)? {
        Field::Text(text) => text_plain(&text, &txn),
        Field::Xml(fragment) => fragment_text(&fragment, &txn),
    })
}

/// A text's characters (a Y.Text or an XML text node), without formatting or what it embeds:
/// `get_string` would turn an embedded shared type into a string by recursing through it,
/// however deep an editor nested it.
pub fn text_plain<X: Text, T: ReadTxn>(text: &X, txn: &T) -> String {
    text.diff(txn, YChange::identity)
        .into_iter()
        .filter_map(|Diff { insert, .. }| match insert {
            Out::Any(yrs::Any::String(s)) => Some(s.to_string()),
            _ => None,
        })
        .collect()
}

/// Whether a root holds XML elements (a rich-text fragment) rather than text, told from its
/// children alone.
pub fn holds_elements<T: ReadTxn>(root: &XmlFragmentRef, txn: &T) -> bool {
    root.children(txn)
        .any(|child| matches!(child, XmlOut::Element(_)))
}

/// Whether a root whose type was not declared (a document rebuilt from stored updates) is an
/// XML fragment: it holds elements or XML text nodes.
pub fn holds_xml<T: ReadTxn>(root: &XmlFragmentRef, txn: &T) -> bool {
    root.children(txn)
        .any(|child| matches!(child, XmlOut::Element(_) | XmlOut::Text(_)))
}

/// The plain text of an XML fragment (or element): its blocks' text, one line each, without
/// markup. Read to `MAX_NESTING` levels, without recursion.
pub fn fragment_text<F: XmlFragment, T: ReadTxn>(node: &F, txn: &T) -> String {
    blocks(node, txn)
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One text block of a fragment: the node that holds it (an element, or a text right in the
/// fragment), its XML texts and its plain text.
struct Block {
    node: XmlOut,
    texts: Vec<XmlTextRef>,
    text: String,
}

/// The text blocks of a fragment in document order. A block is an element holding text, or an
/// empty element (an empty paragraph); elements holding only elements (lists, list items) are
/// containers, as in ProseMirror's schema.
///
/// Walked with an explicit stack, to `MAX_NESTING` levels: a fragment is whatever editors
/// wrote, and elements nested thousands deep must not overflow the thread's stack.
fn blocks<F: XmlFragment, T: ReadTxn>(node: &F, txn: &T) -> Vec<Block> {
    let mut out = Vec::new();
    // Children still to visit, per open container (innermost last), in document order.
    let mut open: Vec<std::vec::IntoIter<XmlOut>> =
        vec![node.children(txn).collect::<Vec<_>>().into_iter()];
    while let Some(level) = open.last_mut() {
        let Some(child) = level.next() else {
            open.pop();
            continue;
        };
        let element = match child {
            XmlOut::Element(element) => element,
            // Text right in a fragment (not inside a paragraph) is a block of its own.
            XmlOut::Text(t) => {
                let text = text_plain(&t, txn);
                out.push(Block {
                    node: XmlOut::Text(t.clone()),
                    texts: vec![t],
                    text,
                });
                continue;
            }
            XmlOut::Fragment(_) => continue,
        };
        let children: Vec<XmlOut> = element.children(txn).collect();
        if children.iter().all(|c| matches!(c, XmlOut::Element(_))) && !children.is_empty() {
            if open.len() < MAX_NESTING {
                open.push(children.into_iter());
            }
            continue;
        }
        let texts: Vec<XmlTextRef> = children
            .into_iter()
            .filter_map(|c| match c {
                XmlOut::Text(t) => Some(t),
                _ => None,
            })
            .collect();
        let text = texts.iter().map(|t| text_plain(t, txn)).collect();
        out.push(Block {
            node: XmlOut::Element(element),
            texts,
            text,
        });
    }
    out
}

/// Containers nested deeper than this are not read (no editor nests lists this deep); what
/// walks a document stops here, so nesting an editor wrote cannot overflow a thread's stack.
pub const MAX_NESTING: usize = 64;

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// A sticky position at `index` (UTF-16 units of the field's plain text) of `name`, in a
/// document that counts offsets in UTF-16. `start` picks the block where a range starting there
/// continues; otherwise the block where a range ending there ends.
pub fn sticky_index(doc: &Doc, name: &str, index: u32, start: bool) -> Option<StickyIndex> {
    let txn = doc.transact();
    let assoc = if start { Assoc::After } else { Assoc::Before };
    match get(&txn, name)? {
        Field::Text(text) => text.sticky_index(&txn, index, assoc),
        Field::Xml(fragment) => {
            let mut at = 0u32; // where the current block starts in the plain text
            for block in blocks(&fragment, &txn) {
                let len = utf16_len(&block.text);
                let inside = if start {
                    index >= at && index < at + len
                } else {
                    index > at && index <= at + len
                };
                if inside {
                    let mut offset = index - at;
                    for t in &block.texts {
                        let n = t.len(&txn);
                        if offset < n || (!start && offset == n) {
                            return t.sticky_index(&txn, offset, assoc);
                        }
                        offset -= n;
                    }
                }
                at += len + 1; // the "\n" between blocks
            }
            None
        }
    }
}

/// Where a sticky position of the field `name` is now, as an index into its plain text.
pub fn resolve(doc: &Doc, name: &str, position: &StickyIndex) -> Option<u32> {
    Layout::of(doc, name)?.place(doc, position)
}

/// A field laid out once, to place any number of positions in its plain text (see
/// `resolve`) without walking it again for each.
pub enum Layout {
    Text,
    /// Each text node of a fragment, and where it starts in the plain text.
    Xml(Vec<(XmlTextRef, u32)>),
}

impl Layout {
    pub fn of(doc: &Doc, name: &str) -> Option<Layout> {
        let txn = doc.transact();
        Some(match get(&txn, name)? {
            Field::Text(_) => Layout::Text,
            Field::Xml(fragment) => {
                let mut starts = Vec::new();
                let mut at = 0u32;
                for block in blocks(&fragment, &txn) {
                    let mut within = 0u32;
                    for t in block.texts {
                        let len = t.len(&txn);
                        starts.push((t, at + within));
                        within += len;
                    }
                    at += utf16_len(&block.text) + 1; // the "\n" between blocks
                }
                Layout::Xml(starts)
            }
        })
    }

    /// Where `position` is in the field's plain text, if it is in the field.
    pub fn place(&self, doc: &Doc, position: &StickyIndex) -> Option<u32> {
        let txn = doc.transact();
        let offset = position.get_offset(&txn)?;
        match self {
            Layout::Text => Some(offset.index),
            Layout::Xml(starts) => {
                let target = XmlTextRef::from(offset.branch);
                starts
                    .iter()
                    .find(|(t, _)| *t == target)
                    .map(|(_, start)| start + offset.index)
            }
        }
    }
}

pub fn append(doc: &Doc, name: &str, text: &str) {
    if matches!(get(&doc.transact(), name), Some(Field::Xml(_))) {
        let fragment = doc.get_or_insert_xml_fragment(name);
        let mut txn = doc.transact_mut();
        for line in text.trim_start_matches('\n').split('\n') {
            fragment.push_back(&mut txn, paragraph(line));
        }
    } else {
        let target = doc.get_or_insert_text(name);
        let mut txn = doc.transact_mut();
        let end = target.len(&txn);
        target.insert(&mut txn, end, text);
    }
}

/// Makes the field `name` read `text` with the fewest edits (see `reconcile`): unchanged
/// words keep their formatting and the comments anchored in them. In a rich-text field each
/// line is a paragraph; blank lines are spacing in plain text, not empty paragraphs, so none
/// are made, and the empty paragraphs a writer left are kept.
pub fn replace_plain(doc: &Doc, name: &str, text: &str) {
    let field = get(&doc.transact(), name);
    let fragment = match field {
        Some(Field::Xml(fragment)) => fragment,
        Some(Field::Text(t)) => return reconcile::plain(&mut doc.transact_mut(), &t, text),
        None => {
            let t = doc.get_or_insert_text(name);
            return reconcile::plain(&mut doc.transact_mut(), &t, text);
        }
    };
    let mut txn = doc.transact_mut();
    let all = blocks(&fragment, &txn);
    let kept: Vec<&Block> = all.iter().filter(|b| !b.text.is_empty()).collect();
    let lines: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
    if kept.is_empty() {
        // Nothing but empty paragraphs: the text takes their place.
        let len = fragment.len(&txn);
        fragment.remove_range(&mut txn, 0, len);
        for line in lines {
            fragment.push_back(&mut txn, paragraph(line));
        }
        return;
    }
    let old: Vec<&str> = kept.iter().map(|b| b.text.as_str()).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
    let ops = similar::capture_diff_slices_deadline(
        similar::Algorithm::Myers,
        &old,
        &lines,
        Some(deadline),
    );
    for op in ops.into_iter().rev() {
        if matches!(op, similar::DiffOp::Equal { .. }) {
            continue;
        }
        let (at, old_len, from, new_len) = (
            op.old_range().start,
            op.old_range().len(),
            op.new_range().start,
            op.new_range().len(),
        );
        let paired = old_len.min(new_len);
        for k in 0..paired {
            let block = kept[at + k];
            let (first, rest) = block.texts.split_first().expect("a block with text");
            reconcile::plain(&mut txn, first, lines[from + k]);
            for t in rest {
                let len = t.len(&txn);
                t.remove_range(&mut txn, 0, len);
            }
        }
        for block in &kept[at + paired..at + old_len] {
            remove_block(&mut txn, &block.node);
        }
        if new_len > paired {
            // After the top-level node holding the block before, or before the first one.
            let index = match (at + paired).checked_sub(1) {
                Some(before) => top_level_index(&fragment, &txn, &kept[before].node) + 1,
                None => top_level_index(&fragment, &txn, &kept[0].node),
            };
            for (k, line) in lines[from + paired..from + new_len].iter().enumerate() {
                fragment.insert(&mut txn, index + k as u32, paragraph(line));
            }
        }
    }
}

/// The parent of a node in a fragment (`None` at the top: the root has no XML parent).
fn parent_of(node: &XmlOut) -> Option<XmlOut> {
    match node {
        XmlOut::Element(e) => e.parent(),
        XmlOut::Text(t) => t.parent(),
        XmlOut::Fragment(_) => None,
    }
}

fn same(a: &XmlOut, b: &XmlOut) -> bool {
    match (a, b) {
        (XmlOut::Element(x), XmlOut::Element(y)) => x == y,
        (XmlOut::Text(x), XmlOut::Text(y)) => x == y,
        (XmlOut::Fragment(x), XmlOut::Fragment(y)) => x == y,
        _ => false,
    }
}

fn index_in<F: XmlFragment, T: ReadTxn>(parent: &F, txn: &T, node: &XmlOut) -> Option<u32> {
    parent
        .children(txn)
        .position(|c| same(&c, node))
        .map(|i| i as u32)
}

/// Where the top-level node holding `node` is among the fragment's children.
fn top_level_index<T: ReadTxn>(fragment: &XmlFragmentRef, txn: &T, node: &XmlOut) -> u32 {
    let mut top = node.clone();
    for _ in 0..MAX_NESTING {
        match parent_of(&top) {
            Some(XmlOut::Element(e)) => top = XmlOut::Element(e),
            _ => break,
        }
    }
    index_in(fragment, txn, &top).unwrap_or_else(|| fragment.len(txn))
}

/// Removes a block, and the containers (list items, lists) it leaves empty.
fn remove_block(txn: &mut yrs::TransactionMut, node: &XmlOut) {
    let mut node = node.clone();
    for _ in 0..MAX_NESTING {
        match parent_of(&node) {
            Some(XmlOut::Element(parent)) if parent.len(txn) <= 1 => {
                node = XmlOut::Element(parent);
            }
            Some(XmlOut::Element(parent)) => {
                if let Some(i) = index_in(&parent, txn, &node) {
                    parent.remove_range(txn, i, 1);
                }
                return;
            }
            Some(XmlOut::Fragment(parent)) => {
                if let Some(i) = index_in(&parent, txn, &node) {
                    parent.remove_range(txn, i, 1);
                }
                return;
            }
            _ => return,
        }
    }
}

fn paragraph(line: &str) -> XmlElementPrelim {
    let children = if line.is_empty() {
        Vec::new()
    } else {
        vec![yrs::types::xml::XmlIn::from(XmlTextPrelim::new(line))]
    };
    XmlElementPrelim::new(PARAGRAPH, children)
}

#[cfg(test)]
mod tests {
    use super::testing::{deeply_nested, on_a_small_stack};
    use super::*;
    use yrs::{OffsetKind, Options};

    /// What y-prosemirror writes for `<p>Hello <b>bold</b> world</p><ul><li><p>one</p></li></ul>`.
    fn tiptap_doc() -> Doc {
        let doc = Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let fragment = doc.get_or_insert_xml_fragment("post");
        let mut txn = doc.transact_mut();
        let p = fragment.push_back(&mut txn, XmlElementPrelim::empty(PARAGRAPH));
        let t = p.push_back(&mut txn, XmlTextPrelim::new("Hello bold world"));
        let bold = yrs::types::Attrs::from([("bold".into(), yrs::Any::from(true))]);
        t.format(&mut txn, 6, 4, bold);
        p.insert_attribute(&mut txn, "textAlign", "left");
        let list = fragment.push_back(&mut txn, XmlElementPrelim::empty("bulletList"));
        let item = list.push_back(&mut txn, XmlElementPrelim::empty("listItem"));
        let inner = item.push_back(&mut txn, XmlElementPrelim::empty(PARAGRAPH));
        inner.push_back(&mut txn, XmlTextPrelim::new("one"));
        fragment.push_back(&mut txn, XmlElementPrelim::empty(PARAGRAPH));
        drop(txn);
        doc
    }

    #[test]
    fn a_fragment_reads_as_its_blocks_without_marks() {
        let doc = tiptap_doc();
        assert_eq!(
            read(&doc, "post").as_deref(),
            Some("Hello bold world\none\n")
        );
        assert_eq!(read(&doc, "missing"), None);
    }

    #[test]
    fn positions_in_a_fragment_follow_their_words() {
        let doc = tiptap_doc();
        // "one" starts after "Hello bold world\n" (17 units).
        let start = sticky_index(&doc, "post", 17, true).unwrap();
        let end = sticky_index(&doc, "post", 20, false).unwrap();
        {
            let fragment = doc.get_or_insert_xml_fragment("post");
            let mut txn = doc.transact_mut();
            let first = fragment.get(&txn, 0).unwrap().into_xml_element().unwrap();
            let text = first.get(&txn, 0).unwrap().into_xml_text().unwrap();
            text.insert(&mut txn, 0, "Oh! ");
        }
        assert_eq!(resolve(&doc, "post", &start), Some(21));
        assert_eq!(resolve(&doc, "post", &end), Some(24));
        assert_eq!(&read(&doc, "post").unwrap()[21..24], "one");
    }

    #[test]
    fn appending_to_a_fragment_adds_paragraphs_and_to_a_text_adds_text() {
        let doc = tiptap_doc();
        append(&doc, "post", "\n\n#launch #spring");
        assert_eq!(
            read(&doc, "post").as_deref(),
            Some("Hello bold world\none\n\n#launch #spring")
        );
        let plain = Doc::new();
        plain
            .get_or_insert_text("post")
            .insert(&mut plain.transact_mut(), 0, "Hi");
        append(&plain, "post", " there");
        assert_eq!(read(&plain, "post").as_deref(), Some("Hi there"));
    }

    #[test]
    fn deep_nesting_is_read_without_recursion() {
        on_a_small_stack(|| {
            let doc = deeply_nested(20_000);
            assert_eq!(read(&doc, "post").unwrap(), "", "nothing within reach");
            let layout = Layout::of(&doc, "post");
            assert!(matches!(layout, Some(Layout::Xml(_))));
        });
    }
}
