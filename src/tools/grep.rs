//! The `grep` argument of `get_kubernetes_events` and `get_kubernetes_logs`: a
//! case-insensitive plain substring, or a regular expression in a subset of RE2's syntax (the
//! engine upstream's tools use), written here rather than taken from a crate (the regex crate
//! and its automata would be the largest dependency of the binary for one argument).
//!
//! A pattern without any of `\ . + * ? ( ) | [ ] { } ^ $` is a substring. Anything else is
//! compiled to a small program and run by a Pike VM (a Thompson NFA simulation: every
//! position of the text advances every live state at once), so a match costs at most the
//! text's length times the program's size: no pattern an agent sends can make a call slow by
//! backtracking, and the program is capped at [`MAX_PROGRAM`] instructions.
//!
//! Supported: literals and escaped metacharacters; `.` (any character but a line break);
//! classes `[a-z0-9_]`, `[^...]` with `\d \w \s` inside; `\d \D \w \W \s \S`; `\b \B`; `^` and
//! `$` (start and end of the text matched); groups `( )` and `(?: )`; `|`; `* + ?`, `{n}`,
//! `{n,}`, `{n,m}` and their lazy forms (the same here: only whether a match exists counts);
//! `(?i)` (every match is case-insensitive anyway); escapes `\t \n \r \f \v \xHH \x{H..}`.
//! Anything else (other flags, `\p{..}`, backreferences, POSIX classes) is an error that
//! says what is not supported, never a silent mismatch.
//!
//! Logs are filtered by entry, not by line ([`entries`]): a line that starts a record and the
//! lines that continue it (a Go panic's goroutine stack, a Java trace, an indented block), so
//! a grep that finds `panic` keeps the stack that says where.

use std::fmt;

/// The most instructions a compiled pattern may have (a `{1000}` on a class is about 1 000).
const MAX_PROGRAM: usize = 10_000;
/// The largest count RE2 accepts in `{n,m}`.
const MAX_REPEAT: u32 = 1_000;

/// A compiled `grep` pattern.
#[derive(Debug, Clone)]
pub struct Grep {
    pattern: String,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// The pattern, case-folded.
    Substring(String),
    Regex(Program),
}

/// Why a pattern is not a valid regular expression, with the character offset where the
/// parser stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub pattern: String,
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "grep {:?} is not a valid regular expression: {} at character {}; escape special \
             characters with \\ to match them literally",
            self.pattern, self.reason, self.offset
        )
    }
}

impl std::error::Error for Error {}

impl Grep {
    /// Compiles `pattern`: a substring when it has no metacharacter, else a regular
    /// expression.
    pub fn new(pattern: &str) -> Result<Grep, Error> {
        let matcher = if pattern.chars().any(is_meta) {
            let node = Parser::new(pattern).parse()?;
            Matcher::Regex(compile(&node).map_err(|reason| Error {
                pattern: pattern.to_string(),
                offset: 0,
                reason,
            })?)
        } else {
            Matcher::Substring(pattern.chars().map(fold).collect())
        };
        Ok(Grep {
            pattern: pattern.to_string(),
            matcher,
        })
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `text` contains a match, ignoring case.
    pub fn is_match(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::Substring(needle) => {
                if needle.is_empty() {
                    return true;
                }
                if text.is_ascii() && needle.is_ascii() {
                    return contains_ascii_folded(text.as_bytes(), needle.as_bytes());
                }
                let folded: String = text.chars().map(fold).collect();
                folded.contains(needle.as_str())
            }
            Matcher::Regex(program) => program.search(text),
        }
    }
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
    )
}

/// The case-folded form of a character (its lowercase when that is one character).
fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// The uppercase of a character when it is one character.
fn upper(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// `needle` (already lowercase ASCII) in `hay`, ASCII case ignored, without allocating.
fn contains_ascii_folded(hay: &[u8], needle: &[u8]) -> bool {
    if needle.len() > hay.len() {
        return false;
    }
    let first = needle[0];
    (0..=hay.len() - needle.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()]
                .iter()
                .zip(needle)
                .all(|(h, n)| h.to_ascii_lowercase() == *n)
    })
}

// ---- log entries ---------------------------------------------------------------------------

/// The entries of a log text, in order: each line that starts a record together with the
/// lines that continue it (see [`continues`]), every line with its own line break.
pub fn entries(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at > start && !continues(line.trim_end_matches(['\n', '\r'])) {
            out.push(&text[start..at]);
            start = at;
        }
        at += line.len();
    }
    if at > start {
        out.push(&text[start..at]);
    }
    out
}

/// Whether a log line continues the entry before it rather than starting one: blank or
/// indented lines (Go's `\t/path/file.go:42 +0x1d`, Java's `\tat ...`, Python's `  File`),
/// and the unindented lines of a Go stack: `goroutine 1 [running]:`, `[signal SIGSEGV ...]`,
/// `created by ...`, Java's `Caused by: ...`, and frames such as `main.main()` or
/// `net/http.(*conn).serve.func1()` (a dotted name up to its argument list, nothing after).
pub fn continues(line: &str) -> bool {
    if line.trim().is_empty() || line.starts_with([' ', '\t']) {
        return true;
    }
    if (line.starts_with("goroutine ") && line.ends_with(':'))
        || line.starts_with("[signal ")
        || line.starts_with("created by ")
        || line.starts_with("Caused by: ")
    {
        return true;
    }
    match line.split_once('(') {
        Some((head, _)) => {
            !head.is_empty()
                && (head.contains('.') || head == "panic")
                && !head.contains(char::is_whitespace)
                && line.ends_with(')')
        }
        None => false,
    }
}

// ---- parsing ----------------------------------------------------------------------------

/// A set of characters: ranges, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Class {
    fn raw_contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
    }

    /// Membership ignoring case: a positive class matches when the character or one of its
    /// case variants is in it, a negated class when none is (RE2's `(?i)[^a]` refuses `A`).
    fn matches(&self, c: char) -> bool {
        let any = self.raw_contains(c) || self.raw_contains(fold(c)) || self.raw_contains(upper(c));
        any != self.negated
    }

    fn digit() -> Vec<(char, char)> {
        vec![('0', '9')]
    }
    fn word() -> Vec<(char, char)> {
        vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]
    }
    fn space() -> Vec<(char, char)> {
        vec![('\t', '\n'), ('\x0c', '\r'), (' ', ' ')]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Empty,
    /// A character, case-folded.
    Char(char),
    /// `.`: anything but `\n`.
    Any,
    Class(Class),
    Start,
    End,
    WordBoundary(bool),
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

struct Parser<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(pattern: &'a str) -> Parser<'a> {
        Parser {
            pattern,
            chars: pattern.chars().collect(),
            pos: 0,
        }
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error {
            pattern: self.pattern.to_string(),
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn parse(mut self) -> Result<Node, Error> {
        // `(?i)` up front changes nothing: every match ignores case.
        if self.chars.starts_with(&['(', '?', 'i', ')']) {
            self.pos = 4;
        }
        let node = self.alternation(0)?;
        if self.pos < self.chars.len() {
            // Only a `)` without its `(` stops an alternation before the end.
            return Err(self.error("unexpected )"));
        }
        Ok(node)
    }

    fn alternation(&mut self, depth: usize) -> Result<Node, Error> {
        if depth > 100 {
            return Err(self.error("groups nested too deeply"));
        }
        let mut branches = vec![self.concat(depth)?];
        while self.eat('|') {
            branches.push(self.concat(depth)?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alternate(branches)
        })
    }

    fn concat(&mut self, depth: usize) -> Result<Node, Error> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom(depth)?;
            let atom = self.quantified(atom)?;
            items.push(atom);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.remove(0),
            _ => Node::Concat(items),
        })
    }

    fn atom(&mut self, depth: usize) -> Result<Node, Error> {
        let Some(c) = self.peek() else {
            return Err(self.error("unexpected end"));
        };
        self.pos += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                if self.eat('?') && !self.eat(':') {
                    return Err(self.error("only (?:...) groups and a leading (?i) are supported"));
                }
                let inner = self.alternation(depth + 1)?;
                if !self.eat(')') {
                    return Err(self.error("missing closing )"));
                }
                inner
            }
            '[' => Node::Class(self.class()?),
            '\\' => self.escape(false)?,
            '*' | '+' | '?' => return Err(self.error(format!("nothing to repeat before {c}"))),
            '{' if self.repeat_ahead() => {
                return Err(self.error("nothing to repeat before {"));
            }
            c => Node::Char(fold(c)),
        })
    }

    /// Whether a `{` just read starts a valid `{n}`/`{n,}`/`{n,m}` (RE2 reads any other `{`
    /// as a literal).
    fn repeat_ahead(&self) -> bool {
        let rest: String = self.chars[self.pos..].iter().take(24).collect();
        let Some(end) = rest.find('}') else {
            return false;
        };
        let body = &rest[..end];
        let (a, b) = body.split_once(',').unwrap_or((body, "0"));
        !a.is_empty()
            && a.bytes().all(|x| x.is_ascii_digit())
            && b.bytes().all(|x| x.is_ascii_digit())
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, Error> {
        let mut node = atom;
        let mut repeated = false;
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    self.pos += 1;
                    if !self.repeat_ahead() {
                        // A literal `{`: step back and let the caller read it as an atom.
                        self.pos -= 1;
                        return Ok(node);
                    }
                    let (min, max) = self.counts()?;
                    self.pos -= 1; // the shared `pos += 1` below steps over the `}`
                    (min, max)
                }
                _ => return Ok(node),
            };
            self.pos += 1;
            // A lazy quantifier finds the same matches: whether one exists is all we ask.
            self.eat('?');
            if matches!(node, Node::Start | Node::End | Node::WordBoundary(_)) {
                // Repeating an assertion changes nothing (RE2 accepts `^*`).
                continue;
            }
            if repeated {
                return Err(self.error("a repetition cannot be repeated directly; use a group"));
            }
            repeated = true;
            node = Node::Repeat {
                node: Box::new(node),
                min,
                max,
            };
        }
    }

    /// `n}`, `n,}` or `n,m}` after a `{`, leaving `pos` after the `}`.
    fn counts(&mut self) -> Result<(u32, Option<u32>), Error> {
        let number = |p: &mut Parser| -> Result<Option<u32>, Error> {
            let start = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            if start == p.pos {
                return Ok(None);
            }
            let text: String = p.chars[start..p.pos].iter().collect();
            match text.parse::<u32>() {
                Ok(n) if n <= MAX_REPEAT => Ok(Some(n)),
                _ => Err(p.error(format!("repeat count above {MAX_REPEAT}"))),
            }
        };
        let min = number(self)?.unwrap_or(0);
        let max = if self.eat(',') {
            number(self)?
        } else {
            Some(min)
        };
        if !self.eat('}') {
            return Err(self.error("missing } in a repeat count"));
        }
        if max.is_some_and(|m| m < min) {
            return Err(self.error("repeat count {n,m} with m below n"));
        }
        Ok((min, max))
    }

    /// After a `\`: an escaped character, a class shorthand or an assertion.
    fn escape(&mut self, in_class: bool) -> Result<Node, Error> {
        let Some(c) = self.peek() else {
            return Err(self.error("trailing \\"));
        };
        self.pos += 1;
        let class = |ranges, negated| Node::Class(Class { ranges, negated });
        Ok(match c {
            'd' => class(Class::digit(), false),
            'D' => class(Class::digit(), true),
            'w' => class(Class::word(), false),
            'W' => class(Class::word(), true),
            's' => class(Class::space(), false),
            'S' => class(Class::space(), true),
            'b' if !in_class => Node::WordBoundary(true),
            'B' if !in_class => Node::WordBoundary(false),
            't' => Node::Char('\t'),
            'n' => Node::Char('\n'),
            'r' => Node::Char('\r'),
            'f' => Node::Char('\x0c'),
            'v' => Node::Char('\x0b'),
            'a' => Node::Char('\x07'),
            'x' => Node::Char(fold(self.hex()?)),
            c if c.is_ascii_punctuation() => Node::Char(c),
            c => {
                self.pos -= 1;
                return Err(self.error(format!("unsupported escape \\{c}")));
            }
        })
    }

    /// `HH` or `{H...}` after `\x`.
    fn hex(&mut self) -> Result<char, Error> {
        let digits: String = if self.eat('{') {
            let start = self.pos;
            while self.peek().is_some_and(|c| c != '}') {
                self.pos += 1;
            }
            let d = self.chars[start..self.pos].iter().collect();
            if !self.eat('}') {
                return Err(self.error("missing } in \\x{...}"));
            }
            d
        } else {
            let d: String = self.chars[self.pos..].iter().take(2).collect();
            self.pos += d.chars().count();
            d
        };
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| !digits.is_empty())
            .and_then(char::from_u32)
            .ok_or_else(|| self.error(format!("bad hexadecimal escape \\x{digits}")))
    }

    /// After a `[`: the class up to its `]`.
    fn class(&mut self) -> Result<Class, Error> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("missing closing ]"));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '[' && self.chars.get(self.pos + 1) == Some(&':') {
                return Err(self.error("POSIX classes like [:alpha:] are not supported"));
            }
            self.pos += 1;
            let lo = if c == '\\' {
                match self.escape(true)? {
                    Node::Char(ch) => ch,
                    Node::Class(inner) if !inner.negated => {
                        ranges.extend(inner.ranges);
                        continue;
                    }
                    _ => {
                        return Err(self.error("a negated shorthand (\\D, \\W, \\S) inside [...]"));
                    }
                }
            } else {
                c
            };
            // `a-z`; a `-` first, last or after a range is itself.
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let Some(h) = self.peek() else {
                    return Err(self.error("missing closing ]"));
                };
                self.pos += 1;
                let hi = if h == '\\' {
                    match self.escape(true)? {
                        Node::Char(ch) => ch,
                        _ => return Err(self.error("a class shorthand cannot end a range")),
                    }
                } else {
                    h
                };
                if hi < lo {
                    return Err(self.error(format!("bad range {lo}-{hi}")));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Class { ranges, negated })
    }
}

// ---- the program and the VM ---------------------------------------------------------------

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(Class),
    Start,
    End,
    WordBoundary(bool),
    /// Try both; the order does not matter for "is there a match".
    Split(usize, usize),
    Jump(usize),
    Match,
}

#[derive(Debug, Clone)]
struct Program {
    insts: Vec<Inst>,
}

fn compile(node: &Node) -> Result<Program, String> {
    let mut insts = Vec::new();
    emit(node, &mut insts)?;
    insts.push(Inst::Match);
    Ok(Program { insts })
}

fn push(insts: &mut Vec<Inst>, inst: Inst) -> Result<usize, String> {
    if insts.len() >= MAX_PROGRAM {
        return Err(format!(
            "the pattern is too large (more than {MAX_PROGRAM} steps once repeats are expanded)"
        ));
    }
    insts.push(inst);
    Ok(insts.len() - 1)
}

fn emit(node: &Node, insts: &mut Vec<Inst>) -> Result<(), String> {
    match node {
        Node::Empty => {}
        Node::Char(c) => {
            push(insts, Inst::Char(*c))?;
        }
        Node::Any => {
            push(insts, Inst::Any)?;
        }
        Node::Class(c) => {
            push(insts, Inst::Class(c.clone()))?;
        }
        Node::Start => {
            push(insts, Inst::Start)?;
        }
        Node::End => {
            push(insts, Inst::End)?;
        }
        Node::WordBoundary(b) => {
            push(insts, Inst::WordBoundary(*b))?;
        }
        Node::Concat(items) => {
            for i in items {
                emit(i, insts)?;
            }
        }
        Node::Alternate(branches) => {
            // split L1, next; L1: branch; jmp end; next: split ... ; last branch; end:
            let mut jumps = Vec::new();
            for (i, b) in branches.iter().enumerate() {
                if i + 1 < branches.len() {
                    let split = push(insts, Inst::Split(0, 0))?;
                    emit(b, insts)?;
                    jumps.push(push(insts, Inst::Jump(0))?);
                    let next = insts.len();
                    insts[split] = Inst::Split(split + 1, next);
                } else {
                    emit(b, insts)?;
                }
            }
            let end = insts.len();
            for j in jumps {
                insts[j] = Inst::Jump(end);
            }
        }
        Node::Repeat { node, min, max } => {
            for _ in 0..*min {
                emit(node, insts)?;
            }
            match max {
                None => {
                    // L: split body, end; body; jmp L; end:
                    let split = push(insts, Inst::Split(0, 0))?;
                    emit(node, insts)?;
                    push(insts, Inst::Jump(split))?;
                    let end = insts.len();
                    insts[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    // (max - min) optional copies, each able to skip to the end.
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(push(insts, Inst::Split(0, 0))?);
                        emit(node, insts)?;
                    }
                    let end = insts.len();
                    for s in splits {
                        insts[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    Ok(())
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A sparse set of program counters: O(1) insert, membership and clear.
struct Threads {
    dense: Vec<usize>,
    sparse: Vec<usize>,
}

impl Threads {
    fn new(size: usize) -> Threads {
        Threads {
            dense: Vec::with_capacity(size),
            sparse: vec![0; size],
        }
    }

    fn contains(&self, pc: usize) -> bool {
        let i = self.sparse[pc];
        i < self.dense.len() && self.dense[i] == pc
    }

    fn insert(&mut self, pc: usize) {
        self.sparse[pc] = self.dense.len();
        self.dense.push(pc);
    }

    fn clear(&mut self) {
        self.dense.clear();
    }
}

impl Program {
    /// Adds `pc` and every state reachable from it without reading a character, given the
    /// characters before and after the current position.
    fn add(
        &self,
        threads: &mut Threads,
        stack: &mut Vec<usize>,
        pc: usize,
        prev: Option<char>,
        next: Option<char>,
    ) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if threads.contains(pc) {
                continue;
            }
            threads.insert(pc);
            match &self.insts[pc] {
                Inst::Jump(to) => stack.push(*to),
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Start if prev.is_none() => stack.push(pc + 1),
                Inst::End if next.is_none() => stack.push(pc + 1),
                Inst::WordBoundary(want) if (is_word(prev) != is_word(next)) == *want => {
                    stack.push(pc + 1)
                }
                _ => {}
            }
        }
    }

    /// Whether the program matches anywhere in `text`.
    fn search(&self, text: &str) -> bool {
        let n = self.insts.len();
        let (mut current, mut next) = (Threads::new(n), Threads::new(n));
        let mut stack = Vec::new();
        let mut prev: Option<char> = None;
        let mut chars = text.chars().peekable();
        loop {
            let c = chars.next();
            // A new attempt starts at every position (an unanchored search).
            self.add(&mut current, &mut stack, 0, prev, c);
            if current
                .dense
                .iter()
                .any(|&pc| matches!(self.insts[pc], Inst::Match))
            {
                return true;
            }
            let Some(c) = c else {
                return false;
            };
            let folded = fold(c);
            let after = chars.peek().copied();
            next.clear();
            for i in 0..current.dense.len() {
                let pc = current.dense[i];
                let advance = match &self.insts[pc] {
                    Inst::Char(want) => *want == folded,
                    Inst::Any => c != '\n',
                    Inst::Class(class) => class.matches(c),
                    _ => false,
                };
                if advance {
                    self.add(&mut next, &mut stack, pc + 1, Some(c), after);
                }
            }
            std::mem::swap(&mut current, &mut next);
            prev = Some(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Grep::new(pattern)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_match(text)
    }

    #[test]
    fn plain_patterns_are_case_insensitive_substrings() {
        assert!(m("timeout", "payment provider TIMEOUT"));
        assert!(m("Ünïcode", "some ÜNÏCODE text"));
        assert!(!m("timeout", "time out"));
        assert!(m("", "anything"));
        assert!(m("a-b, c", "x A-B, C y"));
        assert!(!m("long needle", "short"));
    }

    #[test]
    fn regular_expressions() {
        assert!(m("error|fail", "Reconciliation FAILED"));
        assert!(!m("error|fail", "all good"));
        assert!(m("^Back-?off", "Back-off restarting"));
        assert!(m("^Back-?off", "Backoff"));
        assert!(!m("^off", "Backoff"));
        assert!(m("ready$", "not ready"));
        assert!(!m("ready$", "ready now"));
        assert!(m(r"\bv2\.4\.0\b", "couldn't find tag \"v2.4.0\""));
        assert!(!m(r"\bv2\.4\.0\b", "v2.4.01"));
        assert!(!m(r"v2\.4", "v2x4"));
        assert!(m(r"v2.4", "v2x4"), ". is any character");
        assert!(m(r"exit (code )?\d+", "container exit 137"));
        assert!(m(r"exit (code )?\d+", "exit code 1"));
        assert!(!m(r"exit (code )?\d+", "exit code"));
        assert!(m("[a-c]{3}-[0-9]{2,}", "id CAB-123"));
        assert!(!m("[a-c]{3}-[0-9]{2,}", "id CAB-1"));
        assert!(m("x{2,3}y", "xxxy"));
        assert!(!m("^x{2,3}y", "xxxxy"));
        assert!(m("[^a-z ]", "abc 1"));
        assert!(!m("[^a-z ]", "ABC def"), "case-insensitive negation");
        assert!(m(r"[\d.]+ms", "took 12.5ms"));
        assert!(m("(?i)READY", "ready"));
        assert!(m("(?:a|b)+c", "xxababc"));
        assert!(m("a.*?z", "a to z"));
        assert!(m(r"\x41\x{42}", "ab"));
        assert!(m(r"\(x\)", "f(x)"));
        assert!(m("a{,", "a{,"), "a brace that starts no count is literal");
        assert!(m(r"\s\S", "a b"));
        assert!(!m(".", "\n"), ". does not match a line break");
        assert!(m("^$", ""));
        assert!(m(r"\Bx", "ax"));
        assert!(!m(r"\Bx", "x"));
    }

    #[test]
    fn bad_patterns_say_what_and_where() {
        let err = |p: &str| Grep::new(p).expect_err(p).to_string();
        assert_eq!(
            err("failed (x"),
            "grep \"failed (x\" is not a valid regular expression: missing closing ) at \
             character 9; escape special characters with \\ to match them literally"
        );
        assert!(err("a)").contains("unexpected )"));
        assert!(err("*a").contains("nothing to repeat"));
        assert!(err("[abc").contains("missing closing ]"));
        assert!(err(r"\pL").contains("unsupported escape \\p"));
        assert!(err("(?s).").contains("only (?:...) groups"));
        assert!(err("[z-a]").contains("bad range z-a"));
        assert!(err("a{5,2}").contains("m below n"));
        assert!(err("a{1001}").contains("repeat count above 1000"));
        assert!(err("[[:alpha:]]").contains("POSIX"));
        assert!(err("a**").contains("cannot be repeated"));
        assert!(err(r"x\").contains("trailing"));
        assert!(err("(.{1000}){1000}").contains("too large"));
    }

    /// The classic pattern that makes a backtracking engine take exponential time is linear
    /// here: `(a*)*b` on 30 000 a's finishes (a backtracker would not in our lifetime).
    #[test]
    fn no_pattern_backtracks() {
        let text = "a".repeat(30_000);
        assert!(!m("(a*)*b", &text));
        assert!(!m("(a|aa)+$x", &text));
        assert!(m("(a|aa)+$", &text));
    }

    #[test]
    fn a_go_panic_is_one_entry_with_its_stack() {
        let log = "\
{\"level\":\"info\",\"msg\":\"request started\"}
2026/11/21 05:12:00 http: panic serving 10.244.1.1:41234: runtime error: invalid memory address
goroutine 8123 [running]:
net/http.(*conn).serve.func1()
\t/usr/local/go/src/net/http/server.go:1947 +0xbe
panic({0x1a2b3c0?, 0x2d4e5f0?})
\t/usr/local/go/src/runtime/panic.go:785 +0x132
github.com/stefanprodan/podinfo/pkg/api.(*Server).panicHandler(0xc000, {0x1f5c, 0xc0})
\t/workspace/pkg/api/panic.go:12 +0x1d
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3285 +0x4b4

{\"level\":\"info\",\"msg\":\"request finished\"}
panic: boom
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a]

goroutine 1 [running]:
main.main()
\t/app/main.go:12 +0x1d
plain line (with parentheses) at the end
";
        let e = entries(log);
        assert_eq!(e.len(), 5, "{e:#?}");
        assert!(e[0].starts_with("{") && e[0].ends_with("started\"}\n"));
        assert!(e[1].starts_with("2026/11/21 05:12:00 http: panic serving"));
        assert!(e[1].ends_with("server.go:3285 +0x4b4\n\n"), "{}", e[1]);
        assert_eq!(e[1].lines().count(), 11);
        assert!(e[3].starts_with("panic: boom\n[signal"));
        assert!(e[3].ends_with("main.go:12 +0x1d\n"));
        assert_eq!(e[4], "plain line (with parentheses) at the end\n");
        assert_eq!(e.concat(), log, "nothing lost, nothing reordered");
        assert_eq!(entries(""), Vec::<&str>::new());
        assert_eq!(entries("\tno start\nx"), ["\tno start\n", "x"]);
    }
}
