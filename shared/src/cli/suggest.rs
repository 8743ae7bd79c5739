//! "Did you mean": the one near miss among a command's flags or subcommands.

/// Names longer than this are compared with nothing: no flag is that long, and
/// the distance costs the product of the lengths.
const MAX_COMPARED: usize = 64;

/// The candidate `given` most likely misspells: the closest by edit distance
/// (a swap of two neighbours counts as one edit), if it is within a third of
/// the candidate's length (at least one edit); else the one candidate that
/// `given` begins (`--dry` for `--dry-run`). Leading dashes are not compared.
pub fn near_miss<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let bare = |name: &str| name.trim_start_matches('-').to_owned();
    let given_bare = bare(given);
    if given_bare.is_empty() || given_bare.chars().count() > MAX_COMPARED {
        return None;
    }
    let closest = candidates
        .iter()
        .map(|candidate| {
            let candidate_bare = bare(candidate);
            let allowed = (candidate_bare.chars().count() / 3).max(1);
            (distance(&given_bare, &candidate_bare), allowed, *candidate)
        })
        .filter(|(distance, allowed, _)| distance <= allowed)
        .min_by_key(|(distance, _, _)| *distance)
        .map(|(_, _, candidate)| candidate);
    closest.or_else(|| {
        let mut begun = candidates
            .iter()
            .filter(|candidate| given_bare.len() >= 3 && bare(candidate).starts_with(&given_bare));
        match (begun.next(), begun.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    })
}

/// The optimal string alignment distance: insertions, deletions,
/// substitutions and swaps of neighbours, each one edit. Both strings are at
/// most [`MAX_COMPARED`] characters long for the callers' inputs.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(MAX_COMPARED).collect();
    let b: Vec<char> = b.chars().take(MAX_COMPARED).collect();
    // rows[i][j]: the distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[&str] = &["--data-dir", "--product", "--dry-run", "--force", "--help"];

    #[test]
    fn a_swap_a_slip_and_a_missing_letter_are_near_misses() {
        assert_eq!(near_miss("--data-dri", FLAGS), Some("--data-dir"));
        assert_eq!(near_miss("--prodcut", FLAGS), Some("--product"));
        assert_eq!(near_miss("--forse", FLAGS), Some("--force"));
        assert_eq!(near_miss("--datadir", FLAGS), Some("--data-dir"));
        assert_eq!(
            near_miss("expirty", &["staged", "expiry", "token"]),
            Some("expiry")
        );
    }

    #[test]
    fn a_beginning_is_a_near_miss_when_only_one_flag_has_it() {
        assert_eq!(near_miss("--dry", FLAGS), Some("--dry-run"));
        assert_eq!(near_miss("--d", FLAGS), None);
    }

    #[test]
    fn something_else_is_no_near_miss() {
        assert_eq!(near_miss("--bogus", FLAGS), None);
        assert_eq!(near_miss("--", FLAGS), None);
        assert_eq!(near_miss(&"x".repeat(100_000), FLAGS), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("abc", "acb"), 1);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
