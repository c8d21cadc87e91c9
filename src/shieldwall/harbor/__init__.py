"""Harbor pluggable scanner adapter (spec v1.0-1.2): Harbor asks, Shieldwall pulls, scans and reports.

::

    mime.py      the MIME types of the specification and Accept negotiation
    request.py   ScanRequest validation with the reference adapter's messages
    pull.py      registry URL + Harbor's Authorization -> a resolved image (target/registry.py)
    report.py    ScanResult -> HarborVulnerabilityReport / HarborSbomReport
    jobs.py      background scans, their state, bounded
    app.py       the HTTP edge: /api/v1/metadata, /api/v1/scan, /api/v1/scan/{id}/report
"""
