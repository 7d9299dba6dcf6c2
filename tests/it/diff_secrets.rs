//! The diff goldens rotate a hashed password in cloud-init user-data between two commits:
//! the change must be visible (a masked `passwd:` line changes) but the value must never appear
//! in text, markdown or JSON output.

use std::path::Path;

#[test]
fn rotated_secret_never_appears_in_diff_output() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut checked = 0;
    for case in [
        "diff-pr-text",
        "diff-pr-markdown",
        "diff-pr-json",
        "diff-pr-fail-on",
    ] {
        let dir = golden.join(case).join("expected");
        let stdout = std::fs::read_to_string(dir.join("stdout")).unwrap();
        let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
        for text in [&stdout, &stderr] {
            for secret in [
                "s4ltBASE",
                "s4ltHEAD",
                "EXAMPLEBASEHASH",
                "EXAMPLEHEADHASH",
                "$6$",
            ] {
                assert!(!text.contains(secret), "{case} leaks {secret}");
            }
        }
        // ...while the change itself is shown.
        assert!(
            stdout.contains("user-data"),
            "{case} does not show the user-data change"
        );
        checked += 1;
    }
    // The inputs really do contain the secret (so the test can fail).
    let input = golden.join(
        "diff-pr-text/commits/2-double-1G-hugepages-add-r2-c05-remove-r1-c04-rotate-ops-password/cloud-init/compute/user-data",
    );
    assert!(std::fs::read_to_string(input).unwrap().contains("s4ltHEAD"));
    assert_eq!(checked, 4);
}
