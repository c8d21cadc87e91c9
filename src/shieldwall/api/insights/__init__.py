"""Read-side views the dashboard's questions need: exposure, component search, findings grouped by vulnerability.

Each module answers one question with frozen values; the API routes
(``api/routes/insights.py``) and the dashboard pages (``api/dashboard/insights.py``)
call the same functions, so a page's numbers are the API's numbers.
"""
