{{/* Names and labels. */}}

{{- define "cfc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cfc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "cfc.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cfc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cfc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.selectorComponentLabel }}
{{- end -}}

{{- define "cfc.labels" -}}
{{ include "cfc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: unique
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "cfc.serviceAccountName" -}}
{{- if .Values.serviceAccount.enabled -}}
{{- default (include "cfc.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cfc.image" -}}
{{- $registry := default .Values.image.registry ((.Values.global).image).registry -}}
{{- $ref := printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry $ref -}}{{- end -}}
{{- if and .Values.image.useDigest .Values.image.digest -}}{{- $ref = printf "%s@%s" $ref .Values.image.digest -}}{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* Paths inside the pod. Tenant files sit where the reference chart mounted them, so a
TENANT_CONFIG_PATH_PATTERN carried over from its values still matches. */}}
{{- define "cfc.configDir" -}}/etc/confluence-connector{{- end -}}
{{- define "cfc.tenantDir" -}}/app/tenant-configs{{- end -}}
{{- define "cfc.stateDir" -}}/var/lib/confluence-connector{{- end -}}

{{/* The port /metrics is served on: ports.metrics, else a reference-style
env.OTEL_EXPORTER_PROMETHEUS_PORT (which the daemon honours too), else the application port. */}}
{{- define "cfc.metricsPort" -}}
{{- $fromEnv := "" -}}
{{- with .Values.env.OTEL_EXPORTER_PROMETHEUS_PORT -}}
{{- if kindIs "map" . -}}{{- $fromEnv = toString .value -}}{{- else -}}{{- $fromEnv = toString . -}}{{- end -}}
{{- end -}}
{{- if and .Values.ports.metrics $fromEnv (ne (toString (int .Values.ports.metrics)) $fromEnv) -}}
{{- fail (printf "ports.metrics (%v) and env.OTEL_EXPORTER_PROMETHEUS_PORT (%s) disagree; the variable wins at run time, so set one of them" .Values.ports.metrics $fromEnv) -}}
{{- end -}}
{{- if .Values.ports.metrics -}}{{ int .Values.ports.metrics }}
{{- else if $fromEnv -}}{{ $fromEnv }}
{{- else -}}{{ int .Values.ports.application }}
{{- end -}}
{{- end -}}

{{- define "cfc.separateMetricsPort" -}}
{{- if ne (include "cfc.metricsPort" .) (toString (int .Values.ports.application)) -}}true{{- end -}}
{{- end -}}

{{/* The URL of an internalServices dependency, as the reference chart derives it. */}}
{{- define "cfc.internalServiceUrl" -}}
{{- $dep := .dep -}}
{{- printf "http://%s.%s.svc.cluster.local:%d%s" $dep.name (default .root.Release.Namespace $dep.namespace) (int $dep.servicePort) (default "" $dep.basePath) -}}
{{- end -}}

{{/* Settings this chart cannot honour, refused at render time with what to do instead. */}}
{{- define "cfc.validate" -}}
{{- if and (eq .Values.state.backend "sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "replicaCount > 1 needs state.backend: postgres (SQLite allows one process; the replicas share tenants through leases in PostgreSQL)" -}}
{{- end -}}
{{- if and (eq .Values.state.backend "postgres") (not .Values.state.postgres.urlSecret.name) -}}
{{- fail "state.backend: postgres needs state.postgres.urlSecret.name: a Secret whose key (state.postgres.urlSecret.key) holds postgres://user:password@host:5432/db" -}}
{{- end -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.shutdown_grace_period_secs) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed shutdown_grace_period_secs (%v), or the kubelet kills running work before it can checkpoint" .Values.terminationGracePeriodSeconds .Values.shutdown_grace_period_secs) -}}
{{- end -}}
{{- if .Values.networkPolicy.enabled -}}
{{- fail "networkPolicy.enabled: true is not supported by this chart yet; apply your NetworkPolicy / CiliumNetworkPolicy separately (deploy/helm/confluence-connector/README.md)" -}}
{{- end -}}
{{- if (.Values.connector) -}}
{{- fail "values under `connector:` are the reference chart's 2.x layout; move its keys (image, env, envVars, resources, volumes, …) to the top level, as its 3.x chart and this one expect (docs/operator/upgrading.md)" -}}
{{- end -}}
{{- end -}}

{{/* Copies the keys of `from` that hold a value (not null, not "") into `to`. */}}
{{- define "cfc.copySet" -}}
{{- range $key, $value := .from -}}
{{- if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) -}}
{{- $_ := set $.to $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* One tenant of connectorConfig.tenants as the tenant file the daemon reads: the reference
chart's mapping (authMode → serviceAuthMode, zitadel.* → zitadel*, only the fields of the chosen
auth mode, cloudId only on Cloud, tpl on the same fields), plus this connector's optional fields
passed through. Input: dict "root" $ "tenant" <tenant values>. */}}
{{- define "cfc.tenantFile" -}}
{{- $root := .root -}}
{{- $t := mergeOverwrite (deepCopy ($root.Values.tenantDefaults | default dict)) (deepCopy .tenant) -}}
{{- $file := dict -}}
{{- with $t.status }}{{ $_ := set $file "status" . }}{{ end -}}

{{- $c := $t.confluence | default dict -}}
{{- $auth := $c.auth | default dict -}}
{{- $confluence := dict "instanceType" $c.instanceType "baseUrl" (tpl (toString $c.baseUrl) $root) -}}
{{- if eq (toString $c.instanceType) "cloud" -}}
{{- $_ := set $confluence "cloudId" (tpl (toString $c.cloudId) $root) -}}
{{- end -}}
{{- $authOut := dict "mode" $auth.mode -}}
{{- if eq (toString $auth.mode) "oauth_2lo" -}}
{{- $_ := set $authOut "clientId" (tpl (toString $auth.clientId) $root) -}}
{{- $_ := set $authOut "clientSecret" $auth.clientSecret -}}
{{- else if eq (toString $auth.mode) "pat" -}}
{{- $_ := set $authOut "token" $auth.token -}}
{{- else if eq (toString $auth.mode) "basic" -}}
{{- $_ := set $authOut "username" $auth.username -}}
{{- $_ := set $authOut "password" $auth.password -}}
{{- end -}}
{{- $_ := set $confluence "auth" $authOut -}}
{{- include "cfc.copySet" (dict "to" $confluence "from" (pick $c "apiRateLimitPerMinute" "ingestSingleLabel" "ingestAllLabel" "apiBaseUrl" "tokenUrl" "spaceTypes")) -}}
{{- if hasKey $c "allowPlainHttp" }}{{ $_ := set $confluence "allowPlainHttp" $c.allowPlainHttp }}{{ end -}}
{{- $_ := set $file "confluence" $confluence -}}

{{- $u := $t.unique | default dict -}}
{{- $deps := $root.Values.internalServices.dependencies -}}
{{- $unique := dict "serviceAuthMode" $u.authMode -}}
{{- if eq (toString $u.authMode) "cluster_local" -}}
{{- $headers := dict -}}
{{- range $name, $value := $u.serviceExtraHeaders -}}
{{- $_ := set $headers $name (tpl (toString $value) $root) -}}
{{- end -}}
{{- $_ := set $unique "serviceExtraHeaders" $headers -}}
{{- else if eq (toString $u.authMode) "external" -}}
{{- $z := $u.zitadel | default dict -}}
{{- $_ := set $unique "zitadelOauthTokenUrl" (tpl (toString $z.oauthTokenUrl) $root) -}}
{{- $_ := set $unique "zitadelProjectId" (tpl (toString $z.projectId) $root) -}}
{{- $_ := set $unique "zitadelClientId" (tpl (toString $z.clientId) $root) -}}
{{- $_ := set $unique "zitadelClientSecret" (default "os.environ/ZITADEL_CLIENT_SECRET" $z.clientSecret) -}}
{{- end -}}
{{- $ingestionUrl := $u.ingestionServiceBaseUrl | default (include "cfc.internalServiceUrl" (dict "root" $root "dep" $deps.ingestion)) -}}
{{- $scopeUrl := $u.scopeManagementServiceBaseUrl | default (include "cfc.internalServiceUrl" (dict "root" $root "dep" $deps.scopeManagement)) -}}
{{- $_ := set $unique "ingestionServiceBaseUrl" (tpl (toString $ingestionUrl) $root) -}}
{{- $_ := set $unique "scopeManagementServiceBaseUrl" (tpl (toString $scopeUrl) $root) -}}
{{- include "cfc.copySet" (dict "to" $unique "from" (pick $u "apiRateLimitPerMinute" "ingestionConfig")) -}}
{{- if hasKey $u "allowPlainHttp" }}{{ $_ := set $unique "allowPlainHttp" $u.allowPlainHttp }}{{ end -}}
{{- $_ := set $file "unique" $unique -}}

{{- $processing := dict -}}
{{- include "cfc.copySet" (dict "to" $processing "from" ($t.processing | default dict)) -}}
{{- if $processing }}{{ $_ := set $file "processing" $processing }}{{ end -}}

{{- $i := $t.ingestion | default dict -}}
{{- $ingestion := dict -}}
{{- include "cfc.copySet" (dict "to" $ingestion "from" (omit $i "scopeId")) -}}
{{- $_ := set $ingestion "scopeId" (tpl (toString $i.scopeId) $root) -}}
{{- $_ := set $file "ingestion" $ingestion -}}
{{- toYaml $file -}}
{{- end -}}

{{/* The daemon's config.yaml (docs/operator/configuration.md), daemonConfig merged last. */}}
{{- define "cfc.daemonConfig" -}}
{{- $listen := dict "host" "0.0.0.0" "port" (int .Values.ports.application) -}}
{{- if include "cfc.separateMetricsPort" . -}}
{{- $_ := set $listen "metrics_port" (int (include "cfc.metricsPort" .)) -}}
{{- end -}}
{{- $state := dict "lease_ttl_secs" (int .Values.state.lease_ttl_secs) -}}
{{- if eq .Values.state.backend "sqlite" -}}
{{- $_ := set $state "url" (printf "sqlite://%s/confluence-connector.db" (include "cfc.stateDir" .)) -}}
{{- else -}}
{{- /* The URL carries a password: it comes from the Secret as CONFLUENCE_CONNECTOR__STATE__URL. */ -}}
{{- $_ := set $state "url" "os.environ/CONFLUENCE_CONNECTOR__STATE__URL" -}}
{{- end -}}
{{- $config := dict
  "listen" $listen
  "log" (pick .Values.log "level" "format" "diagnostics_data_policy")
  "state" $state
  "shutdown_grace_period_secs" (int .Values.shutdown_grace_period_secs) -}}
{{- if .Values.connectorConfig.enabled -}}
{{- $_ := set $config "tenants" (dict "files" (printf "%s/*-tenant-config.yaml" (include "cfc.tenantDir" .))) -}}
{{- end -}}
{{- if hasKey .Values.proxyConfig "allowPlainHttp" -}}
{{- $_ := set $config "proxy" (dict "allow_plain_http" .Values.proxyConfig.allowPlainHttp) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $config (deepCopy .Values.daemonConfig)) -}}
{{- end -}}

{{/* A probe from values, with the reference's /probe path pointed at ours. */}}
{{- define "cfc.probe" -}}
{{- $probe := deepCopy .probe -}}
{{- if and $probe.httpGet (eq (toString $probe.httpGet.path) "/probe") -}}
{{- $_ := set $probe.httpGet "path" .path -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}

{{/* proxyConfig as the PROXY_* variables, the way the reference chart passes them (the daemon
reads the same variables). PROXY_PASSWORD comes from envVars. */}}
{{- define "cfc.proxyEnv" -}}
{{- $p := .Values.proxyConfig -}}
{{- if $p.enabled -}}
- name: PROXY_AUTH_MODE
  value: {{ $p.authMode | quote }}
{{- if ne $p.authMode "none" }}
- name: PROXY_HOST
  value: {{ required "proxyConfig.host is required unless authMode is none" $p.host | quote }}
- name: PROXY_PORT
  value: {{ required "proxyConfig.port is required unless authMode is none" $p.port | toString | quote }}
- name: PROXY_PROTOCOL
  value: {{ default "http" $p.protocol | quote }}
{{- end }}
{{- if eq $p.authMode "username_password" }}
- name: PROXY_USERNAME
  value: {{ required "proxyConfig.username is required for username_password" $p.username | quote }}
{{- end }}
{{- if eq $p.authMode "ssl_tls" }}
- name: PROXY_SSL_CERT_PATH
  value: {{ required "proxyConfig.sslCertPath is required for ssl_tls" $p.sslCertPath | quote }}
- name: PROXY_SSL_KEY_PATH
  value: {{ required "proxyConfig.sslKeyPath is required for ssl_tls" $p.sslKeyPath | quote }}
{{- end }}
{{- with $p.sslCaBundlePath }}
- name: PROXY_SSL_CA_BUNDLE_PATH
  value: {{ . | quote }}
{{- end }}
{{- with $p.headers }}
- name: PROXY_HEADERS
  value: {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The reference chart's template names, for values that call them through tpl (its default
Unique URLs do: '{{ include "base.internalService.url" (dict "root" . "dep" …) }}'). */}}
{{- define "base.internalService.url" -}}{{- include "cfc.internalServiceUrl" . -}}{{- end -}}
{{- define "base.fullname" -}}{{- include "cfc.fullname" . -}}{{- end -}}
