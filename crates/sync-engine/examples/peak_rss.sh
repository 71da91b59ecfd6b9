#!/bin/bash
# Peak RSS of the release binary's `sync` against `confluence-sandbox serve` (Data Center, no
# rate limits), measured with /usr/bin/time -v on the connector process alone. Issue 7 targets:
# one 1 GiB attachment <= 64 MiB, 100,000 pages discovered <= 256 MiB.
#
#   cargo build --release -p connector --bin confluence-connector -p sandbox --bin confluence-sandbox
#   crates/sync-engine/examples/peak_rss.sh big-attachment
#   crates/sync-engine/examples/peak_rss.sh discovery-100k      # sync --dry-run
#   crates/sync-engine/examples/peak_rss.sh sync-20k            # a real sync of 20,000 pages
#
# Uses ports 7790-7799 on loopback. CONNECTOR=path overrides the binary under test.
set -euo pipefail
scenario=${1:?big-attachment, discovery-100k or sync-20k}
target=${CARGO_TARGET_DIR:-target}/release
connector=${CONNECTOR:-$target/confluence-connector}
work=$(mktemp -d)
trap 'kill "$sandbox" 2>/dev/null || true; rm -rf "$work"' EXIT

generated() { # SPACES PAGES_PER_SPACE
  printf 'seed: 5\nspaces: %s\npages_per_space: %s\nsubtree_ratio: 0.5\nsingle_ratio: 1.0\nblogposts_per_space: 0\nmax_attachments_per_page: 0\nparagraphs: 1\n' "$1" "$2" > "$work/spec.yaml"
  echo --generate-spec "$work/spec.yaml"
}
sync_args=""
case $scenario in
  big-attachment)
    cat > "$work/big.yaml" <<'YAML'
spaces: [{id: "1001", key: BIG, name: Big, type: global}]
content:
  - {id: "2001", title: Big Home, space: BIG, labels: [ai-ingest], body: "<p>Home.</p>",
     attachments: [{id: att3001, title: big.pdf, mediaType: application/pdf,
                    data: {generated: {seed: 7, size: 1073741824}}}]}
YAML
    data="--dataset $work/big.yaml" ;;
  discovery-100k) data=$(generated 20 5000); sync_args=--dry-run ;;
  sync-20k) data=$(generated 20 1000) ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac

# shellcheck disable=SC2086
"$target/confluence-sandbox" serve --addr 127.0.0.1:7790 --dc-addr 127.0.0.1:7791 \
  --unique-ingestion-addr 127.0.0.1:7792 --unique-scope-management-addr 127.0.0.1:7793 \
  $data > "$work/sandbox.log" 2>&1 &
sandbox=$!
for _ in $(seq 1 600); do curl -sf http://127.0.0.1:7790/_sandbox/urls > /dev/null && break; sleep 0.5; done
curl -sf -X POST http://127.0.0.1:7790/_sandbox/unique/scopes -H 'content-type: application/json' \
  -d '{"id":"root-scope-id","name":"Confluence"}' > /dev/null
cat > "$work/config.yaml" <<YAML
listen: {host: 127.0.0.1, port: 7799}
log: {level: warn, format: json}
state: {url: "sqlite://$work/state.db"}
tenants:
  inline:
    rss:
      confluence:
        instanceType: data-center
        baseUrl: http://127.0.0.1:7791
        auth: { mode: pat, token: sandbox-pat }
        apiRateLimitPerMinute: 60000
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders: {x-company-id: sandbox-company, x-user-id: sandbox-user}
        ingestionServiceBaseUrl: http://127.0.0.1:7792
        scopeManagementServiceBaseUrl: http://127.0.0.1:7793
        apiRateLimitPerMinute: 60000
      ingestion:
        scopeId: root-scope-id
        attachments: {maxFileSizeMb: 2048}
YAML
# shellcheck disable=SC2086
/usr/bin/time -v "$connector" --config "$work/config.yaml" sync --json $sync_args \
  > "$work/out.json" 2> "$work/time.txt"
grep -E "Elapsed|Maximum resident" "$work/time.txt"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tenants"][0]; print(t["status"], t["counts"])' "$work/out.json"
