"""Syncline's EWS protocol layer, shared by the Exchange connector (on-premises Exchange
2016/2019/SE through a service account with ApplicationImpersonation, LS-60..LS-64) and the
status API's connection test (LS-70), which may not import each other.

Why a hand-written async SOAP client over httpx rather than exchangelib: the connector is an
asyncio service that runs many mailboxes concurrently on one event loop. exchangelib is
synchronous (requests + a thread pool per account), so every call would need a worker thread,
its retry loop would sleep on those threads outside our cancellation and status reporting, and
its connection pools would sit beside the httpx pools the Graph path already tunes. The subset of
EWS Syncline needs is small and fixed (Autodiscover, SyncFolderItems, GetItem, Create/Update/
DeleteItem, FindFolder/CreateFolder), so a thin client over httpx + lxml keeps one I/O model,
classifies every EWS error once at the edge (errors.py), and honours `BackOffMilliseconds`
without blocking a thread.

Modules: `errors` (the Exchange error hierarchy and EWS classification), `soap` (envelopes),
`ntlm` (NTLM as an httpx auth flow), `client` (HTTP, Basic/NTLM, custom CA, impersonation,
back-off), `autodiscover` (POX/SOAP → EWS URL), `folders` (the Salesforce_Sync folder and its
claim), `probe` (the connection-test stages). Item mapping, capture and the command sink stay in
the connector (`exchange_connector.ews`).
"""
