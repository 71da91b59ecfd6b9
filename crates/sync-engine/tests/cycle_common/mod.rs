//! The end-to-end harness of the cycle tests: a sandbox in-process (both Confluence flavours
//! and Unique on loopback), a seeded root scope, fast clients, an in-memory ledger, and helpers
//! to read back what landed in Unique.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confluence_client::{
    AuthConfig, ConfluenceClient, ConfluenceConfig, NoopObserver, RetryPolicy, SecretString,
    Timeouts,
};
use sandbox::confluence::{
    default_when, Attachment, AttachmentData, Content, ContentType, Dataset, Space, SpaceType,
};
use sandbox::unique::SeedScope;
use sandbox::{SandboxConfig, SandboxHandle};
use sync_engine::{
    CancellationToken, CycleMode, CycleObserver, CycleReport, EngineError, ItemKind, ItemResult,
    Ledger, LedgerOptions, Phase, RunTrigger, TenantSpec, TenantSync,
};
use unique_client::{TransportConfig, UniqueAuth, UniqueClient, UniqueConfig};

pub const TENANT: &str = "tenant1";
pub const SP: (&str, &str) = ("98304", "SP");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Cloud,
    DataCenter,
}

/// Writes `#[tokio::test]`s running one scenario on Cloud and on Data Center.
#[macro_export]
macro_rules! on_both_flavours {
    ($($name:ident),+ $(,)?) => {
        mod cloud {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::cycle_common::Flavour::Cloud).await;
                }
            )+
        }
        mod data_center {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::cycle_common::Flavour::DataCenter).await;
                }
            )+
        }
    };
}

// ---- datasets ------------------------------------------------------------------------------

pub fn space(id: &str, key: &str) -> Space {
    Space {
        id: id.into(),
        key: key.into(),
        name: format!("Space {key}"),
        space_type: SpaceType::Global,
    }
}

pub fn content(
    id: u64,
    content_type: ContentType,
    space: &str,
    parent: Option<u64>,
    labels: &[&str],
) -> Content {
    Content {
        id: id.to_string(),
        content_type,
        title: format!("Title {id}"),
        space: space.into(),
        parent: parent.map(|p| p.to_string()),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        body: format!("<p>Body of {id}</p>"),
        version: 1,
        when: default_when(),
        attachments: Vec::new(),
    }
}

pub fn page(id: u64, space: &str, parent: Option<u64>, labels: &[&str]) -> Content {
    content(id, ContentType::Page, space, parent, labels)
}

pub fn attachment(id: u64, title: &str, media_type: &str, text: &str) -> Attachment {
    Attachment {
        id: format!("att{id}"),
        title: title.into(),
        media_type: media_type.into(),
        version: 1,
        when: default_when(),
        data: AttachmentData::Text(text.into()),
    }
}

/// One global space `SP` (id 98304) and the given content.
pub fn dataset(content: Vec<Content>) -> Dataset {
    Dataset {
        spaces: vec![space(SP.0, SP.1)],
        content,
    }
}

// ---- harness -------------------------------------------------------------------------------

pub struct Harness {
    pub sb: SandboxHandle,
    pub flavour: Flavour,
    pub root_id: String,
    pub ledger: Ledger,
    pub observer: Arc<RecordingObserver>,
}

impl Harness {
    pub async fn new(flavour: Flavour, dataset: Dataset) -> Self {
        Self::with_sandbox(flavour, dataset, |_| {}).await
    }

    pub async fn with_sandbox(
        flavour: Flavour,
        dataset: Dataset,
        tweak: impl FnOnce(&mut SandboxConfig),
    ) -> Self {
        let mut config = SandboxConfig::default();
        config.confluence.dataset = dataset;
        tweak(&mut config);
        let sb = sandbox::spawn(config).await.unwrap();
        let root_id = sb
            .unique
            .seed_scope(SeedScope {
                id: Some("root-scope-id".into()),
                name: "Confluence".into(),
                ..SeedScope::default()
            })
            .unwrap()
            .id;
        let ledger = Ledger::open("sqlite::memory:", LedgerOptions::default())
            .await
            .unwrap();
        Self {
            sb,
            flavour,
            root_id,
            ledger,
            observer: Arc::new(RecordingObserver::default()),
        }
    }

    /// The behaviours' default tenant: labels `ai-ingest`/`ai-ingest-all`, attachments on with
    /// PDF, JPEG, PNG and text, 50 MB, OCR off, concurrency 4, v2 keys, no inlining.
    pub fn spec(&self) -> TenantSpec {
        let mut spec = TenantSpec::new(TENANT, &self.root_id);
        spec.attachments.allowed_mime_types =
            ["application/pdf", "image/jpeg", "image/png", "text/plain"]
                .map(String::from)
                .to_vec();
        spec.attachments.max_file_size_mb = 50;
        spec.attachments.image_ocr = false;
        spec.concurrency = 4;
        // Like the clients' retry budget below: a transient failure that outlasts it fails.
        spec.attachment_retry_budget = Duration::from_millis(50);
        spec
    }

    pub fn confluence_config(&self, attachments: bool) -> ConfluenceConfig {
        let mut config = match self.flavour {
            Flavour::Cloud => {
                let mut c = ConfluenceConfig::cloud(
                    self.sb.urls.cloud_site.clone(),
                    self.sb.urls.cloud_id.clone(),
                    "sandbox-client-id",
                    SecretString::from("sandbox-client-secret".to_owned()),
                );
                c.api_gateway_url = self.sb.urls.cloud_gateway.clone();
                c.token_url = Some(format!("{}/oauth/token", self.sb.urls.cloud_gateway));
                c
            }
            Flavour::DataCenter => ConfluenceConfig::data_center(
                self.sb.urls.dc_base.clone(),
                AuthConfig::OAuth2lo {
                    client_id: "sandbox-client-id".into(),
                    client_secret: SecretString::from("sandbox-client-secret".to_owned()),
                },
            ),
        };
        config.attachments_enabled = attachments;
        config.rate_limit_per_minute = NonZeroU32::new(600_000).unwrap();
        config.retry = RetryPolicy {
            budget: Duration::from_millis(50),
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        };
        config.timeouts = Timeouts {
            connect: Duration::from_secs(5),
            headers: Duration::from_secs(10),
            idle_body: Duration::from_secs(10),
        };
        config
    }

    pub fn unique_client(&self) -> UniqueClient {
        let auth = UniqueAuth::ClusterLocal {
            extra_headers: BTreeMap::from([
                ("x-company-id".to_owned(), "sandbox-company".to_owned()),
                ("x-user-id".to_owned(), "sandbox-user".to_owned()),
            ]),
        };
        let mut config = UniqueConfig::new(
            auth,
            self.sb.urls.unique_ingestion.clone(),
            self.sb.urls.unique_scope_management.clone(),
        );
        config.api_rate_limit_per_minute = NonZeroU32::new(600_000).unwrap();
        let mut transport = TransportConfig::new("unique", NonZeroU32::new(600_000).unwrap());
        transport.retry.base_delay = Duration::from_millis(1);
        transport.retry.max_delay = Duration::from_millis(5);
        transport.retry.max_retries = 2;
        transport.retry.budget = Duration::from_millis(50);
        config.transport = transport;
        UniqueClient::new(config).unwrap()
    }

    pub fn sync(&self, spec: TenantSpec) -> TenantSync {
        self.sync_with(spec, self.observer.clone())
    }

    pub fn sync_with(&self, spec: TenantSpec, observer: Arc<dyn CycleObserver>) -> TenantSync {
        let config = self.confluence_config(spec.attachments.enabled);
        self.sync_with_config(spec, config, observer)
    }

    pub fn sync_with_config(
        &self,
        spec: TenantSpec,
        config: ConfluenceConfig,
        observer: Arc<dyn CycleObserver>,
    ) -> TenantSync {
        let confluence = ConfluenceClient::new(config, Arc::new(NoopObserver)).unwrap();
        TenantSync::new(
            spec,
            confluence,
            self.unique_client(),
            self.ledger.clone(),
            observer,
        )
    }

    /// One normal cycle with `spec`.
    pub async fn run(&self, spec: TenantSpec) -> Result<CycleReport, EngineError> {
        self.sync(spec)
            .run_cycle(RunTrigger::Cli, CycleMode::Normal, CancellationToken::new())
            .await
    }

    /// The root scope's expected ownership mark.
    pub fn owner(&self) -> String {
        match self.flavour {
            Flavour::Cloud => format!("confc:cloud:{}", self.sb.urls.cloud_id),
            Flavour::DataCenter => format!(
                "confc:data-center:{}",
                self.sb.confluence.config().dc_instance_id
            ),
        }
    }

    /// Every content key in Unique, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.sb.unique.files().into_iter().map(|f| f.key).collect();
        keys.sort();
        keys
    }

    /// Every scope path in Unique, sorted.
    pub fn scope_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .sb
            .unique
            .scopes()
            .into_iter()
            .map(|s| s.path)
            .collect();
        paths.sort();
        paths
    }

    pub fn root_external_id(&self) -> Option<String> {
        self.sb
            .unique
            .scopes()
            .into_iter()
            .find(|s| s.id == self.root_id)
            .and_then(|s| s.external_id)
    }

    /// Requests that reached Confluence (either flavour, media host included).
    pub fn confluence_requests(&self) -> Vec<sandbox::common::RequestRecord> {
        ["cloud", "media", "dc"]
            .iter()
            .flat_map(|s| self.sb.requests.records_for(s))
            .filter(|r| {
                !r.route.ends_with("/oauth/token")
                    && !r.route.ends_with("/rest/oauth2/latest/token")
            })
            .collect()
    }
}

/// `<tenant>/<spaceId>_<spaceKey>/<item>`.
pub fn key(space: (&str, &str), item: &str) -> String {
    format!("{TENANT}/{}_{}/{item}", space.0, space.1)
}

// ---- observer ------------------------------------------------------------------------------

/// Records every event, for assertions on phases and item outcomes.
#[derive(Debug, Default)]
pub struct RecordingObserver {
    pub phases: Mutex<Vec<Phase>>,
    pub items: Mutex<Vec<(ItemKind, ItemResult)>>,
}

impl CycleObserver for RecordingObserver {
    fn phase(&self, phase: Phase) {
        self.phases.lock().unwrap().push(phase);
    }

    fn item(&self, kind: ItemKind, result: ItemResult, _upload: Option<Duration>) {
        self.items.lock().unwrap().push((kind, result));
    }
}
