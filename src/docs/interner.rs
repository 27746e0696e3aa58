//! String interning for the index: each distinct string gets a dense id, its text is kept once.
//!
//! Used for the vocabulary (term ↔ id, kept for queries) and for the indexer's chunk memo. The
//! layout exists for the first search on the static musl binary, whose allocator and `memcmp`
//! are slow on this workload (thousands of small allocations, a byte loop per comparison):
//! - every string lives in one `String` arena with an end offset per id, instead of one
//!   `Box<str>` each, so interning 5,000 terms costs a handful of allocations;
//! - the table is open addressing over `u32` ids (linear probing, load at most one half), and
//!   each slot keeps 32 bits of the hash, so a probe compares bytes only when those match;
//! - hashing and comparing read the bytes eight (or four) at a time, inline: no call to the C
//!   library's `memcmp`/`memcpy` for strings that are mostly shorter than 16 bytes.

/// Interned strings with ids `0..len()`, in first-seen order.
#[derive(Debug, Default)]
pub struct Interner {
    /// Every string, concatenated in id order.
    text: String,
    /// String `id` is `text[ends[id - 1]..ends[id]]` (0 for the first).
    ends: Vec<u32>,
    /// Open addressing: `(hash tag, id + 1)`, `(_, 0)` for a free slot. Empty until the first
    /// insert; its length is a power of two.
    slots: Vec<(u32, u32)>,
}

impl Interner {
    /// An empty interner with room for `strings` strings of `bytes` bytes in all: the caller
    /// knows the corpus size, and growing a large table rehashes and copies it.
    pub fn with_capacity(strings: usize, bytes: usize) -> Interner {
        let mut interner = Interner {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(strings),
            slots: Vec::new(),
        };
        interner.resize(table_size(strings));
        interner
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The id of `s`, if interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let tag = hash(s.as_bytes());
        match self.find(s.as_bytes(), tag) {
            Found::Id(id) => Some(id),
            Found::Free(_) => None,
        }
    }

    /// The id of `s`, and whether it was added by this call.
    pub fn intern(&mut self, s: &str) -> (u32, bool) {
        // Grow before probing so the slot found stays valid; load at most one half keeps probe
        // runs short.
        if (self.ends.len() + 1) * 2 > self.slots.len() {
            self.resize(table_size(self.ends.len() + 1).max(self.slots.len() * 2));
        }
        let tag = hash(s.as_bytes());
        match self.find(s.as_bytes(), tag) {
            Found::Id(id) => (id, false),
            Found::Free(slot) => {
                let id = self.ends.len() as u32;
                self.text.push_str(s);
                self.ends.push(self.text.len() as u32);
                self.slots[slot] = (tag, id + 1);
                (id, true)
            }
        }
    }

    /// The text of an id (empty for an id never handed out).
    pub fn text(&self, id: u32) -> &str {
        let id = id as usize;
        let Some(&end) = self.ends.get(id) else {
            return "";
        };
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text[start as usize..end as usize]
    }

    /// Every `(id, text)`, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        (0..self.ends.len() as u32).map(|id| (id, self.text(id)))
    }

    /// Release the spare capacity the builder reserved.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    // Plain slices, not `Vec` indexing: at `opt-level = "z"` each `Vec` index or range index is
    // an out-of-line call, and this loop runs once per word of the corpus.
    #[inline(always)]
    fn find(&self, s: &[u8], tag: u32) -> Found {
        let (slots, ends, text): (&[(u32, u32)], &[u32], &[u8]) =
            (&self.slots, &self.ends, self.text.as_bytes());
        let mask = slots.len() - 1;
        let mut slot = home(tag, slots.len());
        loop {
            let (slot_tag, entry) = slots[slot];
            if entry == 0 {
                return Found::Free(slot);
            }
            if slot_tag == tag {
                let id = (entry - 1) as usize;
                let start = if id == 0 { 0 } else { ends[id - 1] as usize };
                let end = ends[id] as usize;
                if end - start == s.len() && same_bytes(&text[start..end], s) {
                    return Found::Id(entry - 1);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    fn resize(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); size]);
        let mask = size - 1;
        for (tag, entry) in old.into_iter().filter(|&(_, entry)| entry != 0) {
            let mut slot = home(tag, size);
            while self.slots[slot].1 != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = (tag, entry);
        }
    }
}

enum Found {
    Id(u32),
    Free(usize),
}

/// A power of two at least twice `strings` (and at least 16).
fn table_size(strings: usize) -> usize {
    (strings.saturating_mul(2)).max(16).next_power_of_two()
}

/// The first slot to probe: the tag's top bits (the best-mixed ones of a multiplicative hash).
#[inline(always)]
fn home(tag: u32, size: usize) -> usize {
    ((u64::from(tag) * size as u64) >> 32) as usize
}

/// FxHash-style (rustc's hasher): a multiply per 8-byte word. The keys are our corpus and the
/// user's runbooks, so speed matters and resistance to chosen collisions does not. Returns the
/// top 32 bits of the state, which depend on every input bit.
#[inline(always)]
fn hash(bytes: &[u8]) -> u32 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(*word)).wrapping_mul(K);
        rest = tail;
    }
    if !rest.is_empty() {
        h = (h.rotate_left(5) ^ short_word(rest)).wrapping_mul(K);
    }
    (h >> 32) as u32
}

/// 1 to 7 bytes as one integer, without a byte loop: two overlapping 4-byte reads, or the
/// first, middle and last byte. With the length (hashed separately) it determines the bytes.
#[inline(always)]
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    // Byte by byte with constant offsets: the compiler merges them into two loads, where
    // `first_chunk`/`last_chunk` stay calls at `opt-level = "z"`.
    if n >= 4 {
        let first = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let last = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        u64::from(first) | u64::from(last) << 32
    } else {
        u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16
    }
}

/// `a == b`, eight bytes at a time and inline (musl's `memcmp` compares byte by byte).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a, b);
    while let (Some((x, a_tail)), Some((y, b_tail))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if x != y {
            return false;
        }
        (a, b) = (a_tail, b_tail);
    }
    a.is_empty() || short_word(a) == short_word(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_first_seen_and_stable() {
        let mut interner = Interner::default();
        assert_eq!(interner.get("helm"), None);
        assert_eq!(interner.intern("helm"), (0, true));
        assert_eq!(interner.intern("kustomization"), (1, true));
        assert_eq!(interner.intern("helm"), (0, false));
        assert_eq!(interner.intern(""), (2, true));
        assert_eq!(interner.get("kustomization"), Some(1));
        assert_eq!(interner.get(""), Some(2));
        assert_eq!(interner.get("kustomizatio"), None);
        assert_eq!(interner.text(1), "kustomization");
        assert_eq!(interner.text(2), "");
        assert_eq!(interner.text(3), "");
        assert_eq!(interner.len(), 3);
        let all: Vec<(u32, &str)> = interner.iter().collect();
        assert_eq!(all, vec![(0, "helm"), (1, "kustomization"), (2, "")]);
    }

    #[test]
    fn many_similar_strings_survive_growth() {
        // Keys that differ in one byte at every position and length, across several resizes.
        let mut interner = Interner::with_capacity(4, 16);
        let mut keys = Vec::new();
        for len in 1..=20 {
            for at in 0..len {
                for b in [b'a', b'b', 0xc3] {
                    let mut key = vec![b'x'; len];
                    key[at] = b;
                    if b == 0xc3 {
                        // Keep it UTF-8: `é` is two bytes.
                        key[at] = b'e';
                        key.extend_from_slice("é".as_bytes());
                    }
                    keys.push(String::from_utf8(key).unwrap());
                }
            }
        }
        keys.sort();
        keys.dedup();
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(interner.intern(key), (n as u32, true), "{key:?}");
        }
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(interner.get(key), Some(n as u32), "{key:?}");
            assert_eq!(interner.text(n as u32), key);
            assert_eq!(interner.intern(key), (n as u32, false));
        }
        assert_eq!(interner.get("y"), None);
        assert_eq!(interner.len(), keys.len());
    }

    #[test]
    fn byte_comparison_sees_every_position() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "len {len}, byte {at}");
            }
            assert!(!same_bytes(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }
}
