{{/* Names and labels. */}}
{{- define "weft.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "weft.fullname" -}}
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

{{- define "weft.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "weft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weft
{{- end -}}

{{/* Selector labels of one role: include with (dict "root" $ "role" "scheduler"). */}}
{{- define "weft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weft.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "weft.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "weft.secretName" -}}
{{- default (printf "%s-secrets" (include "weft.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{- define "weft.schedulerHeadless" -}}
{{- printf "%s-scheduler-headless" (include "weft.fullname" .) -}}
{{- end -}}

{{- define "weft.coordinatorService" -}}
{{- printf "%s-coordinator" (include "weft.fullname" .) -}}
{{- end -}}

{{/* The gossip seeds: the first three scheduler pods, by their stable DNS names. */}}
{{- define "weft.seeds" -}}
{{- $seeds := list -}}
{{- $count := int (min 3 .Values.scheduler.replicas) -}}
{{- range $i := until $count -}}
{{- $seeds = append $seeds (printf "%s-scheduler-%d.%s.%s.svc.cluster.local:%d" (include "weft.fullname" $) $i (include "weft.schedulerHeadless" $) $.Release.Namespace (int $.Values.scheduler.gossipPort)) -}}
{{- end -}}
{{- join "," $seeds -}}
{{- end -}}

{{/* The Postgres and Redis URLs must come from somewhere: checked when rendering. */}}
{{- define "weft.checkSources" -}}
{{- if not .Values.existingSecret -}}
{{- if and (not .Values.postgres.url) (not .Values.trial.postgres.enabled) -}}
{{- fail "postgres.url is required (or existingSecret, or trial.postgres.enabled for a trial)" -}}
{{- end -}}
{{- if and (not .Values.redis.url) (not .Values.trial.redis.enabled) -}}
{{- fail "redis.url is required (or existingSecret, or trial.redis.enabled for a trial)" -}}
{{- end -}}
{{- if not .Values.auth.token -}}
{{- fail "auth.token is required (or existingSecret): generate one with `openssl rand -hex 32`" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by every role (ARCHITECTURE §10 names): the ConfigMap, and the token file. */}}
{{- define "weft.envFrom" -}}
- configMapRef:
    name: {{ include "weft.fullname" . }}-config
{{- end -}}

{{- define "weft.commonEnv" -}}
- name: WEFT_TOKEN_FILE
  value: /etc/weft/secrets/{{ .Values.secretKeys.authToken }}
{{- end -}}

{{- define "weft.postgresEnv" -}}
- name: WEFT_POSTGRES_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "weft.secretName" . }}
      key: {{ .Values.secretKeys.postgresUrl }}
{{- end -}}

{{- define "weft.redisEnv" -}}
- name: WEFT_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "weft.secretName" . }}
      key: {{ .Values.secretKeys.redisUrl }}
{{- end -}}

{{/* The token as a file (kept out of the process environment), and a writable /tmp. */}}
{{- define "weft.volumes" -}}
- name: secrets
  secret:
    secretName: {{ include "weft.secretName" . }}
    items:
      - key: {{ .Values.secretKeys.authToken }}
        path: {{ .Values.secretKeys.authToken }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "weft.volumeMounts" -}}
- name: secrets
  mountPath: /etc/weft/secrets
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "weft.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 2
  failureThreshold: 90
livenessProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Pod annotations that roll the pods when the configuration or the Secret changes. */}}
{{- define "weft.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{- define "weft.podSpecCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
