//! What `diff_kubernetes_manifest` shows: an object as it is and as a server-side apply would
//! leave it, both reduced to what a person changes (no `managedFields`, `status`,
//! resourceVersion, uid, timestamps or last-applied copies), Secret values masked so that only
//! "changed" shows, rendered as YAML and compared line by line into a unified diff.
//! Compiled only into the `mutations` build.

use serde_json::{Map, Value};

use super::objects::yaml;

/// Metadata the API server sets or bumps on every write: never a change someone made.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
];

/// Annotations that copy the whole object (and with it a Secret's data, in clear).
const FULL_COPY_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kapp.k14s.io/original",
    "banzaicloud.com/last-applied",
];

/// Lines of context around each change.
pub const CONTEXT_LINES: usize = 3;
/// Above this many cells (old lines × new lines, after the common head and tail) the
/// comparison gives up on a minimal diff and shows the middle as replaced.
const MAX_CELLS: usize = 4_000_000;

/// `obj` without what the server sets (and without `status`, which an apply does not write).
pub fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in SERVER_METADATA {
                meta.remove(*k);
            }
            let empty = meta
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
                .map(|a| {
                    for k in FULL_COPY_ANNOTATIONS {
                        a.remove(*k);
                    }
                    a.is_empty()
                });
            if empty == Some(true) {
                meta.remove("annotations");
            }
        }
    }
    o
}

/// Masks the values of a Secret seen twice (as it is, as it would be): a value equal on both
/// sides reads `<masked: N bytes>` on both; one that differs reads its size on each side and
/// `changed` on the new one, so the diff shows which keys change and nothing of their values.
pub fn mask_secret_pair(old: &mut Value, new: &mut Value) {
    let is_secret = |v: &Value| v["kind"] == "Secret" && v["apiVersion"] == "v1";
    if !is_secret(old) && !is_secret(new) {
        return;
    }
    for field in ["data", "stringData"] {
        let old_map = old
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let new_map = new
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let size = |v: &Value| {
            let s = v.as_str().unwrap_or_default();
            if field == "data" {
                decoded_len(s)
            } else {
                s.len()
            }
        };
        if let Some(m) = old.get_mut(field).and_then(Value::as_object_mut) {
            for v in m.values_mut() {
                *v = Value::String(format!("<masked: {} bytes>", size(v)));
            }
        }
        if let Some(m) = new.get_mut(field).and_then(Value::as_object_mut) {
            mask_new(m, &old_map, &new_map, &size);
        }
    }
}

fn mask_new(
    target: &mut Map<String, Value>,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    size: &dyn Fn(&Value) -> usize,
) {
    for (k, v) in target.iter_mut() {
        let same = old.get(k) == new.get(k);
        *v = Value::String(if same {
            format!("<masked: {} bytes>", size(v))
        } else {
            format!("<masked: {} bytes, changed>", size(v))
        });
    }
}

/// The length of what a padded base64 text decodes to, without decoding it.
fn decoded_len(s: &str) -> usize {
    let s = s.trim_end();
    let pad = s.bytes().rev().take_while(|&b| b == b'=').count();
    (s.len() / 4 * 3 + (s.len() % 4).saturating_sub(1)).saturating_sub(pad)
}

/// An object as YAML for comparing: the reader-first key order of the other tools' answers.
pub fn render(obj: &Value) -> String {
    yaml::document(obj, yaml::Layout::SpecFirst)
}

/// One step of an edit script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// A unified diff of `old` and `new` (`--- old_name`, `+++ new_name`, hunks with
/// [`CONTEXT_LINES`] of context); empty when the texts are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let script = edit_script(&a, &b);
    // Walk the script, keeping each line's number on both sides.
    let mut lines: Vec<(Op, usize, usize)> = Vec::with_capacity(script.len());
    let (mut i, mut j) = (0, 0);
    for op in script {
        lines.push((op, i, j));
        match op {
            Op::Same => {
                i += 1;
                j += 1;
            }
            Op::Removed => i += 1,
            Op::Added => j += 1,
        }
    }
    let changed: Vec<usize> = (0..lines.len())
        .filter(|&k| lines[k].0 != Op::Same)
        .collect();
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT_LINES);
        let mut end = changed[k];
        // Join changes whose contexts touch.
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * CONTEXT_LINES + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + CONTEXT_LINES + 1).min(lines.len());
        let hunk = &lines[start..end];
        let old_count = hunk.iter().filter(|l| l.0 != Op::Added).count();
        let new_count = hunk.iter().filter(|l| l.0 != Op::Removed).count();
        let (old_start, new_start) = (hunk[0].1, hunk[0].2);
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old_start, old_count),
            range(new_start, new_count)
        ));
        for (op, i, j) in hunk {
            match op {
                Op::Same => out.push_str(&format!(" {}\n", a[*i])),
                Op::Removed => out.push_str(&format!("-{}\n", a[*i])),
                Op::Added => out.push_str(&format!("+{}\n", b[*j])),
            }
        }
        k += 1;
    }
    out
}

/// `start,count` as diff writes it (1-based; an empty range names the line before it).
fn range(start: usize, count: usize) -> String {
    match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        n => format!("{},{n}", start + 1),
    }
}

/// The shortest edit script from `a` to `b` (longest common subsequence), after taking off
/// the common head and tail, which is where most of an object's lines are.
fn edit_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops = vec![Op::Same; head];
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        ops.extend(std::iter::repeat_n(Op::Removed, am.len()));
        ops.extend(std::iter::repeat_n(Op::Added, bm.len()));
    } else {
        ops.extend(lcs_script(am, bm));
    }
    ops.extend(std::iter::repeat_n(Op::Same, tail));
    ops
}

fn lcs_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    // lengths[i][j]: the LCS of a[i..] and b[j..], row-major in one vector.
    let width = m + 1;
    let mut lengths = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[i * width + j] = if a[i] == b[j] {
                lengths[(i + 1) * width + j + 1] + 1
            } else {
                lengths[(i + 1) * width + j].max(lengths[i * width + j + 1])
            };
        }
    }
    let mut ops = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
            ops.push(Op::Removed);
            i += 1;
        } else {
            ops.push(Op::Added);
            j += 1;
        }
    }
    ops.extend(std::iter::repeat_n(Op::Removed, n - i));
    ops.extend(std::iter::repeat_n(Op::Added, m - j));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn a_change_in_the_middle_gets_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified(old, new, "live", "after apply"),
            "--- live\n+++ after apply\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn distant_changes_make_two_hunks_and_near_ones_one() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("2\n", "two\n").replace("19\n", "nineteen\n");
        let d = unified(&old, &new, "a", "b");
        assert_eq!(d.matches("@@ ").count(), 2, "{d}");
        assert!(d.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n"), "{d}");
        let near = old.replace("5\n", "five\n").replace("9\n", "nine\n");
        assert_eq!(unified(&old, &near, "a", "b").matches("@@ ").count(), 1);
    }

    #[test]
    fn additions_and_removals_at_the_ends() {
        assert_eq!(
            unified("a\n", "a\nb\n", "x", "y"),
            "--- x\n+++ y\n@@ -1 +1,2 @@\n a\n+b\n"
        );
        assert_eq!(
            unified("a\nb\n", "b\n", "x", "y"),
            "--- x\n+++ y\n@@ -1,2 +1 @@\n-a\n b\n"
        );
        assert_eq!(
            unified("", "a\n", "x", "y"),
            "--- x\n+++ y\n@@ -0,0 +1 @@\n+a\n"
        );
    }

    /// Applying the diff's edit script to the old lines gives the new ones, for random edits.
    #[test]
    fn edit_scripts_turn_old_into_new() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let a: Vec<String> = (0..next() % 12).map(|_| (next() % 4).to_string()).collect();
            let b: Vec<String> = (0..next() % 12).map(|_| (next() % 4).to_string()).collect();
            let (ar, br): (Vec<&str>, Vec<&str>) = (
                a.iter().map(String::as_str).collect(),
                b.iter().map(String::as_str).collect(),
            );
            let script = edit_script(&ar, &br);
            let (mut i, mut j, mut rebuilt) = (0, 0, Vec::new());
            for op in script {
                match op {
                    Op::Same => {
                        assert_eq!(ar[i], br[j]);
                        rebuilt.push(ar[i]);
                        i += 1;
                        j += 1;
                    }
                    Op::Removed => i += 1,
                    Op::Added => {
                        rebuilt.push(br[j]);
                        j += 1;
                    }
                }
            }
            assert_eq!((i, j), (ar.len(), br.len()));
            assert_eq!(rebuilt, br);
        }
    }

    #[test]
    fn server_fields_and_status_are_not_compared() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "5", "managedFields": [],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"k": "v"}, "status": {"x": 1}});
        assert_eq!(
            comparable(&obj),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
                   "data": {"k": "v"}})
        );
    }

    #[test]
    fn secrets_show_which_keys_change_and_no_value() {
        let mut old = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"same": "c2FtZQ==", "password": "b2xkcGFzcw=="}});
        let mut new = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"same": "c2FtZQ==", "password": "bmV3cGFzc3dvcmQ=", "added": "eA=="}});
        mask_secret_pair(&mut old, &mut new);
        assert_eq!(
            old["data"],
            json!({"same": "<masked: 4 bytes>", "password": "<masked: 7 bytes>"})
        );
        assert_eq!(
            new["data"],
            json!({"same": "<masked: 4 bytes>", "password": "<masked: 11 bytes, changed>",
                   "added": "<masked: 1 bytes, changed>"})
        );
        let text = unified(&render(&old), &render(&new), "live", "after");
        assert!(!text.contains("b2xk") && !text.contains("bmV3"), "{text}");
        assert!(
            text.contains("+  password: '<masked: 11 bytes, changed>'"),
            "{text}"
        );
    }
}
