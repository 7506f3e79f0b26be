"""The dashboard: server-rendered pages (Jinja2) behind the session cookie, one small router per page
(claw.web.dashboard.mount puts them on the app; claw.web.dashboard.pages renders them)."""
