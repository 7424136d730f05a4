"""The operator's web desk (/desk): server-rendered pages in Vietnamese for commune operators.

pages.py holds the routes, content.py what the pages show, session.py the signed session
and its CSRF token, forms.py the posted forms, fields.py the dossier forms' fields,
display.py how times, words and people are written; templates/ the Jinja2 templates and
the stylesheet (package data). docs/desk.md.
"""

from lienthong.api.desk.pages import build_router

__all__ = ["build_router"]
