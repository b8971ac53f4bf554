"""Background tasks, run by `manage.py db_worker` (Django's Tasks framework with the
database-backed queue of django-tasks-db)."""

from django.tasks import task

from forum import notifications


@task()
def send_notification_email(notification_id: int) -> str:
    """Mail one notification; retries re-enqueue this task with a delay."""
    return notifications.deliver(notification_id)
