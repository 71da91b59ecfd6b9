//! The benchmark scenarios and the exact parameters each runs with.

use serde::Serialize;

use super::metrics::Rates;
use crate::confluence::access::AccessSpec;
use crate::confluence::GenerateSpec;

/// One benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// 10,000 pages in 20 spaces, 5,000 attachments, Confluence 600 rpm, Unique 1,200 rpm.
    Initial10k,
    /// The initial-10k tenant synced again with nothing changed.
    ResyncNochange,
    /// The initial-10k tenant with 1 % edited, 1 % deleted, 1 % relabelled away.
    Resync1pct,
    /// One 1 GiB attachment streamed from Confluence into Unique.
    BigAttachment,
    /// 100,000 tiny pages, as a dry run (discovery + file diff): discovery memory.
    Discovery100k,
    /// 1,000 new pages under a 100 rpm Confluence limit: the batched body fetch.
    Rate100rpm,
    /// The initial-10k tenant with a permission model (2,000 users, 200 groups, 5 % of pages
    /// view-restricted, a third of those below another restricted page), synced with
    /// `permissions.mode: page`.
    PermissionsInitial,
    /// The permissions tenant synced again with nothing changed: compared with
    /// resync-nochange, the cost of carrying permissions.
    PermissionsResync,
}

impl Scenario {
    /// Every scenario, in the order `all` runs them (the resync chain right after its setup).
    pub const ALL: [Scenario; 8] = [
        Scenario::Initial10k,
        Scenario::ResyncNochange,
        Scenario::Resync1pct,
        Scenario::BigAttachment,
        Scenario::Discovery100k,
        Scenario::Rate100rpm,
        Scenario::PermissionsInitial,
        Scenario::PermissionsResync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Initial10k => "initial-10k",
            Scenario::ResyncNochange => "resync-nochange",
            Scenario::Resync1pct => "resync-1pct",
            Scenario::BigAttachment => "big-attachment",
            Scenario::Discovery100k => "discovery-100k",
            Scenario::Rate100rpm => "rate-100rpm",
            Scenario::PermissionsInitial => "permissions-10k",
            Scenario::PermissionsResync => "permissions-resync",
        }
    }

    /// Parses a name; `all` expands to [`Scenario::ALL`].
    pub fn parse_list(names: &[String]) -> Result<Vec<Scenario>, String> {
        let mut out = Vec::new();
        for name in names {
            if name == "all" {
                out.extend(Scenario::ALL);
                continue;
            }
            let scenario = Scenario::ALL
                .into_iter()
                .find(|s| s.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                    format!(
                        "unknown scenario {name:?}; known: {}, all",
                        known.join(", ")
                    )
                })?;
            out.push(scenario);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The scenario whose tenant (sandbox and state) this one runs on, when it is a resync:
    /// that scenario runs first as setup when not asked for.
    pub fn chain(self) -> Option<Scenario> {
        match self {
            Scenario::Initial10k | Scenario::ResyncNochange | Scenario::Resync1pct => {
                Some(Scenario::Initial10k)
            }
            Scenario::PermissionsInitial | Scenario::PermissionsResync => {
                Some(Scenario::PermissionsInitial)
            }
            Scenario::BigAttachment | Scenario::Discovery100k | Scenario::Rate100rpm => None,
        }
    }

    /// The tenant, the limits and the run mode, with page and attachment counts multiplied by
    /// `scale` (at least one page per space; the big attachment keeps its size).
    pub fn params(self, scale: f64) -> ScenarioParams {
        let scaled = |n: usize| ((n as f64 * scale).round() as usize).max(1);
        let issue_rates = Rates {
            confluence_per_minute: 600,
            unique_per_minute: 1200,
        };
        match self {
            Scenario::Initial10k | Scenario::ResyncNochange | Scenario::Resync1pct => {
                ScenarioParams {
                    spec: GenerateSpec {
                        seed: 7,
                        spaces: 20,
                        pages_per_space: scaled(500),
                        max_depth: 4,
                        // About half the spaces are synced through their root's subtree label;
                        // in the others every page carries the single label. A tenth of the
                        // pages inside subtrees carry both (discovery must dedupe them).
                        subtree_ratio: 0.5,
                        single_ratio: 1.0,
                        subtree_single_ratio: Some(0.1),
                        blogposts_per_space: 0,
                        total_attachments: Some(scaled(5_000)),
                        attachment_min_bytes: 4 * 1024,
                        attachment_max_bytes: 4 * 1024 * 1024,
                        attachment_sizes_log_uniform: true,
                        paragraphs: 3,
                        ..GenerateSpec::default()
                    },
                    rates: issue_rates,
                    latency_ms: 20,
                    dry_run: false,
                    max_file_size_mb: 200,
                    permissions: false,
                }
            }
            Scenario::PermissionsInitial | Scenario::PermissionsResync => {
                let mut params = Scenario::Initial10k.params(scale);
                params.spec.access = AccessSpec {
                    users: scaled(2_000),
                    groups: scaled(200),
                    restricted_ratio: 0.05,
                    nested_ratio: 0.35,
                    ..AccessSpec::default()
                };
                params.permissions = true;
                params
            }
            Scenario::BigAttachment => ScenarioParams {
                spec: GenerateSpec {
                    seed: 11,
                    spaces: 1,
                    pages_per_space: 1,
                    subtree_ratio: 0.0,
                    single_ratio: 1.0,
                    blogposts_per_space: 0,
                    total_attachments: Some(1),
                    attachment_min_bytes: BIG_ATTACHMENT_BYTES,
                    attachment_max_bytes: BIG_ATTACHMENT_BYTES,
                    paragraphs: 1,
                    ..GenerateSpec::default()
                },
                rates: issue_rates,
                latency_ms: 20,
                dry_run: false,
                max_file_size_mb: 2048,
                permissions: false,
            },
            Scenario::Discovery100k => ScenarioParams {
                spec: GenerateSpec {
                    seed: 13,
                    spaces: 20,
                    pages_per_space: scaled(5_000),
                    max_depth: 6,
                    subtree_ratio: 0.5,
                    single_ratio: 1.0,
                    subtree_single_ratio: Some(0.1),
                    blogposts_per_space: 0,
                    total_attachments: Some(0),
                    paragraphs: 0,
                    ..GenerateSpec::default()
                },
                // A dry run makes only discovery and file-diff requests (about 450 gateway
                // requests and 20 diffs for 100,000 pages), so the issue's rates finish it in
                // about a minute; ingesting 100,000 pages would take 200,000 Unique requests.
                rates: issue_rates,
                latency_ms: 20,
                dry_run: true,
                max_file_size_mb: 200,
                permissions: false,
            },
            Scenario::Rate100rpm => ScenarioParams {
                spec: GenerateSpec {
                    seed: 17,
                    spaces: 4,
                    pages_per_space: scaled(250),
                    max_depth: 4,
                    subtree_ratio: 0.5,
                    single_ratio: 1.0,
                    subtree_single_ratio: Some(0.1),
                    blogposts_per_space: 0,
                    total_attachments: Some(0),
                    paragraphs: 3,
                    ..GenerateSpec::default()
                },
                rates: Rates {
                    confluence_per_minute: 100,
                    unique_per_minute: 1200,
                },
                latency_ms: 20,
                dry_run: false,
                max_file_size_mb: 200,
                permissions: false,
            },
        }
    }
}

/// 1 GiB.
pub const BIG_ATTACHMENT_BYTES: u64 = 1024 * 1024 * 1024;

/// Everything that defines one scenario's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioParams {
    /// The generated Confluence tenant.
    #[serde(skip)]
    pub spec: GenerateSpec,
    /// Enforced by the sandbox and configured in the tenant, identically.
    pub rates: Rates,
    /// Added to every request on every simulated service.
    pub latency_ms: u64,
    /// `sync --dry-run`: discovery and file diff only.
    pub dry_run: bool,
    /// The tenant's `ingestion.attachments.maxFileSizeMb`.
    pub max_file_size_mb: u32,
    /// `permissions.mode: page`, with every Confluence person who has an email mirrored as a
    /// Unique user.
    pub permissions: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn all_expands_in_chain_order_and_duplicates_collapse() {
        let names = ["resync-1pct", "all", "initial-10k"].map(String::from);
        assert_eq!(
            Scenario::parse_list(&names).unwrap(),
            Scenario::ALL.to_vec()
        );
        assert!(Scenario::parse_list(&["nope".into()]).is_err());
    }

    #[test]
    fn issue_parameters_are_the_default() {
        let p = Scenario::Initial10k.params(1.0);
        assert_eq!(p.spec.spaces * p.spec.pages_per_space, 10_000);
        assert_eq!(p.spec.total_attachments, Some(5_000));
        assert_eq!(
            (p.rates.confluence_per_minute, p.rates.unique_per_minute),
            (600, 1200)
        );
        assert_eq!(p.latency_ms, 20);
        let d = Scenario::Discovery100k.params(1.0);
        assert_eq!(d.spec.spaces * d.spec.pages_per_space, 100_000);
        let perm = Scenario::PermissionsInitial.params(1.0);
        assert_eq!(perm.spec.spaces * perm.spec.pages_per_space, 10_000);
        assert_eq!(
            (perm.spec.access.users, perm.spec.access.groups),
            (2_000, 200)
        );
        assert_eq!(perm.spec.access.restricted_ratio, 0.05);
        assert!(perm.permissions);
        let r = Scenario::Rate100rpm.params(1.0);
        assert_eq!(r.spec.spaces * r.spec.pages_per_space, 1_000);
        assert_eq!(r.rates.confluence_per_minute, 100);
    }

    #[test]
    fn scale_shrinks_counts_but_not_the_big_attachment() {
        let p = Scenario::Initial10k.params(0.05);
        assert_eq!(p.spec.pages_per_space, 25);
        assert_eq!(p.spec.total_attachments, Some(250));
        let b = Scenario::BigAttachment.params(0.05);
        assert_eq!(b.spec.attachment_min_bytes, BIG_ATTACHMENT_BYTES);
    }
}
