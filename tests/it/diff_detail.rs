//! `bmfleet diff` shows kernel arguments as arguments added and removed and a cloud-init
//! document as a unified text diff with its secrets masked, not as two JSON lists and two
//! digests; the JSON keeps the structured before/after values.

use crate::plan_support::fleet;
use bmfleet::plan::spec_diff::spec_diff;
use std::sync::Arc;

#[test]
fn kernel_args_and_cloud_init_show_what_changed_without_secrets() {
    let mut base = fleet();
    let mut head = fleet();
    // The ops password rotates and a package is added in the compute user-data.
    let path = "cloud-init/compute/user-data";
    let text = base.data_files.get(path).unwrap().to_string();
    let with = |hash: &str, extra: &str| {
        text.replace(
            "    shell: /bin/bash\n",
            &format!("    shell: /bin/bash\n    passwd: $6$rounds=4096${hash}\n"),
        )
        .replace(
            "  - linux-tools-common\n",
            &format!("  - linux-tools-common\n{extra}"),
        )
    };
    base.data_files
        .insert(path.into(), Arc::from(with("s4ltBASE$OLDHASH", "")));
    head.data_files.insert(
        path.into(),
        Arc::from(with("s4ltHEAD$NEWHASH", "  - htop\n")),
    );
    // r1-c01 drops isolcpus and gains quiet.
    let os = head
        .hosts
        .iter_mut()
        .find(|h| h.name == "r1-c01")
        .unwrap()
        .settings
        .os
        .as_mut()
        .unwrap();
    let args = os.kernel_args.as_mut().unwrap();
    args.retain(|a| a != "isolcpus=4-31");
    args.push("quiet".into());
    let d = spec_diff(&base, &head);

    let text = bmfleet::render::diff_text::render(&d, false);
    let md = bmfleet::render::diff_markdown::render(&d);
    let json = serde_json::to_string_pretty(&d).unwrap();
    for out in [&text, &md, &json] {
        for secret in ["OLDHASH", "NEWHASH", "s4lt", "$6$"] {
            assert!(!out.contains(secret), "{secret} leaks in:\n{out}");
        }
    }
    for out in [&text, &md] {
        // Arguments, not two JSON lists.
        assert!(out.contains("- isolcpus=4-31\n"), "{out}");
        assert!(out.contains("+ quiet\n"), "{out}");
        assert!(!out.contains("[\"intel_iommu=on\""), "{out}");
        // A text diff of the document, not two digests: the rotated password shows as a
        // changed line with its value masked.
        assert!(!out.contains("sha256:"), "{out}");
        assert!(out.contains("-    passwd: (sensitive value)\n"), "{out}");
        assert!(out.contains("+    passwd: (sensitive value)\n"), "{out}");
        assert!(out.contains("+  - htop\n"), "{out}");
        assert!(out.contains("   - linux-tools-common\n"), "{out}");
        assert!(out.contains("@@ -"), "{out}");
    }
    // JSON keeps before/after and adds the lists.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let host = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "r1-c01")
        .unwrap();
    let change = host["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["setting"] == "args")
        .unwrap();
    assert!(change["before"].as_array().unwrap().len() == 4, "{change}");
    assert_eq!(
        change["detail"]["args"]["added"],
        serde_json::json!(["quiet"])
    );
    assert_eq!(
        change["detail"]["args"]["removed"],
        serde_json::json!(["isolcpus=4-31"])
    );
    let ci = host["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["setting"] == "user-data")
        .unwrap();
    assert!(ci["before"]["sha256"].is_string(), "{ci}");
    assert!(ci["detail"]["text"]["unified"].is_array(), "{ci}");
}
