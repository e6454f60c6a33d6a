{{/* Egress rules shared by the services' and the Jobs' NetworkPolicies. */}}

{{- define "syncline.egressDns" -}}
- to:
    {{- toYaml .Values.networkPolicy.dns.to | nindent 4 }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end -}}

{{/* Call with (dict "peer" .Values.networkPolicy.kafka). */}}
{{- define "syncline.egressPeer" -}}
- to:
    {{- toYaml .peer.to | nindent 4 }}
  ports:
    {{- range .peer.ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end -}}
