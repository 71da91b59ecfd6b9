//! One tenant's sync cycle — discover → diff → ingest → delete — tenant deletion, and the state
//! ledger that remembers every run.
//!
//! Invariant: the engine knows no wire formats; it sees Confluence and Unique only through the
//! client crates' APIs, and its state only through [`Ledger`].

#![deny(unsafe_code)]

mod inline;
mod keys;
mod ledger;

pub use inline::{
    inline_images, is_image_media_type, normalize_mime_type, ImageRef, ImageSource, ImageStream,
    InlineConfig, InlineError, InlineOutcome, InlinedImage, OtherPage, PageContext,
    MAX_CONCURRENT_DOWNLOADS,
};
pub use keys::{
    attachment_item_id, parse_space_external_id, ContentKey, InstanceKind, KeyFormat, PartialKey,
    ScopeExternalId, SpaceExternalId,
};

pub use ledger::{
    ItemFailure, ItemPhase, Lease, LeaseRecord, Ledger, LedgerError, LedgerKind, LedgerOptions,
    RunCounts, RunFailure, RunId, RunOutcome, RunRecord, RunStatus, RunTrigger,
};
