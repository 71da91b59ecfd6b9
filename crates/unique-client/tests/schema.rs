//! Every document we send must validate against the sandbox's copy of Unique's schema, so a
//! typo in a field, argument or type name fails CI instead of failing in production.
#![allow(clippy::unwrap_used)]

use sandbox::unique::{validate_document, UniqueService};
use unique_client::all_documents;
use unique_client::documents::HEALTH_PING;

/// `User` is the only operation still served by scope management; the rest moved to ingestion.
fn service_of(operation: &str) -> UniqueService {
    match operation {
        "User" => UniqueService::ScopeManagement,
        _ => UniqueService::Ingestion,
    }
}

#[test]
fn every_document_validates_against_the_sandbox_schema() {
    let mut failures = Vec::new();
    for (operation, document) in all_documents() {
        if let Err(errors) = validate_document(service_of(operation), document) {
            failures.push(format!("{operation}: {}", errors.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "invalid documents:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_permission_sync_document_validates_against_the_sandbox_schema() {
    for (operation, document) in unique_client::documents::permission_sync_documents() {
        let service = match *operation {
            "ListUsers" | "ListGroups" | "CreateGroup" | "DeleteGroup" | "AddGroupMembers"
            | "RemoveGroupMember" => UniqueService::ScopeManagement,
            _ => UniqueService::Ingestion,
        };
        if let Err(errors) = validate_document(service, document) {
            panic!("{operation}: {}", errors.join("; "));
        }
    }
}

#[test]
fn health_ping_validates_on_both_services() {
    for service in [UniqueService::Ingestion, UniqueService::ScopeManagement] {
        validate_document(service, HEALTH_PING).unwrap();
    }
}

#[test]
fn a_misspelt_field_is_caught() {
    let broken = all_documents()
        .iter()
        .find(|(name, _)| *name == "PaginatedScope")
        .unwrap()
        .1
        .replace("externalId", "externalID");
    assert!(validate_document(UniqueService::Ingestion, &broken).is_err());
}

#[test]
fn every_operation_of_the_reference_is_listed() {
    let mut names: Vec<_> = all_documents().iter().map(|(name, _)| *name).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        [
            "BulkMove",
            "ContentDeleteByContentIds",
            "ContentUpsert",
            "CreateScopeAccesses",
            "DeleteFolder",
            "GenerateScopesBasedOnPaths",
            "PaginatedContent",
            "PaginatedContentCount",
            "PaginatedScope",
            "UpdateScope",
            "User",
        ]
    );
}
