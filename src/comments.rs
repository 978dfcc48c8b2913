//! Comments anchored to text: an anchor is a pair of Yjs relative positions (yrs sticky indexes,
//! the same encoding as `Y.encodeRelativePosition`), so it stays on the same words however the
//! text around it is edited, concurrently or not. Positions are counted in UTF-16 code units,
//! as the JavaScript clients count them.

use serde::{Deserialize, Serialize};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, OffsetKind, Options, StickyIndex, Transact, Update};

use crate::fields;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Span {
    pub index: u32,
    pub length: u32,
}

fn load(state: &[u8]) -> Result<Doc, String> {
    let doc = Doc::with_options(Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    });
    doc.transact_mut()
        .apply_update(Update::decode_v1(state).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    Ok(doc)
}

/// An anchor over `length` units from `index` of `field` (a text, or a rich-text fragment read
/// as its plain text, see `fields`) in the document state `state`.
pub fn anchor(state: &[u8], field: &str, index: u32, length: u32) -> Result<Anchor, String> {
    let doc = load(state)?;
    let whole = fields::read(&doc, field).unwrap_or_default();
    let len = whole.encode_utf16().count() as u32;
    if length == 0 || index + length > len {
        return Err(format!(
            "{field} has {len} characters; {index}+{length} is outside it"
        ));
    }
    let start = fields::sticky_index(&doc, field, index, true).ok_or("no position at the start")?;
    let end =
        fields::sticky_index(&doc, field, index + length, false).ok_or("no position at the end")?;
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

/// Where `anchor` lies in the document state `state` (`None` if its text was deleted).
pub fn resolve(state: &[u8], anchor: &Anchor) -> Option<Span> {
    let doc = load(state).ok()?;
    let decode = |h: &str| StickyIndex::decode_v1(&hex::decode(h).ok()?).ok();
    let start = fields::resolve(&doc, &anchor.field, &decode(&anchor.start)?)?;
    let end = fields::resolve(&doc, &anchor.field, &decode(&anchor.end)?)?;
    (end > start).then_some(Span {
        index: start,
        length: end - start,
    })
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
    use yrs::{ReadTxn, Text};

    fn state(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&yrs::StateVector::default())
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
