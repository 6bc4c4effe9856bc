{{/*
The edge's Envoy bootstrap. Same structure as deploy/envoy/envoy.yaml (the
compose edge); what differs is templated: upstream addresses (the services'
headless Services), CORS origins, rate limits, timeouts, trusted proxy hops
and the OTLP collector. Change both files together.
*/}}

{{/* Upstream routes: name, match kind, match value, service. Each becomes a GET route with retries and a catch-all route without. */}}
{{- define "fund-platform.edgeRoutes" -}}
- [auth-jwks, path_separated_prefix, /.well-known/jwks.json, auth]
- [auth-api, prefix, /api/v1/auth/, auth]
- [users, path_separated_prefix, /api/v1/users, auth]
- [teams, path_separated_prefix, /api/v1/teams, auth]
- [portfolios, path_separated_prefix, /api/v1/portfolios, portfolio]
- [profit, prefix, /api/v1/profit/, profit]
- [balances, path_separated_prefix, /api/v1/balances, withdrawal]
- [withdrawals, path_separated_prefix, /api/v1/withdrawals, withdrawal]
- [reallocations, path_separated_prefix, /api/v1/reallocations, withdrawal]
- [ledger, prefix, /api/v1/ledger/, withdrawal]
- [stats, prefix, /api/v1/stats/, stats]
{{- end -}}

{{/* The API docs: ConfigMap key → chart file (docs/ links devstack/edge/docs). */}}
{{- define "fund-platform.edgeDocsFiles" -}}
index.html: docs/index.html
docs.css: docs/assets/docs.css
docs.js: docs/assets/docs.js
openapi.json: docs/openapi.json
{{- end -}}

{{- define "fund-platform.edgeDocsName" -}}
{{ include "fund-platform.componentName" (dict "root" . "component" "edge") | trunc 58 | trimSuffix "-" }}-docs
{{- end -}}

{{/* Docs routes answered from those files (mounted at /srv/fund-docs): route name, path, file, Content-Type. */}}
{{- define "fund-platform.edgeDocsRoutes" -}}
- [docs-page, /docs, index.html, "text/html; charset=utf-8"]
- [docs-page-slash, /docs/, index.html, "text/html; charset=utf-8"]
- [docs-css, /docs/assets/docs.css, assets/docs.css, "text/css; charset=utf-8"]
- [docs-js, /docs/assets/docs.js, assets/docs.js, "text/javascript; charset=utf-8"]
- [docs-openapi, /docs/openapi.json, openapi.json, application/json]
{{- end -}}

{{- define "fund-platform.edgeLocalReply" -}}
- filter:
    status_code_filter:
      comparison:
        op: {{ .op }}
        value: { default_value: {{ .status }}, runtime_key: {{ printf "edge.local_reply.%s" .key }} }
  body_format_override:
    text_format: {{ printf `{"isOK":false,"message":"%s","data":{"errorCode":%s,"code":"%s"}}` .message .errorCode .code | squote }}
    content_type: application/json
{{- end -}}

{{- define "fund-platform.edgeBucket" -}}
{ max_tokens: {{ .maxTokens }}, tokens_per_fill: {{ .tokensPerFill }}, fill_interval: {{ .fillInterval }} }
{{- end -}}

{{/* One row of the rate-limit table: a bucket per client address (remote_address) under a global one. */}}
{{- define "fund-platform.edgeRateLimit" -}}
"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
stat_prefix: {{ .statPrefix }}
token_bucket: {{ include "fund-platform.edgeBucket" .limit.global }}
rate_limits:
  - actions: [{ remote_address: {} }]
descriptors:
  - entries: [{ key: remote_address }]
    token_bucket: {{ include "fund-platform.edgeBucket" .limit.perClient }}
max_dynamic_descriptors: {{ .maxClients }}
always_consume_default_token_bucket: true
filter_enabled:
  runtime_key: {{ .statPrefix }}.enabled
  default_value: { numerator: 100, denominator: HUNDRED }
filter_enforced:
  runtime_key: {{ .statPrefix }}.enforced
  default_value: { numerator: 100, denominator: HUNDRED }
enable_x_ratelimit_headers: DRAFT_VERSION_03
enable_retry_after_header: true
{{- end -}}

{{- define "fund-platform.edgeCluster" -}}
- name: {{ .name }}
  type: STRICT_DNS
  dns_lookup_family: V4_ONLY
  connect_timeout: 2s
  lb_policy: ROUND_ROBIN
  load_assignment:
    cluster_name: {{ .name }}
    endpoints:
      - lb_endpoints:
          - endpoint:
              address:
                socket_address: { address: {{ .host }}, port_value: {{ .port }} }
  {{- if .healthCheck }}
  health_checks:
    - timeout: 2s
      interval: 5s
      unhealthy_threshold: 3
      healthy_threshold: 1
      http_health_check: { path: /readyz }
  {{- end }}
  {{- if .tls }}
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
      sni: {{ .host }}
      common_tls_context:
        validation_context:
          trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }
  {{- end }}
{{- end -}}

{{- define "fund-platform.envoyConfig" -}}
{{- $edge := .Values.edge -}}
{{- $timeout := $edge.routeTimeout -}}
{{- range $edge.corsAllowedOrigins }}
{{- if or (eq . "*") (not .) }}{{ fail "edge.corsAllowedOrigins: list exact origins, never \"*\"" }}{{ end }}
{{- end }}
{{- /* Upstream of each service: in-chart headless Service, or global.authURL for an external auth. */ -}}
{{- $upstreams := dict -}}
{{- range $name := splitList " " (include "fund-platform.services" .) }}
{{- if (index $.Values $name).create }}
{{- $_ := set $upstreams $name (dict "host" (include "fund-platform.serviceHost" (dict "root" $ "component" $name "suffix" "-headless")) "port" 8080 "tls" false) }}
{{- end }}
{{- end }}
{{- if not .Values.auth.create }}
{{- $u := urlParse (required "auth.create is false: set global.authURL" .Values.global.authURL) }}
{{- $hp := splitList ":" $u.host }}
{{- $_ := set $upstreams "auth" (dict "host" (first $hp) "port" (int (ternary (last $hp) (ternary "443" "80" (eq $u.scheme "https")) (eq (len $hp) 2))) "tls" (eq $u.scheme "https")) }}
{{- end }}
{{- $auth := index $upstreams "auth" -}}
{{- $otel := dict -}}
{{- with .Values.global.otel.endpoint }}
{{- $u := urlParse . }}
{{- $hp := splitList ":" $u.host }}
{{- $otel = dict "host" (first $hp) "port" (int (ternary (last $hp) "4318" (eq (len $hp) 2))) "tls" (eq $u.scheme "https") "uri" (printf "%s/v1/traces" (trimSuffix "/" .)) }}
{{- end -}}
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 9901 }

overload_manager:
  resource_monitors:
    - name: envoy.resource_monitors.global_downstream_max_connections
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
        max_active_downstream_connections: 10000

static_resources:
  listeners:
    - name: edge
      address:
        socket_address: { address: 0.0.0.0, port_value: 8080 }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: edge
                codec_type: AUTO
                use_remote_address: true
                xff_num_trusted_hops: {{ $edge.xffNumTrustedHops }}
                normalize_path: true
                merge_slashes: true
                path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT
                common_http_protocol_options:
                  idle_timeout: 300s
                  headers_with_underscores_action: REJECT_REQUEST
                request_headers_timeout: 10s
                stream_idle_timeout: 60s
                generate_request_id: true
                preserve_external_request_id: true
                always_set_request_id_in_response: true
                request_id_extension:
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig
                    pack_trace_reason: false
                    use_request_id_for_trace_sampling: false
                {{- if $otel }}
                tracing:
                  provider:
                    name: envoy.tracers.opentelemetry
                    typed_config:
                      "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                      service_name: fund-edge
                      http_service:
                        http_uri:
                          uri: {{ $otel.uri | quote }}
                          cluster: otel_collector
                          timeout: 1s
                {{- end }}
                access_log:
                  - name: envoy.access_loggers.stdout
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
                      log_format:
                        json_format:
                          time: "%START_TIME%"
                          request_id: "%REQ(X-REQUEST-ID)%"
                          traceparent: "%REQ(TRACEPARENT)%"
                          method: "%REQ(:METHOD)%"
                          path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"
                          protocol: "%PROTOCOL%"
                          status: "%RESPONSE_CODE%"
                          response_flags: "%RESPONSE_FLAGS%"
                          details: "%RESPONSE_CODE_DETAILS%"
                          bytes_received: "%BYTES_RECEIVED%"
                          bytes_sent: "%BYTES_SENT%"
                          duration_ms: "%DURATION%"
                          upstream_service_time_ms: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"
                          upstream_cluster: "%UPSTREAM_CLUSTER%"
                          upstream_host: "%UPSTREAM_HOST%"
                          client: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"
                          user_agent: "%REQ(USER-AGENT)%"
                local_reply_config:
                  mappers:
                    {{- include "fund-platform.edgeLocalReply" (dict "op" "EQ" "status" 401 "key" "401" "errorCode" "401" "code" "unauthenticated" "message" "missing, expired or invalid access token") | nindent 20 }}
                    {{- include "fund-platform.edgeLocalReply" (dict "op" "EQ" "status" 403 "key" "403" "errorCode" "403" "code" "forbidden" "message" "forbidden") | nindent 20 }}
                    {{- include "fund-platform.edgeLocalReply" (dict "op" "EQ" "status" 404 "key" "404" "errorCode" "404" "code" "not_found" "message" "not found") | nindent 20 }}
                    {{- include "fund-platform.edgeLocalReply" (dict "op" "EQ" "status" 429 "key" "429" "errorCode" "429" "code" "rate_limited" "message" "too many requests, try again later") | nindent 20 }}
                    {{- include "fund-platform.edgeLocalReply" (dict "op" "GE" "status" 500 "key" "5xx" "errorCode" "%RESPONSE_CODE%" "code" "internal" "message" "the service is unavailable, try again later") | nindent 20 }}
                http_filters:
                  - name: envoy.filters.http.cors
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
                  - name: envoy.filters.http.local_ratelimit
                    typed_config:
                      {{- include "fund-platform.edgeRateLimit" (dict "statPrefix" "edge_rate_limit" "limit" $edge.rateLimit.api "maxClients" $edge.rateLimit.maxClients) | nindent 22 }}
                  - name: envoy.filters.http.jwt_authn
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
                      providers:
                        fund_auth:
                          issuer: {{ .Values.global.jwt.issuer | quote }}
                          audiences: [{{ .Values.global.jwt.audience | quote }}]
                          require_expiration: true
                          clock_skew_seconds: 5
                          forward: true
                          remote_jwks:
                            http_uri:
                              uri: {{ printf "%s://%s:%d/.well-known/jwks.json" (ternary "https" "http" $auth.tls) $auth.host (int $auth.port) | quote }}
                              cluster: auth
                              timeout: 5s
                            cache_duration: {{ $edge.jwksCacheDuration }}
                            async_fetch:
                              failed_refetch_duration: 5s
                            retry_policy:
                              num_retries: 3
                      rules:
                        - match: { path: /api/v1/auth/login }
                        - match: { path: /api/v1/auth/refresh }
                        - match: { path: /.well-known/jwks.json }
                        - match: { path: /api/v1/auth/jwks.json }
                        - match: { path: /api/v1/health }
                        - match: { prefix: /api/v1/ }
                          requires: { provider_name: fund_auth }
                      bypass_cors_preflight: true
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                route_config:
                  name: edge
                  # The docs answer with whole files; the merged OpenAPI
                  # document is far over Envoy's 4 KiB default.
                  max_direct_response_body_size_bytes: 1048576
                  virtual_hosts:
                    - name: api
                      domains: ["*"]
                      {{- with $edge.corsAllowedOrigins }}
                      typed_per_filter_config:
                        envoy.filters.http.cors:
                          "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                          allow_origin_string_match:
                            {{- range . }}
                            - exact: {{ . | quote }}
                            {{- end }}
                          allow_methods: GET, POST, PUT, PATCH, DELETE, OPTIONS
                          allow_headers: authorization, content-type, idempotency-key, x-request-id, traceparent, tracestate
                          expose_headers: x-request-id, idempotent-replayed, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset
                          max_age: "600"
                      {{- end }}
                      routes:
                        - name: health
                          match: { path: /api/v1/health }
                          direct_response:
                            status: 200
                            body: { inline_string: '{"status":"healthy"}' }
                          response_headers_to_add:
                            - header: { key: content-type, value: application/json }
                              append_action: OVERWRITE_IF_EXISTS_OR_ADD
                        {{- /* API docs: public (the JWT rules cover /api/v1/ only), GET and HEAD only. */}}
                        {{- range $r := include "fund-platform.edgeDocsRoutes" . | fromYamlArray }}
                        - name: {{ index $r 0 }}
                          match:
                            path: {{ index $r 1 }}
                            headers: [{ name: ":method", string_match: { safe_regex: { regex: "^(GET|HEAD)$" } } }]
                          direct_response:
                            status: 200
                            body: { filename: {{ printf "/srv/fund-docs/%s" (index $r 2) }} }
                          response_headers_to_add:
                            - header: { key: content-type, value: {{ index $r 3 | quote }} }
                              append_action: OVERWRITE_IF_EXISTS_OR_ADD
                            - header: { key: cache-control, value: no-cache }
                              append_action: OVERWRITE_IF_EXISTS_OR_ADD
                            - header: { key: x-content-type-options, value: nosniff }
                              append_action: OVERWRITE_IF_EXISTS_OR_ADD
                        {{- end }}
                        {{- range $name := splitList " " (include "fund-platform.services" .) }}
                        {{- if hasKey $upstreams $name }}
                        - name: docs-openapi-{{ $name }}
                          match:
                            path: /docs/openapi/{{ $name }}.json
                            headers: [{ name: ":method", string_match: { safe_regex: { regex: "^(GET|HEAD)$" } } }]
                          route: { cluster: {{ $name }}, prefix_rewrite: /openapi.json, timeout: {{ $timeout }} }
                          request_headers_to_remove: [authorization, cookie]
                        {{- end }}
                        {{- end }}
                        - name: docs-method-not-allowed
                          match:
                            path_separated_prefix: /docs
                            headers: [{ name: ":method", string_match: { safe_regex: { regex: "^(GET|HEAD)$" } }, invert_match: true }]
                          direct_response:
                            status: 405
                            body: { inline_string: '{"isOK":false,"message":"method not allowed","data":{"errorCode":405,"code":"method_not_allowed"}}' }
                          response_headers_to_add:
                            - header: { key: content-type, value: application/json }
                              append_action: OVERWRITE_IF_EXISTS_OR_ADD
                            - header: { key: allow, value: "GET, HEAD" }
                              append_action: OVERWRITE_IF_EXISTS_OR_ADD
                        - name: auth-login
                          match: { path: /api/v1/auth/login }
                          route: { cluster: auth, timeout: {{ $timeout }} }
                          typed_per_filter_config:
                            envoy.filters.http.local_ratelimit:
                              {{- include "fund-platform.edgeRateLimit" (dict "statPrefix" "edge_login_rate_limit" "limit" $edge.rateLimit.login "maxClients" $edge.rateLimit.maxClients) | nindent 30 }}
                        {{- range $r := include "fund-platform.edgeRoutes" . | fromYamlArray }}
                        {{- $routeName := index $r 0 }}{{ $kind := index $r 1 }}{{ $value := index $r 2 }}{{ $cluster := index $r 3 }}
                        {{- if hasKey $upstreams $cluster }}
                        - name: {{ $routeName }}-get
                          match:
                            {{ $kind }}: {{ $value }}
                            headers: [{ name: ":method", string_match: { exact: GET } }]
                          route:
                            cluster: {{ $cluster }}
                            timeout: {{ $timeout }}
                            retry_policy:
                              retry_on: 5xx,reset,connect-failure
                              num_retries: 2
                              per_try_timeout: 5s
                        - name: {{ $routeName }}
                          match: { {{ $kind }}: {{ $value }} }
                          route: { cluster: {{ $cluster }}, timeout: {{ $timeout }} }
                        {{- end }}
                        {{- end }}

    - name: metrics
      address:
        socket_address: { address: 0.0.0.0, port_value: 9902 }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: metrics
                codec_type: AUTO
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                route_config:
                  name: metrics
                  virtual_hosts:
                    - name: metrics
                      domains: ["*"]
                      routes:
                        - match: { path: /stats/prometheus }
                          route: { cluster: envoy_admin }
                        - match: { path: /ready }
                          route: { cluster: envoy_admin }

  clusters:
    {{- range $name := splitList " " (include "fund-platform.services" .) }}
    {{- with index $upstreams $name }}
    {{- include "fund-platform.edgeCluster" (dict "name" $name "host" .host "port" .port "tls" .tls "healthCheck" (not .tls)) | nindent 4 }}
    {{- end }}
    {{- end }}
    {{- if $otel }}
    {{- include "fund-platform.edgeCluster" (dict "name" "otel_collector" "host" $otel.host "port" $otel.port "tls" $otel.tls "healthCheck" false) | nindent 4 }}
    {{- end }}
    - name: envoy_admin
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: envoy_admin
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: 127.0.0.1, port_value: 9901 }
{{- end -}}
