"""gunicorn in the container: sized by WEB_CONCURRENCY and WEB_THREADS, logs to stdout."""

import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("WEB_THREADS") or 4)
# Docker sends SIGKILL 10 s after SIGTERM; finish requests in flight well before that.
graceful_timeout = 5
timeout = 30
# Heartbeat files in memory, not on the container's overlay file system.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (memory, not a shared temp file)
# The runtime control socket (gunicornc) is not used; the app folder is read-only anyway.
control_socket_disable = True
accesslog = "-"
# Caddy sets X-Forwarded-For to the client's address; log it rather than Caddy's.
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
