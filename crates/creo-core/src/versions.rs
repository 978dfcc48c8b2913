//! Versions of a document: named (or automatic) snapshots of its state, restoring one as a new
//! edit (never rewriting history), and what changed between two of them.
//!
//! Restoring writes, from a client id of its own, the edit that turns each root of the current
//! document back into the version's with the fewest changes (`fields::reconcile`): what the
//! version shares with the document keeps its identity, so its formatting, the comments
//! anchored in it and other editors' cursors stay; what differs is deleted or inserted with the
//! version's formatting.

use serde::{Deserialize, Serialize};
use yrs::{Doc, Out, ReadTxn, StateVector, TextRef, Transact, XmlFragmentRef};

use crate::fields::content::{self, Node, Run};
use crate::fields::reconcile;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Version {
    pub version_id: String,
    pub doc_id: String,
    pub name: String,
    /// Made on a workflow transition rather than by a person.
    pub automatic: bool,
    pub created_by: String,
    pub created_at: i64,
    /// Who wrote to the document on this node since the previous version.
    pub changed_by: Vec<String>,
    /// The whole state as one Yjs update.
    #[serde(skip)]
    pub state: Vec<u8>,
}

/// A version's (or the document's) state decoded, offsets in bytes. Whole-document work: the
/// server calls what uses it off its async executor.
fn load(state: &[u8]) -> Result<Doc, String> {
    crate::snapshot::decode(state, yrs::OffsetKind::Bytes)
}

enum Root {
    Text(Vec<Run>),
    Xml(Vec<Node>),
}

/// The roots of a state that versions handle: texts, and XML fragments, with their content.
fn roots(doc: &Doc) -> Vec<(String, Root)> {
    let txn = doc.transact();
    let mut out: Vec<(String, Root)> = txn
        .root_refs()
        .filter_map(|(name, value)| {
            let root = match value {
                Out::YText(t) => Root::Text(content::runs(&t, &txn)),
                Out::YXmlFragment(f) => Root::Xml(content::read(&f, &txn)),
                // Roots a stored state has not declared: text if they hold text, else XML.
                Out::UndefinedRef(b) => {
                    let fragment = XmlFragmentRef::from(b);
                    if crate::fields::holds_xml(&fragment, &txn) {
                        Root::Xml(content::read(&fragment, &txn))
                    } else {
                        Root::Text(content::runs(&TextRef::from(b), &txn))
                    }
                }
                _ => return None,
            };
            Some((name.to_string(), root))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The update, written as `client`, that turns `current` back into `version`'s content.
pub fn restore(current: &[u8], version: &[u8], client: yrs::ClientID) -> Result<Vec<u8>, String> {
    let target = roots(&load(version)?);
    let (doc, before) = crate::snapshot::writable(current, client)?;
    for (name, root) in target {
        match root {
            Root::Text(runs) => {
                let text = doc.get_or_insert_text(name.as_str());
                reconcile::text(&mut doc.transact_mut(), &text, &runs);
            }
            Root::Xml(children) => {
                let fragment = doc.get_or_insert_xml_fragment(name.as_str());
                reconcile::children(&mut doc.transact_mut(), &fragment, &children);
            }
        }
    }
    let update = doc.transact().encode_diff_v1(&before);
    Ok(update)
}

/// The update, written as `client`, that makes the text `field` of `current` read `text` with
/// the fewest edits (`fields::replace_plain`).
pub fn replace_text(
    current: &[u8],
    field: &str,
    text: &str,
    client: yrs::ClientID,
) -> Result<Vec<u8>, String> {
    let (doc, before) = crate::snapshot::writable(current, client)?;
    crate::fields::replace_plain(&doc, field, text);
    let update = doc.transact().encode_diff_v1(&before);
    Ok(update)
}

/// Bytes shared at the start and at the end of `a` and `b`, on character boundaries.
fn common_ends(a: &str, b: &str) -> (usize, usize) {
    let prefix = a
        .char_indices()
        .zip(b.chars())
        .take_while(|((_, x), y)| x == y)
        .last()
        .map_or(0, |((i, c), _)| i + c.len_utf8());
    let (a_rest, b_rest) = (&a[prefix..], &b[prefix..]);
    let suffix = a_rest
        .chars()
        .rev()
        .zip(b_rest.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(c, _)| c.len_utf8())
        .sum();
    (prefix, suffix)
}

/// What changed in one root between two states.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub field: String,
    pub removed: String,
    pub inserted: String,
}

/// The roots whose plain content differs between `from` and `to`, with the differing middle.
pub fn compare(from: &[u8], to: &[u8]) -> Result<Vec<Change>, String> {
    // Each side decoded once; an XML root is read from the same document.
    let as_text = |state: &[u8]| -> Result<Vec<(String, String)>, String> {
        let doc = load(state)?;
        Ok(roots(&doc)
            .into_iter()
            .map(|(name, root)| {
                let text = match root {
                    Root::Text(runs) => runs.into_iter().map(|r| r.text).collect(),
                    Root::Xml(_) => {
                        let fragment = doc.get_or_insert_xml_fragment(name.as_str());
                        let txn = doc.transact();
                        crate::fields::fragment_text(&fragment, &txn)
                    }
                };
                (name, text)
            })
            .collect())
    };
    let (a, b) = (as_text(from)?, as_text(to)?);
    let mut names: Vec<&String> = a.iter().chain(b.iter()).map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    let get = |side: &[(String, String)], name: &str| {
        side.iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let (old, new) = (get(&a, name), get(&b, name));
            if old == new {
                return None;
            }
            let (prefix, suffix) = common_ends(&old, &new);
            Some(Change {
                field: name.clone(),
                removed: old[prefix..old.len() - suffix].to_string(),
                inserted: new[prefix..new.len() - suffix].to_string(),
            })
        })
        .collect())
}

/// The state of `doc` as one update (for tests and snapshots).
pub fn full_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::types::xml::{XmlElementPrelim, XmlTextPrelim};
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, Text, Update, XmlFragment};

    #[test]
    fn restoring_returns_text_and_xml_to_the_version_as_a_new_edit() {
        let doc = Doc::new();
        let post = doc.get_or_insert_text("post");
        let body = doc.get_or_insert_xml_fragment("default");
        {
            let mut txn = doc.transact_mut();
            post.insert(&mut txn, 0, "Summer sale: 20% off");
            let p = body.insert(&mut txn, 0, XmlElementPrelim::empty("paragraph"));
            p.insert(&mut txn, 0, XmlTextPrelim::new("first draft"));
        }
        let v1 = full_state(&doc);
        {
            let mut txn = doc.transact_mut();
            post.remove_range(&mut txn, 13, 3);
            post.insert(&mut txn, 13, "50%");
            body.insert(&mut txn, 1, XmlElementPrelim::empty("heading"));
        }
        let v2 = full_state(&doc);
        let changes = compare(&v1, &v2).unwrap();
        assert!(
            changes.contains(&Change {
                field: "post".into(),
                removed: "2".into(),
                inserted: "5".into()
            }),
            "{changes:?}"
        );
        let update = restore(&v2, &v1, yrs::ClientID::new(4242)).unwrap();
        doc.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        assert_eq!(post.get_string(&doc.transact()), "Summer sale: 20% off");
        assert_eq!(
            body.get_string(&doc.transact()),
            "<paragraph>first draft</paragraph>"
        );
        assert!(compare(&v1, &full_state(&doc)).unwrap().is_empty());
        // History kept: the 50% edit is still in the document's past, only undone.
        assert!(doc.transact().state_vector().len() >= 2);
    }

    #[test]
    fn deep_nesting_is_compared_and_restored_without_recursion() {
        crate::fields::testing::on_a_small_stack(|| {
            let deep = full_state(&crate::fields::testing::deeply_nested(20_000));
            let plain = full_state(&Doc::new());
            assert!(compare(&plain, &deep).is_ok());
            assert!(restore(&deep, &deep, yrs::ClientID::new(7)).is_ok());
            assert!(restore(&plain, &deep, yrs::ClientID::new(7)).is_ok());
        });
    }
}
