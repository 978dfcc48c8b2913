//! Comments anchored to text: an anchor is a pair of Yjs relative positions (yrs sticky indexes,
//! the same encoding as `Y.encodeRelativePosition`), so it stays on the same words however the
//! text around it is edited, concurrently or not. Positions are counted in UTF-16 code units,
//! as the JavaScript clients count them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, OffsetKind, StickyIndex};

use crate::fields;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comment {
    pub comment_id: String,
    pub doc_id: String,
    /// The first comment's id for a thread's replies; its own id for the first.
    pub thread_id: String,
    pub author: String,
    pub body: String,
    /// Members mentioned (`@user_id` in the body).
    pub mentions: Vec<String>,
    pub anchor: Option<Anchor>,
    pub created_at: i64,
    /// Set on a thread's first comment when the thread is resolved.
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anchor {
    /// The text field of the document.
    pub field: String,
    /// Hex of the encoded relative positions of the start and the end.
    pub start: String,
    pub end: String,
    /// The text as it was when the comment was made.
    pub quoted: String,
}

/// Where an anchor is now: its index and length in the field's current text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Span {
    pub index: u32,
    pub length: u32,
}

/// A state decoded as anchors need it: positions in UTF-16 units. Whole-document work: call it
/// off the async executor (`snapshot::off_executor`), once per request.
pub fn document(state: &[u8]) -> Result<Doc, String> {
    crate::snapshot::decode(state, OffsetKind::Utf16)
}

/// An anchor over `length` units from `index` of `field` (a text, or a rich-text fragment read
/// as its plain text, see `fields`) in `doc` (see `document`).
pub fn anchor(doc: &Doc, field: &str, index: u32, length: u32) -> Result<Anchor, String> {
    let whole = fields::read(doc, field).unwrap_or_default();
    let len = whole.encode_utf16().count() as u32;
    if length == 0 || index.checked_add(length).is_none_or(|end| end > len) {
        return Err(format!(
            "{field} has {len} characters; {index}+{length} is outside it"
        ));
    }
    let start = fields::sticky_index(doc, field, index, true).ok_or("no position at the start")?;
    let end =
        fields::sticky_index(doc, field, index + length, false).ok_or("no position at the end")?;
    let units: Vec<u16> = whole
        .encode_utf16()
        .skip(index as usize)
        .take(length as usize)
        .collect();
    let quoted = String::from_utf16_lossy(&units);
    Ok(Anchor {
        field: field.to_string(),
        start: hex::encode(start.encode_v1()),
        end: hex::encode(end.encode_v1()),
        quoted,
    })
}

/// Where each anchor lies in `doc` now (`None` where its text was deleted). Each field is laid
/// out once however many anchors it holds.
pub fn resolve_all<'a>(
    doc: &Doc,
    anchors: impl IntoIterator<Item = Option<&'a Anchor>>,
) -> Vec<Option<Span>> {
    let mut layouts: HashMap<&str, Option<fields::Layout>> = HashMap::new();
    anchors
        .into_iter()
        .map(|anchor| {
            let anchor = anchor?;
            let layout = layouts
                .entry(anchor.field.as_str())
                .or_insert_with(|| fields::Layout::of(doc, &anchor.field))
                .as_ref()?;
            let decode = |h: &str| StickyIndex::decode_v1(&hex::decode(h).ok()?).ok();
            let start = layout.place(doc, &decode(&anchor.start)?)?;
            let end = layout.place(doc, &decode(&anchor.end)?)?;
            (end > start).then_some(Span {
                index: start,
                length: end - start,
            })
        })
        .collect()
}

/// Where one anchor lies in `doc` now.
pub fn resolve(doc: &Doc, anchor: &Anchor) -> Option<Span> {
    resolve_all(doc, [Some(anchor)]).pop().flatten()
}

/// `@user_id` words of a body.
pub fn mentions(body: &str) -> Vec<String> {
    let mut out: Vec<String> = body
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('@'))
        .map(|w| w.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '-'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{ReadTxn, Text, Transact};

    /// The document as a request sees it: its state, decoded again.
    fn state(doc: &Doc) -> Doc {
        document(
            &doc.transact()
                .encode_state_as_update_v1(&yrs::StateVector::default()),
        )
        .unwrap()
    }

    #[test]
    fn an_anchor_follows_its_words_through_edits_before_and_inside() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("post");
        text.insert(&mut doc.transact_mut(), 0, "hello world");
        let a = anchor(&state(&doc), "post", 6, 5).unwrap();
        assert_eq!(a.quoted, "world");
        text.insert(&mut doc.transact_mut(), 0, "Big news: ");
        assert_eq!(
            resolve(&state(&doc), &a),
            Some(Span {
                index: 16,
                length: 5
            })
        );
        text.insert(&mut doc.transact_mut(), 18, "-"); // "wo-rld"
        assert_eq!(
            resolve(&state(&doc), &a),
            Some(Span {
                index: 16,
                length: 6
            })
        );
        text.remove_range(&mut doc.transact_mut(), 16, 6);
        assert_eq!(resolve(&state(&doc), &a), None, "its text is gone");
        assert!(anchor(&state(&doc), "post", 100, 2).is_err());
    }

    #[test]
    fn mentions_are_at_words() {
        assert_eq!(mentions("ping @u_1, and @bob! not a@b"), vec!["u_1", "bob"]);
    }
}
