//! Readable forms of list and document changes for `bmfleet diff`: kernel arguments as the
//! arguments added and removed, cloud-init documents as a unified text diff with their
//! secrets masked.
//!
//! Secrets never reach the output: every line is masked before it is shown (the value of a
//! key whose name looks secret, such as `passwd:` or `chpasswd:` with everything nested under
//! it, and any crypt(3) hash such as `$6$...`), while the diff itself is computed on the real
//! text, so a rotated password still shows as a changed line: `-  passwd: (sensitive value)`,
//! `+  passwd: (sensitive value)`.

use super::value::{SENSITIVE, is_sensitive_name};
use similar::{ChangeTag, TextDiff};

/// Lines of context around each change in a unified diff.
pub const CONTEXT: usize = 3;

/// Most lines of a unified diff kept; the rest are summed up in one line.
pub const MAX_LINES: usize = 200;

/// The arguments of `after` that `before` lacks, and those of `before` that `after` lacks,
/// as `(added, removed)`, each in command-line order; a repeated argument counts as often as
/// it appears. Both are empty when only the order changed.
pub fn args_diff(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let minus = |a: &[String], b: &[String]| -> Vec<String> {
        let mut left: Vec<Option<&String>> = b.iter().map(Some).collect();
        a.iter()
            .filter(
                |x| match left.iter_mut().find(|y| y.is_some_and(|y| y == *x)) {
                    Some(slot) => {
                        *slot = None;
                        false
                    }
                    None => true,
                },
            )
            .cloned()
            .collect()
    };
    (minus(after, before), minus(before, after))
}

/// Crypt(3) hash prefixes (MD5, bcrypt, SHA-256, SHA-512, yescrypt, scrypt).
const CRYPT_PREFIXES: &[&str] = &["$1$", "$2a$", "$2b$", "$2y$", "$5$", "$6$", "$7$", "$y$"];

/// Each line of `text` (as [`str::lines`] splits it) with its secrets replaced by
/// `(sensitive value)`: the value of a `key:` whose name looks secret
/// ([`is_sensitive_name`]: `passwd`, `password`, `token`, ...) and every line nested under it
/// (a `chpasswd:` block, a `|` scalar), and a crypt(3) hash anywhere in a line.
pub fn mask_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // The indentation of a secret key whose nested lines are being masked.
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(key_indent) = block {
            if trimmed.is_empty() || indent > key_indent {
                out.push(if trimmed.is_empty() {
                    String::new()
                } else {
                    format!("{}{SENSITIVE}", &line[..indent])
                });
                continue;
            }
            block = None;
        }
        let body = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if let Some((key, value)) = body.split_once(':') {
            let name = key.trim().trim_matches(['"', '\'']);
            let value_trimmed = value.trim();
            // A boolean is no secret (`lock_passwd: false`).
            let boolean = matches!(
                value_trimmed.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no"
            );
            if !name.is_empty() && !name.contains(' ') && !boolean && is_sensitive_name(name) {
                let cut = line.len() - body.len() + key.len() + 1;
                let value = value.trim();
                if value.is_empty() || value.starts_with('|') || value.starts_with('>') {
                    block = Some(indent);
                }
                out.push(format!("{} {SENSITIVE}", line.get(..cut).unwrap_or(line)));
                continue;
            }
        }
        let hash_at = CRYPT_PREFIXES.iter().filter_map(|p| line.find(p)).min();
        out.push(match hash_at {
            Some(at) => format!("{}{SENSITIVE}", line.get(..at).unwrap_or_default()),
            None => line.to_string(),
        });
    }
    out
}

/// A unified diff (`@@ -a,b +c,d @@` hunks with [`CONTEXT`] lines of context, lines marked
/// ` `, `-` and `+`) from `old` to `new`, computed on the real text and shown with
/// [`mask_secrets`] applied; at most [`MAX_LINES`] lines. Empty when the texts are equal.
pub fn unified_masked(old: &str, new: &str) -> Vec<String> {
    let diff = TextDiff::from_lines(old, new);
    let old_lines = mask_secrets(old);
    let new_lines = mask_secrets(new);
    let line_of = |lines: &[String], i: Option<usize>| -> String {
        i.and_then(|i| lines.get(i)).cloned().unwrap_or_default()
    };
    let mut out = Vec::new();
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (o, n) = (first.old_range().start, first.new_range().start);
        let (o_len, n_len) = (last.old_range().end - o, last.new_range().end - n);
        // Like diff(1): a range of length 0 starts at the line before it.
        let start = |s: usize, len: usize| if len == 0 { s } else { s + 1 };
        out.push(format!(
            "@@ -{},{o_len} +{},{n_len} @@",
            start(o, o_len),
            start(n, n_len)
        ));
        for op in &group {
            for change in diff.iter_changes(op) {
                out.push(match change.tag() {
                    ChangeTag::Equal => format!(" {}", line_of(&new_lines, change.new_index())),
                    ChangeTag::Delete => format!("-{}", line_of(&old_lines, change.old_index())),
                    ChangeTag::Insert => format!("+{}", line_of(&new_lines, change.new_index())),
                });
            }
        }
    }
    if out.len() > MAX_LINES {
        let more = out.len() - MAX_LINES;
        out.truncate(MAX_LINES);
        out.push(format!("... {more} more lines of diff not shown"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn args_added_and_removed() {
        let before = strings(&["quiet", "intel_iommu=on", "isolcpus=4-31"]);
        let after = strings(&["intel_iommu=on", "iommu=pt", "isolcpus=4-31"]);
        assert_eq!(
            args_diff(&before, &after),
            (strings(&["iommu=pt"]), strings(&["quiet"]))
        );
        let (added, removed) = args_diff(&strings(&["a", "b"]), &strings(&["b", "a"]));
        assert!(added.is_empty() && removed.is_empty());
        assert_eq!(
            args_diff(&strings(&["a"]), &strings(&["a", "a"])),
            (strings(&["a"]), vec![])
        );
    }

    #[test]
    fn secrets_are_masked_by_key_block_and_hash() {
        let text = "users:\n  - name: ops\n    lock_passwd: false\n    passwd: $6$rounds=4096$salt$HASH\n    shell: /bin/bash\nchpasswd:\n  list: |\n    root:pw1\n  expire: false\nruncmd:\n  - echo 'ops:$6$x$y' | chpasswd -e\n  - password: hunter2\n";
        let masked = mask_secrets(text).join("\n");
        for secret in ["HASH", "salt", "pw1", "$6$", "hunter2"] {
            assert!(!masked.contains(secret), "{secret} in:\n{masked}");
        }
        assert!(masked.contains("    passwd: (sensitive value)"), "{masked}");
        assert!(masked.contains("    shell: /bin/bash"), "{masked}");
        assert!(masked.contains("    lock_passwd: false"), "{masked}");
        assert!(masked.contains("runcmd:"), "{masked}");
        assert!(
            masked.contains("  - echo 'ops:(sensitive value)"),
            "{masked}"
        );
        assert_eq!(mask_secrets(text).len(), text.lines().count());
    }

    #[test]
    fn unified_diff_shows_a_rotated_secret_without_its_value() {
        let old = "a\nb\nc\nd\npasswd: $6$OLDSECRET\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\npasswd: $6$NEWSECRET\ne\nf\ng\nh\nadded\n";
        let lines = unified_masked(old, new);
        let text = lines.join("\n");
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(
            lines,
            strings(&[
                "@@ -2,8 +2,9 @@",
                " b",
                " c",
                " d",
                "-passwd: (sensitive value)",
                "+passwd: (sensitive value)",
                " e",
                " f",
                " g",
                " h",
                "+added",
            ])
        );
        assert!(unified_masked(old, old).is_empty());
    }
}
