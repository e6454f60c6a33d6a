"""Per-record error categories (spec §7.4) with remediation, and how raw codes map onto them.

Connectors and the reconciler record the remote system's own code (`REQUIRED_FIELD_MISSING`,
`ErrorAccessDenied`, …) in `sync_errors.code`; the API adds the category so an admin gets one
documented meaning and fix per class of failure, whatever system raised it.
"""

from __future__ import annotations

from status_api.catalog import DocumentedEnum, Entry, document


class ErrorCategory(DocumentedEnum):
    """Classes of sync failure (spec §7.4), each with a remediation."""

    CREDENTIALS_INVALID = "credentials_invalid"
    AUTH_METHOD_DISABLED = "auth_method_disabled"
    TLS_UNTRUSTED = "tls_untrusted"
    ENDPOINT_UNREACHABLE = "endpoint_unreachable"
    AUTODISCOVER_FAILED = "autodiscover_failed"
    ACCESS_DENIED = "access_denied"
    MAILBOX_NOT_FOUND = "mailbox_not_found"
    DUPLICATE_EMAIL = "duplicate_email"
    NOT_ASSIGNED = "not_assigned"
    CONSENT_MISSING = "consent_missing"
    THROTTLED = "throttled"
    SALESFORCE_PERMISSION = "salesforce_permission"
    CONTACT_LIMIT = "contact_limit"
    VALIDATION_FAILED = "validation_failed"
    ACCOUNT_UNRESOLVED = "account_unresolved"
    EVENT_UNRESOLVED = "event_unresolved"
    CONFLICT = "conflict"
    OTHER = "other"


document(
    ErrorCategory,
    {
        "credentials_invalid": Entry(
            "Service-account or app credentials are invalid or expired (LS-63).",
            "Update the connection's secret; check password expiry or the secret's end date.",
        ),
        "auth_method_disabled": Entry(
            "Basic/NTLM is not enabled on the Exchange or Autodiscover server (LS-61).",
            "Enable Basic or NTLM authentication on EWS and Autodiscover.",
        ),
        "tls_untrusted": Entry(
            "The server's TLS version or certificate chain is not trusted (LS-61/62).",
            "Use TLS 1.2+ and a certificate from a trusted CA (or set SYNCLINE_CA_BUNDLE).",
        ),
        "endpoint_unreachable": Entry(
            "EWS, Graph or Salesforce is not reachable, or the URL is wrong (LS-61).",
            "Check the URL, DNS, firewall and proxy settings of the connection.",
        ),
        "autodiscover_failed": Entry(
            "Autodiscover could not find the EWS URL for the mailbox (LS-61).",
            "Fix the Autodiscover DNS record, or set the EWS URL on the connection.",
        ),
        "access_denied": Entry(
            "Impersonation or mailbox access denied (LS-63 / application access policy).",
            "Grant ApplicationImpersonation, or add the mailbox to the application access policy.",
        ),
        "mailbox_not_found": Entry(
            "The mailbox does not exist or is not licensed.",
            "Fix the user's email address or license the mailbox.",
        ),
        "duplicate_email": Entry(
            "Another Salesforce user has the same email (ST-31).",
            "Change the other user's email address.",
        ),
        "not_assigned": Entry(
            "The user is not assigned to an active configuration (ST-21).",
            "Assign the user or their profile, or activate the configuration.",
        ),
        "consent_missing": Entry(
            "OAuth admin consent is missing or revoked, or the directory tenant is wrong (LS-67).",
            "Have a global administrator grant consent again; check the directory tenant id.",
        ),
        "throttled": Entry(
            "Throttled or server busy; retried automatically.",
            "None needed unless it persists; then raise quotas or reduce the number of users.",
        ),
        "salesforce_permission": Entry(
            "The Salesforce user lacks Read/Edit/Create on Event or Read on Contact/Lead (LS-42).",
            "Grant the object permissions in the user's profile or a permission set.",
        ),
        "contact_limit": Entry(
            "The user has more contacts than the sync limit (LS-25).",
            "Narrow the contact filter of the configuration.",
        ),
        "validation_failed": Entry(
            "A Salesforce validation rule or required field rejected the record.",
            "Fix the record (or relax the validation rule for the integration user).",
        ),
        "account_unresolved": Entry(
            "The contact's company matches no Salesforce account; it went to Unresolved Items "
            "(LS-71).",
            "Create the account or associate the contact manually.",
        ),
        "event_unresolved": Entry(
            "Some attendees of a synced event match no single Salesforce contact or lead (or lie "
            "beyond Salesforce's relation limit); they are in Unresolved Items (LS-46).",
            "Relate the event to the right contacts or lead in Salesforce.",
        ),
        "conflict": Entry(
            "Both sides changed; the write lost a version race and will be re-decided.",
            "None: the next change event resolves it by the configured policy.",
        ),
        "other": Entry("An error Syncline does not classify further.", "Read the reason text."),
    },
)

_RAW: dict[str, ErrorCategory] = {
    "token_failure": ErrorCategory.CREDENTIALS_INVALID,
    "invalid_client": ErrorCategory.CREDENTIALS_INVALID,
    "invalid_grant": ErrorCategory.CREDENTIALS_INVALID,
    "errorinvalidcredentials": ErrorCategory.CREDENTIALS_INVALID,
    "unauthorized": ErrorCategory.CREDENTIALS_INVALID,
    "invalid_session_id": ErrorCategory.CREDENTIALS_INVALID,
    "erroraccessdenied": ErrorCategory.ACCESS_DENIED,
    "errorimpersonateuserdenied": ErrorCategory.ACCESS_DENIED,
    "errornonexistentmailbox": ErrorCategory.MAILBOX_NOT_FOUND,
    "mailboxnotenabledforrestapi": ErrorCategory.MAILBOX_NOT_FOUND,
    "resourcenotfound": ErrorCategory.MAILBOX_NOT_FOUND,
    "consent_missing": ErrorCategory.CONSENT_MISSING,
    "invalid_tenant": ErrorCategory.CONSENT_MISSING,
    "applicationthrottled": ErrorCategory.THROTTLED,
    "toomanyrequests": ErrorCategory.THROTTLED,
    "errorserverbusy": ErrorCategory.THROTTLED,
    "request_limit_exceeded": ErrorCategory.THROTTLED,
    "quota_exhausted": ErrorCategory.THROTTLED,
    "insufficient_access": ErrorCategory.SALESFORCE_PERMISSION,
    "insufficient_access_or_readonly": ErrorCategory.SALESFORCE_PERMISSION,
    "insufficient_access_on_cross_reference_entity": ErrorCategory.SALESFORCE_PERMISSION,
    "field_custom_validation_exception": ErrorCategory.VALIDATION_FAILED,
    "required_field_missing": ErrorCategory.VALIDATION_FAILED,
    "string_too_long": ErrorCategory.VALIDATION_FAILED,
    "invalid_email_address": ErrorCategory.VALIDATION_FAILED,
    "precondition_failed": ErrorCategory.CONFLICT,
    "erroritemnotfound": ErrorCategory.OTHER,
}


def categorize(code: str) -> ErrorCategory:
    """The documented category of a raw error code (exact category names pass through)."""
    key = code.strip().lower()
    try:
        return ErrorCategory(key)
    except ValueError:
        return _RAW.get(key, ErrorCategory.OTHER)
