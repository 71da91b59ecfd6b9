//! Confluence Cloud and Data Center simulators over one dataset.
//!
//! Cloud is served on three origins: the gateway (token endpoint and the API under
//! `/ex/confluence/<cloudId>`), the site (web links only) and the media host that downloads
//! redirect to. Data Center has one origin with an optional context path. Both read the same
//! [`Dataset`]; Data Center reports every non-personal space as `global`.

pub mod access;
mod api;
mod cloud;
pub(crate) mod control;
mod cql;
mod dc;
mod dc_paging;
mod generate;
mod media;
mod model;
mod overload;
mod quota;
mod render;
mod router;
mod scopes;
mod sim;
mod tamper;
mod view;
mod web;

pub use cql::{parse as parse_cql, CqlError, Expr as CqlExpr, Field as CqlField};
pub use dc_paging::{DcQuirks, PastEnd};
pub use generate::GenerateSpec;
pub use model::{
    default_when, Attachment, AttachmentData, Content, ContentType, Dataset, DatasetError, Space,
    SpaceType,
};
pub use overload::SearchOverload;
pub(crate) use quota::control_router as quota_control_router;
pub use quota::{
    CloudQuota, CloudQuotaConfig, CloudQuotaPatch, CloudQuotaSnapshot, QuotaPool, RouteSpend,
};
pub use scopes::{CloudOAuthClient, ALL_READ_SCOPES};
pub use sim::{
    AttachmentUpdate, CloudSearchNextLink, ConfluenceConfig, ConfluenceSim, ConfluenceUrls,
    ContentEdit, ContentMove, Limits, MutationError,
};
pub use tamper::{PaginationTamper, PaginationTamperRule};

pub(crate) use cloud::site_router as cloud_site_router;
pub(crate) use media::router as media_router;
pub(crate) use router::{cloud_gateway_router, dc_router};
