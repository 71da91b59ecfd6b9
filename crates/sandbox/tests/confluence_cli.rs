//! `confluence-sandbox serve` as scripts use it: one JSON line with every URL, the control API on
//! `--addr`, flags applied, a clean exit on SIGTERM.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the server if an assertion fails before the test stops it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_prints_urls_applies_flags_and_stops_on_sigterm() {
    let child = Command::new(env!("CARGO_BIN_EXE_confluence-sandbox"))
        .args([
            "serve",
            "--generate",
            "5:2:6",
            "--addr",
            "127.0.0.1:0",
            "--dc-context-path",
            "/confluence",
            "--rate-limit",
            "cloud=600/20",
            "--latency",
            "dc=1",
            "--dc-next-start",
            "served",
            "--dc-past-end",
            "empty-pages",
            "--dc-past-end-after",
            "50",
            "--dc-content-listing",
            "open",
            "--cloud-quota-pool",
            "500",
            "--cloud-quota-window-secs",
            "20",
            "--cloud-quota-kind",
            "tenant",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let child = &mut guard.0;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let urls: Value = serde_json::from_str(&line).unwrap();
    for key in [
        "cloud_gateway",
        "cloud_api",
        "cloud_site",
        "media",
        "dc_base",
        "unique_ingestion",
        "unique_scope_management",
        "unique_blob",
        "zitadel_token",
        "control",
    ] {
        assert!(
            urls[key].as_str().unwrap().starts_with("http://127.0.0.1:"),
            "{key}: {line}"
        );
    }
    assert!(urls["dc_base"].as_str().unwrap().ends_with("/confluence"));

    let control = urls["control"].as_str().unwrap();
    let dataset: Value = reqwest::get(format!("{control}/_sandbox/confluence/dataset"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dataset["spaces"].as_array().unwrap().len(), 2);
    let faults: Value = reqwest::get(format!("{control}/_sandbox/faults"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["rate_limits"]["cloud"]["per_minute"], 600);
    assert_eq!(faults["rules"][0]["latency_ms"], 1);
    let dc_quirks: Value = reqwest::get(format!("{control}/_sandbox/confluence/dc-quirks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        dc_quirks,
        serde_json::json!({"next_start_by_requested_limit": false, "past_end": "empty_pages",
                           "past_end_after": 50, "content_listing_blocked": false})
    );
    let quota: Value = reqwest::get(format!("{control}/_sandbox/cloud-quota"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &quota["enabled"],
            &quota["pool"],
            &quota["window_secs"],
            &quota["kind"]
        ),
        (
            &Value::Bool(true),
            &Value::from(500),
            &Value::from(20),
            &Value::from("tenant")
        )
    );

    let manifest = reqwest::get(format!(
        "{}/rest/applinks/1.0/manifest",
        urls["dc_base"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(manifest.status(), reqwest::StatusCode::OK);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client outside the test suite can meet Unique in external (Zitadel) mode and Cloud's
/// friendliest next links, chosen on the command line.
#[tokio::test]
async fn serve_switches_unique_to_external_auth_and_the_next_link_shape_from_the_command_line() {
    let child = Command::new(env!("CARGO_BIN_EXE_confluence-sandbox"))
        .args([
            "serve",
            "--unique-auth",
            "external",
            "--cloud-search-next-link",
            "wiki-with-expand",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(guard.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let urls: Value = serde_json::from_str(&line).unwrap();
    let url = |key: &str| urls[key].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let graphql = format!("{}/graphql", url("unique_ingestion"));
    let ping = serde_json::json!({"query": "{ __typename }"});

    let with_headers = http
        .post(&graphql)
        .header("x-service-id", "confluence-connector")
        .header("x-company-id", "sandbox-company")
        .header("x-user-id", "sandbox-user")
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(with_headers.status(), reqwest::StatusCode::UNAUTHORIZED);

    let token: Value = http
        .post(url("zitadel_token"))
        .basic_auth("sandbox-zitadel-client", Some("sandbox-zitadel-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "scope",
                "urn:zitadel:iam:org:project:id:sandbox-project:aud",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let with_token = http
        .post(&graphql)
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), reqwest::StatusCode::OK);

    let control = url("control");
    let mode: Value = reqwest::get(format!("{control}/_sandbox/unique/auth-mode"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mode["mode"], "external");
    let shape: Value = reqwest::get(format!(
        "{control}/_sandbox/confluence/cloud-search-next-link"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(shape["shape"], "wiki_with_expand");
}

#[tokio::test]
async fn serve_with_a_dataset_file_on_a_fixed_port_prints_its_urls_when_ready() {
    // The exact form the issue names: `serve --dataset FILE --addr 127.0.0.1:PORT`.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/example.yaml");
    let child = Command::new(env!("CARGO_BIN_EXE_confluence-sandbox"))
        .args([
            "serve",
            "--dataset",
            file,
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let mut lines = BufReader::new(guard.0.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let urls: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        urls["control"],
        format!("http://127.0.0.1:{port}"),
        "{line}"
    );

    // Ready means ready: the first request after the line succeeds, and serves the file's data.
    let dataset: Value = reqwest::get(format!(
        "http://127.0.0.1:{port}/_sandbox/confluence/dataset"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let keys: Vec<&str> = dataset["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["ENG", "TEAM"]);
    let search = reqwest::Client::new()
        .get(format!(
            "{}/rest/api/content/search",
            urls["dc_base"].as_str().unwrap()
        ))
        .query(&[("cql", "label=\"ai-ingest-all\""), ("limit", "10")])
        .bearer_auth("sandbox-pat")
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), reqwest::StatusCode::OK);
    let body: Value = search.json().await.unwrap();
    assert!(body["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "2001"));
}
