#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the repository's own fixtures.

Run once from the repository root (`python3 fuzz/make_seeds.py`), then minimise with
`cargo fuzz cmin`; the committed corpus is the minimised result. Seeds are named by content hash,
as libFuzzer names what it adds.
"""
import glob
import hashlib
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
SEP = b"\xff"


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def rust_literals(path, needle):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', text):
        raw = m.group(1)
        if needle in raw:
            yield re.sub(r'\\(.)', lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)), raw)


# 1. Confluence responses: the shapes of the wire tests and the sandbox's renderings.
page = {
    "id": "100", "title": "Test Page", "type": "page",
    "space": {"id": 98304, "key": "SP", "name": "Space One"},
    "version": {"when": "2024-01-01T00:00:00.000Z", "number": 3},
    "_links": {"webui": "/spaces/SP/pages/100/Test+Page"},
    "metadata": {"labels": {"results": [{"name": "ai-ingest"}, {"name": "eng"}]}},
    "children": {"attachment": {
        "results": [{
            "id": "att1", "title": "a.pdf",
            "extensions": {"mediaType": "application/pdf", "fileSize": 12},
            "version": {"when": "2024-02-01T00:00:00.000Z"},
            "_links": {"download": "/download/attachments/100/a.pdf?version=1&api=v2"},
        }],
        "start": 0, "limit": 1, "size": 1,
        "_links": {"next": "/rest/api/content/100/child/attachment?start=1"},
    }},
    "body": {"storage": {"value": "<p>hi</p>", "representation": "storage"}},
}
v1_next = "/rest/api/content/search?cql=label%3D%22a%22&limit=100&start=100"
for next_link in [v1_next, "https://evil.example.com/rest/api/content/search", "//evil.example.com/x", ""]:
    write("confluence_responses", json.dumps({"results": [page], "_links": {"next": next_link}, "limit": 100, "size": 1}))
write("confluence_responses", json.dumps({"results": [], "_links": {}, "start": 0, "limit": 25, "size": 0}))
write("confluence_responses", json.dumps({"results": [page["children"]["attachment"]["results"][0]],
                                          "_links": {"next": "/rest/api/content/100/child/attachment?start=25"}, "limit": 25, "size": 1}))
write("confluence_responses", json.dumps({"results": [
    {"id": "att-1", "title": "x.png", "mediaType": "image/png", "fileSize": 7,
     "downloadLink": "/download/attachments/1/x.png", "version": {"createdAt": "2024-03-01T00:00:00Z"}, "status": "current"},
    {"id": 2, "title": "y.pdf", "mediaType": "application/pdf", "fileSize": 9, "downloadLink": "/download/attachments/1/y.pdf"}],
    "_links": {"next": "/wiki/api/v2/pages/1/attachments?cursor=abc"}}))
write("confluence_responses", json.dumps({"results": [
    {"id": "5", "title": "T", "spaceId": "9", "version": {"createdAt": "2024-01-01T00:00:00Z", "number": 2},
     "body": {"storage": {"representation": "storage", "value": "<p>x</p>"}}}, {"id": 6}],
    "_links": {"next": "/wiki/api/v2/pages?cursor=zz", "base": "https://acme.atlassian.net/wiki"}}))
write("confluence_responses", json.dumps({"id": "abc-123", "name": "Confluence", "typeId": "confluence"}))
for link in ["/rest/api/content/search?start=25", "https://api.atlassian.com/ex/confluence/cloud-1/wiki/x",
             "https://dc.acme.com@evil.example.com/", "rest/api/content?start=5", "/../../../admin"]:
    write("confluence_responses", link)

# 2. CQL: fixture labels and hostile values.
# Field 4 holds the space types, separated by 0xFE; empty means "a subset of the known ones".
for fields in [
    ["ai-ingest", "ai-ingest-all", "SP", "Title", b"global\xfecollaboration", "42", "43"],
    ['x") OR (label="y', "back\\slash", "TST SPACE", 'Page With "Quotes" & Stuff', "", "1) OR (2"],
    ["it's", "🚀 émoji", "ENG", "שלום עולם", "knowledge_base", "12345678901234567890"],
    ["label", "AND", "NOT", "IN", "personal", "id", ""],
    ["\\\"", "\t\n", "~x", "a'b\"c", "", "007"],
]:
    write("cql_round_trip", SEP.join(f if isinstance(f, bytes) else f.encode() for f in fields))

# 3. Storage bodies: every body of the inlining tests and parser tests, with and without image bytes.
bodies = set()
for path in [os.path.join(ROOT, "crates/sync-engine/tests/inline_images.rs"),
             os.path.join(ROOT, "crates/sync-engine/src/inline/parse.rs"),
             os.path.join(ROOT, "crates/sync-engine/src/inline/mod.rs")]:
    bodies.update(rust_literals(path, "<"))
for body in sorted(bodies):
    write("inline_splice", body)
    write("inline_splice", body.encode() + SEP + b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

# 4. Config: the reference tenant files and bad-config fixtures under the example daemon file.
daemon_example = open(os.path.join(ROOT, "config.example.yaml"), "rb").read()
fixtures = sorted(glob.glob(os.path.join(ROOT, "crates/connector/tests/fixtures/config/**/*.yaml"), recursive=True))
for i, path in enumerate(fixtures):
    tenant = open(path, "rb").read()
    daemon = daemon_example if i % 3 == 0 else b""
    write("config_loader", daemon + SEP + tenant)
write("config_loader", b"proxy:\n  mode: username_password\n  host: proxy.internal\n  port: 3128\n  protocol: http\n" + SEP + SEP + SEP + b"\xff")
write("config_loader", b"state:\n  url: os.environ/CONFLUENCE_PASSWORD\nproxy: 5\n" + SEP + b"{}" + SEP + b"- a" + SEP + b"\x00")
inline = b"""tenants:
  inline:
    acme:
      confluence:
        instanceType: data_center
        baseUrl: https://dc.acme.com
        auth:
          mode: pat
          token: os.environ/CONFLUENCE_PAT
"""
write("config_loader", inline)
