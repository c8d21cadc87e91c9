"""The dashboard: server-rendered pages (Jinja2), a little vanilla JavaScript, SVG charts drawn on the server."""
