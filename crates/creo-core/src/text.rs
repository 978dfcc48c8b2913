//! The plain text of a document, for embedding: every root-level text, and the text content of
//! every root-level XML fragment (what ProseMirror/Tiptap bindings write), tags removed.

use yrs::{Array, Doc, Map, Out, ReadTxn, TextRef, Transact, XmlFragmentRef};

use crate::fields;

pub fn document_text(doc: &Doc) -> String {
    let txn = doc.transact();
    let mut parts: Vec<(String, String)> = txn
        .root_refs()
        .filter_map(|(name, value)| {
            let text = match value {
                Out::YText(t) => fields::text_plain(&t, &txn),
                Out::YXmlFragment(f) => fields::fragment_text(&f, &txn),
                Out::YXmlText(t) => fields::text_plain(&t, &txn),
                // A document rebuilt from stored updates has not declared its roots' types:
                // read the root as text, and as XML if it holds no text of its own.
                Out::UndefinedRef(branch) => {
                    let fragment = XmlFragmentRef::from(branch);
                    if fields::holds_xml(&fragment, &txn) {
                        fields::fragment_text(&fragment, &txn)
                    } else {
                        fields::text_plain(&TextRef::from(branch), &txn)
                    }
                }
                Out::YMap(_) | Out::YArray(_) => collect_strings(value, &txn).join(" "),
                _ => String::new(),
            };
            (!text.trim().is_empty()).then(|| (name.to_string(), text))
        })
        .collect();
    // Roots in a stable order, so the same content always gives the same text (and hash).
    parts.sort();
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every string in a map or array and what it holds, nested shared types and plain values
/// alike, walked with an explicit stack to `fields::MAX_NESTING` levels (nesting is whatever
/// editors wrote).
fn collect_strings<T: ReadTxn>(root: Out, txn: &T) -> Vec<String> {
    enum Node {
        Shared(Out),
        Plain(yrs::Any),
    }
    let mut out = Vec::new();
    let mut stack = vec![(Node::Shared(root), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > fields::MAX_NESTING {
            continue;
        }
        match node {
            Node::Shared(Out::YMap(m)) => {
                stack.extend(m.iter(txn).map(|(_, v)| (Node::Shared(v), depth + 1)))
            }
            Node::Shared(Out::YArray(a)) => {
                stack.extend(a.iter(txn).map(|v| (Node::Shared(v), depth + 1)))
            }
            Node::Shared(Out::YText(t)) => out.push(fields::text_plain(&t, txn)),
            Node::Shared(Out::Any(any)) | Node::Plain(any) => match any {
                yrs::Any::String(s) => out.push(s.to_string()),
                yrs::Any::Array(items) => {
                    stack.extend(items.iter().map(|v| (Node::Plain(v.clone()), depth + 1)))
                }
                yrs::Any::Map(map) => {
                    stack.extend(map.values().map(|v| (Node::Plain(v.clone()), depth + 1)))
                }
                _ => {}
            },
            Node::Shared(_) => {}
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Text, XmlFragment, XmlTextPrelim};

    #[test]
    fn texts_and_xml_fragments_are_read_without_markup() {
        let doc = Doc::new();
        let post = doc.get_or_insert_text("post");
        let body = doc.get_or_insert_xml_fragment("default");
        {
            let mut txn = doc.transact_mut();
            post.insert(&mut txn, 0, "Launch day!");
            let t = body.insert(&mut txn, 0, XmlTextPrelim::new("Our new app"));
            let bold = yrs::types::Attrs::from([("bold".into(), yrs::Any::from(true))]);
            t.format(&mut txn, 8, 3, bold);
        }
        let text = document_text(&doc);
        assert!(text.contains("Launch day!"), "{text}");
        assert!(text.contains("Our new"), "{text}");
        assert!(!text.contains('<'), "{text}");
        assert_eq!(document_text(&doc), text, "stable");
        // The same document rebuilt from its stored state, with no roots declared.
        let stored = doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        let rebuilt = Doc::new();
        rebuilt
            .transact_mut()
            .apply_update(yrs::Update::decode_v1(&stored).unwrap())
            .unwrap();
        assert_eq!(document_text(&rebuilt), text);
    }

    #[test]
    fn deeply_nested_content_is_read_without_recursion() {
        crate::fields::testing::on_a_small_stack(|| {
            let doc = crate::fields::testing::deeply_nested(20_000);
            let map = doc.get_or_insert_map("meta");
            {
                let mut txn = doc.transact_mut();
                let mut inner = map.insert(&mut txn, "m", yrs::MapPrelim::default());
                for _ in 0..20_000 {
                    inner = inner.insert(&mut txn, "m", yrs::MapPrelim::default());
                }
                inner.insert(&mut txn, "s", "deep string");
            }
            // Too deep to read, but read without harm.
            assert_eq!(document_text(&doc), "");
        });
    }
}
