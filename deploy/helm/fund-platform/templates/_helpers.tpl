{{/*
Shared templates. Every name is prefixed with the chart name.
Templates that concern one component take a dict: (dict "root" $ "component" "auth").
*/}}

{{/* The five services, in the order they are rendered. */}}
{{- define "fund-platform.services" -}}
auth portfolio profit withdrawal stats
{{- end -}}

{{- define "fund-platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fund-platform.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fund-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of one component's resources: <fullname>-<component>. */}}
{{- define "fund-platform.componentName" -}}
{{- printf "%s-%s" (include "fund-platform.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select one component's pods (never change them on upgrade). */}}
{{- define "fund-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fund-platform.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels every resource of one component carries. */}}
{{- define "fund-platform.labels" -}}
helm.sh/chart: {{ include "fund-platform.chart" .root }}
{{ include "fund-platform.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "fund-platform.name" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/* Image of one service: [registry/]repository:tag. */}}
{{- define "fund-platform.image" -}}
{{- $svc := index .root.Values .component -}}
{{- $registry := .root.Values.global.image.registry -}}
{{- $tag := $svc.image.tag | default .root.Values.global.image.tag | default .root.Chart.AppVersion -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) $svc.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $svc.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Fully qualified DNS name of a component's Service; pass "suffix" for the headless one. */}}
{{- define "fund-platform.serviceHost" -}}
{{- printf "%s%s.%s.svc.%s" (include "fund-platform.componentName" .) (default "" .suffix) .root.Release.Namespace .root.Values.global.clusterDomain -}}
{{- end -}}

{{/* Base URL of the auth service, for JWKS_URL and AUTH_URL. */}}
{{- define "fund-platform.authURL" -}}
{{- if .Values.global.authURL -}}
{{- trimSuffix "/" .Values.global.authURL -}}
{{- else if .Values.auth.create -}}
{{- printf "http://%s:8080" (include "fund-platform.serviceHost" (dict "root" . "component" "auth")) -}}
{{- else -}}
{{- fail "auth.create is false: set global.authURL to the auth service's base URL" -}}
{{- end -}}
{{- end -}}

{{/* Base URL of the portfolio service, for profit's PORTFOLIO_URL. */}}
{{- define "fund-platform.portfolioURL" -}}
{{- if .Values.global.portfolioURL -}}
{{- trimSuffix "/" .Values.global.portfolioURL -}}
{{- else if .Values.portfolio.create -}}
{{- printf "http://%s:8080" (include "fund-platform.serviceHost" (dict "root" . "component" "portfolio")) -}}
{{- else -}}
{{- fail "portfolio.create is false: set global.portfolioURL to the portfolio service's base URL (profit asks it about new portfolios)" -}}
{{- end -}}
{{- end -}}

{{- define "fund-platform.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* Pod security context of the services (distroless "nonroot" is 65532). */}}
{{- define "fund-platform.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context shared by every container of the chart. */}}
{{- define "fund-platform.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Environment of one service (Deployment and migration Job alike).
Only the variables the services read; extra ones come from <service>.env.
*/}}
{{- define "fund-platform.serviceEnv" -}}
{{- $root := .root -}}
{{- $name := .component -}}
{{- $svc := index $root.Values $name -}}
- name: HTTP_ADDR
  value: ":8080"
- name: APP_ENV
  value: {{ $root.Values.global.appEnv | quote }}
- name: LOG_LEVEL
  value: {{ $root.Values.global.logLevel | quote }}
- name: LOG_FORMAT
  value: {{ $root.Values.global.logFormat | quote }}
- name: JWT_ISSUER
  value: {{ $root.Values.global.jwt.issuer | quote }}
- name: JWT_AUDIENCE
  value: {{ $root.Values.global.jwt.audience | quote }}
{{- /* Each service gets only the variables it reads (deploy/validate checks it). */}}
{{- if ne $name "auth" }}
- name: KAFKA_BROKERS
  value: {{ required "global.kafka.brokers is required" $root.Values.global.kafka.brokers | quote }}
- name: JWKS_URL
  value: {{ printf "%s/.well-known/jwks.json" (include "fund-platform.authURL" $root) | quote }}
- name: AUTH_URL
  value: {{ include "fund-platform.authURL" $root | quote }}
{{- end }}
{{- if eq $name "withdrawal" }}
- name: LEDGER_CHECKPOINT_KEY_FILE
  value: /var/run/secrets/fund-withdrawal/checkpoint-key.pem
{{- end }}
{{- if eq $name "profit" }}
- name: PORTFOLIO_URL
  value: {{ include "fund-platform.portfolioURL" $root | quote }}
{{- end }}
{{- with $root.Values.global.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "%s.databaseSecret.name is required" $name) $svc.databaseSecret.name }}
      key: {{ required (printf "%s.databaseSecret.key is required" $name) $svc.databaseSecret.key }}
{{- if eq $name "auth" }}
- name: XFF_TRUSTED_HOPS
  value: {{ $root.Values.edge.xffNumTrustedHops | quote }}
- name: JWT_SIGNING_KEY_FILE
  value: /var/run/secrets/fund-auth/signing-key.pem
- name: BOOTSTRAP_ADMIN_EMAIL
  value: {{ required "auth.bootstrapAdmin.email is required" $svc.bootstrapAdmin.email | quote }}
- name: BOOTSTRAP_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "auth.bootstrapAdmin.passwordSecret.name is required" $svc.bootstrapAdmin.passwordSecret.name }}
      key: {{ required "auth.bootstrapAdmin.passwordSecret.key is required" $svc.bootstrapAdmin.passwordSecret.key }}
{{- end }}
{{- range $key, $value := $svc.env }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}
