//! [`View`]: what every JSON rendering of the simulators reads (flavour, URLs, store).

use super::sim::{ConfluenceUrls, Flavour, Store};

/// Everything rendering needs: which flavour is answering, its URLs and the store.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub flavour: Flavour,
    pub urls: &'a ConfluenceUrls,
    pub store: &'a Store,
    pub inline_attachments: usize,
}

impl View<'_> {
    /// `_links.base`: where web links are relative to.
    pub fn base(&self) -> String {
        match self.flavour {
            Flavour::Cloud => format!("{}/wiki", self.urls.cloud_site),
            Flavour::DataCenter => self.urls.dc_base.clone(),
        }
    }

    /// `_links.context`.
    pub fn context(&self) -> String {
        match self.flavour {
            Flavour::Cloud => "/wiki".into(),
            Flavour::DataCenter => url::Url::parse(&self.urls.dc_base)
                .map(|u| u.path().trim_end_matches('/').to_owned())
                .unwrap_or_default(),
        }
    }
}
