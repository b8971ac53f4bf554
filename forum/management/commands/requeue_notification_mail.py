"""Queue again the notification mail whose task went missing.

A mail's task is enqueued right after its transaction commits; if the database went
away in that instant, the notification stays "waiting to be sent" with no task to send
it. Run this now and then (cron, or after an outage): it queues those again. Sending is
idempotent, so a mail queued twice still goes out once.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from forum.models import Notification
from forum.tasks import send_notification_email


class Command(BaseCommand):
    help = "Queue again notification mail left waiting without a task."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=10,
            help="Only notifications at least this old (default: 10).",
        )

    def handle(self, *args, older_than_minutes, **options):
        if older_than_minutes < 0:
            older_than_minutes = 0
        cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
        pending = DBTaskResult.objects.filter(
            task_path=send_notification_email.module_path, status__in=["READY", "RUNNING"]
        ).values_list("args_kwargs", flat=True)
        has_task = {task["args"][0] for task in pending if task.get("args")}
        waiting = Notification.objects.filter(
            email_state=Notification.Email.QUEUED, created_at__lt=cutoff
        ).values_list("pk", flat=True)
        lost = [pk for pk in waiting if pk not in has_task]
        for pk in lost:
            send_notification_email.enqueue(pk)
        self.stdout.write(f"Queued {len(lost)} notification mail(s) again.")
