//! "Did you mean": the known key or value nearest to a misspelt one, when it is near enough.
//!
//! Near means a small optimal-string-alignment distance (insertions, deletions, substitutions
//! and swaps of neighbours, ignoring case) for the word's length: 1 edit up to 4 characters,
//! 2 up to 8, 3 beyond. Ties go to the candidate listed first.

/// The candidate closest to `word`, if one is near enough to be a likely misspelling.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let allowed = match word.chars().count() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|c| (strsim::osa_distance(&lower, &c.to_lowercase()), *c))
        .filter(|&(d, _)| d <= allowed)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Serde's wording of an expected set: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
pub fn one_of(names: &[&str], none: &str) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => none.to_string(),
        [a] => a.clone(),
        [a, b] => format!("{a} or {b}"),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHS: &[&str] = &["vanilla", "ugrnn", "gru", "lstm"];

    #[test]
    fn swaps_drops_and_case_are_near() {
        assert_eq!(nearest("gur", ARCHS), Some("gru"));
        assert_eq!(nearest("GRU", ARCHS), Some("gru"));
        assert_eq!(nearest("lstmm", ARCHS), Some("lstm"));
        assert_eq!(nearest("varience", &["variance"]), Some("variance"));
        assert_eq!(
            nearest("fixed_point", &["svcca", "fixed_points"]),
            Some("fixed_points")
        );
    }

    #[test]
    fn far_words_get_no_suggestion() {
        assert_eq!(nearest("transformer", ARCHS), None);
        assert_eq!(nearest("xyz", ARCHS), None);
        assert_eq!(nearest("", ARCHS), None);
    }

    #[test]
    fn the_closest_wins_and_ties_go_to_the_first() {
        assert_eq!(nearest("unit", &["units", "unis"]), Some("units"));
        assert_eq!(nearest("sead", &["seed", "seeds"]), Some("seed"));
    }

    #[test]
    fn expected_sets_read_as_serde_writes_them() {
        assert_eq!(one_of(&[], "there are no fields"), "there are no fields");
        assert_eq!(one_of(&["a"], ""), "`a`");
        assert_eq!(one_of(&["a", "b"], ""), "`a` or `b`");
        assert_eq!(one_of(&["a", "b", "c"], ""), "one of `a`, `b`, `c`");
    }
}
