"""The Django ORM lab (LAB.md): learner Python against a lesson's models, behind three walls.

- ``restricted``: wall 1, RestrictedPython and the attribute allow-list.
- ``worker``: wall 2, the warm worker process that forks a child per run under OS limits.
- ``djangoenv``: the worker's minimal Django (no secret, one database alias per run).
- ``seeding``: the DDL Django's schema editor makes for a lesson's models.
- ``client``: how the web process talks to the worker.
- ``api`` / ``grading``: the JSON API and graded ORM exercises.

Nothing here imports the web app's settings into the worker: ``djangoenv`` configures Django
itself, with only what the models need.
"""
