//! Text → search terms: the one tokenizer used for the corpus, local runbooks and queries, so a
//! query term and a document term agree by construction.
//!
//! Two views of a text:
//! - *terms* feed the inverted index: lowercased, camelCase split while keeping the whole word
//!   (`dependsOn` → `dependson`, `depends`), dotted field paths kept whole and as sub-paths
//!   (`spec.install.remediation.retries` → the path, `remediation.retries`, ..., each part),
//!   hyphenated names kept whole (`source-controller`), stop words dropped, light stemming;
//! - *phrase words* feed the verbatim-phrase bonus: every word in order, stop words included
//!   ("is not ready"), with names, numbers and quoted values replaced by one placeholder, so that
//!   `dependency 'flux-system/infra' is not ready` pasted from a cluster matches the corpus's
//!   `dependency '<namespace>/<name>' is not ready`.

use std::collections::HashSet;

/// Calls `emit` with every index term of `text`, in text order (duplicates included: the index
/// counts them as term frequency).
pub fn for_each_term(text: &str, mut emit: impl FnMut(&str)) {
    let mut scratch = Scratch::default();
    for raw in raw_tokens(text) {
        for_each_raw_term(raw, &mut scratch, &mut emit);
    }
}

/// The raw tokens of a text, each to be expanded into terms by [`for_each_raw_term`].
pub fn raw_tokens(text: &str) -> impl Iterator<Item = &str> {
    RawTokens::new(text)
}

/// The distinct terms of a query, in first-seen order, each with a weight: 1 for words the user
/// wrote, [`NAME_WEIGHT`] for terms found only inside names pasted with an error message
/// (`'flux-system/infra-controllers'`, `podinfo@6.5.0`, URLs). Such names differ per cluster and
/// match the corpus's examples only by accident, but they are not dropped: sometimes the name is
/// the topic (`no matches for kind "ServiceMonitor"`).
pub fn query_terms(query: &str) -> Vec<(String, f32)> {
    let mut terms: Vec<(String, f32)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut names: Vec<&str> = Vec::new();
    let mut words = String::with_capacity(query.len());
    for chunk in phrase_chunks(query) {
        if is_placeholder_chunk(chunk) {
            names.push(chunk);
        } else {
            words.push_str(chunk);
            words.push(' ');
        }
    }
    for_each_term(&words, |t| {
        if seen.insert(t.to_string()) {
            terms.push((t.to_string(), 1.0));
        }
    });
    for name in names {
        for_each_term(name, |t| {
            if seen.insert(t.to_string()) {
                terms.push((t.to_string(), NAME_WEIGHT));
            }
        });
    }
    terms
}

/// Calls `f` with each word of a query as typed (outside pasted names) and the term that
/// stands for the whole word (`dependsOn` → `dependson`, `releases` → `releas`); stop words,
/// which have no term, are skipped.
pub fn for_each_typed_word(query: &str, mut f: impl FnMut(&str, &str)) {
    let mut scratch = Scratch::default();
    let mut head = String::new();
    for chunk in phrase_chunks(query).filter(|c| !is_placeholder_chunk(c)) {
        for raw in raw_tokens(chunk) {
            head.clear();
            for_each_raw_term(raw, &mut scratch, &mut |term| {
                if head.is_empty() {
                    head.push_str(term);
                }
            });
            if !head.is_empty() {
                f(raw, &head);
            }
        }
    }
}

/// Query weight of a term that comes only from a pasted name.
pub const NAME_WEIGHT: f32 = 0.3;

/// A raw token is a run of word characters joined by inner connectors: `.`, `-`, `_` between two
/// word characters, and `[]` between a word and a `.` (`spec.healthChecks[].name`).
struct RawTokens<'a> {
    text: &'a str,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())
}

fn is_connector(c: char) -> bool {
    matches!(c, '.' | '-' | '_')
}

impl<'a> RawTokens<'a> {
    fn new(text: &'a str) -> RawTokens<'a> {
        RawTokens { text, pos: 0 }
    }

    /// The word character starting at byte `at`, with its length (ASCII fast path).
    #[inline]
    fn word_char_len(&self, at: usize) -> Option<usize> {
        let b = *self.text.as_bytes().get(at)?;
        if b < 0x80 {
            return (ASCII_WORD[usize::from(b)] != 0).then_some(1);
        }
        let c = self.text[at..].chars().next()?;
        is_word_char(c).then(|| c.len_utf8())
    }
}

/// ASCII letters and digits, as a table: this test runs once per byte scanned.
static ASCII_WORD: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric() as u8;
        b += 1;
    }
    table
};

impl<'a> Iterator for RawTokens<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let mut at = self.pos;
        // Skip to the first word character. `at` stays on a char boundary: non-ASCII chars are
        // stepped over whole.
        while at < bytes.len() {
            let b = bytes[at];
            if b < 0x80 {
                if ASCII_WORD[usize::from(b)] != 0 {
                    break;
                }
                at += 1;
            } else if self.word_char_len(at).is_some() {
                break;
            } else {
                at += self.text[at..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if at >= bytes.len() {
            self.pos = bytes.len();
            return None;
        }
        let start = at;
        let mut end = at;
        while at < bytes.len() {
            let b = bytes[at];
            if b < 0x80 && ASCII_WORD[usize::from(b)] != 0 {
                at += 1;
                end = at;
                continue;
            }
            if let Some(len) = self.word_char_len(at).filter(|_| b >= 0x80) {
                at += len;
                end = at;
                continue;
            }
            if is_connector(char::from(b)) && end == at && self.word_char_len(at + 1).is_some() {
                at += 1;
                continue;
            }
            // `[]` followed by `.` and a word character continues a field path.
            if b == b'['
                && end == at
                && bytes.get(at + 1) == Some(&b']')
                && bytes.get(at + 2) == Some(&b'.')
                && self.word_char_len(at + 3).is_some()
            {
                at += 3;
                continue;
            }
            break;
        }
        self.pos = end;
        Some(&self.text[start..end])
    }
}

/// Buffers reused from one token to the next: the indexer tokenizes tens of thousands of them,
/// and with musl's allocator a `String` or `Vec` per token is a large part of the work.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The word being lowercased and stemmed.
    word: String,
    /// A compound token, lowercased, brackets removed.
    whole: String,
    /// Where each part of a dotted path starts.
    starts: Vec<usize>,
}

/// Connectors and list brackets split a raw token into parts. All are ASCII, so a byte test
/// finds them in any UTF-8 text (no char decoding on this hot path).
fn is_split_byte(b: u8) -> bool {
    matches!(b, b'.' | b'-' | b'_' | b'[' | b']')
}

/// The non-empty pieces of `text` between bytes for which `is_separator` holds. Every separator
/// must be ASCII, so that the cuts are char boundaries.
fn split_bytes(text: &str, is_separator: fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < bytes.len() {
            let start = pos;
            let mut end = start;
            while end < bytes.len() && !is_separator(bytes[end]) {
                end += 1;
            }
            pos = end + 1;
            if end > start {
                return Some(&text[start..end]);
            }
        }
        None
    })
}

/// The terms of one raw token; `scratch` is reused between calls to avoid allocating.
pub fn for_each_raw_term(raw: &str, scratch: &mut Scratch, emit: &mut impl FnMut(&str)) {
    let raw_bytes = raw.as_bytes();
    if !raw_bytes.iter().any(|&b| is_split_byte(b)) {
        emit_word(raw, &mut scratch.word, emit);
        return;
    }
    // The compound itself, unstemmed: field paths and component names are exact.
    let whole = &mut scratch.whole;
    lower(raw, whole);
    if whole.bytes().any(|b| b == b'[' || b == b']') {
        whole.retain(|c| c != '[' && c != ']');
    }
    emit(whole);
    let dotted_only = !raw_bytes.iter().any(|&b| b == b'-' || b == b'_');
    if dotted_only {
        let (mut parts, mut numeric) = (0, false);
        for part in split_bytes(whole, is_split_byte) {
            parts += 1;
            numeric |= part.bytes().all(|b| b.is_ascii_digit());
        }
        if !numeric && parts <= MAX_PATH_PARTS {
            emit_sub_paths(whole, &mut scratch.starts, emit);
        }
    }
    // The parts keep their case for camelCase splitting, so they come from `raw`.
    for part in split_bytes(raw, is_split_byte) {
        emit_word(part, &mut scratch.word, emit);
    }
}

/// Longer dotted tokens are host names or versions, not field paths.
const MAX_PATH_PARTS: usize = 8;

/// Every contiguous run of two or more parts of a lowercased dotted path, shorter than the whole:
/// a user types `remediation.retries` or `spec.install.remediation` as often as the full path.
fn emit_sub_paths(path: &str, starts: &mut Vec<usize>, emit: &mut impl FnMut(&str)) {
    // Part boundaries: the start of each part and the end of the last.
    starts.clear();
    starts.push(0);
    for (at, &b) in path.as_bytes().iter().enumerate() {
        if b == b'.' {
            starts.push(at + 1);
        }
    }
    let n = starts.len();
    let end_of = |part: usize| {
        if part + 1 < n {
            starts[part + 1] - 1
        } else {
            path.len()
        }
    };
    for len in 2..n {
        for from in 0..=n - len {
            emit(&path[starts[from]..end_of(from + len - 1)]);
        }
    }
}

/// One word: the whole (stemmed) and, for camelCase, each piece.
fn emit_word(word: &str, scratch: &mut String, emit: &mut impl FnMut(&str)) {
    if word.is_ascii() {
        // Most of the corpus: camelCase boundaries found on bytes, pieces cut without a `Vec`.
        let b = word.as_bytes();
        if !(1..b.len()).any(|i| ascii_camel_boundary(b, i)) {
            emit_plain(word, scratch, emit);
            return;
        }
        emit_camel_whole(word, scratch, emit);
        let mut start = 0;
        for i in 1..b.len() {
            if ascii_camel_boundary(b, i) {
                emit_plain(&word[start..i], scratch, emit);
                start = i;
            }
        }
        emit_plain(&word[start..], scratch, emit);
        return;
    }
    if !word.chars().skip(1).any(char::is_uppercase) {
        emit_plain(word, scratch, emit);
        return;
    }
    let pieces = camel_pieces(word);
    if pieces.len() > 1 {
        emit_camel_whole(word, scratch, emit);
        for piece in pieces {
            emit_plain(piece, scratch, emit);
        }
    } else {
        emit_plain(word, scratch, emit);
    }
}

/// The whole camelCase word is a name (`dependsOn`): never a stop word.
fn emit_camel_whole(word: &str, scratch: &mut String, emit: &mut impl FnMut(&str)) {
    lower(word, scratch);
    stem_in_place(scratch);
    if scratch.len() >= 2 {
        emit(scratch);
    }
}

fn emit_plain(word: &str, scratch: &mut String, emit: &mut impl FnMut(&str)) {
    lower(word, scratch);
    if scratch.len() < 2 || is_stop_word(scratch) {
        return;
    }
    stem_in_place(scratch);
    emit(scratch);
}

fn lower(word: &str, scratch: &mut String) {
    scratch.clear();
    if word.is_ascii() {
        scratch.push_str(word);
        scratch.make_ascii_lowercase();
    } else {
        scratch.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// Split at lower→Upper (`dependsOn`) and at the last capital of an acronym (`OCIRepository` →
/// `OCI`, `Repository`). Digits do not split (`v1beta2`, `k8s`). ASCII words take
/// [`ascii_camel_boundary`], the same rule on bytes.
fn camel_pieces(word: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|&(_, n)| n.is_lowercase());
        let boundary = c.is_uppercase()
            && (prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_lower));
        if boundary {
            pieces.push(&word[start..at]);
            start = at;
        }
    }
    pieces.push(&word[start..]);
    pieces
}

/// [`camel_pieces`]' boundary rule for an ASCII word: a piece starts at byte `i` (≥ 1).
fn ascii_camel_boundary(b: &[u8], i: usize) -> bool {
    let (c, prev) = (b[i], b[i - 1]);
    let next_lower = b.get(i + 1).is_some_and(u8::is_ascii_lowercase);
    c.is_ascii_uppercase()
        && (prev.is_ascii_lowercase()
            || prev.is_ascii_digit()
            || (prev.is_ascii_uppercase() && next_lower))
}

/// Function words that carry no topic. Kept short on purpose: words such as `not`, `no`, `all`,
/// `out` and `get` mean something in Flux messages and commands, and BM25's idf already weighs
/// common words down.
const STOP_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "aren", "as", "at", "be", "been", "being",
    "but", "by", "can", "could", "couldn", "did", "didn", "do", "does", "doesn", "doing", "don",
    "each", "eg", "etc", "for", "from", "had", "hadn", "has", "hasn", "have", "haven", "having",
    "he", "her", "here", "his", "how", "ie", "if", "in", "into", "is", "isn", "it", "its", "ll",
    "me", "might", "must", "my", "of", "on", "onto", "or", "our", "please", "re", "she", "should",
    "shouldn", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "to", "too", "us", "ve", "very", "was", "wasn", "we", "were",
    "weren", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will",
    "with", "won", "would", "wouldn", "you", "your",
];

/// Whether a lowercased word is a stop word (and so never an index term on its own).
pub fn is_stop_word(word: &str) -> bool {
    // Hot path of indexing: one integer binary search, no string comparisons.
    word.len() <= LONGEST_STOP_WORD && STOP_KEYS.binary_search(&pack(word.as_bytes())).is_ok()
}

const LONGEST_STOP_WORD: usize = 7;

/// A word of at most 7 bytes as an integer (bytes big-endian, length in the top byte).
const fn pack(word: &[u8]) -> u64 {
    let mut key = (word.len() as u64) << 56;
    let mut i = 0;
    while i < word.len() && i < LONGEST_STOP_WORD {
        key |= (word[i] as u64) << (8 * (LONGEST_STOP_WORD - 1 - i));
        i += 1;
    }
    key
}

/// [`STOP_WORDS`] packed and sorted at compile time.
const STOP_KEYS: [u64; STOP_WORDS.len()] = {
    let mut keys = [0u64; STOP_WORDS.len()];
    let mut i = 0;
    while i < STOP_WORDS.len() {
        keys[i] = pack(STOP_WORDS[i].as_bytes());
        // Insertion sort: the list is short and this runs in the compiler.
        let mut j = i;
        while j > 0 && keys[j - 1] > keys[j] {
            let swap = keys[j - 1];
            keys[j - 1] = keys[j];
            keys[j] = swap;
            j -= 1;
        }
        i += 1;
    }
    keys
};

/// Conservative suffix stripping for lowercase ASCII words; anything else is returned unchanged.
///
/// Plurals (`policies` → `policy`, `kustomizations` → `kustomization`), then `-ing`/`-ed`
/// (`failing`, `failed` → `fail`; `retried` → `retry`; `running` → `run`), else a final silent
/// `e` (`release`/`releases` → `releas`, `reconcile`/`reconciling` → `reconcil`), so that every
/// inflection of one word lands on the same stem. Words ending in `ss`, `us`, `is` and `as`
/// (`access`, `status`, `analysis`, `alias`) keep their `s`.
#[cfg(test)]
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    stem_in_place(&mut w);
    w
}

/// `word` lowercased and stemmed into `out`: the index term a plain word becomes.
pub fn stem_into(word: &str, out: &mut String) {
    lower(word, out);
    stem_in_place(out);
}

/// Whether a word as typed is a CamelCase identifier (`ReplicaSet`, `dependsOn`,
/// `OCIRepository`): a name, never a misspelling of another word.
pub fn is_identifier(word: &str) -> bool {
    let b = word.as_bytes();
    if word.is_ascii() {
        (1..b.len()).any(|i| ascii_camel_boundary(b, i))
    } else {
        camel_pieces(word).len() > 1
    }
}

/// [`stem`] without allocating: the tokenizer's hot path (byte comparisons, no `ends_with`
/// calls, which matter at `opt-level = "z"`).
fn stem_in_place(w: &mut String) {
    let b = w.as_bytes();
    let n = b.len();
    if n < 3 || !b.iter().all(u8::is_ascii_lowercase) {
        return;
    }
    if n >= 5 && b[n - 3..] == *b"ies" {
        w.truncate(n - 3);
        w.push('y');
    } else if n >= 4 && b[n - 1] == b's' && !matches!(b[n - 2], b's' | b'u' | b'i' | b'a') {
        w.truncate(n - 1);
    }
    if strip_verb_suffix(w) {
        return;
    }
    let b = w.as_bytes();
    let n = b.len();
    if n >= 3 && b[n - 1] == b'e' && b[n - 2] != b'e' {
        w.truncate(n - 1);
    }
}

/// `-ied` → `y`; `-ing`, `-ed` when a syllable remains; a doubled final consonant is undone
/// (`stopped` → `stop`) except `ll`, `ss`, `zz` (`installed`, `passed`) and in short stems
/// (`added`). Returns whether a suffix was stripped.
fn strip_verb_suffix(w: &mut String) -> bool {
    let b = w.as_bytes();
    let n = b.len();
    if n >= 5 && b[n - 3..] == *b"ied" {
        w.truncate(n - 3);
        w.push('y');
        return true;
    }
    let suffix = if n >= 3 && b[n - 3..] == *b"ing" {
        3
    } else if n >= 3 && b[n - 2..] == *b"ed" && b[n - 3] != b'e' {
        2 // but not need, exceed, succeed
    } else {
        return false;
    };
    let stem = &b[..n - suffix];
    let has_vowel = stem
        .iter()
        .any(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y'));
    if stem.len() < 2 || !has_vowel {
        return false; // string, thing, red, shed
    }
    let m = stem.len();
    let doubled = m >= 4
        && stem[m - 1] == stem[m - 2]
        && !matches!(
            stem[m - 1],
            b'l' | b's' | b'z' | b'a' | b'e' | b'i' | b'o' | b'u'
        );
    w.truncate(if doubled { m - 1 } else { m });
    true
}

/// One element of a text's phrase view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhraseWord<'a> {
    /// A name, number, version, path or quoted value: anything that differs between clusters.
    Placeholder,
    /// A lowercased, stemmed word (stop words included).
    Word(&'a str),
}

/// Calls `emit` with the phrase view of `text`; consecutive placeholders count once.
pub fn for_each_phrase_word(text: &str, mut emit: impl FnMut(PhraseWord<'_>)) {
    let mut scratch = Scratch::default();
    let mut last_placeholder = false;
    for chunk in phrase_chunks(text) {
        for_each_chunk_word(chunk, &mut scratch, &mut |word| {
            let placeholder = word == PhraseWord::Placeholder;
            if !(placeholder && last_placeholder) {
                emit(word);
            }
            last_placeholder = placeholder;
        });
    }
}

/// Whitespace-separated chunks with surrounding punctuation and markdown marks removed. Raw
/// tokens never cross whitespace, so a text's terms are its chunks' terms, and the indexer
/// tokenizes each distinct chunk once. ASCII whitespace only: the corpus does not separate words
/// with other spaces, and a byte loop is fast on this hot path.
pub fn phrase_chunks(text: &str) -> impl Iterator<Item = &str> {
    PhraseChunks { text, pos: 0 }
}

struct PhraseChunks<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for PhraseChunks<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        loop {
            let mut at = self.pos;
            while at < bytes.len() && class(bytes[at]) & WHITESPACE != 0 {
                at += 1;
            }
            if at >= bytes.len() {
                self.pos = at;
                return None;
            }
            let mut end = at;
            while end < bytes.len() && class(bytes[end]) & WHITESPACE == 0 {
                end += 1;
            }
            self.pos = end;
            while at < end && class(bytes[at]) & TRIM != 0 {
                at += 1;
            }
            while end > at && class(bytes[end - 1]) & TRIM != 0 {
                end -= 1;
            }
            if at < end {
                // Cuts are next to ASCII bytes, so they are char boundaries.
                return Some(&self.text[at..end]);
            }
        }
    }
}

/// [`CHUNK_CLASS`] bits.
const WHITESPACE: u8 = 1;
const TRIM: u8 = 2;

/// What each byte is to the chunk scanner, as a table: one lookup per byte of the corpus,
/// where two `matches!` tests each stay a function call at `opt-level = "z"`.
static CHUNK_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_whitespace() {
            table[b] |= WHITESPACE;
        }
        if is_chunk_trim(byte) {
            table[b] |= TRIM;
        }
        b += 1;
    }
    table
};

/// A byte's [`CHUNK_CLASS`] bits. Forced inline: at `opt-level = "z"` even a closure would stay
/// a call per byte.
#[inline(always)]
fn class(b: u8) -> u8 {
    CHUNK_CLASS[usize::from(b)]
}

/// Punctuation and markdown marks around a word: `` `code` ``, **bold**, (parens), `a, b.`
const fn is_chunk_trim(b: u8) -> bool {
    matches!(
        b,
        b'`' | b'*'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b','
            | b';'
            | b':'
            | b'.'
            | b'!'
            | b'?'
            | b'|'
            | b'='
    )
}

/// The phrase words of one chunk: one placeholder, or its words lowercased and stemmed.
pub fn for_each_chunk_word(
    chunk: &str,
    scratch: &mut Scratch,
    emit: &mut impl FnMut(PhraseWord<'_>),
) {
    if is_placeholder_chunk(chunk) {
        emit(PhraseWord::Placeholder);
        return;
    }
    let mut emit_word = |word: &str| {
        lower(word, &mut scratch.word);
        stem_in_place(&mut scratch.word);
        emit(PhraseWord::Word(&scratch.word));
    };
    if chunk.is_ascii() {
        // The same cut as below, on bytes: for ASCII a word character is a letter or digit.
        split_bytes(chunk, |b| !b.is_ascii_alphanumeric()).for_each(&mut emit_word);
    } else {
        chunk
            .split(|c: char| !is_word_char(c))
            .filter(|w| !w.is_empty())
            .for_each(emit_word);
    }
}

/// Quoted values (`'flux-system/infra'`, `"podinfo"`), template slots (`<name>`), and tokens
/// with a digit, `/` or `@` (`podinfo@6.5.0`, `apps/v1`, `30s`, `sha256:...`) vary per cluster.
pub fn is_placeholder_chunk(chunk: &str) -> bool {
    let b = chunk.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    let ascii_quoted =
        b.len() >= 2 && matches!((first, last), (b'\'', b'\'') | (b'"', b'"') | (b'<', b'>'));
    let typographic_quoted = first >= 0x80
        && ((chunk.starts_with('‘') && chunk.ends_with('’'))
            || (chunk.starts_with('“') && chunk.ends_with('”')));
    ascii_quoted
        || typographic_quoted
        || b.iter()
            .any(|&c| c.is_ascii_digit() || matches!(c, b'/' | b'@' | b'<'))
}

/// A 32-bit FNV-1a hash of a phrase word; 0 is reserved for the placeholder.
pub fn phrase_hash(word: &PhraseWord<'_>) -> u32 {
    match word {
        PhraseWord::Placeholder => 0,
        PhraseWord::Word(w) => {
            let mut h: u32 = 0x811c_9dc5;
            for b in w.bytes() {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
            h.max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_term(text, |t| out.push(t.to_string()));
        out
    }

    fn phrase(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_phrase_word(text, |w| {
            out.push(match w {
                PhraseWord::Placeholder => "_".to_string(),
                PhraseWord::Word(w) => w.to_string(),
            })
        });
        out
    }

    #[test]
    fn stop_words_are_sorted_lowercase_and_found() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            STOP_WORDS
                .iter()
                .all(|w| w.bytes().all(|b| b.is_ascii_lowercase()))
        );
        for not_stop in ["", "A", "helm", "ready", "not", "all", "get", "athe", "é"] {
            assert!(!is_stop_word(not_stop), "{not_stop}");
        }
        assert!(STOP_WORDS.iter().all(|w| w.len() <= LONGEST_STOP_WORD));
        assert!(STOP_WORDS.iter().all(|w| is_stop_word(w)));
    }

    #[test]
    fn camel_case_keeps_the_whole_word_and_its_pieces() {
        assert_eq!(terms("dependsOn"), vec!["dependson", "depend"]);
        assert_eq!(
            terms("OCIRepository"),
            vec!["ocirepository", "oci", "repository"]
        );
        assert_eq!(terms("HelmReleases"), vec!["helmreleas", "helm", "releas"]);
        assert_eq!(terms("v1beta2 k8s"), vec!["v1beta2", "k8s"]);
    }

    #[test]
    fn dotted_field_paths_are_searchable_whole_and_by_parts() {
        let t = terms("`spec.install.remediation.retries`");
        for expected in [
            "spec.install.remediation.retries",
            "spec.install",
            "remediation.retries",
            "install.remediation.retries",
            "spec",
            "install",
            "remediation",
            "retry",
        ] {
            assert!(
                t.iter().any(|x| x == expected),
                "{expected} missing from {t:?}"
            );
        }
        let list = terms("spec.healthChecks[].apiVersion");
        assert!(
            list.contains(&"spec.healthchecks.apiversion".to_string()),
            "{list:?}"
        );
        assert!(
            list.contains(&"healthchecks.apiversion".to_string()),
            "{list:?}"
        );
        assert!(list.contains(&"apiversion".to_string()), "{list:?}");
    }

    #[test]
    fn hyphenated_names_stay_whole() {
        assert_eq!(
            terms("source-controller"),
            vec!["source-controller", "sourc", "controller"]
        );
        assert_eq!(terms("--with-source"), vec!["with-source", "sourc"]);
        // Versions are not exploded into sub-paths.
        assert_eq!(terms("1.2.3"), vec!["1.2.3"]);
    }

    #[test]
    fn sentence_punctuation_is_not_a_connector() {
        assert_eq!(
            terms("ready. Then flux-system/infra"),
            vec!["ready", "flux-system", "flux", "system", "infra"]
        );
        assert_eq!(terms("doesn't"), Vec::<String>::new());
        assert_eq!(terms("Ünïcode naïve"), vec!["ünïcode", "naïve"]);
    }

    #[test]
    fn stop_words_do_not_survive_alone() {
        assert_eq!(
            terms("how do I enable it for the release?"),
            vec!["enabl", "releas"]
        );
    }

    #[test]
    fn stemming_maps_inflections_together() {
        let same = [
            ["policy", "policies", "policies"],
            ["retry", "retries", "retried"],
            ["fail", "failing", "failed"],
            ["release", "releases", "released"],
            ["reconcile", "reconciling", "reconciled"],
            ["stop", "stopped", "stopping"],
            ["install", "installed", "installing"],
            ["setting", "settings", "set"],
            ["cache", "caches", "cached"],
            ["patch", "patches", "patched"],
            ["status", "statuses", "status"],
            ["alias", "aliases", "alias"],
            ["value", "values", "valued"],
            ["add", "added", "adding"],
            ["use", "uses", "using"],
        ];
        for group in same {
            let stems: Vec<String> = group.iter().map(|w| stem(w)).collect();
            assert!(
                stems.iter().all(|s| *s == stems[0]),
                "{group:?} -> {stems:?}"
            );
        }
    }

    #[test]
    fn stemming_is_conservative() {
        for keep in [
            "string", "thing", "need", "exceed", "access", "analysis", "ssh", "tls", "ab",
        ] {
            assert_eq!(stem(keep), keep);
        }
        assert_eq!(stem("kustomizations"), "kustomization");
        assert_eq!(stem("dependencies"), "dependency");
        assert_eq!(stem("exhausted"), "exhaust");
        assert_eq!(stem("v1beta2"), "v1beta2");
    }

    #[test]
    fn phrase_view_normalises_names_numbers_and_quotes() {
        let pasted = phrase("dependency 'flux-system/infra' is not ready");
        let corpus = phrase("`dependency '<namespace>/<name>' is not ready`");
        assert_eq!(pasted, corpus);
        assert_eq!(pasted, vec!["dependency", "_", "is", "not", "ready"]);
        let helm = phrase(
            "Helm upgrade failed for release podinfo/podinfo with chart podinfo@6.5.4: context deadline exceeded",
        );
        let doc = phrase(
            "Helm upgrade failed for release <namespace>/<name> with chart <chart>@<version>: context deadline exceeded",
        );
        assert_eq!(helm, doc);
        assert_eq!(
            phrase("retrying in 30s (attempt 3)"),
            vec!["retry", "in", "_", "attempt", "_"]
        );
    }

    #[test]
    fn pasted_names_weigh_less_than_words() {
        let terms = query_terms("dependency 'flux-system/infra' is not ready (ServiceMonitor)");
        let weight = |t: &str| terms.iter().find(|(x, _)| x == t).map(|(_, w)| *w);
        assert_eq!(weight("dependency"), Some(1.0));
        assert_eq!(weight("ready"), Some(1.0));
        assert_eq!(weight("infra"), Some(NAME_WEIGHT));
        assert_eq!(weight("flux-system"), Some(NAME_WEIGHT));
        assert_eq!(weight("servicemonitor"), Some(1.0));
        // A field path is not a name.
        assert_eq!(
            query_terms("spec.install.remediation.retries")[0],
            ("spec.install.remediation.retries".to_string(), 1.0)
        );
    }

    #[test]
    fn phrase_hash_reserves_zero_for_placeholders() {
        assert_eq!(phrase_hash(&PhraseWord::Placeholder), 0);
        assert_ne!(phrase_hash(&PhraseWord::Word("ready")), 0);
        assert_ne!(
            phrase_hash(&PhraseWord::Word("ready")),
            phrase_hash(&PhraseWord::Word("readi"))
        );
    }
}
