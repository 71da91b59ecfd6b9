//! Deterministic dataset generator for benchmarks and the demo: the same spec always produces
//! the same spaces, trees, labels and attachments.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::access::{AccessModel, AccessSpec};
use super::model::{
    default_when, Attachment, AttachmentData, Content, ContentType, Dataset, Space, SpaceType,
};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateSpec {
    pub seed: u64,
    pub spaces: usize,
    pub pages_per_space: usize,
    /// Deepest level below a space's root page.
    pub max_depth: usize,
    /// Share of spaces whose root page carries `all_label` (the whole tree is synced).
    pub subtree_ratio: f64,
    /// Share of other pages that carry `single_label`.
    pub single_ratio: f64,
    pub single_label: String,
    pub all_label: String,
    /// Blog posts per space (labelled with `single_label` at `single_ratio`).
    pub blogposts_per_space: usize,
    /// Attachments per page: uniformly 0..=this.
    pub max_attachments_per_page: usize,
    pub attachment_min_bytes: u64,
    pub attachment_max_bytes: u64,
    /// Paragraphs per page body.
    pub paragraphs: usize,
    /// Share of non-root pages in subtree spaces that also carry `single_label` (a page both
    /// labelled and inside a labelled subtree, which discovery must dedupe). `None`: `single_ratio`.
    pub subtree_single_ratio: Option<f64>,
    /// Exactly this many attachments over the whole dataset, spread evenly over the pages in
    /// creation order; replaces the random `0..=max_attachments_per_page` per page.
    pub total_attachments: Option<usize>,
    /// Attachment sizes log-uniform between `attachment_min_bytes` and `attachment_max_bytes`
    /// (many small files, a few large ones, as in a real wiki) instead of uniform.
    pub attachment_sizes_log_uniform: bool,
    /// Users, groups, space permissions and restrictions (none unless `access.users > 0`).
    pub access: AccessSpec,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            spaces: 3,
            pages_per_space: 20,
            max_depth: 4,
            subtree_ratio: 0.5,
            single_ratio: 0.3,
            single_label: "ai-ingest".into(),
            all_label: "ai-ingest-all".into(),
            blogposts_per_space: 1,
            max_attachments_per_page: 2,
            attachment_min_bytes: 1024,
            attachment_max_bytes: 64 * 1024,
            paragraphs: 3,
            subtree_single_ratio: None,
            total_attachments: None,
            attachment_sizes_log_uniform: false,
            access: AccessSpec::default(),
        }
    }
}

/// A `--generate` argument that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("--generate expects SEED:SPACES:PAGES[:MAX_ATTACHMENTS[:MAX_BYTES]], got {0:?}")]
pub struct GenerateSpecError(String);

impl std::str::FromStr for GenerateSpec {
    type Err = GenerateSpecError;

    /// `SEED:SPACES:PAGES[:MAX_ATTACHMENTS[:MAX_BYTES]]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || GenerateSpecError(s.to_owned());
        let parts: Vec<u64> = s
            .split(':')
            .map(|p| p.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| err())?;
        if !(3..=5).contains(&parts.len()) {
            return Err(err());
        }
        let mut spec = GenerateSpec {
            seed: parts[0],
            spaces: usize::try_from(parts[1]).map_err(|_| err())?,
            pages_per_space: usize::try_from(parts[2]).map_err(|_| err())?,
            ..GenerateSpec::default()
        };
        if let Some(n) = parts.get(3) {
            spec.max_attachments_per_page = usize::try_from(*n).map_err(|_| err())?;
        }
        if let Some(n) = parts.get(4) {
            spec.attachment_max_bytes = *n;
            spec.attachment_min_bytes = spec.attachment_min_bytes.min(*n);
        }
        Ok(spec)
    }
}

const SPACE_TYPES: [SpaceType; 4] = [
    SpaceType::Global,
    SpaceType::Collaboration,
    SpaceType::Global,
    SpaceType::KnowledgeBase,
];
const MEDIA_TYPES: [(&str, &str); 4] = [
    ("text/plain", "txt"),
    ("application/pdf", "pdf"),
    ("image/png", "png"),
    ("text/csv", "csv"),
];
const OTHER_LABELS: [&str; 4] = ["draft", "howto", "meeting-notes", "archive"];
const WORDS: [&str; 12] = [
    "sandbox",
    "confluence",
    "sync",
    "label",
    "space",
    "page",
    "tree",
    "body",
    "storage",
    "format",
    "attachment",
    "cursor",
];

impl GenerateSpec {
    /// Builds the dataset and its permission model (empty unless `access.users > 0`).
    pub fn generate_with_access(&self) -> (Dataset, AccessModel) {
        let dataset = self.generate();
        let access = self.access.generate(self.seed, &dataset);
        (dataset, access)
    }

    /// Builds the dataset.
    pub fn generate(&self) -> Dataset {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut dataset = Dataset::default();
        let mut next_content: u64 = 100_000;
        let mut next_attachment: u64 = 500_000;
        let when = default_when();
        let total_pages = self.spaces * self.pages_per_space;
        for s in 0..self.spaces {
            let key = format!("GEN{s}");
            dataset.spaces.push(Space {
                id: (10_000 + s as u64).to_string(),
                key: key.clone(),
                name: format!("Generated Space {s}"),
                space_type: SPACE_TYPES[s % SPACE_TYPES.len()],
            });
            let subtree = rng.random::<f64>() < self.subtree_ratio;
            // (id, depth) of the pages so far, to pick parents from.
            let mut pages: Vec<(String, usize)> = Vec::new();
            for p in 0..self.pages_per_space {
                let id = next_content.to_string();
                next_content += 1;
                let (parent, depth) = if p == 0 {
                    (None, 0)
                } else {
                    let eligible: Vec<&(String, usize)> =
                        pages.iter().filter(|(_, d)| *d < self.max_depth).collect();
                    match eligible.get(rng.random_range(0..eligible.len().max(1))) {
                        Some((pid, d)) => (Some(pid.clone()), d + 1),
                        None => (None, 0),
                    }
                };
                let mut labels = Vec::new();
                let single_ratio = match self.subtree_single_ratio {
                    Some(ratio) if subtree => ratio,
                    _ => self.single_ratio,
                };
                if p == 0 && subtree {
                    labels.push(self.all_label.clone());
                } else if rng.random::<f64>() < single_ratio {
                    labels.push(self.single_label.clone());
                }
                if rng.random::<f64>() < 0.3 {
                    labels.push(OTHER_LABELS[rng.random_range(0..OTHER_LABELS.len())].to_owned());
                }
                let attachment_count = match self.total_attachments {
                    Some(total) => evenly_spread(total, total_pages, s * self.pages_per_space + p),
                    None => rng.random_range(0..=self.max_attachments_per_page),
                };
                let attachments = (0..attachment_count)
                    .map(|a| {
                        let (media_type, ext) = MEDIA_TYPES[rng.random_range(0..MEDIA_TYPES.len())];
                        let size = self.attachment_size(&mut rng);
                        let id = format!("att{next_attachment}");
                        next_attachment += 1;
                        Attachment {
                            id,
                            title: format!("file-{p}-{a}.{ext}"),
                            media_type: media_type.into(),
                            version: 1,
                            when,
                            data: AttachmentData::Generated {
                                seed: rng.random(),
                                size,
                            },
                        }
                    })
                    .collect();
                let body = self.body(&mut rng, &key, p);
                dataset.content.push(Content {
                    id: id.clone(),
                    content_type: ContentType::Page,
                    title: format!("{key} Page {p}"),
                    space: key.clone(),
                    parent,
                    labels,
                    body,
                    version: 1,
                    when,
                    attachments,
                });
                pages.push((id, depth));
            }
            for b in 0..self.blogposts_per_space {
                let id = next_content.to_string();
                next_content += 1;
                let labels = if rng.random::<f64>() < self.single_ratio {
                    vec![self.single_label.clone()]
                } else {
                    Vec::new()
                };
                let body = self.body(&mut rng, &key, b);
                dataset.content.push(Content {
                    id,
                    content_type: ContentType::Blogpost,
                    title: format!("{key} Blog {b}"),
                    space: key.clone(),
                    parent: None,
                    labels,
                    body,
                    version: 1,
                    when,
                    attachments: Vec::new(),
                });
            }
        }
        dataset
    }

    fn attachment_size(&self, rng: &mut StdRng) -> u64 {
        let min = self.attachment_min_bytes;
        let max = self.attachment_max_bytes.max(min);
        if !self.attachment_sizes_log_uniform || min == 0 || min == max {
            return rng.random_range(min..=max);
        }
        let (lo, hi) = ((min as f64).ln(), (max as f64).ln());
        let size = (lo + rng.random::<f64>() * (hi - lo)).exp().round() as u64;
        size.clamp(min, max)
    }

    fn body(&self, rng: &mut StdRng, key: &str, n: usize) -> String {
        let mut body = format!("<h1>{key} {n}</h1>");
        for _ in 0..self.paragraphs {
            body.push_str("<p>");
            for w in 0..12 {
                if w > 0 {
                    body.push(' ');
                }
                body.push_str(WORDS[rng.random_range(0..WORDS.len())]);
            }
            body.push_str(".</p>");
        }
        body
    }
}

/// How many of `total` items fall on slot `index` of `slots` when they are spread evenly
/// (slot counts differ by at most one and sum to `total`).
fn evenly_spread(total: usize, slots: usize, index: usize) -> usize {
    if slots == 0 {
        return 0;
    }
    (index + 1) * total / slots - index * total / slots
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::confluence::access::{
        page_readers, AccountStatus, AccountType, Restriction, RestrictionOperation,
    };
    use std::collections::BTreeSet;

    #[test]
    fn same_seed_same_dataset_and_it_validates() {
        let spec: GenerateSpec = "7:4:30:3:2048".parse().unwrap();
        let a = spec.generate();
        assert_eq!(a, spec.generate());
        a.validate().unwrap();
        assert_eq!(a.spaces.len(), 4);
        assert_eq!(
            a.content
                .iter()
                .filter(|c| c.content_type == ContentType::Page)
                .count(),
            120
        );
        assert!(a
            .content
            .iter()
            .any(|c| c.labels.iter().any(|l| l == "ai-ingest")));
    }

    #[test]
    fn exact_attachment_total_and_log_uniform_sizes_within_bounds() {
        let spec = GenerateSpec {
            spaces: 4,
            pages_per_space: 25,
            total_attachments: Some(37),
            attachment_min_bytes: 4096,
            attachment_max_bytes: 4 * 1024 * 1024,
            attachment_sizes_log_uniform: true,
            ..GenerateSpec::default()
        };
        let dataset = spec.generate();
        dataset.validate().unwrap();
        let sizes: Vec<u64> = dataset
            .content
            .iter()
            .flat_map(|c| &c.attachments)
            .map(|a| match a.data {
                AttachmentData::Generated { size, .. } => size,
                _ => panic!("generated attachments only"),
            })
            .collect();
        assert_eq!(sizes.len(), 37);
        assert!(sizes.iter().all(|s| (4096..=4 * 1024 * 1024).contains(s)));
        // Log-uniform: the median is far below the arithmetic middle of the range.
        let mut sorted = sizes.clone();
        sorted.sort_unstable();
        assert!(sorted[sorted.len() / 2] < 1024 * 1024, "{sorted:?}");
    }

    #[test]
    fn subtree_single_ratio_applies_only_inside_subtree_spaces() {
        let spec = GenerateSpec {
            spaces: 6,
            pages_per_space: 30,
            subtree_ratio: 0.5,
            single_ratio: 1.0,
            subtree_single_ratio: Some(0.0),
            blogposts_per_space: 0,
            ..GenerateSpec::default()
        };
        let dataset = spec.generate();
        let labelled = |c: &Content, l: &str| c.labels.iter().any(|x| x == l);
        let subtree_spaces: Vec<&str> = dataset
            .content
            .iter()
            .filter(|c| labelled(c, "ai-ingest-all"))
            .map(|c| c.space.as_str())
            .collect();
        assert!(!subtree_spaces.is_empty() && subtree_spaces.len() < 6);
        for c in &dataset.content {
            let in_subtree = subtree_spaces.contains(&c.space.as_str());
            assert_eq!(labelled(c, "ai-ingest"), !in_subtree, "{}", c.id);
        }
    }

    #[test]
    fn evenly_spread_sums_to_total() {
        for (total, slots) in [(0, 5), (3, 10), (10, 3), (5000, 10000), (7, 7)] {
            let counts: Vec<usize> = (0..slots).map(|i| evenly_spread(total, slots, i)).collect();
            assert_eq!(counts.iter().sum::<usize>(), total);
            assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn rejects_malformed_spec() {
        assert!("1:2".parse::<GenerateSpec>().is_err());
        assert!("a:b:c".parse::<GenerateSpec>().is_err());
    }

    // The permission half is tested here, through `GenerateSpec`, because both halves come from
    // one seed and the access module must not import the content generator.
    fn spec() -> GenerateSpec {
        GenerateSpec {
            seed: 5,
            spaces: 4,
            pages_per_space: 100,
            max_attachments_per_page: 0,
            access: AccessSpec {
                users: 60,
                groups: 12,
                anonymous_spaces: 1,
                ..AccessSpec::default()
            },
            ..GenerateSpec::default()
        }
    }

    #[test]
    fn no_users_no_permission_model_and_the_content_half_is_unchanged() {
        let plain = GenerateSpec::default();
        let (dataset, access) = plain.generate_with_access();
        assert!(access.is_empty());
        assert_eq!(dataset, plain.generate());
        let with = spec();
        assert_eq!(
            with.generate_with_access().0,
            GenerateSpec {
                access: AccessSpec::default(),
                ..with
            }
            .generate(),
        );
    }

    #[test]
    fn generated_model_is_valid_deterministic_and_has_every_kind_of_case() {
        let (dataset, access) = spec().generate_with_access();
        access.validate(&dataset).unwrap();
        assert_eq!(spec().generate_with_access().1, access);
        assert!(access.users.iter().any(|u| !u.email_visible));
        assert!(access
            .users
            .iter()
            .any(|u| u.account_type == AccountType::App));
        assert!(access
            .users
            .iter()
            .any(|u| u.status == AccountStatus::Inactive));
        assert!(access.space_permissions.iter().any(|p| p.anonymous));
        assert!(access
            .restrictions
            .iter()
            .any(|r| r.operation == RestrictionOperation::Update));
        let read: Vec<&Restriction> = access
            .restrictions
            .iter()
            .filter(|r| r.operation == RestrictionOperation::Read)
            .collect();
        assert_eq!(read.len(), 20, "5 % of 400 pages");
        let restricted: BTreeSet<&str> = read.iter().map(|r| r.content.as_str()).collect();
        let nested = read
            .iter()
            .filter(|r| {
                let mut node = dataset.content_by_id(&r.content).unwrap().parent.clone();
                while let Some(p) = node {
                    if restricted.contains(p.as_str()) {
                        return true;
                    }
                    node = dataset.content_by_id(&p).unwrap().parent.clone();
                }
                false
            })
            .count();
        assert!(nested >= 1, "some restrictions are nested");
        let readers = page_readers(&dataset, &access);
        let readable = read
            .iter()
            .filter(|r| !readers[&r.content].users.is_empty())
            .count();
        assert!(
            readable * 2 > read.len(),
            "most restricted pages have readers"
        );
    }
}
