//! The AI as a collaborator: its suggestions enter a document as ordinary Yjs updates written by
//! a client id of its own (one per suggestion), so every editor receives them live like anyone
//! else's edit, and a suggestion can be undone by deleting exactly what that client id wrote.

use yrs::encoding::write::Write;
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{ClientID, Doc, IdSet, ReadTxn, StateVector, Transact, ID};

/// What a suggestion wrote: its client id and how many clock ticks (items) it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suggestion {
    pub client: ClientID,
    pub length: u32,
}

impl Suggestion {
    /// `<client>-<length>`: enough to undo it, with no server-side state.
    pub fn id(&self) -> String {
        format!("{}-{}", self.client.get(), self.length)
    }

    /// Reads an id a client sends back: its client id must be one Yjs can have (53 bits).
    pub fn parse(id: &str) -> Option<Suggestion> {
        let (client, length) = id.split_once('-')?;
        let client: u64 = client.parse().ok()?;
        if client > crate::sync::update::MAX_CLIENT_ID {
            return None;
        }
        Some(Suggestion {
            client: ClientID::new(client),
            length: length.parse().ok()?,
        })
    }
}

/// A fresh client id for an AI participant (Yjs client ids are 53-bit safe integers).
pub fn new_client() -> ClientID {
    ClientID::random()
}

/// The update that appends `text` to the text `field` of `doc` (see `snapshot::writable`),
/// written as `doc`'s client, against `before`.
pub fn append(doc: &Doc, before: &StateVector, field: &str, text: &str) -> (Vec<u8>, Suggestion) {
    let client = doc.client_id();
    crate::fields::append(doc, field, text);
    let txn = doc.transact();
    let length = txn.state_vector().get(&client);
    (txn.encode_diff_v1(before), Suggestion { client, length })
}

/// The update that deletes everything a suggestion wrote (a pure delete set).
pub fn undo(s: Suggestion) -> Vec<u8> {
    let mut deletes = IdSet::new();
    deletes.insert(ID::new(s.client, 0), s.length);
    let mut encoder = EncoderV1::new();
    encoder.write_var(0u32); // no new items
    deletes.encode(&mut encoder);
    encoder.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, Text, Update};

    fn full_state(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    #[test]
    fn a_suggestion_appends_and_its_undo_removes_exactly_it() {
        let human = Doc::new();
        let post = human.get_or_insert_text("post");
        post.insert(&mut human.transact_mut(), 0, "Big news");
        let state = full_state(&human);
        let (doc, before) = crate::snapshot::writable(&state, new_client()).unwrap();
        let (update, s) = append(&doc, &before, "post", " #launch");
        human
            .transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        assert_eq!(post.get_string(&human.transact()), "Big news #launch");
        assert_eq!(Suggestion::parse(&s.id()), Some(s));
        // The human keeps typing meanwhile; undo removes only the AI's text.
        post.insert(&mut human.transact_mut(), 0, "! ");
        human
            .transact_mut()
            .apply_update(Update::decode_v1(&undo(s)).unwrap())
            .unwrap();
        assert_eq!(post.get_string(&human.transact()), "! Big news");
        let reread = crate::snapshot::decode(&full_state(&human), yrs::OffsetKind::Bytes).unwrap();
        assert_eq!(crate::fields::read(&reread, "post").unwrap(), "! Big news");
    }
}
