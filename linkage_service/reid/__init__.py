"""The re-identification workflow: request → approval by another person → one sealed, signed
package per holding source → opened only at the institution (docs/reid.md).

>>> from linkage_service.reid import ReidPolicy
>>> ReidPolicy().max_persons
20
"""

from linkage_service.reid.policy import ReidPolicy, policy_from_settings
from linkage_service.reid.release import (
    download_package,
    fetch_package,
    packages_waiting,
    release_packages,
    source_box_key,
)
from linkage_service.reid.requests import effective_status, get_request
from linkage_service.reid.workflow import (
    approve,
    approve_request,
    create_request,
    deny,
    deny_request,
    list_requests,
    list_visible,
    read_request,
    request_public,
    requested_by,
    submit_request,
)

__all__ = [
    "ReidPolicy",
    "approve",
    "approve_request",
    "create_request",
    "deny",
    "deny_request",
    "download_package",
    "effective_status",
    "fetch_package",
    "get_request",
    "list_requests",
    "list_visible",
    "packages_waiting",
    "policy_from_settings",
    "read_request",
    "release_packages",
    "request_public",
    "requested_by",
    "source_box_key",
    "submit_request",
]
