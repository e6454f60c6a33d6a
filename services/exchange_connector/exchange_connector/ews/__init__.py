"""The EWS transport of the Exchange connector: on-premises Exchange 2016/2019/SE through a
service account with ApplicationImpersonation (LS-60..LS-64), behind the same capture/apply
shape as the Graph transport (a capture pass per mailbox and kind, a sink turning Commands into
CommandOutcomes).

Why a hand-written async SOAP client over httpx rather than exchangelib: the connector is an
asyncio service that runs many mailboxes concurrently on one event loop. exchangelib is
synchronous (requests + a thread pool per account), so every call would need a worker thread,
its retry loop would sleep on those threads outside our cancellation and status reporting, and
its connection pools would sit beside the httpx pools the Graph path already tunes. The subset of
EWS Syncline needs is small and fixed (Autodiscover, SyncFolderItems, GetItem, Create/Update/
DeleteItem, FindFolder/CreateFolder), so a thin client over httpx + lxml keeps one I/O model,
classifies every EWS error once at the edge (errors.py), and honours `BackOffMilliseconds`
without blocking a thread.

Modules: `soap` (envelopes), `errors` (classification), `client` (HTTP, Basic auth, custom CA,
impersonation, back-off), `autodiscover` (POX → EWS URL), `mapping` (items ↔ records),
`recurrence`, `folders`, `capture` (SyncFolderItems → change events), `sink` (Commands),
`settings` (`SYNCLINE_EXCHANGE_METHOD=service_account_ews`).
"""
