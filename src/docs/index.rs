//! The inverted index over document sections, and the ranking.
//!
//! The unit of retrieval is a section (the text under one heading), so a hit can name the exact
//! field or failure message that answers a question. Scoring is BM25F (Robertson & Zaragoza,
//! "The Probabilistic Relevance Framework: BM25 and Beyond", 2009): per term, a weighted frequency
//! adds the section body (length-normalised) to boosted fields — the section's own heading, field
//! headings (``### `spec.interval` ``) more, parent headings a little, and the document's title,
//! keywords and apiVersion — then saturates with k1 and multiplies by idf. A section whose own
//! heading holds every typed query term gets a bonus (the kind's overview for a kind name, the
//! field for a field path), and the best candidates get another for query word pairs found
//! verbatim, which lifts the section whose wording matches a pasted error message. Ties break on
//! corpus order, so results are deterministic.

use std::ops::Range;

use super::corpus::{Origin, Source};
use super::document;
use super::interner::Interner;
use super::tokenize::{self, PhraseWord};
use super::words;

/// BM25 saturation: how fast repeated occurrences stop adding score.
const K1: f32 = 1.2;
/// BM25 length normalisation of the section body.
const B: f32 = 0.75;
/// Field weights, in units of one body occurrence in an average-length section.
const W_TITLE: f32 = 2.0;
const W_KEYWORD: f32 = 1.5;
const W_API_VERSION: f32 = 0.5;
const W_HEADING: f32 = 2.5;
const W_FIELD_HEADING: f32 = 4.0;
const W_PARENT_HEADING: f32 = 0.5;
/// Bonus, times the summed idf of the query terms, for a section whose heading holds them all.
const W_HEADING_MATCH: f32 = 1.0;
/// Score per verbatim query word pair, times the pair's mean idf.
const W_PHRASE: f32 = 1.0;
/// How many of the best BM25 sections are re-ranked with the phrase bonus.
const RERANK: usize = 64;

/// One indexed document.
#[derive(Debug)]
pub struct Doc {
    pub id: String,
    pub title: String,
    pub kind: Option<String>,
    pub api_version: Option<String>,
    pub origin: Origin,
    /// The full text, front matter included.
    pub text: String,
    /// Byte offset of the markdown body (after the front matter).
    pub body_start: usize,
    /// This document's sections, in order.
    pub sections: Range<u32>,
}

/// The text under one heading.
#[derive(Debug)]
pub struct Section {
    pub doc: u32,
    /// Heading level (1 for the `# Title` section).
    pub level: u8,
    pub parent: Option<u32>,
    /// The heading as shown to readers (backticks removed); the title for text before any heading.
    pub heading: String,
    /// Where the heading line starts (the body's start for text before any heading).
    pub start: usize,
    /// The 1-based line of `start` in the document's full text (front matter included), so a
    /// hit's lines are the lines of the file a runbook was read from.
    pub line: u32,
    /// Where the text after the heading line starts.
    pub body_start: usize,
    /// End of this section together with its subsections.
    pub subtree_end: usize,
    /// 1 / BM25 length normaliser of the body.
    inv_norm: f32,
    /// This section's words in `Index::phrase_words`.
    phrase: Range<u32>,
    /// The term ids of this section's own heading in `Index::heading_terms`.
    heading_terms: Range<u32>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Posting {
    section: u32,
    /// Occurrences in the body.
    body: u16,
    /// Heading weight, in tenths (`W_*_HEADING` × occurrences).
    boost: u16,
}

/// Documents, sections and the term → sections map.
#[derive(Debug, Default)]
pub struct Index {
    pub docs: Vec<Doc>,
    pub sections: Vec<Section>,
    /// The vocabulary: term text ↔ term id.
    terms: Interner,
    /// All postings grouped by term: term `t`'s are `postings[offsets[t]..offsets[t + 1]]`, in
    /// section order (one flat array: no per-term allocation).
    postings: Vec<Posting>,
    offsets: Vec<u32>,
    /// The documents whose title, keywords or apiVersion hold a term, with the weight, grouped
    /// by term like the postings (`doc_fields[field_offsets[t]..field_offsets[t + 1]]`).
    doc_fields: Vec<(u32, f32)>,
    field_offsets: Vec<u32>,
    /// Every section's phrase words, concatenated (see `tokenize::for_each_phrase_word`).
    phrase_words: Vec<u32>,
    /// Every section's own heading terms, concatenated.
    heading_terms: Vec<u32>,
}

/// One ranked section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub section: u32,
    pub score: f32,
}

/// The outcome of one query.
#[derive(Debug, Default)]
pub struct Ranking {
    /// Best first; at most `RERANK` sections.
    pub hits: Vec<Hit>,
    /// Words the user typed (as typed; not pasted names) that matched nothing in the index even
    /// after spelling correction.
    pub unknown: Vec<String>,
    /// How many distinct terms the query had, found or not (0: only stop words).
    pub terms: usize,
    /// (query word as typed, indexed term used instead) for misspelt words.
    pub corrected: Vec<(String, String)>,
    /// What a section is measured against to tell a strong match from a weak one (see
    /// [`Index::coverage`]): the typed terms that matched, with their idf (the pasted names'
    /// terms when nothing was typed), and the idf mass of typed words the index lacks.
    pub wanted: Vec<(u32, f32)>,
    pub missing_weight: f32,
}

impl Index {
    /// Index documents in the order given (the order breaks score ties).
    pub fn build(sources: Vec<Source>) -> Index {
        Builder::build(sources)
    }

    /// The sections whose heading or body holds `term`.
    fn postings(&self, term: u32) -> &[Posting] {
        term_slice(&self.postings, &self.offsets, term)
    }

    /// The documents whose title, keywords or apiVersion hold `term`, with the field weight.
    fn doc_fields(&self, term: u32) -> &[(u32, f32)] {
        term_slice(&self.doc_fields, &self.field_offsets, term)
    }

    pub fn doc_of(&self, section: u32) -> &Doc {
        &self.docs[self.sections[section as usize].doc as usize]
    }

    /// `HelmRelease › Spec fields › spec.install.remediation.retries`: the title, then each
    /// heading from the outermost down (the `# Title` heading is the title, not repeated).
    pub fn path(&self, section: u32) -> Vec<&str> {
        let mut chain = Vec::new();
        let mut at = Some(section);
        while let Some(s) = at {
            let sec = &self.sections[s as usize];
            if sec.level > 1 {
                chain.push(sec.heading.as_str());
            }
            at = sec.parent;
        }
        chain.push(self.doc_of(section).title.as_str());
        chain.reverse();
        chain
    }

    /// The lines a section spans with its subsections, 1-based and inclusive: from its
    /// heading line to its last line that is not blank.
    pub fn lines(&self, section: u32) -> (u32, u32) {
        let sec = &self.sections[section as usize];
        let text = &self.doc_of(section).text;
        let last_byte = sec.start + text[sec.start..sec.subtree_end].trim_end().len();
        // Counted back from the next heading, whose line is known: only the blank tail is
        // scanned, not the section (this runs for every hit of every search).
        let range = self.docs[sec.doc as usize].sections.clone();
        let after = &self.sections[range.start as usize..range.end as usize];
        let next = after.partition_point(|s| s.start < sec.subtree_end);
        let to = match after.get(next).filter(|n| n.start == sec.subtree_end) {
            Some(next) => {
                let tail = text.as_bytes()[last_byte..sec.subtree_end]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                next.line
                    .saturating_sub(u32::try_from(tail).unwrap_or(u32::MAX))
            }
            None => self.line_at(sec.doc, last_byte),
        };
        (sec.line, to.max(sec.line))
    }

    /// The line of byte `offset` of a document's text: counted from the nearest section start
    /// at or before it, so that a hit on a whole document does not count its 100 KB again.
    fn line_at(&self, doc: u32, offset: usize) -> u32 {
        let range = self.docs[doc as usize].sections.clone();
        let sections = &self.sections[range.start as usize..range.end as usize];
        let at = sections.partition_point(|s| s.start <= offset);
        let Some(from) = at.checked_sub(1).map(|i| &sections[i]) else {
            return 1;
        };
        let text = &self.docs[doc as usize].text;
        let breaks = text.as_bytes()[from.start..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        from.line
            .saturating_add(u32::try_from(breaks).unwrap_or(u32::MAX))
    }

    /// What `read_flux_doc`'s `heading` should be to open `section`: its heading when no other
    /// section of the document has the same one, else its full section path.
    pub fn heading_ref(&self, section: u32) -> String {
        let sec = &self.sections[section as usize];
        let doc = &self.docs[sec.doc as usize];
        let same = doc
            .sections
            .clone()
            .filter(|&s| {
                self.sections[s as usize]
                    .heading
                    .eq_ignore_ascii_case(&sec.heading)
            })
            .count();
        if same <= 1 {
            sec.heading.clone()
        } else {
            self.path(section).join(" › ")
        }
    }

    /// Rank sections for a query.
    pub fn search(&self, query: &str) -> Ranking {
        self.search_in(query, None)
    }

    /// Rank the sections of one document (`scope`, a [`Doc::sections`] range), or of all.
    pub fn search_in(&self, query: &str, scope: Option<Range<u32>>) -> Ranking {
        let query = clip_query(query);
        let mut ranking = Ranking::default();
        let mut weighted: Vec<(u32, f32)> = Vec::new();
        // The terms the user typed (not pasted names), with their idf.
        let mut typed: Vec<(u32, f32)> = Vec::new();
        let terms = tokenize::query_terms(query);
        ranking.terms = terms.len();
        // Typed terms found nowhere, even after correction.
        let mut missing: Vec<String> = Vec::new();
        // Spelling correction is for short, typed queries; in a pasted log most unknown words
        // are names, and correcting them would cost a vocabulary scan each.
        let mut corrections_left = if terms.len() <= MAX_TERMS_TO_CORRECT {
            3
        } else {
            0
        };
        // The words typed as CamelCase identifiers (`ReplicaSet`), by the term that stands for
        // them: names, never misspellings of another word. Found on the first correction only:
        // most queries need none.
        let mut identifiers: Option<Vec<String>> = None;
        for (term, weight) in terms {
            let typed_word = weight >= 1.0;
            let mut correction = || {
                // A pasted name (`"podinfo-v2"`) is not a misspelt word, and neither is an
                // identifier or a real word the corpus happens not to use.
                if corrections_left == 0 || !typed_word || words::is_known(&term) {
                    return None;
                }
                let identifiers = identifiers.get_or_insert_with(|| {
                    let mut found = Vec::new();
                    tokenize::for_each_typed_word(query, |word, term| {
                        if tokenize::is_identifier(word) {
                            found.push(term.to_string());
                        }
                    });
                    found
                });
                if identifiers.contains(&term) {
                    return None;
                }
                corrections_left -= 1;
                self.correct(&term)
            };
            // `initialized` is the corpus's `initialised`: the same word, not a correction.
            let id = match self
                .terms
                .get(&term)
                .or_else(|| typed_word.then(|| self.spelling_variant(&term))?)
            {
                Some(id) => id,
                None => match correction() {
                    Some(id) => {
                        ranking
                            .corrected
                            .push((term, self.term_text(id).to_string()));
                        id
                    }
                    None => {
                        if typed_word {
                            missing.push(term);
                        }
                        continue;
                    }
                },
            };
            if !weighted.iter().any(|&(seen, _)| seen == id) {
                weighted.push((id, weight * self.idf(id)));
                if typed_word {
                    typed.push((id, self.idf(id)));
                }
            }
        }
        ranking.missing_weight = missing.len() as f32 * self.unseen_idf();
        // Reported as the user wrote them (`ensure`, not the stem `ensur`), once per word.
        tokenize::for_each_typed_word(query, |word, term| {
            if let Some(at) = missing.iter().position(|m| m == term) {
                missing.swap_remove(at);
                ranking.unknown.push(word.to_string());
            }
            for (from, _) in ranking.corrected.iter_mut().filter(|(f, _)| f == term) {
                *from = word.to_string();
            }
        });
        ranking.wanted = if typed.is_empty() {
            weighted.iter().map(|&(t, _)| (t, self.idf(t))).collect()
        } else {
            typed.clone()
        };
        if weighted.is_empty() {
            return ranking;
        }
        let mut scores = self.bm25(&weighted);
        self.heading_bonus(&typed, &mut scores);
        let in_scope = |section: usize| {
            scope
                .as_ref()
                .is_none_or(|range| range.contains(&(section as u32)))
        };
        let mut hits: Vec<Hit> = scores
            .iter()
            .enumerate()
            .filter(|&(section, &score)| score > 0.0 && in_scope(section))
            .map(|(section, &score)| Hit {
                section: section as u32,
                score,
            })
            .collect();
        if hits.len() > RERANK {
            hits.select_nth_unstable_by(RERANK - 1, rank_order);
            hits.truncate(RERANK);
        }
        self.phrase_bonus(query, &mut hits);
        hits.sort_by(rank_order);
        ranking.hits = hits;
        ranking
    }

    /// The idf of a term no section holds: what a typed word the corpus lacks weighs.
    fn unseen_idf(&self) -> f32 {
        let n = self.sections.len() as f32;
        (1.0 + (n + 0.5) / 0.5).ln()
    }

    /// How much of the query the document holding `section` answers, from 0 to 1: the
    /// idf-weighted share of the wanted terms (see [`Ranking::wanted`]) found anywhere in that
    /// document (its sections, headings, title, keywords, apiVersion). A typed word that no
    /// document uses counts twice, at the idf of an unseen term: a word one document lacks may
    /// be worded differently there, but a word the whole corpus lacks says the question is
    /// about something the documentation does not cover ("Argo CD sync waves", "kafka").
    /// Rare words weigh most, so matching the common words of a question ("configure",
    /// "sync") is not enough.
    pub fn strength(&self, ranking: &Ranking, section: u32) -> f32 {
        let doc = self.sections[section as usize].doc;
        let sections = &self.docs[doc as usize].sections;
        let (mut found, mut total) = (0.0f32, 2.0 * ranking.missing_weight);
        for &(term, idf) in &ranking.wanted {
            total += idf;
            let postings = self.postings(term);
            // Postings are in section order and a document's sections are contiguous.
            let first = postings.partition_point(|p| p.section < sections.start);
            let in_doc = postings
                .get(first)
                .is_some_and(|p| p.section < sections.end);
            if in_doc || self.doc_fields(term).iter().any(|&(d, _)| d == doc) {
                found += idf;
            }
        }
        if total <= 0.0 { 1.0 } else { found / total }
    }

    /// Lucene's non-negative BM25 idf over sections: a term in most sections weighs little
    /// but never subtracts.
    fn idf(&self, term: u32) -> f32 {
        let n = self.sections.len() as f32;
        let df = self.postings(term).len() as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn bm25(&self, terms: &[(u32, f32)]) -> Vec<f32> {
        let mut scores = vec![0.0f32; self.sections.len()];
        // Which term last scored a section, so document-field-only matches are added once.
        let mut scored_by = vec![u32::MAX; self.sections.len()];
        let mut doc_weight = vec![0.0f32; self.docs.len()];
        let saturate = |tf: f32| tf * (K1 + 1.0) / (tf + K1);
        for (n, &(term, idf)) in terms.iter().enumerate() {
            let fields = self.doc_fields(term);
            for &(doc, w) in fields {
                doc_weight[doc as usize] = w;
            }
            for p in self.postings(term) {
                let section = &self.sections[p.section as usize];
                let tf = f32::from(p.body) * section.inv_norm
                    + f32::from(p.boost) / 10.0
                    + doc_weight[section.doc as usize];
                scores[p.section as usize] += idf * saturate(tf);
                scored_by[p.section as usize] = n as u32;
            }
            for &(doc, w) in fields {
                for s in self.docs[doc as usize].sections.clone() {
                    if scored_by[s as usize] != n as u32 {
                        scores[s as usize] += idf * saturate(w);
                    }
                }
                doc_weight[doc as usize] = 0.0;
            }
        }
        scores
    }

    /// A section whose own heading holds every term the user typed — a kind name, a field path,
    /// a failure message — is very likely the answer, whatever its body's term counts say (a
    /// "Related commands" list repeats a kind name more often than its overview does).
    fn heading_bonus(&self, typed: &[(u32, f32)], scores: &mut [f32]) {
        if typed.is_empty() {
            return;
        }
        let bonus = W_HEADING_MATCH * typed.iter().map(|&(_, idf)| idf).sum::<f32>();
        for (section, score) in self.sections.iter().zip(scores.iter_mut()) {
            if *score <= 0.0 {
                continue;
            }
            let range = &section.heading_terms;
            let heading = &self.heading_terms[range.start as usize..range.end as usize];
            if !heading.is_empty() && typed.iter().all(|(t, _)| heading.contains(t)) {
                *score += bonus;
            }
        }
    }

    /// Add `W_PHRASE` × mean idf for each distinct query word pair that appears, adjacent and in
    /// order, in a section. Pairs of stop words and placeholders carry no weight.
    fn phrase_bonus(&self, query: &str, hits: &mut [Hit]) {
        let mut words: Vec<(u32, f32)> = Vec::new();
        tokenize::for_each_phrase_word(query, |word| {
            let weight = match word {
                PhraseWord::Word(w) if !tokenize::is_stop_word(w) => {
                    self.terms.get(w).map_or(0.0, |id| self.idf(id))
                }
                _ => 0.0,
            };
            words.push((tokenize::phrase_hash(&word), weight));
        });
        let mut pairs: Vec<(u64, f32)> = words
            .windows(2)
            .filter(|w| w[0].1 + w[1].1 > 0.0)
            .map(|w| (pair_key(w[0].0, w[1].0), (w[0].1 + w[1].1) / 2.0))
            .collect();
        pairs.sort_by_key(|p| p.0);
        pairs.dedup_by(|a, b| a.0 == b.0);
        if pairs.is_empty() {
            return;
        }
        let mut matched = vec![false; pairs.len()];
        for hit in hits.iter_mut() {
            matched.iter_mut().for_each(|m| *m = false);
            let range = &self.sections[hit.section as usize].phrase;
            let seq = &self.phrase_words[range.start as usize..range.end as usize];
            for w in seq.windows(2) {
                if let Ok(at) = pairs.binary_search_by(|p| p.0.cmp(&pair_key(w[0], w[1]))) {
                    matched[at] = true;
                }
            }
            let bonus: f32 = pairs
                .iter()
                .zip(&matched)
                .filter(|&(_, &m)| m)
                .map(|(p, _)| p.1)
                .sum();
            hit.score += W_PHRASE * bonus;
        }
    }

    /// The indexed term for the other spelling of `-ize`/`-ise` and `-yze`/`-yse` words: the
    /// corpus writes `initialise` and `analyse`, users type `initialize` and `analyze` (and the
    /// reverse for a local runbook).
    fn spelling_variant(&self, term: &str) -> Option<u32> {
        if term.len() < 6 || !term.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        for (from, to) in [("iz", "is"), ("is", "iz"), ("yz", "ys"), ("ys", "yz")] {
            if let Some(at) = term.rfind(from) {
                let variant = format!("{}{to}{}", &term[..at], &term[at + from.len()..]);
                if let Some(id) = self.terms.get(&variant) {
                    return Some(id);
                }
            }
        }
        None
    }

    /// The closest indexed term to a misspelt query word: edit distance 1 (2 for long words),
    /// same first letter, and not merely another word (see [`is_other_word`]); the most
    /// frequent wins, then the alphabetically first.
    fn correct(&self, term: &str) -> Option<u32> {
        let len = term.chars().count();
        if len < 5 || !term.chars().all(|c| c.is_alphabetic()) {
            return None;
        }
        let max = if len >= 9 { 2 } else { 1 };
        let first = term.chars().next();
        let mut best: Option<(usize, usize, &str, u32)> = None;
        for (id, candidate) in self.terms.iter() {
            if candidate.chars().next() != first || candidate.len().abs_diff(term.len()) > max {
                continue;
            }
            let Some(distance) = bounded_distance(term, candidate, max) else {
                continue;
            };
            if is_other_word(term, candidate, distance) {
                continue;
            }
            let df = self.postings(id).len() + self.doc_fields(id).len();
            let better = match best {
                None => true,
                Some((d, f, text, _)) => {
                    (distance, std::cmp::Reverse(df), candidate) < (d, std::cmp::Reverse(f), text)
                }
            };
            if better {
                best = Some((distance, df, candidate, id));
            }
        }
        best.map(|(_, _, _, id)| id)
    }

    fn term_text(&self, id: u32) -> &str {
        self.terms.text(id)
    }
}

/// Term `t`'s part of a CSR array (see `group_by_term`).
fn term_slice<'a, T>(items: &'a [T], offsets: &[u32], term: u32) -> &'a [T] {
    let t = term as usize;
    match (offsets.get(t), offsets.get(t + 1)) {
        (Some(&from), Some(&to)) => &items[from as usize..to as usize],
        _ => &[],
    }
}

/// Queries longer than this are cut (at a char boundary): an agent may paste a whole
/// `kubectl describe`, and the answer is in its first lines.
const MAX_QUERY_BYTES: usize = 4096;
/// Queries with more terms than this are not spell-corrected.
const MAX_TERMS_TO_CORRECT: usize = 12;

fn clip_query(query: &str) -> &str {
    if query.len() <= MAX_QUERY_BYTES {
        return query;
    }
    &query[..crate::text::floor_char_boundary(query, MAX_QUERY_BYTES)]
}

fn pair_key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// Best score first; equal scores keep corpus order.
fn rank_order(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.section.cmp(&b.section))
}

/// Whether `candidate`, within edit distance of the unknown term `term` (both stems), is another
/// word rather than what a typist meant. Typing slips (`kustomizaton`, `helmrelase`,
/// `sourcref`) drop, add or swap letters inside a word; these differences are not slips:
/// - the same stem with another ending (`autoscaler` → `autoscal`, `configured` → `configur`):
///   a different form of a word, which BM25 should not silently swap in;
/// - a longer word cut down to a shorter one (`replicaset` → `replicas`);
/// - only the last letter differs (`spark` → `spars`, `terminating` → `terminal`), which far
///   more often names another word than a slip of the finger;
/// - two edits in the first half of a word (`injection` → `inspection`).
fn is_other_word(term: &str, candidate: &str, distance: usize) -> bool {
    let t: Vec<char> = term.chars().collect();
    let c: Vec<char> = candidate.chars().collect();
    let shared = t.iter().zip(&c).take_while(|(a, b)| a == b).count();
    let (t_tail, c_tail) = (&t[shared..], &c[shared..]);
    if shared >= 4 {
        if is_ending(t_tail) && is_ending(c_tail) {
            return true;
        }
        if c_tail.is_empty() && t_tail.len() >= 2 {
            return true;
        }
        if t_tail.len() == 1 && c_tail.len() == 1 {
            return true;
        }
    }
    distance >= 2 && 2 * shared <= t.len()
}

/// Word endings, as they look after stemming (`-able` → `abl`, `-ive` → `iv`).
fn is_ending(tail: &[char]) -> bool {
    const ENDINGS: &[&str] = &[
        "", "abl", "al", "ant", "d", "e", "ed", "ent", "er", "ibl", "ic", "ing", "ion", "is",
        "ist", "iv", "iz", "ly", "or", "s", "ur", "y",
    ];
    let tail: String = tail.iter().collect();
    ENDINGS.contains(&tail.as_str())
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent swaps), or None above `max`.
fn bounded_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let mut row_min = usize::MAX;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return None;
        }
    }
    let d = rows[a.len()][b.len()];
    (d <= max).then_some(d)
}

/// One section of a document body being indexed (offsets relative to the body).
struct Span<'a> {
    level: u8,
    /// `None` for text before the first heading.
    heading: Option<&'a str>,
    /// The heading line's start.
    start: usize,
    /// Past the heading line.
    text_start: usize,
    /// The next heading's start.
    end: usize,
    /// 1-based line of `start` in the body.
    line: usize,
}

/// Accumulates documents into an [`Index`].
struct Builder {
    index: Index,
    /// Per term id, during one section: (body occurrences, heading boost in tenths).
    counts: Vec<(u32, u32)>,
    touched: Vec<u32>,
    /// (term, posting) in section order; `finish` groups them by term.
    pending: Vec<(u32, Posting)>,
    /// (term, doc, weight) from titles, keywords and apiVersions, in document order; `finish`
    /// groups them by term like the postings (most terms have none, so no per-term vector).
    pending_fields: Vec<(u32, u32, f32)>,
    /// Body length (terms) per section, for the length normaliser.
    lengths: Vec<u32>,
    scratch: tokenize::Scratch,
    memo: Memo,
}

/// (terms, phrase words) of one chunk, as `(from, to)` ranges of [`Memo`]'s vectors.
type ChunkRanges = ((u32, u32), (u32, u32));

/// Tokenizing is most of the indexing time and the same words recur throughout the corpus, so
/// each distinct chunk (see `tokenize::phrase_chunks`) is tokenized once, into both views.
struct Memo {
    /// Distinct chunks; chunk id `c` has the ranges `ranges[c]`.
    chunks: Interner,
    ranges: Vec<ChunkRanges>,
    /// Term ids and phrase word hashes of every distinct chunk, concatenated.
    terms: Vec<u32>,
    words: Vec<u32>,
}

/// Sizes per byte of markdown, measured on the embedded corpus (≈430 KB: 54,000 chunks, 6,800
/// distinct, 4,600 terms, 44,000 postings), rounded up. Vectors reserved from them do not grow
/// while the embedded corpus is indexed: with musl's allocator every doubling of a large vector
/// is an mmap, a copy and an munmap. The reserve stops at `MAX_RESERVED`; past that (a large
/// `--docs-dir`) vectors grow as usual, and distinct words grow slower than text anyway.
const BYTES_PER_CHUNK: usize = 7;
const BYTES_PER_DISTINCT_CHUNK: usize = 56;
const BYTES_PER_TERM: usize = 80;
const BYTES_PER_POSTING: usize = 8;
const MAX_RESERVED: usize = 1 << 20;

fn reserve_for(bytes: usize, per: usize) -> usize {
    (bytes / per).min(MAX_RESERVED)
}

impl Builder {
    fn build(sources: Vec<Source>) -> Index {
        let bytes: usize = sources.iter().map(|s| s.text.len()).sum();
        let terms = reserve_for(bytes, BYTES_PER_TERM);
        let chunks = reserve_for(bytes, BYTES_PER_DISTINCT_CHUNK);
        let mut builder = Builder {
            index: Index {
                terms: Interner::with_capacity(terms, terms * 10),
                phrase_words: Vec::with_capacity(reserve_for(bytes, BYTES_PER_CHUNK)),
                ..Index::default()
            },
            counts: Vec::with_capacity(terms),
            touched: Vec::new(),
            pending: Vec::with_capacity(reserve_for(bytes, BYTES_PER_POSTING)),
            pending_fields: Vec::new(),
            lengths: Vec::new(),
            scratch: tokenize::Scratch::default(),
            memo: Memo {
                chunks: Interner::with_capacity(chunks, chunks * 12),
                ranges: Vec::with_capacity(chunks),
                terms: Vec::with_capacity(chunks * 3),
                words: Vec::with_capacity(chunks * 2),
            },
        };
        for (doc, source) in sources.iter().enumerate() {
            builder.add(doc as u32, source);
        }
        builder.finish(sources)
    }

    fn add(&mut self, doc: u32, source: &Source) {
        let (front, body_start) = document::parse_lenient(&source.text);
        let body = &source.text[body_start..];
        let headings = document::headings(body);
        // A runbook may have an empty `title:` or `# ` line; its file name is better than nothing.
        let title = front
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| {
                headings
                    .iter()
                    .find(|h| h.level == 1)
                    .map(|h| display_heading(h.text))
                    .filter(|t| !t.trim().is_empty())
            })
            .unwrap_or_else(|| {
                source
                    .id
                    .rsplit('/')
                    .next()
                    .unwrap_or(&source.id)
                    .to_string()
            });

        self.add_doc_field(doc, &title, W_TITLE);
        for keyword in &front.keywords {
            self.add_doc_field(doc, keyword, W_KEYWORD);
        }
        if let Some(kind) = front.kind.as_deref().filter(|k| *k != title) {
            self.add_doc_field(doc, kind, W_TITLE);
        }
        if let Some(api) = &front.api_version {
            self.add_doc_field(doc, api, W_API_VERSION);
        }

        // Text before the first heading (or a file without headings) is a section of its own.
        let first = headings.first().map_or(body.len(), |h| h.start);
        let mut spans: Vec<Span> = Vec::new();
        if headings.is_empty() || !body[..first].trim().is_empty() {
            spans.push(Span {
                level: 1,
                heading: None,
                start: 0,
                text_start: 0,
                end: first,
                line: 1,
            });
        }
        for (i, h) in headings.iter().enumerate() {
            let end = headings.get(i + 1).map_or(body.len(), |next| next.start);
            spans.push(Span {
                level: h.level,
                heading: Some(h.text),
                start: h.start,
                text_start: h.end,
                end,
                line: h.line,
            });
        }
        // Lines of the front matter, before the body's line 1.
        let front_lines = source.text[..body_start].matches('\n').count();

        let first_section = self.index.sections.len() as u32;
        let mut stack: Vec<(u8, u32)> = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            let (level, heading, text_start, end) =
                (span.level, span.heading, span.text_start, span.end);
            let id = first_section + i as u32;
            while stack.last().is_some_and(|&(l, _)| l >= level) {
                stack.pop();
            }
            let parent = stack.last().map(|&(_, s)| s);
            stack.push((level, id));
            let subtree_end = spans[i + 1..]
                .iter()
                .find(|next| next.level <= level)
                .map_or(body.len(), |next| next.start);
            self.index.sections.push(Section {
                doc,
                level,
                parent,
                heading: heading.map_or_else(|| title.clone(), display_heading),
                start: body_start + span.start,
                line: u32::try_from(front_lines + span.line).unwrap_or(u32::MAX),
                body_start: body_start + text_start,
                subtree_end: body_start + subtree_end,
                inv_norm: 1.0,
                phrase: 0..0,
                heading_terms: 0..0,
            });
            self.index_section(id, heading, &body[text_start..end]);
        }
        let sections = first_section..self.index.sections.len() as u32;
        self.index.docs.push(Doc {
            // id, origin and text move in from the source in `finish`.
            id: String::new(),
            title,
            kind: front.kind,
            api_version: front.api_version,
            origin: Origin::Embedded,
            body_start,
            sections,
            text: String::new(),
        });
    }

    fn add_doc_field(&mut self, doc: u32, text: &str, weight: f32) {
        let (index, counts, fields) = (&mut self.index, &mut self.counts, &mut self.pending_fields);
        tokenize::for_each_term(text, |term| {
            let id = intern(index, counts, term);
            // This document's fields are the tail of the list.
            let mine = fields.iter_mut().rev().take_while(|f| f.1 == doc);
            match mine.into_iter().find(|f| f.0 == id) {
                Some((_, _, w)) => *w += weight,
                None => fields.push((id, doc, weight)),
            }
        });
    }

    fn index_section(&mut self, id: u32, heading: Option<&str>, body: &str) {
        // The section's own heading. Its name-like chunks are skipped: template slots in failure
        // headings (`'<namespace>/<name>'`) are not words anyone searches for.
        let from = self.index.heading_terms.len() as u32;
        let phrase_start = self.index.phrase_words.len() as u32;
        if let Some(heading) = heading {
            for chunk in tokenize::phrase_chunks(heading) {
                let (terms, words) = self.chunk(chunk);
                self.push_phrase_words(words);
                if !tokenize::is_placeholder_chunk(chunk) {
                    let terms = &self.memo.terms[terms.0 as usize..terms.1 as usize];
                    self.index.heading_terms.extend_from_slice(terms);
                }
            }
            let weight = if is_field_heading(heading) {
                W_FIELD_HEADING
            } else {
                W_HEADING
            };
            for &t in &self.index.heading_terms[from as usize..] {
                bump(&mut self.counts, &mut self.touched, t, 0, tenths(weight));
            }
        }
        self.index.sections[id as usize].heading_terms =
            from..self.index.heading_terms.len() as u32;
        // Parent headings give context ("Helm releases" above "Enabling drift detection"); the
        // `# Title` is a document field already.
        let mut parent = self.index.sections[id as usize].parent;
        while let Some(p) = parent {
            let sec = &self.index.sections[p as usize];
            parent = sec.parent;
            if sec.level > 1 {
                let range = sec.heading_terms.clone();
                for &t in &self.index.heading_terms[range.start as usize..range.end as usize] {
                    bump(
                        &mut self.counts,
                        &mut self.touched,
                        t,
                        0,
                        tenths(W_PARENT_HEADING),
                    );
                }
            }
        }

        let mut length = 0u32;
        for chunk in tokenize::phrase_chunks(body) {
            let (terms, words) = self.chunk(chunk);
            for &t in &self.memo.terms[terms.0 as usize..terms.1 as usize] {
                bump(&mut self.counts, &mut self.touched, t, 1, 0);
                length += 1;
            }
            self.push_phrase_words(words);
        }
        self.index.sections[id as usize].phrase =
            phrase_start..self.index.phrase_words.len() as u32;
        for t in self.touched.drain(..) {
            let (body, boost) = std::mem::take(&mut self.counts[t as usize]);
            let posting = Posting {
                section: id,
                body: body.min(u32::from(u16::MAX)) as u16,
                boost: boost.min(u32::from(u16::MAX)) as u16,
            };
            self.pending.push((t, posting));
        }
        self.lengths.push(length);
    }

    /// A chunk's term ids and phrase words (ranges into the memo), tokenized on first sight.
    fn chunk(&mut self, chunk: &str) -> ChunkRanges {
        let (id, new) = self.memo.chunks.intern(chunk);
        if !new {
            return self.memo.ranges[id as usize];
        }
        let (index, counts, terms) = (&mut self.index, &mut self.counts, &mut self.memo.terms);
        let first_term = terms.len() as u32;
        for raw in tokenize::raw_tokens(chunk) {
            tokenize::for_each_raw_term(raw, &mut self.scratch, &mut |term| {
                terms.push(intern(index, counts, term));
            });
        }
        let first_word = self.memo.words.len() as u32;
        let words = &mut self.memo.words;
        tokenize::for_each_chunk_word(chunk, &mut self.scratch, &mut |word| {
            words.push(tokenize::phrase_hash(&word));
        });
        let found = (
            (first_term, self.memo.terms.len() as u32),
            (first_word, self.memo.words.len() as u32),
        );
        self.memo.ranges.push(found);
        found
    }

    /// Append a chunk's phrase words (a range of `memo.words`) to the section being indexed.
    fn push_phrase_words(&mut self, (from, to): (u32, u32)) {
        for &word in &self.memo.words[from as usize..to as usize] {
            // Consecutive placeholders count once, as in `tokenize::for_each_phrase_word`.
            if word == 0 && self.index.phrase_words.last() == Some(&0) {
                continue;
            }
            self.index.phrase_words.push(word);
        }
    }

    fn finish(mut self, sources: Vec<Source>) -> Index {
        for (doc, source) in self.index.docs.iter_mut().zip(sources) {
            doc.id = source.id;
            doc.origin = source.origin;
            doc.text = source.text;
        }
        let total: u64 = self.lengths.iter().map(|&l| u64::from(l)).sum();
        let average = (total as f32 / self.lengths.len().max(1) as f32).max(1.0);
        for (section, &length) in self.index.sections.iter_mut().zip(&self.lengths) {
            section.inv_norm = 1.0 / (1.0 - B + B * length as f32 / average);
        }
        let terms = self.index.terms.len();
        (self.index.offsets, self.index.postings) = group_by_term(&self.pending, terms);
        let fields: Vec<(u32, (u32, f32))> = self
            .pending_fields
            .iter()
            .map(|&(term, doc, weight)| (term, (doc, weight)))
            .collect();
        (self.index.field_offsets, self.index.doc_fields) = group_by_term(&fields, terms);
        // The index lives as long as the server: give back what the estimates over-reserved.
        self.index.terms.shrink_to_fit();
        self.index.phrase_words.shrink_to_fit();
        self.index.heading_terms.shrink_to_fit();
        self.index
    }
}

/// `(term, item)` pairs grouped by term, as CSR: term `t`'s items are
/// `items[offsets[t]..offsets[t + 1]]`, in their original order (a stable counting sort: one
/// pass to count, one to place; no per-term allocation).
fn group_by_term<T: Copy + Default>(pairs: &[(u32, T)], terms: usize) -> (Vec<u32>, Vec<T>) {
    let mut offsets = vec![0u32; terms + 1];
    for &(t, _) in pairs {
        offsets[t as usize + 1] += 1;
    }
    for t in 0..terms {
        offsets[t + 1] += offsets[t];
    }
    let mut next = offsets.clone();
    let mut items = vec![T::default(); pairs.len()];
    for &(t, item) in pairs {
        items[next[t as usize] as usize] = item;
        next[t as usize] += 1;
    }
    (offsets, items)
}

/// The id of a term, adding it to the vocabulary on first sight.
fn intern(index: &mut Index, counts: &mut Vec<(u32, u32)>, term: &str) -> u32 {
    let (id, new) = index.terms.intern(term);
    if new {
        counts.push((0, 0));
    }
    id
}

/// Count one occurrence of `term` in the section being indexed.
fn bump(counts: &mut [(u32, u32)], touched: &mut Vec<u32>, term: u32, body: u32, boost: u32) {
    if body == 0 && boost == 0 {
        return;
    }
    let count = &mut counts[term as usize];
    if *count == (0, 0) {
        touched.push(term);
    }
    count.0 += body;
    count.1 += boost;
}

fn tenths(weight: f32) -> u32 {
    (weight * 10.0).round() as u32
}

/// A heading that is one code span naming a field: ``### `spec.install.remediation.retries` ``.
fn is_field_heading(heading: &str) -> bool {
    let inner = heading.strip_prefix('`').and_then(|h| h.strip_suffix('`'));
    inner.is_some_and(|f| !f.is_empty() && !f.contains(['`', ' ']) && f.contains('.'))
}

/// `Using `dependsOn`` → `Using dependsOn`.
fn display_heading(text: &str) -> String {
    text.replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str, text: &str) -> Source {
        Source {
            id: id.to_string(),
            text: text.to_string(),
            origin: Origin::Embedded,
        }
    }

    fn fixture() -> Index {
        Index::build(vec![
            source(
                "kinds/helmrelease",
                "---\ntitle: HelmRelease\nkind: HelmRelease\napiVersion: helm.toolkit.fluxcd.io/v2\nkeywords: [hr, helm]\n---\n\
                 # HelmRelease\nA HelmRelease installs a Helm chart.\n\
                 ## Spec fields\n\
                 ### `spec.install.remediation.retries`\nHow many times install is retried before giving up.\n\
                 ### `spec.driftDetection.mode`\nSet to enabled to correct drift in the cluster.\n\
                 ## Common failures\n\
                 ### `install retries exhausted`\nThe chart failed to install more than retries times.\n",
            ),
            source(
                "kinds/kustomization",
                "---\ntitle: Kustomization\nkind: Kustomization\n---\n# Kustomization\nApplies manifests.\n\
                 ## Spec fields\n### `spec.dependsOn`\nOther Kustomizations that must be ready first.\n\
                 ## Common failures\n### `dependency '<namespace>/<name>' is not ready`\nA dependency is not ready yet: wait.\n\
                 ```yaml\n# a comment, not a heading\ninterval: 10m\n```\n",
            ),
            source(
                "guides/drift-detection",
                "---\ntitle: Drift detection\n---\n# Drift detection\nHow Flux finds and corrects drift.\n\
                 ## Helm releases\nEnable drift detection for a helm release with spec.driftDetection.\n",
            ),
        ])
    }

    fn top(index: &Index, query: &str) -> Vec<String> {
        index
            .search(query)
            .hits
            .iter()
            .take(3)
            .map(|h| index.path(h.section).join(" › "))
            .collect()
    }

    /// The best section for `query` has this path.
    #[track_caller]
    fn assert_top(index: &Index, query: &str, expected: &str) {
        let got = top(index, query);
        assert_eq!(
            got.first().map(String::as_str),
            Some(expected),
            "query {query:?}: {got:?}"
        );
    }

    #[test]
    fn sections_follow_headings_and_skip_code() {
        let index = fixture();
        let k = &index.docs[1];
        let headings: Vec<&str> = k
            .sections
            .clone()
            .map(|s| index.sections[s as usize].heading.as_str())
            .collect();
        assert_eq!(
            headings,
            vec![
                "Kustomization",
                "Spec fields",
                "spec.dependsOn",
                "Common failures",
                "dependency '<namespace>/<name>' is not ready"
            ]
        );
        let last = &index.sections[k.sections.end as usize - 1];
        assert!(k.text[last.body_start..last.subtree_end].contains("interval: 10m"));
        let fields = k.sections.start + 1;
        let s = &index.sections[fields as usize];
        assert!(k.text[s.body_start..s.subtree_end].contains("spec.dependsOn"));
        assert!(!k.text[s.body_start..s.subtree_end].contains("Common failures"));
    }

    #[test]
    fn paths_name_document_and_headings() {
        let index = fixture();
        assert_top(
            &index,
            "spec.install.remediation.retries",
            "HelmRelease › Spec fields › spec.install.remediation.retries",
        );
    }

    #[test]
    fn field_parts_find_the_field() {
        let index = fixture();
        assert_top(
            &index,
            "remediation retries",
            "HelmRelease › Spec fields › spec.install.remediation.retries",
        );
        assert_top(
            &index,
            "dependsOn",
            "Kustomization › Spec fields › spec.dependsOn",
        );
    }

    #[test]
    fn pasted_messages_match_their_failure_section() {
        let index = fixture();
        assert_top(
            &index,
            "dependency 'flux-system/infra' is not ready",
            "Kustomization › Common failures › dependency '<namespace>/<name>' is not ready",
        );
        assert_top(
            &index,
            "install retries exhausted",
            "HelmRelease › Common failures › install retries exhausted",
        );
    }

    #[test]
    fn kind_names_rank_their_document_first() {
        let index = fixture();
        assert_top(&index, "HelmRelease", "HelmRelease");
        assert_top(&index, "kustomization", "Kustomization");
        assert_eq!(
            top(&index, "hr")[0],
            "HelmRelease",
            "keywords are searchable"
        );
    }

    #[test]
    fn a_heading_holding_every_query_word_wins_over_repetition() {
        let index = Index::build(vec![source(
            "kinds/kustomization",
            "---\ntitle: Kustomization\n---\n# Kustomization\nApplies manifests from a source.\n\
             ## Related commands\nflux get kustomization; flux reconcile kustomization; \
             flux suspend kustomization; flux resume kustomization\n",
        )]);
        assert_top(&index, "Kustomization", "Kustomization");
        assert_top(
            &index,
            "related commands",
            "Kustomization › Related commands",
        );
    }

    #[test]
    fn questions_rank_the_answering_document() {
        let index = fixture();
        assert_eq!(
            top(
                &index,
                "how do I enable drift detection for a helm release?"
            )[0],
            "Drift detection › Helm releases"
        );
    }

    #[test]
    fn misspellings_are_corrected_and_unknown_words_reported() {
        let index = fixture();
        let ranking = index.search("Kustomizaton zzzzqqq");
        assert_eq!(
            ranking.corrected,
            vec![("Kustomizaton".to_string(), "kustomization".to_string())]
        );
        assert_eq!(ranking.unknown, vec!["zzzzqqq".to_string()]);
        assert_eq!(index.path(ranking.hits[0].section), vec!["Kustomization"]);
    }

    #[test]
    fn unknown_words_are_reported_as_typed_and_pasted_names_are_not() {
        let index = fixture();
        // Names, numbers and quoted values differ per cluster: their absence says nothing.
        let ranking = index.search(
            "ensure Zzqq-Thing helm 'my-release' podinfo@6.5.0 kustomization-2291 zzqq-thing",
        );
        assert_eq!(ranking.unknown, vec!["ensure", "Zzqq-Thing"]);
        assert_eq!(index.search("6f2c1a").unknown, Vec::<String>::new());
    }

    #[test]
    fn stop_words_alone_match_nothing() {
        let index = fixture();
        let ranking = index.search("how do I do it?");
        assert!(ranking.hits.is_empty());
        assert!(ranking.unknown.is_empty());
        assert_eq!(ranking.terms, 0);
    }

    #[test]
    fn equal_scores_keep_corpus_order() {
        let index = Index::build(vec![
            source("b", "# Same\nword\n"),
            source("a", "# Same\nword\n"),
        ]);
        let hits = index.search("word").hits;
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].score, hits[1].score);
        assert_eq!(index.doc_of(hits[0].section).id, "b");
    }

    #[test]
    fn text_without_headings_is_one_section() {
        let index = Index::build(vec![source(
            "local/x/notes",
            "plain notes about sops age keys\n",
        )]);
        assert_eq!(index.docs[0].title, "notes");
        assert_eq!(
            index.path(index.search("age keys").hits[0].section),
            vec!["notes"]
        );
    }

    #[test]
    fn an_empty_title_falls_back_to_the_file_name() {
        let index = Index::build(vec![
            source("local/x/empty-heading", "# \nsome notes\n"),
            source("local/x/empty-title", "---\ntitle: \"\"\n---\nmore notes\n"),
        ]);
        assert_eq!(index.docs[0].title, "empty-heading");
        assert_eq!(index.docs[1].title, "empty-title");
    }

    #[test]
    fn long_pasted_queries_are_clipped_at_a_char_boundary() {
        let long = "é".repeat(MAX_QUERY_BYTES);
        let clipped = clip_query(&long);
        assert!(clipped.len() <= MAX_QUERY_BYTES && clipped.len() > MAX_QUERY_BYTES - 2);
        // The message at the top of a long paste still finds its section.
        let index = fixture();
        let paste = format!(
            "install retries exhausted\n{}",
            "Normal  Progressing  12s  pod/x-7d9f ok\n".repeat(500)
        );
        let ranking = index.search(&paste);
        assert!(
            ranking.corrected.is_empty(),
            "no spelling correction in a long paste"
        );
        assert_eq!(
            index.path(ranking.hits[0].section).join(" › "),
            "HelmRelease › Common failures › install retries exhausted"
        );
    }

    #[test]
    fn line_ranges_are_the_lines_of_the_file() {
        let mut sources = crate::docs::corpus::embedded().unwrap();
        sources.push(source("local/x/plain", "no heading\n\nat all\n\n\n"));
        sources.push(source("local/x/crlf", "# A\r\nx\r\n## B\r\ny\r\n"));
        let index = Index::build(sources);
        for s in 0..index.sections.len() as u32 {
            let sec = &index.sections[s as usize];
            let text = &index.doc_of(s).text;
            let line = |offset: usize| 1 + text[..offset].matches('\n').count() as u32;
            let last = sec.start + text[sec.start..sec.subtree_end].trim_end().len();
            assert_eq!(
                index.lines(s),
                (line(sec.start), line(last).max(line(sec.start))),
                "{}",
                index.path(s).join(" › ")
            );
        }
    }

    #[test]
    fn slips_are_told_from_other_words() {
        // Slips: a letter dropped, added or swapped inside the word.
        for (typed, meant) in [
            ("kustomizaton", "kustomization"),
            ("helmrelas", "helmreleas"),
            ("sourcref", "sourceref"),
            ("reconcill", "reconcil"),
            ("kustomzaton", "kustomization"),
        ] {
            let d = bounded_distance(typed, meant, 2).unwrap();
            assert!(!is_other_word(typed, meant, d), "{typed} → {meant}");
        }
        // Other words: another ending, a longer word cut short, another last letter, two
        // edits early in the word.
        for (typed, other) in [
            ("autoscaler", "autoscal"),
            ("configured", "configur"),
            ("replicaset", "replicas"),
            ("spark", "spars"),
            ("terminat", "terminal"),
            ("injection", "inspection"),
            ("compaction", "companion"),
        ] {
            let d = bounded_distance(typed, other, 2).unwrap();
            assert!(is_other_word(typed, other, d), "{typed} → {other}");
        }
    }

    #[test]
    fn spelling_variants_and_identifiers_are_not_corrections() {
        let index = Index::build(vec![source(
            "guides/x",
            "# X\nThe cache is initialised and the replicas analysed.\n",
        )]);
        let ranking = index.search("initialized analyzed ReplicaSet");
        assert!(ranking.corrected.is_empty(), "{:?}", ranking.corrected);
        assert_eq!(ranking.unknown, vec!["ReplicaSet"]);
        // `initialis`, `analys`; ReplicaSet's pieces are not in the text.
        assert_eq!(ranking.wanted.len(), 2, "{:?}", ranking.wanted);
        // A typo next to a real word is still corrected.
        let ranking = index.search("initalised");
        assert_eq!(
            ranking.corrected,
            vec![("initalised".to_string(), "initialis".to_string())]
        );
    }

    #[test]
    fn strength_is_the_share_of_the_query_the_best_document_holds() {
        let index = fixture();
        let strength = |q: &str| {
            let r = index.search(q);
            index.strength(&r, r.hits[0].section)
        };
        assert_eq!(strength("install retries exhausted"), 1.0);
        // `zzqqxwv` is in no document: it counts twice, at the idf of an unseen term.
        let r = index.search("retries zzqqxwv");
        let retries = r.wanted[0].1;
        let expected = retries / (retries + 2.0 * index.unseen_idf());
        assert!((index.strength(&r, r.hits[0].section) - expected).abs() < 1e-6);
        // A word only another document holds counts once.
        let r = index.search("retries finds");
        let hit = r.hits[0].section;
        assert_eq!(index.doc_of(hit).id, "kinds/helmrelease");
        let (retries, finds) = (r.wanted[0].1, r.wanted[1].1);
        assert!((index.strength(&r, hit) - retries / (retries + finds)).abs() < 1e-6);
    }

    #[test]
    fn edit_distance_is_bounded() {
        assert_eq!(bounded_distance("helm", "hlem", 1), Some(1));
        assert_eq!(
            bounded_distance("kustomizaton", "kustomization", 1),
            Some(1)
        );
        assert_eq!(bounded_distance("abcdef", "uvwxyz", 2), None);
    }
}
