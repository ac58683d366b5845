"""Runtime primitives shared by every Strata process: logging, request ids, lifecycle.

This subpackage imports no other project package, so the role packages
(gateway, metanode, datanode, coordinator) may depend on it.
"""
