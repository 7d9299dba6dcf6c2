//! Compact host lists for humans: `r1-c01..r1-c04, r2-c01`.

/// Splits `r1-c04` into (`r1-c`, `04`): the name without its trailing digits, and the digits.
fn split_number(name: &str) -> (&str, &str) {
    let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
    name.split_at(name.len() - digits)
}

/// Runs of consecutive names: `[first, last, count]`. Names are consecutive when they share
/// the prefix and the digit width and the numbers follow each other.
fn runs(names: &[String]) -> Vec<(&str, &str, usize)> {
    let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
    // Natural order: `n9` before `n10`.
    sorted.sort_unstable_by(|a, b| {
        let (pa, da) = split_number(a);
        let (pb, db) = split_number(b);
        (pa, da.len(), da).cmp(&(pb, db.len(), db))
    });
    sorted.dedup();
    let mut out: Vec<(&str, &str, usize)> = Vec::new();
    for name in sorted {
        if let Some(last) = out.last_mut() {
            let (p0, d0) = split_number(last.1);
            let (p1, d1) = split_number(name);
            let next = match (d0.parse::<u64>(), d1.parse::<u64>()) {
                (Ok(a), Ok(b)) => a.checked_add(1) == Some(b),
                _ => false,
            };
            if p0 == p1 && d0.len() == d1.len() && !d0.is_empty() && next {
                last.1 = name;
                last.2 += 1;
                continue;
            }
        }
        out.push((name, name, 1));
    }
    out
}

/// The names in natural order (`n9` before `n10`), compressed: runs of three or more consecutive names become
/// `first..last`; items are joined with `, `. `["r1-c01","r1-c02","r1-c03","r1-c04","r2-c01"]`
/// gives `r1-c01..r1-c04, r2-c01`.
pub fn compress(names: &[String]) -> String {
    compress_limited(names, usize::MAX)
}

/// Like [`compress`], but at most `max_items` items (a range counts as one), followed by
/// `and N more` (hosts, not items).
pub fn compress_limited(names: &[String], max_items: usize) -> String {
    let runs = runs(names);
    let mut parts = Vec::new();
    let mut shown = 0usize;
    let total: usize = runs.iter().map(|r| r.2).sum();
    for (first, last, count) in runs.iter().take(max_items) {
        shown += count;
        match count {
            1 => parts.push((*first).to_string()),
            2 => {
                parts.push((*first).to_string());
                parts.push((*last).to_string());
            }
            _ => parts.push(format!("{first}..{last}")),
        }
    }
    let mut s = parts.join(", ");
    if shown < total {
        s.push_str(&format!(" and {} more", total - shown));
    }
    s
}

/// Groups host names by an equal key (a rendered body, say), keeping the order in which keys
/// first appear: the hosts whose details read the same are shown once.
pub fn group_identical<K: PartialEq>(
    items: impl IntoIterator<Item = (K, String)>,
) -> Vec<(K, Vec<String>)> {
    let mut groups: Vec<(K, Vec<String>)> = Vec::new();
    for (key, name) in items {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, names)) => names.push(name),
            None => groups.push((key, vec![name])),
        }
    }
    groups
}

/// How a group of hosts is named in a heading: `r1-c01`, or `r1-c01..r1-c04 (4 hosts)`.
pub fn label(names: &[String]) -> String {
    match names {
        [one] => one.clone(),
        _ => format!("{} ({} hosts)", compress(names), names.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn compresses_runs_of_three_or_more() {
        let names = v(&["r2-c01", "r1-c03", "r1-c01", "r1-c02", "r1-c04"]);
        assert_eq!(compress(&names), "r1-c01..r1-c04, r2-c01");
    }

    #[test]
    fn keeps_pairs_and_gaps_apart() {
        let names = v(&["a01", "a02", "a04", "b", "c7", "c8", "c9"]);
        assert_eq!(compress(&names), "a01, a02, a04, b, c7..c9");
    }

    #[test]
    fn digit_width_breaks_runs() {
        let names = v(&["n8", "n9", "n10", "n11"]);
        assert_eq!(compress(&names), "n8, n9, n10, n11");
    }

    #[test]
    fn limited_counts_hosts_not_items() {
        let names = v(&["a1", "a2", "a3", "x", "z1", "z3"]);
        assert_eq!(compress_limited(&names, 2), "a1..a3, x and 2 more");
    }

    #[test]
    fn identical_hosts_group_in_first_seen_order() {
        let groups = group_identical([
            ("a", "h1".to_string()),
            ("b", "h2".to_string()),
            ("a", "h3".to_string()),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0], ("a", vec!["h1".to_string(), "h3".to_string()]));
        assert_eq!(label(&["r1".to_string()]), "r1");
        let names: Vec<String> = ["r1-c01", "r1-c02", "r1-c03"].map(String::from).to_vec();
        assert_eq!(label(&names), "r1-c01..r1-c03 (3 hosts)");
    }
}
