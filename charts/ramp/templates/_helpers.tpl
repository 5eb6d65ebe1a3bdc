{{/* Name of the chart, overridable. */}}
{{- define "ramp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: release name, plus the chart name unless it contains it. */}}
{{- define "ramp.fullname" -}}
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

{{/*
Name of cluster-scoped objects (ClusterRole, ClusterRoleBinding): the full name plus the release
namespace, so that two releases of the same name in different namespaces do not collide.
*/}}
{{- define "ramp.clusterName" -}}
{{- printf "%s-%s" (include "ramp.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "ramp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ramp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ramp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ramp.labels" -}}
helm.sh/chart: {{ include "ramp.chart" . }}
{{ include "ramp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: ramp
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ramp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ramp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ramp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Rules for what the operator does inside the namespaces it watches. Every rule is an API call the
operator (operator/ramp/k8s, reconcile.py) or Kopf makes; nothing more.
*/}}
{{- define "ramp.namespacedRules" -}}
# Kopf lists and watches Rollouts; the reconciler reads them and patches metadata.finalizers.
- apiGroups: ["ramp.dev"]
  resources: ["rollouts"]
  verbs: ["get", "list", "watch", "patch"]
# RolloutPolicies: Kopf lists and watches them; the reconciler reads them from that watch (and
# gets one the watch has not delivered yet, once, just after a start).
- apiGroups: ["ramp.dev"]
  resources: ["rolloutpolicies"]
  verbs: ["get", "list", "watch"]
# Status is the only place Ramp writes progress (merge patch of the status subresource).
- apiGroups: ["ramp.dev"]
  resources: ["rollouts/status"]
  verbs: ["patch"]
# The flag ConfigMaps the operator owns: Kopf watches them (by label) to heal manual edits.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Worker Deployments: read, and the rolling restart of env consumers stamps the pod template.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "patch"]
# Worker replicas without an HPA are set through the scale subresource.
- apiGroups: ["apps"]
  resources: ["deployments/scale"]
  verbs: ["patch"]
# Worker HPAs: minReplicas/maxReplicas per phase, restored at the end.
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "patch"]
# Events on Rollouts, posted by Ramp and by Kopf (core/v1 Events).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- with .Values.secretNames }}
# Notification webhook URLs and Prometheus credentials: these Secrets only, read only.
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: {{ toJson . }}
  verbs: ["get"]
{{- end }}
{{- end }}

{{/* The leader Lease's name: leaderElection.leaseName, else the full name, so that two releases
in one namespace never share a Lease. */}}
{{- define "ramp.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "ramp.fullname" .) }}
{{- end }}
