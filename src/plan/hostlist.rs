//! Host lists in the pdsh/ClusterShell form that operators paste into `pdsh -w` and
//! `clush -w`: `r1-c[01-04,07],r2-c01`, `r[1-2]-c[01-04]`.
//!
//! [`compress`] folds names as ClusterShell's `nodeset -f` does; [`expand`] and
//! [`expand_items`] read the form back. The grammar both sides share:
//!
//! - a host list is items joined by `,` (a comma inside brackets belongs to the range);
//! - an item is literal text and bracketed ranges: `r1-c[01-04,07]`, `r[1-2]-c[01-02]` (the
//!   cartesian product of its brackets, first bracket outermost);
//! - a range is `N`, `N-M` or `N-M/STEP`; a bound written with a leading zero (`01`) pads
//!   every number of its range to its width, and both bounds must then have the same width
//!   (`[08-10]` is `08 09 10`; `[8-10]` is `8 9 10`; `[01-100]` is an error), as ClusterShell
//!   reads them.
//!
//! Names containing `[`, `]` or `,` (which DNS-1123 host names never do) are printed as they
//! are and do not read back.

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The most names [`expand`] and [`expand_items`] produce for one pattern.
pub const MAX_NAMES: usize = 1_000_000;

/// The most bytes of names [`expand`] and [`expand_items`] produce for one pattern (64 MiB).
pub const MAX_BYTES: usize = 64 << 20;

/// One numeric field of a name as written (`04`, `9`, `10`). Ordered as ClusterShell orders
/// indexes: shorter first, then by digits, so `9` < `10` and `08` < `10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Index<'a> {
    width: usize,
    digits: &'a str,
}

impl<'a> Index<'a> {
    fn new(digits: &'a str) -> Self {
        Self {
            width: digits.len(),
            digits,
        }
    }

    /// Written with a leading zero (`04`, `00`; not `0`).
    fn padded(&self) -> bool {
        self.width > 1 && self.digits.starts_with('0')
    }

    fn value(&self) -> Option<u64> {
        self.digits.parse().ok()
    }
}

/// The literal parts of a name around its numeric fields (one more than the fields) and the
/// fields: `r1-c04` gives (`["r", "-c", ""]`, `[1, 04]`).
fn split_fields(name: &str) -> (Vec<&str>, Vec<Index<'_>>) {
    let mut literals = Vec::new();
    let mut fields = Vec::new();
    let mut rest = name;
    loop {
        let lit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        literals.push(&rest[..lit]);
        rest = &rest[lit..];
        if rest.is_empty() {
            return (literals, fields);
        }
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        fields.push(Index::new(&rest[..digits]));
        rest = &rest[digits..];
    }
}

/// A set of indexes in ClusterShell's range form: `01-04,07,09-10`. A run joins consecutive
/// numbers; a run that starts zero-padded only takes numbers of its width, one that does not
/// only numbers without a leading zero (ClusterShell's mixed-padding rule).
fn fold_indexes(set: &BTreeSet<Index<'_>>) -> String {
    fn push(out: &mut Vec<String>, first: Index<'_>, last: Index<'_>) {
        if first == last {
            out.push(first.digits.to_string());
        } else {
            out.push(format!("{}-{}", first.digits, last.digits));
        }
    }
    let mut out = Vec::new();
    let mut run: Option<(Index<'_>, Index<'_>)> = None;
    for &idx in set {
        if let Some((first, last)) = run {
            let next = match (last.value(), idx.value()) {
                (Some(a), Some(b)) => a.checked_add(1) == Some(b),
                _ => false,
            };
            let same_padding = if first.padded() {
                idx.width == first.width
            } else {
                !idx.padded()
            };
            if next && same_padding {
                run = Some((first, idx));
                continue;
            }
            push(&mut out, first, last);
        }
        run = Some((idx, idx));
    }
    if let Some((first, last)) = run {
        push(&mut out, first, last);
    }
    out.join(",")
}

/// A product of index sets, one per numeric field of a pattern.
type Vector<'a> = Vec<BTreeSet<Index<'a>>>;

/// Merges the vectors that are equal on every axis but `axis`. The vectors are disjoint
/// products, so the merged ones are exactly the union of the names they stood for.
fn merge_axis<'a>(vectors: Vec<Vector<'a>>, axis: usize) -> Vec<Vector<'a>> {
    let mut merged: BTreeMap<Vector<'a>, BTreeSet<Index<'a>>> = BTreeMap::new();
    for mut v in vectors {
        let own = std::mem::take(&mut v[axis]);
        merged.entry(v).or_default().extend(own);
    }
    merged
        .into_iter()
        .map(|(mut v, own)| {
            v[axis] = own;
            v
        })
        .collect()
}

/// The folded items with the number of names each stands for, in display order.
///
/// Names group by their literal parts (ClusterShell's pattern, ordered as ClusterShell orders
/// `r%s-c%s`). Within a pattern the names fold on their last number first, then on earlier
/// numbers wherever whole sets repeat, until nothing merges: `r1-c01..04, r2-c01..04` gives
/// `r[1-2]-c[01-04]`. For irregular 2-D sets ClusterShell's heuristic may group differently;
/// both forms expand to the same names. Items of a pattern are in natural order.
fn fold(names: &[String]) -> Vec<(String, usize)> {
    let mut patterns: BTreeMap<(String, Vec<&str>), Vec<Vec<Index<'_>>>> = BTreeMap::new();
    let unique: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    for name in unique {
        let (literals, fields) = split_fields(name);
        patterns
            .entry((literals.join("%s"), literals))
            .or_default()
            .push(fields);
    }
    let mut out = Vec::new();
    for ((_, literals), points) in patterns {
        let dims = literals.len() - 1;
        let mut vectors: Vec<Vector<'_>> = points
            .into_iter()
            .map(|p| p.into_iter().map(|i| BTreeSet::from([i])).collect())
            .collect();
        if dims > 0 {
            loop {
                let before = vectors.len();
                for axis in (0..dims).rev() {
                    vectors = merge_axis(vectors, axis);
                }
                if vectors.len() == before {
                    break;
                }
            }
        }
        vectors.sort();
        for v in vectors {
            let mut text = String::from(literals[0]);
            let mut count = 1usize;
            for (set, lit) in v.iter().zip(&literals[1..]) {
                count = count.saturating_mul(set.len());
                if set.len() == 1 {
                    text.push_str(&fold_indexes(set));
                } else {
                    text.push('[');
                    text.push_str(&fold_indexes(set));
                    text.push(']');
                }
                text.push_str(lit);
            }
            out.push((text, count));
        }
    }
    out
}

/// The names folded into the pdsh/ClusterShell form, duplicates dropped, items joined by `,`
/// (no space: the string pastes into `pdsh -w` and `clush -w`).
///
/// `["r1-c01","r1-c02","r1-c03","r1-c04","r1-c07","r2-c01"]` gives `r1-c[01-04,07],r2-c01`;
/// `r1-c01..04` and `r2-c01..04` give `r[1-2]-c[01-04]`; `n8 n9 n10` gives `n[8-10]` and
/// `n08 n09 n10` gives `n[08-10]` (zero padding is kept; a range never mixes padded and
/// unpadded numbers). Items come in ClusterShell's pattern order, numbers in natural order
/// (`9` before `10`). No names give an empty string. [`expand`] reads the result back.
pub fn compress(names: &[String]) -> String {
    compress_limited(names, usize::MAX)
}

/// Like [`compress`], but at most `max_items` items (an item such as `r1-c[01-04,07]` counts
/// as one), followed by ` and N more` when names are left out (N counts hosts, not items):
/// `a1 a2 a3 x z1 z3` with 2 items gives `a[1-3],x and 2 more`.
pub fn compress_limited(names: &[String], max_items: usize) -> String {
    let items = fold(names);
    let total: usize = items.iter().map(|(_, n)| n).sum();
    let shown: Vec<&(String, usize)> = items.iter().take(max_items).collect();
    let shown_hosts: usize = shown.iter().map(|(_, n)| n).sum();
    let mut s = shown
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join(",");
    if shown_hosts < total {
        s.push_str(&format!(" and {} more", total - shown_hosts));
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

/// How a group of hosts is named in a heading: `r1-c01`, or `r1-c[01-04] (4 hosts)`.
pub fn label(names: &[String]) -> String {
    match names {
        [one] => one.clone(),
        _ => format!("{} ({} hosts)", compress(names), names.len()),
    }
}

/// Why a host range does not read (see [`HostlistError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostlistErrorKind {
    /// The pattern, or an item between commas, is empty (`a,,b`).
    #[error("empty host name")]
    EmptyItem,
    /// A `[` without its `]` (`r1-c[01-`).
    #[error("`[` is not closed")]
    UnclosedBracket,
    /// A `]` without a `[` before it.
    #[error("`]` without a `[` before it")]
    UnopenedBracket,
    /// A `[` inside brackets.
    #[error("`[` inside brackets")]
    NestedBracket,
    /// `[]`, or an empty range between commas inside brackets (`[1,,3]`).
    #[error("empty range")]
    EmptyRange,
    /// Something other than digits where a number belongs (`[a-b]`).
    #[error("expected a number")]
    ExpectedNumber,
    /// A number above 2^64 - 1.
    #[error("number too large")]
    NumberTooLarge,
    /// A range whose first number is above its last (`[04-01]`).
    #[error("range `{0}` runs backwards")]
    Descending(String),
    /// Zero-padded bounds of different widths (`[01-100]`): the width is ambiguous.
    #[error("range `{0}` mixes widths: a zero-padded range needs bounds of one width")]
    PaddingMismatch(String),
    /// A `/STEP` that is not a number of at least 1.
    #[error("a step is a number of at least 1")]
    BadStep,
    /// The pattern names more than [`MAX_NAMES`] names or [`MAX_BYTES`] bytes of names.
    #[error(
        "expands to more than {} names or {} MiB of names",
        MAX_NAMES,
        MAX_BYTES >> 20
    )]
    TooLarge,
}

/// A host range that does not read: the pattern, where (a byte offset into it) and why.
/// Displays as ``invalid host range `r1-c[04-01]`: range `04-01` runs backwards (column 6)``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("invalid host range `{pattern}`: {kind} (column {})", self.column())]
#[diagnostic(
    code(bmfleet::hostlist::invalid),
    help(
        "host ranges read as in pdsh and ClusterShell: `r1-c[01-04,07]`, `r[1-2]-c[01-02]`, items joined by `,`"
    )
)]
pub struct HostlistError {
    /// The pattern as given.
    pub pattern: String,
    /// Byte offset of the fault in `pattern`.
    pub offset: usize,
    /// What is wrong.
    pub kind: HostlistErrorKind,
}

impl HostlistError {
    /// The 1-based column (in characters) of the fault.
    pub fn column(&self) -> usize {
        self.pattern
            .get(..self.offset)
            .map_or(self.offset, |s| s.chars().count())
            + 1
    }
}

/// One top-level item of a host list and the names it expands to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedItem<'a> {
    /// The item as written (`r1-c[01-04]`), without surrounding whitespace.
    pub text: &'a str,
    /// Its names in order (first bracket outermost), duplicates dropped.
    pub names: Vec<String>,
}

/// A part of an item: literal text or a bracket's numbers, as written.
enum Part<'a> {
    Literal(&'a str),
    Range(Vec<Span>),
}

/// One range inside brackets: `lo-hi/step` and the width numbers are padded to (0: none).
struct Span {
    lo: u64,
    hi: u64,
    step: u64,
    width: usize,
}

impl Span {
    fn count(&self) -> u64 {
        ((self.hi - self.lo) / self.step).saturating_add(1)
    }
}

struct Parser<'a> {
    pattern: &'a str,
}

impl<'a> Parser<'a> {
    fn err(&self, offset: usize, kind: HostlistErrorKind) -> HostlistError {
        HostlistError {
            pattern: self.pattern.to_string(),
            offset,
            kind,
        }
    }

    /// The top-level items with their byte offsets: commas outside brackets split.
    fn items(&self) -> Result<Vec<(usize, &'a str)>, HostlistError> {
        let mut out = Vec::new();
        let mut open: Option<usize> = None;
        let mut start = 0;
        for (i, c) in self.pattern.char_indices() {
            match c {
                '[' if open.is_some() => {
                    return Err(self.err(i, HostlistErrorKind::NestedBracket));
                }
                '[' => open = Some(i),
                ']' if open.is_none() => {
                    return Err(self.err(i, HostlistErrorKind::UnopenedBracket));
                }
                ']' => open = None,
                ',' if open.is_none() => {
                    out.push(self.trimmed(start, i)?);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if let Some(at) = open {
            return Err(self.err(at, HostlistErrorKind::UnclosedBracket));
        }
        out.push(self.trimmed(start, self.pattern.len())?);
        Ok(out)
    }

    /// `pattern[start..end]` without surrounding whitespace, and its offset.
    fn trimmed(&self, start: usize, end: usize) -> Result<(usize, &'a str), HostlistError> {
        let raw = &self.pattern[start..end];
        let text = raw.trim_start();
        if text.is_empty() {
            return Err(self.err(start, HostlistErrorKind::EmptyItem));
        }
        Ok((start + (raw.len() - text.len()), text.trim_end()))
    }

    /// The parts of one item (brackets are balanced and not nested: [`Self::items`] checked).
    fn parts(&self, offset: usize, item: &'a str) -> Result<Vec<Part<'a>>, HostlistError> {
        let mut parts = Vec::new();
        let mut rest = item;
        let mut at = offset;
        while !rest.is_empty() {
            match rest.find('[') {
                Some(0) => {
                    let close = rest
                        .find(']')
                        .ok_or_else(|| self.err(at, HostlistErrorKind::UnclosedBracket))?;
                    parts.push(Part::Range(self.ranges(at + 1, &rest[1..close])?));
                    at += close + 1;
                    rest = &rest[close + 1..];
                }
                Some(open) => {
                    parts.push(Part::Literal(&rest[..open]));
                    at += open;
                    rest = &rest[open..];
                }
                None => {
                    parts.push(Part::Literal(rest));
                    rest = "";
                }
            }
        }
        Ok(parts)
    }

    /// The ranges inside one pair of brackets (`body` starts at byte `offset`).
    fn ranges(&self, offset: usize, body: &str) -> Result<Vec<Span>, HostlistError> {
        let mut spans = Vec::new();
        let mut at = offset;
        for range in body.split(',') {
            if range.is_empty() {
                return Err(self.err(at, HostlistErrorKind::EmptyRange));
            }
            let (bounds, step) = match range.split_once('/') {
                Some((b, s)) => {
                    let step_at = at + b.len() + 1;
                    match s.parse::<u64>() {
                        Ok(n) if n >= 1 && s.bytes().all(|c| c.is_ascii_digit()) => (b, n),
                        _ => return Err(self.err(step_at, HostlistErrorKind::BadStep)),
                    }
                }
                None => (range, 1),
            };
            let (lo_text, hi_text, hi_at) = match bounds.split_once('-') {
                Some((lo, hi)) => (lo, hi, at + lo.len() + 1),
                None if step != 1 => return Err(self.err(at, HostlistErrorKind::BadStep)),
                None => (bounds, bounds, at),
            };
            let lo = self.number(at, lo_text)?;
            let hi = self.number(hi_at, hi_text)?;
            let (lo_idx, hi_idx) = (Index::new(lo_text), Index::new(hi_text));
            let width = if lo_idx.padded() || hi_idx.padded() {
                if lo_text.len() != hi_text.len() {
                    return Err(
                        self.err(at, HostlistErrorKind::PaddingMismatch(bounds.to_string()))
                    );
                }
                lo_text.len()
            } else {
                0
            };
            if lo > hi {
                return Err(self.err(at, HostlistErrorKind::Descending(bounds.to_string())));
            }
            spans.push(Span {
                lo,
                hi,
                step,
                width,
            });
            at += range.len() + 1;
        }
        Ok(spans)
    }

    fn number(&self, offset: usize, text: &str) -> Result<u64, HostlistError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            let bad = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            return Err(self.err(offset + bad, HostlistErrorKind::ExpectedNumber));
        }
        text.parse()
            .map_err(|_| self.err(offset, HostlistErrorKind::NumberTooLarge))
    }
}

/// The names of one item's parts: the cartesian product of its brackets, first outermost.
fn product(parts: &[Part<'_>]) -> Vec<String> {
    let mut names = vec![String::new()];
    for part in parts {
        names = match part {
            Part::Literal(text) => {
                for n in &mut names {
                    n.push_str(text);
                }
                names
            }
            Part::Range(spans) => {
                let values: Vec<String> = spans
                    .iter()
                    .flat_map(|s| {
                        (s.lo..=s.hi)
                            .step_by(usize::try_from(s.step).unwrap_or(usize::MAX))
                            .map(move |v| format!("{v:0width$}", width = s.width))
                    })
                    .collect();
                names
                    .iter()
                    .flat_map(|n| {
                        values.iter().map(move |v| {
                            let mut name = String::with_capacity(n.len() + v.len());
                            name.push_str(n);
                            name.push_str(v);
                            name
                        })
                    })
                    .collect()
            }
        };
    }
    dedup(names)
}

/// The names without repeats, first occurrences kept in order.
fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(names.len());
    let keep: Vec<bool> = names.iter().map(|n| seen.insert(n.as_str())).collect();
    drop(seen);
    names
        .into_iter()
        .zip(keep)
        .filter_map(|(n, k)| k.then_some(n))
        .collect()
}

/// The top-level items of a host list (`r1-c[01-04],r2-*`: split at commas outside brackets,
/// whitespace around items ignored), each with the names it expands to. Literal text,
/// `*` and `?` included, is copied into the names as it is.
///
/// # Errors
/// [`HostlistError`] naming the column when the pattern does not read: an empty item, an
/// unclosed, unopened or nested bracket, an empty range, a bound that is not a number
/// (`[a-b]`) or is above 2^64 - 1, a range that runs backwards (`[04-01]`), zero-padded bounds
/// of different widths (`[01-100]`), a bad `/STEP`, or more than [`MAX_NAMES`] names or
/// [`MAX_BYTES`] bytes in all (checked before any name is built).
pub fn expand_items(pattern: &str) -> Result<Vec<ExpandedItem<'_>>, HostlistError> {
    let parser = Parser { pattern };
    let mut parsed = Vec::new();
    let (mut names, mut bytes) = (0u64, 0u64);
    for (offset, text) in parser.items()? {
        let parts = parser.parts(offset, text)?;
        let mut count = 1u64;
        let mut len = 0u64;
        for part in &parts {
            match part {
                Part::Literal(t) => len = len.saturating_add(t.len() as u64),
                Part::Range(spans) => {
                    let n = spans.iter().fold(0u64, |a, s| a.saturating_add(s.count()));
                    count = count.saturating_mul(n);
                    // The widest number of the bracket.
                    let widest = spans
                        .iter()
                        .map(|s| s.width.max(s.hi.to_string().len()) as u64)
                        .max()
                        .unwrap_or(0);
                    len = len.saturating_add(widest);
                }
            }
        }
        names = names.saturating_add(count);
        bytes = bytes.saturating_add(count.saturating_mul(len));
        if names > MAX_NAMES as u64 || bytes > MAX_BYTES as u64 {
            return Err(parser.err(offset, HostlistErrorKind::TooLarge));
        }
        parsed.push((text, parts));
    }
    Ok(parsed
        .into_iter()
        .map(|(text, parts)| ExpandedItem {
            text,
            names: product(&parts),
        })
        .collect())
}

/// The names a host list stands for, in the order written, duplicates dropped:
/// `r1-c[01-02,07],r2-c01` gives `r1-c01 r1-c02 r1-c07 r2-c01`; `r[1-2]-c[01-02]` gives
/// `r1-c01 r1-c02 r2-c01 r2-c02`. The inverse of [`compress`] (as sets).
///
/// # Errors
/// As [`expand_items`].
pub fn expand(pattern: &str) -> Result<Vec<String>, HostlistError> {
    let mut items = expand_items(pattern)?;
    if items.len() == 1 {
        // One item's names are already without repeats.
        return Ok(items.pop().map(|i| i.names).unwrap_or_default());
    }
    Ok(dedup(items.into_iter().flat_map(|i| i.names).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn set(names: &[String]) -> BTreeSet<String> {
        names.iter().cloned().collect()
    }

    #[test]
    fn folds_runs_into_brackets() {
        let names = v(&["r2-c01", "r1-c03", "r1-c01", "r1-c02", "r1-c04"]);
        assert_eq!(compress(&names), "r1-c[01-04],r2-c01");
        let names = v(&[
            "r1-c01", "r1-c02", "r1-c03", "r1-c04", "r1-c07", "r1-c09", "r1-c10",
        ]);
        assert_eq!(compress(&names), "r1-c[01-04,07,09-10]");
    }

    #[test]
    fn pairs_singles_and_names_without_numbers() {
        let names = v(&["a01", "a02", "a04", "b", "c7", "c8", "c9"]);
        assert_eq!(compress(&names), "a[01-02,04],b,c[7-9]");
        assert_eq!(compress(&v(&["x"])), "x");
        assert_eq!(compress(&[]), "");
        assert_eq!(compress(&v(&["n1", "n1", "n2"])), "n[1-2]");
    }

    #[test]
    fn padding_follows_clustershell() {
        // Unpadded numbers of different widths join; padded ones keep their width.
        assert_eq!(compress(&v(&["n8", "n9", "n10", "n11"])), "n[8-11]");
        assert_eq!(compress(&v(&["n08", "n09", "n10"])), "n[08-10]");
        assert_eq!(compress(&v(&["n098", "n099", "n100"])), "n[098-100]");
        assert_eq!(compress(&v(&["n98", "n99", "n100"])), "n[98-100]");
        assert_eq!(compress(&v(&["n08", "n09", "n100"])), "n[08-09,100]");
        assert_eq!(compress(&v(&["n9", "n09", "n10"])), "n[9,09-10]");
        assert_eq!(compress(&v(&["n0", "n1", "n00"])), "n[0-1,00]");
        // ClusterShell's test_fully_numeric: `[07-09,010]`.
        assert_eq!(compress(&v(&["07", "08", "09", "010"])), "[07-09,010]");
    }

    #[test]
    fn suffixes_and_2d_fold() {
        let names = v(&["n1-ipmi", "n2-ipmi", "n3-ipmi", "n1"]);
        assert_eq!(compress(&names), "n1,n[1-3]-ipmi");
        let names: Vec<String> = ["r1", "r2"]
            .iter()
            .flat_map(|r| (1..=4).map(move |c| format!("{r}-c{c:02}")))
            .collect();
        assert_eq!(compress(&names), "r[1-2]-c[01-04]");
        assert_eq!(compress(&v(&["r1-c01", "r2-c01"])), "r[1-2]-c01");
        // ClusterShell NodeSetTest test_nd_fold_padding / test_nd_fold (same items;
        // ClusterShell orders the second case `da3c[1-4],da2c[1-2],da4c[3-4]`).
        let mut n: Vec<String> = (1..=3)
            .flat_map(|r| (1..=9).map(move |c| format!("n{r}c{c:02}")))
            .collect();
        n.extend((1..=7).map(|c| format!("n4c{c:02}")));
        assert_eq!(compress(&n), "n[1-3]c[01-09],n4c[01-07]");
        let da = expand("da[2-3]c[1-2],da[3-4]c[3-4]").unwrap();
        assert_eq!(compress(&da), "da2c[1-2],da3c[1-4],da4c[3-4]");
        let da = expand("da[2-3]c[1-2]p3,da[3-4]c[1-3]p3").unwrap();
        assert_eq!(compress(&da), "da2c[1-2]p3,da[3-4]c[1-3]p3");
        let da = expand("da[2-3]c[1-2],da[3-4]c[1-2]").unwrap();
        assert_eq!(compress(&da), "da[2-4]c[1-2]");
    }

    #[test]
    fn limited_counts_hosts_not_items() {
        let names = v(&["a1", "a2", "a3", "x", "z1", "z3"]);
        assert_eq!(compress_limited(&names, 2), "a[1-3],x and 2 more");
        assert_eq!(compress_limited(&names, 3), "a[1-3],x,z[1,3]");
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
        assert_eq!(label(&names), "r1-c[01-03] (3 hosts)");
    }

    #[test]
    fn expands_ranges_products_and_lists() {
        assert_eq!(
            expand("r1-c[01-04,07]").unwrap(),
            v(&["r1-c01", "r1-c02", "r1-c03", "r1-c04", "r1-c07"])
        );
        assert_eq!(
            expand("r[1-2]-c[01-02]").unwrap(),
            v(&["r1-c01", "r1-c02", "r2-c01", "r2-c02"])
        );
        assert_eq!(
            expand("a1, b[8-10] ,c").unwrap(),
            v(&["a1", "b8", "b9", "b10", "c"])
        );
        assert_eq!(expand("n[1-7/3]").unwrap(), v(&["n1", "n4", "n7"]));
        assert_eq!(expand("node0[1-2]").unwrap(), v(&["node01", "node02"]));
        assert_eq!(expand("n[00-02]").unwrap(), v(&["n00", "n01", "n02"]));
        assert_eq!(expand("n[2],n2,n[1-2]").unwrap(), v(&["n2", "n1"]));
        assert_eq!(
            expand("r2-*,r[1-2]-c0?").unwrap(),
            v(&["r2-*", "r1-c0?", "r2-c0?"])
        );
        let items = expand_items("r1-c[01-02], x").unwrap();
        assert_eq!(items[0].text, "r1-c[01-02]");
        assert_eq!(items[1].text, "x");
        assert_eq!(items[1].names, v(&["x"]));
    }

    fn error(pattern: &str) -> (HostlistErrorKind, usize) {
        let e = expand(pattern).unwrap_err();
        let column = e.column();
        (e.kind, column)
    }

    #[test]
    fn bad_syntax_names_the_column() {
        use HostlistErrorKind as K;
        assert_eq!(error("r1-c[04-01]"), (K::Descending("04-01".into()), 6));
        assert_eq!(error("r1-c[01-"), (K::UnclosedBracket, 5));
        assert_eq!(error("[a-b]"), (K::ExpectedNumber, 2));
        assert_eq!(error("n[1-b]"), (K::ExpectedNumber, 5));
        assert_eq!(error("n[1,3-x]"), (K::ExpectedNumber, 7));
        assert_eq!(error("n[01-100]"), (K::PaddingMismatch("01-100".into()), 3));
        assert_eq!(error("n[]"), (K::EmptyRange, 3));
        assert_eq!(error("n[1,,2]"), (K::EmptyRange, 5));
        assert_eq!(error("a,,b"), (K::EmptyItem, 3));
        assert_eq!(error(""), (K::EmptyItem, 1));
        assert_eq!(error("a, "), (K::EmptyItem, 3));
        assert_eq!(error("n1]"), (K::UnopenedBracket, 3));
        assert_eq!(error("n[1[2]]"), (K::NestedBracket, 4));
        assert_eq!(error("n[1-5/0]"), (K::BadStep, 7));
        assert_eq!(error("n[3/2]"), (K::BadStep, 3));
        assert_eq!(error("n[99999999999999999999]"), (K::NumberTooLarge, 3));
        assert_eq!(error("é[x]"), (K::ExpectedNumber, 3));
        let e = expand("r1-c[04-01]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid host range `r1-c[04-01]`: range `04-01` runs backwards (column 6)"
        );
    }

    #[test]
    fn output_is_bounded() {
        assert_eq!(expand("n[1-1000000]").map(|n| n.len()), Ok(1_000_000));
        assert_eq!(error("n[1-1000001]"), (HostlistErrorKind::TooLarge, 1));
        assert_eq!(
            error("a,n[0-999]x[0-999]y[0-9]"),
            (HostlistErrorKind::TooLarge, 3)
        );
        assert_eq!(
            error("n[0-18446744073709551615]"),
            (HostlistErrorKind::TooLarge, 1)
        );
        let long = format!("{}[1-100000]", "x".repeat(1000));
        assert_eq!(error(&long), (HostlistErrorKind::TooLarge, 1));
    }

    #[test]
    fn fold_of_expand_round_trips() {
        for folded in [
            "r1-c[01-04]",
            "r1-c[01-04,07,09-10],r2-c01",
            "r[1-2]-c[01-04]",
            "n[8-11]",
            "n[08-10]",
            "n[9,09-10]",
            "[07-09,010]",
            "a,b,c[1-3]",
            "n1,n[1-3]-ipmi",
            "da2c[1-2]p3,da[3-4]c[1-3]p3",
            "r[1-3]-c[01-02]-p[1-2]",
            "x[1-2]y[1-2]z[1-2],x3y1z1",
        ] {
            assert_eq!(compress(&expand(folded).unwrap()), folded, "{folded}");
        }
    }

    #[test]
    fn expand_of_fold_gives_the_names_back() {
        // A deterministic pseudo-random walk over prefixes, widths, gaps and dimensions.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..300 {
            let mut names = Vec::new();
            for _ in 0..next(40) {
                let name = match next(6) {
                    0 => format!("r{}-c{:02}", next(4), next(30)),
                    1 => format!("n{}", next(120)),
                    2 => format!("n{:03}", next(120)),
                    3 => format!("r{}-c{}-ipmi", next(3), next(12)),
                    4 => format!("gpu{}", ["a", "b", ""][next(3) as usize]),
                    _ => format!("{}x{}y{:02}", next(3), next(5), next(5)),
                };
                names.push(name);
            }
            let folded = compress(&names);
            let back = if names.is_empty() {
                Vec::new()
            } else {
                expand(&folded).unwrap()
            };
            assert_eq!(set(&back), set(&names), "{folded}");
            assert_eq!(back.len(), set(&names).len(), "{folded}");
            assert_eq!(compress(&back), folded);
        }
    }
}
