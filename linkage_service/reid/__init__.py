"""The re-identification workflow: request → approval by another person → one sealed, signed
package per holding source → opened only at the institution (docs/reid.md).

>>> from linkage_service.reid import ReidPolicy
>>> ReidPolicy().max_persons
20
"""

from linkage_service.reid.policy import ReidPolicy, policy_from_settings
from linkage_service.reid.release import fetch_package, release_packages, source_box_key
from linkage_service.reid.requests import effective_status, get_request
from linkage_service.reid.workflow import (
    approve,
    create_request,
    deny,
    list_requests,
    request_public,
    same_person,
)

__all__ = [
    "ReidPolicy",
    "approve",
    "create_request",
    "deny",
    "effective_status",
    "fetch_package",
    "get_request",
    "list_requests",
    "policy_from_settings",
    "release_packages",
    "request_public",
    "same_person",
    "source_box_key",
]
