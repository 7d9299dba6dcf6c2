//! Rendering the dependency graph: Graphviz DOT (a cluster per host) and a deterministic
//! indented text list.

use crate::plan::PlanGraph;
use crate::plan::resource::ResourceKind;
use std::collections::BTreeMap;

/// The graph as text: every node sorted by address, followed by the nodes it comes after and
/// the rules that order them (see [`PlanGraph::to_text`]), then a count line.
pub fn text(graph: &PlanGraph) -> String {
    let mut s = graph.to_text();
    s.push_str(&format!(
        "\n{} nodes, {} edges (an edge `after X [rule]` means X happens first).\n",
        graph.node_count(),
        graph.edge_count()
    ));
    s
}

/// The graph in Graphviz DOT. Arrows point in execution order (from the step that happens
/// first to the one that waits for it), each labelled with its rules; each host is a
/// `cluster_<host>` subgraph; the reboot node is an octagon and a host's completion node a
/// dashed ellipse. Render with `dot -Tsvg`.
pub fn dot(graph: &PlanGraph) -> String {
    let mut s = String::from(
        "// bmfleet dependency graph: A -> B means A happens before B.\n\
         digraph bmfleet {\n  rankdir=LR;\n  compound=true;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=8];\n",
    );
    let mut by_host: BTreeMap<&str, Vec<&crate::plan::graph::GraphNode>> = BTreeMap::new();
    for n in graph.nodes() {
        by_host.entry(n.host.as_str()).or_default().push(n);
    }
    for (host, nodes) in &by_host {
        s.push_str(&format!(
            "  subgraph {} {{\n    label={};\n    style=rounded;\n",
            quote(&format!("cluster_{host}")),
            quote(host)
        ));
        for n in nodes {
            let shape = match n.kind {
                ResourceKind::Reboot => ", shape=octagon",
                ResourceKind::Host => ", shape=ellipse, style=dashed",
                _ => "",
            };
            s.push_str(&format!(
                "    {} [label={}{shape}];\n",
                quote(&n.address.to_string()),
                quote(&n.label())
            ));
        }
        s.push_str("  }\n");
    }
    for e in graph.edges() {
        s.push_str(&format!(
            "  {} -> {} [label={}];\n",
            quote(&e.before.to_string()),
            quote(&e.after.to_string()),
            quote(&e.rules.join(", "))
        ));
    }
    s.push_str("}\n");
    s
}

/// A DOT double-quoted ID.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_dot_ids() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
