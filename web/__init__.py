"""The web face of studyhall: the creator dashboard, served by the HTTP app (see WEB.md).
It imports core/, never bot/handlers."""
