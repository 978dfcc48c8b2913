//! The plain text of a document, for embedding: every root-level text, and the text content of
//! every root-level XML fragment (what ProseMirror/Tiptap bindings write), tags removed.

use yrs::types::ToJson;
use yrs::{Doc, GetString, Out, ReadTxn, TextRef, Transact, XmlFragmentRef};

pub fn document_text(doc: &Doc) -> String {
    let txn = doc.transact();
    let mut parts: Vec<(String, String)> = txn
        .root_refs()
        .filter_map(|(name, value)| {
            let text = match value {
                Out::YText(t) => t.get_string(&txn),
                Out::YXmlFragment(f) => strip_tags(&f.get_string(&txn)),
                Out::YXmlText(t) => strip_tags(&t.get_string(&txn)),
                // A document rebuilt from stored updates has not declared its roots' types:
                // read the root as text, and as XML if it holds no text of its own.
                Out::UndefinedRef(branch) => {
                    let text = TextRef::from(branch).get_string(&txn);
                    if text.trim().is_empty() {
                        strip_tags(&XmlFragmentRef::from(branch).get_string(&txn))
                    } else {
                        text
                    }
                }
                Out::YMap(_) | Out::YArray(_) => {
                    let mut strings = Vec::new();
                    collect_strings(&value.to_json(&txn), &mut strings);
                    strings.join(" ")
                }
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

fn strip_tags(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut in_tag = false;
    for c in xml.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn collect_strings(value: &yrs::Any, out: &mut Vec<String>) {
    match value {
        yrs::Any::String(s) => out.push(s.to_string()),
        yrs::Any::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        yrs::Any::Map(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
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
            body.insert(&mut txn, 0, XmlTextPrelim::new("Our new <b>app</b>"));
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
}
