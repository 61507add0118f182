"""Why a Service has (or has not) got its addresses: the reasons of its
`metallb.io/AddressAssigned` condition. One word each, CamelCase as Kubernetes condition
reasons are; the allocator tags every AllocationError with one, so the condition never
has to be guessed back from an error text."""

from __future__ import annotations

ASSIGNED = "Assigned"
POOL_EXHAUSTED = "PoolExhausted"  # a matching pool exists, none of its addresses is free
NO_MATCHING_POOL = "NoMatchingPool"  # no pool may serve it (unknown, none auto-assign, ...)
REQUESTED_ADDRESS_UNAVAILABLE = "RequestedAddressUnavailable"  # in no pool, unusable, taken
SHARING_CONFLICT = "SharingConflict"  # taken by a Service it may not share with
INVALID_REQUEST = "InvalidRequest"  # the Service's own fields contradict themselves
NOT_OURS = "NotOurs"  # another loadBalancerClass: another implementation serves it
ALLOCATION_FAILED = "AllocationFailed"  # any other refusal (a rule without its own reason)
