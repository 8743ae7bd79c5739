//! Certificate policy validation during path building, as Go's crypto/x509 has
//! done it since Go 1.24: RFC 5280 section 6.1 with the policy graph of RFC
//! 9618, for a verifier that asks for no particular policy (what k3s, kubectl
//! and every Go client do: `VerifyOptions` has no policy fields set). So a chain
//! fails only when a CA's policyConstraints make an explicit policy required
//! and the certificates below it do not carry one (k3s's leaves carry none),
//! or when a policyMappings maps to or from anyPolicy while mapping is allowed.

use std::collections::{BTreeMap, BTreeSet};

use der::Decode as _;
use der::asn1::ObjectIdentifier;
use x509_cert::ext::pkix::{CertificatePolicies, PolicyConstraints, PolicyMappings};

use crate::pki::cert::Certificate;

const ANY_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32.0");
const INHIBIT_ANY_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.54");

/// The policy extensions of one certificate.
struct Policies {
    policies: Vec<ObjectIdentifier>,
    mappings: Vec<(ObjectIdentifier, ObjectIdentifier)>,
    require_explicit: Option<usize>,
    inhibit_mapping: Option<usize>,
    inhibit_any: Option<usize>,
}

impl Policies {
    fn of(cert: &Certificate) -> Self {
        let tbs = cert.x509().tbs_certificate();
        let get_policies = tbs.get_extension::<CertificatePolicies>().ok().flatten();
        let mappings = tbs.get_extension::<PolicyMappings>().ok().flatten();
        let constraints = tbs.get_extension::<PolicyConstraints>().ok().flatten();
        let inhibit_any = tbs.extensions().and_then(|exts| {
            exts.iter()
                .find(|e| e.extn_id == INHIBIT_ANY_POLICY)
                .and_then(|e| u32::from_der(e.extn_value.as_bytes()).ok())
        });
        let to_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Policies {
            policies: get_policies
                .map(|(_, p)| p.0.iter().map(|i| i.policy_identifier).collect())
                .unwrap_or_default(),
            mappings: mappings
                .map(|(_, m)| {
                    m.0.iter()
                        .map(|m| (m.issuer_domain_policy, m.subject_domain_policy))
                        .collect()
                })
                .unwrap_or_default(),
            require_explicit: constraints
                .as_ref()
                .and_then(|(_, c)| c.require_explicit_policy.map(to_usize)),
            inhibit_mapping: constraints
                .as_ref()
                .and_then(|(_, c)| c.inhibit_policy_mapping.map(to_usize)),
            inhibit_any: inhibit_any.map(to_usize),
        }
    }
}

/// One node of the policy graph.
struct Node {
    valid: ObjectIdentifier,
    expected: Vec<ObjectIdentifier>,
    parents: BTreeSet<usize>,
    children: BTreeSet<usize>,
}

/// The policy graph: nodes in an arena, each depth a map from valid policy to node.
struct Graph {
    nodes: Vec<Node>,
    strata: Vec<BTreeMap<ObjectIdentifier, usize>>,
}

impl Graph {
    fn new() -> Self {
        let root = Node {
            valid: ANY_POLICY,
            expected: vec![ANY_POLICY],
            parents: BTreeSet::new(),
            children: BTreeSet::new(),
        };
        Graph {
            nodes: vec![root],
            strata: vec![BTreeMap::from([(ANY_POLICY, 0)])],
        }
    }

    fn depth(&self) -> usize {
        self.strata.len() - 1
    }

    fn insert(&mut self, valid: ObjectIdentifier, parents: &[usize]) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            valid,
            expected: vec![valid],
            parents: parents.iter().copied().collect(),
            children: BTreeSet::new(),
        });
        for p in parents {
            self.nodes[*p].children.insert(id);
        }
        let depth = self.depth();
        self.strata[depth].insert(valid, id);
        id
    }

    fn previous(&self) -> &BTreeMap<ObjectIdentifier, usize> {
        &self.strata[self.depth() - 1]
    }

    fn parents_expecting(&self, policy: ObjectIdentifier) -> Vec<usize> {
        self.previous()
            .values()
            .copied()
            .filter(|p| self.nodes[*p].expected.contains(&policy))
            .collect()
    }

    fn leaf(&self, policy: &ObjectIdentifier) -> Option<usize> {
        self.strata[self.depth()].get(policy).copied()
    }

    fn delete_leaf(&mut self, policy: &ObjectIdentifier) {
        let depth = self.depth();
        if let Some(id) = self.strata[depth].remove(policy) {
            let parents = std::mem::take(&mut self.nodes[id].parents);
            for p in parents {
                self.nodes[p].children.remove(&id);
            }
        }
    }

    /// Removes childless nodes above the current depth, bottom up.
    fn prune(&mut self) {
        for depth in (1..self.depth()).rev() {
            let childless: Vec<(ObjectIdentifier, usize)> = self.strata[depth]
                .iter()
                .filter(|(_, id)| self.nodes[**id].children.is_empty())
                .map(|(oid, id)| (*oid, *id))
                .collect();
            for (oid, id) in childless {
                let parents = std::mem::take(&mut self.nodes[id].parents);
                for p in parents {
                    self.nodes[p].children.remove(&id);
                }
                self.strata[depth].remove(&oid);
            }
        }
    }

    /// Whether any policy is valid for the whole path: a node below anyPolicy
    /// with a concrete policy, or anyPolicy at the bottom.
    fn has_valid_policy(&self) -> bool {
        let below_any = self.strata.iter().flat_map(|s| s.values()).any(|id| {
            let node = &self.nodes[*id];
            node.valid != ANY_POLICY
                && node.parents.len() == 1
                && node
                    .parents
                    .iter()
                    .all(|p| self.nodes[*p].valid == ANY_POLICY)
        });
        below_any || self.leaf(&ANY_POLICY).is_some()
    }
}

/// Go's policiesValid for `chain` = [leaf, ..., trust anchor] with default
/// options: `Err` says which certificate's policies end the chain, in words.
pub fn check_policies(chain: &[&Certificate]) -> Result<(), String> {
    if chain.len() < 2 {
        return Ok(());
    }
    let n = chain.len() - 1;
    let mut graph = Some(Graph::new());
    let (mut inhibit_any, mut explicit, mut mapping) = (n + 1, n + 1, n + 1);
    // Who set the explicit-policy counter that runs out, for the message.
    let mut explicit_from: Option<&Certificate> = None;
    for i in (0..n).rev() {
        let cert = chain[i];
        let p = Policies::of(cert);
        let self_signed = cert.subject() == cert.issuer();
        if p.policies.is_empty() {
            graph = None;
        }
        if explicit == 0 && graph.is_none() {
            let by = explicit_from
                .map(|c| format!("\"{}\"", c.subject_cn()))
                .unwrap_or_else(|| "a CA above it".into());
            return Err(format!(
                "{by} requires an explicit certificate policy (policyConstraints \
                 requireExplicitPolicy) but \"{}\" carries no certificatePolicies, so Go \
                 (1.24 and later) refuses the chain",
                cert.subject_cn()
            ));
        }
        if let Some(g) = graph.as_mut() {
            g.strata.push(BTreeMap::new());
            for policy in p.policies.iter().filter(|p| **p != ANY_POLICY) {
                let mut parents = g.parents_expecting(*policy);
                if parents.is_empty() {
                    if let Some(any) = g.previous().get(&ANY_POLICY) {
                        parents = vec![*any];
                    }
                }
                if !parents.is_empty() {
                    g.insert(*policy, &parents);
                }
            }
            if p.policies.contains(&ANY_POLICY) && (inhibit_any > 0 || (i > 0 && self_signed)) {
                let mut missing: BTreeMap<ObjectIdentifier, Vec<usize>> = BTreeMap::new();
                for parent in g.previous().values() {
                    for expected in &g.nodes[*parent].expected {
                        if g.leaf(expected).is_none() {
                            missing.entry(*expected).or_default().push(*parent);
                        }
                    }
                }
                for (policy, parents) in missing {
                    g.insert(policy, &parents);
                }
            }
            g.prune();
            if i != 0 && !p.mappings.is_empty() {
                let mut mapped: BTreeMap<ObjectIdentifier, Vec<ObjectIdentifier>> = BTreeMap::new();
                for (issuer, subject) in &p.mappings {
                    if mapping > 0 {
                        if *issuer == ANY_POLICY || *subject == ANY_POLICY {
                            return Err(format!(
                                "\"{}\" maps anyPolicy in its policyMappings, which Go (1.24 and \
                                 later) refuses",
                                cert.subject_cn()
                            ));
                        }
                        mapped.entry(*issuer).or_default().push(*subject);
                    } else {
                        g.delete_leaf(issuer);
                        g.prune();
                    }
                }
                for (issuer, subjects) in mapped {
                    if let Some(id) = g.leaf(&issuer) {
                        g.nodes[id].expected = subjects;
                    } else if let Some(any) = g.leaf(&ANY_POLICY) {
                        let id = g.insert(issuer, &[any]);
                        g.nodes[id].expected = subjects;
                    }
                }
            }
        }
        if i != 0 {
            if !self_signed {
                explicit = explicit.saturating_sub(1);
                mapping = mapping.saturating_sub(1);
                inhibit_any = inhibit_any.saturating_sub(1);
            }
            if let Some(r) = p.require_explicit.filter(|r| *r < explicit) {
                explicit = r;
                explicit_from = Some(cert);
            }
            if let Some(m) = p.inhibit_mapping.filter(|m| *m < mapping) {
                mapping = m;
            }
            if let Some(a) = p.inhibit_any.filter(|a| *a < inhibit_any) {
                inhibit_any = a;
            }
        }
    }
    explicit = explicit.saturating_sub(1);
    if Policies::of(chain[0]).require_explicit == Some(0) {
        explicit = 0;
        explicit_from = Some(chain[0]);
    }
    let valid = graph.as_ref().is_some_and(Graph::has_valid_policy);
    if explicit == 0 && !valid {
        let by = explicit_from
            .map(|c| format!("\"{}\"", c.subject_cn()))
            .unwrap_or_else(|| "a CA".into());
        return Err(format!(
            "{by} requires an explicit certificate policy (policyConstraints \
             requireExplicitPolicy) and no policy is valid for the whole chain, so Go (1.24 and \
             later) refuses it"
        ));
    }
    Ok(())
}
