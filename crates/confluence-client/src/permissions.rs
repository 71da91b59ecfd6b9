//! The permission reads both flavours share (`permissions.mode` `space` and `page`): the
//! completion of capped view restrictions, the batched ancestor lookup, group and member
//! listings. Every read is a GET (docs/permissions-api.md has each endpoint, its paging and its
//! source); the shapes they parse are in `access_wire`, the types they return in `model`.

use std::collections::HashMap;

use url::Url;

use crate::access_wire::{
    dedup, listed_access, restriction_subjects, ListedAccess, V1AccessItem, V1Group, V1Restriction,
    V1User, ACCESS_BATCH, ACCESS_EXPAND, MEMBERS_LIMIT, SUBJECTS_PAGE,
};
use crate::core::{endpoint_of, Core, ListedItem};
use crate::model::{Account, ContentAccess, Group, InstanceType, Page, Principal};
use crate::wire::V1List;
use crate::ConfluenceError;

impl ListedItem for V1User {
    fn listing_id(&self) -> Option<String> {
        self.id().map(str::to_owned)
    }
}

impl ListedItem for V1Group {
    fn listing_id(&self) -> Option<String> {
        self.id.clone().or_else(|| self.name.clone())
    }
}

impl ListedItem for V1AccessItem {
    fn listing_id(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl Core {
    /// `<v1 REST root><path>`: `/wiki/rest/api` behind the Cloud gateway, `/rest/api` on Data
    /// Center.
    pub(crate) fn v1_url(&self, path_and_query: &str) -> Result<Url, ConfluenceError> {
        match self.instance_type {
            InstanceType::Cloud => self.api_url(&format!("/wiki/rest/api{path_and_query}")),
            InstanceType::DataCenter => self.api_url(&format!("/rest/api{path_and_query}")),
        }
    }

    /// Every principal of the content's view restriction, through `byOperation/read` pages:
    /// for a restriction whose inline subject list a search capped. Both lists page with the
    /// same `start`; the listing ends when neither has more.
    pub(crate) async fn read_restriction(
        &self,
        content_id: &str,
    ) -> Result<Vec<Principal>, ConfluenceError> {
        let mut view = Vec::new();
        let mut start = 0usize;
        for _ in 0..self.page_cap.max(1) {
            let url = self.v1_url(&format!(
                "/content/{}/restriction/byOperation/read?expand=restrictions.user,restrictions.group&start={start}&limit={SUBJECTS_PAGE}",
                crate::urls::encode_component(content_id)
            ))?;
            let endpoint = endpoint_of(&url);
            let restriction: V1Restriction = self.get_json(url).await?;
            let (principals, more) = restriction_subjects(restriction, self.instance_type)
                .ok_or_else(|| ConfluenceError::Decode {
                    endpoint: endpoint.clone(),
                    // Our own words about the answer, quoting nothing Confluence wrote.
                    reason: http_transport::RemoteText::new(
                        format!("the read restriction of {content_id} lists no users or groups"),
                        http_transport::Disclosure::Disclose,
                    ),
                })?;
            let received = principals.len();
            view.extend(principals);
            if !more || received == 0 {
                return Ok(dedup(view));
            }
            start += SUBJECTS_PAGE;
        }
        Err(ConfluenceError::Decode {
            endpoint: format!("/content/{content_id}/restriction/byOperation/read"),
            reason: http_transport::RemoteText::new(
                format!(
                    "more than {} pages of subjects; the restriction is left unread",
                    self.page_cap
                ),
                http_transport::Disclosure::Disclose,
            ),
        })
    }

    /// Fills [`Page::access`] of discovered pages from their search results' expansions;
    /// restrictions the search capped are completed. A page whose restriction cannot be read
    /// keeps `access: None` (its readers are unknown), and discovery goes on.
    pub(crate) async fn fill_access(&self, pages: &mut [Page], listed: Vec<Option<ListedAccess>>) {
        for (page, listed) in pages.iter_mut().zip(listed) {
            if let Some(listed) = listed {
                page.access = self.completed(&page.id, listed).await;
            }
        }
    }

    /// The access a search listed, with a capped subject list completed; `None` (unknown) when
    /// the completion fails.
    async fn completed(&self, content_id: &str, mut listed: ListedAccess) -> Option<ContentAccess> {
        if listed.capped {
            match self.read_restriction(content_id).await {
                Ok(view) => listed.access.view = view,
                Err(e) => {
                    tracing::warn!(content_id, err = %e, "the view restriction could not be read in full; this content's readers stay unknown");
                    return None;
                }
            }
        }
        Some(listed.access)
    }

    /// [`crate::ConfluenceApi::content_access`] for both flavours: `id in (…)` searches with
    /// the restriction and ancestor expansions, [`ACCESS_BATCH`] ids each.
    pub(crate) async fn content_access(
        &self,
        search_path: &str,
        ids: &[String],
    ) -> Result<HashMap<String, ContentAccess>, ConfluenceError> {
        let mut out = HashMap::new();
        for batch in ids.chunks(ACCESS_BATCH) {
            let url = self.search_url(
                search_path,
                &crate::cql::by_ids(batch),
                ACCESS_EXPAND,
                batch.len(),
                false,
            )?;
            for item in self.get_all::<V1List<V1AccessItem>>(url).await? {
                let listed = listed_access(
                    &item.id,
                    item.ancestors,
                    item.restrictions,
                    self.instance_type,
                );
                if let Some(listed) = listed {
                    if let Some(access) = self.completed(&item.id, listed).await {
                        out.insert(item.id, access);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every group of the site (`group?limit=200`, offset pages).
    pub(crate) async fn groups(&self) -> Result<Vec<Group>, ConfluenceError> {
        let url = self.v1_url(&format!("/group?limit={MEMBERS_LIMIT}&start=0"))?;
        let flavour = self.instance_type;
        Ok(self
            .get_all::<V1List<V1Group>>(url)
            .await?
            .into_iter()
            .filter_map(|g| {
                let id = g.key(flavour)?.to_owned();
                let name = g.name.clone().unwrap_or_else(|| id.clone());
                Some(Group { id, name })
            })
            .collect())
    }

    /// Every account of a listing of users (group members).
    pub(crate) async fn accounts_listed(&self, url: Url) -> Result<Vec<Account>, ConfluenceError> {
        let flavour = self.instance_type;
        Ok(self
            .get_all::<V1List<V1User>>(url)
            .await?
            .into_iter()
            .filter_map(|u| u.into_account(flavour))
            .collect())
    }

    /// The accounts of one answer that is not paged (`user/bulk`, DC `user?key=`).
    pub(crate) fn accounts_of(&self, users: Vec<V1User>) -> Vec<Account> {
        users
            .into_iter()
            .filter_map(|u| u.into_account(self.instance_type))
            .collect()
    }
}
