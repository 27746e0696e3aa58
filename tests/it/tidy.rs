//! The layer rules of ARCHITECTURE.md as a test that reads the source (rust-analyzer's `tidy`
//! is the model), so a broken rule fails CI instead of drifting.
//!
//! The checks work on tokens, not lines: comments are dropped and string literals are kept
//! apart from code, so a doc comment that mentions `unwrap()` or a message that says
//! "crate::kube" is not code. Paths are resolved against the module tree the compiler would
//! build (`mod` declarations, `#[path]`, inline modules, `crate`/`super`/`self`, use-tree
//! braces), so `use super::{cluster, get_x}` and `crate::{kube::Client}` are seen for what
//! they name. The rules:
//!
//! - **layers** (all code, tests included): `src/mcp/` names none of `kube`, `tools`, `docs`;
//!   `src/kube/`, `src/docs/` and `src/snapshot/` name neither `mcp` nor `tools`; the crate-level leaves
//!   `src/sync.rs`, `src/text.rs`, `src/random.rs` and `src/http/` name no layer (every layer
//!   may use them, so one that named a layer would be a way around the rules; `http/` also
//!   serves the test API server). A `#[path]` include of another layer's file counts as
//!   naming it.
//! - **stdout** (non-test code): only the transport writes stdout while serving. The allowed
//!   places are exactly [`STDOUT_WRITERS`]: all of `src/mcp/stdio.rs`, `fn print` of
//!   `src/cli.rs` (the output of `docs`, `version` and help) and `fn run` of `src/check.rs`
//!   (the report of `check`). Elsewhere: no `print!`/`println!`, no `stdout`, no literal
//!   `/dev/stdout`, `/dev/fd/1` or `/proc/self/fd/1`.
//! - **tool files** (all code): a tool file `src/tools/<tool>.rs` (one that defines
//!   `const TOOL`) names no other tool file; shared code lives in a module both use.
//! - **panics** (non-test code): no `unwrap`, `expect`, `unwrap_err` or `expect_err`, as a
//!   method call or as a path (`.map(Option::unwrap)`).
//!
//! Test code is an item under `#[cfg(...)]` whose predicate implies `test` (`test`,
//! `all(test, ..)`; not `not(test)`, not `any(test, feature = ..)`), the rest of a block after
//! `#![cfg(test)]`, and every file a `mod` declaration inside test code loads
//! (`#[cfg(test)] #[path = "client_tests.rs"] mod scripted_tests;`). `tests/` is not scanned.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

// ---- tokens ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Punct,
    /// A string literal of any flavour (`"..."`, `r#"..."#`, `b"..."`, `c"..."`); the text is
    /// its content, escapes left as written.
    Str,
    Char,
    Number,
    Lifetime,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    text: String,
    line: usize,
}

impl Token {
    fn ident(&self) -> Option<&str> {
        (self.kind == Kind::Ident).then_some(self.text.as_str())
    }

    fn is_ident(&self, name: &str) -> bool {
        self.ident() == Some(name)
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct && self.text.len() == c.len_utf8() && self.text.starts_with(c)
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Split Rust source into tokens. Comments (line, block, nested, doc) are dropped; every
/// literal is one token, so nothing inside a string or a char literal can look like code.
fn lex(src: &str) -> Result<Vec<Token>, String> {
    let c: Vec<char> = src.chars().collect();
    let at = |j: usize| c.get(j).copied();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let push =
        |out: &mut Vec<Token>, kind, text: String, line| out.push(Token { kind, text, line });
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == Some('*') {
            let start = line;
            let mut depth = 0;
            loop {
                match (at(i), at(i + 1)) {
                    (Some('/'), Some('*')) => {
                        depth += 1;
                        i += 2;
                    }
                    (Some('*'), Some('/')) => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    }
                    (Some(x), _) => {
                        if x == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    (None, _) => return Err(format!("line {start}: unterminated block comment")),
                }
            }
        } else if ch == '"' {
            let start = line;
            let (text, end) = quoted(&c, i + 1, '"', &mut line)
                .ok_or_else(|| format!("line {start}: unterminated string"))?;
            push(&mut out, Kind::Str, text, start);
            i = end;
        } else if ch == '\'' {
            if at(i + 1) == Some('\\') || (at(i + 2) == Some('\'') && at(i + 1) != Some('\n')) {
                let start = line;
                let (text, end) = quoted(&c, i + 1, '\'', &mut line)
                    .ok_or_else(|| format!("line {start}: unterminated char literal"))?;
                push(&mut out, Kind::Char, text, start);
                i = end;
            } else if at(i + 1).is_some_and(is_ident_start) {
                let mut j = i + 1;
                while at(j).is_some_and(is_ident_continue) {
                    j += 1;
                }
                push(&mut out, Kind::Lifetime, c[i..j].iter().collect(), line);
                i = j;
            } else {
                push(&mut out, Kind::Punct, "'".into(), line);
                i += 1;
            }
        } else if is_ident_start(ch) {
            let mut j = i;
            while at(j).is_some_and(is_ident_continue) {
                j += 1;
            }
            let word: String = c[i..j].iter().collect();
            let raw_string_follows = || {
                let mut k = j;
                while at(k) == Some('#') {
                    k += 1;
                }
                at(k) == Some('"')
            };
            match (word.as_str(), at(j)) {
                ("r" | "br" | "cr", Some('"' | '#')) if raw_string_follows() => {
                    let start = line;
                    let (text, end) = raw_string(&c, j, &mut line)
                        .ok_or_else(|| format!("line {start}: unterminated raw string"))?;
                    push(&mut out, Kind::Str, text, start);
                    i = end;
                }
                ("b" | "c", Some('"')) => {
                    let start = line;
                    let (text, end) = quoted(&c, j + 1, '"', &mut line)
                        .ok_or_else(|| format!("line {start}: unterminated string"))?;
                    push(&mut out, Kind::Str, text, start);
                    i = end;
                }
                ("b", Some('\'')) => {
                    let start = line;
                    let (text, end) = quoted(&c, j + 1, '\'', &mut line)
                        .ok_or_else(|| format!("line {start}: unterminated byte literal"))?;
                    push(&mut out, Kind::Char, text, start);
                    i = end;
                }
                // A raw identifier: `r#match` is the identifier `match`.
                ("r", Some('#')) if at(j + 1).is_some_and(is_ident_start) => {
                    let mut k = j + 1;
                    while at(k).is_some_and(is_ident_continue) {
                        k += 1;
                    }
                    push(&mut out, Kind::Ident, c[j + 1..k].iter().collect(), line);
                    i = k;
                }
                _ => {
                    push(&mut out, Kind::Ident, word, line);
                    i = j;
                }
            }
        } else if ch.is_ascii_digit() {
            let mut j = i + 1;
            let hex = ch == '0' && matches!(at(j), Some('x' | 'X'));
            loop {
                match at(j) {
                    Some(d) if is_ident_continue(d) => j += 1,
                    // `1.5` but not `1..2` or `1.max(2)`.
                    Some('.') if at(j + 1).is_some_and(|d| d.is_ascii_digit()) => j += 1,
                    Some('+' | '-') if !hex && matches!(c[j - 1], 'e' | 'E') => j += 1,
                    _ => break,
                }
            }
            push(&mut out, Kind::Number, c[i..j].iter().collect(), line);
            i = j;
        } else {
            push(&mut out, Kind::Punct, ch.to_string(), line);
            i += 1;
        }
    }
    Ok(out)
}

/// The content of a literal that ends at an unescaped `close`, from `from` (just past the
/// opening quote); returns it and the index past the closing quote.
fn quoted(c: &[char], from: usize, close: char, line: &mut usize) -> Option<(String, usize)> {
    let mut i = from;
    while i < c.len() {
        match c[i] {
            '\\' => {
                if c.get(i + 1) == Some(&'\n') {
                    *line += 1;
                }
                i += 2;
            }
            '\n' => {
                *line += 1;
                i += 1;
            }
            x if x == close => return Some((c[from..i].iter().collect(), i + 1)),
            _ => i += 1,
        }
    }
    None
}

/// A raw string from its hashes (`from` is just past the `r`): `#"..."#`, `"..."`.
fn raw_string(c: &[char], from: usize, line: &mut usize) -> Option<(String, usize)> {
    let mut i = from;
    let mut hashes = 0;
    while c.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if c.get(i) != Some(&'"') {
        return None;
    }
    let start = i + 1;
    i = start;
    while i < c.len() {
        if c[i] == '\n' {
            *line += 1;
        }
        if c[i] == '"' && (1..=hashes).all(|h| c.get(i + h) == Some(&'#')) {
            return Some((c[start..i].iter().collect(), i + 1 + hashes));
        }
        i += 1;
    }
    None
}

// ---- structure: brackets, attributes, test code, scopes ------------------------------

/// The index of the bracket that closes the one at `open`.
fn matching(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.kind != Kind::Punct {
            continue;
        }
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index of the bracket that opens the one closing at `close`.
fn matching_back(tokens: &[Token], close: usize) -> Option<usize> {
    let mut depth = 0i32;
    for i in (0..=close).rev() {
        let t = &tokens[i];
        if t.kind != Kind::Punct {
            continue;
        }
        match t.text.as_str() {
            ")" | "]" | "}" => depth += 1,
            "(" | "[" | "{" => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// An attribute `#[...]` or `#![...]` starting at `i`: (inner, first and last token of its
/// content, index past it).
fn attribute(tokens: &[Token], i: usize) -> Option<(bool, usize, usize, usize)> {
    if !tokens.get(i)?.is_punct('#') {
        return None;
    }
    let inner = tokens.get(i + 1)?.is_punct('!');
    let open = if inner { i + 2 } else { i + 1 };
    if !tokens.get(open)?.is_punct('[') {
        return None;
    }
    let close = matching(tokens, open)?;
    Some((inner, open + 1, close, close + 1))
}

/// Whether a `cfg` predicate (tokens between its parentheses) holds only when testing.
fn implies_test(p: &[Token]) -> bool {
    // Split a list `a, b(c, d), e` at its top-level commas.
    fn items(p: &[Token]) -> Vec<&[Token]> {
        let mut out = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (i, t) in p.iter().enumerate() {
            match t.text.as_str() {
                "(" if t.kind == Kind::Punct => depth += 1,
                ")" if t.kind == Kind::Punct => depth -= 1,
                "," if t.kind == Kind::Punct && depth == 0 => {
                    out.push(&p[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < p.len() {
            out.push(&p[start..]);
        }
        out
    }
    match p {
        [t] => t.is_ident("test"),
        [op, open, inside @ .., close] if open.is_punct('(') && close.is_punct(')') => {
            match op.ident() {
                Some("all") => items(inside).into_iter().any(implies_test),
                Some("any") => {
                    let list = items(inside);
                    !list.is_empty() && list.into_iter().all(implies_test)
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Which tokens are test code: items under a `cfg` that implies `test`, and the rest of a
/// block after `#![cfg(test)]`.
fn test_code(tokens: &[Token]) -> Vec<bool> {
    let mut test = vec![false; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        let Some((inner, from, to, next)) = attribute(tokens, i) else {
            i += 1;
            continue;
        };
        let content = &tokens[from..to];
        let is_test = content.len() >= 3
            && content[0].is_ident("cfg")
            && content[1].is_punct('(')
            && content[content.len() - 1].is_punct(')')
            && implies_test(&content[2..content.len() - 1]);
        if !is_test {
            i = next;
            continue;
        }
        let end = if inner {
            block_end(tokens, i)
        } else {
            item_end(tokens, next)
        };
        for flag in &mut test[i..end.min(tokens.len())] {
            *flag = true;
        }
        i = next;
    }
    test
}

/// Past the end of the item starting at `i` (after one attribute; more may follow): its `;`,
/// the `}` of its body, the `,` that ends a list element, or the end of the enclosing block.
fn item_end(tokens: &[Token], mut i: usize) -> usize {
    while let Some((_, _, _, next)) = attribute(tokens, i) {
        i = next;
    }
    let mut depth = 0i32;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.kind == Kind::Punct {
            match t.text.as_str() {
                "(" | "[" => depth += 1,
                ")" | "]" => depth -= 1,
                "{" => {
                    if depth == 0 {
                        return matching(tokens, i).map_or(tokens.len(), |m| m + 1);
                    }
                    depth += 1;
                }
                "}" => depth -= 1,
                ";" | "," if depth == 0 => return i + 1,
                _ => {}
            }
            if depth < 0 {
                return i;
            }
        }
        i += 1;
    }
    tokens.len()
}

/// Past the end of the block that contains token `i` (the file's end at the top level).
fn block_end(tokens: &[Token], i: usize) -> usize {
    let mut depth = 0i32;
    for (j, t) in tokens.iter().enumerate().skip(i) {
        match t.text.as_str() {
            "{" if t.kind == Kind::Punct => depth += 1,
            "}" if t.kind == Kind::Punct => {
                depth -= 1;
                if depth < 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Where each token sits: the inline modules around it and the innermost named `fn`.
#[derive(Debug, Clone, Default)]
struct Scope {
    modules: Vec<String>,
    function: Option<String>,
}

fn scopes(tokens: &[Token]) -> Vec<Scope> {
    enum Pending {
        None,
        Fn(String),
        Mod(String),
    }
    struct Frame {
        function: Option<String>,
        module: Option<String>,
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending = Pending::None;
    // `(` and `[` depth: a `;` inside `[u8; 4]` in a signature does not end a declaration.
    let mut nesting = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        out.push(Scope {
            modules: stack.iter().filter_map(|f| f.module.clone()).collect(),
            function: stack.iter().rev().find_map(|f| f.function.clone()),
        });
        let next_ident = || tokens.get(i + 1).and_then(Token::ident).map(str::to_string);
        match (t.kind, t.text.as_str()) {
            (Kind::Ident, "fn") => {
                if let Some(name) = next_ident() {
                    pending = Pending::Fn(name);
                }
            }
            (Kind::Ident, "mod") => {
                if let Some(name) = next_ident() {
                    pending = Pending::Mod(name);
                }
            }
            (Kind::Punct, "(" | "[") => nesting += 1,
            (Kind::Punct, ")" | "]") => nesting -= 1,
            (Kind::Punct, ";") if nesting == 0 => pending = Pending::None,
            (Kind::Punct, "{") => {
                let (function, module) = match std::mem::replace(&mut pending, Pending::None) {
                    Pending::Fn(name) => (Some(name), None),
                    Pending::Mod(name) => (None, Some(name)),
                    Pending::None => (None, None),
                };
                stack.push(Frame { function, module });
            }
            (Kind::Punct, "}") => {
                stack.pop();
            }
            _ => {}
        }
    }
    out
}

// ---- paths ----------------------------------------------------------------------------

/// A path as written, with the token it starts at. A leading `::` is kept as the segment `::`.
#[derive(Debug)]
struct WrittenPath {
    at: usize,
    segments: Vec<String>,
}

fn is_path_sep(tokens: &[Token], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| t.is_punct(':'))
        && tokens.get(i + 1).is_some_and(|t| t.is_punct(':'))
}

/// Every path in the tokens, use-tree braces expanded: `use a::{b, c::{self, d}}` gives
/// `a::b`, `a::c`, `a::c::d`.
fn paths(tokens: &[Token]) -> Vec<WrittenPath> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let continues = i >= 2 && is_path_sep(tokens, i - 2);
        let after_segment =
            i >= 1 && (tokens[i - 1].kind == Kind::Ident || tokens[i - 1].is_punct('>'));
        let starts = match tokens[i].kind {
            Kind::Ident => !continues,
            // `::name` at the start of a path: an extern crate.
            Kind::Punct => is_path_sep(tokens, i) && !after_segment,
            _ => false,
        };
        if !starts {
            i += 1;
            continue;
        }
        let mut prefix = Vec::new();
        if tokens[i].kind == Kind::Punct {
            prefix.push("::".to_string());
            i += 2;
        }
        i = path_tree(tokens, i, prefix, &mut out);
    }
    out
}

/// One path (or use tree) from `i`, after `prefix`; returns the index past it.
fn path_tree(
    tokens: &[Token],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<WrittenPath>,
) -> usize {
    let at = i;
    loop {
        match tokens.get(i) {
            Some(t) if t.kind == Kind::Ident => {
                prefix.push(t.text.clone());
                i += 1;
            }
            Some(t) if t.is_punct('{') => {
                // A use-tree group: each comma-separated item continues the prefix.
                let end = matching(tokens, i).unwrap_or(tokens.len());
                let mut j = i + 1;
                while j < end {
                    if tokens[j].is_punct(',') {
                        j += 1;
                        continue;
                    }
                    let before = j;
                    j = path_tree(tokens, j, prefix.clone(), out);
                    // Skip what a use tree may hold besides paths: `as name`, `*`.
                    while j < end && !tokens[j].is_punct(',') {
                        j += 1;
                    }
                    if j == before {
                        j += 1;
                    }
                }
                return end + 1;
            }
            _ => break,
        }
        if is_path_sep(tokens, i) {
            i += 2;
        } else {
            break;
        }
    }
    // `self` in a use group names the group's prefix itself.
    if prefix.last().is_some_and(|s| s == "self") && prefix.len() > 1 {
        prefix.pop();
    }
    if !prefix.is_empty() {
        out.push(WrittenPath {
            at,
            segments: prefix,
        });
    }
    i.max(at + 1)
}

/// The crate module a path names, from the module `from` it is written in; `None` for paths
/// that leave the crate (std, other crates) or name a local item.
fn resolve(
    from: &[String],
    segments: &[String],
    crate_name: &str,
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let (first, rest) = segments.split_first()?;
    match first.as_str() {
        "crate" => Some(rest.to_vec()),
        "::" => match rest.split_first() {
            Some((name, rest)) if name == crate_name => Some(rest.to_vec()),
            _ => None,
        },
        name if name == crate_name => Some(rest.to_vec()),
        "self" => Some([from, rest].concat()),
        "super" => {
            let mut base = from.to_vec();
            base.pop()?;
            let mut rest = rest;
            while let Some((s, tail)) = rest.split_first() {
                if s != "super" {
                    break;
                }
                base.pop()?;
                rest = tail;
            }
            Some([base.as_slice(), rest].concat())
        }
        "Self" => None,
        // A relative path names a module only through a child of the module it is in.
        name => {
            let child = [from, &[name.to_string()]].concat();
            modules.contains(&child).then(|| [from, segments].concat())
        }
    }
}

// ---- the module tree ------------------------------------------------------------------

/// One source file, lexed and placed in the module tree.
struct SourceFile {
    path: String,
    tokens: Vec<Token>,
    scopes: Vec<Scope>,
    test: Vec<bool>,
    /// The module the file is, e.g. `["kube", "client"]`.
    module: Vec<String>,
    /// Loaded by a `mod` inside test code.
    test_file: bool,
    /// `mod` declarations that load a file: (token index, file path, through `#[path]`).
    loads: Vec<(usize, String, bool)>,
}

impl SourceFile {
    fn is_test(&self, i: usize) -> bool {
        self.test_file || self.test[i]
    }

    /// The module token `i` is in: the file's, then any inline modules around it.
    fn module_at(&self, i: usize) -> Vec<String> {
        [self.module.as_slice(), &self.scopes[i].modules].concat()
    }
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A file's module path from where it lies (for files no `mod` reaches).
fn module_of_path(path: &str) -> Vec<String> {
    let inner = path
        .strip_prefix("src/")
        .unwrap_or(path)
        .trim_end_matches(".rs");
    let mut segments: Vec<String> = inner.split('/').map(str::to_string).collect();
    if matches!(
        segments.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segments.pop();
    }
    segments
}

/// The `mod NAME;` declarations of a file with the file each loads.
fn declarations(
    path: &str,
    tokens: &[Token],
    scopes: &[Scope],
    mod_rs: bool,
    tree: &BTreeMap<String, String>,
) -> Vec<(usize, String, bool)> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        let (Some(name), Some(semi)) =
            (tokens.get(i + 1).and_then(Token::ident), tokens.get(i + 2))
        else {
            continue;
        };
        if !tokens[i].is_ident("mod") || !semi.is_punct(';') {
            continue;
        }
        // The attributes before `mod` (and before `pub(...)`): look for `#[path = "..."]`.
        let mut j = i;
        if j > 0 && tokens[j - 1].is_punct(')') {
            while j > 0 && !tokens[j - 1].is_ident("pub") {
                j -= 1;
            }
        }
        if j > 0 && tokens[j - 1].is_ident("pub") {
            j -= 1;
        }
        let mut attr_path = None;
        while j > 0 && tokens[j - 1].is_punct(']') {
            let Some(open) = matching_back(tokens, j - 1) else {
                break;
            };
            let content = &tokens[open + 1..j - 1];
            if let [p, eq, lit] = content
                && p.is_ident("path")
                && eq.is_punct('=')
                && lit.kind == Kind::Str
            {
                attr_path = Some(lit.text.clone());
            }
            j = open.saturating_sub(if open > 0 && tokens[open - 1].is_punct('#') {
                1
            } else {
                0
            });
        }
        let dir = parent(path);
        let inline = scopes[i].modules.join("/");
        let own = if mod_rs {
            dir.to_string()
        } else {
            format!(
                "{dir}/{}",
                path.rsplit('/')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(".rs")
            )
        };
        let target = match &attr_path {
            Some(p) if inline.is_empty() => normalize(&format!("{dir}/{p}")),
            Some(p) => normalize(&format!("{own}/{inline}/{p}")),
            None => {
                let base = normalize(&format!("{own}/{inline}/{name}"));
                let flat = format!("{base}.rs");
                if tree.contains_key(&flat) {
                    flat
                } else {
                    format!("{base}/mod.rs")
                }
            }
        };
        out.push((i, target, attr_path.is_some()));
    }
    out
}

/// Lex every file and place it in the module tree, walking `mod` declarations from the crate
/// roots; files no declaration reaches keep the module their location gives them.
fn load(tree: &BTreeMap<String, String>) -> (Vec<SourceFile>, Vec<Violation>) {
    let mut problems = Vec::new();
    let mut lexed = BTreeMap::new();
    for (path, text) in tree {
        match lex(text) {
            Ok(tokens) => {
                lexed.insert(path.clone(), tokens);
            }
            Err(e) => problems.push(Violation {
                rule: Rule::Lex,
                file: path.clone(),
                line: 0,
                what: format!("cannot be read as Rust: {e}"),
            }),
        }
    }
    let mut placed: BTreeMap<String, (Vec<String>, bool, bool)> = BTreeMap::new();
    let mut queue: Vec<(String, Vec<String>, bool, bool)> = ["src/lib.rs", "src/main.rs"]
        .into_iter()
        .filter(|root| lexed.contains_key(*root))
        .map(|root| (root.to_string(), Vec::new(), false, true))
        .collect();
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    while let Some((path, module, test_file, mod_rs)) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        placed.insert(path.clone(), (module, test_file, mod_rs));
        let Some(tokens) = lexed.get(&path) else {
            continue;
        };
        let scopes = scopes(tokens);
        let test = test_code(tokens);
        let (module, _, _) = placed[&path].clone();
        for (i, target, by_path) in declarations(&path, tokens, &scopes, mod_rs, tree) {
            let Some(name) = tokens.get(i + 1).and_then(Token::ident) else {
                continue;
            };
            let child = [module.as_slice(), &scopes[i].modules, &[name.to_string()]].concat();
            let child_mod_rs = by_path || target.ends_with("/mod.rs");
            queue.push((target, child, test_file || test[i], child_mod_rs));
        }
    }
    for (path, tokens) in lexed {
        let (module, test_file, mod_rs) = placed
            .get(&path)
            .cloned()
            .unwrap_or_else(|| (module_of_path(&path), false, path.ends_with("/mod.rs")));
        let scopes = scopes(&tokens);
        let test = test_code(&tokens);
        let loads = declarations(&path, &tokens, &scopes, mod_rs, tree);
        files.push(SourceFile {
            path,
            tokens,
            scopes,
            test,
            module,
            test_file,
            loads,
        });
    }
    (files, problems)
}

// ---- the rules ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    Lex,
    Layers,
    Stdout,
    ToolImports,
    Panics,
    FileReads,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    rule: Rule,
    file: String,
    line: usize,
    what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: [{:?}] {}",
            self.file, self.line, self.rule, self.what
        )
    }
}

/// Which top-level modules a module may not name, and why.
const LAYERS: &[(&str, &[&str], &str)] = &[
    (
        "mcp",
        &["kube", "tools", "docs"],
        "mcp/ knows nothing of Kubernetes, tools or docs",
    ),
    (
        "kube",
        &["mcp", "tools"],
        "kube/ knows nothing of MCP or tools",
    ),
    (
        "docs",
        &["mcp", "tools"],
        "docs/ knows nothing of MCP or tools",
    ),
    (
        "snapshot",
        &["mcp", "tools"],
        "snapshot/ knows nothing of MCP or tools",
    ),
    (
        "sync",
        &["mcp", "kube", "tools", "docs", "snapshot", "cli", "check"],
        "a crate-level leaf names no layer",
    ),
    (
        "text",
        &["mcp", "kube", "tools", "docs", "snapshot", "cli", "check"],
        "a crate-level leaf names no layer",
    ),
    (
        "random",
        &["mcp", "kube", "tools", "docs", "cli", "check"],
        "a crate-level leaf names no layer",
    ),
    (
        "http",
        &["mcp", "kube", "tools", "docs", "cli", "check"],
        "http/ names no layer: the MCP transports and the test API server build on it",
    ),
];

/// The only places that write stdout: a file (any function) or a file and a function.
const STDOUT_WRITERS: &[(&str, Option<&str>)] = &[
    ("src/mcp/stdio.rs", None),
    ("src/cli.rs", Some("print")),
    ("src/check.rs", Some("run")),
];

const PANICKING: &[&str] = &["unwrap", "expect", "unwrap_err", "expect_err"];

/// The one module that opens files for reading: typed (regular files only), bounded, and
/// never blocked by a FIFO. Everything else reads through it (ARCHITECTURE.md, invariants).
const FILE_READER: &str = "src/files.rs";

fn crate_name() -> String {
    env!("CARGO_PKG_NAME").replace('-', "_")
}

/// Check every rule on a source tree (relative path → text).
fn check(tree: &BTreeMap<String, String>) -> Vec<Violation> {
    let (files, mut out) = load(tree);
    let crate_name = crate_name();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let tool_modules: BTreeSet<String> = files
        .iter()
        .filter(|f| f.module.len() == 2 && f.module[0] == "tools" && defines_tool(&f.tokens))
        .map(|f| f.module[1].clone())
        .collect();
    for f in &files {
        let layer = f.module.first().map(String::as_str).unwrap_or("");
        let forbidden = LAYERS.iter().find(|(l, _, _)| *l == layer);
        let own_tool = (f.module.len() == 2 && tool_modules.contains(&f.module[1]))
            .then(|| f.module[1].as_str());
        let written = paths(&f.tokens);
        // `std::io::stdout`, `io::stdout`, `use std::io::{self, stdout}`: by where the path
        // starts. A field or variable called `stdout` (a child process's) is not one.
        let stdout_paths: BTreeMap<usize, String> = written
            .iter()
            .filter(|p| {
                p.segments
                    .windows(2)
                    .any(|w| w[0] == "io" && w[1] == "stdout")
            })
            .map(|p| (p.at, p.segments.join("::")))
            .collect();
        for p in written {
            let Some(named) = resolve(&f.module_at(p.at), &p.segments, &crate_name, &modules)
            else {
                continue;
            };
            let line = f.tokens[p.at].line;
            let written = p.segments.join("::").replace("::::", "::");
            if let (Some((_, banned, why)), Some(first)) = (forbidden, named.first())
                && banned.contains(&first.as_str())
            {
                out.push(Violation {
                    rule: Rule::Layers,
                    file: f.path.clone(),
                    line,
                    what: format!("names {written} ({why})"),
                });
            }
            if let (Some(own), [top, other, ..]) = (own_tool, named.as_slice())
                && top == "tools"
                && other != own
                && tool_modules.contains(other)
            {
                out.push(Violation {
                    rule: Rule::ToolImports,
                    file: f.path.clone(),
                    line,
                    what: format!("tool {own} names tool {other} ({written}); shared code goes to a module both use"),
                });
            }
        }
        // A `#[path]` include of another layer's file is that layer's code compiled here.
        if let Some((_, banned, why)) = forbidden {
            for (i, target, by_path) in &f.loads {
                let target_layer = module_of_path(target);
                if *by_path
                    && target_layer
                        .first()
                        .is_some_and(|l| banned.contains(&l.as_str()))
                {
                    out.push(Violation {
                        rule: Rule::Layers,
                        file: f.path.clone(),
                        line: f.tokens[*i].line,
                        what: format!("includes {target} with #[path] ({why})"),
                    });
                }
            }
        }
        for (i, t) in f.tokens.iter().enumerate() {
            if f.is_test(i) {
                continue;
            }
            let next = f.tokens.get(i + 1);
            let prev = i.checked_sub(1).and_then(|p| f.tokens.get(p));
            let next_is = |c: char| next.is_some_and(|n| n.is_punct(c));
            let writes_stdout = match t.kind {
                Kind::Ident if matches!(t.text.as_str(), "print" | "println") => next_is('!'),
                // A bare `stdout()` call (after `use std::io::stdout`, itself caught too).
                Kind::Ident if t.text == "stdout" && next_is('(') => {
                    !prev.is_some_and(|p| p.is_punct('.') || p.is_punct(':'))
                }
                Kind::Ident => stdout_paths.contains_key(&i),
                Kind::Str => {
                    t.text.contains("/dev/stdout")
                        || t.text.ends_with("/dev/fd/1")
                        || t.text.ends_with("/proc/self/fd/1")
                }
                _ => false,
            };
            let allowed = STDOUT_WRITERS.iter().any(|(file, function)| {
                *file == f.path
                    && function.is_none_or(|name| f.scopes[i].function.as_deref() == Some(name))
            });
            if writes_stdout && !allowed {
                let shown = match (t.kind, stdout_paths.get(&i)) {
                    (Kind::Str, _) => format!("{:?}", t.text),
                    (_, Some(path)) => path.clone(),
                    _ => t.text.clone(),
                };
                out.push(Violation {
                    rule: Rule::Stdout,
                    file: f.path.clone(),
                    line: t.line,
                    what: format!("writes stdout ({shown}); only the places in STDOUT_WRITERS may"),
                });
            }
            let panics = t.kind == Kind::Ident
                && PANICKING.contains(&t.text.as_str())
                && match prev {
                    Some(p) if p.is_punct('.') => next.is_some_and(|n| n.is_punct('(')),
                    Some(p) if p.is_punct(':') => i >= 2 && f.tokens[i - 2].is_punct(':'),
                    _ => false,
                };
            // `fs::read(`, `fs::read_to_string(`, `File::open(`, `.read(true)`, `read_link(`.
            let after_path = |name: &str| {
                i >= 3
                    && f.tokens[i - 1].is_punct(':')
                    && f.tokens[i - 2].is_punct(':')
                    && f.tokens[i - 3].is_ident(name)
            };
            let reads_file = t.kind == Kind::Ident
                && next_is('(')
                && f.path != FILE_READER
                && match t.text.as_str() {
                    "read" | "read_to_string" => {
                        after_path("fs")
                            || (t.text == "read"
                                && prev.is_some_and(|p| p.is_punct('.'))
                                && f.tokens.get(i + 2).is_some_and(|a| a.is_ident("true")))
                    }
                    "open" => after_path("File"),
                    "read_link" => true,
                    _ => false,
                };
            if reads_file {
                out.push(Violation {
                    rule: Rule::FileReads,
                    file: f.path.clone(),
                    line: t.line,
                    what: format!(
                        "reads a file itself ({}); read through crate::files (typed, bounded)",
                        t.text
                    ),
                });
            }
            if panics {
                out.push(Violation {
                    rule: Rule::Panics,
                    file: f.path.clone(),
                    line: t.line,
                    what: format!(
                        "{} outside tests; return an error that names the value instead",
                        t.text
                    ),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether a file defines the `TOOL` constant of a tool file.
fn defines_tool(tokens: &[Token]) -> bool {
    tokens
        .windows(3)
        .any(|w| w[0].is_ident("const") && w[1].is_ident("TOOL") && w[2].is_punct(':'))
}

// ---- the real tree --------------------------------------------------------------------

fn read_tree(root: &Path, dir: &Path, tree: &mut BTreeMap<String, String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            read_tree(root, &path, tree);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under the root");
            let key = relative.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{key}: {e}"));
            tree.insert(key, text);
        }
    }
}

fn real_tree() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut tree = BTreeMap::new();
    read_tree(root, &root.join("src"), &mut tree);
    tree
}

fn listing(violations: &[&Violation]) -> String {
    violations.iter().map(|v| format!("  {v}\n")).collect()
}

#[test]
fn the_source_keeps_the_layer_stdout_and_panic_rules() {
    let tree = real_tree();
    assert!(tree.len() > 30, "src/ read as {} files", tree.len());
    let all = check(&tree);
    let broken: Vec<&Violation> = all.iter().collect();
    assert!(
        broken.is_empty(),
        "the layer rules of ARCHITECTURE.md are broken:\n{}",
        listing(&broken)
    );
}

/// The scan of the real tree sees what it must: the module tree reaches the `#[path]` test
/// file, and the allowed stdout writers are found where the rule allows them.
#[test]
fn the_real_tree_is_read_as_the_compiler_reads_it() {
    let tree = real_tree();
    let (files, problems) = load(&tree);
    assert!(problems.is_empty(), "{problems:?}");
    let file = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("{p} not read"))
    };
    assert!(file("src/kube/client_tests.rs").test_file);
    assert_eq!(
        file("src/kube/client_tests.rs").module,
        ["kube", "client", "scripted_tests"]
    );
    assert!(!file("src/kube/client.rs").test_file);
    assert_eq!(
        file("src/tools/objects/lean.rs").module,
        ["tools", "objects", "lean"]
    );
    for (path, function) in STDOUT_WRITERS {
        let f = file(path);
        let writes = f.tokens.iter().enumerate().any(|(i, t)| {
            t.is_ident("stdout")
                && !f.is_test(i)
                && function.is_none_or(|n| f.scopes[i].function.as_deref() == Some(n))
        });
        assert!(
            writes,
            "{path} {function:?} no longer writes stdout: drop it from STDOUT_WRITERS"
        );
    }
}

// ---- each rule catches a planted violation ---------------------------------------------

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut tree: BTreeMap<String, String> = [
        (
            "src/lib.rs",
            "pub mod mcp;\npub mod kube;\npub mod tools;\npub mod docs;\npub mod sync;\n",
        ),
        ("src/mcp/mod.rs", "pub mod server;\n"),
        ("src/mcp/server.rs", "pub fn serve() {}\n"),
        ("src/kube/mod.rs", "pub mod client;\n"),
        ("src/kube/client.rs", "pub struct Client;\n"),
        ("src/docs/mod.rs", "pub fn search() {}\n"),
        ("src/sync.rs", "pub fn lock() {}\n"),
        (
            "src/tools/mod.rs",
            "pub mod get_a;\npub mod get_b;\npub mod shared;\n",
        ),
        (
            "src/tools/get_a.rs",
            "use super::Tool;\npub const TOOL: Tool = Tool;\n",
        ),
        (
            "src/tools/get_b.rs",
            "use super::Tool;\npub const TOOL: Tool = Tool;\n",
        ),
        ("src/tools/shared.rs", "pub fn pods() {}\n"),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect();
    for (p, t) in files {
        tree.insert(p.to_string(), t.to_string());
    }
    tree
}

fn found(files: &[(&str, &str)]) -> Vec<String> {
    check(&tree(files))
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[track_caller]
fn assert_found(files: &[(&str, &str)], expected: &[&str]) {
    let got = found(files);
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert!(g.starts_with(e), "expected {e:?}, got {g:?}\nall: {got:#?}");
    }
}

#[test]
fn the_planted_baseline_is_clean() {
    assert_found(&[], &[]);
}

#[test]
fn mcp_naming_kube_tools_or_docs_is_caught() {
    let server = "\
use crate::kube::Client;
use crate::{docs, sync::lock};
fn f() { super::super::tools::run(); }
";
    assert_found(
        &[("src/mcp/server.rs", server)],
        &[
            "src/mcp/server.rs:1: [Layers] names crate::kube::Client",
            "src/mcp/server.rs:2: [Layers] names crate::docs",
            "src/mcp/server.rs:3: [Layers] names super::super::tools::run",
        ],
    );
    // The same words in comments, strings and field names are not paths to a layer.
    let innocent = "\
//! Knows nothing of crate::kube.
/// `crate::tools::x` is not named here.
fn tools(&self) -> &str { let kube = \"crate::kube\"; self.tools; /* crate::docs */ kube }
";
    assert_found(&[("src/mcp/server.rs", innocent)], &[]);
}

#[test]
fn kube_and_docs_naming_mcp_or_tools_is_caught() {
    assert_found(
        &[
            (
                "src/kube/client.rs",
                "pub fn f() -> crate::mcp::server::X { todo!() }\n",
            ),
            ("src/docs/mod.rs", "use super::tools as t;\n"),
        ],
        &[
            "src/docs/mod.rs:1: [Layers] names super::tools",
            "src/kube/client.rs:1: [Layers] names crate::mcp::server::X",
        ],
    );
    // Test code is held to the layer rules too.
    assert_found(
        &[(
            "src/kube/client.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::tools::get_a;\n}\n",
        )],
        &["src/kube/client.rs:3: [Layers] names crate::tools::get_a"],
    );
}

#[test]
fn a_crate_level_leaf_naming_a_layer_is_caught() {
    assert_found(
        &[(
            "src/sync.rs",
            "pub fn lock() { crate::kube::client::Client; }\n",
        )],
        &["src/sync.rs:1: [Layers] names crate::kube::client::Client"],
    );
}

#[test]
fn a_path_include_of_another_layer_is_caught() {
    assert_found(
        &[(
            "src/mcp/mod.rs",
            "pub mod server;\n#[path = \"../kube/client.rs\"]\nmod client;\n",
        )],
        &["src/mcp/mod.rs:3: [Layers] includes src/kube/client.rs with #[path]"],
    );
}

#[test]
fn writing_stdout_outside_the_transport_is_caught() {
    let tool = "\
fn call() {
    println!(\"debug\");
    let _ = std::io::Write::write_all(&mut std::io::stdout(), b\"x\");
    print!(\"x\");
    let f = std::fs::File::create(\"/dev/stdout\");
    eprintln!(\"stderr is fine\");
    let child = std::process::Command::new(\"x\").stdout(Stdio::piped()); child.stdout.take();
}
use std::io::{self, stdout};
fn later() { io::stdout(); stdout(); }
";
    assert_found(
        &[("src/tools/shared.rs", tool)],
        &[
            "src/tools/shared.rs:2: [Stdout] writes stdout (println)",
            "src/tools/shared.rs:3: [Stdout] writes stdout (std::io::stdout)",
            "src/tools/shared.rs:4: [Stdout] writes stdout (print)",
            "src/tools/shared.rs:5: [Stdout] writes stdout (\"/dev/stdout\")",
            "src/tools/shared.rs:9: [Stdout] writes stdout (std::io::stdout)",
            "src/tools/shared.rs:10: [Stdout] writes stdout (io::stdout)",
            "src/tools/shared.rs:10: [Stdout] writes stdout (stdout)",
        ],
    );
    // The allowed places, precisely: all of stdio.rs, cli's `print`, check's `run`; not
    // another function of cli.rs.
    let cli = "\
fn print(text: &str) { let _ = std::io::stdout(); }
fn run() { let out = std::io::stdout(); }
#[cfg(test)]
mod tests { fn f() { println!(\"tests may\"); } }
";
    assert_found(
        &[
            ("src/lib.rs", "pub mod mcp;\npub mod cli;\n"),
            ("src/cli.rs", cli),
            ("src/mcp/mod.rs", "pub mod server;\npub mod stdio;\n"),
            (
                "src/mcp/stdio.rs",
                "fn write() { std::io::stdout(); }\nfn other() { println!(); }\n",
            ),
        ],
        &["src/cli.rs:2: [Stdout] writes stdout (std::io::stdout)"],
    );
}

#[test]
fn a_tool_file_importing_another_tool_file_is_caught() {
    assert_found(
        &[(
            "src/tools/get_a.rs",
            "use super::{Tool, get_b};\nuse super::shared::pods;\npub const TOOL: Tool = Tool;\nfn f() { crate::tools::get_b::helper(); }\n",
        )],
        &[
            "src/tools/get_a.rs:1: [ToolImports] tool get_a names tool get_b (super::get_b)",
            "src/tools/get_a.rs:4: [ToolImports] tool get_a names tool get_b (crate::tools::get_b::helper)",
        ],
    );
    // A tool may use shared modules, and mod.rs (the registry) names every tool.
    assert_found(
        &[(
            "src/tools/mod.rs",
            "pub mod get_a;\npub mod get_b;\npub mod shared;\nconst R: [Tool; 2] = [get_a::TOOL, get_b::TOOL];\n",
        )],
        &[],
    );
}

#[test]
fn unwrap_and_expect_outside_tests_are_caught() {
    let code = "\
/// Never `.unwrap()` here; \"x.expect(\" in a string is not a call either.
fn f(x: Option<u8>) -> u8 {
    let s = \".unwrap()\"; let r = r#\"a.expect(\"b\")\"#; let c = '\"';
    x.unwrap() + x.expect(\"some\") + x.unwrap_or(0)
}
fn g(v: Vec<Option<u8>>) { v.into_iter().map(Option::unwrap); }
#[cfg(test)]
mod tests { fn t() { Some(1).unwrap(); } }
fn h(r: Result<u8, u8>) -> u8 { r.unwrap_err() }
";
    assert_found(
        &[("src/tools/shared.rs", code)],
        &[
            "src/tools/shared.rs:4: [Panics] expect outside tests",
            "src/tools/shared.rs:4: [Panics] unwrap outside tests",
            "src/tools/shared.rs:6: [Panics] unwrap outside tests",
            "src/tools/shared.rs:9: [Panics] unwrap_err outside tests",
        ],
    );
}

#[test]
fn file_reads_outside_the_file_reader_are_caught() {
    let code = "\
/// `fs::read(path)` in a comment, and \"File::open(\" in a string, read nothing.
fn f(p: &Path) {
    let _ = std::fs::read(p);
    let _ = fs::read_to_string(p);
    let _ = File::open(p);
    let _ = OpenOptions::new().read(true).open(p);
    let _ = std::fs::read_link(p);
    let _ = reader.read(&mut buf);
}
#[cfg(test)]
mod tests { fn t() { let _ = std::fs::read(\"fixture\"); } }
";
    assert_found(
        &[("src/kube/config.rs", code), ("src/files.rs", code)],
        &[
            "src/kube/config.rs:3: [FileReads] reads a file itself (read)",
            "src/kube/config.rs:4: [FileReads] reads a file itself (read_to_string)",
            "src/kube/config.rs:5: [FileReads] reads a file itself (open)",
            "src/kube/config.rs:6: [FileReads] reads a file itself (read)",
            "src/kube/config.rs:7: [FileReads] reads a file itself (read_link)",
        ],
    );
}

#[test]
fn test_code_is_the_cfg_test_item_and_the_files_it_loads() {
    let client = "\
pub struct Client;
#[cfg(test)]
#[path = \"client_tests.rs\"]
mod scripted_tests;
#[cfg(all(test, unix))]
fn helper() { Some(1).expect(\"test only\"); }
#[cfg(not(test))]
fn live() { Some(1).expect(\"not a test\"); }
#[cfg(any(test, feature = \"x\"))]
fn either() { Some(1).unwrap(); }
";
    assert_found(
        &[
            ("src/kube/client.rs", client),
            ("src/kube/client_tests.rs", "fn t() { Some(1).unwrap(); }\n"),
            ("src/kube/loose.rs", "fn t() { Some(1).unwrap(); }\n"),
        ],
        &[
            "src/kube/client.rs:8: [Panics] expect outside tests",
            "src/kube/client.rs:10: [Panics] unwrap outside tests",
            // Reached by no `mod`: not compiled into tests, so checked as code.
            "src/kube/loose.rs:1: [Panics] unwrap outside tests",
        ],
    );
}

#[test]
fn the_lexer_keeps_literals_and_comments_apart_from_code() {
    let src = "\
/* outer /* nested */ still comment .unwrap() */
let a = 'x'; let b = '\\''; let c = b'\"'; fn f<'a>(x: &'a str) {}
let d = br##\"raw \"# .unwrap() \"##; let e = r#match; let n = 1.5e-3 + 0x1E-2 + 1..2;
";
    let tokens = lex(src).expect("lexes");
    let idents: Vec<&str> = tokens.iter().filter_map(Token::ident).collect();
    assert!(!idents.contains(&"unwrap"), "{idents:?}");
    assert!(idents.contains(&"match"), "raw identifier");
    let strs: Vec<&str> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Str)
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(strs, ["raw \"# .unwrap() "]);
    let chars = tokens.iter().filter(|t| t.kind == Kind::Char).count();
    assert_eq!(chars, 3);
    let lifetimes = tokens.iter().filter(|t| t.kind == Kind::Lifetime).count();
    assert_eq!(lifetimes, 2);
    let numbers: Vec<&str> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Number)
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(numbers, ["1.5e-3", "0x1E", "2", "1", "2"]);
    assert_eq!(tokens.last().map(|t| t.line), Some(3));
    assert!(lex("let s = \"open").is_err());
    assert!(lex("/* open").is_err());
}
