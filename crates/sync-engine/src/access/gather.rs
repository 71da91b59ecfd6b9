//! The permission reads of one cycle: from the discovered pages, the space grants, view
//! restrictions (own and every ancestor's), groups, members and accounts, gathered into an
//! [`AccessSnapshot`] the apply step and the access report both read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use confluence_client::{ConfluenceApi, ContentAccess, InstanceType, Page, Space};

use super::{
    readers, AllUsersPolicy, Directory, Layer, PermissionMode, PermissionSettings, Principal,
    Readers,
};

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
///
/// Reads, in order (docs/permissions-api.md, "Reads, in order, per cycle"): each space's read
/// grants; in `page` mode the view restrictions of ancestors discovery did not return, in one
/// batched lookup; the members of every group a grant or restriction names, once per group;
/// the accounts named directly and not met in a membership, batched; on Cloud the group names.
pub async fn gather<C: ConfluenceApi>(
    client: &C,
    pages: &[Page],
    mode: PermissionMode,
    settings: &PermissionSettings,
) -> AccessSnapshot {
    let anonymous = settings.anonymous;
    let mut snapshot = AccessSnapshot::default();
    if mode == PermissionMode::None {
        return snapshot;
    }
    let mut spaces: BTreeMap<&str, (&Space, Vec<&Page>)> = BTreeMap::new();
    for page in pages {
        spaces
            .entry(page.space.key.as_str())
            .or_insert_with(|| (&page.space, Vec::new()))
            .1
            .push(page);
    }

    let mut grants: BTreeMap<&str, Layer> = BTreeMap::new();
    for (key, (space, _)) in &spaces {
        let layer = match client.space_read_grants(space).await {
            Ok(principals) => Layer::Grants(principals),
            Err(e) => {
                tracing::warn!(space = %key, err = %e, "space permissions could not be read; the space's readers stay unknown");
                Layer::Unreadable(format!(
                    "the permissions of space {key} could not be read: {e}"
                ))
            }
        };
        grants.insert(key, layer);
    }

    // Per page, its restriction layers: its own and every ancestor's.
    let mut page_layers: HashMap<&str, Vec<Layer>> = if mode == PermissionMode::Page {
        restriction_layers(client, pages).await
    } else {
        HashMap::new()
    };

    let mut named = Named::default();
    for layer in grants.values().chain(page_layers.values().flatten()) {
        named.add(layer);
    }
    let (directory, group_names) = read_directory(client, &named).await;
    let ignored = ignored_all_users_groups(settings, &named, &group_names);
    if !ignored.is_empty() {
        for layer in grants
            .values_mut()
            .chain(page_layers.values_mut().flatten())
        {
            ignore_groups(layer, &ignored);
        }
    }

    for (key, (space, space_pages)) in spaces {
        let grants = grants
            .remove(key)
            .unwrap_or_else(|| Layer::Unreadable(format!("space {key} was not read")));
        let space_readers = readers(&grants, &[], &directory, anonymous);
        let mut page_readers = BTreeMap::new();
        if mode == PermissionMode::Page {
            // Most pages of a space share their restrictions (none, or an ancestor's): compute
            // each distinct set of restricting layers once.
            let mut computed_for: HashMap<Vec<&Layer>, Readers> = HashMap::new();
            for page in space_pages {
                let computed = match page_layers.get(page.id.as_str()) {
                    Some(layers) => {
                        let restricting: Vec<&Layer> =
                            layers.iter().filter(|l| l.restricts()).collect();
                        computed_for
                            .entry(restricting)
                            .or_insert_with(|| readers(&grants, layers, &directory, anonymous))
                            .clone()
                    }
                    None => Readers::Unknown(format!(
                        "the view restrictions of content {} were not read",
                        page.id
                    )),
                };
                page_readers.insert(page.id.clone(), computed);
            }
        }
        snapshot.spaces.insert(
            key.to_owned(),
            SpaceAccess {
                space: space.clone(),
                grants,
                readers: space_readers,
                pages: page_readers,
            },
        );
    }
    snapshot.directory = directory;
    snapshot.group_names = group_names;
    snapshot
}

/// The restriction layers of every page: its own view restriction (from discovery) and each
/// ancestor's, from the discovered pages or else one batched [`ConfluenceApi::content_access`].
/// A page discovery could not read, or an ancestor absent from both, gives an unreadable layer.
async fn restriction_layers<'p, C: ConfluenceApi>(
    client: &C,
    pages: &'p [Page],
) -> HashMap<&'p str, Vec<Layer>> {
    let mut known: HashMap<String, ContentAccess> = pages
        .iter()
        .filter_map(|p| Some((p.id.clone(), p.access.clone()?)))
        .collect();
    let mut missing: Vec<String> = pages
        .iter()
        .filter_map(|p| p.access.as_ref())
        .flat_map(|a| a.ancestors.iter())
        .filter(|id| !known.contains_key(*id))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut lookup_error = None;
    if !missing.is_empty() {
        match client.content_access(&missing).await {
            Ok(found) => known.extend(found),
            Err(e) => {
                tracing::warn!(ancestors = missing.len(), err = %e, "ancestor view restrictions could not be read; the pages below them stay unknown");
                lookup_error = Some(e.to_string());
            }
        }
        missing.retain(|id| !known.contains_key(id));
    }
    let ancestor_layer = |id: &str| match known.get(id) {
        Some(access) => Layer::Grants(access.view.clone()),
        None => Layer::Unreadable(match &lookup_error {
            Some(e) => format!("the view restriction of ancestor {id} could not be read: {e}"),
            None => format!("ancestor {id} cannot be viewed by the connector's account"),
        }),
    };
    let mut out = HashMap::new();
    for page in pages {
        let layers = match &page.access {
            Some(access) => std::iter::once(Layer::Grants(access.view.clone()))
                .chain(access.ancestors.iter().map(|id| ancestor_layer(id)))
                .collect(),
            None => vec![Layer::Unreadable(format!(
                "the view restriction of content {} was not read",
                page.id
            ))],
        };
        out.insert(page.id.as_str(), layers);
    }
    out
}

/// The groups and accounts the layers name.
#[derive(Debug, Default)]
struct Named {
    groups: BTreeSet<String>,
    users: BTreeSet<String>,
}

impl Named {
    fn add(&mut self, layer: &Layer) {
        let Layer::Grants(principals) = layer else {
            return;
        };
        for principal in principals {
            match principal {
                Principal::Group(id) => {
                    self.groups.insert(id.clone());
                }
                Principal::User(id) => {
                    self.users.insert(id.clone());
                }
                Principal::Anonymous | Principal::Other(_) => {}
            }
        }
    }
}

/// Members of every named group (one listing each) and the named accounts no listing brought
/// (batched). A failed listing is that group's `Err` (readers naming it become unknown); a
/// failed account lookup leaves those accounts unknown, which can only narrow.
async fn read_directory<C: ConfluenceApi>(
    client: &C,
    named: &Named,
) -> (Directory, HashMap<String, String>) {
    let mut directory = Directory::default();
    for group in &named.groups {
        match client.group_members(group).await {
            Ok(accounts) => {
                let ids = accounts.iter().map(|a| a.id.clone()).collect();
                for account in accounts {
                    directory.accounts.insert(account.id.clone(), account);
                }
                directory.members.insert(group.clone(), Ok(ids));
            }
            Err(e) => {
                tracing::warn!(group = %group, err = %e, "group members could not be read; readers naming the group stay unknown");
                directory.members.insert(group.clone(), Err(e.to_string()));
            }
        }
    }
    let unseen: Vec<String> = named
        .users
        .iter()
        .filter(|id| !directory.accounts.contains_key(*id))
        .cloned()
        .collect();
    if !unseen.is_empty() {
        match client.accounts(&unseen).await {
            Ok(accounts) => {
                for account in accounts {
                    directory.accounts.insert(account.id.clone(), account);
                }
            }
            Err(e) => {
                tracing::warn!(accounts = unseen.len(), err = %e, "accounts named directly could not be read; they are left out");
            }
        }
    }
    let mut names: HashMap<String, String> = HashMap::new();
    if !named.groups.is_empty() && client.instance_type() == InstanceType::Cloud {
        // Cloud grants and restrictions name groups by id; Data Center's ids are the names.
        match client.groups().await {
            Ok(groups) => names.extend(
                groups
                    .into_iter()
                    .filter(|g| named.groups.contains(&g.id))
                    .map(|g| (g.id, g.name)),
            ),
            Err(e) => {
                tracing::warn!(err = %e, "group names could not be read; groups keep their ids as names")
            }
        }
    }
    for group in &named.groups {
        names.entry(group.clone()).or_insert_with(|| group.clone());
    }
    (directory, names)
}

/// The group ids (Cloud id, Data Center name) `permissions.allUsers: ignore` takes out: those
/// named in `allUsersGroups` by name or id.
fn ignored_all_users_groups(
    settings: &PermissionSettings,
    named: &Named,
    group_names: &HashMap<String, String>,
) -> HashMap<String, String> {
    if settings.all_users != AllUsersPolicy::Ignore {
        return HashMap::new();
    }
    let listed = |id: &str| {
        let name = group_names.get(id).map_or(id, String::as_str);
        settings
            .all_users_groups
            .iter()
            .any(|g| g == id || g.eq_ignore_ascii_case(name))
            .then(|| name.to_owned())
    };
    named
        .groups
        .iter()
        .filter_map(|id| listed(id).map(|name| (id.clone(), name)))
        .collect()
}

/// Replaces grants to an ignored all-users group by a principal nobody maps to: the group
/// gives nobody access, and a restriction naming only it lets nobody read.
fn ignore_groups(layer: &mut Layer, ignored: &HashMap<String, String>) {
    if let Layer::Grants(principals) = layer {
        for p in principals.iter_mut() {
            if let Principal::Group(id) = p {
                if let Some(name) = ignored.get(id.as_str()) {
                    *p = Principal::Other(format!(
                        "all-users group {name} (permissions.allUsers: ignore)"
                    ));
                }
            }
        }
    }
}
