//! The permission reads of one cycle: from the discovered pages, the space grants, view
//! restrictions (own and every ancestor's), groups, members and accounts, gathered into an
//! [`AccessSnapshot`] the apply step and the access report both read.

use std::collections::{BTreeMap, HashMap};

use confluence_client::{ConfluenceApi, Page, Space};

use super::{AnonymousPolicy, Directory, Layer, Readers};

/// How much of Confluence's permissions a tenant carries into Unique (`permissions.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PermissionMode {
    /// Today's behaviour: no permission read or write at all.
    #[default]
    None,
    /// Space read permissions become access on the space scope and its files.
    Space,
    /// Space permissions plus page view restrictions become access on each file.
    Page,
}

/// What the permission reads found this cycle.
#[derive(Debug, Default, Clone)]
pub struct AccessSnapshot {
    pub directory: Directory,
    /// Names of the groups in [`Directory::members`], by group id (Cloud id, DC name).
    pub group_names: HashMap<String, String>,
    /// Per space key.
    pub spaces: BTreeMap<String, SpaceAccess>,
}

/// One space's readers and, in `page` mode, each of its pages'.
#[derive(Debug, Clone)]
pub struct SpaceAccess {
    pub space: Space,
    /// The space's `read/space` grants as read (or why they could not be).
    pub grants: Layer,
    /// Who may read the space.
    pub readers: Readers,
    /// `page` mode: who may read each discovered content id (attachments read like their
    /// page). Empty in `space` mode.
    pub pages: BTreeMap<String, Readers>,
}

/// Reads everything `mode` needs for `pages` (the cycle's discovered pages, with
/// [`Page::access`] filled in `page` mode) and computes each space's and page's readers.
/// Never fails as a whole: what could not be read makes the readers it feeds
/// [`Readers::Unknown`].
pub async fn gather<C: ConfluenceApi>(
    client: &C,
    pages: &[Page],
    mode: PermissionMode,
    anonymous: AnonymousPolicy,
) -> AccessSnapshot {
    let _ = (client, anonymous);
    let mut snapshot = AccessSnapshot::default();
    if mode == PermissionMode::None {
        return snapshot;
    }
    // Not built yet: every space and page is unknown (fail closed).
    for page in pages {
        let space = snapshot
            .spaces
            .entry(page.space.key.clone())
            .or_insert_with(|| SpaceAccess {
                space: page.space.clone(),
                grants: Layer::Unreadable("permission reads not built yet".into()),
                readers: Readers::Unknown("permission reads not built yet".into()),
                pages: BTreeMap::new(),
            });
        if mode == PermissionMode::Page {
            space.pages.insert(
                page.id.clone(),
                Readers::Unknown("permission reads not built yet".into()),
            );
        }
    }
    snapshot
}
