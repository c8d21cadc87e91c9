"""Kubernetes admission control: decide from the store whether a workload may run.

The flow, one module per step::

    review.py   bytes -> AdmissionReview (size-limited, schema-checked) or a clear failure
    images.py   the object -> every container image (init, regular, ephemeral; pod templates)
    policy.py   the namespace's policy (mode, thresholds, registries, checks, exceptions)
    lookup.py   image references -> store facts (tag -> digest resolution, active findings)
    podspec.py  the object -> misconfiguration findings of the policy's Kubernetes checks
    decide.py   facts + policy -> Decision (reasons, warnings), pure
    recorder.py every decision -> the audit trail (off the request path); unknown image -> scan job
    app.py      the HTTPS edge: deadline, failure action, AdmissionReview response
    tls.py / manifest.py   certificates and the Kubernetes objects that register the webhook
"""
