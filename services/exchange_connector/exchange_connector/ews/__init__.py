"""The EWS transport of the Exchange connector: on-premises Exchange 2016/2019/SE through a
service account with ApplicationImpersonation (LS-60..LS-64), behind the same capture/apply
shape as the Graph transport (a capture pass per mailbox and kind, a sink turning Commands into
CommandOutcomes).

The protocol layer — SOAP envelopes, error classification, the async httpx client (Basic/NTLM,
custom CA, impersonation, back-off), Autodiscover, the Salesforce_Sync folder and its claim, and
the connection-test probe — is the shared library `ewsclient` (why a hand-written client rather
than exchangelib: see its package docstring), because the status API's connection test (LS-70)
needs it too and services may not import each other.

Modules here: `mapping` (items ↔ records), `recurrence`, `events`, `capture` (SyncFolderItems →
change events), `sink` (Commands), `service`, `hybrid`, `settings`
(`SYNCLINE_EXCHANGE_METHOD=service_account_ews`), `main`.
"""
