//! Small string helpers every layer uses: cutting at a byte budget without splitting a
//! character, and the edit distance behind "did you mean" suggestions.

/// The largest char boundary of `s` at or below `index` (`str::floor_char_boundary`, which is
/// not stable at this crate's `rust-version`).
pub fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    let mut i = index;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_char_boundary_never_splits_a_char() {
        let s = "aé🦀b"; // 1 + 2 + 4 + 1 bytes
        let got: Vec<usize> = (0..=9).map(|i| floor_char_boundary(s, i)).collect();
        assert_eq!(got, [0, 1, 1, 3, 3, 3, 3, 7, 8, 8]);
        assert_eq!(floor_char_boundary("", 5), 0);
    }

    #[test]
    fn edit_distance_counts_chars() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("héllo", "hello"), 1);
        assert_eq!(edit_distance("🦀", ""), 1);
    }
}
