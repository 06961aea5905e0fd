{{/*
Names and labels shared by the templates.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "cohort-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name: fullnameOverride, else the release name if it already contains the chart
name, else "<release>-<chart>". It names every object of the release (63 characters at most, as
label values and Service names require).
*/}}
{{- define "cohort-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "cohort-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cohort-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The operator pods' labels that selectors use: never change them (a Deployment's selector is immutable). */}}
{{- define "cohort-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cohort-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "cohort-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cohort-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository, then @digest or :tag (default: the chart's appVersion). */}}
{{- define "cohort-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The RBAC rules of files/rbac-rules.yaml under the given key ("operator" or "leaderElection"). */}}
{{- define "cohort-operator.rules" -}}
{{- $rules := .context.Files.Get "files/rbac-rules.yaml" | fromYaml }}
{{- if hasKey $rules "Error" }}
{{- fail (printf "files/rbac-rules.yaml: %s" $rules.Error) }}
{{- end }}
{{- required (printf "files/rbac-rules.yaml has no %q rules" .key) (get $rules .key) | toYaml }}
{{- end }}

{{/* Checks of value combinations the schema cannot express. */}}
{{- define "cohort-operator.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicas > 1 needs leaderElection.enabled: without it every replica would reconcile" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not (and .Values.metrics.enabled .Values.metrics.service.enabled)) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled and metrics.service.enabled" }}
{{- end }}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.healthProbePort)) }}
{{- fail "metrics.port and healthProbePort must differ" }}
{{- end }}
{{- end }}
