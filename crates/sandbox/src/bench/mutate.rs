//! Mutations of a generated tenant between two syncs (`resync-1pct`): which pages to edit, delete
//! and relabel so that each one really changes what the connector must do.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::confluence::{ConfluenceSim, ContentEdit, ContentType, Dataset, MutationError};

/// What to change, as shares of the synced pages.
#[derive(Debug, Clone, PartialEq)]
pub struct MutationSpec {
    pub seed: u64,
    pub edit_ratio: f64,
    pub delete_ratio: f64,
    pub relabel_ratio: f64,
    pub single_label: String,
    pub all_label: String,
}

impl MutationSpec {
    /// 1 % edited, 1 % deleted, 1 % relabelled away, with the generator's default labels.
    pub fn one_percent(seed: u64) -> Self {
        Self {
            seed,
            edit_ratio: 0.01,
            delete_ratio: 0.01,
            relabel_ratio: 0.01,
            single_label: "ai-ingest".into(),
            all_label: "ai-ingest-all".into(),
        }
    }
}

/// Disjoint sets of page ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mutations {
    /// Body changed (new version): the page must be re-ingested, its attachments not.
    pub edited: Vec<String>,
    /// Deleted (children move up and stay synced): the page and its attachments must go.
    pub deleted: Vec<String>,
    /// Ingest labels removed from a page that is synced only through its own label: the page and
    /// its attachments must go.
    pub relabelled: Vec<String>,
}

impl Mutations {
    /// Picks the pages. Counts are `ratio × synced pages`, rounded; each set is drawn only from
    /// pages where the change matters: a subtree root is never deleted (that would unsync the
    /// whole tree) and only pages synced by their own single label are relabelled.
    pub fn plan(dataset: &Dataset, spec: &MutationSpec) -> Self {
        let by_id: HashMap<&str, _> = dataset.content.iter().map(|c| (c.id.as_str(), c)).collect();
        let has = |labels: &[String], label: &str| labels.iter().any(|l| l == label);
        let under_subtree = |id: &str| {
            let mut current = by_id.get(id).copied();
            let mut steps = 0;
            while let Some(c) = current {
                if has(&c.labels, &spec.all_label) {
                    return true;
                }
                steps += 1;
                if steps > dataset.content.len() {
                    return false;
                }
                current = c.parent.as_deref().and_then(|p| by_id.get(p).copied());
            }
            false
        };
        let pages: Vec<&crate::confluence::Content> = dataset
            .content
            .iter()
            .filter(|c| c.content_type == ContentType::Page)
            .collect();
        let synced: Vec<&str> = pages
            .iter()
            .filter(|c| has(&c.labels, &spec.single_label) || under_subtree(&c.id))
            .map(|c| c.id.as_str())
            .collect();
        let count = |ratio: f64| (ratio * synced.len() as f64).round() as usize;

        let mut rng = StdRng::seed_from_u64(spec.seed);
        let mut taken: BTreeSet<&str> = BTreeSet::new();
        let relabel_candidates = synced
            .iter()
            .copied()
            .filter(|id| !under_subtree(id))
            .collect();
        let relabelled = draw(
            &mut rng,
            relabel_candidates,
            count(spec.relabel_ratio),
            &mut taken,
        );
        let delete_candidates = synced
            .iter()
            .copied()
            .filter(|id| {
                by_id
                    .get(id)
                    .is_some_and(|c| !has(&c.labels, &spec.all_label))
            })
            .collect();
        let deleted = draw(
            &mut rng,
            delete_candidates,
            count(spec.delete_ratio),
            &mut taken,
        );
        let edited = draw(&mut rng, synced.clone(), count(spec.edit_ratio), &mut taken);
        Self {
            edited,
            deleted,
            relabelled,
        }
    }

    /// Applies the mutations to a running Confluence simulator.
    pub fn apply(&self, sim: &ConfluenceSim, spec: &MutationSpec) -> Result<(), MutationError> {
        for id in &self.edited {
            let body = sim
                .content(id)
                .map(|c| format!("{}<p>Edited for the benchmark.</p>", c.body));
            sim.edit_content(
                id,
                ContentEdit {
                    body,
                    ..ContentEdit::default()
                },
            )?;
        }
        for id in &self.relabelled {
            let labels = sim
                .content(id)
                .map(|c| {
                    c.labels
                        .into_iter()
                        .filter(|l| *l != spec.single_label && *l != spec.all_label)
                        .collect()
                })
                .unwrap_or_default();
            sim.set_labels(id, labels)?;
        }
        for id in &self.deleted {
            sim.delete_content(id)?;
        }
        Ok(())
    }
}

/// Up to `n` of `candidates` not yet taken, at random, in id order; marks them taken.
fn draw<'a>(
    rng: &mut StdRng,
    candidates: Vec<&'a str>,
    n: usize,
    taken: &mut BTreeSet<&'a str>,
) -> Vec<String> {
    let mut candidates: Vec<&str> = candidates
        .into_iter()
        .filter(|id| !taken.contains(id))
        .collect();
    candidates.shuffle(rng);
    candidates.truncate(n);
    candidates.sort_unstable_by_key(|id| id.parse::<u64>().unwrap_or(u64::MAX));
    taken.extend(candidates.iter().copied());
    candidates.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::confluence::{ConfluenceConfig, GenerateSpec};

    fn mixed_tenant() -> Dataset {
        GenerateSpec {
            seed: 3,
            spaces: 8,
            pages_per_space: 50,
            subtree_ratio: 0.5,
            single_ratio: 1.0,
            subtree_single_ratio: Some(0.1),
            blogposts_per_space: 0,
            max_attachments_per_page: 0,
            ..GenerateSpec::default()
        }
        .generate()
    }

    #[test]
    fn one_percent_of_400_synced_pages_is_four_of_each_disjoint_and_meaningful() {
        let dataset = mixed_tenant();
        let m = Mutations::plan(&dataset, &MutationSpec::one_percent(9));
        assert_eq!(
            (m.edited.len(), m.deleted.len(), m.relabelled.len()),
            (4, 4, 4)
        );
        let all: BTreeSet<&String> = m
            .edited
            .iter()
            .chain(&m.deleted)
            .chain(&m.relabelled)
            .collect();
        assert_eq!(all.len(), 12, "the sets must be disjoint");
        let content = |id: &str| dataset.content.iter().find(|c| c.id == id).unwrap();
        for id in &m.deleted {
            assert!(!content(id).labels.iter().any(|l| l == "ai-ingest-all"));
        }
        for id in &m.relabelled {
            let c = content(id);
            assert!(c.labels.iter().any(|l| l == "ai-ingest"));
            let space_root = dataset.content.iter().find(|r| r.space == c.space).unwrap();
            assert!(!space_root.labels.iter().any(|l| l == "ai-ingest-all"));
        }
        assert_eq!(m, Mutations::plan(&dataset, &MutationSpec::one_percent(9)));
    }

    #[test]
    fn applying_bumps_versions_removes_labels_and_deletes() {
        let dataset = mixed_tenant();
        let spec = MutationSpec::one_percent(9);
        let m = Mutations::plan(&dataset, &spec);
        let sim = ConfluenceSim::new(ConfluenceConfig {
            dataset,
            ..ConfluenceConfig::default()
        })
        .unwrap();
        m.apply(&sim, &spec).unwrap();
        for id in &m.edited {
            assert_eq!(sim.content(id).unwrap().version, 2);
        }
        for id in &m.relabelled {
            assert!(!sim
                .content(id)
                .unwrap()
                .labels
                .iter()
                .any(|l| l == "ai-ingest"));
        }
        for id in &m.deleted {
            assert!(sim.content(id).is_none());
        }
    }
}
