"""The manager's side of the agent fleet: enrollment, request authentication, policies, ingest, status.

Plain functions over the ``Store``: the API routes are thin shells over them,
and ``ingest.ingest_batch`` can run in a worker as it is.
"""
