"""studyhall's platform-neutral core: services, rules and storage.

Nothing under ``core`` imports a platform or payment SDK (a test enforces it).
"""
