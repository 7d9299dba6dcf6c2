//! The dependency graph of resources: which change must happen before which.
//!
//! An edge `A -> B` means "A before B". Edges come from the ordering rules in [`RULES`], one
//! readable table, and from hosts' `dependsOn`. The graph is built by a list of small named
//! transformer steps ([`TRANSFORMERS`]), as Terraform's `BasicGraphBuilder` runs its
//! `GraphTransformer`s; each step's node and edge counts are kept in [`PlanGraph::trace`].
//!
//! The same builder serves two modes, chosen by the [`ChangeIndex`] it is given:
//! - static (`bmfleet graph`): [`ChangeIndex::everything`] pretends every resource changes,
//!   so every rule that could apply draws its edge;
//! - plan: only the resources that change (and the reboot when the planner needs one) make
//!   the change-dependent rules fire; the planner then takes the topological order
//!   restricted to the changed resources as each host's steps.

use super::address::Address;
use super::resource::{Resource, ResourceKind};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::{BTreeMap, BTreeSet};

use ResourceKind as K;

/// Which kinds a rule's end matches.
#[derive(Debug, Clone, Copy)]
pub enum Kinds {
    /// Exactly these kinds.
    Only(&'static [ResourceKind]),
    /// Every kind except these.
    AnyExcept(&'static [ResourceKind]),
}

impl Kinds {
    /// True when `kind` matches.
    pub fn matches(self, kind: ResourceKind) -> bool {
        match self {
            Kinds::Only(ks) => ks.contains(&kind),
            Kinds::AnyExcept(ks) => !ks.contains(&kind),
        }
    }

    fn describe(self) -> String {
        let names =
            |ks: &[ResourceKind]| ks.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
        match self {
            Kinds::Only(ks) => names(ks),
            Kinds::AnyExcept(ks) => format!("any except {}", names(ks)),
        }
    }
}

/// When a rule's edge is drawn, for a candidate pair (`before` node, `after` node) of one
/// host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    Always,
    /// The `before` resource's change needs a reset (a reboot-class setting changes, or a
    /// staged value waits for the reset).
    BeforeNeedsReset,
    /// The host's BIOS changes this attribute.
    BiosAttributeChanges(&'static str),
    /// The host changes a resource of this kind.
    HostChanges(ResourceKind),
    /// `before` is one of the bond `after`'s ports.
    PortOfBond,
    /// `before` is the VLAN `after`'s base interface.
    BaseOfVlan,
    /// Both are about the same interface.
    SameInterface,
    /// `before` is the SR-IOV PF whose VFs the vfio resource `after` binds.
    PfOfBoundVfs,
    /// `before` is cloud-init delivered by Redfish VirtualMedia.
    DeliveredByVirtualMedia,
    /// The `after` step runs in the host's OS over SSH (every OS kind, except cloud-init
    /// delivered by Redfish VirtualMedia, which the BMC inserts).
    AfterRunsOverSsh,
}

impl Condition {
    fn describe(self) -> String {
        match self {
            Condition::Always => "always".into(),
            Condition::BeforeNeedsReset => "the earlier change needs a reset".into(),
            Condition::BiosAttributeChanges(a) => format!("BIOS {a} changes"),
            Condition::HostChanges(k) => format!("the host's {k} changes"),
            Condition::PortOfBond => "the interface is a port of the bond".into(),
            Condition::BaseOfVlan => "the interface is the VLAN's base-iface".into(),
            Condition::SameInterface => "same interface".into(),
            Condition::PfOfBoundVfs => "vfio binds VFs of this PF".into(),
            Condition::DeliveredByVirtualMedia => "cloud-init delivery is virtualMedia".into(),
            Condition::AfterRunsOverSsh => "the later step runs over SSH".into(),
        }
    }
}

/// One ordering rule: resources of kind `before` come before resources of kind `after` on the
/// same host, when `when` holds.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable name, shown on edges (`bios-before-reboot`).
    pub name: &'static str,
    /// The earlier end.
    pub before: Kinds,
    /// The later end.
    pub after: Kinds,
    /// When the edge is drawn.
    pub when: Condition,
    /// Where the rule comes from ("(b) #3" is rule 3 of section (b) of
    /// `research/anchors-baremetal.md`).
    pub source: &'static str,
}

/// Kinds whose reset-class changes are applied by the host's coalesced reboot (power changes
/// are resets of their own).
const RESET_FEEDERS: &[ResourceKind] = &[
    K::Bios,
    K::DpuMode,
    K::DpuBios,
    K::Boot,
    K::KernelArgs,
    K::Hugepages,
    K::CloudInit,
];

/// Kinds whose steps run in the host's OS over SSH (see [`ResourceKind::in_os`]): they need
/// the host powered on.
pub const OS_STEPS: &[ResourceKind] = &ResourceKind::OS;

/// The ordering rules between the resources of one host (cross-host order comes from
/// `dependsOn`, see [`DEPENDS_ON_RULE`]).
pub const RULES: &[Rule] = &[
    Rule {
        name: "bios-before-reboot",
        before: Kinds::Only(&[K::Bios]),
        after: Kinds::Only(&[K::Reboot]),
        when: Condition::BeforeNeedsReset,
        source: "(b) #3, #12: PATCH Bios/Settings (OnReset), then one reset per host (ironic redfish/bios.py; sriov parallel-node-config.md)",
    },
    Rule {
        name: "dpu-before-reboot",
        before: Kinds::Only(&[K::DpuMode, K::DpuBios]),
        after: Kinds::Only(&[K::Reboot]),
        when: Condition::BeforeNeedsReset,
        source: "(b) #13: BlueField mode change, then DPU reset and host power cycle (NVIDIA BlueField BMC, Modes of Operation)",
    },
    Rule {
        name: "boot-params-before-reboot",
        before: Kinds::Only(&[K::KernelArgs, K::Hugepages]),
        after: Kinds::Only(&[K::Reboot]),
        when: Condition::BeforeNeedsReset,
        source: "(b) #11, #12: hugepage and kernel args take effect at boot; merged into the host's one reboot",
    },
    Rule {
        name: "cloud-init-before-boot-override",
        before: Kinds::Only(&[K::CloudInit]),
        after: Kinds::Only(&[K::Boot]),
        when: Condition::DeliveredByVirtualMedia,
        source: "(b) #14: insert virtual media, then set a one-time boot override, then reset",
    },
    Rule {
        name: "cloud-init-before-reboot",
        before: Kinds::Only(&[K::CloudInit]),
        after: Kinds::Only(&[K::Reboot]),
        when: Condition::BeforeNeedsReset,
        source: "(b) #15: cloud-init data is read at the first boot of a new instance",
    },
    Rule {
        name: "boot-before-reboot",
        before: Kinds::Only(&[K::Boot]),
        after: Kinds::Only(&[K::Reboot]),
        when: Condition::Always,
        source: "(b) #14, #17: the boot override and boot mode are set before the reset that uses them",
    },
    Rule {
        name: "reboot-before-vf-count",
        before: Kinds::Only(&[K::Reboot]),
        after: Kinds::Only(&[K::SrIov]),
        when: Condition::BiosAttributeChanges("SriovGlobalEnable"),
        source: "(b) #2: BIOS SriovGlobalEnable (after its reset) before the OS sets sriov_numvfs",
    },
    Rule {
        name: "reboot-before-network-after-dpu-mode",
        before: Kinds::Only(&[K::Reboot]),
        after: Kinds::Only(&[K::Ethernet, K::Bond, K::Vlan, K::SrIov]),
        when: Condition::HostChanges(K::DpuMode),
        source: "(b) #5, #13: the DPU mode decides who owns the NIC; configure the NIC after the mode is live",
    },
    Rule {
        name: "reboot-before-vfio",
        before: Kinds::Only(&[K::Reboot]),
        after: Kinds::Only(&[K::Vfio]),
        when: Condition::HostChanges(K::KernelArgs),
        source: "(b) #8: vfio-pci needs intel_iommu=on iommu=pt in the running kernel",
    },
    Rule {
        name: "port-before-bond",
        before: Kinds::Only(&[K::Ethernet]),
        after: Kinds::Only(&[K::Bond]),
        when: Condition::PortOfBond,
        source: "(b) #10: ports, then bond, then VLAN on the bond, then IP (kubernetes-nmstate)",
    },
    Rule {
        name: "base-before-vlan",
        before: Kinds::Only(&[K::Ethernet, K::Bond]),
        after: Kinds::Only(&[K::Vlan]),
        when: Condition::BaseOfVlan,
        source: "(b) #10: ports, then bond, then VLAN on the bond, then IP (kubernetes-nmstate)",
    },
    Rule {
        name: "link-before-sr-iov",
        before: Kinds::Only(&[K::Ethernet]),
        after: Kinds::Only(&[K::SrIov]),
        when: Condition::SameInterface,
        source: "(b) #9: the PF first, then its VFs (nmstate query_apply/net_state.rs)",
    },
    Rule {
        name: "sr-iov-before-vfio",
        before: Kinds::Only(&[K::SrIov]),
        after: Kinds::Only(&[K::Vfio]),
        when: Condition::PfOfBoundVfs,
        source: "(b) #6, #9: VFs must exist (sriov_numvfs) before they are bound to vfio-pci",
    },
    Rule {
        name: "interfaces-before-routes",
        before: Kinds::Only(&[K::Ethernet, K::Bond, K::Vlan]),
        after: Kinds::Only(&[K::Routes]),
        when: Condition::Always,
        source: "(b) #10: addresses before the routes that use them",
    },
    Rule {
        name: "reboot-before-runtime-os",
        before: Kinds::Only(&[K::Reboot]),
        after: Kinds::Only(&[K::Sysctl, K::Tunables, K::Sysfs]),
        when: Condition::Always,
        source: "(b) #11: runtime settings are written to the kernel that keeps running, after the reboot",
    },
    Rule {
        name: "firmware-before-power",
        before: Kinds::Only(&[K::Bios, K::Boot, K::DpuMode, K::DpuBios]),
        after: Kinds::Only(&[K::Power]),
        when: Condition::Always,
        source: "(b) #4: BMC settings first, then the power transition that applies them (BMO online/servicing)",
    },
    Rule {
        name: "power-before-os",
        before: Kinds::Only(&[K::Power]),
        after: Kinds::Only(OS_STEPS),
        when: Condition::AfterRunsOverSsh,
        source: "issue 12: an OS step over SSH cannot run on a host that is Off, so the power transition comes first",
    },
];

/// The cross-host rule, drawn by the `depends-on` transformer: every resource of a host
/// comes after every resource of the hosts it lists in `spec.dependsOn` (through the
/// dependency's `host/<name>` node).
pub const DEPENDS_ON_RULE: Rule = Rule {
    name: "depends-on",
    before: Kinds::Only(&[K::Host]),
    after: Kinds::AnyExcept(&[K::Host]),
    when: Condition::Always,
    source: "spec.dependsOn (like Flux Kustomization dependsOn)",
};

/// A rule as one line of text: `bios-before-reboot: bios -> reboot when ... [source]`.
pub fn describe_rule(r: &Rule) -> String {
    format!(
        "{}: {} -> {} when {} [{}]",
        r.name,
        r.before.describe(),
        r.after.describe(),
        r.when.describe(),
        r.source
    )
}

/// A host's resources as the graph sees them.
#[derive(Debug, Clone)]
pub struct HostResources {
    /// The host's name.
    pub name: String,
    /// `spec.dependsOn`.
    pub depends_on: Vec<String>,
    /// [`crate::plan::flatten`]'s output.
    pub resources: Vec<Resource>,
}

/// What changes, for the change-dependent rules.
#[derive(Debug, Clone, Default)]
pub struct ChangeIndex {
    /// Changed resources by address.
    pub resources: BTreeMap<Address, ChangeFacts>,
    /// Hosts that get the coalesced `reboot` node.
    pub reboots: BTreeSet<String>,
}

/// What changes in one resource.
#[derive(Debug, Clone, Default)]
pub struct ChangeFacts {
    /// True when the change needs a reset to take effect.
    pub needs_reset: bool,
    /// The setting keys that change (or wait staged for the reset).
    pub keys: BTreeSet<String>,
}

impl ChangeIndex {
    /// The static view: every resource changes, and every host with a reset-class setting
    /// in a resource the reboot applies gets a reboot node.
    pub fn everything(hosts: &[HostResources]) -> Self {
        let mut idx = ChangeIndex::default();
        for h in hosts {
            for r in &h.resources {
                let needs_reset = r.max_disruption().resets();
                if needs_reset && RESET_FEEDERS.contains(&r.kind) {
                    idx.reboots.insert(h.name.clone());
                }
                idx.resources.insert(
                    r.address.clone(),
                    ChangeFacts {
                        needs_reset,
                        keys: r.settings.keys().cloned().collect(),
                    },
                );
            }
        }
        idx
    }
}

/// A node of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    /// Its address (`host/r1-c01/bios`, `host/r1-c01/reboot`, `host/r1-c01`).
    pub address: Address,
    /// The host.
    pub host: String,
    /// The kind.
    pub kind: ResourceKind,
}

impl GraphNode {
    /// The address relative to the host (`bios`); `host` for a host node.
    pub fn label(&self) -> String {
        if self.kind == ResourceKind::Host {
            "host".to_string()
        } else {
            self.address.relative()
        }
    }
}

/// An edge: `before` happens before `after`, because of `rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    /// The earlier node's address.
    pub before: Address,
    /// The later node's address.
    pub after: Address,
    /// The names of the rules that drew it.
    pub rules: Vec<&'static str>,
}

/// One transformer step's effect, for debugging (`trace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// The step.
    pub step: &'static str,
    /// Nodes after the step.
    pub nodes: usize,
    /// Edges after the step.
    pub edges: usize,
}

/// The built graph.
#[derive(Debug, Clone)]
pub struct PlanGraph {
    graph: DiGraph<GraphNode, Vec<&'static str>>,
    index: BTreeMap<Address, NodeIndex>,
    cycles: Vec<Vec<Address>>,
    /// Node and edge counts after each transformer step.
    pub trace: Vec<TraceEntry>,
}

/// A graph with cycles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("{}", describe_cycles(.cycles))]
#[diagnostic(
    code(bmfleet::plan::cycle),
    help(
        "remove one `dependsOn` entry of the cycle (`bmfleet graph --format text` shows every edge)"
    )
)]
pub struct GraphError {
    /// Each cycle as a path that returns to its start (`[host/a, host/b, host/a]`).
    pub cycles: Vec<Vec<Address>>,
}

/// `dependency cycle: host/a -> host/b -> host/a` (one line per cycle).
pub fn describe_cycles(cycles: &[Vec<Address>]) -> String {
    cycles
        .iter()
        .map(|c| {
            let path: Vec<String> = c.iter().map(ToString::to_string).collect();
            format!("dependency cycle: {}", path.join(" -> "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct Builder<'a> {
    hosts: &'a [HostResources],
    changes: &'a ChangeIndex,
    nodes: BTreeMap<Address, GraphNode>,
    edges: BTreeMap<(Address, Address), BTreeSet<&'static str>>,
    /// Hosts in a `dependsOn` cycle: their `dependsOn` edges among each other are skipped.
    cyclic: BTreeSet<(String, String)>,
    cycles: Vec<Vec<Address>>,
}

type Transformer = fn(&mut Builder<'_>);

/// The transformer steps, in order (their names appear in [`PlanGraph::trace`]).
const TRANSFORMERS: &[(&str, Transformer)] = &[
    ("resources", add_resources),
    ("reboot", add_reboots),
    ("rules", apply_rules),
    ("host-cycles", find_host_cycles),
    ("depends-on", add_depends_on),
    ("transitive-reduction", reduce_within_hosts),
];

/// Builds the graph of `hosts` (each host's resources, in any order). Never fails: cycles
/// are recorded (see [`PlanGraph::cycles`], [`PlanGraph::check`]); `dependsOn` edges that
/// close a cycle between hosts are left out so the rest can still be ordered.
pub fn build(hosts: &[HostResources], changes: &ChangeIndex) -> PlanGraph {
    let mut b = Builder {
        hosts,
        changes,
        nodes: BTreeMap::new(),
        edges: BTreeMap::new(),
        cyclic: BTreeSet::new(),
        cycles: Vec::new(),
    };
    let mut trace = Vec::new();
    for (name, step) in TRANSFORMERS {
        step(&mut b);
        trace.push(TraceEntry {
            step: name,
            nodes: b.nodes.len(),
            edges: b.edges.len(),
        });
    }
    let mut graph = DiGraph::new();
    let mut index = BTreeMap::new();
    for (addr, node) in b.nodes {
        let i = graph.add_node(node);
        index.insert(addr, i);
    }
    for ((before, after), rules) in b.edges {
        if let (Some(&x), Some(&y)) = (index.get(&before), index.get(&after)) {
            graph.add_edge(x, y, rules.into_iter().collect());
        }
    }
    let mut pg = PlanGraph {
        graph,
        index,
        cycles: b.cycles,
        trace,
    };
    let resource_cycles = pg.find_cycles();
    pg.cycles.extend(resource_cycles);
    pg
}

fn add_resources(b: &mut Builder<'_>) {
    for h in b.hosts {
        for r in &h.resources {
            b.nodes.insert(
                r.address.clone(),
                GraphNode {
                    address: r.address.clone(),
                    host: h.name.clone(),
                    kind: r.kind,
                },
            );
        }
    }
}

fn add_reboots(b: &mut Builder<'_>) {
    for h in b.hosts {
        if b.changes.reboots.contains(&h.name) {
            let address = ResourceKind::Reboot.address(&h.name, "");
            b.nodes.insert(
                address.clone(),
                GraphNode {
                    address,
                    host: h.name.clone(),
                    kind: ResourceKind::Reboot,
                },
            );
        }
    }
}

fn resource_for<'h>(h: &'h HostResources, address: &Address) -> Option<&'h Resource> {
    h.resources.iter().find(|r| r.address == *address)
}

fn condition_holds(
    cond: Condition,
    h: &HostResources,
    changes: &ChangeIndex,
    before: &GraphNode,
    after: &GraphNode,
) -> bool {
    let rb = resource_for(h, &before.address);
    let ra = resource_for(h, &after.address);
    let host_changes = |kind: ResourceKind| {
        h.resources
            .iter()
            .any(|r| r.kind == kind && changes.resources.contains_key(&r.address))
    };
    match cond {
        Condition::Always => true,
        Condition::BeforeNeedsReset => changes
            .resources
            .get(&before.address)
            .is_some_and(|f| f.needs_reset),
        Condition::BiosAttributeChanges(attr) => h.resources.iter().any(|r| {
            r.kind == ResourceKind::Bios
                && changes
                    .resources
                    .get(&r.address)
                    .is_some_and(|f| f.keys.contains(attr))
        }),
        Condition::HostChanges(kind) => host_changes(kind),
        Condition::PortOfBond => match (rb.and_then(|r| r.iface.as_ref()), ra) {
            (Some(port), Some(bond)) => bond.relations.ports.contains(port),
            _ => false,
        },
        Condition::BaseOfVlan => match (rb.and_then(|r| r.iface.as_ref()), ra) {
            (Some(base), Some(vlan)) => vlan.relations.base_iface.as_ref() == Some(base),
            _ => false,
        },
        Condition::SameInterface => match (rb, ra) {
            (Some(x), Some(y)) => x.iface.is_some() && x.iface == y.iface,
            _ => false,
        },
        Condition::PfOfBoundVfs => match (rb.and_then(|r| r.iface.as_ref()), ra) {
            (Some(pf), Some(vfio)) => vfio.relations.vf_pfs.contains(pf),
            _ => false,
        },
        Condition::DeliveredByVirtualMedia => rb.is_some_and(|r| r.relations.virtual_media),
        Condition::AfterRunsOverSsh => {
            after.kind.in_os() && !ra.is_some_and(|r| r.relations.virtual_media)
        }
    }
}

fn nodes_by_host(nodes: &BTreeMap<Address, GraphNode>) -> BTreeMap<&str, Vec<&GraphNode>> {
    let mut by_host: BTreeMap<&str, Vec<&GraphNode>> = BTreeMap::new();
    for n in nodes.values() {
        by_host.entry(n.host.as_str()).or_default().push(n);
    }
    by_host
}

fn apply_rules(b: &mut Builder<'_>) {
    let by_host = nodes_by_host(&b.nodes);
    let mut new_edges: Vec<(Address, Address, &'static str)> = Vec::new();
    for h in b.hosts {
        let Some(nodes) = by_host.get(h.name.as_str()) else {
            continue;
        };
        for rule in RULES {
            for before in nodes.iter().filter(|n| rule.before.matches(n.kind)) {
                for after in nodes.iter().filter(|n| rule.after.matches(n.kind)) {
                    if before.address != after.address
                        && condition_holds(rule.when, h, b.changes, before, after)
                    {
                        new_edges.push((before.address.clone(), after.address.clone(), rule.name));
                    }
                }
            }
        }
    }
    for (from, to, rule) in new_edges {
        b.edges.entry((from, to)).or_default().insert(rule);
    }
}

/// Finds cycles among hosts' `dependsOn` (restricted to the hosts in the graph), records
/// them as `host/a -> host/b -> host/a`, and marks their edges to be skipped.
fn find_host_cycles(b: &mut Builder<'_>) {
    let names: BTreeSet<&str> = b.hosts.iter().map(|h| h.name.as_str()).collect();
    let mut g: DiGraph<&str, ()> = DiGraph::new();
    let mut idx = BTreeMap::new();
    for n in &names {
        idx.insert(*n, g.add_node(*n));
    }
    for h in b.hosts {
        for d in &h.depends_on {
            if let (Some(&from), Some(&to)) = (idx.get(d.as_str()), idx.get(h.name.as_str())) {
                g.add_edge(from, to, ());
            }
        }
    }
    for cycle in cycles_of(&g) {
        let path: Vec<Address> = cycle
            .iter()
            .map(|i| Address::new(g[*i], ResourceKind::Host, None))
            .collect();
        for pair in cycle.windows(2) {
            if let [x, y] = pair {
                b.cyclic.insert((g[*x].to_string(), g[*y].to_string()));
            }
        }
        b.cycles.push(path);
    }
    // Any edge inside a strongly connected component is part of some cycle: skip them all.
    // One pass over the edges with each node's component (not one pass per component).
    let mut component: BTreeMap<NodeIndex, usize> = BTreeMap::new();
    for (c, scc) in tarjan_scc(&g).into_iter().enumerate() {
        if scc.len() > 1 {
            component.extend(scc.into_iter().map(|n| (n, c)));
        }
    }
    if !component.is_empty() {
        for e in g.edge_references() {
            if let (Some(x), Some(y)) = (component.get(&e.source()), component.get(&e.target()))
                && x == y
            {
                b.cyclic
                    .insert((g[e.source()].to_string(), g[e.target()].to_string()));
            }
        }
    }
}

fn add_depends_on(b: &mut Builder<'_>) {
    let names: BTreeSet<&str> = b.hosts.iter().map(|h| h.name.as_str()).collect();
    let by_host: BTreeMap<String, Vec<Address>> = nodes_by_host(&b.nodes)
        .into_iter()
        .map(|(h, ns)| {
            (
                h.to_string(),
                ns.iter()
                    .filter(|n| n.kind != ResourceKind::Host)
                    .map(|n| n.address.clone())
                    .collect(),
            )
        })
        .collect();
    // Nodes with a predecessor on their own host.
    let has_own_predecessor: BTreeSet<&Address> = b
        .edges
        .keys()
        .filter(|(from, to)| {
            matches!((b.nodes.get(from), b.nodes.get(to)), (Some(f), Some(t)) if f.host == t.host)
        })
        .map(|(_, to)| to)
        .collect();
    let mut new_nodes: Vec<GraphNode> = Vec::new();
    let mut new_edges: Vec<(Address, Address, &'static str)> = Vec::new();
    let mut barriers: BTreeSet<Address> = BTreeSet::new();
    let empty = Vec::new();
    for h in b.hosts {
        let deps: BTreeSet<&str> = h
            .depends_on
            .iter()
            .map(String::as_str)
            .filter(|d| names.contains(d) && *d != h.name)
            .filter(|d| !b.cyclic.contains(&(d.to_string(), h.name.clone())))
            .collect();
        if deps.is_empty() {
            continue;
        }
        let own = by_host.get(&h.name).unwrap_or(&empty);
        let roots: Vec<&Address> = own
            .iter()
            .filter(|a| !has_own_predecessor.contains(a))
            .collect();
        for dep in deps {
            let barrier = ResourceKind::Host.address(dep, "");
            if barriers.insert(barrier.clone()) {
                new_nodes.push(GraphNode {
                    address: barrier.clone(),
                    host: dep.to_string(),
                    kind: ResourceKind::Host,
                });
                for m in by_host.get(dep).unwrap_or(&empty) {
                    new_edges.push((m.clone(), barrier.clone(), "host-complete"));
                }
            }
            for r in &roots {
                new_edges.push((barrier.clone(), (*r).clone(), DEPENDS_ON_RULE.name));
            }
        }
    }
    for n in new_nodes {
        b.nodes.insert(n.address.clone(), n);
    }
    for (from, to, rule) in new_edges {
        b.edges.entry((from, to)).or_default().insert(rule);
    }
}

/// Drops edges implied by longer paths inside one host (Terraform's
/// `TransitiveReductionTransformer`), so the dump lists only direct reasons: `power` then
/// comes after the host's last steps rather than after every resource. The order is
/// unchanged. Hosts whose edges form a cycle are left as they are.
fn reduce_within_hosts(b: &mut Builder<'_>) {
    let mut per_host: BTreeMap<&str, BTreeMap<&Address, BTreeSet<&Address>>> = BTreeMap::new();
    for (from, to) in b.edges.keys() {
        let (Some(f), Some(t)) = (b.nodes.get(from), b.nodes.get(to)) else {
            continue;
        };
        if f.host == t.host {
            per_host
                .entry(f.host.as_str())
                .or_default()
                .entry(from)
                .or_default()
                .insert(to);
        }
    }
    let mut drop: Vec<(Address, Address)> = Vec::new();
    for adj in per_host.values() {
        let reaches = |start: &Address, target: &Address, skip_direct: bool| {
            let mut stack: Vec<&Address> = adj
                .get(start)
                .into_iter()
                .flatten()
                .copied()
                .filter(|n| !(skip_direct && *n == target))
                .collect();
            let mut seen: BTreeSet<&Address> = BTreeSet::new();
            while let Some(n) = stack.pop() {
                if n == target {
                    return true;
                }
                if seen.insert(n) {
                    stack.extend(adj.get(n).into_iter().flatten().copied());
                }
            }
            false
        };
        // A cycle makes "implied" meaningless: keep such a host's edges.
        let cyclic = adj
            .iter()
            .any(|(from, tos)| tos.iter().any(|to| reaches(to, from, false)));
        if cyclic {
            continue;
        }
        for (from, tos) in adj {
            for to in tos {
                if reaches(from, to, true) {
                    drop.push(((*from).clone(), (*to).clone()));
                }
            }
        }
    }
    for e in drop {
        b.edges.remove(&e);
    }
}

/// Elementary cycles, one per strongly connected component (plus self-loops), each as a
/// node path that ends where it starts, starting at the smallest node; deterministic.
fn cycles_of<N: Ord + Clone, E>(g: &DiGraph<N, E>) -> Vec<Vec<NodeIndex>> {
    let mut out = Vec::new();
    let mut sccs = tarjan_scc(g);
    for scc in &mut sccs {
        scc.sort_by(|a, b| g[*a].cmp(&g[*b]));
    }
    sccs.sort_by(|a, b| match (a.first(), b.first()) {
        (Some(x), Some(y)) => g[*x].cmp(&g[*y]),
        _ => a.len().cmp(&b.len()),
    });
    for scc in sccs {
        let Some(&start) = scc.first() else { continue };
        if scc.len() == 1 {
            if g.contains_edge(start, start) {
                out.push(vec![start, start]);
            }
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        // Breadth-first search from `start` back to `start` inside the component: the
        // shortest cycle through the smallest node.
        let mut prev: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut found = None;
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = g.neighbors(n).filter(|m| members.contains(m)).collect();
            next.sort_by(|a, b| g[*a].cmp(&g[*b]));
            next.dedup();
            for m in next {
                if m == start {
                    found = Some(n);
                    break;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(m) {
                    e.insert(n);
                    queue.push_back(m);
                }
            }
            if found.is_some() {
                break;
            }
        }
        if let Some(last) = found {
            let mut path = vec![last];
            let mut cur = last;
            while cur != start {
                match prev.get(&cur) {
                    Some(&p) => {
                        path.push(p);
                        cur = p;
                    }
                    None => break,
                }
            }
            path.reverse();
            path.push(start);
            out.push(path);
        }
    }
    out
}

impl PlanGraph {
    fn find_cycles(&self) -> Vec<Vec<Address>> {
        let addr_graph = self.graph.map(|_, n| n.address.clone(), |_, _| ());
        cycles_of(&addr_graph)
            .into_iter()
            .map(|c| c.into_iter().map(|i| addr_graph[i].clone()).collect())
            .collect()
    }

    /// Cycles found while building (host `dependsOn` cycles first), each a path that returns
    /// to its start.
    pub fn cycles(&self) -> &[Vec<Address>] {
        &self.cycles
    }

    /// The graph, or the cycles it has.
    ///
    /// # Errors
    /// [`GraphError`] listing every cycle as a path.
    pub fn check(self) -> Result<Self, GraphError> {
        if self.cycles.is_empty() {
            Ok(self)
        } else {
            Err(GraphError {
                cycles: self.cycles,
            })
        }
    }

    /// Nodes sorted by address.
    pub fn nodes(&self) -> impl Iterator<Item = &GraphNode> {
        self.index.values().map(|i| &self.graph[*i])
    }

    /// The node at `address`.
    pub fn node(&self, address: &Address) -> Option<&GraphNode> {
        self.index.get(address).map(|i| &self.graph[*i])
    }

    /// Edges sorted by (before, after).
    pub fn edges(&self) -> Vec<GraphEdge> {
        let mut out: Vec<GraphEdge> = self
            .graph
            .edge_references()
            .map(|e| GraphEdge {
                before: self.graph[e.source()].address.clone(),
                after: self.graph[e.target()].address.clone(),
                rules: e.weight().clone(),
            })
            .collect();
        out.sort_by(|a, b| (&a.before, &a.after).cmp(&(&b.before, &b.after)));
        out
    }

    /// The nodes that must come before `address`, sorted, with the rules that say so.
    pub fn dependencies(&self, address: &Address) -> Vec<(Address, Vec<&'static str>)> {
        let Some(&i) = self.index.get(address) else {
            return Vec::new();
        };
        let mut deps: Vec<(Address, Vec<&'static str>)> = self
            .graph
            .edges_directed(i, petgraph::Direction::Incoming)
            .map(|e| (self.graph[e.source()].address.clone(), e.weight().clone()))
            .collect();
        deps.sort();
        deps
    }

    /// Every node in an order that respects every edge. Among the nodes that are ready, the
    /// smallest (host, step rank of the kind, address) goes first, so the order is
    /// deterministic and reads naturally (firmware, reboot, links, runtime settings, power).
    /// Nodes on a cycle come last, sorted by address.
    pub fn topological_order(&self) -> Vec<&GraphNode> {
        let key = |i: NodeIndex| {
            let n = &self.graph[i];
            (n.host.clone(), n.kind.step_rank(), n.address.clone(), i)
        };
        let mut indegree: BTreeMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|i| {
                (
                    i,
                    self.graph
                        .neighbors_directed(i, petgraph::Direction::Incoming)
                        .count(),
                )
            })
            .collect();
        let mut ready: BTreeSet<(String, u8, Address, NodeIndex)> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(i, _)| key(*i))
            .collect();
        let mut out = Vec::with_capacity(self.graph.node_count());
        let mut done = BTreeSet::new();
        while let Some(k) = ready.pop_first() {
            let i = k.3;
            out.push(&self.graph[i]);
            done.insert(i);
            for m in self
                .graph
                .neighbors_directed(i, petgraph::Direction::Outgoing)
            {
                if let Some(d) = indegree.get_mut(&m) {
                    *d = d.saturating_sub(1);
                    if *d == 0 {
                        ready.insert(key(m));
                    }
                }
            }
        }
        if out.len() < self.graph.node_count() {
            let mut rest: Vec<&GraphNode> = self
                .graph
                .node_indices()
                .filter(|i| !done.contains(i))
                .map(|i| &self.graph[i])
                .collect();
            rest.sort_by(|a, b| a.address.cmp(&b.address));
            out.extend(rest);
        }
        out
    }

    /// A stable text dump: every node sorted by address, each followed by the nodes it comes
    /// after and the rules that order them:
    ///
    /// ```text
    /// host/a/reboot
    ///   after host/a/bios [bios-before-reboot]
    /// ```
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for n in self.nodes() {
            s.push_str(&n.address.to_string());
            s.push('\n');
            for (dep, rules) in self.dependencies(&n.address) {
                s.push_str(&format!("  after {dep} [{}]\n", rules.join(", ")));
            }
        }
        s
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_unique_and_kebab_case() {
        let mut names = BTreeSet::new();
        for r in RULES {
            assert!(names.insert(r.name), "duplicate rule {}", r.name);
            assert!(r.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert!(!r.source.is_empty());
        }
        assert!(!names.contains(DEPENDS_ON_RULE.name));
    }

    #[test]
    fn describe_rule_reads_as_a_sentence() {
        let r = RULES.iter().find(|r| r.name == "power-before-os").unwrap();
        assert!(
            describe_rule(r).starts_with(
                "power-before-os: power -> ethernet, bond, vlan, sr-iov, routes, dns, kernel-args, hugepages, sysctl, tunables, sysfs, vfio, cloud-init when the later step runs over SSH"
            ),
            "{}",
            describe_rule(r)
        );
    }

    #[test]
    fn os_steps_are_the_os_kinds() {
        let os: Vec<ResourceKind> = ResourceKind::ALL
            .into_iter()
            .filter(|k| k.in_os())
            .collect();
        assert_eq!(os, OS_STEPS);
    }

    #[test]
    fn cycles_of_finds_the_shortest_cycle_through_the_smallest_node() {
        let mut g: DiGraph<&str, ()> = DiGraph::new();
        let a = g.add_node("a");
        let b = g.add_node("b");
        let c = g.add_node("c");
        let d = g.add_node("d");
        g.add_edge(a, b, ());
        g.add_edge(b, c, ());
        g.add_edge(c, a, ());
        g.add_edge(b, a, ());
        g.add_edge(d, d, ());
        let cycles: Vec<Vec<&str>> = cycles_of(&g)
            .into_iter()
            .map(|c| c.into_iter().map(|i| g[i]).collect())
            .collect();
        assert_eq!(cycles, vec![vec!["a", "b", "a"], vec!["d", "d"]]);
    }
}
