"""Storage layer: plain functions with keyword-only arguments over a Session.

Routes speak HTTP and call these; the CLI calls the same ones. None of them commits: the caller
owns the transaction, so a request's change and its audit entry commit together.
"""
