//! The page sizes Confluence Data Center's `content/search` accepts. A leaf module: the
//! configuration's batch bound and the search's page size both read it.

/// Data Center's page-size caps of `content/search`, by expansion (hard-coded in the server,
/// Atlassian KB "Searching for content with the REST API and CQL always limits results to 50"):
/// any body expansion, other expansions, none. The client never asks for more, so no page is
/// capped and nothing depends on how a version words `next` after capping.
pub(crate) const DC_LIMIT_WITH_BODY: usize = 50;
pub(crate) const DC_LIMIT_WITH_EXPAND: usize = 200;
pub(crate) const DC_LIMIT_PLAIN: usize = 1000;

/// The Data Center cap for a search with these expansions.
pub(crate) fn dc_search_cap(expand: &str) -> usize {
    let expansions = expand.split(',').map(str::trim).filter(|e| !e.is_empty());
    let mut any = false;
    for expansion in expansions {
        if expansion.starts_with("body.") || expansion == "body" {
            return DC_LIMIT_WITH_BODY;
        }
        any = true;
    }
    if any {
        DC_LIMIT_WITH_EXPAND
    } else {
        DC_LIMIT_PLAIN
    }
}
