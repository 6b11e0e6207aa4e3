{{/* Name of the chart, overridable only through the release name. */}}
{{- define "nuri-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release> when it already names the chart, else <release>-nuri-operator. */}}
{{- define "nuri-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nuri-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nuri-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nuri-operator.labels" -}}
{{ include "nuri-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: nuri
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "nuri-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nuri-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag or repository@digest; the tag defaults to the chart's appVersion. */}}
{{- define "nuri-operator.imageRef" -}}
{{- $image := index . 0 -}}
{{- $appVersion := index . 1 -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default $appVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The RBAC rules the operator needs on ModelDeployments and the objects it makes of them.
     Derived from the reconciler and its dependents; see docs/install.md#permissions. */}}
{{- define "nuri-operator.reconcileRules" -}}
# Primary resource: read only (the operator adds no finalizer and changes no spec field itself) ...
- apiGroups: [serving.nuri.dev]
  resources: [modeldeployments]
  verbs: [get, list, watch]
# ... except spec.replicas, through the scale subresource as kubectl scale does, when the built-in
# autoscaler is on (spec.autoscaling.enabled).
- apiGroups: [serving.nuri.dev]
  resources: [modeldeployments/scale]
  verbs: [get, update]
# Status, written by server-side apply.
- apiGroups: [serving.nuri.dev]
  resources: [modeldeployments/status]
  verbs: [patch]
# Owner references with blockOwnerDeletion need this where the
# OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift, some managed clusters).
- apiGroups: [serving.nuri.dev]
  resources: [modeldeployments/finalizers]
  verbs: [update]
# Owned objects, applied server-side (create + patch): <name>-placement, <name>, <name>-shards,
# the disruption budget and the peer network policy. Deleted by garbage collection, not by the operator.
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch]
# JOSDK writes ConfigMaps with create/update (PUT), not server-side apply (defaultNonSSAResources).
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, update]
# <name>-peer-key, the key shards authenticate each other with: created once, never read back or updated.
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch]
# One StatefulSet per group; scaling down deletes the highest groups, a rollout drains a group
# (scale subresource) before it starts again at the new revision.
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [statefulsets/scale]
  verbs: [get, update]
# Shard pods drive group readiness and failures. Patch: a group being removed gets the label
# serving.nuri.dev/traffic=off first, which takes it out of the client Service while its requests finish.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, patch]
# spec.model.source.pvc must exist.
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get]
# One Event per condition transition.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}
