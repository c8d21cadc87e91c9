"""``shieldwall worker``: a Celery worker that runs the tasks of ``service.tasks`` (see ``service.dispatch``)."""
