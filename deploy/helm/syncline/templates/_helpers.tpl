{{/* Names, labels, images and the per-service facts shared by every template. */}}

{{- define "syncline.fullname" -}}
{{- if .Values.tenant -}}
{{- printf "syncline-%s" .Values.tenant | trunc 30 | trimSuffix "-" -}}
{{- else -}}
{{- /* 30 + "-salesforce-" + a 20-character tenant stays within a 63-character Service name. */ -}}
{{- .Release.Name | trunc 30 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "syncline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: stable across upgrades. Call with (dict "root" $ "component" "reconciler"
"tenant" "acme"); the tenant is optional and tells apart one tenant's connector from another's.
*/}}
{{- define "syncline.selectorLabels" -}}
app.kubernetes.io/name: syncline
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- with .tenant }}
syncline.dev/tenant: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "syncline.labels" -}}
{{ include "syncline.selectorLabels" . }}
app.kubernetes.io/part-of: syncline
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "syncline.chart" .root }}
{{- if and (not .tenant) .root.Values.tenant }}
syncline.dev/tenant: {{ .root.Values.tenant | quote }}
{{- end }}
{{- end -}}

{{- define "syncline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "syncline.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image of one service. Call with (dict "root" $ "service" "reconciler"). */}}
{{- define "syncline.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := printf "%s/%s-%s" $img.registry $img.repositoryPrefix .service -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The long-running services. `key` is the values block; `port` serves /healthz, /readyz and
/metrics; `secrets` = needs the encryption keys (only the status API decrypts stored connection
secrets); `internet` = talks to Graph/EWS/Salesforce; `consumer` = scales with a Kafka consumer
group; `perTenant` = one Deployment per tenant (a connector process holds one tenant's
credentials, from the Secret in `credentialsSecret`); `tenantEnv`/`groupEnv` = the settings that
name its tenant and consumer group.
*/}}
{{- define "syncline.components" -}}
reconciler:
  key: reconciler
  args: [reconciler]
  port: 9000
  portName: health
  secrets: false
  internet: false
  consumer: true
  perTenant: false
  groupEnv: SYNCLINE_RECONCILER_GROUP_ID
exchange-connector:
  key: exchangeConnector
  args: [exchange-connector]
  port: 9000
  portName: health
  secrets: false
  internet: true
  consumer: true
  perTenant: true
  tenantEnv: SYNCLINE_EXCHANGE_TENANT
  groupEnv: SYNCLINE_EXCHANGE_GROUP_ID
salesforce-connector:
  key: salesforceConnector
  args: [salesforce-connector]
  port: 9000
  portName: health
  secrets: false
  internet: true
  consumer: true
  perTenant: true
  tenantEnv: SYNCLINE_SALESFORCE_TENANT
  groupEnv: SYNCLINE_SALESFORCE_CONSUMER_GROUP
status-api:
  key: statusApi
  args: [status-api, --host, 0.0.0.0, --port, "8080"]
  port: 8080
  portName: http
  secrets: true
  # The connection test reaches Graph/EWS/Salesforce.
  internet: true
  consumer: false
  perTenant: false
{{- end -}}

{{/*
Replicas from a size: ceil(total / perReplica), at least 1, at most the partitions (a consumer
group never gives one partition to two members). Call with (dict "total" n "per" m "partitions" p).
*/}}
{{- define "syncline.hint" -}}
{{- $per := int .per -}}
{{- max 1 (min (div (add (int .total) (sub $per 1)) $per) (int .partitions)) -}}
{{- end -}}

{{/* An explicit replica count, refused above the partitions. (dict "n" n "what" s "partitions" p) */}}
{{- define "syncline.explicitReplicas" -}}
{{- if gt (int .n) (int .partitions) -}}
{{- fail (printf "%s=%d exceeds kafka.topicPartitions=%d: the extra replicas would sit idle" .what (int .n) (int .partitions)) -}}
{{- end -}}
{{- int .n -}}
{{- end -}}

{{/*
Every Deployment of the release, as {"workloads": [...]}: one per shared service, one per tenant
for the connectors. Each has name, component, tenant, replicas (-1 = left to an autoscaler),
groupId and credentialsSecret. Sizes come from explicit `replicas`, else from the mailbox counts
(`mailboxes` of a one-tenant release, `tenants[].mailboxes` of a shared one), else from
`defaultReplicas`; all bounded by kafka.topicPartitions.
*/}}
{{- define "syncline.workloads" -}}
{{- $v := .Values -}}
{{- $partitions := int $v.kafka.topicPartitions -}}
{{- if and $v.tenant $v.tenants -}}
{{- fail "set either `tenant` (a one-tenant release) or `tenants` (a shared release), not both" -}}
{{- end -}}
{{- $connectorTenants := list -}}
{{- if $v.tenants -}}
{{- range $v.tenants -}}
{{- $connectorTenants = append $connectorTenants (dict "name" .name "suffix" (printf "-%s" .name) "mailboxes" .mailboxes "exchangeSecret" (.exchangeSecret | default "") "salesforceSecret" (.salesforceSecret | default "") "exchangeReplicas" .exchangeReplicas) -}}
{{- end -}}
{{- else -}}
{{- $connectorTenants = list (dict "name" $v.tenant "suffix" "" "mailboxes" $v.mailboxes "exchangeSecret" $v.exchangeConnector.credentialsSecret "salesforceSecret" $v.salesforceConnector.credentialsSecret "exchangeReplicas" $v.exchangeConnector.replicas) -}}
{{- end -}}
{{- $total := 0 -}}
{{- $sized := false -}}
{{- range $connectorTenants -}}
{{- if not (kindIs "invalid" .mailboxes) -}}
{{- $total = add $total (int .mailboxes) -}}
{{- $sized = true -}}
{{- end -}}
{{- end -}}
{{- $out := list -}}
{{- range $name, $c := include "syncline.components" . | fromYaml -}}
{{- $sv := index $v $c.key -}}
{{- if $sv.enabled -}}
{{- $autoscaled := or (and $c.consumer $v.keda.enabled (ne $name "salesforce-connector")) (and (not $c.consumer) $sv.autoscaling.enabled) -}}
{{- if $c.perTenant -}}
{{- range $connectorTenants -}}
{{- $replicas := 1 -}}
{{- if eq $name "exchange-connector" -}}
{{- if not (kindIs "invalid" .exchangeReplicas) -}}
{{- $replicas = include "syncline.explicitReplicas" (dict "n" .exchangeReplicas "what" (printf "exchange-connector%s replicas" .suffix) "partitions" $partitions) -}}
{{- else if not (kindIs "invalid" .mailboxes) -}}
{{- $replicas = include "syncline.hint" (dict "total" .mailboxes "per" $sv.mailboxesPerReplica "partitions" $partitions) -}}
{{- else -}}
{{- $replicas = min (int $sv.defaultReplicas) $partitions -}}
{{- end -}}
{{- end -}}
{{- $secret := ternary .exchangeSecret .salesforceSecret (eq $name "exchange-connector") -}}
{{- /* exchange-<tenant>, salesforce-<tenant>: short enough for a 63-character Service name. */ -}}
{{- $objectName := ternary (printf "%s-%s" (trimSuffix "-connector" $name) .name) $name (ne .suffix "") -}}
{{- $out = append $out (dict "name" $objectName "component" $name "tenant" .name "replicas" (ternary -1 (int $replicas) $autoscaled) "groupId" (printf "%s%s" $sv.consumerGroup .suffix) "credentialsSecret" $secret) -}}
{{- end -}}
{{- else -}}
{{- $replicas := 0 -}}
{{- if not $c.consumer -}}
{{- $replicas = $sv.replicas -}}
{{- else if not (kindIs "invalid" $sv.replicas) -}}
{{- $replicas = include "syncline.explicitReplicas" (dict "n" $sv.replicas "what" (printf "%s.replicas" $c.key) "partitions" $partitions) -}}
{{- else if $sized -}}
{{- $replicas = include "syncline.hint" (dict "total" $total "per" $sv.mailboxesPerReplica "partitions" $partitions) -}}
{{- else -}}
{{- $replicas = min (int $sv.defaultReplicas) $partitions -}}
{{- end -}}
{{- $out = append $out (dict "name" $name "component" $name "tenant" $v.tenant "replicas" (ternary -1 (int $replicas) $autoscaled) "groupId" ($sv.consumerGroup | default "") "credentialsSecret" "") -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "workloads" $out) -}}
{{- end -}}

{{/* Environment common to every Syncline container. */}}
{{- define "syncline.env" -}}
- name: SYNCLINE_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrap is required" .Values.kafka.bootstrap | quote }}
- name: SYNCLINE_KAFKA_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | int | quote }}
- name: SYNCLINE_KAFKA_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | int | quote }}
- name: SYNCLINE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required" .Values.database.existingSecret }}
      key: {{ .Values.database.secretKey }}
- name: SYNCLINE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: SYNCLINE_HEALTH_HOST
  value: "0.0.0.0"
- name: SYNCLINE_HEALTH_PORT
  value: "9000"
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "syncline.encryptionEnv" -}}
- name: SYNCLINE_ENCRYPTION_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ required "encryption.existingSecret is required" .Values.encryption.existingSecret }}
      key: {{ .Values.encryption.secretKey }}
{{- end -}}

{{- define "syncline.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}
