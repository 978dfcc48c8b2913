//! Validation of Yjs updates (lib0 v1 encoding) before yrs sees them.
//!
//! yrs decodes an update eagerly and recursively: a value nested thousands of levels deep
//! overflows the thread's stack (the process aborts), a declared count reserves memory before
//! the bytes behind it are read, and an update whose dependencies the document lacks is kept
//! "pending" forever and walked again by every later transaction. So every update, whoever sent
//! it, is first read here by a flat, iterative parser that mirrors yrs's decoder field by field
//! (the same `Cursor` primitives), allocates nothing proportional to declared counts, and bounds
//! nesting, counts and clocks. What it returns, an [`UpdateShape`], is small: which clock ranges
//! the update inserts, which ids outside itself it depends on, and how far its deletions reach.
//! A document holding a state vector can then tell in time linear in that shape whether the
//! update would integrate completely ([`UpdateShape::resolve`]), without applying it.

use std::collections::HashMap;

use yrs::encoding::read::{Cursor, Read};
use yrs::StateVector;

/// Limits on one update. Defaults fit any update an editor produces; the stored data of a
/// document (snapshots are one update) is read with the same nesting limit and larger counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateLimits {
    /// Nesting of values inside one struct: `Any` arrays and maps, and JSON in embeds and
    /// formatting attributes.
    pub max_depth: usize,
    /// Structs (items, GC and skip ranges) in the update.
    pub max_structs: usize,
    /// Client sections in the struct part plus clients in the delete set.
    pub max_clients: usize,
    /// Ranges in the delete set.
    pub max_delete_ranges: usize,
    /// Accept the deprecated JSON content (Yjs before v13). yrs reads one string more than it
    /// writes for it, so a document holding one no longer round-trips: clients may not send it;
    /// stored data that has it is still read.
    pub legacy_json: bool,
}

impl Default for UpdateLimits {
    fn default() -> Self {
        UpdateLimits {
            max_depth: 32,
            max_structs: 1 << 20,
            max_clients: 1 << 16,
            max_delete_ranges: 1 << 20,
            legacy_json: false,
        }
    }
}

impl UpdateLimits {
    /// For data the server wrote itself (the store, other nodes): the same nesting limit, since
    /// that is what protects the stack, and no count limit beyond what the bytes can hold.
    pub fn trusted(self) -> UpdateLimits {
        UpdateLimits {
            max_depth: self.max_depth,
            max_structs: usize::MAX,
            max_clients: usize::MAX,
            max_delete_ranges: usize::MAX,
            legacy_json: true,
        }
    }
}

/// Why an update was refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("truncated or malformed update: {0}")]
    Malformed(&'static str),
    #[error("update nests values deeper than {0} levels")]
    TooDeep(usize),
    #[error("update declares more {what} than allowed ({limit})")]
    TooMany { what: &'static str, limit: usize },
    #[error("update clock overflows")]
    ClockOverflow,
    #[error("client id {0} is wider than 53 bits")]
    ClientId(u64),
    #[error("client {0} appears twice in the update")]
    DuplicateClient(u64),
    #[error("an item refers to its own client's future clock")]
    ForwardReference,
    #[error("update has {0} trailing bytes")]
    Trailing(usize),
}

impl UpdateError {
    /// Label for `creo_refused_messages_total{reason}`.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            UpdateError::TooDeep(_) => "update_too_deep",
            UpdateError::TooMany { .. } => "update_too_many",
            _ => "invalid_update",
        }
    }
}

/// Why an update that is valid on its own would not integrate into a document completely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    #[error("structs of client {client} start at clock {start}, the document has {have}")]
    Gap { client: u64, start: u32, have: u32 },
    #[error("an item depends on {client}:{clock}, which neither the document nor the update has")]
    Missing { client: u64, clock: u32 },
    #[error("items of the update depend on each other in a cycle")]
    Cycle,
    #[error("deletions reach {client}:{end}, beyond what the document has")]
    DeleteBeyond { client: u64, end: u32 },
    #[error("the update contains a skipped range")]
    Skip,
}

/// A dependency of one struct on an id of another client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dependency {
    /// First clock of the struct that needs it, and the clock after the struct.
    at: u32,
    end: u32,
    client: u64,
    clock: u32,
}

/// One client's contiguous structs in the update.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    client: u64,
    start: u32,
    end: u32,
    /// Foreign dependencies in clock order. Dependencies on the same client's earlier clocks are
    /// met by order and not kept.
    deps: Vec<Dependency>,
    /// A skip range (a hole the sender did not have): what follows may be integrated, but the
    /// document would keep the hole as missing.
    skip: bool,
}

/// What an update inserts, depends on and deletes: enough to decide whether it integrates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateShape {
    runs: Vec<Run>,
    /// Per client, the clock the document must have reached for every deletion to apply.
    deletes: Vec<(u64, u32)>,
    structs: usize,
}

impl UpdateShape {
    /// Structs in the update.
    pub fn structs(&self) -> usize {
        self.structs
    }

    /// Whether the update carries neither structs nor deletions.
    pub fn is_empty(&self) -> bool {
        self.runs.iter().all(|r| r.start == r.end) && self.deletes.is_empty()
    }

    /// Whether the update inserts anything beyond `known` (a state vector).
    pub fn inserts_beyond(&self, known: &StateVector) -> bool {
        self.runs
            .iter()
            .any(|r| r.end > known.get(&yrs::ClientID::new(r.client)))
    }

    /// Whether the update deletes anything (the delete set may still be old news).
    pub fn deletes(&self) -> bool {
        !self.deletes.is_empty()
    }

    /// Raises `known` to what it is once this update is integrated.
    pub fn advance(&self, known: &mut StateVector) {
        for r in &self.runs {
            if r.end > r.start {
                known.set_max(yrs::ClientID::new(r.client), r.end);
            }
        }
    }

    /// Decides whether the update integrates completely into a document whose state vector is
    /// `known`: no struct starts after a hole, every dependency is in the document or in the
    /// update (and not in a cycle), every deletion falls inside what the document will then
    /// hold. The same walk yrs makes when it integrates (each client's structs in order,
    /// switching to the client a struct waits for), over dependencies only: linear in the
    /// shape, not in the document.
    pub fn resolve(&self, known: &StateVector) -> Result<(), Unresolved> {
        let index: HashMap<u64, usize> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.client, i))
            .collect();
        let mut have: HashMap<u64, u32> = HashMap::with_capacity(self.runs.len());
        let clock_of = |have: &HashMap<u64, u32>, client: u64| -> u32 {
            have.get(&client)
                .copied()
                .unwrap_or_else(|| known.get(&yrs::ClientID::new(client)))
        };
        let mut next_dep = vec![0usize; self.runs.len()];
        let mut on_stack = vec![false; self.runs.len()];
        // (run, clock it must pass); `None`: the run's end.
        let mut stack: Vec<(usize, Option<u32>)> = Vec::new();
        for root in 0..self.runs.len() {
            if self.runs[root].skip {
                return Err(Unresolved::Skip);
            }
            stack.push((root, None));
            on_stack[root] = true;
            while let Some(&(ri, need)) = stack.last() {
                let run = &self.runs[ri];
                let h = clock_of(&have, run.client);
                let done = next_dep[ri] == run.deps.len() && h >= run.end;
                if done || need.is_some_and(|n| h > n) {
                    stack.pop();
                    on_stack[ri] = false;
                    continue;
                }
                if run.start > h {
                    return Err(Unresolved::Gap {
                        client: run.client,
                        start: run.start,
                        have: h,
                    });
                }
                let Some(dep) = run.deps.get(next_dep[ri]) else {
                    have.insert(run.client, h.max(run.end));
                    continue;
                };
                if dep.at > h {
                    // The structs before this one need nothing from other clients.
                    have.insert(run.client, dep.at);
                    continue;
                }
                if clock_of(&have, dep.client) > dep.clock {
                    next_dep[ri] += 1;
                    let same_struct = run.deps.get(next_dep[ri]).is_some_and(|n| n.at == dep.at);
                    if !same_struct {
                        have.insert(run.client, h.max(dep.end));
                    }
                    continue;
                }
                let missing = Unresolved::Missing {
                    client: dep.client,
                    clock: dep.clock,
                };
                let Some(&dj) = index.get(&dep.client) else {
                    return Err(missing);
                };
                if self.runs[dj].end <= dep.clock {
                    return Err(missing);
                }
                if self.runs[dj].skip {
                    return Err(Unresolved::Skip);
                }
                if on_stack[dj] {
                    return Err(Unresolved::Cycle);
                }
                on_stack[dj] = true;
                stack.push((dj, Some(dep.clock)));
            }
        }
        for &(client, end) in &self.deletes {
            if clock_of(&have, client) < end {
                return Err(Unresolved::DeleteBeyond { client, end });
            }
        }
        Ok(())
    }
}

/// Validates, then decodes: for updates read from the store, another node or a request body.
pub fn decode_checked(
    bytes: &[u8],
    limits: &UpdateLimits,
) -> Result<(UpdateShape, yrs::Update), UpdateError> {
    use yrs::updates::decoder::Decode;
    let shape = validate(bytes, limits)?;
    let update =
        yrs::Update::decode_v1(bytes).map_err(|_| UpdateError::Malformed("refused by yrs"))?;
    Ok((shape, update))
}

/// Yjs client ids are 53-bit (JavaScript's safe integers); yrs asserts it when it builds one.
pub const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

/// A client id, refused beyond 53 bits.
pub fn read_client(cur: &mut Cursor) -> Result<u64, UpdateError> {
    let client: u64 = eof(cur.read_var())?;
    if client > MAX_CLIENT_ID {
        return Err(UpdateError::ClientId(client));
    }
    Ok(client)
}

fn eof<T>(r: Result<T, yrs::encoding::read::Error>) -> Result<T, UpdateError> {
    r.map_err(|_| UpdateError::Malformed("unexpected end or bad number"))
}

/// A declared count of things that each take at least one byte cannot exceed the bytes left.
fn count(cur: &Cursor, n: u64) -> Result<usize, UpdateError> {
    let left = (cur.buf.len() - cur.next) as u64;
    if n > left {
        return Err(UpdateError::Malformed("count larger than the message"));
    }
    Ok(n as usize)
}

/// Reads one update, as yrs's `Update::decode_v1` would, and returns its shape.
pub fn validate(bytes: &[u8], limits: &UpdateLimits) -> Result<UpdateShape, UpdateError> {
    let mut cur = Cursor::new(bytes);
    let mut shape = UpdateShape::default();
    let clients: u32 = eof(cur.read_var())?;
    let clients = count(&cur, clients as u64)?;
    if clients > limits.max_clients {
        return Err(UpdateError::TooMany {
            what: "clients",
            limit: limits.max_clients,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(clients.min(1024));
    for _ in 0..clients {
        let blocks: u32 = eof(cur.read_var())?;
        let blocks = count(&cur, blocks as u64)?;
        shape.structs += blocks;
        if shape.structs > limits.max_structs {
            return Err(UpdateError::TooMany {
                what: "structs",
                limit: limits.max_structs,
            });
        }
        let client = read_client(&mut cur)?;
        let start: u32 = eof(cur.read_var())?;
        if !seen.insert(client) {
            return Err(UpdateError::DuplicateClient(client));
        }
        let mut run = Run {
            client,
            start,
            end: start,
            deps: Vec::new(),
            skip: false,
        };
        for _ in 0..blocks {
            read_struct(&mut cur, &mut run, limits)?;
        }
        shape.runs.push(run);
    }
    read_delete_set(&mut cur, &mut shape, limits)?;
    let trailing = cur.buf.len() - cur.next;
    if trailing > 0 {
        return Err(UpdateError::Trailing(trailing));
    }
    Ok(shape)
}

const SKIP: u8 = 10;
const GC: u8 = 0;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

fn read_id(cur: &mut Cursor) -> Result<(u64, u32), UpdateError> {
    let client = read_client(cur)?;
    let clock: u32 = eof(cur.read_var())?;
    Ok((client, clock))
}

/// One struct: a GC or skip range, or an item (yrs `Update::decode_block`).
fn read_struct(cur: &mut Cursor, run: &mut Run, limits: &UpdateLimits) -> Result<(), UpdateError> {
    let at = run.end;
    let info = eof(cur.read_u8())?;
    let len = match info {
        SKIP | GC => {
            let len: u32 = eof(cur.read_var())?;
            if len == 0 {
                return Err(UpdateError::Malformed("empty range"));
            }
            run.skip |= info == SKIP;
            len
        }
        _ => {
            let mut refs: [Option<(u64, u32)>; 3] = [None; 3];
            if info & HAS_ORIGIN != 0 {
                refs[0] = Some(read_id(cur)?);
            }
            if info & HAS_RIGHT_ORIGIN != 0 {
                refs[1] = Some(read_id(cur)?);
            }
            if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
                let named: u32 = eof(cur.read_var())?;
                if named == 1 {
                    eof(cur.read_string())?;
                } else {
                    refs[2] = Some(read_id(cur)?);
                }
                if info & HAS_PARENT_SUB != 0 {
                    eof(cur.read_string())?;
                }
            }
            let len = read_content(cur, info & 0b1111, limits)?;
            if len == 0 {
                // yrs drops empty items (old encoders wrote them): no clock, no dependency.
                return Ok(());
            }
            let end = at.checked_add(len).ok_or(UpdateError::ClockOverflow)?;
            for (client, clock) in refs.into_iter().flatten() {
                if client == run.client {
                    if clock >= at {
                        return Err(UpdateError::ForwardReference);
                    }
                    continue; // met by order: the same client's earlier structs come first
                }
                run.deps.push(Dependency {
                    at,
                    end,
                    client,
                    clock,
                });
            }
            len
        }
    };
    run.end = at.checked_add(len).ok_or(UpdateError::ClockOverflow)?;
    Ok(())
}

/// An item's content (yrs `ItemContent::decode`); returns its length in clock units.
fn read_content(cur: &mut Cursor, kind: u8, limits: &UpdateLimits) -> Result<u32, UpdateError> {
    Ok(match kind {
        // Deleted
        1 => eof(cur.read_var::<u32>())?,
        // JSON: yrs reads the declared count plus one strings (as i32; negative fails).
        2 if !limits.legacy_json => {
            return Err(UpdateError::Malformed("deprecated JSON content"));
        }
        2 => {
            let n: u32 = eof(cur.read_var())?;
            let n = i32::try_from(n).map_err(|_| UpdateError::Malformed("JSON count"))?;
            let strings = count(cur, n as u64 + 1)?;
            for _ in 0..strings {
                eof(cur.read_string())?;
            }
            strings as u32
        }
        // Binary
        3 => {
            eof(cur.read_buf())?;
            1
        }
        // String: its length counts UTF-16 code units, as Yjs clocks do.
        4 => {
            let s = eof(cur.read_string())?;
            s.encode_utf16().count() as u32
        }
        // Embed
        5 => {
            json_value(eof(cur.read_string())?, limits.max_depth)?;
            1
        }
        // Format: key, then a JSON value
        6 => {
            eof(cur.read_string())?;
            json_value(eof(cur.read_string())?, limits.max_depth)?;
            1
        }
        // Type
        7 => {
            match eof(cur.read_u8())? {
                0 | 1 | 2 | 4 | 5 | 6 | 9 | 15 => {}
                3 => {
                    eof(cur.read_string())?; // XML element name
                }
                _ => return Err(UpdateError::Malformed("unknown type")),
            }
            1
        }
        // Any: a count, then that many values
        8 => {
            let n: u32 = eof(cur.read_var())?;
            let n = count(cur, n as u64)?;
            for _ in 0..n {
                skip_any(cur, limits.max_depth)?;
            }
            n as u32
        }
        // Sub-document: guid, then its options as one value
        9 => {
            eof(cur.read_string())?;
            skip_any(cur, limits.max_depth)?;
            1
        }
        _ => return Err(UpdateError::Malformed("unknown content")),
    })
}

/// Reads one lib0 `Any` value without recursion, refusing nesting deeper than `max_depth`.
pub fn skip_any(cur: &mut Cursor, max_depth: usize) -> Result<(), UpdateError> {
    // Per open array or map: values still to read, and whether each is preceded by a key.
    let mut open: Vec<(usize, bool)> = Vec::new();
    loop {
        match open.last_mut() {
            Some((0, _)) => {
                open.pop();
                continue;
            }
            Some((left, is_map)) => {
                *left -= 1;
                if *is_map {
                    eof(cur.read_string())?;
                }
            }
            None => {}
        }
        match eof(cur.read_u8())? {
            127 | 126 | 121 | 120 => {}
            125 => read_var_i64(cur)?,
            124 => {
                eof(cur.read_exact(4))?;
            }
            123 | 122 => {
                eof(cur.read_exact(8))?;
            }
            119 => {
                eof(cur.read_string())?;
            }
            116 => {
                eof(cur.read_buf())?;
            }
            tag @ (118 | 117) => {
                let n: usize = eof(cur.read_var())?;
                let n = count(cur, n as u64)?;
                if open.len() >= max_depth {
                    return Err(UpdateError::TooDeep(max_depth));
                }
                open.push((n, tag == 118));
            }
            _ => return Err(UpdateError::Malformed("unknown value type")),
        }
        if open.iter().all(|(left, _)| *left == 0) {
            return Ok(());
        }
    }
}

/// JSON text as yrs reads it (embeds, formatting attributes): nested at most `max_depth`
/// (checked first, without recursion), then parsed as yrs parses it, so what passes here
/// decodes there.
fn json_value(json: &str, max_depth: usize) -> Result<(), UpdateError> {
    json_depth(json, max_depth)?;
    yrs::Any::from_json(json)
        .map(|_| ())
        .map_err(|_| UpdateError::Malformed("invalid JSON value"))
}

/// A signed varint (an `Any` integer), refused past 64 bits: yrs shifts by the bit count as it
/// reads, which overflows (a panic in a debug build) beyond that. lib0 writes at most 32 bits.
fn read_var_i64(cur: &mut Cursor) -> Result<(), UpdateError> {
    let mut bits = 6;
    let mut byte = eof(cur.read_u8())?;
    while byte >= 0x80 {
        if bits + 7 > 64 {
            return Err(UpdateError::Malformed("integer wider than 64 bits"));
        }
        byte = eof(cur.read_u8())?;
        bits += 7;
    }
    Ok(())
}

/// Refuses JSON text nested deeper than `max_depth` (yrs parses it with serde_json, whose own
/// limit is 128; ours is the same as for binary values).
pub fn json_depth(json: &str, max_depth: usize) -> Result<(), UpdateError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in json.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(UpdateError::TooDeep(max_depth));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The delete set (yrs `IdSet::decode`): per client, ranges of clock and length.
fn read_delete_set(
    cur: &mut Cursor,
    shape: &mut UpdateShape,
    limits: &UpdateLimits,
) -> Result<(), UpdateError> {
    let clients: u32 = eof(cur.read_var())?;
    let clients = count(cur, clients as u64)?;
    if shape.runs.len() + clients > limits.max_clients {
        return Err(UpdateError::TooMany {
            what: "clients",
            limit: limits.max_clients,
        });
    }
    let mut ranges_total = 0usize;
    let mut farthest: HashMap<u64, u32> = HashMap::with_capacity(clients.min(1024));
    for _ in 0..clients {
        let client = read_client(cur)?;
        let ranges: u32 = eof(cur.read_var())?;
        let ranges = count(cur, ranges as u64)?;
        ranges_total += ranges;
        if ranges_total > limits.max_delete_ranges {
            return Err(UpdateError::TooMany {
                what: "deleted ranges",
                limit: limits.max_delete_ranges,
            });
        }
        for _ in 0..ranges {
            let clock: u32 = eof(cur.read_var())?;
            let len: u32 = eof(cur.read_var())?;
            let end = clock.checked_add(len).ok_or(UpdateError::ClockOverflow)?;
            // yrs applies a range only if it starts before the client's clock and ends at most
            // there (an empty one too: it is kept pending otherwise), so the document must
            // have the client up to here.
            let needs = end.max(clock.checked_add(1).ok_or(UpdateError::ClockOverflow)?);
            let far = farthest.entry(client).or_default();
            *far = (*far).max(needs);
        }
    }
    shape.deletes = farthest.into_iter().collect();
    shape.deletes.sort_unstable();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Any, Array, Doc, Map, ReadTxn, Text, Transact, Update, XmlFragment};

    fn limits() -> UpdateLimits {
        UpdateLimits::default()
    }

    fn edit(doc: &Doc, f: impl FnOnce(&mut yrs::TransactionMut)) -> Vec<u8> {
        let mut txn = doc.transact_mut();
        f(&mut txn);
        txn.encode_update_v1()
    }

    /// An update holding one `Any` array nested `depth` deep: `[[[...]]]`.
    fn nested_any(depth: usize) -> Vec<u8> {
        let mut buf = vec![1, 1]; // one client, one struct
        buf.push(7); // client 7
        buf.push(0); // clock 0
        buf.push(8); // item, content Any, no origins: parent info follows
        buf.push(1); // named parent
        buf.push(1);
        buf.push(b'a'); // root "a"
        buf.push(1); // one value
        for _ in 0..depth {
            buf.push(117); // array
            buf.push(1); // of one
        }
        buf.push(126); // null
        buf.push(0); // empty delete set
        buf
    }

    #[test]
    fn every_kind_of_content_an_editor_makes_passes_and_matches_yrs() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        let map = doc.get_or_insert_map("m");
        let arr = doc.get_or_insert_array("a");
        let frag = doc.get_or_insert_xml_fragment("x");
        let mut updates = vec![
            edit(&doc, |t| text.insert(t, 0, "héllo 🌍 world")),
            edit(&doc, |t| {
                text.format(t, 0, 1, [("bold".into(), Any::Bool(true))].into())
            }),
            edit(&doc, |t| text.remove_range(t, 12, 2)),
            edit(&doc, |t| {
                map.insert(t, "k", Any::from(vec![Any::from(1), Any::from("x")]));
                map.insert(t, "bin", Any::Buffer(vec![1u8, 2, 3].into()));
                map.insert(t, "f", 1.5f64);
            }),
            edit(&doc, |t| {
                arr.insert(t, 0, yrs::MapPrelim::default());
            }),
            edit(&doc, |t| {
                frag.insert(t, 0, yrs::XmlElementPrelim::empty("p"));
            }),
        ];
        updates.push(
            doc.transact()
                .encode_state_as_update_v1(&StateVector::default()),
        );
        let mut sv = StateVector::default();
        for u in &updates {
            let shape = validate(u, &limits()).unwrap();
            assert!(Update::decode_v1(u).is_ok());
            assert_eq!(shape.resolve(&sv), Ok(()));
            shape.advance(&mut sv);
        }
        assert_eq!(sv, doc.transact().state_vector());
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_before_decoding() {
        assert!(validate(&nested_any(31), &limits()).is_ok());
        assert!(
            Update::decode_v1(&nested_any(31)).is_ok(),
            "fixture is real"
        );
        assert_eq!(
            validate(&nested_any(8_000), &limits()),
            Err(UpdateError::TooDeep(32))
        );
        assert!(json_depth(&"[".repeat(40), 32).is_err());
        assert!(json_depth(r#"{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#, 32).is_ok());
    }

    #[test]
    fn counts_larger_than_the_bytes_are_refused() {
        // One client declaring 2^31 structs in a 6-byte message.
        let bomb = [1, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 0];
        assert!(matches!(
            validate(&bomb, &limits()),
            Err(UpdateError::Malformed(_))
        ));
        let tight = UpdateLimits {
            max_structs: 2,
            ..limits()
        };
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        let mut u = Vec::new();
        for i in 0..3 {
            // Three separate insertions at the front: three structs.
            u = edit(&doc, |t| text.insert(t, 0, &i.to_string()));
        }
        assert!(validate(&u, &tight).is_ok());
        let all = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert!(matches!(
            validate(&all, &tight),
            Err(UpdateError::TooMany { .. })
        ));
    }

    #[test]
    fn overflowing_clocks_and_trailing_bytes_are_refused() {
        // Delete set: client 1, range at u32::MAX of length 2.
        let mut del = vec![0, 1, 1, 1];
        del.extend([0xff, 0xff, 0xff, 0xff, 0x0f, 2]);
        assert_eq!(validate(&del, &limits()), Err(UpdateError::ClockOverflow));
        let mut trailing = text_update("a");
        trailing.push(0);
        assert_eq!(
            validate(&trailing, &limits()),
            Err(UpdateError::Trailing(1))
        );
    }

    fn text_update(s: &str) -> Vec<u8> {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        edit(&doc, |t| text.insert(t, 0, s))
    }

    #[test]
    fn deletions_of_content_the_document_never_had_do_not_resolve() {
        // Client 99 never wrote anything here.
        let ds = vec![0, 1, 99, 1, 0, 100];
        let shape = validate(&ds, &limits()).unwrap();
        assert_eq!(
            shape.resolve(&StateVector::default()),
            Err(Unresolved::DeleteBeyond {
                client: 99,
                end: 100
            })
        );
        let mut known = StateVector::default();
        known.set_max(yrs::ClientID::new(99), 100);
        assert_eq!(shape.resolve(&known), Ok(()));
    }

    #[test]
    fn gaps_and_missing_dependencies_do_not_resolve_until_they_are_filled() {
        let a = Doc::with_client_id(1);
        let ta = a.get_or_insert_text("t");
        let first = edit(&a, |t| ta.insert(t, 0, "abc"));
        let second = edit(&a, |t| ta.insert(t, 3, "d"));
        let empty = StateVector::default();
        // The second edit continues the first: a gap on its own.
        let s2 = validate(&second, &limits()).unwrap();
        assert!(matches!(s2.resolve(&empty), Err(Unresolved::Gap { .. })));
        let s1 = validate(&first, &limits()).unwrap();
        let mut known = empty.clone();
        s1.advance(&mut known);
        assert_eq!(s2.resolve(&known), Ok(()));

        // Another client editing next to "abc" depends on client 1.
        let b = Doc::with_client_id(2);
        let tb = b.get_or_insert_text("t");
        b.transact_mut()
            .apply_update(Update::decode_v1(&first).unwrap())
            .unwrap();
        let reply = edit(&b, |t| tb.insert(t, 1, "X"));
        let s = validate(&reply, &limits()).unwrap();
        assert!(matches!(
            s.resolve(&empty),
            Err(Unresolved::Missing { client: 1, .. })
        ));
        assert_eq!(s.resolve(&known), Ok(()));
        // Both in one update (what a reconnecting client's SyncStep2 looks like) resolve alone.
        let both = b
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_eq!(validate(&both, &limits()).unwrap().resolve(&empty), Ok(()));
    }

    #[test]
    fn dependencies_across_clients_resolve_in_any_order_but_not_in_a_cycle() {
        // Three clients, each editing after the previous one's text: one update holding all,
        // whose clients are listed in an order that needs switching.
        let docs: Vec<Doc> = (1..=3).map(Doc::with_client_id).collect();
        let mut state = Vec::new();
        for d in &docs {
            if !state.is_empty() {
                d.transact_mut()
                    .apply_update(Update::decode_v1(&state).unwrap())
                    .unwrap();
            }
            let t = d.get_or_insert_text("t");
            edit(d, |txn| {
                let n = t.len(txn);
                t.insert(txn, n, "x")
            });
            state = d
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
        }
        assert_eq!(
            validate(&state, &limits())
                .unwrap()
                .resolve(&StateVector::default()),
            Ok(())
        );
        // Hand-made cycle: client 1's item has origin 2:0, client 2's item has origin 1:0.
        let cycle = vec![
            2, // two clients
            1,
            1,
            0,
            HAS_ORIGIN | 4,
            2,
            0,
            1,
            b'a', // client 1 clock 0, origin 2:0, "a"
            1,
            2,
            0,
            HAS_ORIGIN | 4,
            1,
            0,
            1,
            b'b', // client 2 clock 0, origin 1:0, "b"
            0,
        ];
        let shape = validate(&cycle, &limits()).unwrap();
        assert_eq!(
            shape.resolve(&StateVector::default()),
            Err(Unresolved::Cycle)
        );
    }

    #[test]
    fn an_item_cannot_refer_to_its_own_future() {
        let own_future = vec![1, 1, 5, 0, HAS_ORIGIN | 4, 5, 3, 1, b'a', 0];
        assert_eq!(
            validate(&own_future, &limits()),
            Err(UpdateError::ForwardReference)
        );
    }

    #[test]
    fn a_map_of_arrays_counts_nesting_per_level() {
        let doc = Doc::new();
        let map = doc.get_or_insert_map("m");
        let mut v = Any::Null;
        for _ in 0..10 {
            v = Any::from(HashMap::from([("k".to_string(), Any::from(vec![v]))]));
        }
        let u = edit(&doc, |t| {
            map.insert(t, "deep", v.clone());
        });
        assert!(validate(&u, &limits()).is_ok());
        let shallow = UpdateLimits {
            max_depth: 19,
            ..limits()
        };
        assert_eq!(validate(&u, &shallow), Err(UpdateError::TooDeep(19)));
    }

    /// Inputs the fuzz targets found (crates/creo-core/fuzz), each refused or resolved as yrs
    /// needs it now.
    #[test]
    fn what_the_fuzzer_found() {
        // An empty deletion for a client the document never had: yrs keeps even that pending.
        let empty_range = validate(&[0, 1, 2, 1, 0x58, 0], &limits()).unwrap();
        assert!(matches!(
            empty_range.resolve(&StateVector::default()),
            Err(Unresolved::DeleteBeyond { client: 2, .. })
        ));
        // A formatting attribute whose value is not JSON: yrs refuses to decode it, so must we.
        let format = [1, 1, 1, 0, 6, 1, 1, b't', 1, b'b', 3, b'n', b'u', b'l', 0];
        assert!(Update::decode_v1(&format).is_err());
        assert!(validate(&format, &limits()).is_err());
        // An integer longer than 64 bits: yrs's reader overflows its shift on it.
        let mut long_int = vec![1, 1, 1, 0, 8, 1, 1, b'a', 1, 125];
        long_int.extend([0xff; 11]);
        long_int.extend([0x01, 0]);
        assert_eq!(
            validate(&long_int, &limits()),
            Err(UpdateError::Malformed("integer wider than 64 bits"))
        );
        // Client ids past 53 bits: yrs asserts against them.
        let mut wide = vec![1, 1];
        wide.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]); // 2^53
        wide.extend([0, 4, 1, 1, b't', 1, b'a', 0]);
        assert_eq!(
            validate(&wide, &limits()),
            Err(UpdateError::ClientId(1 << 53))
        );
        // Deprecated JSON content: clients may not send it; stored data may hold it.
        let json = [1, 1, 1, 0, 2, 1, 1, b't', 0, 1, b'1', 0];
        assert!(validate(&json, &limits()).is_err());
        assert!(validate(&json, &limits().trusted()).is_ok());
    }
}
