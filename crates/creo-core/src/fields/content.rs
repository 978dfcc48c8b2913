//! A field's rich content as plain data: its elements with their attributes, and its text as
//! runs of one formatting each (the marks a Tiptap editor writes are formatting attributes).
//! Read out of one document (a version) to be written into another (the live document) by
//! `reconcile`, which compares contents by `fingerprint`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use yrs::types::text::{Diff, YChange};
use yrs::types::xml::XmlOut;
use yrs::types::Attrs;
use yrs::{Any, Out, ReadTxn, Text, Xml, XmlFragment};

use super::MAX_NESTING;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    Text(Vec<Run>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub tag: Arc<str>,
    /// Sorted by name.
    pub attrs: Vec<(Arc<str>, Any)>,
    pub children: Vec<Node>,
}

/// A stretch of text with one formatting.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub text: String,
    pub attrs: Attrs,
}

/// The text of a text node as runs; what it embeds (no editor schema of creo's has inline
/// embeds) is left out.
pub fn runs<X: Text, T: ReadTxn>(text: &X, txn: &T) -> Vec<Run> {
    text.diff(txn, YChange::identity)
        .into_iter()
        .filter_map(
            |Diff {
                 insert, attributes, ..
             }| match insert {
                Out::Any(Any::String(s)) => Some(Run {
                    text: s.to_string(),
                    attrs: attributes.map(|a| *a).unwrap_or_default(),
                }),
                _ => None,
            },
        )
        .collect()
}

/// An element's attributes that are plain values, sorted by name.
pub fn attributes<X: Xml, T: ReadTxn>(element: &X, txn: &T) -> Vec<(Arc<str>, Any)> {
    let mut attrs: Vec<(Arc<str>, Any)> = element
        .attributes(txn)
        .filter_map(|(k, v)| match v {
            Out::Any(any) => Some((Arc::from(k), any)),
            _ => None,
        })
        .collect();
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    attrs
}

/// The children of a fragment (or element) as content, to `MAX_NESTING` levels, without
/// recursion: deeper elements are kept empty.
pub fn read<F: XmlFragment, T: ReadTxn>(node: &F, txn: &T) -> Vec<Node> {
    read_children(node.children(txn).collect(), txn)
}

/// One child of a fragment as content (see `read`).
pub fn read_one<T: ReadTxn>(child: &XmlOut, txn: &T) -> Option<Node> {
    read_children(vec![child.clone()], txn).pop()
}

fn read_children<T: ReadTxn>(children: Vec<XmlOut>, txn: &T) -> Vec<Node> {
    /// An element whose children are being read; the bottom one stands for the fragment.
    struct Open {
        element: Option<Element>,
        pending: std::vec::IntoIter<XmlOut>,
        read: Vec<Node>,
    }
    let mut stack = vec![Open {
        element: None,
        pending: children.into_iter(),
        read: Vec::new(),
    }];
    loop {
        let depth = stack.len();
        let top = stack.last_mut().expect("the fragment stays at the bottom");
        match top.pending.next() {
            Some(XmlOut::Text(t)) => top.read.push(Node::Text(runs(&t, txn))),
            Some(XmlOut::Element(e)) => {
                let element = Element {
                    tag: e.tag().clone(),
                    attrs: attributes(&e, txn),
                    children: Vec::new(),
                };
                if depth <= MAX_NESTING {
                    stack.push(Open {
                        element: Some(element),
                        pending: e.children(txn).collect::<Vec<_>>().into_iter(),
                        read: Vec::new(),
                    });
                } else {
                    top.read.push(Node::Element(element));
                }
            }
            Some(XmlOut::Fragment(_)) => {}
            None => {
                let done = stack.pop().expect("not empty");
                match (done.element, stack.last_mut()) {
                    (Some(mut element), Some(parent)) => {
                        element.children = done.read;
                        parent.read.push(Node::Element(element));
                    }
                    _ => return done.read,
                }
            }
        }
    }
}

/// A hash of a node's whole content: equal content, equal fingerprint (attribute maps are
/// hashed in key order). Walked without recursion.
pub fn fingerprint(node: &Node) -> u64 {
    let mut h = DefaultHasher::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match node {
            Node::Text(runs) => {
                0u8.hash(&mut h);
                runs.len().hash(&mut h);
                for run in runs {
                    run.text.hash(&mut h);
                    hash_attrs(&run.attrs, &mut h);
                }
            }
            Node::Element(e) => {
                1u8.hash(&mut h);
                e.tag.hash(&mut h);
                for (k, v) in &e.attrs {
                    k.hash(&mut h);
                    hash_any(v, &mut h, 0);
                }
                e.children.len().hash(&mut h);
                stack.extend(e.children.iter().rev());
            }
        }
    }
    h.finish()
}

pub fn hash_attrs(attrs: &Attrs, h: &mut impl Hasher) {
    let mut keys: Vec<&Arc<str>> = attrs.keys().collect();
    keys.sort();
    keys.len().hash(h);
    for k in keys {
        k.hash(h);
        hash_any(&attrs[k], h, 0);
    }
}

/// Values nest no deeper than an update may (`sync::UpdateLimits::max_depth`); past a generous
/// bound the rest is not hashed, which only makes unequal values look alike to the hash (and
/// `reconcile` compares them again in full).
fn hash_any(v: &Any, h: &mut impl Hasher, depth: usize) {
    if depth > 64 {
        return;
    }
    std::mem::discriminant(v).hash(h);
    match v {
        Any::Null | Any::Undefined => {}
        Any::Bool(b) => b.hash(h),
        Any::Number(n) => n.to_string().hash(h),
        Any::String(s) => s.hash(h),
        Any::Buffer(b) => b.hash(h),
        Any::Array(items) => {
            items.len().hash(h);
            for item in items.iter() {
                hash_any(item, h, depth + 1);
            }
        }
        Any::Map(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.len().hash(h);
            for k in keys {
                k.hash(h);
                hash_any(&map[k], h, depth + 1);
            }
        }
    }
}
