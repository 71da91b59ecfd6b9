//! The two GraphQL services as served and validated: the ingestion and scope-management
//! schemas, merged from the content roots (`schema.rs`) and the identity roots
//! (`identity_schema.rs`), and document validation against them.

use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{EmptySubscription, MergedObject, Schema, ServerError, ValidationResult};

use super::shared::Shared;
use super::variables::{TypeMap, INTROSPECTION};

use super::identity_schema::{AccessMutation, IdentityMutation, IdentityQuery};
use super::schema::{IngestionMutation, IngestionQuery, ScopeManagementQuery};

pub(crate) type IngestionSchema = Schema<IngestionQuery, IngestionMutationRoot, EmptySubscription>;
pub(crate) type ScopeManagementSchema =
    Schema<ScopeManagementQueryRoot, ScopeManagementMutationRoot, EmptySubscription>;

/// The ingestion mutations: content and scopes, plus scope and file accesses.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub(crate) struct IngestionMutationRoot(IngestionMutation, AccessMutation);

/// The scope-management queries: `me`, users and groups.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub(crate) struct ScopeManagementQueryRoot(ScopeManagementQuery, IdentityQuery);

/// The scope-management mutations: groups and memberships.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub(crate) struct ScopeManagementMutationRoot(IdentityMutation);

/// How a schema instance is used.
#[derive(Debug, Clone)]
pub(crate) enum SchemaUse {
    /// Serving requests against the simulator's state.
    Serve(Arc<Shared>),
    /// Validating documents: never executes anything.
    ValidateOnly,
    /// Answering introspection only (no state).
    Introspect,
}

pub(crate) fn ingestion_schema(usage: SchemaUse) -> IngestionSchema {
    let builder = Schema::build(
        IngestionQuery,
        IngestionMutationRoot::default(),
        EmptySubscription,
    );
    match usage {
        SchemaUse::Serve(shared) => builder.data(shared).finish(),
        SchemaUse::ValidateOnly => builder.extension(StopAfterValidation).finish(),
        SchemaUse::Introspect => builder.finish(),
    }
}

pub(crate) fn scope_management_schema(usage: SchemaUse) -> ScopeManagementSchema {
    let builder = Schema::build(
        ScopeManagementQueryRoot::default(),
        ScopeManagementMutationRoot::default(),
        EmptySubscription,
    );
    match usage {
        SchemaUse::Serve(shared) => builder.data(shared).finish(),
        SchemaUse::ValidateOnly => builder.extension(StopAfterValidation).finish(),
        SchemaUse::Introspect => builder.finish(),
    }
}

// ---------------------------------------------------------------------------------------------
// Document validation without execution

const VALIDATED: &str = "__sandbox_validated__";

/// Makes a schema that validates documents and never executes them: after a successful
/// validation it answers with a marker error, so `validate_document` needs no state and
/// no variable values.
struct StopAfterValidation;

impl ExtensionFactory for StopAfterValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StopAfterValidationExtension)
    }
}

struct StopAfterValidationExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for StopAfterValidationExtension {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await?;
        Err(vec![ServerError::new(VALIDATED, None)])
    }
}

/// Which of the two GraphQL services a document is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueService {
    /// `POST <ingestionServiceBaseUrl>/graphql`: content, files and scopes.
    Ingestion,
    /// `POST <scopeManagementServiceBaseUrl>/graphql`: only `me` (and the health ping).
    ScopeManagement,
}

/// The ingestion schema in SDL, for snapshotting and for reading what the sandbox accepts.
pub fn ingestion_schema_sdl() -> String {
    validation_schemas().0.sdl()
}

/// The scope-management schema in SDL.
pub fn scope_management_schema_sdl() -> String {
    validation_schemas().1.sdl()
}

fn validation_schemas() -> &'static (IngestionSchema, ScopeManagementSchema) {
    static SCHEMAS: OnceLock<(IngestionSchema, ScopeManagementSchema)> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        (
            ingestion_schema(SchemaUse::ValidateOnly),
            scope_management_schema(SchemaUse::ValidateOnly),
        )
    })
}

/// The argument and input-field types of a service's schema, read by introspection once.
pub(crate) fn type_map(service: UniqueService) -> &'static TypeMap {
    static MAPS: OnceLock<(TypeMap, TypeMap)> = OnceLock::new();
    let (ingestion, scope_management) = MAPS.get_or_init(|| {
        let introspect = |response: async_graphql::Response| {
            let data = response.data.into_json().unwrap_or_default();
            TypeMap::from_introspection(&data)
        };
        futures::executor::block_on(async {
            (
                introspect(
                    ingestion_schema(SchemaUse::Introspect)
                        .execute(INTROSPECTION)
                        .await,
                ),
                introspect(
                    scope_management_schema(SchemaUse::Introspect)
                        .execute(INTROSPECTION)
                        .await,
                ),
            )
        })
    });
    match service {
        UniqueService::Ingestion => ingestion,
        UniqueService::ScopeManagement => scope_management,
    }
}

/// Checks a GraphQL document against the sandbox's schema of `service`: syntax, unknown
/// fields/types/arguments, variable types in their positions, selections on leaves. Missing
/// variable values are not errors (the document is checked, not a request). Returns every
/// message when it does not validate.
pub fn validate_document(service: UniqueService, document: &str) -> Result<(), Vec<String>> {
    let (ingestion, scope_management) = validation_schemas();
    let request = async_graphql::Request::new(document);
    let response = futures::executor::block_on(async {
        match service {
            UniqueService::Ingestion => ingestion.execute(request).await,
            UniqueService::ScopeManagement => scope_management.execute(request).await,
        }
    });
    let mut errors: Vec<String> = response
        .errors
        .into_iter()
        .filter(|e| e.message != VALIDATED)
        .map(|e| match e.locations.first() {
            Some(pos) => format!("{} (line {}, column {})", e.message, pos.line, pos.column),
            None => e.message,
        })
        .collect();
    if errors.is_empty() {
        if let Ok(doc) = async_graphql::parser::parse_query(document) {
            errors = type_map(service).misplaced_variables(&doc);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
